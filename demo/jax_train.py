"""TensorCap without TensorFlow: train a small JAX MLP and capture it.

    python demo/jax_train.py --logdir runs
    tensorboard --logdir runs          # then open the TensorCap tab

Needs only JAX (``pip install jax``), numpy and TensorCap: TensorFlow is not
used, even where it is installed. Synthetic 2-D points of 3 classes (three
interleaved spirals), a 2-32-32-3 MLP with tanh, softmax cross-entropy,
plain SGD on full batches, jitted with ``jax.jit``. Fully seeded.

It writes the run ``jax`` under --logdir. Per step, in this order:

* ``dense1/preactivation``, ``dense1/activation``, ``dense2/activation``,
  ``logits``: the forward pass, captured outside the jitted step from the
  activations it returns (a value inside ``jax.jit`` is a tracer: it has no
  numbers until the function runs);
* ``probe/dense2_mean``: the same layer's mean, captured *inside* the jitted
  step through ``jax.debug.callback``, the way to capture from traced code;
* ``loss``, then the gradients ``grad/<layer>/<kernel|bias>`` and the weights
  after the update ``<layer>/<kernel|bias>``.
"""

import argparse
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np

import tb_tensorcap as tensorcap

SEED = 7
CLASSES, POINTS_PER_CLASS, HIDDEN = 3, 64, 32
LEARNING_RATE = 0.5
LAYERS = ("dense1", "dense2", "dense3")


def make_data(seed=SEED):
    """Three interleaved spirals of noisy 2-D points, with their labels."""
    rng = np.random.default_rng(seed)
    radius = np.tile(np.linspace(0.1, 1.0, POINTS_PER_CLASS), CLASSES)
    labels = np.repeat(np.arange(CLASSES), POINTS_PER_CLASS)
    angle = labels * (2 * np.pi / CLASSES) + radius * 4 + rng.normal(0, 0.15, radius.shape)
    points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1).astype(np.float32)
    return points, labels.astype(np.int32)


def init_params(seed=SEED):
    """{layer: {"kernel", "bias"}} with Glorot-uniform kernels and zero biases."""
    sizes = (2, HIDDEN, HIDDEN, CLASSES)
    keys = jax.random.split(jax.random.PRNGKey(seed), len(LAYERS))
    params = {}
    for key, name, fan_in, fan_out in zip(keys, LAYERS, sizes[:-1], sizes[1:]):
        limit = np.sqrt(6 / (fan_in + fan_out))
        params[name] = {
            "kernel": jax.random.uniform(key, (fan_in, fan_out), jnp.float32, -limit, limit),
            "bias": jnp.zeros((fan_out,), jnp.float32),
        }
    return params


def forward(params, points):
    """(logits, activations by name) of the MLP."""
    pre1 = points @ params["dense1"]["kernel"] + params["dense1"]["bias"]
    act1 = jnp.tanh(pre1)
    act2 = jnp.tanh(act1 @ params["dense2"]["kernel"] + params["dense2"]["bias"])
    logits = act2 @ params["dense3"]["kernel"] + params["dense3"]["bias"]
    return logits, {
        "dense1/preactivation": pre1,
        "dense1/activation": act1,
        "dense2/activation": act2,
        "logits": logits,
    }


def loss_fn(params, points, labels):
    logits, activations = forward(params, points)
    log_probs = jax.nn.log_softmax(logits)
    loss = -jnp.mean(jnp.take_along_axis(log_probs, labels[:, None], axis=1))
    return loss, activations


def make_train_step(writer):
    """The jitted SGD step; it also sends one statistic out through jax.debug.callback."""

    def probe(mean, step):
        tensorcap.capture(mean, "probe/dense2_mean", step=step, writer=writer)

    @jax.jit
    def train_step(params, points, labels, step):
        (loss, activations), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, points, labels)
        jax.debug.callback(probe, jnp.mean(activations["dense2/activation"]), step)
        updated = jax.tree_util.tree_map(lambda p, g: p - LEARNING_RATE * g, params, grads)
        return updated, loss, grads, activations

    return train_step


def train(logdir, steps):
    """Trains for `steps` steps, capturing into the run `logdir`/jax; returns the final loss."""
    run_dir = os.path.join(logdir, "jax")
    shutil.rmtree(run_dir, ignore_errors=True)
    points, labels = make_data()
    params = init_params()
    loss = None
    with tensorcap.Writer(run_dir) as writer:
        train_step = make_train_step(writer)
        for step in range(steps):
            params, loss, grads, activations = train_step(params, points, labels, step)
            jax.effects_barrier()  # the probe's callback has run: capture order stays step order
            with writer.as_default(step=step):
                for name, value in activations.items():
                    tensorcap.capture(value, name)
                tensorcap.capture(loss, "loss")
                for layer in LAYERS:
                    for kind in ("kernel", "bias"):
                        tensorcap.capture(grads[layer][kind], "grad/%s/%s" % (layer, kind))
                for layer in LAYERS:
                    for kind in ("kernel", "bias"):
                        tensorcap.capture(params[layer][kind], "%s/%s" % (layer, kind))
    return float(loss)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logdir", default="runs")
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    loss = train(args.logdir, args.steps)
    print("jax run: %d steps, final loss %.4f, written to %s" % (args.steps, loss, os.path.join(args.logdir, "jax")))


if __name__ == "__main__":
    main()
