"""Health statistics: the on-device kernel, health records on disk, reading them back."""

import warnings

import numpy as np
import pytest
import tensorflow as tf

import tb_tensorcap as tensorcap
from tb_tensorcap import analysis, answers, direct_writer, health, host_stats, metadata
from tb_tensorcap.reader import StatisticsOnlyError

_RNG = np.random.default_rng(7)
VALUES = {
    "conv": _RNG.normal(5, 2, size=(8, 6, 6, 4)).astype(np.float32),
    "special": np.array([1.0, np.nan, np.inf, -np.inf, 0.0, -3.5, np.nan], np.float32),
    "all_nan": np.array([np.nan, np.inf], np.float64),
    "ints": _RNG.integers(-5, 5, size=(7, 3)).astype(np.int32),
    "big_ints": np.array([2**40, -(2**40) - 1, 0], np.int64),
    "mask": np.array([True, False, True]),
    "complex": np.array([1 + 1j, np.nan + 0j, complex(np.inf, 1), 3j], np.complex64),
    "names": np.array([b"", b"ab", b""], dtype=object),
    "empty": np.zeros((0, 3), np.float32),
    "half": np.float16([1.5, 2.5, 65504, -0.0]),
    "scalar": np.float32(-2.0),
}


def _assert_stats_match(expected, got):
    for field in metadata.HEALTH_FIELDS:
        want, have = expected[field], got[field]
        if want is None:
            assert have is None, field
        else:
            assert have == pytest.approx(want, rel=2e-6, abs=1e-6), field


def test_kernel_matches_analysis_stats_for_every_dtype():
    tensors = [tf.constant(v) for v in VALUES.values()]
    rows = health.BatchedStats().rows(tensors)
    width = len(metadata.HEALTH_FIELDS)
    offset = 0
    for (name, value), tensor in zip(VALUES.items(), tensors):
        length = health.row_length(tensor.shape.rank)
        row = rows[offset : offset + length]
        offset += length
        got = {f: (None if np.isnan(x) and i >= 5 else x) for i, (f, x) in enumerate(zip(metadata.HEALTH_FIELDS, row))}
        _assert_stats_match(analysis.tensor_stats(value), got)
        assert tuple(int(d) for d in row[width:]) == np.shape(value), name
    assert offset == rows.size


def test_host_kernel_is_silent_when_a_sum_overflows():
    big = np.array([3e38, 3e38, -1e38, 2e38], np.float32)  # finite, but its float32 sum overflows
    spread = np.array([1e20, -3e20, 0, 2e20], np.float32)  # a finite sum, but its squares overflow float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = host_stats.host_rows([big, np.array([1.0, np.inf], np.float32)])
        assert not host_stats.host_nonfinite([big])
        _assert_stats_match(
            analysis.tensor_stats(spread), dict(zip(metadata.HEALTH_FIELDS, host_stats.host_rows([spread])))
        )
    _assert_stats_match(analysis.tensor_stats(big), dict(zip(metadata.HEALTH_FIELDS, rows[:9])))
    for value in (big, spread):  # the device kernel too (what a GPU tensor gets)
        device_rows = tf.function(lambda v: health.health_rows([v]))(tf.constant(value)).numpy()
        _assert_stats_match(analysis.tensor_stats(value), dict(zip(metadata.HEALTH_FIELDS, device_rows)))
    assert rows[9] == 4 and rows[10 + 2] == 1  # +Inf counted in the second row


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.complex64])
def test_host_nonfinite_finds_each_kind_of_nonfinite_element(dtype):
    rng = np.random.default_rng(5)
    clean = [rng.normal(size=n).astype(dtype) for n in (3, 100_000)] + [np.arange(9, dtype=np.int32)]
    assert not host_stats.host_nonfinite(clean)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if dtype != np.float16:  # finite elements whose squares overflow: still finite
            assert not host_stats.host_nonfinite([np.array([1e20, -3e20, 0, 2e20], dtype)] + clean)
        for bad in (np.nan, np.inf, -np.inf):
            for index in (0, 77_777):
                array = rng.normal(size=100_000).astype(dtype)
                array[index] = bad
                assert host_stats.host_nonfinite(clean + [array]), (bad, index)


def test_host_rows_of_small_arrays_together_and_large_ones_alone_match_analysis():
    """Small arrays are reduced together by segment, large ones one by one: each row is its own, in order."""
    rng = np.random.default_rng(3)
    large = host_stats.SMALL + 7
    values = [
        rng.normal(3, 1e-3, size=(large,)).astype(np.float32),  # mean far above std: the two-pass std
        *VALUES.values(),
        np.tile(np.float32([3e38, 3e38, -1e38, 2e38]), large // 4 + 1),  # its float32 sum overflows
        np.tile(np.float32([1e20, -3e20, 0, 2e20]), large // 4 + 1),  # its float32 squares overflow
        np.append(rng.normal(size=large).astype(np.float32), [np.nan, np.inf, 0]).reshape(-1, 2),
        np.zeros((2, 0, 2), np.float32),
        rng.integers(-(2**40), 2**40, size=(50, 2)),
        np.float32(7.0),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = host_stats.host_rows(values)
    width, offset = len(metadata.HEALTH_FIELDS), 0
    for value in values:
        row = rows[offset : offset + width + np.ndim(value)]
        offset += row.size
        got = {f: (None if np.isnan(x) and i >= 5 else x) for i, (f, x) in enumerate(zip(metadata.HEALTH_FIELDS, row))}
        _assert_stats_match(analysis.tensor_stats(value), got)
        assert tuple(row[width:]) == np.shape(value)
    assert offset == rows.size


def test_kernel_inside_tf_function_with_unknown_shapes():
    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def rows_of(x):
        return health.health_rows([x, tf.nn.relu(x)])

    value = np.array([[1, -2, np.nan], [0, 5, -np.inf]], np.float32)
    rows = rows_of(value).numpy()
    first = dict(zip(metadata.HEALTH_FIELDS, rows[:9]))
    assert (first["numel"], first["nan"], first["neginf"], first["zeros"]) == (6, 1, 1, 1)
    assert first["min"] == -2 and first["max"] == 5
    assert list(rows[9:11]) == [2, 3]  # the actual shape, known only when it ran


def _write_health(writer, step, named_values, prefix="blk"):
    tensors = [tf.constant(v) for v in named_values.values()]
    rows = health.BatchedStats().rows(tensors)
    specs = [
        ("%s/%s" % (prefix, name), t.dtype.name, t.shape.rank, {"file": "train.py", "line": 10 + i, "function": "step"})
        for i, (name, t) in enumerate(zip(named_values, tensors))
    ]
    health.write_record(prefix + "/_health", health.RecordSpecs().metadata(specs), rows, step, writer)


def test_health_record_reads_back_as_captures_with_statistics(tmp_path, writer_at):
    writer = writer_at(tmp_path / "run")
    for step in range(3):
        _write_health(writer, step, {"a": VALUES["conv"] * (step + 1), "b": VALUES["special"]})
    writer.flush()
    reader = tensorcap.load(str(tmp_path))
    assert reader.tags("run") == ["blk/a", "blk/b"]
    assert reader.steps("run", "blk/a") == [0, 1, 2]
    info = reader.info("run", "blk/a", 2)
    assert (info.kind, info.dtype, info.shape) == ("health", "float32", (8, 6, 6, 4))
    assert info.source == {"file": "train.py", "line": 10, "function": "step"}
    _assert_stats_match(analysis.tensor_stats(VALUES["conv"] * 3), reader.stats("run", "blk/a", 2))
    with pytest.raises(StatisticsOnlyError, match="health mode: only its statistics"):
        reader.value("run", "blk/a", 1)
    # Alerts see the NaN/Inf in the statistics, at every step, in capture order.
    found = answers.alerts(reader, "run")
    assert [(a["tag"], a["step"], a["nan"], a["posinf"], a["neginf"]) for a in found] == [
        ("blk/b", s, 2, 1, 1) for s in range(3)
    ]
    assert info.to_json()["kind"] == "health"


def test_malformed_health_record_is_skipped_with_a_report(tmp_path, writer_at, caplog):
    writer = writer_at(tmp_path / "run")
    specs = [("blk/a", "float32", 1, None), ("blk/b", "float32", 1, None)]
    md = health.RecordSpecs().metadata(specs)
    health.write_record("blk/_health", md, np.zeros([10]), 0, writer)  # rows need 20 numbers
    _write_health(writer, 1, {"c": VALUES["ints"]})
    writer.flush()
    reader = tensorcap.load(str(tmp_path))
    assert reader.tags("run") == ["blk/c"]
    assert "health record holds 10 numbers" in caplog.text


def test_metadata_refuses_a_malformed_health_description():
    content = b'{"version":2,"health":{"fields":["numel"],"rows":[],"sources":[]}}'
    with pytest.raises(ValueError, match="unknown fields"):
        metadata.parse_plugin_metadata(content)
    bad_row = (
        b'{"version":2,"health":{"fields":%s,"rows":[["t","float32",-1,0]],"sources":[]}}'
        % str(list(metadata.HEALTH_FIELDS)).replace("'", '"').replace(" ", "").encode()
    )
    with pytest.raises(ValueError, match="malformed row"):
        metadata.parse_plugin_metadata(bad_row)


@pytest.mark.parametrize("direct", [True, False], ids=["own_event_file", "through_tf_summary"])
@pytest.mark.parametrize("condition", [False, lambda: False, True, lambda: True])
def test_health_record_follows_record_if(tmp_path, writer_at, monkeypatch, condition, direct):
    if not direct:  # a writer direct_writer cannot serve (made before the import, or a gs:// logdir)
        monkeypatch.setattr(direct_writer, "for_summary_writer", lambda writer: None)
    writer = writer_at(tmp_path / "run")
    with writer.as_default(), tf.summary.record_if(condition):
        with tensorcap.record("blk", step=4, mode="health"):
            tf.square(tf.constant([3.0, -1.0]))
    writer.flush()
    recording = condition() if callable(condition) else condition
    reader = tensorcap.load(str(tmp_path))
    if not recording:
        assert reader.runs() == []
        return
    assert reader.steps("run", "blk/Square") == [4]
    assert reader.stats("run", "blk/Square", 4)["max"] == 9.0


def test_host_rows_of_arrays_sharing_a_buffer():
    """A view of the same bytes (what Reshape gives) gets the same statistics and its own dims."""
    base = np.random.default_rng(5).normal(2, 3, size=(host_stats.SMALL + 60,)).astype(np.float32)
    views = [base, base.reshape(2, -1), base.view(np.int32), base[::2], base.reshape(2, -1).T]
    rows = host_stats.host_rows(views)
    width, offset = len(metadata.HEALTH_FIELDS), 0
    for value in views:
        row = rows[offset : offset + width + value.ndim]
        offset += row.size
        _assert_stats_match(analysis.tensor_stats(value), dict(zip(metadata.HEALTH_FIELDS, row)))
        assert tuple(row[width:]) == value.shape
