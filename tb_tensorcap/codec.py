"""TensorProto <-> numpy without TensorFlow, bit-exact, both ways on the wire.

TensorBoard (and so the reader and the plugin) must run without TensorFlow,
so this module decodes `TensorProto`s itself. Numeric values written by
``tf.summary.write`` arrive as raw little-endian ``tensor_content``; the typed
``*_val`` fields are decoded too, for protos written by other tools.
`tensor_in_event` decodes one value of a serialized Event without parsing it
all; `encode_summary_value` is its counterpart for writing (`record()`).

bfloat16 needs ``ml_dtypes`` (installed with TensorFlow and with tb_tensorcap).
"""

import math
import struct
import sys

import numpy as np
from tensorboard.compat.proto import tensor_pb2, types_pb2

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


def to_tensor_proto(array, proto=None):
    """Encodes a numpy array as the TensorProto `tf.summary.write` would write.

    The inverse of `to_ndarray`: numeric values as little-endian
    ``tensor_content``, an object array of `bytes` as ``string_val``. Used by
    the TensorFlow-free capture path. `proto`: an empty TensorProto to fill
    in place (inside an Event, sparing protobuf a copy of a large value).
    """
    name = "string" if array.dtype == object else array.dtype.name
    enum, dtype = _DTYPES[name]
    proto = tensor_pb2.TensorProto() if proto is None else proto
    proto.dtype = enum
    proto.tensor_shape.SetInParent()  # present even for a scalar, as TensorFlow writes it
    for size in array.shape:
        proto.tensor_shape.dim.add(size=int(size))
    if name == "string":
        proto.string_val.extend(array.reshape(-1).tolist())
    else:
        proto.tensor_content = np.ascontiguousarray(array, dtype=dtype).tobytes()
    return proto


def to_ndarray(tensor_proto):
    """Decodes a TensorProto into a numpy array, bit-exact.

    Strings decode to an object array of `bytes`. The result may be a
    read-only view of the proto's bytes; copy it before writing to it.
    """
    name = dtype_name(tensor_proto.dtype)
    shape = proto_shape(tensor_proto)
    numel = math.prod(shape)
    if name == "string":
        values = list(tensor_proto.string_val)
        flat = np.empty(numel, dtype=object)
        flat[:] = _expand(values, numel, b"")
        return flat.reshape(shape)
    dtype = numpy_dtype(name)
    content = tensor_proto.tensor_content  # each access copies: read it once
    if content:
        return np.frombuffer(content, dtype=dtype).reshape(shape)
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


def npy_exact(array):
    """`array` in a form `np.save` stores exactly, loadable without ml_dtypes.

    bfloat16 becomes its raw uint16 bits. Strings become fixed-width bytes,
    unless one ends in NUL bytes (which that dtype drops): then they stay an
    object array of bytes, which only a pickled .npy can hold.
    """
    if array.dtype.name == "bfloat16":
        return array.view(np.uint16)
    if array.dtype == object and not any(v.endswith(b"\0") for v in array.flat):
        return array.astype(np.bytes_)
    return array


def json_values(array):
    """Nested lists of a value for JSON, as http_api.md defines them.

    Strings are decoded (undecodable bytes as \\xNN escapes), complex values
    become [real, imag] pairs, floats are Python floats (non-finite ones are
    made strings by `tensorboard.backend.json_util.Cleanse`).
    """
    if array.dtype == object:
        return np.vectorize(lambda b: b.decode("utf-8", "backslashreplace"), otypes=[object])(array).tolist()
    if np.iscomplexobj(array):
        return np.stack([array.real, array.imag], axis=-1).astype(np.float64).tolist()
    if array.dtype.kind == "f" or array.dtype.name == "bfloat16":
        return array.astype(np.float64).tolist()
    return array.tolist()


# Field numbers on the path Event.summary.value[].tensor.tensor_content.
_EVENT_SUMMARY, _SUMMARY_VALUE, _VALUE_TAG, _VALUE_TENSOR = 5, 1, 1, 8
_TENSOR_DTYPE, _TENSOR_SHAPE, _TENSOR_CONTENT, _SHAPE_DIM, _DIM_SIZE = 1, 2, 4, 2, 1


def tensor_in_event(buffer, tag):
    """Decodes the tensor of summary value `tag` in a serialized Event.

    Walks the few protobuf fields on the way to `tensor_content` instead of
    parsing the whole Event, so a numeric value is a zero-copy view of
    `buffer` (which may be a memory-mapped file). Other tensors (strings,
    typed value lists) are parsed with protobuf.

    Returns None when the event has no value with that tag.
    """
    for field, span in _length_delimited(buffer, 0, len(buffer)):
        if field != _EVENT_SUMMARY:
            continue
        for field, value_span in _length_delimited(buffer, *span):
            if field != _SUMMARY_VALUE:
                continue
            tensor_span, value_tag = None, None
            for field, inner in _length_delimited(buffer, *value_span):
                if field == _VALUE_TAG:
                    value_tag = bytes(buffer[inner[0] : inner[1]]).decode("utf-8", "replace")
                elif field == _VALUE_TENSOR:
                    tensor_span = inner
            if value_tag == tag and tensor_span is not None:
                return _tensor_at(buffer, *tensor_span)
    return None


def _tensor_at(buffer, start, end):
    dtype_enum, shape_span, content_span = None, None, None
    for field, wire, value in _fields(buffer, start, end):
        if field == _TENSOR_DTYPE and wire == 0:
            dtype_enum = value
        elif field == _TENSOR_SHAPE and wire == 2:
            shape_span = value
        elif field == _TENSOR_CONTENT and wire == 2:
            content_span = value
    name = dtype_name(dtype_enum)
    if content_span is None or name == "string":
        return to_ndarray(tensor_pb2.TensorProto.FromString(bytes(buffer[start:end])))
    shape = []
    for field, dim_span in _length_delimited(buffer, *shape_span) if shape_span else ():
        if field == _SHAPE_DIM:
            sizes = [v for f, w, v in _fields(buffer, *dim_span) if f == _DIM_SIZE and w == 0]
            shape.append(sizes[0] if sizes else 0)
    content = buffer[content_span[0] : content_span[1]]
    return np.frombuffer(content, dtype=numpy_dtype(name)).reshape(shape)


def _length_delimited(buffer, start, end):
    """(field number, (start, end)) of each length-delimited field in a message."""
    return ((f, v) for f, w, v in _fields(buffer, start, end) if w == 2)


def _fields(buffer, start, end):
    """Yields (field number, wire type, value) of a serialized message.

    The value is an int for varints, a (start, end) span for length-delimited
    fields and None for fixed-width ones.
    """
    position = start
    while position < end:
        key, position = _varint(buffer, position)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(buffer, position)
        elif wire == 2:
            length, position = _varint(buffer, position)
            value, position = (position, position + length), position + length
        elif wire in (1, 5):
            value, position = None, position + (8 if wire == 1 else 4)
        else:
            raise ValueError("unsupported protobuf wire type %d" % wire)
        if position > end:
            raise ValueError("truncated protobuf message")
        yield field, wire, value


def _varint(buffer, position):
    result, shift = 0, 0
    while True:
        byte = buffer[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _encode_varint(n):
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def encode_summary_value(pieces, tag, array, dtype_enum, metadata_bytes):
    """Appends one serialized ``Summary.value`` entry to `pieces`.

    Numeric values are encoded by hand (dtype, shape, raw little-endian
    ``tensor_content``: what ``tf.summary.write`` writes), avoiding a
    protobuf copy of every value: the content piece is a view of `array`,
    which must outlive the use of `pieces`. Strings (an object array of bytes)
    go through `to_tensor_proto`.

    Args:
      pieces: a list of bytes-like pieces; their concatenation is a
        serialized ``Summary``.
      tag: the value's tag.
      array: the value, as a numpy array.
      dtype_enum: its TensorFlow ``DataType`` enum value.
      metadata_bytes: the serialized ``SummaryMetadata``.
    """
    varint = _encode_varint
    if dtype_enum == types_pb2.DT_STRING:
        tensor_pieces = [to_tensor_proto(array).SerializeToString()]
    else:
        if sys.byteorder != "little":  # pragma: no cover
            array = array.byteswap()
        content = memoryview(np.ascontiguousarray(array).reshape(-1).view(np.uint8))
        dims = b"".join(b"\x12" + varint(len(d)) + d for d in (b"\x08" + varint(int(size)) for size in array.shape))
        head = b"\x08" + varint(dtype_enum) + b"\x12" + varint(len(dims)) + dims + b"\x22" + varint(len(content))
        tensor_pieces = [head, content]
    tensor_length = sum(len(p) for p in tensor_pieces)
    tag_bytes = tag.encode("utf-8")
    value_head = b"\x0a" + varint(len(tag_bytes)) + tag_bytes + b"\x42" + varint(tensor_length)
    value_tail = b"\x4a" + varint(len(metadata_bytes)) + metadata_bytes
    value_length = len(value_head) + tensor_length + len(value_tail)
    pieces.append(b"\x0a" + varint(value_length) + value_head)
    pieces.extend(tensor_pieces)
    pieces.append(value_tail)


_UINT64 = (1 << 64) - 1


def encode_event_head(wall_time, step, summary_length):
    """The bytes of a serialized ``Event`` before its ``summary``: wall time, step, summary length.

    Followed by `summary_length` bytes of serialized ``Summary`` (the pieces
    of `encode_summary_value`), they make the event ``tf.summary.write``
    writes. A negative step is encoded as protobuf encodes an int64.
    """
    return (
        b"\x09"
        + struct.pack("<d", wall_time)
        + b"\x10"
        + _encode_varint(int(step) & _UINT64)
        + b"\x2a"
        + _encode_varint(summary_length)
    )
