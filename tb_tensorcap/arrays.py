"""Any array-like value -> a numpy array TensorCap can store, without TensorFlow.

The TensorFlow-free capture path (`plain_capture.py`) accepts what the array
ecosystem exchanges: numpy arrays (bfloat16 through ``ml_dtypes``), Python
scalars, strings and nested lists, and any object with ``__array__`` or
``__dlpack__`` (JAX arrays, PyTorch tensors, CuPy arrays, ...).

Conversion tries, in order:

1. ``np.asarray`` (numpy values, Python values, ``__array__``). JAX arrays on
   any device copy to the host this way.
2. ``np.from_dlpack(value, device="cpu")``: the DLPack protocol, asking the
   producer for a host copy (a CUDA tensor whose library supports it).
3. The producer's own ``.cpu()`` then 1-2 again, for device tensors whose
   library cannot hand numpy a host copy by either protocol (PyTorch CUDA
   tensors refuse ``__array__``).

A PyTorch tensor that requires grad is read through ``.detach()`` (a capture
reads values, it never joins the autograd graph), and a bfloat16 one through
``.float()`` then back to bfloat16 (exact: every bfloat16 is a float32;
neither protocol carries bfloat16 to numpy).
"""

import numpy as np

from tb_tensorcap import codec

# dtype names TensorCap stores, besides strings (codec's list is the one list).
NUMERIC_DTYPE_NAMES = frozenset(name for name in codec.SUPPORTED_DTYPES if name != "string")


def to_numpy(value, tag):
    """`value` as a numpy array of a dtype TensorCap stores; strings as bytes objects.

    Args:
      value: a numpy array or scalar, a Python scalar, string, bytes or nested
        list, or any object with ``__array__`` or ``__dlpack__``.
      tag: the capture's name, for error messages.

    Returns:
      A numpy array (possibly the caller's own, never modified) of a numeric
      dtype from `NUMERIC_DTYPE_NAMES`, or an object array of `bytes`.

    Raises:
      TypeError, ValueError: `value` does not convert, or its dtype holds no
        values TensorCap can store (a message names `tag` and what was tried).
    """
    if isinstance(value, (np.ndarray, np.generic, str, bytes, int, float, complex, list, tuple)):
        array = python_to_numpy(value, tag)
    else:
        array = _from_array_protocols(value, tag)
    if array.dtype != object and array.dtype.name not in NUMERIC_DTYPE_NAMES:
        raise TypeError(
            "cannot capture %r: dtype %s holds no values TensorCap can store (supported: %s)"
            % (tag, array.dtype, ", ".join(sorted(codec.SUPPORTED_DTYPES)))
        )
    return array


def python_to_numpy(value, tag):
    """numpy and Python values to numpy; strings become `bytes` objects.

    numpy's fixed-width string dtypes drop trailing NUL bytes (b"a\\0" becomes
    b"a"), so strings are kept as the Python objects themselves.

    Raises:
      ValueError: numpy cannot make an array of it (ragged nesting, ...).
      TypeError: the value is not numeric or string data.
    """
    if isinstance(value, str):
        value = value.encode("utf-8")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as e:
        raise ValueError("cannot capture %r: %s" % (tag, e)) from None
    if array.dtype.kind in "US" or array.dtype == object:
        objects = array.astype(object)  # a copy: the caller's array is not changed
        if array.dtype.kind in "US" and not isinstance(value, np.ndarray):
            try:
                rebuilt = np.array(value, dtype=object)
            except (TypeError, ValueError):
                rebuilt = None
            if rebuilt is not None and rebuilt.shape == array.shape:
                objects = rebuilt
        flat = objects.reshape(-1)
        for i, v in enumerate(flat):
            if isinstance(v, str):
                flat[i] = v.encode("utf-8")
        array = objects
    if array.dtype == object and not all(isinstance(v, bytes) for v in array.flat):
        raise TypeError(
            "cannot capture %r: %s does not convert to a numeric or string array" % (tag, type(value).__name__)
        )
    return array


def _from_array_protocols(value, tag):
    """An array-like object (JAX, PyTorch, CuPy, ...) to numpy; see the module docstring."""
    if getattr(value, "requires_grad", False) and callable(getattr(value, "detach", None)):
        value = value.detach()
    if str(getattr(value, "dtype", "")).endswith("bfloat16") and callable(getattr(value, "float", None)):
        return np.asarray(_host_array(value.float(), tag)).astype(codec.numpy_dtype("bfloat16"))
    return _host_array(value, tag)


def _host_array(value, tag):
    tried = []
    for candidate in _host_candidates(value):
        if hasattr(candidate, "__array__") or not hasattr(candidate, "__dlpack__"):
            try:
                return _checked(np.asarray(candidate), value, tag)
            except (TypeError, ValueError, RuntimeError, BufferError) as e:
                tried.append("__array__: %s" % _first_line(e))
        if hasattr(candidate, "__dlpack__"):
            try:
                return _checked(_from_dlpack(candidate), value, tag)
            except (TypeError, ValueError, RuntimeError, BufferError) as e:
                tried.append("__dlpack__: %s" % _first_line(e))
    raise TypeError(
        "cannot capture %r: %s does not convert to a numpy array (%s)"
        % (tag, type(value).__name__, "; ".join(tried) or "it has neither __array__ nor __dlpack__")
    )


def _host_candidates(value):
    """The value itself, then its host copy where the value offers one (`.cpu()`)."""
    yield value
    cpu = getattr(value, "cpu", None)
    if callable(cpu):
        yield cpu()


def _from_dlpack(value):
    try:
        return np.from_dlpack(value, device="cpu")
    except TypeError as e:
        if "device" not in str(e):  # numpy < 2.1 has no `device` argument
            raise
        return np.from_dlpack(value)


def _checked(array, value, tag):
    """`array`, unless np.asarray wrapped objects that are neither numbers nor bytes (strings)."""
    if array.dtype == object and not all(isinstance(v, bytes) for v in array.flat):
        raise TypeError("%s gives an array of Python objects, not numbers" % type(value).__name__)
    return array


def _first_line(error):
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
