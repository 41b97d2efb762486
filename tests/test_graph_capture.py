"""Capturing inside `tf.function`: nothing written is lost or silently merged.

The repros of issue 10: a step frozen at trace time, a function instrumented
by `record()` called several times in one block, `model.fit` inside
`record()`, and the numerics an observed tensor changes (grappler).
"""

import json
import os
import shutil
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from support import WsgiTensorBoard

import tb_tensorcap as tensorcap

pytestmark = pytest.mark.usefixtures("isolated_capture")

W = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)


def _tensorcap(*args):
    command = shutil.which("tensorcap", path=os.path.dirname(sys.executable))
    proc = subprocess.run([command, *map(str, args)], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def _line_of(text):
    with open(__file__, encoding="utf-8") as f:
        return next(i for i, line in enumerate(f, 1) if text in line and "_line_of" not in line)


def test_a_step_frozen_at_trace_time_warns_once_naming_the_capture_and_the_fix(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path / "frozen"))

    @tf.function
    def forward(x):
        # A tag no other test uses: the warning is said once per tag and process.
        return tensorcap.capture(tf.math.log(x), "frozen_logp")  # the frozen capture

    with writer.as_default(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in range(4):
            tf.summary.experimental.set_step(step)
            forward(tf.constant([1.0, 2.0]))
    tf.summary.experimental.set_step(None)
    writer.close()
    frozen = [w for w in caught if "frozen" in str(w.message)]
    assert len(frozen) == 1, [str(w.message) for w in caught]
    message = str(frozen[0].message)
    assert "'frozen_logp'" in message and "tf.Variable" in message and "step 0" in message
    assert (frozen[0].filename, frozen[0].lineno) == (__file__, _line_of("# the frozen capture"))
    # Every call is still on disk, and says so.
    listing = json.loads(_tensorcap("ls", tmp_path, "--json").stdout)["runs"]["frozen"]["frozen_logp"]
    assert (listing["steps"], listing["repeats"]) == ([0], 3)


def test_a_variable_step_or_no_step_does_not_warn(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path / "run"))
    step = tf.Variable(0, dtype=tf.int64)

    @tf.function
    def forward(x):
        tensorcap.capture(x * 2, "doubled")
        return x

    @tf.function
    def counted(x):
        tensorcap.capture(x * 3, "tripled")
        return x

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with writer.as_default(step=step):
            for _ in range(3):
                forward(tf.constant(1.0))
                step.assign_add(1)
        tf.summary.experimental.set_step(None)
        with writer.as_default():
            for _ in range(3):
                counted(tf.constant(1.0))
    writer.close()
    reader = tensorcap.load(str(tmp_path))
    for tag in ("doubled", "tripled"):
        assert reader.steps("run", tag) == [0, 1, 2] and reader.repeats("run", tag) == 0


def test_every_call_of_an_instrumented_function_in_one_block_is_its_own_step(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path / "run"))

    @tf.function
    def train_step(x):
        return tf.nn.relu(tf.matmul(x, W))

    inputs = [np.full((2, 4), call + 1, np.float32) * [[1], [-1]] for call in range(3)]
    with tensorcap.record("calls", writer=writer) as first:
        for x in inputs:
            train_step(tf.constant(x))
    with tensorcap.record("calls", writer=writer) as second:  # the next block continues after the calls
        train_step(tf.constant(inputs[0]))
    writer.close()
    start = first.step  # the automatic step: blocks with this prefix entered before in this process
    assert second.step == start + 3
    reader = tensorcap.load(str(tmp_path))
    for tag in ("calls/MatMul", "calls/Relu", "calls/train_step"):
        assert reader.steps("run", tag) == [start, start + 1, start + 2, start + 3], tag
        assert reader.repeats("run", tag) == 0, tag
    for call, x in enumerate(inputs):
        np.testing.assert_allclose(reader.value("run", "calls/MatMul", start + call), x @ W, rtol=1e-6)
        np.testing.assert_allclose(
            reader.value("run", "calls/train_step", start + call), np.maximum(x @ W, 0), rtol=1e-6
        )


def _dense_model():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="dense")], name="net")
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_model_fit_inside_record_writes_one_step_per_batch_and_points_to_the_callback(tmp_path):
    x = np.linspace(-1, 1, 24, dtype=np.float32).reshape(6, 4)
    y = np.zeros((6, 3), np.float32)
    writer = tf.summary.create_file_writer(str(tmp_path / "fit"))
    with pytest.warns(RuntimeWarning, match="CaptureCallback"):
        with tensorcap.record("fitting", writer=writer, dtypes=tf.float32) as rec:
            _dense_model().fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
    with pytest.warns(RuntimeWarning, match="CaptureCallback"):  # also when `ops` leaves Keras' function out
        with tensorcap.record("fit_matmuls", writer=writer, ops="MatMul") as matmuls_only:
            _dense_model().fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    with tensorcap.record("fitting", writer=writer) as after:
        pass
    writer.close()
    assert after.step == rec.step + 6  # the next block starts after the batches' steps
    reader = tensorcap.load(str(tmp_path))
    for tag in ("fitting/net/dense/MatMul", "fitting/net/dense/BiasAdd"):
        assert reader.steps("fit", tag) == list(range(rec.step, rec.step + 6)), tag
        assert reader.repeats("fit", tag) == 0, tag
    assert reader.steps("fit", "fit_matmuls/net/dense/MatMul") == list(range(matmuls_only.step, matmuls_only.step + 3))


def _log_softmax(x):
    return tf.math.log(tf.nn.softmax(x))


LOGITS = np.array([[0.0, -200.0, 10.0]], np.float32)


def test_observing_a_tensor_inside_tf_function_can_change_numerics(tmp_path):
    """Documented in the README: an instrumented Softmax blocks grappler's LogSoftmax rewrite."""
    eager = _log_softmax(tf.constant(LOGITS)).numpy()
    assert eager[0, 1] == -np.inf  # softmax underflows to 0, then log(0)
    plain = tf.function(_log_softmax)(tf.constant(LOGITS)).numpy()
    assert np.isfinite(plain).all()  # grappler rewrote Log(Softmax) to LogSoftmax
    writer = tf.summary.create_file_writer(str(tmp_path / "observed"))
    with tensorcap.record("step", writer=writer):
        observed = tf.function(_log_softmax)(tf.constant(LOGITS)).numpy()
    assert observed[0, 1] == -np.inf  # Softmax is observed: no rewrite, as eagerly
    # Capturing only the output keeps the rewrite (no internal op is observed).
    compiled = tf.function(_log_softmax)
    compiled(tf.constant(LOGITS))  # traced outside any block: not instrumented
    with tensorcap.record("step", writer=writer):
        assert np.isfinite(compiled(tf.constant(LOGITS)).numpy()).all()
    writer.close()


def test_divergence_shows_where_an_eager_and_a_function_run_part(tmp_path):
    logdir = tmp_path / "logs"
    for run in ("eager", "function"):
        writer = tf.summary.create_file_writer(str(logdir / run))
        forward = _log_softmax if run == "eager" else tf.function(_log_softmax)
        for step in range(2):
            with tensorcap.record("step", writer=writer, step=step):
                # The function run's inputs part at step 1: no underflow there.
                logits = LOGITS if run == "eager" or step == 0 else np.array([[0.0, -20.0, 10.0]], np.float32)
                forward(tf.constant(logits))
        writer.close()
    app = WsgiTensorBoard(logdir)
    app.wait_complete()
    result = app.get_json("/data/plugin/tensorcap/divergence?run=eager&run2=function")
    # Softmax agrees within tolerance (0 against 2e-9); the Log of it is where they part.
    first = result["first"]
    assert (first["tag"], first["step"], first["reason"], first["nonfinite_mismatch"]) == (
        "step/Log",
        1,
        "nonfinite",
        1,
    )
    softmax = next(r for r in result["tags"] if r["tag"] == "step/Softmax")
    assert (softmax["steps_compared"], softmax["steps_outside"]) == (2, 0)
