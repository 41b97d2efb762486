"""Hardening: killed writers, damaged event files, concurrent writers, a live
TensorBoard following a growing run, unwritable logdirs and full disks,
hostile names, and a short load test.

Event files are written by real `tf.summary` writers (in subprocesses where a
process is killed or several processes write); damage is done to the real
files' bytes; serving goes through TensorBoard's real WSGI app or a real
`tensorboard` process.
"""

import errno
import http.client
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.parse

import load_bench  # benchmarks/load_bench.py, on pytest's pythonpath
import numpy as np
import pytest
import tensorflow as tf
from servers import TensorBoardProcess
from support import WsgiTensorBoard, flip_byte

import tb_tensorcap
import tb_tensorcap as tensorcap
from tb_tensorcap import event_files, writers

P = "/data/plugin/tensorcap"
READER_LOGGER = "tb_tensorcap"


pytestmark = pytest.mark.usefixtures("isolated_capture")


def subprocess_env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **extra)
    env.pop("TENSORCAP_LOGDIR", None)
    return env


def event_files_of(run_dir):
    return sorted(os.path.join(run_dir, n) for n in os.listdir(run_dir) if "tfevents" in n)


def record_spans(path):
    """[(start, end)] of each complete record, from the TFRecord framing alone."""
    with open(path, "rb") as f:
        data = f.read()
    spans, pos = [], 0
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 8], "little")
        if pos + 12 + length + 4 > len(data):
            break
        spans.append((pos, pos + 12 + length + 4))
        pos += 12 + length + 4
    return spans


def warnings_of(caplog, *words):
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith(READER_LOGGER) and all(w in r.getMessage() for w in words)
    ]


# -- the flush policy and kill -9 --------------------------------------------------------


KILL_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    import tb_tensorcap as tensorcap

    logdir, every = sys.argv[1], int(sys.argv[2])
    writer = tf.summary.create_file_writer(logdir, flush_millis=100)
    step = 0
    while True:
        tensorcap.capture(np.arange(16, dtype=np.int64) * 1000 + step, "small", step=step, writer=writer)
        tensorcap.capture(np.full((128, 512), step, np.float32), "big", step=step, writer=writer)  # 256 KB
        tensorcap.capture(np.float64(step) / 7, "counted", writer=writer)  # the per-name counter
        if step % every == every - 1:
            tensorcap.flush()
            print(step, flush=True)
        step += 1
""")


def expected_capture(tag, step):
    if tag == "small":
        return np.arange(16, dtype=np.int64) * 1000 + step
    if tag == "big":
        return np.full((128, 512), step, np.float32)
    return np.float64(step) / 7


def test_kill9_keeps_every_flushed_capture(tmp_path, caplog):
    logdir = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(logdir), "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=subprocess_env(),
        text=True,
    )
    printed = []
    try:
        deadline = time.monotonic() + 120
        while not printed or printed[-1] < 30:
            line = proc.stdout.readline()
            assert line, "the capturing process died: %s" % proc.poll()
            printed.append(int(line))
            assert time.monotonic() < deadline
        time.sleep(random.uniform(0, 0.05))  # somewhere in the middle of the next steps
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    printed += [int(line) for line in proc.stdout.read().split()]  # printed (and flushed) before the kill
    last_flushed = printed[-1]

    (path,) = event_files_of(logdir)
    spans = record_spans(path)
    torn = os.path.getsize(path) > spans[-1][1]
    with caplog.at_level(logging.WARNING, logger=READER_LOGGER):
        reader = tb_tensorcap.load(str(logdir))
        reader.refresh()
        reader.refresh()
    # Capture order is exactly the order of the loop, cut at some point after the last flush.
    order = [(i.tag, i.step) for i in reader.captures(".")]
    expected_order = [(tag, step) for step in range(len(order)) for tag in ("small", "big", "counted")]
    assert order == expected_order[: len(order)]
    assert len(order) >= 3 * (last_flushed + 1), (len(order), last_flushed)
    for tag, step in order:  # everything served is exact, flushed or not
        np.testing.assert_array_equal(reader.value(".", tag, step), expected_capture(tag, step))
    # A torn last record (killed mid-write) is skipped with one warning, whatever the refreshes.
    assert len(warnings_of(caplog, "incomplete record")) == (1 if torn else 0), caplog.text

    app = WsgiTensorBoard(logdir)
    index = app.wait_complete()
    assert index["runs"]["."]["big"]["steps"][: last_flushed + 1] == list(range(last_flushed + 1))
    reply = app.get(P + "/value?run=.&tag=big&step=%d&format=binary&slice=0" % last_flushed)
    assert reply.status_code == 200
    assert np.array_equal(np.frombuffer(reply.get_data(), np.float32), np.full(512, last_flushed, np.float32))


def write_run(run_dir, tags_and_steps, files=1):
    """Writes `files` event files in `run_dir`; each holds every (tag, step) of its share."""
    written = {}
    for f in range(files):
        writer = tf.summary.create_file_writer(str(run_dir), filename_suffix=".f%d" % f)
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


# -- concurrent writers ------------------------------------------------------------------


def test_threads_capturing_into_one_writer(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path), max_queue=7)
    threads_n, per_thread = 4, 60
    barrier, errors = threading.Barrier(threads_n), []

    def work(t):
        try:
            barrier.wait()
            for i in range(per_thread):
                tensorcap.capture(np.array([t, i], np.int64), "shared_explicit", step=t * 1000 + i, writer=writer)
                tensorcap.capture(np.full(100, t * 1000 + i, np.float32), "own%d" % t, step=i, writer=writer)
                tensorcap.capture(np.array([t, i], np.int64), "shared_counted", writer=writer)
                tensorcap.capture(np.array([t, i], np.int64), "counted%d" % t, writer=writer)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    writer.close()
    assert not errors, errors

    reader = tb_tensorcap.load(str(tmp_path))
    total = threads_n * per_thread
    assert len(reader.captures(".")) == 4 * total
    assert reader.steps(".", "shared_explicit") == sorted(
        t * 1000 + i for t in range(threads_n) for i in range(per_thread)
    )
    for t in range(threads_n):
        assert reader.steps(".", "own%d" % t) == list(range(per_thread))
        assert reader.steps(".", "counted%d" % t) == list(range(per_thread))
        for i in range(per_thread):
            assert reader.value(".", "shared_explicit", t * 1000 + i).tolist() == [t, i]
            np.testing.assert_array_equal(reader.value(".", "own%d" % t, i), np.full(100, t * 1000 + i, np.float32))
            assert reader.value(".", "counted%d" % t, i).tolist() == [t, i]
    # The shared per-name counter: steps 0..N-1 exactly once, each thread's captures in its own order.
    assert reader.steps(".", "shared_counted") == list(range(total))
    by_thread = {}
    for step in range(total):
        t, i = reader.value(".", "shared_counted", step).tolist()
        by_thread.setdefault(t, []).append(i)
    assert by_thread == {t: list(range(per_thread)) for t in range(threads_n)}


PROCESS_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    import tb_tensorcap as tensorcap

    logdir, k, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    writer = tf.summary.create_file_writer(logdir)
    for i in range(n):
        tensorcap.capture(np.full((32, 32), k * 10000 + i, np.int32), "x", step=i, writer=writer)
        tensorcap.capture(np.array([k, i], np.int64), "counted", writer=writer)
    writer.close()
""")


def test_processes_capturing_into_separate_runs(tmp_path):
    n, processes = 80, 3
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS_SCRIPT, str(tmp_path / ("proc%d" % k)), str(k), str(n)],
            env=subprocess_env(),
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(processes)
    ]
    for proc in procs:
        _, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 0, stderr
    reader = tb_tensorcap.load(str(tmp_path))
    assert reader.runs() == ["proc%d" % k for k in range(processes)]
    for k in range(processes):
        run = "proc%d" % k
        assert [(i.tag, i.step) for i in reader.captures(run)] == [
            (tag, i) for i in range(n) for tag in ("x", "counted")
        ]
        for i in range(n):
            np.testing.assert_array_equal(reader.value(run, "x", i), np.full((32, 32), k * 10000 + i, np.int32))
            assert reader.value(run, "counted", i).tolist() == [k, i]


# -- unwritable logdirs and full disks ---------------------------------------------------


@pytest.fixture
def fresh_default_writer(monkeypatch):
    """TensorCap's real lazy default writer, fresh for this test; closed after it."""
    default = writers.DefaultWriter()
    monkeypatch.setattr(writers, "default_writer", default)
    yield default
    if default._writer is not None:
        import atexit

        atexit.unregister(default._writer.flush)
        try:
            default._writer.close()
        except tf.errors.OpError:
            pass


def test_unwritable_default_logdir_fails_at_the_first_capture(tmp_path, monkeypatch, fresh_default_writer):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    logdir = str(blocker / "sub")  # unwritable even for root, unlike chmod 555
    monkeypatch.setenv("TENSORCAP_LOGDIR", logdir)
    for attempt in range(2):  # every capture fails, none is silently dropped
        with pytest.raises(OSError) as raised:
            tensorcap.capture(np.float32(attempt), "x")
        message = str(raised.value)
        assert logdir in message and "TENSORCAP_LOGDIR" in message and "not a directory" in message, message
    assert blocker.read_text() == "not a directory"


def test_unwritable_explicit_writer_fails_before_any_capture(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    # TensorFlow creates the directory and the event file, and writes and flushes
    # its first event, when the writer is created: the user's own line fails.
    with pytest.raises(tf.errors.OpError, match="not a directory"):
        tf.summary.create_file_writer(str(blocker / "sub"))


def mount_tmpfs(path, size):
    """Mounts a tmpfs of `size` at `path` (needs root and CAP_SYS_ADMIN), or skips the test."""
    path.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", str(path)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.skip(
            "cannot mount a %s tmpfs to simulate a full disk: %s" % (size, proc.stderr.strip() or proc.returncode)
        )
    return path


@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 KiB tmpfs; unmounted after the test."""
    yield mount_tmpfs(tmp_path / "tiny", "64k")
    subprocess.run(["umount", "-l", str(tmp_path / "tiny")], check=False)


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs; unmounted after the test."""
    yield mount_tmpfs(tmp_path / "small", "4m")
    subprocess.run(["umount", "-l", str(tmp_path / "small")], check=False)


def capture_until_error(n, make_value, **kwargs):
    """Captures "x" at steps 0..n-1; returns ({step: value} of those that returned, the error or None)."""
    written = {}
    for step in range(n):
        value = make_value(step)
        try:
            tensorcap.capture(value, "x", step=step, **kwargs)
        except (tf.errors.OpError, OSError) as e:
            return written, e
        written[step] = value
    return written, None


def check_prefix_reads_back(logdir, written, caplog):
    """What reached the disk is a prefix of the captures, read back exactly, a torn tail reported once."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=READER_LOGGER):
        reader = tb_tensorcap.load(str(logdir))
        reader.refresh()
    steps = reader.steps(".", "x") if reader.runs() else []
    assert steps == list(range(len(steps))), steps
    for step in steps:
        np.testing.assert_array_equal(reader.value(".", "x", step), written[step])
    (path,) = event_files_of(logdir)
    torn = os.path.getsize(path) > (record_spans(path) or [(0, 0)])[-1][1]
    assert len(warnings_of(caplog, "incomplete record")) == (1 if torn else 0), caplog.text
    return steps, torn


@pytest.mark.parametrize("numel", [256, 2048])  # 1 KiB and 8 KiB captures
def test_full_disk_under_a_user_writer_is_never_invisible(tiny_disk, caplog, numel):
    # TensorFlow's own limitation: on a full disk its writer ignores the failed
    # append of a record and reports only a failed flush of its stdio buffer,
    # so whether an error reaches Python depends on where the disk filled up
    # (see the two sizes). TensorCap does not know where a user's writer writes
    # and cannot check that disk (it does for its own writer, below). What it
    # guarantees: the captures that reached the disk read back exactly, and a
    # loss shows either as TensorFlow's error or as a torn record reported once.
    logdir = tiny_disk / "run"
    writer = tf.summary.create_file_writer(str(logdir), max_queue=3, flush_millis=10**8)
    written, error = capture_until_error(200, lambda step: np.full(numel, step, np.float32), writer=writer)
    try:
        tensorcap.flush()
    except tf.errors.OpError as e:
        error = error or e
    if error is not None:
        assert isinstance(error, tf.errors.ResourceExhaustedError), repr(error)
        assert "No space left on device" in error.message and str(logdir) in error.message, error.message
    steps, torn = check_prefix_reads_back(logdir, written, caplog)
    assert 0 < len(steps) < len(written) or error is not None
    assert error is not None or torn, "captures were lost with neither an error nor a torn record to report"


def test_full_disk_for_the_default_writer_raises_at_the_next_capture(
    small_disk, monkeypatch, caplog, fresh_default_writer
):
    logdir = small_disk / "run"
    monkeypatch.setenv("TENSORCAP_LOGDIR", str(logdir))
    monkeypatch.setenv("TENSORCAP_FLUSH_SECS", "0")  # every capture reaches the disk at once
    written, error = capture_until_error(40, lambda step: np.full(65536, step, np.float32))  # 40 x 256 KiB
    assert error is not None, "40 captures of 256 KiB on a 4 MiB disk raised nothing: silent loss"
    assert isinstance(error, OSError) and error.errno == errno.ENOSPC, repr(error)
    assert str(logdir) in str(error) and "No space left on device" in str(error), str(error)
    assert 4 <= len(written) < 16
    with pytest.raises(OSError):  # and so does every later capture
        tensorcap.capture(np.float32(0), "x", step=100)
    steps, _ = check_prefix_reads_back(logdir, written, caplog)
    assert len(steps) == len(written)  # nothing accepted was lost


def test_full_disk_for_the_default_writer_fails_at_the_first_capture(tiny_disk, monkeypatch, fresh_default_writer):
    with open(tiny_disk / "filler", "wb") as f:  # leave no room at all
        try:
            f.write(b"\0" * (64 << 10))
        except OSError:
            pass
    logdir = str(tiny_disk / "run")
    monkeypatch.setenv("TENSORCAP_LOGDIR", logdir)
    with pytest.raises(OSError) as raised:
        tensorcap.capture(np.float32(1), "x")
    assert logdir in str(raised.value) and "No space left on device" in str(raised.value), str(raised.value)


# -- hostile names ------------------------------------------------------------------------

NAMES = [
    "ünïcødé/名前",
    "q\"uote's",
    "<script>alert(1)</script>",
    "x" * 2000,
    "a/" * 300 + "deep",
    "emoji 🎉/ﬁ",
    "back\\slash",
    "amp&lt;&#39;",
    "  spaced  ",
    "%2e%2e/%00",
    "tab\tand\nnewline",
    "{\"json\": [1]}",
    "\u202eright-to-left",
]
RUN_NAME = "rün <b>&\"quoted\"'"


def test_hostile_names_are_stored_and_served_exactly(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path / RUN_NAME))
    for k, name in enumerate(NAMES):
        tensorcap.capture(np.arange(k + 1, dtype=np.int32), name, step=k, writer=writer, description=name)
    writer.close()

    reader = tb_tensorcap.load(str(tmp_path))
    assert reader.runs() == [RUN_NAME]
    assert reader.tags(RUN_NAME) == sorted(NAMES)
    for k, name in enumerate(NAMES):
        assert reader.info(RUN_NAME, name, k).description == name
        assert reader.value(RUN_NAME, name, k).tolist() == list(range(k + 1))

    app = WsgiTensorBoard(tmp_path)
    index = app.wait_complete()
    assert list(index["runs"]) == [RUN_NAME]
    tags = index["runs"][RUN_NAME]
    assert sorted(tags) == sorted(NAMES)
    for k, name in enumerate(NAMES):
        assert tags[name]["steps"] == [k] and tags[name]["description"] == name
        query = urllib.parse.urlencode({"run": RUN_NAME, "tag": name, "step": k})
        value = app.get_json(P + "/value?" + query)
        assert (value["run"], value["tag"], value["data"]) == (RUN_NAME, name, list(range(k + 1)))
    # The raw JSON escapes nothing away: the names decode back exactly.
    raw = app.get(P + "/index").get_data(as_text=True)
    assert json.loads(raw)["runs"][RUN_NAME].keys() == tags.keys()


# -- a live TensorBoard: appending, raw HTTP, load -----------------------------------------


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("live")
    load_bench.make_logdir(str(logdir))
    server = TensorBoardProcess(logdir, extra_args=("--reload_interval", "1"))
    try:
        load_bench.wait_ready(server)
        yield server, logdir
    finally:
        server.stop()


def live_value(step):
    return np.arange(300_000, dtype=np.float32) + step  # 1.2 MB: often caught mid-write


def test_writer_appending_while_tensorboard_serves(live_server):
    server, logdir = live_server
    writer = tf.summary.create_file_writer(str(logdir / "growing"))
    statuses, failures, done = [], [], threading.Event()

    def poll():
        while not done.is_set():
            try:
                status, index = server.get_json(P + "/index")
                statuses.append(status)
                steps = index.get("runs", {}).get("growing", {}).get("big", {}).get("steps", [])
                for step in steps[-2:]:
                    status, _, body = server.get(
                        P + "/value?run=growing&tag=big&step=%d&format=binary&slice=299990:" % step
                    )
                    statuses.append(status)
                    if status == 200 and body != live_value(step)[299990:].tobytes():
                        failures.append(("wrong value", step))
            except Exception as e:  # noqa: BLE001
                failures.append(repr(e))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        for batch in range(3):
            for step in range(batch * 3, batch * 3 + 3):
                tensorcap.capture(live_value(step), "big", step=step, writer=writer)
                tensorcap.capture(np.int64(step), "small", step=step, writer=writer)
            writer.flush()
            deadline = time.monotonic() + 30
            while True:
                status, index = server.get_json(P + "/index")
                assert status == 200
                steps = index["runs"].get("growing", {}).get("small", {}).get("steps")
                if steps == list(range(batch * 3 + 3)):
                    break
                assert time.monotonic() < deadline, ("new steps never appeared", steps)
                time.sleep(0.1)
    finally:
        done.set()
        poller.join(60)
        writer.close()
    assert not failures, failures[:5]
    assert len(statuses) >= 10 and all(s < 500 for s in statuses), sorted(set(statuses))
    for step in range(9):
        status, headers, body = server.get(P + "/value?run=growing&tag=big&step=%d&format=binary" % step)
        assert status == 200 and body == live_value(step).tobytes(), step


@pytest.mark.parametrize(
    "path",
    [
        "/static/../../setup.py",
        "/static/%2e%2e/%2e%2e/setup.py",
        "/static/..%2f..%2fsetup.py",
        "/static/%252e%252e/setup.py",
        "/static//etc/passwd",
        "/static/..\\..\\setup.py",
        "/static/%00",
        "/static/views/../../../setup.py",
        "/static/./../../README.md",
    ],
)
def test_static_traversal_over_real_http(live_server, path):
    server, _ = live_server
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.putrequest("GET", P + path, skip_accept_encoding=True)  # the path as is, not normalised
        connection.endheaders()
        reply = connection.getresponse()
        body = reply.read()
    finally:
        connection.close()
    assert reply.status in (400, 404), (path, reply.status)
    assert b"setup(" not in body and b"root:" not in body and b"# TensorCap" not in body


def test_short_load_has_no_errors(live_server):
    server, _ = live_server
    result = load_bench.run_load(server.base, clients=4, seconds=3, seed=5)
    summary_ = result.summary()
    assert result.requests >= 20, summary_
    assert result.errors == 0 and result.server_errors == 0, summary_
