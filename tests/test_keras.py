"""CaptureCallback with a real model.fit, read back with load() and checked by hand."""

import keras  # noqa: E402
import numpy as np
import pytest
import tensorflow as tf  # noqa: E402

import tb_tensorcap as tensorcap  # noqa: E402

LR = 0.1
BATCH = 8


def _model():
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu", name="dense1"),
            keras.layers.Dense(3, name="dense2"),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(LR), loss="mse", metrics=["mae"])
    return model


def _grads(xb, yb, k1, b1, k2, b2):
    """Hand-derived gradients of Keras' mse (mean over batch and outputs)."""
    a1 = np.maximum(xb @ k1 + b1, 0)
    pred = a1 @ k2 + b2
    dpred = 2 * (pred - yb) / pred.size
    da1 = (dpred @ k2.T) * (a1 > 0)
    return (
        a1,
        pred,
        {
            "dense1/kernel": xb.T @ da1,
            "dense1/bias": da1.sum(0),
            "dense2/kernel": a1.T @ dpred,
            "dense2/bias": dpred.sum(0),
        },
    )


def test_fit_captures_activations_weights_gradients(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = rng.normal(size=(32, 3)).astype(np.float32)
    model = _model()
    names = ["dense1/kernel", "dense1/bias", "dense2/kernel", "dense2/bias"]
    initial = dict(zip(names, [w.copy() for w in model.get_weights()]))
    writer = tf.summary.create_file_writer(str(tmp_path / "fit"))

    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[tensorcap.keras.CaptureCallback(writer=writer)],
    )
    # The wrappers are gone after training.
    assert "train_step" not in model.__dict__ and "call" not in model.layers[0].__dict__
    assert "apply_gradients" not in model.optimizer.__dict__

    # A second fit continues the global step (optimizer.iterations), with a
    # layer selection, a prefix and every third batch.
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[
            tensorcap.keras.CaptureCallback(
                layers=["dense2"], every_n_batches=3, what=("weights",), prefix="ft", writer=writer
            )
        ],
    )
    writer.flush()
    reader = tensorcap.load(str(tmp_path))
    tags = reader.tags("fit")
    assert tags == sorted(
        [
            "dense1/activation",
            "dense2/activation",
            "ft/dense2/kernel",
            "ft/dense2/bias",
            "loss",
            "logs/loss",
            "logs/mae",
            "input/x",  # the batch, captured for the lineage
            "input/y",
        ]
        + names
        + ["grad/" + n for n in names]
    )
    for tag in names + ["dense1/activation", "grad/dense1/kernel"]:
        assert reader.steps("fit", tag) == list(range(8)), tag
    assert reader.steps("fit", "ft/dense2/kernel") == [9]

    previous = initial
    batch_losses = []
    for step in range(8):
        xb = x[(step % 4) * BATCH : (step % 4 + 1) * BATCH]
        yb = y[(step % 4) * BATCH : (step % 4 + 1) * BATCH]
        a1, pred, grads = _grads(xb, yb, *(previous[n] for n in names))
        np.testing.assert_allclose(reader.value("fit", "dense1/activation", step), a1, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(reader.value("fit", "dense2/activation", step), pred, rtol=1e-5, atol=1e-6)
        # The batch's own loss; the logs are Keras' running mean over the epoch (4 batches).
        batch_losses.append(np.mean((pred - yb) ** 2))
        np.testing.assert_allclose(reader.value("fit", "loss", step), batch_losses[-1], rtol=1e-5)
        np.testing.assert_allclose(
            reader.value("fit", "logs/loss", step), np.mean(batch_losses[step - step % 4 :]), rtol=1e-5
        )
        current = {n: reader.value("fit", n, step) for n in names}
        for n in names:
            grad = reader.value("fit", "grad/" + n, step)
            np.testing.assert_allclose(grad, grads[n], rtol=1e-4, atol=1e-6, err_msg="%s %d" % (n, step))
            # SGD: the captured weights are those after this batch's update.
            np.testing.assert_allclose(current[n], previous[n] - LR * grad, rtol=1e-5, atol=1e-6)
        previous = current
    # The second fit ran steps 8.. on batches 0..: redo steps 8 and 9 by hand
    # from the step-7 weights; step 9 is the one captured (9 % 3 == 0).
    weights = previous
    for step in (8, 9):
        xb = x[(step % 4) * BATCH : (step % 4 + 1) * BATCH]
        yb = y[(step % 4) * BATCH : (step % 4 + 1) * BATCH]
        _, _, grads = _grads(xb, yb, *(weights[n] for n in names))
        weights = {n: weights[n] - LR * grads[n] for n in names}
    for n in ("dense2/kernel", "dense2/bias"):
        np.testing.assert_allclose(reader.value("fit", "ft/" + n, 9), weights[n], rtol=1e-4, atol=1e-6)
    assert not np.allclose(reader.value("fit", "dense2/kernel", 7), model.get_weights()[2])
    source = reader.info("fit", "dense1/kernel", 0).source
    assert source["file"] == __file__


def test_rejects_unknown_what():
    with pytest.raises(ValueError, match="activations, weights, gradients, loss, metrics"):
        tensorcap.keras.CaptureCallback(what=("weights", "inputs"))
    with pytest.raises(ValueError, match="every_n_batches"):
        tensorcap.keras.CaptureCallback(every_n_batches=0)


def test_submodule_import():
    import tb_tensorcap.keras as module

    assert module.CaptureCallback is tensorcap.keras.CaptureCallback
