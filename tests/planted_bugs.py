"""Small programs with a planted numerical bug, captured by a real `record()`.

Each writes one run under a logdir; the tests then ask the root cause of it
through the Python function, the `tensorcap` command, the route and the tab,
and assert the exact culprit op, step and source line (lines marked
``# LINE:<name>`` here, found by `line()`). `record_mode` is `record()`'s
``mode``: "health" keeps statistics only, and the answer must be the same.
"""

import sys

import numpy as np
import tensorflow as tf

import tb_tensorcap as tensorcap

UNDERFLOW_STEP = 3


def line(name, script=None):
    """The line number of the ``# LINE:<name>`` marker in this file (or in the `script` text)."""
    if script is not None:
        lines = script.splitlines()
    else:
        with open(__file__, encoding="utf-8") as f:
            lines = f.read().splitlines()
    for number, text in enumerate(lines, 1):
        if text.rstrip().endswith("# LINE:" + name):
            return number
    raise KeyError(name)


def log_softmax_underflow(logdir, run, mode, steps=6, bad_step=UNDERFLOW_STEP, record_mode="full"):
    """A classifier's loss: log(softmax) underflows at `bad_step` (Softmax gives an exact 0).

    `mode` "eager" runs the ops eagerly in the block; "function" calls a
    `tf.function` first traced in the block of step 0. `bad_step` None: clean.
    """
    w = tf.Variable([[1.0, -1.0, 0.5], [0.5, 2.0, -1.0]], name="classifier/w")
    labels = tf.constant([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])

    def loss_fn(x):
        logits = tf.matmul(x, w)
        probs = tf.nn.softmax(logits)
        log_probs = tf.math.log(probs)  # LINE:log
        return -tf.reduce_sum(labels * log_probs)

    step_fn = tf.function(loss_fn) if mode == "function" else loss_fn
    writer = tf.summary.create_file_writer(str(logdir / run))
    with writer.as_default():
        for step in range(steps):
            x = tf.constant([[1.0, 2.0], [3.0, -4.0]]) * (1000.0 if step == bad_step else 1.0)
            with tensorcap.record("step", step=step, mode=record_mode):
                step_fn(x)
    writer.close()


def divide_by_a_minus_a(logdir, run, record_mode="full"):
    """``x / (a - a)`` inside a `tf.function` traced in the block: RealDiv of an exact 0."""

    @tf.function
    def ratio(x, a):
        d = a - a
        return x / d  # LINE:div

    writer = tf.summary.create_file_writer(str(logdir / run))
    with writer.as_default(), tensorcap.record("div", step=0, mode=record_mode):
        ratio(tf.constant([0.0, 1.0]), tf.constant([2.0, 3.0]))
    writer.close()


def sqrt_after_minus_inf_mask(logdir, run, record_mode="full"):
    """Attention weights with a -inf mask (softmax makes them finite), then sqrt of a negative."""
    scores = tf.constant([[0.5, 1.0, 2.0]])
    mask = tf.constant([[0.0, 0.0, -np.inf]])
    writer = tf.summary.create_file_writer(str(logdir / run))
    with writer.as_default(), tensorcap.record("att", step=0, mode=record_mode):
        weights = tf.nn.softmax(scores + mask)
        spread = tf.sqrt(weights - 0.5)  # LINE:sqrt
        tf.reduce_sum(spread)
    writer.close()


def nan_in_the_data(logdir, run, record_mode="full"):
    """The input batch itself holds a NaN: the origin is external."""
    x = tf.constant([[1.0, np.nan], [2.0, 3.0]])
    w = tf.Variable(tf.ones((2, 2)), name="w")
    writer = tf.summary.create_file_writer(str(logdir / run))
    with writer.as_default(), tensorcap.record("data", step=0, mode=record_mode):
        tf.nn.relu(tf.matmul(x, w))
    writer.close()


# Run in a subprocess (two logical CPUs must be set up before TensorFlow starts):
# replica 1's shard alone makes sqrt of a negative at step 2.
MIRRORED = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
import tb_tensorcap as tensorcap

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
writer = tf.summary.create_file_writer(sys.argv[1])

def step_fn(x):
    replica = tf.distribute.get_replica_context().replica_id_in_sync_group
    with tensorcap.record("step", step=int(x[0].numpy()), mode=sys.argv[2]):
        shard = x * tf.cast(replica + 1, tf.float32)
        return tf.reduce_sum(tf.sqrt(5.0 - shard))  # LINE:replica_sqrt

with writer.as_default():
    for step in range(4):
        strategy.run(step_fn, args=(tf.constant([float(step), 1.0]),))
writer.close()
print("ok")
"""


def mirrored_replica_shard(logdir, run, record_mode="full"):
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", MIRRORED, str(logdir / run), record_mode], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-3000:]


def log_softmax_underflow_in_flight(logdir, run, steps=5, bad_step=UNDERFLOW_STEP):
    """`log_softmax_underflow` (eager) under a `FlightRecorder` keeping one earlier step.

    Every step writes its health record; the bad step fires the trigger,
    which writes the full values of it and of the step before.
    """
    w = tf.Variable([[1.0, -1.0, 0.5], [0.5, 2.0, -1.0]], name="classifier/w")
    labels = tf.constant([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    recorder = tensorcap.FlightRecorder(keep_steps=1)
    writer = tf.summary.create_file_writer(str(logdir / run))
    with writer.as_default():
        for step in range(steps):
            x = tf.constant([[1.0, 2.0], [3.0, -4.0]]) * (1000.0 if step == bad_step else 1.0)
            with recorder.record("step", step=step):
                probs = tf.nn.softmax(tf.matmul(x, w))
                log_probs = tf.math.log(probs)  # LINE:flight_log
                -tf.reduce_sum(labels * log_probs)
    writer.close()
    return recorder


def keras_log_softmax_underflow(logdir, run, bad_batch=UNDERFLOW_STEP, **callback_args):
    """`model.fit` of a small classifier whose hand-written loss is log(softmax), with a
    `CaptureCallback(**callback_args)`; batch `bad_batch` is scaled so that softmax
    underflows to an exact 0 there (6 batches of 4, one epoch)."""
    import keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 4)).astype("float32")
    x[4 * bad_batch : 4 * bad_batch + 4] *= 1e4
    y = keras.utils.to_categorical(rng.integers(0, 3, size=24), 3).astype("float32")

    def cross_entropy(labels, logits):
        log_probs = tf.math.log(tf.nn.softmax(logits))  # LINE:keras_log
        return -tf.reduce_sum(labels * log_probs, axis=-1)

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss=cross_entropy)
    writer = tf.summary.create_file_writer(str(logdir / run))
    callback = tensorcap.keras.CaptureCallback(writer=writer, **callback_args)
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, callbacks=[callback], verbose=0)
    writer.close()


# One worker of a real MultiWorkerMirroredStrategy job (two local workers on
# loopback, TF_CONFIG): worker 1's data alone makes sqrt of a negative at step 3;
# the all-reduce then hands the NaN to worker 0 at the same step.
MULTI_WORKER = """
import json
import os
import tensorflow as tf
import tb_tensorcap as tensorcap

strategy = tf.distribute.MultiWorkerMirroredStrategy()
task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]

def step_fn(x, step):
    with tensorcap.record("step", step=step):
        spread = tf.sqrt(5.0 - x)  # LINE:worker_sqrt
        total = tf.distribute.get_replica_context().all_reduce("sum", tf.reduce_sum(spread))
        total * 0.5

for step in range(5):
    data = tf.constant([float(step), 1.0]) * (2.0 if task == 1 else 1.0)
    strategy.run(step_fn, args=(data, step))
tensorcap.flush()
print("ok")
"""


def multi_worker_shard(logdir, run):
    """Runs `MULTI_WORKER` as two worker processes writing runs RUN/worker_0 and RUN/worker_1."""
    import json
    import os
    import socket
    import subprocess

    sockets = [socket.socket() for _ in range(2)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    cluster = {"worker": ["127.0.0.1:%d" % s.getsockname()[1] for s in sockets]}
    for s in sockets:
        s.close()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", no_proxy="127.0.0.1,localhost", NO_PROXY="127.0.0.1,localhost")
    env["TENSORCAP_LOGDIR"] = str(logdir / run)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", MULTI_WORKER],
            env=dict(env, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(2)
    ]
    try:
        outputs = [worker.communicate(timeout=240) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0 and "ok" in out, err[-3000:]
