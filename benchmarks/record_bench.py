"""Overhead of `tensorcap.record()` vs TensorFlow's own full-tensor debugger dump.

One process, one small MLP training step (eager: forward, loss, GradientTape
backward, SGD update), timed three ways:

* plain;
* every op of every step captured by ``with tensorcap.record("step"):``,
  written to a ``tf.summary`` file writer;
* every op dumped by ``tf.debugging.experimental.enable_dump_debug_info(dir,
  tensor_debug_mode="FULL_TENSOR", circular_buffer_size=-1)``.

Each timing covers the steps and the final flush to disk (writer.flush(),
disable_dump_debug_info()). Prints ``*_overhead_ratio`` = time / plain time,
and ``record_vs_debugger`` = TensorCap's overhead (ratio - 1) over the
debugger's. Target: record_vs_debugger <= 0.5.

    python benchmarks/record_bench.py [--steps 60] [--batch 64]
"""

import argparse
import os
import shutil
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tb_tensorcap as tensorcap  # noqa: E402


def make_step(batch, sizes=(64, 128, 128, 10), seed=0):
    rng = np.random.default_rng(seed)
    weights = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        weights.append(
            tf.Variable(rng.normal(0, n_in**-0.5, (n_in, n_out)).astype(np.float32), name="dense%d/kernel" % (i + 1))
        )
        weights.append(tf.Variable(np.zeros(n_out, np.float32), name="dense%d/bias" % (i + 1)))
    x = tf.constant(rng.normal(size=(batch, sizes[0])).astype(np.float32))
    y = tf.constant(rng.integers(0, sizes[-1], batch))

    def step():
        with tf.GradientTape() as tape:
            h = x
            for i in range(0, len(weights), 2):
                with tf.name_scope("dense%d" % (i // 2 + 1)):
                    h = tf.matmul(h, weights[i]) + weights[i + 1]
                    if i + 2 < len(weights):
                        h = tf.nn.relu(h)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, h))
        grads = tape.gradient(loss, weights)
        for w, g in zip(weights, grads):
            w.assign_sub(0.01 * g)
        return loss

    return step


def _du(root, prefix):
    total = 0
    for name in os.listdir(root):
        if name.startswith(prefix):
            for folder, _, files in os.walk(os.path.join(root, name)):
                total += sum(os.path.getsize(os.path.join(folder, f)) for f in files)
    return total


def timed(run, steps):
    start = time.perf_counter()
    run(steps)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="best of N for each mode")
    args = parser.parse_args()

    step = make_step(args.batch)
    workdir = tempfile.mkdtemp(prefix="record_bench_")
    try:
        for _ in range(10):  # warm up TensorFlow's kernels and caches
            step()

        def plain(n):
            for _ in range(n):
                step()

        counter = [0]

        def recorded(n):
            writer = tf.summary.create_file_writer(os.path.join(workdir, "tensorcap_%d" % counter[0]))
            counter[0] += 1
            with writer.as_default():
                for i in range(n):
                    with tensorcap.record("step", step=i) as rec:
                        step()
            writer.flush()
            recorded.captures = rec.count

        def debugger(n):
            dump = os.path.join(workdir, "tfdbg_%d" % counter[0])
            counter[0] += 1
            tf.debugging.experimental.enable_dump_debug_info(
                dump, tensor_debug_mode="FULL_TENSOR", circular_buffer_size=-1
            )
            try:
                for _ in range(n):
                    step()
            finally:
                tf.debugging.experimental.disable_dump_debug_info()

        results = {}
        for name, run in (("plain", plain), ("record", recorded), ("debugger", debugger)):
            results[name] = min(timed(run, args.steps) for _ in range(args.repeats))
        written = {mode: _du(workdir, mode) / args.repeats / args.steps for mode in ("tensorcap", "tfdbg")}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    per_step = {k: v / args.steps * 1e3 for k, v in results.items()}
    record_ratio = results["record"] / results["plain"]
    debugger_ratio = results["debugger"] / results["plain"]
    print(
        "steps=%d batch=%d captures_per_step=%d tf=%s cpus=%d"
        % (args.steps, args.batch, recorded.captures, tf.__version__, os.cpu_count())
    )
    for name in ("plain", "record", "debugger"):
        print("%s_ms_per_step=%.3f" % (name, per_step[name]))
    print("record_bytes_per_step=%d debugger_bytes_per_step=%d" % (written["tensorcap"], written["tfdbg"]))
    print("record_overhead_ratio=%.2f" % record_ratio)
    print("debugger_overhead_ratio=%.2f" % debugger_ratio)
    print(
        "record_vs_debugger=%.2f  (TensorCap's overhead / the debugger's; target <= 0.5)"
        % ((record_ratio - 1) / (debugger_ratio - 1))
    )


if __name__ == "__main__":
    main()
