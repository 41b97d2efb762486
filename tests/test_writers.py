"""Writing captures under stress: a writer killed with kill -9 keeps every flushed
capture, threads and processes capture concurrently, and an unwritable logdir or a
full disk is an error at the next capture, never a silent loss (`writers.py`).

Event files are written by real `tf.summary` writers (in subprocesses where a
process is killed or several processes write).
"""

import errno
import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import tensorflow as tf
from support import READER_LOGGER, WsgiTensorBoard, capture_file_of, record_spans, warnings_of

import tb_tensorcap
import tb_tensorcap as tensorcap
from tb_tensorcap import writers

P = "/data/plugin/tensorcap"

pytestmark = pytest.mark.usefixtures("isolated_capture")


def subprocess_env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **extra)
    env.pop("TENSORCAP_LOGDIR", None)
    return env


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

    path = capture_file_of(logdir)
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
    path = capture_file_of(logdir)
    torn = os.path.getsize(path) > (record_spans(path) or [(0, 0)])[-1][1]
    assert len(warnings_of(caplog, "incomplete record")) == (1 if torn else 0), caplog.text
    return steps, torn


@pytest.mark.parametrize("numel", [256, 2048])  # 1 KiB and 8 KiB captures
def test_full_disk_under_a_user_writer_raises_naming_the_logdir(tiny_disk, caplog, numel):
    # Eager captures to a tf.summary writer on a local disk go to TensorCap's own event file beside
    # the writer's (direct_writer), written by a background thread: the failed write is raised by the
    # next capture or flush, as an OSError naming the logdir, and again by every later one until the
    # writer is closed. (TensorFlow's own writer ignores a failed append of a record.)
    logdir = tiny_disk / "run"
    writer = tf.summary.create_file_writer(str(logdir), max_queue=3, flush_millis=10**8)
    written, error = capture_until_error(200, lambda step: np.full(numel, step, np.float32), writer=writer)
    with pytest.raises(OSError) as flushed:
        tensorcap.flush()
    for raised in [e for e in (error, flushed.value) if e is not None]:  # a capture raises unless all were queued
        assert isinstance(raised, OSError) and raised.errno == errno.ENOSPC, repr(raised)
        assert str(logdir) in str(raised) and "may be lost" in str(raised), str(raised)
    with pytest.raises(OSError, match="No space left on device"):
        tensorcap.capture(np.float32(0), "x", step=1000, writer=writer)
    steps, _ = check_prefix_reads_back(logdir, written, caplog)
    assert 0 < len(steps) < len(written)
    with pytest.raises(OSError, match="No space left on device"):  # raised once more by close, then forgotten
        writer.close()


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
