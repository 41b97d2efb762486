"""TensorCap's own event file beside a tf.summary writer's (`direct_writer`): record() eagerly and in tf.function."""

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf
from support import capture_file_of, event_files_of
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.util import tensor_util
from test_writers import mount_tmpfs

import tb_tensorcap as tensorcap
from tb_tensorcap import direct_writer

pytestmark = pytest.mark.usefixtures("isolated_capture")

# Values of every kind, with the bits that a lossy path would change (NaN payloads, -0.0, NUL bytes).
VALUES = {
    "f32": np.array([[1.5, -0.0, np.nan], [np.inf, -np.inf, 3e-39]], np.float32),
    "f16": np.array([65504, -1e-7, np.nan], np.float16),
    "bf16": np.array([1.5, -2.25, np.inf], ml_dtypes.bfloat16),
    "i64": np.array([-(2**63), 2**63 - 1, 0], np.int64),
    "u8": np.arange(7, dtype=np.uint8),
    "flags": np.array([True, False, True]),
    "c64": np.array([1 + 2j, -0.5j], np.complex64),
    "words": np.array([b"caf\xc3\xa9", b"nul\x00", b""], object),
}


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype == object:
        return a.shape == b.shape and a.tolist() == b.tolist()
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _reshaped(values):
    """Reshapes each value to its own shape: one op output per value, captured by record() (Identity is not)."""
    return {name: tf.reshape(value, value.shape) for name, value in values.items()}


def test_record_values_read_back_bit_exact_eagerly_and_in_a_tf_function(tmp_path, writer_at):
    writer = writer_at(tmp_path)
    traced = tf.function(_reshaped)
    constants = {name: tf.constant(value) for name, value in VALUES.items()}
    with tensorcap.record("eager", step=3, writer=writer):
        _reshaped(constants)
    with tensorcap.record("graph", step=5, writer=writer):
        traced(constants)
    writer.flush()

    # Every capture went to TensorCap's own file; the writer's holds no capture.
    own = capture_file_of(tmp_path)
    assert ".tensorcap." in os.path.basename(own) and len(event_files_of(tmp_path)) == 2
    reader = tensorcap.load(str(tmp_path))
    assert {loc[0] for i in reader.captures(".") for loc in i.locations} == {own}
    for prefix, step in (("eager", 3), ("graph", 5)):
        reshaped = sorted(t for t in reader.tags(".") if t.startswith(prefix + "/Reshape"))
        assert len(reshaped) == len(VALUES), reshaped
        got = [reader.value(".", tag, step) for tag in reshaped]
        for name, value in VALUES.items():
            assert sum(same_bits(v, value) for v in got) == 1, (prefix, name)


def test_tensorboard_and_tensorflow_read_the_file_crcs_included(tmp_path, writer_at):
    writer = writer_at(tmp_path)
    x = tf.constant(np.linspace(-1, 1, 4096, dtype=np.float32).reshape(64, 64))
    for step in range(3):
        with tensorcap.record("b", step=step, writer=writer):
            tf.nn.relu(x * float(step))
    writer.flush()
    path = capture_file_of(tmp_path)
    # TensorFlow's TFRecord reader checks both CRCs of every record.
    records = [r.numpy() for r in tf.data.TFRecordDataset(path)]
    events = list(event_file_loader.EventFileLoader(path).Load())  # TensorBoard's own loader
    assert len(records) == len(events) == 4
    assert events[0].file_version == "brain.Event:2"
    for step, event in enumerate(events[1:]):
        assert event.step == step and event.wall_time > 0
        relu = {v.tag: tensor_util.make_ndarray(v.tensor) for v in event.summary.value}["b/Relu"]
        assert same_bits(relu, tf.nn.relu(x * float(step)).numpy())


def test_repeats_in_the_two_files_keep_the_order_they_were_written(tmp_path, writer_at):
    writer = writer_at(tmp_path)

    @tf.function
    def in_graph(v):
        return tensorcap.capture(v, "x", step=0, writer=writer)  # a summary op: the writer's own file

    tensorcap.capture(np.float32(1), "x", step=0, writer=writer)  # TensorCap's file
    time.sleep(0.01)
    in_graph(tf.constant(2.0))
    time.sleep(0.01)
    tensorcap.capture(np.float32(3), "x", step=0, writer=writer)
    writer.flush()
    captures = tensorcap.load(str(tmp_path)).captures(".")
    files = {os.path.basename(location[0]) for info in captures for location in info.locations}
    assert len(files) == 2 and sum(".tensorcap." in f for f in files) == 1  # both files hold a capture of x
    reader = tensorcap.load(str(tmp_path))  # a fresh scan reads the files one after the other
    assert [reader.value(".", "x", 0, repeat=k).item() for k in range(3)] == [1.0, 2.0, 3.0]
    assert reader.value(".", "x", 0).item() == 3.0  # the last written, as TensorBoard shows


def test_record_if_is_obeyed_eagerly_and_by_a_traced_condition(tmp_path, writer_at):
    writer = writer_at(tmp_path)
    x = tf.constant([1.0, -2.0])
    with tf.summary.record_if(False), tensorcap.record("off", step=0, writer=writer):
        tf.abs(x)
    even = tf.Variable(0, dtype=tf.int64)
    square = tf.function(lambda v: tf.square(v))
    with tf.summary.record_if(lambda: tf.equal(even % 2, 0)):
        for step in range(4):
            even.assign(step)
            with tensorcap.record("traced", step=step, writer=writer):
                square(x)
    writer.flush()
    reader = tensorcap.load(str(tmp_path))
    assert not any(t.startswith("off/") for t in reader.tags("."))
    assert reader.steps(".", "traced/Square") == [0, 2]
    np.testing.assert_array_equal(reader.value(".", "traced/Square", 2), [1.0, 4.0])


def test_a_failed_write_raises_naming_the_logdir_and_keeps_what_reached_the_disk(tmp_path):
    disk = mount_tmpfs(tmp_path / "tiny", "256k")
    try:
        logdir = disk / "run"
        writer = tf.summary.create_file_writer(str(logdir))
        error, done = None, []
        for step in range(40):  # 40 x 16 KiB on a 256 KiB disk
            try:
                with tensorcap.record("b", step=step, writer=writer):
                    tf.fill([4096], float(step))
            except OSError as e:
                error = e
                break
            done.append(step)
        with pytest.raises(OSError) as flushed:
            tensorcap.flush()
        for raised in [e for e in (error, flushed.value) if e is not None]:
            assert raised.errno == errno.ENOSPC and str(logdir) in str(raised), str(raised)
            assert "may be lost" in str(raised)
        reader = tensorcap.load(str(logdir))
        steps = reader.steps(".", "b/Fill")
        assert 0 < len(steps) < len(done) + 1 and steps == list(range(len(steps)))
        for step in steps:
            np.testing.assert_array_equal(reader.value(".", "b/Fill", step), np.full(4096, step, np.float32))
        with pytest.raises(OSError):
            writer.close()  # raised a last time, then the writer is closed
    finally:
        subprocess.run(["umount", "-l", str(tmp_path / "tiny")], check=False)


def test_the_queue_is_bounded_in_bytes(tmp_path, writer_at, monkeypatch):
    monkeypatch.setattr(direct_writer, "QUEUE_BYTES", 1 << 20)
    write_all, most = direct_writer._write_all, []

    def slow_write(fd, buffers):
        most.append(direct_writer._queue._queued_bytes)
        time.sleep(0.02)
        write_all(fd, buffers)

    monkeypatch.setattr(direct_writer, "_write_all", slow_write)
    writer = writer_at(tmp_path)
    for step in range(12):  # 400 KB a block
        with tensorcap.record("b", step=step, writer=writer):
            tf.zeros([100_000])
    writer.flush()
    assert max(most) <= (1 << 20) + 400_100, max(most)
    assert tensorcap.load(str(tmp_path)).steps(".", "b/Fill") == list(range(12))


KILL_SCRIPT = textwrap.dedent("""
    import sys
    import tensorflow as tf
    import tb_tensorcap as tensorcap

    writer = tf.summary.create_file_writer(sys.argv[1])
    w = tf.Variable(tf.ones([256, 256]))
    step_fn = tf.function(lambda i: tf.matmul(w, w) * i)
    step = 0
    while True:
        with tensorcap.record("b", step=step, writer=writer):
            tf.fill([128, 128], float(step))
            step_fn(float(step))
        if step % 3 == 2:
            tensorcap.flush()
            print(step, flush=True)
        step += 1
""")


def test_a_writer_that_flushes_every_write_is_known_however_its_limits_were_given(tmp_path):
    # TensorFlow keeps a Python number given for flush_millis or max_queue as it is (only None becomes a
    # tensor): TensorCap's default writer passes flush_millis=int(...), which was taken for "not 0", so its
    # captures were queued and a full disk lost them after they had returned.
    from tb_tensorcap import tf_internals

    def flushes_each_write(**limits):
        return tf_internals.summary_writer_flushes_each_write(tf.summary.create_file_writer(str(tmp_path), **limits))

    assert flushes_each_write(flush_millis=0) and flushes_each_write(max_queue=0)
    assert flushes_each_write(flush_millis=tf.constant(0))
    assert not flushes_each_write(flush_millis=10) and not flushes_each_write()


def test_a_traced_functions_values_are_on_disk_when_its_call_returns_for_a_writer_flushing_each_write(
    tmp_path, monkeypatch
):
    slow_write = direct_writer.DirectWriter._write_batch

    def slowly(self, batch):  # a slow disk: queued values are not in the file until well after
        time.sleep(0.3)
        slow_write(self, batch)

    monkeypatch.setattr(direct_writer.DirectWriter, "_write_batch", slowly)
    writer = tf.summary.create_file_writer(str(tmp_path / "run"), flush_millis=0)

    @tf.function
    def double(x):
        return x * 2.0

    for step in range(2):
        x = tf.constant([1.0, 2.0]) + step
        with tensorcap.record("b", ops="Mul", step=step, writer=writer):  # only the traced Mul: no eager write
            double(x)
        reader = tensorcap.load(str(tmp_path))  # no flush: read what is on disk now
        np.testing.assert_array_equal(reader.value("run", "b/Mul", step), [2.0 + 2 * step, 4.0 + 2 * step])


EARLY_WRITER_SCRIPT = textwrap.dedent("""
    import json, sys, warnings
    import tensorflow as tf
    early = tf.summary.create_file_writer(sys.argv[1] + "/early")  # before TensorCap follows writers
    import tb_tensorcap as tensorcap
    late = tf.summary.create_file_writer(sys.argv[1] + "/late")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step, writer in enumerate((late, early, early)):
            with tensorcap.record("b", step=step, writer=writer):
                tf.constant([1.0, 2.0]) * float(step)
        tensorcap.flush()
        early.flush()
    print(json.dumps([str(w.message) for w in caught if "tensorcap" in str(w.message)]))
""")


def test_a_writer_made_before_import_is_said_once_and_still_written(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", EARLY_WRITER_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    said = json.loads(done.stdout.splitlines()[-1])
    assert len(said) == 1 and "created before tb_tensorcap was imported" in said[0], said
    reader = tensorcap.load(str(tmp_path))
    np.testing.assert_array_equal(reader.value("late", "b/Mul", 0), [0.0, 0.0])
    for step in (1, 2):  # through tf.summary, nothing lost
        np.testing.assert_array_equal(reader.value("early", "b/Mul", step), [step, 2.0 * step])
    assert [n for n in os.listdir(tmp_path / "early") if "tensorcap" in n] == []
    assert [n for n in os.listdir(tmp_path / "late") if "tensorcap" in n]


def test_kill9_after_flush_keeps_every_flushed_block(tmp_path):
    logdir = tmp_path / "killed"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(logdir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    printed = []
    try:
        while not printed or printed[-1] < 20:
            line = proc.stdout.readline()
            assert line, "the capturing process died: %s" % proc.poll()
            printed.append(int(line))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    printed += [int(line) for line in proc.stdout.read().split()]
    reader = tensorcap.load(str(logdir))
    w = np.ones([256, 256], np.float32)
    for tag in ("b/Fill", "b/MatMul"):
        steps = reader.steps(".", tag)
        assert steps == list(range(len(steps))) and len(steps) >= printed[-1] + 1, (tag, steps, printed[-1])
    for step in range(printed[-1] + 1):
        np.testing.assert_array_equal(reader.value(".", "b/Fill", step), np.full([128, 128], step, np.float32))
        np.testing.assert_array_equal(reader.value(".", "b/Mul", step), (w @ w) * step)


def test_tensorboard_follows_the_users_scalars_and_the_captures_as_they_are_written(tmp_path, tensorboard_server):
    # TensorBoard's Python loader follows only the last event file of a run (by name): TensorCap's own
    # sorts first, so the writer's, holding the user's scalars, is the one followed.
    x = tf.constant(np.arange(6, dtype=np.float32))

    def write_steps(writer, steps):
        with writer.as_default():
            for step in steps:
                tf.summary.scalar("loss", 1.0 / (step + 1), step=step)
                with tensorcap.record("b", step=step):
                    tf.square(x + step)
        writer.flush()

    def scalar_steps(server, count):
        for _ in range(120):
            status, scalars = server.get_json("/data/plugin/scalars/scalars?run=run&tag=loss")
            if status == 200 and len(scalars) >= count:
                break
            time.sleep(0.25)
        return [row[1] for row in scalars] if status == 200 else scalars

    for load_fast in (True, False):
        logdir = tmp_path / ("rust" if load_fast else "python")
        writer = tf.summary.create_file_writer(str(logdir / "run"))
        write_steps(writer, range(3))
        server = tensorboard_server(logdir, load_fast=load_fast, extra_args=["--reload_interval=1"])
        assert scalar_steps(server, 3) == [0, 1, 2]
        write_steps(writer, range(3, 6))
        assert scalar_steps(server, 6) == list(range(6)), load_fast
        for _ in range(120):
            status, _, body = server.get("/data/plugin/tensorcap/value?run=run&tag=b/Square&step=5&format=binary")
            if status == 200:
                break
            time.sleep(0.25)
        assert status == 200 and np.frombuffer(body, "<f4").tolist() == ((np.arange(6) + 5.0) ** 2).tolist()
        status, listing = server.get_json("/data/plugins_listing")
        assert listing["tensorcap"]["enabled"] is True, json.dumps(listing)[:500]
        writer.close()
        server.stop()
