"""The reader (`tb_tensorcap.load`): runs, listing facts, laziness, following a
live run, damaged files, thread safety, and reading without TensorFlow.

Event files are written by real `tf.summary` writers; damage is done to the
real files' bytes.
"""

import json
import logging
import os
import struct
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import tensorflow as tf
from support import capture_file_of, event_files_of, flip_byte
from tensorboard.compat.proto import summary_pb2

import tb_tensorcap
import tb_tensorcap as tensorcap
from tb_tensorcap import analysis, event_files

pytestmark = pytest.mark.usefixtures("isolated_capture")


def record_spans(path):
    """[(start, end)] of each complete record, from the TFRecord framing alone."""
    data = open(path, "rb").read()
    spans, pos = [], 0
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        if pos + 12 + length + 4 > len(data):
            break
        spans.append((pos, pos + 12 + length + 4))
        pos += 12 + length + 4
    return spans


def write_plain(w, tag, tensor, step, content, description=""):
    """A summary event with hand-made TensorCap plugin content."""
    md = summary_pb2.SummaryMetadata(
        summary_description=description,
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="tensorcap", content=content),
        data_class=summary_pb2.DATA_CLASS_TENSOR,
    )
    with w.as_default():
        assert tf.summary.write(tag, tensor, step=step, metadata=md)


def marker_line(name):
    with open(__file__, encoding="utf-8") as f:
        lines = [i for i, text in enumerate(f, 1) if text.rstrip().endswith("# LINE:" + name)]
    assert len(lines) == 1, name
    return lines[0]


# -- runs, tags, steps, facts ------------------------------------------------------


def test_runs_are_named_by_relative_path(tmp_path, writer_at):
    logdir = tmp_path / "logs"
    for run, value in ((".", 0), ("a/b", 1), ("c", 2), ("a/b/deeper", 3)):
        w = writer_at(logdir / run)
        tensorcap.capture(np.int32(value), "t", step=0, writer=w)
        w.flush()
    # A run with only ordinary summaries is not a TensorCap run.
    w = writer_at(logdir / "scalars_only")
    with w.as_default():
        tf.summary.scalar("loss", 1.0, step=0)
    w.flush()
    (logdir / "empty").mkdir()
    (logdir / "not_events").mkdir()
    (logdir / "not_events" / "notes.txt").write_text("hello")

    reader = tb_tensorcap.load(str(logdir))
    assert reader.runs() == [".", "a/b", "a/b/deeper", "c"]
    assert [int(reader.value(run, "t", 0)) for run in reader.runs()] == [0, 1, 3, 2]
    assert {i.run for run in reader.runs() for i in reader.captures(run)} == set(reader.runs())
    # A logdir that is itself a run.
    assert tb_tensorcap.load(str(logdir / "a" / "b" / "deeper")).runs() == ["."]
    assert tb_tensorcap.load(str(tmp_path / "missing")).runs() == []


def test_symlinked_runs_are_listed_as_tensorboard_lists_them(tmp_path, writer_at):
    elsewhere = tmp_path / "elsewhere"
    for run, value in (("first", 1), ("second", 2)):
        w = writer_at(elsewhere / run)
        tensorcap.capture(np.int32(value), "t", step=0, writer=w)
        w.flush()
    logdir = tmp_path / "logs"
    logdir.mkdir()
    (logdir / "one").symlink_to(elsewhere / "first", target_is_directory=True)
    (logdir / "two").symlink_to(elsewhere / "second", target_is_directory=True)
    from tensorboard.backend.event_processing import io_wrapper

    listed_by_tensorboard = sorted(os.path.relpath(d, logdir) for d in io_wrapper.GetLogdirSubdirectories(str(logdir)))
    assert listed_by_tensorboard == ["one", "two"]
    (logdir / "one" / "loop").symlink_to(logdir, target_is_directory=True)  # to an ancestor: listed once, no loop

    reader = tb_tensorcap.load(str(logdir))
    assert reader.runs() == ["one", "two"]
    assert [int(reader.value(run, "t", 0)) for run in reader.runs()] == [1, 2]


def test_listing_facts_and_capture_order(tmp_path, writer_at):
    w = writer_at(tmp_path)
    t0 = time.time()
    tensorcap.capture(np.zeros((2, 3), np.float32), "b/x", step=5, writer=w, description="late")  # LINE:facts-first
    tensorcap.capture(np.arange(4, dtype=np.int64), "a", step=2, writer=w)
    tensorcap.capture(np.zeros((2, 3), np.float32), "b/x", step=1, writer=w)
    tensorcap.capture(b"s", "c", step=9, writer=w)
    tensorcap.capture(np.ones((1, 0, 4), np.complex64), "a", step=0, writer=w, description="d\u00e9")
    with tensorcap.Capturer("blk", writer=w) as cap:
        cap.capture(True, "flag", step=3)
    t1 = time.time()
    w.flush()
    reader = tb_tensorcap.load(str(tmp_path))

    assert reader.runs() == ["."]
    assert reader.tags(".") == ["a", "b/x", "blk/flag", "c"]
    assert reader.steps(".", "b/x") == [1, 5]
    assert reader.steps(".", "a") == [0, 2]

    first = reader.info(".", "b/x", 5)
    assert (first.run, first.tag, first.step) == (".", "b/x", 5)
    assert (first.dtype, first.shape, first.description) == ("float32", (2, 3), "late")
    assert first.source == {
        "file": __file__,
        "line": marker_line("facts-first"),
        "function": "test_listing_facts_and_capture_order",
    }
    assert (first.numel, first.nbytes) == (6, 24)
    empty = reader.info(".", "a", 0)
    assert (empty.dtype, empty.shape, empty.description, empty.numel) == ("complex64", (1, 0, 4), "d\u00e9", 0)
    assert (reader.info(".", "c", 9).dtype, reader.info(".", "c", 9).shape) == ("string", ())
    assert reader.info(".", "blk/flag", 3).dtype == "bool"

    captures = reader.captures(".")
    assert [(i.tag, i.step) for i in captures] == [
        ("b/x", 5),
        ("a", 2),
        ("b/x", 1),
        ("c", 9),
        ("a", 0),
        ("blk/flag", 3),
    ]
    assert [i.order for i in captures] == list(range(6))
    walls = [i.wall_time for i in captures]
    assert t0 - 1 <= walls[0] and walls == sorted(walls) and walls[-1] <= t1 + 1
    assert [i.step for i in reader.tag_infos(".", "a")] == [0, 2]
    assert {tag: [i.step for i in infos] for tag, infos in reader.snapshot()["."].items()} == {
        "a": [0, 2],
        "b/x": [1, 5],
        "blk/flag": [3],
        "c": [9],
    }
    assert json.loads(json.dumps(first.to_json()))["shape"] == [2, 3]

    for bad in (
        lambda: reader.tags("nope"),
        lambda: reader.steps(".", "nope"),
        lambda: reader.info(".", "a", 1),
        lambda: reader.value(".", "a", 1),
        lambda: reader.info(".", "a", "0"),
    ):
        with pytest.raises(tb_tensorcap.NotFoundError):
            bad()
    assert issubclass(tb_tensorcap.NotFoundError, LookupError)
    assert reader.values(".", "a")[2].tolist() == [0, 1, 2, 3]


def test_values_are_read_lazily(tmp_path, writer_at, monkeypatch):
    w = writer_at(tmp_path)
    for step in range(4):
        tensorcap.capture(np.full(5, step, np.float64), "x", step=step, writer=w)
    w.flush()
    reads, scans = [], []
    real_read, real_scan = event_files.read_record, event_files.scan_records

    def counting_read(path, offset):
        reads.append(offset)
        return real_read(path, offset)

    def counting_scan(path, offset):
        scans.append(offset)
        return real_scan(path, offset)

    monkeypatch.setattr(event_files, "read_record", counting_read)
    monkeypatch.setattr(event_files, "scan_records", counting_scan)
    reader = tb_tensorcap.load(str(tmp_path))
    reader.runs(), reader.tags("."), reader.steps(".", "x"), reader.captures("."), reader.snapshot()
    info = reader.info(".", "x", 2)
    assert reads == []  # listing holds no values and reads none
    assert reader.value(".", "x", 2).tolist() == [2.0] * 5
    assert reads == [info.locations[0][1]]  # one record: this value's
    values = reader.values(".", "x")
    assert {step: v[0] for step, v in values.items()} == {0: 0.0, 1: 1.0, 2: 2.0, 3: 3.0}
    assert set(reads) == {reader.info(".", "x", s).locations[0][1] for s in range(4)}
    assert len(set(reads)) == 4
    # A refresh reads on from where the last one stopped, in each event file (the writer's and TensorCap's).
    files = event_files_of(tmp_path)
    assert scans == [0] * len(files)
    ends = [os.path.getsize(f) for f in files]
    tensorcap.capture(np.zeros(1), "x", step=4, writer=w)
    w.flush()
    assert reader.refresh() == 1
    assert scans == [0] * len(files) + ends


def test_returned_values_are_read_only(tmp_path, writer_at):
    w = writer_at(tmp_path)
    tensorcap.capture(np.arange(3, dtype=np.int32), "x", step=0, writer=w)
    w.flush()
    value = tb_tensorcap.load(str(tmp_path)).value(".", "x", 0)
    with pytest.raises(ValueError):
        value[0] = 7


def test_stats_are_computed_once(tmp_path, writer_at, monkeypatch):
    w = writer_at(tmp_path)
    tensorcap.capture(np.array([1.0, np.nan, np.inf, -np.inf, 0.0, 3.0], np.float32), "x", step=0, writer=w)
    tensorcap.capture(np.array([2.0, 4.0], np.float32), "x", step=1, writer=w)
    w.flush()
    calls = []
    real = analysis.tensor_stats

    def counting(array):
        calls.append(array.shape)
        return real(array)

    monkeypatch.setattr(analysis, "tensor_stats", counting)
    reader = tb_tensorcap.load(str(tmp_path))
    stats = reader.stats(".", "x", 0)
    assert (stats["numel"], stats["nan"], stats["posinf"], stats["neginf"], stats["zeros"]) == (6, 1, 1, 1, 1)
    assert (stats["min"], stats["max"]) == (0.0, 3.0)
    assert reader.stats(".", "x", 0) == stats
    assert calls == [(6,)]
    assert reader.stats(".", "x", 1)["mean"] == 3.0
    assert calls == [(6,), (2,)]


# -- following a live run -----------------------------------------------------------


def test_refresh_picks_up_appended_captures_and_new_runs(tmp_path, writer_at):
    w = writer_at(tmp_path / "run1")
    tensorcap.capture(np.int32(0), "x", writer=w)
    tensorcap.capture(np.int32(1), "x", writer=w)
    w.flush()
    reader = tb_tensorcap.load(str(tmp_path))
    assert reader.steps("run1", "x") == [0, 1]
    assert reader.refresh() == 0

    tensorcap.capture(np.int32(2), "x", writer=w)
    tensorcap.capture(np.int32(3), "y", writer=w)
    tensorcap.capture(np.int32(4), "x", writer=w)
    w.flush()
    assert reader.steps("run1", "x") == [0, 1]  # nothing changes until refresh()
    assert reader.refresh() == 3
    assert reader.steps("run1", "x") == [0, 1, 2, 3]
    assert reader.tags("run1") == ["x", "y"]
    assert [int(reader.value("run1", "x", s)) for s in (2, 3)] == [2, 4]
    assert [i.order for i in reader.captures("run1")] == list(range(5))

    w2 = writer_at(tmp_path / "run2")
    tensorcap.capture(np.int32(5), "z", writer=w2)
    w2.flush()
    # A second file in an existing run (a restarted writer).
    w3 = writer_at(tmp_path / "run1", filename_suffix=".second")
    tensorcap.capture(np.int32(6), "later", step=0, writer=w3)
    w3.flush()
    assert reader.refresh() == 2
    assert reader.runs() == ["run1", "run2"]
    assert int(reader.value("run2", "z", 0)) == 5
    assert int(reader.value("run1", "later", 0)) == 6
    assert reader.captures("run1")[-1].tag == "later"
    assert reader.refresh() == 0


def test_rewritten_step_replaces_the_earlier_capture(tmp_path, writer_at):
    w = writer_at(tmp_path)
    tensorcap.capture(np.int32(1), "x", step=0, writer=w)
    w.flush()
    reader = tb_tensorcap.load(str(tmp_path))
    assert int(reader.value(".", "x", 0)) == 1  # now cached
    tensorcap.capture(np.int32(2), "x", step=0, writer=w)
    w.flush()
    assert reader.refresh() == 1
    assert int(reader.value(".", "x", 0)) == 2


@pytest.mark.parametrize("where", ["header", "data", "footer"])
def test_truncated_last_record_is_tolerated_then_completed(tmp_path, writer_at, where):
    w = writer_at(tmp_path)
    for step in range(3):
        tensorcap.capture(np.arange(50, dtype=np.float32) + step, "x", step=step, writer=w)
    w.close()
    path = capture_file_of(tmp_path)
    data = open(path, "rb").read()
    start, end = record_spans(path)[-1]
    cut = {"header": start + 5, "data": (start + end) // 2, "footer": end - 2}[where]
    with open(path, "wb") as f:
        f.write(data[:cut])

    reader = tb_tensorcap.load(str(tmp_path))
    assert reader.steps(".", "x") == [0, 1]
    assert reader.value(".", "x", 1)[0] == 1.0
    assert reader.refresh() == 0
    with open(path, "ab") as f:
        f.write(data[cut:])
    assert reader.refresh() == 1
    assert reader.steps(".", "x") == [0, 1, 2]
    np.testing.assert_array_equal(reader.value(".", "x", 2), np.arange(50, dtype=np.float32) + 2)
    assert [i.order for i in reader.captures(".")] == [0, 1, 2]


def test_other_summaries_interleaved(tmp_path, writer_at):
    w = writer_at(tmp_path)
    with w.as_default(step=0):
        tensorcap.capture(np.float32(1), "cap/a")
        tf.summary.scalar("loss", 0.5)
        tf.summary.histogram("hist", tf.random.normal([100]))
        tf.summary.text("note", "hello")
        tf.summary.image("img", tf.zeros([1, 4, 4, 3]))
        tf.summary.write("raw_tensor", tf.constant([1, 2]))  # no metadata at all
        tensorcap.capture(np.float32(2), "cap/b")
        tf.summary.scalar("loss", 0.25, step=1)
    w.flush()
    reader = tb_tensorcap.load(str(tmp_path))
    assert reader.tags(".") == ["cap/a", "cap/b"]
    assert [i.order for i in reader.captures(".")] == [0, 1]
    assert reader.value(".", "cap/b", 0).item() == 2.0

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    acc.Reload()
    assert set(acc.PluginTagToContent("tensorcap")) == {"cap/a", "cap/b"}
    assert "loss" in acc.Tags()["tensors"]


def test_unicode_and_odd_tag_names(tmp_path, writer_at):
    w = writer_at(tmp_path)
    tags = ["h\u00e4st/\u00fc", "\u65e5\u672c/\u2603", "a b/c-d.e", "x" * 300, "deep/" * 20 + "leaf"]
    for i, tag in enumerate(tags):
        tensorcap.capture(np.full(3, i, np.int16), tag, step=0, writer=w)
        tensorcap.capture([tag.encode("utf-8")], tag + "/s", step=0, writer=w)
    w.flush()
    reader = tb_tensorcap.load(str(tmp_path))
    assert reader.tags(".") == sorted(tags + [t + "/s" for t in tags])
    for i, tag in enumerate(tags):
        assert reader.value(".", tag, 0).tolist() == [i] * 3
        assert reader.value(".", tag + "/s", 0).tolist() == [tag.encode("utf-8")]


def test_summaries_of_other_plugins_are_ignored(tmp_path, writer_at):
    w = writer_at(tmp_path)
    md = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="not_tensorcap", content=b'{"version":1}'),
        data_class=summary_pb2.DATA_CLASS_TENSOR,
    )
    with w.as_default():
        tf.summary.write("foreign", tf.constant(1.0), step=0, metadata=md)
    tensorcap.capture(np.float32(2), "mine", step=0, writer=w)
    w.flush()
    assert tb_tensorcap.load(str(tmp_path)).tags(".") == ["mine"]


def test_inputs_and_consumers_follow_the_lineage(tmp_path):
    from lineage_logdir import plain, softmax_log_step, write_run

    write_run(tmp_path / "r", {0: softmax_log_step(nan=False), 1: softmax_log_step(nan=True) + [plain("loss", 1.0)]})
    reader = tb_tensorcap.load(str(tmp_path))
    assert reader.inputs("r", "step/loss/Log", 1) == [
        {"tag": "step/dense/Softmax", "index": 0, "step": 1, "captured": True}
    ]
    assert reader.inputs("r", "step/dense/MatMul", 0) == [
        {"external": "input", "name": "x", "tag": "step/input/x", "index": 0, "step": 0, "captured": True},
        {"tag": "step/ReadVariableOp", "index": 1, "step": 0, "captured": True},
    ]
    assert reader.consumers("r", "step/dense/Softmax", 1) == [
        {"tag": "step/loss/Log", "step": 1, "repeat": 0, "index": 0}
    ]
    assert reader.consumers("r", "step/input/labels", 0) == [
        {"tag": "step/loss/Mul", "step": 0, "repeat": 0, "index": 1}
    ]
    assert reader.consumers("r", "step/loss/Neg", 1) == []
    # A capture() call has unknown lineage (None), not "no inputs".
    assert reader.inputs("r", "loss", 1) is None and reader.consumers("r", "loss", 1) == []
    info = reader.info("r", "step/variable/dense/kernel", 0)
    assert (info.op, info.origin) == (None, {"kind": "variable", "name": "dense/kernel"})
    assert reader.info("r", "step/loss/Log", 0).to_json()["op"] == "Log"
    with pytest.raises(tb_tensorcap.NotFoundError):
        reader.consumers("r", "step/loss/Log", 7)


# -- damaged or unexpected content ----------------------------------------------


def test_future_version_is_skipped_with_a_warning(tmp_path, writer_at, caplog):
    w = writer_at(tmp_path)
    tensorcap.capture(np.float32(1), "before", step=0, writer=w)
    write_plain(w, "future", tf.constant([1.0]), 0, b'{"version": 99, "new": {"field": 1}}')
    write_plain(w, "garbage", tf.constant([1.0]), 0, b"\xffnot json")
    write_plain(w, "no_version", tf.constant([1.0]), 0, b'{"source": null}')
    write_plain(w, "legacy", tf.constant([7], tf.int16), 4, b"", description="by another tool")
    tensorcap.capture(np.float32(2), "after", step=0, writer=w)
    w.flush()
    with caplog.at_level(logging.WARNING, logger="tb_tensorcap"):
        reader = tb_tensorcap.load(str(tmp_path))
    assert reader.tags(".") == ["after", "before", "legacy"]
    assert reader.value(".", "after", 0).item() == 2.0
    # Empty content (version 0, other tools) is read, with no source.
    legacy = reader.info(".", "legacy", 4)
    assert (legacy.source, legacy.description, legacy.dtype) == (None, "by another tool", "int16")
    assert reader.value(".", "legacy", 4).tolist() == [7]
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    future = [m for m in messages if "'future'" in m]
    assert len(future) == 1 and "99" in future[0] and "newer" in future[0], messages
    assert any("'garbage'" in m for m in messages), messages
    assert any("'no_version'" in m for m in messages), messages


def test_unsupported_dtype_in_a_tensorcap_event_is_skipped(tmp_path, writer_at, caplog):
    w = writer_at(tmp_path)
    write_plain(
        w, "quantized", tf.quantization.quantize(tf.constant([0.5]), 0.0, 1.0, tf.qint8).output, 0, b'{"version": 1}'
    )
    tensorcap.capture(np.float32(2), "ok", step=0, writer=w)
    w.flush()
    with caplog.at_level(logging.WARNING, logger="tb_tensorcap"):
        reader = tb_tensorcap.load(str(tmp_path))
    assert reader.tags(".") == ["ok"]
    assert any("'quantized'" in r.getMessage() for r in caplog.records)


def captures_a_b_c(tmp_path, writer_at):
    """Captures tags a, b, c (values 0, 1, 2) in one file; returns it and b's record offset."""
    w = writer_at(tmp_path)
    for i, tag in enumerate("abc"):
        tensorcap.capture(np.full(8, i, np.int32), tag, step=0, writer=w)
    w.close()
    return capture_file_of(tmp_path), tb_tensorcap.load(str(tmp_path)).info(".", "b", 0).locations[0][1]


def test_corrupt_data_crc_skips_only_that_record(tmp_path, writer_at, caplog):
    path, offset = captures_a_b_c(tmp_path, writer_at)
    end = dict(record_spans(path))[offset]
    flip_byte(path, (offset + 12 + end - 4) // 2)  # the middle of b's data

    with caplog.at_level(logging.WARNING, logger="tb_tensorcap"):
        reader = tb_tensorcap.load(str(tmp_path))
    assert reader.tags(".") == ["a", "c"]
    assert reader.value(".", "c", 0).tolist() == [2] * 8
    assert [i.order for i in reader.captures(".")] == [0, 1]
    assert any("CRC" in r.getMessage() for r in caplog.records)


def test_corrupt_length_stops_the_file_but_keeps_what_came_before(tmp_path, writer_at, caplog):
    path, offset = captures_a_b_c(tmp_path, writer_at)
    flip_byte(path, offset + 1)  # b's length field
    with caplog.at_level(logging.WARNING, logger="tb_tensorcap"):
        reader = tb_tensorcap.load(str(tmp_path))
    assert reader.tags(".") == ["a"]
    assert reader.value(".", "a", 0).tolist() == [0] * 8
    assert any("corrupt record length" in r.getMessage() for r in caplog.records)
    assert reader.refresh() == 0  # the broken file is not rescanned


def test_value_of_a_record_damaged_after_listing_raises_oserror(tmp_path, writer_at):
    w = writer_at(tmp_path)
    tensorcap.capture(np.arange(8, dtype=np.int32), "x", step=0, writer=w)
    w.close()
    reader = tb_tensorcap.load(str(tmp_path))
    offset = reader.info(".", "x", 0).locations[0][1]
    flip_byte(path := capture_file_of(tmp_path), offset + 20)
    with pytest.raises(OSError, match="CRC"):
        reader.value(".", "x", 0)
    os.remove(path)
    with pytest.raises(OSError):
        reader.value(".", "x", 0)


# -- threads ------------------------------------------------------------------------


def test_refresh_while_reading_in_other_threads(tmp_path, writer_at):
    w = writer_at(tmp_path)
    reader = tb_tensorcap.load(str(tmp_path))
    errors, done = [], threading.Event()

    def refresher():
        try:
            while not done.is_set():
                reader.refresh()
        except Exception as e:
            errors.append(e)

    def value_reader():
        try:
            while not done.is_set():
                for run, tags in reader.snapshot().items():
                    for tag, infos in tags.items():
                        for info in infos:
                            value = reader.value(run, tag, info.step)
                            assert value.shape == (64,) and value[0] == info.step
                            reader.stats(run, tag, info.step)
        except Exception as e:
            errors.append(e)

    threads = [
        threading.Thread(target=refresher),
        threading.Thread(target=value_reader),
        threading.Thread(target=value_reader),
    ]
    for t in threads:
        t.start()
    try:
        for step in range(150):
            tensorcap.capture(np.full(64, step, np.float32), "t%d" % (step % 5), step=step, writer=w)
            if step % 10 == 0:
                w.flush()
    finally:
        w.flush()
        time.sleep(0.2)
        done.set()
        for t in threads:
            t.join(30)
    assert not errors, errors
    reader.refresh()
    assert sum(len(reader.steps(".", tag)) for tag in reader.tags(".")) == 150


# -- reading without TensorFlow ----------------------------------------------------


NO_TF_SCRIPT = textwrap.dedent("""
    import importlib.abc, json, sys

    class NoTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith(("tensorflow.", "tensorflow_")):
                raise ImportError("TensorFlow is blocked in this test: " + name)
            return None

    sys.meta_path.insert(0, NoTensorFlow())
    import tb_tensorcap
    reader = tb_tensorcap.load(sys.argv[1])
    out = {
        "runs": reader.runs(),
        "tags": reader.tags("a/b"),
        "x": reader.value("a/b", "x", 3).tolist(),
        "bf16": reader.value("a/b", "bf16", 0).astype("float32").tolist(),
        "words": [w.hex() for w in reader.value("a/b", "words", 0).tolist()],
        "big": reader.value("a/b", "big", 0).sum().item(),
        "big_chunks": len(reader.info("a/b", "big", 0).locations),
        "stats": reader.stats("a/b", "x", 3)["numel"],
        "tf_loaded": sorted(m for m in sys.modules if m.split(".")[0] == "tensorflow"),
    }
    out["capture"] = tb_tensorcap.capture.__module__  # the TensorFlow-free path (test_plain_capture.py)
    print(json.dumps(out))
""")


def test_reader_works_without_tensorflow(tmp_path, writer_at, monkeypatch):
    from tb_tensorcap import metadata

    monkeypatch.setattr(metadata, "CHUNK_BYTES", 1000)
    w = writer_at(tmp_path / "a" / "b")
    tensorcap.capture(np.arange(4, dtype=np.int64), "x", step=3, writer=w)
    tensorcap.capture(tf.constant([1.5, -2.0], tf.bfloat16), "bf16", step=0, writer=w)
    tensorcap.capture(np.array([b"\xff\x00", b""], dtype=object), "words", step=0, writer=w)
    tensorcap.capture(np.ones(1000, np.float32), "big", step=0, writer=w)
    w.flush()
    proc = subprocess.run(
        [sys.executable, "-c", NO_TF_SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {
        "runs": ["a/b"],
        "tags": ["bf16", "big", "words", "x"],
        "x": [0, 1, 2, 3],
        "bf16": [1.5, -2.0],
        "words": ["ff00", ""],
        "big": 1000.0,
        "big_chunks": 4,
        "stats": 4,
        "tf_loaded": [],
        "capture": "tb_tensorcap.plain_capture",
    }


def test_logdir_on_a_non_local_filesystem_reads_through_gfile():
    """TensorFlow's ram:// filesystem goes through gfile, as gs:// and s3:// do."""
    root = "ram://reader_test_%d" % os.getpid()
    w = tf.summary.create_file_writer(root + "/run1")
    with w.as_default():
        for step in range(3):
            tensorcap.capture(np.arange(6, dtype=np.float32).reshape(2, 3) + step, "x", step=step)
        tensorcap.capture(np.array([b"a", b"\xff"], dtype=object), "s", step=0)
    w.flush()
    reader = tb_tensorcap.load(root)
    assert reader.runs() == ["run1"] and reader.steps("run1", "x") == [0, 1, 2]
    np.testing.assert_array_equal(reader.value("run1", "x", 2), np.arange(6).reshape(2, 3) + 2)
    assert reader.value("run1", "s", 0).tolist() == [b"a", b"\xff"]
    assert reader.value("run1", "x", 2) is reader.value("run1", "x", 2)  # remote values are cached
    with w.as_default():
        tensorcap.capture(np.zeros(2, np.float32), "x", step=3)
    w.flush()
    assert reader.refresh() == 1 and reader.steps("run1", "x") == [0, 1, 2, 3]
    w.close()


def test_batched_statistics_equal_tensor_stats_bit_for_bit():
    """The statistics pass reduces many small values together (analysis.batch_stats): same numbers exactly."""
    rng = np.random.default_rng(0)
    for size in (1, 7, 8, 9, 128, 129, 4096):
        for dtype in (np.float32, np.float64, np.float16, np.int32, np.uint8, np.bool_, np.complex64):
            values = (
                (rng.standard_normal((20, size)) * 1000).astype(dtype)
                if dtype is not np.bool_
                else (rng.random((20, size)) > 0.5)
            )
            if np.issubdtype(dtype, np.inexact):
                values[3, 0], values[5, -1] = np.nan, np.inf
            expected = [analysis.tensor_stats(row.reshape(size)) for row in values]
            assert analysis.batch_stats(values, (size,)) == expected, (size, dtype)
