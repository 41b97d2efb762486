"""The TensorFlow-free capture path against a bare `tf.summary.write`.

Captures the same numpy value N times through `plain_capture.capture` (the
path taken without TensorFlow: TensorBoard's event writer, a
`tensorcap.Writer`) and through a bare ``tf.summary.write`` to a
``tf.summary`` file writer, each followed by a flush; the figure is the ratio
of the total times (the TensorFlow-free writer queues events for a background
thread, so per-call times would not compare). Rounds alternate between the
two; the median round counts.

Targets: <= 2.0x at 400 B, <= 1.2x at 4 MB.

    python benchmarks/plain_capture_bench.py
"""

import os
import shutil
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tb_tensorcap as tensorcap  # noqa: E402
from tb_tensorcap import metadata, plain_capture  # noqa: E402

CASES = [("400 B", 100, 1000, 2.0), ("4 MB", 1 << 20, 40, 1.2)]
ROUNDS = 5


def main():
    root = tempfile.mkdtemp(prefix="plain_capture_bench-")
    try:
        for label, numel, calls, target in CASES:
            value = np.random.default_rng(0).normal(size=numel).astype(np.float32)
            plain_writer = tensorcap.Writer(os.path.join(root, label, "plain"))
            tf_writer = tf.summary.create_file_writer(os.path.join(root, label, "tf"))
            md = metadata.create_summary_metadata().SerializeToString()

            def plain_round():
                for step in range(calls):
                    plain_capture.capture(value, "x", step=step, writer=plain_writer)
                plain_writer.flush()

            def tf_round():
                with tf_writer.as_default():
                    for step in range(calls):
                        tf.summary.write("x", value, step=step, metadata=md)
                tf_writer.flush()

            plain_times, tf_times = [], []
            for _ in range(ROUNDS):
                for run, times in ((plain_round, plain_times), (tf_round, tf_times)):
                    start = time.perf_counter()
                    run()
                    times.append(time.perf_counter() - start)
            plain, baseline = statistics.median(plain_times), statistics.median(tf_times)
            ratio = plain / baseline
            print(
                "%-6s plain %8.1f us/capture   tf.summary.write %8.1f us/capture   ratio %.2fx (target <= %.1fx) %s"
                % (
                    label,
                    plain / calls * 1e6,
                    baseline / calls * 1e6,
                    ratio,
                    target,
                    "ok" if ratio <= target else "OVER",
                )
            )
            plain_writer.close()
            tf_writer.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
