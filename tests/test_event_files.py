"""Damaged event files: a truncated last record, flipped bytes and foreign files
skip only the damage, are reported once, and never serve a wrong value
(`event_files.py`, `reader.py`). Damage is done to real files' bytes.
"""

import logging
import os
import random
import shutil
import time

import numpy as np
import pytest
import tensorflow as tf
from support import READER_LOGGER, WsgiTensorBoard, event_files_of, flip_byte, record_spans, warnings_of

import tb_tensorcap
import tb_tensorcap as tensorcap
from tb_tensorcap import event_files

P = "/data/plugin/tensorcap"

pytestmark = pytest.mark.usefixtures("isolated_capture")


def write_run(run_dir, tags_and_steps, files=1):
    """Writes `files` event files in `run_dir`; each holds every (tag, step) of its share.

    Through `tensorcap.Writer`s (a file each): through tf.summary writers, one
    process's captures in one run all go to one TensorCap file (`direct_writer`).
    """
    written = {}
    for f in range(files):
        writer = tensorcap.Writer(str(run_dir))
        for tag, step in tags_and_steps[f::files]:
            value = np.arange(64, dtype=np.float32) * (step + 1) + hash(tag) % 97
            tensorcap.capture(value, tag, step=step, writer=writer)
            written[(tag, step)] = value
        writer.close()
        time.sleep(0.01)
    return written


def test_truncated_trailing_record_is_skipped_with_one_warning_and_served(tmp_path, caplog):
    run = tmp_path / "run"
    written = write_run(run, [("x", s) for s in range(6)])
    (path,) = event_files_of(run)
    start, end = record_spans(path)[-1]
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: (start + end) // 2])  # the last capture, cut in the middle of its data

    with caplog.at_level(logging.WARNING, logger=READER_LOGGER):
        reader = tb_tensorcap.load(str(tmp_path))
        for _ in range(3):
            assert reader.refresh() == 0
    assert reader.steps("run", "x") == [0, 1, 2, 3, 4]
    for step in range(5):
        np.testing.assert_array_equal(reader.value("run", "x", step), written[("x", step)])
    tail = warnings_of(caplog, "incomplete record", str(start))
    assert len(tail) == 1 and path in tail[0], caplog.text

    app = WsgiTensorBoard(tmp_path)
    assert app.wait_complete()["runs"]["run"]["x"]["steps"] == [0, 1, 2, 3, 4]
    assert app.get_json(P + "/value?run=run&tag=x&step=4")["data"] == written[("x", 4)].tolist()

    # Completed later (the writer was only slow): read, without another warning.
    with open(path, "ab") as f:
        f.write(data[(start + end) // 2 :])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=READER_LOGGER):
        assert reader.refresh() == 1
        assert reader.refresh() == 0
    np.testing.assert_array_equal(reader.value("run", "x", 5), written[("x", 5)])
    assert warnings_of(caplog) == []


# -- damaged event files ------------------------------------------------------------------


def test_damaged_event_files_skip_only_the_damage_and_report_it_once(tmp_path, caplog):
    run = tmp_path / "damaged"
    written = write_run(run, [(t, s) for s in range(4) for t in ("a", "b", "c")], files=2)
    healthy = write_run(tmp_path / "healthy", [("a", s) for s in range(4)])
    flipped, cut = event_files_of(run)
    reader = tb_tensorcap.load(str(tmp_path))
    locate = {(i.tag, i.step): i.locations[0] for i in reader.captures("damaged")}

    # `flipped`: one byte in the middle of a record's data -> that record fails its CRC.
    victim = next(k for k, (p, _) in sorted(locate.items()) if p == flipped and k[1] == 1)
    offset = locate[victim][1]
    end = dict(record_spans(flipped))[offset]
    flip_byte(flipped, (offset + 12 + end - 4) // 2)
    # `cut`: a record's length bytes -> nothing after it in that file can be located.
    cut_victim = next(k for k, (p, _) in sorted(locate.items(), key=lambda kv: kv[1][1]) if p == cut and k[1] == 2)
    flip_byte(cut, locate[cut_victim][1] + 2)
    cut_offset = locate[cut_victim][1]
    lost_in_cut = {k for k, (p, o) in locate.items() if p == cut and o >= cut_offset}
    # An empty event file and random bytes named like one.
    open(run / "events.out.tfevents.0.empty.v2", "wb").close()
    with open(run / "events.out.tfevents.1.garbage.v2", "wb") as f:
        f.write(np.random.default_rng(0).bytes(5000))

    with caplog.at_level(logging.WARNING, logger=READER_LOGGER):
        reader = tb_tensorcap.load(str(tmp_path))
        for _ in range(3):
            assert reader.refresh() == 0
    served = {(i.tag, i.step) for i in reader.captures("damaged")}
    assert served == set(written) - {victim} - lost_in_cut
    assert victim not in lost_in_cut and len(lost_in_cut) >= 1
    for tag, step in served:
        np.testing.assert_array_equal(reader.value("damaged", tag, step), written[(tag, step)])
    for (tag, step), value in healthy.items():
        np.testing.assert_array_equal(reader.value("healthy", tag, step), value)
    # One warning per bad record / file, however many refreshes.
    assert len(warnings_of(caplog, flipped, "CRC")) == 1, caplog.text
    assert len(warnings_of(caplog, cut, "corrupt record length")) == 1, caplog.text
    assert len(warnings_of(caplog, "garbage")) == 1, caplog.text
    assert warnings_of(caplog, "empty") == []

    app = WsgiTensorBoard(tmp_path)
    index = app.wait_complete()
    assert sorted(index["runs"]) == ["damaged", "healthy"]
    steps = index["runs"]["damaged"]
    assert {(t, s) for t in steps for s in steps[t]["steps"]} == served
    for tag, step in sorted(served)[:6]:
        reply = app.get_json(P + "/value?run=damaged&tag=%s&step=%d" % (tag, step))
        assert reply["data"] == written[(tag, step)].tolist()
    missing = app.get(P + "/value?run=damaged&tag=%s&step=%d" % victim)
    assert missing.status_code == 404 and "error" in missing.get_json()


def test_random_byte_flips_never_serve_a_wrong_value(tmp_path, caplog):
    source = tmp_path / "source"
    written = write_run(source, [(t, s) for s in range(5) for t in ("p", "q")])
    (path,) = event_files_of(source)
    size = os.path.getsize(path)
    rng = random.Random(6)
    for trial in range(25):
        run = tmp_path / ("t%d" % trial)
        shutil.copytree(source, run)
        (copy,) = event_files_of(run)
        positions = sorted(rng.sample(range(size), rng.choice([1, 1, 2, 5])))
        for position in positions:
            flip_byte(copy, position)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=READER_LOGGER):
            reader = tb_tensorcap.Reader(str(run))
            reader.refresh()
            first = len(warnings_of(caplog))
            reader.refresh()
            reader.refresh()
        assert first >= 1, (trial, positions)  # damage never goes unreported
        assert len(warnings_of(caplog)) == first, (trial, caplog.text)  # and is reported once
        for info in reader.captures(".") if reader.runs() else []:
            np.testing.assert_array_equal(reader.value(".", info.tag, info.step), written[(info.tag, info.step)])


def test_run_of_only_damaged_or_foreign_files_is_reported_once_and_not_rescanned(tmp_path, caplog, monkeypatch):
    os.makedirs(tmp_path / "garbage")
    with open(tmp_path / "garbage" / "events.out.tfevents.1.x", "wb") as f:
        f.write(b"\x07" * 100)
    os.makedirs(tmp_path / "dir_named_like_an_event_file" / "events.out.tfevents.2.x")
    with open(tmp_path / "dir_named_like_an_event_file" / "events.out.tfevents.3.x", "wb") as f:
        f.write(b"\x01" * 3)  # torn: shorter than a record header
    scalars = tf.summary.create_file_writer(str(tmp_path / "scalars_only"))
    with scalars.as_default():
        for step in range(50):
            tf.summary.scalar("loss", 1.0 / (step + 1), step=step)
    scalars.close()

    scans = []
    real_scan = event_files.scan_records
    monkeypatch.setattr(event_files, "scan_records", lambda p, o: scans.append((p, o)) or real_scan(p, o))
    with caplog.at_level(logging.WARNING, logger=READER_LOGGER):
        reader = tb_tensorcap.load(str(tmp_path))
        for _ in range(3):
            reader.refresh()
    assert reader.runs() == []
    assert len(warnings_of(caplog, "garbage")) == 1, caplog.text
    assert len(warnings_of(caplog, "events.out.tfevents.2.x")) <= 1, caplog.text
    assert len(warnings_of(caplog, "events.out.tfevents.3.x")) == 1, caplog.text
    # A run without captures (TensorBoard scalars only) is read once, then only what is appended.
    (scalar_file,) = event_files_of(tmp_path / "scalars_only")
    offsets = [o for p, o in scans if p == scalar_file]
    assert offsets[0] == 0 and all(o == os.path.getsize(scalar_file) for o in offsets[1:]), offsets
