"""Where health mode and the flight recorder spend a `tf.function` step's time, part by part.

The CNN training step of `health_bench.py` as a ``tf.function``, in one
process. Each variant's function is traced once, in a block of its kind;
then plain and every variant run in rotation (``--steps`` steps each, for
``--rounds`` rounds), so load drifting on a shared machine hits them alike.
A variant's figure is the median over rounds of its time per step divided
by the plain step's in the same round, by wall time and by process CPU time.

Variants, each adding one part to the one before it:

* ``block``: the function traced before any block, called in a health
  block: only the call and its outputs are captured (the block's host side:
  entering and leaving it, the call's lineage, the health record).
* ``handed_over``: traced in a health block, so every instrumented output
  goes to the `numpy_function` the trace ends with, but no statistics are
  computed (`host_stats.host_rows` replaced by zeros while it runs): the
  cost of handing the outputs over, which keeps them alive to the end of
  the step.
* ``health``: ``record(mode="health")``: the statistics too.
* ``flight_no_health``: ``FlightRecorder(keep_steps=3, health=False)``:
  no statistics, the non-finite check, three steps' values kept.
* ``flight``: ``FlightRecorder(keep_steps=3)``: statistics and values.

    python benchmarks/traced_health_bench.py [--steps 20] [--rounds 8]
"""

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tb_tensorcap as tensorcap  # noqa: E402
from tb_tensorcap import host_stats, metadata  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import health_bench  # noqa: E402

VARIANTS = ("block", "handed_over", "health", "flight_no_health", "flight")


def _zero_rows(arrays):
    """What `host_stats.host_rows` returns, without reading the arrays: rows of zeros."""
    return np.zeros(sum(len(metadata.HEALTH_FIELDS) + np.ndim(a) for a in arrays), np.float64)


@contextlib.contextmanager
def _no_statistics():
    real = host_stats.host_rows
    host_stats.host_rows = _zero_rows
    try:
        yield
    finally:
        host_stats.host_rows = real


class Variant:
    """One variant: its function, traced in its first block, and its blocks."""

    def __init__(self, name, python_step, writer):
        self.name = name
        self._writer = writer
        self._recorder = (
            tensorcap.FlightRecorder(keep_steps=3, writer=writer, health=name == "flight")
            if name.startswith("flight")
            else None
        )
        self._function = tf.function(python_step)
        if name == "block":
            self._function()  # traced outside any block: not instrumented
        self._step = 0
        self.run(1)

    def run(self, steps):
        with _no_statistics() if self.name == "handed_over" else contextlib.nullcontext():
            for _ in range(steps):
                with self._block():
                    self._function()
                self._step += 1
        self._writer.flush()
        if self._recorder is not None and self._recorder.triggered:
            raise AssertionError("the flight recorder fired on a clean step")

    def _block(self):
        prefix = "cnn_" + self.name
        if self._recorder is not None:
            return self._recorder.record(prefix, step=self._step)
        return tensorcap.record(prefix, step=self._step, writer=self._writer, mode="health")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    python_step = health_bench.make_step()
    plain = tf.function(python_step)
    plain()
    with tempfile.TemporaryDirectory(prefix="traced_health_bench_") as logdir:
        writer = tf.summary.create_file_writer(logdir)
        variants = [Variant(name, python_step, writer) for name in VARIANTS]

        def run_plain(steps):
            for _ in range(steps):
                plain()

        runs = [("plain", run_plain)] + [(v.name, v.run) for v in variants]
        times = {name: [] for name, _ in runs}
        for round_ in range(args.rounds + 1):  # round 0 warms up
            for name, run in runs:
                wall, cpu = time.perf_counter(), time.process_time()
                run(args.steps)
                if round_:
                    times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
        load = " ".join(open("/proc/loadavg").read().split()[:3])
    wall, cpu = (statistics.median(t[k] for t in times["plain"]) / args.steps * 1e3 for k in (0, 1))
    print("plain: %.2f ms/step wall, %.2f ms CPU; load %s" % (wall, cpu, load))
    previous = 1.0
    for name in VARIANTS:
        wall = statistics.median(m[0] / p[0] for m, p in zip(times[name], times["plain"]))
        cpu = statistics.median(m[1] / p[1] for m, p in zip(times[name], times["plain"]))
        added = "" if name.startswith("flight") else "  (+%.2f over the variant before)" % (cpu - previous)
        print("%-17s wall %.2fx  CPU %.2fx%s" % (name, wall, cpu, added))
        previous = cpu


if __name__ == "__main__":
    main()
