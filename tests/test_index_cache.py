"""The saved index (index_cache): reopening without rescanning, and never trusting a stale or damaged entry."""

import logging
import os
import shutil
import threading

import numpy as np
import pytest
from support import flip_byte

import tb_tensorcap
from tb_tensorcap import capture_table, event_files, index_cache, metadata


def _facts(reader):
    """Everything the index says, run by run, in capture order (statistics included when known)."""
    return {
        run: [dict(i.to_json(), locations=i.locations, stats=i.stats) for i in reader.captures(run)]
        for run in reader.runs()
    }


def _write_steps(writer, steps, tag="x", scale=1.0):
    for step in steps:
        value = np.arange(12, dtype=np.float32).reshape(3, 4) * scale + step
        if step == 2:
            value[1, 1] = np.nan
        tb_tensorcap.capture(value, tag, step=step, writer=writer)
    writer.flush()


@pytest.fixture
def counting(monkeypatch):
    """Counts event file scans (path, offset) and statistics computed (stored in the index).

    Only this test's thread counts: a TensorBoard app an earlier test left serving may still be
    scanning its own logdir in a background refresher.
    """
    calls = {"scans": [], "stats": 0}
    real_scan, real_set_stats = event_files.scan_records, capture_table.CaptureTable.set_stats
    test_thread = threading.get_ident()

    def scan(path, offset):
        if threading.get_ident() == test_thread:
            calls["scans"].append((os.path.basename(path), offset))
        return real_scan(path, offset)

    def set_stats(table, row, stats):
        if threading.get_ident() == test_thread:
            calls["stats"] += 1
        return real_set_stats(table, row, stats)

    monkeypatch.setattr(event_files, "scan_records", scan)
    monkeypatch.setattr(capture_table.CaptureTable, "set_stats", set_stats)
    return calls


def test_reopening_reads_the_saved_index_and_statistics(tmp_path, writer_at, counting):
    logdir, cache = tmp_path / "logs", str(tmp_path / "cache")
    _write_steps(writer_at(logdir / "a"), range(4))
    _write_steps(writer_at(logdir / "b"), range(3), tag="y")
    before = sorted(os.listdir(logdir / "a"))
    first = tb_tensorcap.load(str(logdir), cache_dir=cache)
    assert first.compute_stats() == 7
    expected = _facts(first)
    files = event_files.list_event_files(str(logdir / "a")) + event_files.list_event_files(str(logdir / "b"))
    assert counting["stats"] == 7 and len(counting["scans"]) == len(files) == 4  # the writers' files and TensorCap's

    counting["scans"].clear()
    reopened = tb_tensorcap.load(str(logdir), cache_dir=cache)
    assert _facts(reopened) == expected
    assert [i.tag for i in reopened.nonfinite("a")] == ["x"]
    # Nothing rescanned from the start, no statistic computed again, nothing written into the logdir.
    assert all(offset > 0 for _, offset in counting["scans"])
    assert counting["stats"] == 7
    assert reopened.compute_stats() == 0
    assert sorted(os.listdir(logdir / "a")) == before
    np.testing.assert_array_equal(reopened.value("a", "x", 3), first.value("a", "x", 3))


def test_a_grown_file_is_read_on_from_where_the_saved_index_stops(tmp_path, writer_at, counting):
    logdir, cache = tmp_path / "logs", str(tmp_path / "cache")
    writer = writer_at(logdir / "run")
    _write_steps(writer, range(3))
    tb_tensorcap.load(str(logdir), cache_dir=cache)
    sizes = [os.path.getsize(f) for f in event_files.list_event_files(str(logdir / "run"))]  # TensorCap's and the writer's
    _write_steps(writer, range(3, 6))

    counting["scans"].clear()
    reopened = tb_tensorcap.load(str(logdir), cache_dir=cache)
    assert reopened.steps("run", "x") == list(range(6))
    assert [offset for _, offset in counting["scans"]] == sizes
    assert _facts(reopened) == _facts(tb_tensorcap.load(str(logdir), cache_dir=None))


@pytest.mark.parametrize("change", ["replaced", "truncated", "rewritten_in_place", "deleted"])
def test_a_changed_file_discards_the_saved_index(tmp_path, change):
    # tensorcap.Writers: a file each (one process's captures through tf.summary writers share one file).
    logdir, cache = tmp_path / "logs", str(tmp_path / "cache")
    for steps, tag in ((range(5), "x"), (range(5, 7), "z")):
        with tb_tensorcap.Writer(str(logdir / "run")) as writer:
            _write_steps(writer, steps, tag=tag)
    first, second = event_files.list_event_files(str(logdir / "run"))
    saved = tb_tensorcap.load(str(logdir), cache_dir=cache)
    saved.compute_stats()
    if change == "replaced":  # another run's file under the same name, with more captures
        other = tmp_path / "other"
        with tb_tensorcap.Writer(str(other)) as writer:
            _write_steps(writer, range(9), scale=-1.0)
        shutil.copyfile(event_files.list_event_files(str(other))[0], first)
    elif change == "truncated":  # a writer restarted over the file: its first 2 captures only
        offsets = [o for o, _, _ in event_files.scan_records(first, 0)]
        os.truncate(first, offsets[3])
    elif change == "rewritten_in_place":
        flip_byte(first, os.path.getsize(first) - 10)
    else:
        os.unlink(first)

    reopened = tb_tensorcap.load(str(logdir), cache_dir=cache)
    assert _facts(reopened) == _facts(tb_tensorcap.load(str(logdir), cache_dir=None))
    if change == "replaced":
        assert reopened.steps("run", "x") == list(range(9))
        np.testing.assert_array_equal(reopened.value("run", "x", 8), -np.arange(12, dtype=np.float32).reshape(3, 4) + 8)
        assert reopened.stats("run", "x", 0)["max"] == 0.0  # recomputed, not the saved statistics
    if change == "truncated":
        assert reopened.steps("run", "x") == [0, 1]
    if change == "deleted":
        assert reopened.tags("run") == ["z"]


def test_a_damaged_entry_is_ignored_with_a_warning(tmp_path, writer_at, caplog):
    logdir, cache = tmp_path / "logs", str(tmp_path / "cache")
    _write_steps(writer_at(logdir / "run"), range(4))
    reader = tb_tensorcap.load(str(logdir), cache_dir=cache)
    reader.compute_stats()
    expected = _facts(reader)
    entry = index_cache.IndexCache(cache).entry_path(os.path.abspath(str(logdir / "run")))
    for damage in ("flip", "truncate", "garbage"):
        if damage == "flip":
            flip_byte(entry, os.path.getsize(entry) // 2)
        elif damage == "truncate":
            os.truncate(entry, 100)
        else:
            with open(entry, "wb") as f:
                f.write(b"not an index at all")
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            reopened = tb_tensorcap.load(str(logdir), cache_dir=cache)
        assert _facts(reopened) == {run: [dict(c, stats=None) for c in captures] for run, captures in expected.items()}
        assert any("damaged" in r.getMessage() and "ignored" in r.getMessage() for r in caplog.records), damage
        reopened.compute_stats()  # and a good entry is written again


def test_an_entry_of_another_directory_is_not_trusted(tmp_path, writer_at, caplog):
    logdir, cache = tmp_path / "logs", str(tmp_path / "cache")
    _write_steps(writer_at(logdir / "a"), range(2))
    _write_steps(writer_at(logdir / "b"), range(3))
    tb_tensorcap.load(str(logdir), cache_dir=cache)
    entries = index_cache.IndexCache(cache)
    shutil.copyfile(
        entries.entry_path(os.path.abspath(str(logdir / "a"))), entries.entry_path(os.path.abspath(str(logdir / "b")))
    )
    with caplog.at_level(logging.WARNING):
        reopened = tb_tensorcap.load(str(logdir), cache_dir=cache)
    assert reopened.steps("b", "x") == [0, 1, 2]
    assert any("damaged" in r.getMessage() for r in caplog.records)


def test_split_and_health_captures_survive_reopening(tmp_path, writer_at, monkeypatch):
    logdir, cache = tmp_path / "logs", str(tmp_path / "cache")
    monkeypatch.setattr(metadata, "CHUNK_BYTES", 1000)
    writer = writer_at(logdir / "run")
    big = np.arange(1000, dtype=np.float32).reshape(10, 100)
    tb_tensorcap.capture(big, "big", step=0, writer=writer)
    writer.flush()
    first = tb_tensorcap.load(str(logdir), cache_dir=cache)
    assert len(first.info("run", "big", 0).locations) == 4
    reopened = tb_tensorcap.load(str(logdir), cache_dir=cache)
    assert _facts(reopened) == _facts(first)
    np.testing.assert_array_equal(reopened.value("run", "big", 0), big)


def test_progress_counts_bytes_scanned_and_statistics_known(tmp_path, writer_at):
    logdir = tmp_path / "logs"
    _write_steps(writer_at(logdir / "run"), range(4))
    reader = tb_tensorcap.Reader(str(logdir), cache_dir=None)
    seen = []
    reader.refresh(progress=lambda done, total: seen.append((done, total)))
    sizes = [os.path.getsize(f) for f in event_files.list_event_files(str(logdir / "run"))]  # TensorCap's and the writer's
    size = sum(sizes)
    assert seen == [(sizes[0], size), (size, size)]
    progress = reader.progress()
    assert progress["index"] == {"done": size, "total": size, "unit": "bytes", "running": False}
    assert progress["statistics"] == {"done": 0, "total": 4, "unit": "captures", "running": False}
    reader.stats("run", "x", 1)
    assert reader.progress()["statistics"]["done"] == 1
    steps = []
    reader.compute_stats(progress=lambda done, total: steps.append((done, total)))
    assert steps[0] == (1, 4) and steps[-1] == (4, 4) and steps == sorted(steps)
    assert reader.progress()["statistics"]["done"] == 4


def test_cache_directory_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TENSORCAP_CACHE_DIR", "off")
    assert index_cache.default_directory() is None
    monkeypatch.setenv("TENSORCAP_CACHE_DIR", str(tmp_path))
    assert index_cache.default_directory() == str(tmp_path)
    monkeypatch.delenv("TENSORCAP_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert index_cache.default_directory() == str(tmp_path / "xdg" / "tensorcap")
