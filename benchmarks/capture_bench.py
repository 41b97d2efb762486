"""Capture cost against a bare `tf.summary.write` of the same tensor.

Both write the same EagerTensor to the same writer in the same process,
call by call in alternation (at 4 MB a single write's time swings 3x with
the state of the disk's write-back, so both must see the same state); the
figure is the ratio of the median per-call times.

Targets: <= 1.5x at 400 B, <= 1.10x at 4 MB.

    python benchmarks/capture_bench.py
"""

import os
import shutil
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

import tb_tensorcap as tensorcap  # noqa: E402
from tb_tensorcap import metadata  # noqa: E402

CASES = [("400 B", 100, 3000, 1.5), ("4 MB", 1 << 20, 300, 1.10)]


def interleaved_seconds(first, second, calls):
    """Per-call times of `first` and `second`, called alternately."""
    first_times, second_times = [], []
    for step in range(calls):
        for write, times in ((first, first_times), (second, second_times)):
            start = time.perf_counter()
            write(step)
            times.append(time.perf_counter() - start)
    return first_times, second_times


def main():
    logdir = tempfile.mkdtemp(prefix="capture_bench_")
    writer = tf.summary.create_file_writer(logdir)
    bare_metadata = metadata.create_summary_metadata()
    ok = True
    try:
        with writer.as_default():
            for label, numel, calls, target in CASES:
                x = tf.random.normal([numel])

                def bare(step, x=x):
                    return tf.summary.write("bare", x, step=step, metadata=bare_metadata)

                def captured(step, x=x):
                    return tensorcap.capture(x, "captured", step=step)

                interleaved_seconds(bare, captured, 5)  # warm-up
                bare_times, capture_times = interleaved_seconds(bare, captured, calls)
                writer.flush()
                bare_s, capture_s = statistics.median(bare_times), statistics.median(capture_times)
                ratio = capture_s / bare_s
                ok &= ratio <= target
                print(
                    "%-6s bare tf.summary.write %9.1f us   tensorcap.capture %9.1f us   "
                    "ratio %.3f (target <= %.2f) %s"
                    % (label, bare_s * 1e6, capture_s * 1e6, ratio, target, "OK" if ratio <= target else "MISSED")
                )
    finally:
        writer.close()
        shutil.rmtree(logdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
