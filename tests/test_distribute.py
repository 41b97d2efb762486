"""tf.distribute: per-replica tags under MirroredStrategy, one run per worker
under MultiWorkerMirroredStrategy. TensorFlow runs in subprocesses (logical
devices must be configured before TensorFlow starts; workers are processes);
this process only reads the results back with load()."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np

import tb_tensorcap as tensorcap  # noqa: E402

MIRRORED = textwrap.dedent("""
    import os, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    import tb_tensorcap as tensorcap

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    writer = tf.summary.create_file_writer(os.path.join(sys.argv[1], "mirrored"))

    def step_fn(x):
        ctx = tf.distribute.get_replica_context()
        y = x * tf.cast(ctx.replica_id_in_sync_group + 1, tf.float32)
        tensorcap.capture(y, "y")
        with tensorcap.record("rec"):
            z = tf.square(y)
        total = ctx.all_reduce("sum", z)
        tensorcap.capture(total, "total")
        return total

    def graph_fn(x, step):
        ctx = tf.distribute.get_replica_context()
        tensorcap.capture(x + tf.cast(ctx.replica_id_in_sync_group, tf.float32) * 10, "g", step=step)
        return x

    @tf.function
    def graph_step(x, step):
        return strategy.run(graph_fn, args=(x, step))

    with writer.as_default():
        for step in range(3):
            x = tf.constant([1.0, 2.0]) + step
            strategy.run(step_fn, args=(x,))
            graph_step(x, tf.constant(step, tf.int64))
        tensorcap.capture(tf.constant(5.0), "outside")  # cross-replica: no prefix
    writer.flush()
    print("ok")
""")

WORKER = textwrap.dedent("""
    import tensorflow as tf
    import tb_tensorcap as tensorcap

    strategy = tf.distribute.MultiWorkerMirroredStrategy()

    def step_fn(x):
        ctx = tf.distribute.get_replica_context()
        y = x * tf.cast(ctx.replica_id_in_sync_group + 1, tf.float32)
        tensorcap.capture(y, "y")
        total = ctx.all_reduce("sum", y)
        tensorcap.capture(total, "total")
        return total

    for step in range(3):
        strategy.run(step_fn, args=(tf.constant([1.0, 2.0]) + step,))
    tensorcap.flush()
    print("logdir", tensorcap.default_logdir())
""")


def _env(**extra):
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="2",
        no_proxy="127.0.0.1,localhost",
        NO_PROXY="127.0.0.1,localhost",
    )
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def test_mirrored_strategy_records_each_replica(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED, str(tmp_path)], env=_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    reader = tensorcap.load(str(tmp_path))
    assert reader.runs() == ["mirrored"]
    assert reader.tags("mirrored") == [
        "outside",
        "replica_0/g",
        "replica_0/rec/Square",
        "replica_0/rec/input/y",  # the block's input, captured for its lineage
        "replica_0/total",
        "replica_0/y",
        "replica_1/g",
        "replica_1/rec/Square",
        "replica_1/rec/input/y",
        "replica_1/total",
        "replica_1/y",
    ]
    for step in range(3):
        x = np.array([1.0, 2.0], np.float32) + step
        for replica in (0, 1):
            y = x * (replica + 1)
            np.testing.assert_array_equal(reader.value("mirrored", "replica_%d/y" % replica, step), y)
            np.testing.assert_array_equal(reader.value("mirrored", "replica_%d/rec/Square" % replica, step), y * y)
            np.testing.assert_array_equal(reader.value("mirrored", "replica_%d/total" % replica, step), x * x * 5)
            np.testing.assert_array_equal(reader.value("mirrored", "replica_%d/g" % replica, step), x + 10 * replica)
    assert reader.steps("mirrored", "outside") == [0]


def test_multi_worker_each_worker_writes_its_own_run(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": ["127.0.0.1:%d" % p for p in ports]}
    workers = []
    for index in range(2):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        workers.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER],
                env=_env(TF_CONFIG=config, TENSORCAP_LOGDIR=str(tmp_path)),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    try:
        for worker in workers:
            outputs.append(worker.communicate(timeout=150))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    for worker, (_out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-3000:]
    assert "logdir %s" % os.path.join(str(tmp_path), "worker_0") in outputs[0][0]
    reader = tensorcap.load(str(tmp_path))
    assert reader.runs() == ["worker_0", "worker_1"]
    for index in range(2):
        run = "worker_%d" % index
        # One replica per worker: no replica prefix, the run tells them apart.
        assert reader.tags(run) == ["total", "y"]
        assert reader.steps(run, "y") == [0, 1, 2]
        for step in range(3):
            x = np.array([1.0, 2.0], np.float32) + step
            np.testing.assert_array_equal(reader.value(run, "y", step), x * (index + 1))
            np.testing.assert_array_equal(reader.value(run, "total", step), x * 3)
