"""Capturing without TensorFlow: `capture()`, `Capturer`, `flush()` for numpy, JAX, PyTorch.

Where TensorFlow is not importable, `tensorcap.capture` and friends are the
ones here. They accept anything `arrays.to_numpy` converts (numpy arrays,
bfloat16 through ml_dtypes, Python values, ``__array__`` / ``__dlpack__``
objects: JAX arrays, PyTorch tensors on CPU or GPU) and write the events
``tf.summary.write`` would, through TensorBoard's own writer
(`event_writer.Writer`). The rules are those of the TensorFlow path
(`summary.py`), with `tensorcap.Writer` in the place of a ``tf.summary``
writer:

* Step: the explicit ``step`` argument; else the step of the innermost
  ``writer.as_default(step=...)`` block; else a per-name counter: the n-th
  capture of a tag is step n (from 0).
* Writer: the explicit ``writer`` argument; else the innermost
  ``writer.as_default()`` block's; else TensorCap's own writer
  (`event_writer.default_writer`).
* Source: the innermost frame outside TensorCap and the array libraries.
* Values larger than ``metadata.CHUNK_BYTES`` are written in chunks
  (`metadata.py`).

What needs TensorFlow: `record()` (automatic capture of every op),
``tf.function`` graphs, Keras callbacks and ``tf.distribute`` replicas.
A value being traced (inside ``jax.jit`` or ``jax.grad``) has no numbers to
capture; ``jax.debug.callback`` hands them over at run time (see the README).
"""

import importlib.util
import os
import sys
import threading

import numpy as np

from tb_tensorcap import arrays, event_writer, metadata


def capture(value, name, step=None, *, description=None, writer=None, axes=None):
    """Writes `value` as the capture `name` and returns `value` unchanged.

    Args:
      value: a numpy array or scalar, a Python scalar, string or nested list,
        or any object with ``__array__`` or ``__dlpack__``.
      name: the tag; the prefixes of active `Capturer` blocks are prepended.
      step: the step to record at (see the module docstring for defaults).
      description: free text shown with the capture in the TensorCap tab.
      writer: a `tensorcap.Writer` to use instead of the default.
      axes: names of the value's axes ("NHWC" or a list), for the tab.

    Raises:
      TypeError, ValueError: `value` or `name` cannot be captured; nothing was
        written.
      OSError: the writer cannot write.
    """
    innermost = _innermost_capturer()
    if innermost is not None:
        return innermost.capture(value, name, step, description=description, writer=writer, axes=axes)
    write(value, check_name(name), step, description, writer, source_location(), axes)
    return value


def flush():
    """Flushes every writer TensorCap has written captures to."""
    for writer in list(_used_writers):
        writer.flush()


def default_logdir():
    """The directory TensorCap's own writer writes to (it may not exist yet)."""
    return event_writer.default_writer.logdir


class Capturer:
    """A scope that names captures under a prefix and keeps their values.

    As `tensorcap.Capturer` with TensorFlow (see `summary.Capturer`)::

        with tensorcap.Capturer("block1") as cap:
            z = cap.capture(x * y, "z")        # written as "block1/z"
        cap["z"], cap.tensors                  # the values, as given

    Args:
      prefix: the name scope for captures made through this capturer.
      step, writer: defaults for this capturer's captures (the module rules
        apply when None); `writer` is a `tensorcap.Writer`.
      keep: whether to keep captured values in memory (`tensors`).
    """

    def __init__(self, prefix=None, *, step=None, writer=None, keep=True):
        self._own_prefix = check_name(prefix).strip("/") if prefix else ""
        self._prefix = self._own_prefix
        self._step = step
        self._writer = writer
        self._keep = keep
        self._tensors = {}

    @property
    def prefix(self):
        """The full prefix this capturer writes under ("" for none)."""
        return self._prefix

    @property
    def tensors(self):
        """A dict of the values captured here, by name relative to the prefix."""
        return dict(self._tensors)

    def __getitem__(self, name):
        return self._tensors[name]

    def __contains__(self, name):
        return name in self._tensors

    def __enter__(self):
        stack = _capturer_stack()
        outer = stack[-1].prefix if stack else ""
        self._prefix = "/".join(p for p in (outer, self._own_prefix) if p)
        stack.append(self)
        return self

    def __exit__(self, *exc_info):
        stack = _capturer_stack()
        if self in stack:
            stack.remove(self)
        return False

    def capture(self, value, name, step=None, *, description=None, writer=None, axes=None):
        """Like `tensorcap.capture`, under this capturer's prefix."""
        name = check_name(name)
        tag = "%s/%s" % (self._prefix, name) if self._prefix else name
        write(
            value,
            tag,
            step if step is not None else self._step,
            description,
            writer if writer is not None else self._writer,
            source_location(),
            axes,
        )
        if self._keep:
            self._tensors[name] = value
        return value


def write(value, tag, step, description, writer, source, axes=None):
    """Converts `value` (or raises, writing nothing), then writes it, in chunks if large."""
    if writer is not None and not isinstance(writer, event_writer.Writer):
        raise TypeError(
            "cannot capture %r: writer must be a tensorcap.Writer, not %s (tf.summary writers need "
            "TensorFlow)" % (tag, type(writer).__name__)
        )
    array = _to_numpy(value, tag)
    axes = metadata.check_axes(axes, array.ndim, tag)
    plan = chunk_plan(array)
    default, default_step = event_writer.active()
    writer = writer or default or event_writer.default_writer.get()
    if step is None:
        step = default_step
    step = _counters.next_step(tag) if step is None else _check_step(step, tag)
    _used_writers.add(writer)
    if plan is None:
        writer.write(tag, array, step, _metadata(source, description, axes))
        return
    flat = array.reshape(-1)
    shape = list(array.shape)
    dtype = "string" if array.dtype == object else array.dtype.name
    for index, (start, stop) in enumerate(plan):
        chunk = {"index": index, "count": len(plan), "dtype": dtype, "shape": shape}
        writer.write(
            tag, flat[start:stop], step, metadata.create_summary_metadata(source, description, chunk, axes=axes)
        )


def check_name(name):
    if not isinstance(name, str) or not name.strip("/"):
        raise ValueError("capture name must be a non-empty string, got %r" % (name,))
    return name


def _to_numpy(value, tag):
    if type(value).__name__.endswith("Tracer") and type(value).__module__.startswith("jax"):
        raise TypeError(
            "cannot capture %r: it is a JAX tracer (inside jax.jit, jax.grad or vmap), which holds no "
            "numbers yet. Capture outside the traced function, or inside it with "
            "jax.debug.callback(lambda v: tensorcap.capture(v, %r), value)" % (tag, tag)
        )
    return arrays.to_numpy(value, tag)


def _check_step(step, tag):
    """`step` as a Python int (numpy and JAX integer scalars included)."""
    try:
        item = np.asarray(step).item() if not isinstance(step, int) else step
    except (TypeError, ValueError):
        item = None
    if isinstance(item, bool) or not isinstance(item, int):
        raise TypeError("cannot capture %r: step must be an integer, got %r" % (tag, step))
    return item


def chunk_plan(array):
    """None if `array` fits one event, else the flat (start, stop) of each chunk (`metadata.chunk_bounds`)."""
    if array.dtype == object:
        return metadata.chunk_bounds(np.fromiter((len(s) + 8 for s in array.flat), np.int64, array.size))
    if array.size * array.dtype.itemsize <= metadata.CHUNK_BYTES:
        return None
    return metadata.chunk_bounds(np.full(array.size, array.dtype.itemsize, np.int64))


_metadata_cache = {}


def _metadata(source, description, axes=None):
    """The SummaryMetadata of an unchunked capture, one per call site, description and axes."""
    key = (source["file"], source["line"], source["function"], description, tuple(axes) if axes else None)
    cached = _metadata_cache.get(key)
    if cached is None:
        cached = _metadata_cache[key] = metadata.create_summary_metadata(source, description, axes=axes)
    return cached


def _package_dirs(*names):
    """The directories of installed packages, found without importing them."""
    dirs = []
    for name in names:
        spec = importlib.util.find_spec(name)
        for location in (spec.submodule_search_locations or []) if spec else []:
            dirs.append(os.path.abspath(location) + os.sep)
    return tuple(dirs)


# Frames in these directories are library code, not the capture site (a
# capture made from a jax.debug.callback is attributed to the user's call).
_LIBRARY_DIRS = _package_dirs("tb_tensorcap", "jax", "jaxlib", "flax", "torch")


def source_location():
    """File, line and function of the innermost frame in user code."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_LIBRARY_DIRS):
        frame = frame.f_back
    if frame is None:
        return {"file": "<unknown>", "line": 0, "function": "<unknown>"}
    code = frame.f_code
    return {"file": code.co_filename, "line": frame.f_lineno, "function": code.co_name}


class _StepCounters:
    """Per-tag capture counters: the default step of the n-th capture of a tag is n."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = {}

    def next_step(self, tag):
        with self._lock:
            count = self._counts.get(tag, 0)
            self._counts[tag] = count + 1
            return count


_counters = _StepCounters()
_used_writers = set()  # writers are few and flushed at exit: hold them
_thread_state = threading.local()


def _capturer_stack():
    stack = getattr(_thread_state, "capturers", None)
    if stack is None:
        stack = _thread_state.capturers = []
    return stack


def _innermost_capturer():
    stack = getattr(_thread_state, "capturers", None)
    return stack[-1] if stack else None
