"""Stable `record()` names: inserting an op renames only later ops of its type
in its scope, and the same model code gives the same tags eagerly and inside
a `tf.function` traced in a block. The repros of issue 10, through the real
`tensorcap` command and TensorBoard's real WSGI app.
"""

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from support import WsgiTensorBoard

import tb_tensorcap as tensorcap

pytestmark = pytest.mark.usefixtures("isolated_capture")

X = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
W1 = np.linspace(-0.5, 0.5, 32, dtype=np.float32).reshape(4, 8)
W2 = np.linspace(0.3, -0.3, 16, dtype=np.float32).reshape(8, 2)


def _tensorcap(*args):
    command = shutil.which("tensorcap", path=os.path.dirname(sys.executable))
    proc = subprocess.run([command, *map(str, args)], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def _block(x, fixed):
    with tf.name_scope("layer"):
        h = tf.matmul(x, W1)
        if fixed:  # the fix: two ops inserted (a clip of the activations)
            h = tf.minimum(tf.maximum(h, -0.05), 0.05)
        h = tf.nn.relu(h)
        logits = tf.matmul(h, W2)
    return tf.nn.softmax(logits)


def test_inserted_ops_rename_only_later_ops_of_their_type_and_scope(tmp_path):
    logdir = tmp_path / "logs"
    for run, fixed in (("before", False), ("fixed", True)):
        writer = tf.summary.create_file_writer(str(logdir / run))
        for step in range(2):
            with tensorcap.record("step", writer=writer, step=step) as rec:
                _block(tf.constant(X), fixed)
        writer.close()
        if not fixed:
            assert [t for t in rec.tags if "/input/" not in t] == [
                "step/layer/MatMul",
                "step/layer/Relu",
                "step/layer/MatMul_1",
                "step/Softmax",
            ]
    # Outside inputs (captured for the lineage) are named after their consumer: stable too.
    inputs = {"step/input/x", "step/input/layer/MatMul.1", "step/input/layer/MatMul_1.1"}
    clip = {"step/layer/Maximum", "step/layer/Minimum", "step/input/layer/Maximum.1", "step/input/layer/Minimum.1"}
    assert set(rec.tags) - clip - inputs == {
        "step/layer/MatMul",
        "step/layer/Relu",
        "step/layer/MatMul_1",
        "step/Softmax",
    }

    proc = _tensorcap("divergence", logdir, "before", "fixed", "--json")
    result = json.loads(proc.stdout)
    assert proc.returncode == 1
    # The clip changes the second matmul's input: same tag, same shape, different values.
    first = result["first"]
    assert (first["tag"], first["step"], first["reason"]) == ("step/layer/Relu", 0, "values")
    assert first["shape"] == first["shape2"] == [3, 8]
    assert not any("shape" in row["reasons"] for row in result["tags"])
    assert result["only_in_run2"] == sorted(clip)
    assert result["only_in_run"] == [] and result["unpaired"] == 0


def _cnn():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(2, 3, name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(4, name="dense"),
            keras.layers.Dense(3, name="dense_1"),
            keras.layers.Softmax(name="probs"),
        ],
        name="cnn",
    )


def test_eager_and_function_runs_get_the_same_tags_and_compare(tmp_path):
    model = _cnn()
    images = np.linspace(0, 1, 2 * 36, dtype=np.float32).reshape(2, 6, 6, 1)
    logdir = tmp_path / "logs"
    forward = tf.function(lambda x: model(x))
    tags = {}
    for run in ("eager", "function"):
        writer = tf.summary.create_file_writer(str(logdir / run))
        for step in range(3):
            with tensorcap.record("step", writer=writer, step=step, ops="Conv2D|MatMul|BiasAdd|Softmax") as rec:
                (model if run == "eager" else forward)(tf.constant(images + step))
            tags.setdefault(run, rec.tags)  # (a block lists what it instrumented, not the later writes)
            assert run == "function" or rec.tags == tags[run]  # the same names at every step
        writer.close()
    internal = [
        "step/cnn/conv/Conv2D",
        "step/cnn/conv/BiasAdd",
        "step/cnn/dense/MatMul",
        "step/cnn/dense/BiasAdd",
        "step/cnn/dense_1/MatMul",
        "step/cnn/dense_1/BiasAdd",
        "step/cnn/probs/Softmax",
    ]
    assert [t for t in tags["eager"] if "/input/" not in t] == internal  # inputs: captured for the lineage
    assert [t for t in tags["function"] if t in internal] == internal

    app = WsgiTensorBoard(logdir)
    app.wait_complete()
    result = app.get_json("/data/plugin/tensorcap/divergence?run=eager&run2=function&rtol=1e-4&atol=1e-6")
    assert result["compared"] == 3 * len(internal)
    # The eager run's input is captured for its lineage (the function's is its argument).
    assert result["first"] is None and result["only_in_run"] == ["step/input/cnn/conv/Conv2D.0"]
    index = app.get_json("/data/plugin/tensorcap/index")["runs"]["function"]
    assert all(index[tag]["steps"] == [0, 1, 2] and index[tag]["repeats"] == 0 for tag in internal)
