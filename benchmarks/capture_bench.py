"""Capture cost against a bare `tf.summary.write` of the same tensor.

Both write the same EagerTensor to the same writer in the same process, in
alternating rounds of calls each ended by the writer's ``flush()`` (at 4 MB
a single write's time swings 3x with the state of the disk's write-back, so
both must see the same state). The flush is timed with its round: TensorCap
writes eager captures from a background thread (`direct_writer`, flushed by
the writer's ``flush()``), TensorFlow from a queue it empties every ten
events, so only a round that ends on disk counts all of the work. The
figure is the ratio of the median per-call times (a round's time over its
calls).

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

CASES = [("400 B", 100, (100, 30), 1.5), ("4 MB", 1 << 20, (30, 10), 1.10)]  # (rounds, calls per round)


def interleaved_seconds(first, second, rounds, calls, flush):
    """Per-call times of `first` and `second`, in alternating rounds of `calls` calls each ended by `flush()`."""
    first_times, second_times = [], []
    step = 0
    for _ in range(rounds):
        for write, times in ((first, first_times), (second, second_times)):
            start = time.perf_counter()
            for _ in range(calls):
                write(step)
                step += 1
            flush()
            times.append((time.perf_counter() - start) / calls)
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

                interleaved_seconds(bare, captured, 2, 5, writer.flush)  # warm-up
                bare_times, capture_times = interleaved_seconds(bare, captured, *calls, writer.flush)
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
