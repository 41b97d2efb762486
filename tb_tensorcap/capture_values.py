"""What a capture may hold: converting the user's value to a tensor TensorCap can store.

Checks the dtype (the dtypes `codec` decodes, so nothing is written that
cannot be read back), turns Python and array-like values into tensors
(through `capture_core.to_numpy`, as the TensorFlow-free path converts them:
``__array__``, ``__dlpack__``, a device tensor's ``.cpu()``; strings as UTF-8
bytes, keeping trailing NUL bytes), and plans the split of
a value too large for one event into chunks (`metadata.CHUNK_BYTES`).
"""

import numpy as np
import tensorflow as tf

from tb_tensorcap import capture_core, codec, metadata

# The dtypes TensorCap stores, by TensorFlow name.
TF_DTYPE_NAMES = frozenset(codec.SUPPORTED_DTYPES)


def is_storable(dtype):
    """Whether TensorCap can store values of the `tf.DType` `dtype`."""
    return dtype.name in TF_DTYPE_NAMES


def to_tensor(value, tag):
    """Converts `value` to a tensor TensorCap can store, or raises naming `tag`."""
    if isinstance(value, (tf.RaggedTensor, tf.SparseTensor, tf.IndexedSlices)):
        raise TypeError(
            "cannot capture %r: %s has no dense layout; densify it first "
            "(ragged.to_tensor(), tf.sparse.to_dense(sparse) or "
            "tf.convert_to_tensor(indexed_slices))" % (tag, type(value).__name__)
        )
    if isinstance(value, tf.Variable):
        value = value.read_value() if value.dtype != tf.resource else value
    if not isinstance(value, tf.Tensor):
        value = capture_core.to_numpy(value, tag)
        try:
            value = tf.convert_to_tensor(value)
        except (TypeError, ValueError) as e:
            raise TypeError("cannot capture %r: %s" % (tag, e)) from None
    if value.dtype.name not in TF_DTYPE_NAMES:
        raise TypeError(
            "cannot capture %r: dtype %s holds no values TensorCap can store "
            "(supported: %s)" % (tag, value.dtype.name, ", ".join(sorted(TF_DTYPE_NAMES)))
        )
    return value


def chunk_plan(tensor, tag):
    """`(plan, checks)`: the chunks of `tensor` and the checks to run first.

    `plan` is None if `tensor` fits one event, else the flat (start, stop) of
    each chunk. Inside `tf.function` a shape unknown at trace time cannot be
    planned; the graph then refuses, at run time, a value too large for one
    event: `checks` holds that assertion, which the write must depend on.
    """
    limit = metadata.CHUNK_BYTES
    numel = tensor.shape.num_elements()
    if numel is None:
        nbytes = tf.size(tensor, out_type=tf.int64) * tensor.dtype.size
        check = tf.debugging.assert_less_equal(
            nbytes,
            tf.constant(limit, tf.int64),
            message="TensorCap cannot split capture %r: its shape is unknown when "
            "tf.function traces it and it exceeds %d bytes; capture it eagerly or "
            "give it a static shape" % (tag, limit),
        )
        return None, [check] if check is not None else []
    if tensor.dtype == tf.string:
        if not tf.executing_eagerly():
            return None, []
        # np.asarray: `.numpy()` of a scalar string tensor is plain `bytes`.
        strings = np.asarray(tensor.numpy(), dtype=object).flat
        sizes = np.fromiter((len(s) + 8 for s in strings), np.int64, numel)
    else:
        if numel * tensor.dtype.size <= limit:
            return None, []
        sizes = np.full(numel, tensor.dtype.size, np.int64)
    return metadata.chunk_bounds(sizes), []
