"""The TensorCap event format, read back by TensorCap's reader AND by TensorBoard.

Every capture is a real `tf.summary` event written into `tmp_path`; every value
is compared bit for bit (`.view(uint)`), so NaN payloads, signalling NaNs, -0.0
and subnormals must survive unchanged.

TensorBoard's side is `EventAccumulator` with `size_guidance={"tensors": 0}`
(keep every event), decoded with TensorBoard's own
`tensorboard.util.tensor_util.make_ndarray` wherever it supports the proto
(see `tb_decode` for the two cases where it does not).
"""

import json
import os
import struct
import types

import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf
from support import capture_file_of
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.util import tensor_util

import tb_tensorcap
import tb_tensorcap as tensorcap
from tb_tensorcap import codec, metadata

DTYPES = (
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
    "complex64",
    "complex128",
    "string",
)
SHAPES = {
    "scalar": (),
    "vector": (12,),
    "matrix": (3, 4),
    "rank5": (2, 1, 3, 1, 2),
    "rank6": (1, 2, 1, 2, 1, 3),
    "empty": (0,),
    "empty3d": (3, 0, 2),
    "empty_rank5": (2, 0, 1, 0, 3),
}
# How a value is handed to `capture`.
KINDS = {
    "numpy": lambda v: v,
    "eager": lambda v: tf.constant(v),
    "variable": lambda v: tf.Variable(v),
}

# Bit patterns that a float conversion anywhere on the path would change:
# quiet NaNs with payloads (both signs), signalling NaNs, +-Inf, -0.0, subnormals.
SPECIAL_BITS = {
    "float16": (np.uint16, [0x7E01, 0xFE23, 0x7C01, 0xFD55, 0x7C00, 0xFC00, 0x8000, 0x0001, 0x83FF]),
    "bfloat16": (np.uint16, [0x7FC1, 0xFFC3, 0x7F81, 0xFF81, 0x7F80, 0xFF80, 0x8000, 0x0001, 0x807F]),
    "float32": (
        np.uint32,
        [0x7FC00001, 0xFFC12345, 0x7F800001, 0xFF812345, 0x7F800000, 0xFF800000, 0x80000000, 0x00000001, 0x807FFFFF],
    ),
    "float64": (
        np.uint64,
        [
            0x7FF8000000000001,
            0xFFF8DEAD00000000,
            0x7FF0000000000001,
            0x7FF4000000000000,
            0xFFF0000000000001,
            0x7FF0000000000000,
            0xFFF0000000000000,
            0x8000000000000000,
            0x0000000000000001,
        ],
    ),
}
SPECIAL_BITS["complex64"] = SPECIAL_BITS["float32"]
SPECIAL_BITS["complex128"] = SPECIAL_BITS["float64"]

STRING_POOL = [b"", b"\xff\xfe\x00", b"caf\xc3\xa9", b"a\x00", b"\x00", b"\x80abc", b"x" * 50, bytes(range(256))]


def np_dtype(name):
    return np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)


def sample(dtype, shape, seed):
    """A value of `dtype` and `shape`: special bit patterns first, then random bits."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape, dtype=np.int64))
    if dtype == "string":
        flat = np.empty(n, dtype=object)
        flat[:] = [STRING_POOL[i] if i < len(STRING_POOL) else rng.bytes(int(rng.integers(0, 20))) for i in range(n)]
        return flat.reshape(shape)
    if dtype == "bool":
        flat = rng.integers(0, 2, n).astype(bool)
        flat[:2] = [True, False][:n]
        return flat.reshape(shape)
    dt = np_dtype(dtype)
    flat = rng.integers(0, 256, n * dt.itemsize, dtype=np.uint8).view(dt).copy()
    if dtype in SPECIAL_BITS:
        uint, bits = SPECIAL_BITS[dtype]
        parts = flat.view(uint)  # complex: real and imaginary parts in turn
        k = min(len(bits), parts.size)
        parts[:k] = np.array(bits[:k], dtype=uint)
    elif dtype.startswith(("int", "uint")) and n >= 2:
        info = np.iinfo(dt)
        flat[:2] = [info.min, info.max]
    return flat.reshape(shape)


def assert_same_bits(actual, expected):
    """Equal dtype, shape and bits (strings: equal `bytes`, element for element)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if expected.dtype == object:
        assert all(type(v) is bytes for v in actual.flat), [type(v) for v in actual.flat]
        assert actual.tolist() == expected.tolist()
        return
    uint = "u%d" % min(expected.dtype.itemsize, 8)
    np.testing.assert_array_equal(
        np.ascontiguousarray(actual).reshape(-1).view(uint),
        np.ascontiguousarray(expected).reshape(-1).view(uint),
    )


def tb_decode(proto):
    """TensorBoard's decoding of a TensorProto from EventAccumulator.

    `tensor_util.make_ndarray` (TensorBoard's own) is used wherever it supports
    the proto. It cannot decode two cases, which go through
    `tb_tensorcap.codec.to_ndarray` instead:
    * bfloat16: TensorBoard's stub dtype has no numpy type ("Cannot interpret
      '0' as a data type");
    * uint32 / uint64 without `tensor_content` (zero-size values, which
      TensorFlow writes with no content): make_ndarray's typed-field path
      raises "Unsupported tensor type".
    For bfloat16 the raw `tensor_content` bytes are checked separately.
    """
    name = codec.dtype_name(proto.dtype)
    if name == "bfloat16" or (name in ("uint32", "uint64") and not proto.tensor_content):
        return codec.to_ndarray(proto)
    return tensor_util.make_ndarray(proto)


def accumulator(path):
    acc = EventAccumulator(str(path), size_guidance={"tensors": 0})
    acc.Reload()
    return acc


def raw_tensorcap_events(logdir):
    """[(Event, Summary.Value)] of every TensorCap value in `logdir`'s event files.

    Parsed here from the TFRecord framing, independently of tb_tensorcap.
    """
    found = []
    for name in sorted(os.listdir(logdir)):
        if "tfevents" not in name:
            continue
        data = open(os.path.join(logdir, name), "rb").read()
        pos = 0
        while pos + 12 <= len(data):
            (length,) = struct.unpack_from("<Q", data, pos)
            if pos + 12 + length + 4 > len(data):
                break
            event = event_pb2.Event.FromString(data[pos + 12 : pos + 12 + length])
            found += [(event, v) for v in event.summary.value if v.metadata.plugin_data.plugin_name == "tensorcap"]
            pos += 12 + length + 4
    return found


pytestmark = pytest.mark.usefixtures("isolated_capture")


# -- every dtype, shape and input kind, through both readers ------------------


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    """Captures every dtype x shape x kind once (step 0) into one logdir."""
    logdir = tmp_path_factory.mktemp("dtypes")
    writer = tf.summary.create_file_writer(str(logdir), max_queue=100000)
    expected, errors, same_object = {}, {}, {}
    for d, dtype in enumerate(DTYPES):
        for s, (shape_name, shape) in enumerate(SHAPES.items()):
            value = sample(dtype, shape, seed=100 * d + s)
            for kind, make in KINDS.items():
                tag = "%s/%s/%s" % (dtype, shape_name, kind)
                obj = make(value)
                expected[tag] = value
                try:
                    same_object[tag] = tensorcap.capture(obj, tag, step=0, writer=writer) is obj
                except Exception as e:  # reported by the test of this case
                    errors[tag] = e
    writer.close()
    return types.SimpleNamespace(
        reader=tb_tensorcap.load(str(logdir)),
        acc=accumulator(logdir),
        expected=expected,
        errors=errors,
        same_object=same_object,
    )


@pytest.mark.parametrize("shape_name", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_and_shape_round_trips_bit_exact(matrix, dtype, shape_name):
    enum = tf.as_dtype(dtype).as_datatype_enum
    for kind in KINDS:
        tag = "%s/%s/%s" % (dtype, shape_name, kind)
        if tag in matrix.errors:
            raise matrix.errors[tag]
        assert matrix.same_object[tag], "capture did not return the very object it was given"
        want = matrix.expected[tag]

        info = matrix.reader.info(".", tag, 0)
        assert (info.dtype, info.shape) == (dtype, SHAPES[shape_name])
        got = matrix.reader.value(".", tag, 0)
        assert_same_bits(got, want)
        assert not got.flags.writeable

        events = matrix.acc.Tensors(tag)
        assert [e.step for e in events] == [0]
        proto = events[0].tensor_proto
        assert proto.dtype == enum
        assert tuple(d.size for d in proto.tensor_shape.dim) == SHAPES[shape_name]
        assert_same_bits(tb_decode(proto), want)
        if dtype == "bfloat16" and want.size:
            # Independent of codec: TensorFlow's raw little-endian bytes.
            assert proto.tensor_content == np.ascontiguousarray(want).tobytes()


def test_tensorboard_lists_every_capture_under_the_plugin(matrix):
    tags = matrix.acc.PluginTagToContent("tensorcap")
    assert set(tags) == set(matrix.expected)
    for tag in ("float32/vector/numpy", "string/scalar/eager"):
        md = matrix.acc.SummaryMetadata(tag)
        assert md.data_class == summary_pb2.DATA_CLASS_TENSOR
        assert md.plugin_data.plugin_name == "tensorcap"
        assert json.loads(md.plugin_data.content)["version"] == metadata.PROTO_VERSION


def test_tensorboard_data_provider_lists_the_tags(matrix, tmp_path):
    """Without DATA_CLASS_TENSOR TensorBoard's data providers would not list them."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer

    mux = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={"tensorcap": 0})
    mux.AddRunsFromDirectory(matrix.reader.logdir)
    mux.Reload()
    provider = data_provider.MultiplexerDataProvider(mux, matrix.reader.logdir)
    listed = provider.list_tensors(context.RequestContext(), experiment_id="", plugin_name="tensorcap")
    assert set(listed["."]) == set(matrix.expected)


@pytest.mark.parametrize("dtype", sorted(SPECIAL_BITS))
def test_nan_payloads_infinities_and_negative_zero_keep_their_bits(tmp_path, writer_at, dtype):
    uint, bits = SPECIAL_BITS[dtype]
    if dtype.startswith("complex"):  # every pattern as a real and as an imaginary part
        bits = bits + bits[::-1]
    value = np.array(bits, dtype=uint).view(np_dtype(dtype))
    w = writer_at(tmp_path)
    tensorcap.capture(value, "specials", step=0, writer=w)
    tensorcap.capture(tf.constant(value), "specials_eager", step=0, writer=w)
    # Each pattern alone as a 0-d scalar too.
    scalars = value.view(uint).reshape(-1, 2) if dtype.startswith("complex") else value.view(uint)[:, None]
    for i, parts in enumerate(scalars):
        tensorcap.capture(parts.view(np_dtype(dtype))[0], "scalar%d" % i, step=0, writer=w)
    w.flush()
    reader, acc = tb_tensorcap.load(str(tmp_path)), accumulator(tmp_path)
    for tag in ("specials", "specials_eager"):
        # Literal bit patterns, not a view of the same array: any conversion shows.
        assert reader.value(".", tag, 0).view(uint).tolist() == bits
        assert tb_decode(acc.Tensors(tag)[0].tensor_proto).view(uint).tolist() == bits
    for i, parts in enumerate(scalars):
        got = reader.value(".", "scalar%d" % i, 0)
        assert got.shape == ()
        assert got.reshape(1).view(uint).tolist() == parts.tolist()
        assert tb_decode(acc.Tensors("scalar%d" % i)[0].tensor_proto).reshape(1).view(uint).tolist() == parts.tolist()


def test_strings_keep_arbitrary_bytes(tmp_path, writer_at):
    strings = [b"", b"\xff", b"\xc3\x28", b"a\x00", b"\x00\x00", b"trailing nul\x00", b"", bytes(range(256))]
    value = np.array(strings, dtype=object).reshape(2, 4)
    w = writer_at(tmp_path)
    tensorcap.capture(value, "obj", step=0, writer=w)
    tensorcap.capture(tf.constant(value), "eager", step=0, writer=w)
    tensorcap.capture([strings[:4], strings[4:]], "list", step=0, writer=w)
    tensorcap.capture(b"\xff\x00", "bytes_scalar", step=0, writer=w)
    tensorcap.capture("h\u00e9llo \u2603", "str_scalar", step=0, writer=w)
    tensorcap.capture(["", "\u00e9", "a\x00"], "str_list", step=0, writer=w)
    tensorcap.capture(np.array([b""] * 3, dtype=object), "all_empty", step=0, writer=w)
    str_objects = np.array(["\u00e9", "", "b\x00"], dtype=object)
    tensorcap.capture(str_objects, "str_objects", step=0, writer=w)
    assert str_objects.tolist() == ["\u00e9", "", "b\x00"]  # the caller's array is left alone
    w.flush()
    reader, acc = tb_tensorcap.load(str(tmp_path)), accumulator(tmp_path)
    want = {
        "obj": value,
        "eager": value,
        "list": value,
        "bytes_scalar": np.array(b"\xff\x00", dtype=object),
        "str_scalar": np.array("h\u00e9llo \u2603".encode("utf-8"), dtype=object),
        "str_list": np.array([b"", b"\xc3\xa9", b"a\x00"], dtype=object),
        "all_empty": np.array([b"", b"", b""], dtype=object),
        "str_objects": np.array([b"\xc3\xa9", b"", b"b\x00"], dtype=object),
    }
    for tag, expected in want.items():
        assert reader.info(".", tag, 0).dtype == "string"
        assert_same_bits(reader.value(".", tag, 0), expected)
        assert_same_bits(tensor_util.make_ndarray(acc.Tensors(tag)[0].tensor_proto), expected)


# -- metadata on every event ----------------------------------------------------


def test_every_event_carries_the_full_metadata(tmp_path, writer_at):
    w = writer_at(tmp_path)
    tensorcap.capture(np.float32(1), "t", step=0, writer=w, description="first")  # LINE:meta-first
    tensorcap.capture(np.float32(2), "t", step=1, writer=w, description="second")  # LINE:meta-second
    tensorcap.capture(np.float32(3), "t", step=2, writer=w)
    w.flush()
    events = raw_tensorcap_events(tmp_path)
    assert [e.step for e, _ in events] == [0, 1, 2]
    contents = [json.loads(v.metadata.plugin_data.content) for _, v in events]
    for (_, v), content in zip(events, contents):
        assert v.tag == "t"
        assert v.metadata.data_class == summary_pb2.DATA_CLASS_TENSOR
        assert content["version"] == metadata.PROTO_VERSION
        assert set(content["source"]) == {"file", "line", "function"}
        assert "chunk" not in content
    assert contents[0]["source"] == {
        "file": __file__,
        "line": marker_line("meta-first"),
        "function": "test_every_event_carries_the_full_metadata",
    }
    assert contents[1]["source"]["line"] == marker_line("meta-second")
    assert [v.metadata.summary_description for _, v in events] == ["first", "second", ""]

    # TensorCap's reader reads each event's own facts ...
    reader = tb_tensorcap.load(str(tmp_path))
    assert [reader.info(".", "t", s).description for s in (0, 1, 2)] == ["first", "second", ""]
    assert reader.info(".", "t", 1).source["line"] == marker_line("meta-second")
    # ... where TensorBoard keeps only the first metadata of a tag.
    assert accumulator(tmp_path).SummaryMetadata("t").summary_description == "first"


def test_parse_plugin_metadata():
    md = metadata.create_summary_metadata(
        source={"file": "f.py", "line": 3, "function": "g"},
        description="d",
        chunk={"index": 1, "count": 2, "dtype": "float32", "shape": [4]},
    )
    assert md.plugin_data.plugin_name == "tensorcap"
    assert md.data_class == summary_pb2.DATA_CLASS_TENSOR
    assert md.summary_description == "d"
    parsed = metadata.parse_plugin_metadata(md.plugin_data.content)
    assert parsed == {
        "version": metadata.PROTO_VERSION,
        "source": {"file": "f.py", "line": 3, "function": "g"},
        "chunk": {"index": 1, "count": 2, "dtype": "float32", "shape": [4]},
    }
    assert metadata.parse_plugin_metadata(b'{"version": 1, "source": null}') == {"version": 1, "source": None}
    assert metadata.parse_plugin_metadata(b"") == {"version": 0}
    assert metadata.parse_plugin_metadata(b'{"version": 0}') == {"version": 0}
    with pytest.raises(ValueError, match="newer"):
        metadata.parse_plugin_metadata(b'{"version": 99}')
    for bad in (b"not json", b"\xff", b"[1]", b'{"version": "1"}', b"{}"):
        with pytest.raises(ValueError):
            metadata.parse_plugin_metadata(bad)
    with pytest.raises(TypeError):
        metadata.parse_plugin_metadata("{}")


def test_lineage_fields_of_version_2():
    op = {
        "type": "Log",
        "inputs": [
            {"tag": "step/Softmax"},
            {"tag": "step/train_step", "step": 12},
            {"external": "variable", "name": "w", "tag": "step/w"},
            {"external": "uncaptured", "op": "Cast"},
        ],
    }
    md = metadata.create_summary_metadata(op=op)
    assert metadata.parse_plugin_metadata(md.plugin_data.content) == {"version": 2, "op": op}
    origin = {"kind": "variable", "name": "dense/kernel"}
    md = metadata.create_summary_metadata(origin=origin)
    assert metadata.parse_plugin_metadata(md.plugin_data.content) == {"version": 2, "origin": origin}
    # Version 1 defines no lineage: such fields there are not read.
    assert metadata.parse_plugin_metadata(b'{"version": 1, "op": {"type": "Log", "inputs": []}}') == {"version": 1}
    for bad in (
        b'{"version": 2, "op": {"type": "Log"}}',
        b'{"version": 2, "op": {"type": 1, "inputs": []}}',
        b'{"version": 2, "op": {"type": "Log", "inputs": [{"external": "martian"}]}}',
        b'{"version": 2, "op": {"type": "Log", "inputs": [3]}}',
        b'{"version": 2, "origin": {"kind": 1}}',
        b'{"version": 2, "op": {"type": "Log", "inputs": [{"tag": "a", "step": "3"}]}}',
    ):
        with pytest.raises(ValueError, match="op|origin|step"):
            metadata.parse_plugin_metadata(bad)


def test_health_rows_carry_lineage():
    op, origin = {"type": "Log", "inputs": [{"tag": "b/Softmax"}]}, {"kind": "input", "name": "x"}
    rows = [("b/input/x", "float32", 1, -1, -1, 0), ("b/Log", "float32", 2, 0, 0, -1), ("b/old", "float32", 0, -1)]
    md = metadata.create_health_metadata(rows, [{"file": "f.py", "line": 3, "function": "g"}], [op], [origin])
    health = metadata.parse_plugin_metadata(md.plugin_data.content)["health"]
    assert (health["ops"], health["origins"]) == ([op], [origin])
    for bad_row in (["t", "float32", 1, -1, -1, 1], ["t", "float32", 1, -1, -1, True]):
        with pytest.raises(ValueError, match="malformed row"):
            metadata.parse_plugin_metadata(
                md.plugin_data.content.replace(b'["b/old","float32",0,-1]', json.dumps(bad_row).encode())
            )


def test_codec_decodes_typed_fields_written_by_other_tools():
    """Protos with `*_val` fields instead of tensor_content (short lists repeat the last)."""
    protos = [
        tensor_util.make_tensor_proto([1.5, -0.0, np.inf], dtype=np.float32),
        tensor_util.make_tensor_proto(7, dtype=np.int32, shape=[2, 2]),
        tensor_util.make_tensor_proto([b"a\x00", b""]),
    ]
    for proto in protos:
        assert_same_bits(codec.to_ndarray(proto), tensor_util.make_ndarray(proto))
    half = tensor_util.make_tensor_proto(0, dtype=np.float16, shape=[2])
    del half.half_val[:]
    half.half_val.extend([0x7E01, 0x8000])
    half.tensor_content = b""
    assert codec.to_ndarray(half).view(np.uint16).tolist() == [0x7E01, 0x8000]
    with pytest.raises(ValueError, match="unsupported"):
        codec.dtype_name(tf.resource.as_datatype_enum)


# -- chunks ------------------------------------------------------------------------------


def records_of_tag(logdir, tag):
    return [(e, v) for e, v in raw_tensorcap_events(logdir) if v.tag == tag]


CHUNK_CASES = {
    # name: (value, expected number of chunks with CHUNK_BYTES = 1000)
    "float32": (sample("float32", (10, 100), 1), 4),
    "float64_5d": (sample("float64", (2, 5, 1, 5, 5), 2), 2),
    "bfloat16": (sample("bfloat16", (1201,), 3), 3),
    "complex64": (sample("complex64", (20, 25), 4), 4),
    "complex128": (sample("complex128", (130,), 5), 3),
    "uint64": (sample("uint64", (250,), 6), 2),
    "bool": (sample("bool", (30, 100), 7), 3),
    "int8": (sample("int8", (1000,), 8), 1),  # exactly the limit: not split
}


@pytest.mark.parametrize("case", CHUNK_CASES)
def test_large_captures_are_chunked_and_reassembled(tmp_path, writer_at, monkeypatch, case):
    """Each chunk is its own event at the capture's step: EventAccumulator sees
    `count` TensorEvents for the one step, each a 1-D piece of the flattened
    value, in order; only TensorCap's reader reassembles them."""
    monkeypatch.setattr(metadata, "CHUNK_BYTES", 1000)
    value, count = CHUNK_CASES[case]
    w = writer_at(tmp_path)
    tensorcap.capture(np.int32(1), "before", step=0, writer=w)
    assert tensorcap.capture(value, "big", step=5, writer=w) is value
    assert tensorcap.capture(tf.constant(value), "big_eager", step=5, writer=w) is not None
    tensorcap.capture(np.int32(2), "after", step=0, writer=w)
    w.flush()

    reader = tb_tensorcap.load(str(tmp_path))
    for tag in ("big", "big_eager"):
        info = reader.info(".", tag, 5)
        assert (info.dtype, info.shape) == (str(value.dtype), value.shape)
        assert len(info.locations) == count
        assert_same_bits(reader.value(".", tag, 5), value)
    assert [i.tag for i in reader.captures(".")] == ["before", "big", "big_eager", "after"]

    events = records_of_tag(tmp_path, "big")
    assert len(events) == count
    if count > 1:
        chunks = [json.loads(v.metadata.plugin_data.content)["chunk"] for _, v in events]
        assert chunks == [
            {"index": i, "count": count, "dtype": str(value.dtype), "shape": list(value.shape)} for i in range(count)
        ]
    acc = accumulator(tmp_path)
    pieces = acc.Tensors("big")
    assert [p.step for p in pieces] == [5] * count
    decoded = [tb_decode(p.tensor_proto) for p in pieces]
    if count > 1:
        assert all(d.ndim == 1 and d.nbytes <= 1000 for d in decoded)
    assert_same_bits(np.concatenate([d.reshape(-1) for d in decoded]).reshape(value.shape), value)


def test_large_string_capture_is_chunked(tmp_path, writer_at, monkeypatch):
    monkeypatch.setattr(metadata, "CHUNK_BYTES", 1000)
    rng = np.random.default_rng(0)
    strings = [rng.bytes(int(n)) for n in rng.integers(0, 60, 200)]
    strings[10] = b""
    strings[50] = b"\xff" * 3000  # one element over the limit: a chunk of its own
    strings[-1] = b"end\x00"
    value = np.array(strings, dtype=object).reshape(10, 20)
    w = writer_at(tmp_path)
    tensorcap.capture(value, "words", step=0, writer=w)
    tensorcap.capture(strings, "words_list", step=0, writer=w)
    w.flush()
    reader = tb_tensorcap.load(str(tmp_path))
    info = reader.info(".", "words", 0)
    assert (info.dtype, info.shape) == ("string", (10, 20))
    assert len(info.locations) > 3
    assert_same_bits(reader.value(".", "words", 0), value)
    assert_same_bits(reader.value(".", "words_list", 0), value.reshape(-1))
    pieces = [tensor_util.make_ndarray(p.tensor_proto) for p in accumulator(tmp_path).Tensors("words")]
    assert len(pieces) == len(info.locations)
    assert [b"\xff" * 3000] in [p.tolist() for p in pieces]
    assert_same_bits(np.concatenate(pieces).reshape(10, 20), value)


def test_single_element_over_the_limit_keeps_its_shape(tmp_path, writer_at, monkeypatch):
    """A lone element bigger than CHUNK_BYTES is written as one 1-D chunk; the
    reader restores the capture's own shape (a regression: it returned (1,))."""
    monkeypatch.setattr(metadata, "CHUNK_BYTES", 7)
    w = writer_at(tmp_path)
    values = {
        "c128": np.array(complex(-0.0, np.inf), np.complex128),
        "f64_11": np.full((1, 1), -0.0),
        "word": np.array(b"\xff" * 50, dtype=object),
    }
    for tag, value in values.items():
        tensorcap.capture(value, tag, step=0, writer=w)
    w.flush()
    reader = tb_tensorcap.load(str(tmp_path))
    for tag, value in values.items():
        assert len(reader.info(".", tag, 0).locations) == 1
        assert "chunk" in json.loads(records_of_tag(tmp_path, tag)[0][1].metadata.plugin_data.content)
        assert reader.info(".", tag, 0).shape == value.shape
        assert_same_bits(reader.value(".", tag, 0), value)


def test_capture_with_a_missing_chunk_is_not_listed(tmp_path, writer_at, monkeypatch):
    monkeypatch.setattr(metadata, "CHUNK_BYTES", 1000)
    value = sample("float32", (1000,), 9)  # 4 chunks
    w = writer_at(tmp_path)
    tensorcap.capture(np.float32(1.5), "small", step=0, writer=w)
    tensorcap.capture(value, "big", step=0, writer=w)
    w.close()
    path = capture_file_of(tmp_path)
    data = open(path, "rb").read()
    # Record spans of the file; the last record is the last chunk.
    spans, pos = [], 0
    while pos < len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        spans.append((pos, pos + 12 + length + 4))
        pos = spans[-1][1]
    last_start, last_end = spans[-1]

    for cut in (last_start, last_start + 12 + 100):  # a whole chunk missing; half a chunk
        with open(path, "wb") as f:
            f.write(data[:cut])
        reader = tb_tensorcap.load(str(tmp_path))
        assert reader.tags(".") == ["small"]
        assert reader.value(".", "small", 0).item() == 1.5
        # The writer finishing the capture later completes it.
        with open(path, "ab") as f:
            f.write(data[cut:])
        assert reader.refresh() == 1
        assert_same_bits(reader.value(".", "big", 0), value)


def test_tf_function_static_shape_over_the_limit_is_chunked(tmp_path, writer_at, monkeypatch):
    monkeypatch.setattr(metadata, "CHUNK_BYTES", 1000)
    w = writer_at(tmp_path)

    @tf.function
    def step_fn(x):
        tensorcap.capture(x * 2.0, "act", writer=w)
        return x

    inputs = [tf.constant(sample("float32", (25, 20), i)) for i in range(3)]
    for x in inputs:
        step_fn(x)
    w.flush()
    reader = tb_tensorcap.load(str(tmp_path))
    assert reader.steps(".", "act") == [0, 1, 2]
    for step, x in enumerate(inputs):
        info = reader.info(".", "act", step)
        assert (info.dtype, info.shape, len(info.locations)) == ("float32", (25, 20), 2)
        assert_same_bits(reader.value(".", "act", step), (x * 2.0).numpy())


def test_tf_function_unknown_shape_over_the_limit_fails_at_run_time(tmp_path, writer_at, monkeypatch):
    monkeypatch.setattr(metadata, "CHUNK_BYTES", 1000)
    w = writer_at(tmp_path)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def step_fn(x):
        tensorcap.capture(x, "dyn", writer=w)
        return x + 1

    small = np.arange(250, dtype=np.float32)  # exactly 1000 bytes: fits
    step_fn(small)
    with pytest.raises(tf.errors.InvalidArgumentError, match="cannot split capture.*dyn"):
        step_fn(np.zeros(251, np.float32))
    step_fn(small[:3])
    w.flush()
    # The failed call wrote nothing and did not use up a step.
    assert [list(tensor_util.make_ndarray(v.tensor).shape) for _, v in records_of_tag(tmp_path, "dyn")] == [[250], [3]]
    reader = tb_tensorcap.load(str(tmp_path))
    assert reader.steps(".", "dyn") == [0, 1]
    assert_same_bits(reader.value(".", "dyn", 0), small)
    assert_same_bits(reader.value(".", "dyn", 1), small[:3])


def marker_line(name):
    """The line of this file that carries the comment `# LINE:<name>`."""
    with open(__file__, encoding="utf-8") as f:
        lines = [i for i, text in enumerate(f, 1) if text.rstrip().endswith("# LINE:" + name)]
    assert len(lines) == 1, name
    return lines[0]


# -- property: any bits, any shape, any chunk size ---------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

_UINT_OF = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


@st.composite
def any_value(draw):
    """(dtype name, numpy value) with arbitrary bit patterns, rank 0..5, zero sizes included."""
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4))
    if dtype == "string":
        n = int(np.prod(shape, dtype=np.int64))
        flat = np.empty(n, dtype=object)
        flat[:] = draw(st.lists(st.binary(max_size=40), min_size=n, max_size=n))
        return dtype, flat.reshape(shape)
    if dtype == "bool":
        return dtype, draw(hnp.arrays(np.bool_, shape))
    dt = np_dtype(dtype)
    parts = 2 if dtype.startswith("complex") else 1
    uint = _UINT_OF[dt.itemsize // parts]
    bits = draw(hnp.arrays(uint, tuple(shape[:-1]) + (shape[-1] * parts,) if shape else (parts,)))
    value = bits.view(dt)
    return dtype, value.reshape(shape)


@settings(max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=any_value(), chunk_bytes=st.sampled_from([9, 40, 1 << 30]), eager=st.booleans())
def test_property_any_value_round_trips_bit_exact(tmp_path_factory, case, chunk_bytes, eager):
    dtype, value = case
    logdir = tmp_path_factory.mktemp("prop")
    saved = metadata.CHUNK_BYTES
    metadata.CHUNK_BYTES = chunk_bytes
    try:
        w = tf.summary.create_file_writer(str(logdir))
        obj = tf.constant(value) if eager else value
        assert tensorcap.capture(obj, "v", step=1, writer=w) is obj
        w.close()
    finally:
        metadata.CHUNK_BYTES = saved
    reader = tb_tensorcap.load(str(logdir))
    info = reader.info(".", "v", 1)
    assert (info.dtype, info.shape) == (dtype, value.shape)
    assert_same_bits(reader.value(".", "v", 1), value)
    events = raw_tensorcap_events(logdir)
    chunked = "chunk" in json.loads(events[0][1].metadata.plugin_data.content)
    pieces = [tb_decode(e.tensor_proto) for e in accumulator(logdir).Tensors("v")]
    assert len(pieces) == len(events) == len(info.locations)
    if chunked:  # possibly one chunk: a single element over the limit
        assert all(p.ndim == 1 for p in pieces)
        assert_same_bits(np.concatenate(pieces).reshape(value.shape), value)
    else:
        assert_same_bits(pieces[0], value)
