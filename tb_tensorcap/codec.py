"""TensorProto <-> numpy without TensorFlow, bit-exact.

TensorBoard (and so the reader and the plugin) must run without TensorFlow,
so this module decodes `TensorProto`s itself. Numeric values written by
``tf.summary.write`` arrive as raw little-endian ``tensor_content``; the typed
``*_val`` fields are decoded too, for protos written by other tools.

bfloat16 needs ``ml_dtypes`` (installed with TensorFlow and with tb_tensorcap).
"""

import numpy as np
from tensorboard.compat.proto import types_pb2

try:
    import ml_dtypes

    _BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - ml_dtypes is a dependency
    _BFLOAT16 = None

# Every dtype TensorCap captures, by name (numpy's names, plus bfloat16 and
# string), with its TensorFlow DataType enum and numpy dtype.
_DTYPES = {
    "float16": (types_pb2.DT_HALF, np.dtype("<f2")),
    "bfloat16": (types_pb2.DT_BFLOAT16, _BFLOAT16),
    "float32": (types_pb2.DT_FLOAT, np.dtype("<f4")),
    "float64": (types_pb2.DT_DOUBLE, np.dtype("<f8")),
    "int8": (types_pb2.DT_INT8, np.dtype("i1")),
    "int16": (types_pb2.DT_INT16, np.dtype("<i2")),
    "int32": (types_pb2.DT_INT32, np.dtype("<i4")),
    "int64": (types_pb2.DT_INT64, np.dtype("<i8")),
    "uint8": (types_pb2.DT_UINT8, np.dtype("u1")),
    "uint16": (types_pb2.DT_UINT16, np.dtype("<u2")),
    "uint32": (types_pb2.DT_UINT32, np.dtype("<u4")),
    "uint64": (types_pb2.DT_UINT64, np.dtype("<u8")),
    "bool": (types_pb2.DT_BOOL, np.dtype("?")),
    "complex64": (types_pb2.DT_COMPLEX64, np.dtype("<c8")),
    "complex128": (types_pb2.DT_COMPLEX128, np.dtype("<c16")),
    "string": (types_pb2.DT_STRING, np.dtype(object)),
}
SUPPORTED_DTYPES = tuple(_DTYPES)
_NAME_BY_ENUM = {enum: name for name, (enum, _) in _DTYPES.items()}

# Which typed field holds the values of each dtype when tensor_content is
# empty, and how its entries map to elements.
_VAL_FIELDS = {
    "float16": "half_val",
    "bfloat16": "half_val",
    "float32": "float_val",
    "float64": "double_val",
    "int8": "int_val",
    "int16": "int_val",
    "int32": "int_val",
    "uint8": "int_val",
    "uint16": "int_val",
    "int64": "int64_val",
    "uint32": "uint32_val",
    "uint64": "uint64_val",
    "bool": "bool_val",
    "complex64": "scomplex_val",
    "complex128": "dcomplex_val",
}


def dtype_name(enum):
    """The TensorCap dtype name of a TensorFlow DataType enum value.

    Raises:
      ValueError: the dtype is not one TensorCap stores.
    """
    try:
        return _NAME_BY_ENUM[enum]
    except KeyError:
        raise ValueError(
            "unsupported tensor dtype %s" % types_pb2.DataType.Name(enum)
            if enum in types_pb2.DataType.values()
            else "unknown tensor dtype enum %d" % enum
        ) from None


def numpy_dtype(name):
    """The numpy dtype that holds values of TensorCap dtype `name`."""
    dtype = _DTYPES[name][1]
    if dtype is None:  # pragma: no cover
        raise ValueError("reading bfloat16 needs the ml_dtypes package")
    return dtype


def proto_shape(tensor_proto):
    """The shape of a TensorProto as a tuple of ints."""
    return tuple(d.size for d in tensor_proto.tensor_shape.dim)


def to_ndarray(tensor_proto):
    """Decodes a TensorProto into a numpy array, bit-exact.

    Strings decode to an object array of `bytes`. The result may be a
    read-only view of the proto's bytes; copy it before writing to it.
    """
    name = dtype_name(tensor_proto.dtype)
    shape = proto_shape(tensor_proto)
    numel = int(np.prod(shape, dtype=np.int64))
    if name == "string":
        values = list(tensor_proto.string_val)
        flat = np.empty(numel, dtype=object)
        flat[:] = _expand(values, numel, b"")
        return flat.reshape(shape)
    dtype = numpy_dtype(name)
    if tensor_proto.tensor_content:
        return np.frombuffer(tensor_proto.tensor_content, dtype=dtype).reshape(shape)
    values = list(getattr(tensor_proto, _VAL_FIELDS[name]))
    if name in ("complex64", "complex128"):
        values = [complex(r, i) for r, i in zip(values[::2], values[1::2])]
    if name in ("float16", "bfloat16"):
        bits = np.array(_expand(values, numel, 0), dtype=np.uint16)
        return bits.view(dtype).reshape(shape)
    return np.array(_expand(values, numel, 0), dtype=dtype).reshape(shape)


def _expand(values, numel, zero):
    """TensorProto's convention: a short value list repeats its last value."""
    if len(values) >= numel:
        return values[:numel]
    fill = values[-1] if values else zero
    return values + [fill] * (numel - len(values))
