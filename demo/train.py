"""TensorCap demo: train a small conv net + MLP eagerly and capture everything.

    python demo/train.py --logdir runs
    tensorboard --logdir runs          # then open the TensorCap tab

Synthetic 16x16 RGB images of 4 classes, a 3x3 conv layer, 2x2 max pooling,
two dense layers, plain SGD, 16 steps of 32 images. Fully seeded: two runs
with the same settings are bit-identical. It writes four runs:

* ``healthy``: the reference run. Per step, in this order: ``input/image``
  (the batch's first image, H x W x 3), ``conv/activation`` (N x H x W x C),
  ``dense1/activation``, ``dense2/activation`` (the logits), ``loss``, the
  gradients ``grad/<layer>/<kernel|bias>`` (`capture_gradients`) and the
  weights after the update ``<layer>/<kernel|bias>``.
* ``nan``: the same, but at step 8 one unit of ``dense1/activation`` becomes
  NaN; it spreads to the loss, the gradients and every weight (Alerts view).
* ``diverged``: the same seed as ``healthy``, but from step 5 layer
  ``dense2`` learns with 3x the learning rate, so ``dense2/kernel`` at step 5
  is the first capture that differs from ``healthy`` (Divergence view).
* ``record``: three steps whose forward pass runs inside
  ``tensorcap.record("forward")``: every op captured automatically
  (``forward/conv/Conv2D``, ``forward/dense1/MatMul``, ...).
* ``flight``: 40 steps of the whole training step under a
  ``tensorcap.FlightRecorder(keep_steps=3)`` (health statistics of every op at
  every step, full values only around a NaN), with a hand-written
  label-smoothed cross-entropy over ``log(softmax(logits / temperature))`` whose temperature drops
  to 1e-4 at step 36: softmax underflows to exact zeros and ``Log`` makes the
  first -inf (Root cause and Health views).

Only these five run directories under --logdir are replaced.
"""

import argparse
import os
import shutil
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tb_tensorcap as tensorcap  # noqa: E402

SEED = 1234
SIZE, CLASSES, SAMPLES, BATCH = 16, 4, 256, 32
LEARNING_RATE = 0.1
NAN_STEP, NAN_LAYER = 8, "dense1"
DIVERGE_STEP, DIVERGE_LAYER, DIVERGE_FACTOR = 5, "dense2", 3.0
FLIGHT_STEPS, UNDERFLOW_STEP, COLD_TEMPERATURE, SMOOTHING = 40, 36, 1e-4, 0.1
RUNS = ("healthy", "nan", "diverged", "record", "flight")


def make_data(seed=SEED):
    """Images whose class sets a colour and a stripe direction, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, SAMPLES)
    ramp = np.linspace(0, 1, SIZE, dtype=np.float32)
    patterns = [
        np.broadcast_to(ramp[None, :], (SIZE, SIZE)),  # left to right
        np.broadcast_to(ramp[:, None], (SIZE, SIZE)),  # top to bottom
        (np.add.outer(np.arange(SIZE), np.arange(SIZE)) % 4 < 2).astype(np.float32),  # diagonal
        np.exp(-np.add.outer((ramp - 0.5) ** 2, (ramp - 0.5) ** 2) * 12),  # blob
    ]
    colours = np.array([[1, 0.3, 0.2], [0.2, 0.8, 0.3], [0.3, 0.4, 1], [0.9, 0.8, 0.2]], np.float32)
    images = np.stack([patterns[c][..., None] * colours[c] for c in labels])
    images = images + rng.normal(0, 0.15, images.shape).astype(np.float32)
    return np.clip(images, 0, 1).astype(np.float32), labels.astype(np.int32)


def make_params(seed=SEED):
    rng = np.random.default_rng(seed + 1)

    def init(shape, fan_in):
        return rng.normal(0, np.sqrt(2.0 / fan_in), shape).astype(np.float32)

    flat = (SIZE // 2) * (SIZE // 2) * 8
    shapes = {
        "conv/kernel": init((3, 3, 3, 8), 27),
        "conv/bias": np.zeros(8, np.float32),
        "dense1/kernel": init((flat, 32), flat),
        "dense1/bias": np.zeros(32, np.float32),
        "dense2/kernel": init((32, CLASSES), 32),
        "dense2/bias": np.zeros(CLASSES, np.float32),
    }
    return {name: tf.Variable(value, name=name) for name, value in shapes.items()}


def forward(params, images, step, capture, nan_at=None):
    """The model; with `capture`, each layer's output is captured by name."""
    keep = tensorcap.capture if capture else (lambda value, *args, **kwargs: value)
    with tf.name_scope("conv"):
        conv = tf.nn.relu(tf.nn.conv2d(images, params["conv/kernel"], 1, "SAME") + params["conv/bias"])
        keep(conv, "conv/activation", step, description="N x H x W x C: the conv layer's output", axes="NHWC")
        pooled = tf.nn.max_pool2d(conv, 2, 2, "VALID")
    with tf.name_scope("dense1"):
        flat = tf.reshape(pooled, [tf.shape(pooled)[0], -1])
        hidden = tf.nn.relu(tf.matmul(flat, params["dense1/kernel"]) + params["dense1/bias"])
        if nan_at is not None and step == nan_at:
            # The deliberate fault of the "nan" run: one unit of one example.
            hidden = tf.tensor_scatter_nd_update(hidden, [[0, 3]], [np.float32("nan")])
        keep(hidden, "dense1/activation", step)
    with tf.name_scope("dense2"):
        logits = tf.matmul(hidden, params["dense2/kernel"]) + params["dense2/bias"]
        keep(logits, "dense2/activation", step, description="the logits")
    return logits


def train(logdir, run, steps=16, nan_at=None, diverge_at=None, record_forward=False):
    images, labels = make_data()
    params = make_params()
    names = list(params)
    writer = tf.summary.create_file_writer(os.path.join(logdir, run))
    with writer.as_default():
        for step in range(steps):
            start = (step * BATCH) % SAMPLES
            x, y = tf.constant(images[start : start + BATCH]), tf.constant(labels[start : start + BATCH])
            with tf.GradientTape() as tape:
                if record_forward:
                    with tensorcap.record("forward", step=step):
                        logits = forward(params, x, step, capture=False)
                else:
                    tensorcap.capture(
                        x[0], "input/image", step, description="the batch's first image, H x W x RGB in [0, 1]"
                    )
                    logits = forward(params, x, step, capture=True, nan_at=nan_at)
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
            tensorcap.capture(loss, "loss", step)
            grads = tape.gradient(loss, [params[n] for n in names])
            if not record_forward:
                tensorcap.capture_gradients(grads, [params[n] for n in names], step=step)
            for name, grad in zip(names, grads):
                rate = LEARNING_RATE
                if diverge_at is not None and step >= diverge_at and name.startswith(DIVERGE_LAYER + "/"):
                    rate *= DIVERGE_FACTOR
                params[name].assign_sub(rate * grad)
                if not record_forward:
                    tensorcap.capture(params[name], name, step)
    writer.close()
    return float(loss)


def train_under_flight_recorder(logdir, run, steps=FLIGHT_STEPS, underflow_at=UNDERFLOW_STEP):
    """The whole training step inside a flight recorder, with a temperature that drops too far.

    Every step writes the statistics of every op (health mode); when an output
    holds NaN or Inf, the recorder writes the full values of that step and of
    the 3 steps before it. From step `underflow_at` the temperature is 1e-4:
    the logits / temperature are so far apart that softmax gives exact zeros,
    and log(0) = -inf makes the loss infinite and the gradients NaN.
    """
    images, labels = make_data()
    params = make_params()
    variables = list(params.values())
    recorder = tensorcap.FlightRecorder(keep_steps=3)
    writer = tf.summary.create_file_writer(os.path.join(logdir, run))
    with writer.as_default():
        for step in range(steps):
            start = (step * BATCH) % SAMPLES
            x, y = tf.constant(images[start : start + BATCH]), tf.constant(labels[start : start + BATCH])
            temperature = tf.constant(1.0 if step < underflow_at else COLD_TEMPERATURE)
            with recorder.record("train", step=step):
                with tf.GradientTape() as tape:
                    logits = forward(params, x, step, capture=False)
                    probs = tf.nn.softmax(logits / temperature)
                    targets = tf.one_hot(y, CLASSES) * (1 - SMOOTHING) + SMOOTHING / CLASSES  # label smoothing
                    loss = -tf.reduce_mean(tf.reduce_sum(targets * tf.math.log(probs), axis=-1))
                grads = tape.gradient(loss, variables)
                for variable, grad in zip(variables, grads):
                    variable.assign_sub(LEARNING_RATE * grad)
    writer.close()
    return float(loss)


def main(argv=None):
    parser = argparse.ArgumentParser(description="TensorCap demo: writes runs to browse in TensorBoard.")
    parser.add_argument("--logdir", default="runs")
    parser.add_argument("--steps", type=int, default=16)
    args = parser.parse_args(argv)
    if args.steps <= max(NAN_STEP, DIVERGE_STEP):
        parser.error("--steps must be more than %d" % max(NAN_STEP, DIVERGE_STEP))

    tf.random.set_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    started = time.time()
    for run in RUNS:
        shutil.rmtree(os.path.join(args.logdir, run), ignore_errors=True)
    losses = {
        "healthy": train(args.logdir, "healthy", args.steps),
        "nan": train(args.logdir, "nan", args.steps, nan_at=NAN_STEP),
        "diverged": train(args.logdir, "diverged", args.steps, diverge_at=DIVERGE_STEP),
        "record": train(args.logdir, "record", 3, record_forward=True),
        "flight": train_under_flight_recorder(args.logdir, "flight"),
    }
    report(args.logdir, losses, time.time() - started)


def report(logdir, losses, seconds):
    reader = tensorcap.load(logdir)
    print("TensorCap demo: wrote %s in %.1f s" % (os.path.abspath(logdir), seconds))
    for run in RUNS:
        tags = reader.tags(run)
        infos = reader.captures(run)
        steps = sorted({i.step for i in infos})
        print(
            "  run %-9s %3d tags, steps %d-%d, %4d captures, %.1f MB, final loss %s"
            % (
                run,
                len(tags),
                steps[0],
                steps[-1],
                len(infos),
                sum(i.nbytes for i in infos) / 1e6,
                "%.4f" % losses[run],
            )
        )
    print("  tags (healthy): %s" % ", ".join(reader.tags("healthy")))
    shown = [t for t in reader.tags("record")][:6]
    print("  tags (record, by record()): %s, ... (%d in all)" % (", ".join(shown), len(reader.tags("record"))))
    print("  4-D tensor:   healthy conv/activation %s" % (reader.info("healthy", "conv/activation", 0).shape,))
    print("  image:        healthy input/image %s" % (reader.info("healthy", "input/image", 0).shape,))
    first_nan = next(i for i in reader.captures("nan") if np.isnan(reader.value("nan", i.tag, i.step)).any())
    print("  Alerts:       first NaN in run nan: %s at step %d" % (first_nan.tag, first_nan.step))
    first_diff = next(
        i
        for i in reader.captures("healthy")
        if not np.array_equal(reader.value("healthy", i.tag, i.step), reader.value("diverged", i.tag, i.step))
    )
    print("  Divergence:   healthy vs diverged first differ at %s, step %d" % (first_diff.tag, first_diff.step))
    cause = tensorcap.rootcause(reader, "flight", inf=True)
    culprit = cause["culprit"] or {"tag": "unknown", "step": cause["step"]}
    print("  Root cause:   run flight: %s at step %d (%s)" % (culprit["tag"], culprit["step"], cause["origin"]))
    print("Browse: tensorboard --logdir %s  (TensorCap tab)" % logdir)


if __name__ == "__main__":
    main()
