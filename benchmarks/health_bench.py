"""Always-on capture vs TensorFlow's debuggers, on a small CNN training step.

One conv/pool/dense CNN, SGD, batch 32 (28x28x1 inputs), eager and as a
``tf.function``, timed with:

* ``plain``: nothing on;
* ``record``: ``tensorcap.record()`` (full values of every op output);
* ``health``: ``tensorcap.record(mode="health")`` (statistics only);
* ``flight``: ``tensorcap.FlightRecorder(keep_steps=3)`` (no trigger fires);
* ``flight_no_health``: ``FlightRecorder(keep_steps=3, health=False)``: no
  health record, the "nonfinite" trigger checked with one sum per output;
* ``curt_health``, ``concise_health``, ``full_tensor``: TensorFlow's Debugger V2
  dump (``tf.debugging.experimental.enable_dump_debug_info``) in that mode;
* ``check_numerics``: ``tf.debugging.enable_check_numerics()``.

Every mode runs in a process of its own (TensorFlow crashes when the debugger
is enabled twice in one process, and check_numerics cannot be turned off)
that times the plain step too: TensorCap's modes alternate plain and mode
runs (``--repeats`` pairs; the ratio is the median of the pairs' ratios, so
load drifting on a shared machine hits both alike). The debugger modes and
check_numerics cannot be turned off: eagerly they time plain first, then the
mode (medians); as a ``tf.function`` they alternate too, with the plain
function traced before they were enabled (so not instrumented; only its
call, one eager op, passes their callback).
For ``tf.function`` the mode's function is traced with the mode on (a
function traced before is not instrumented). Each timing includes the final
flush to disk; bytes per step are what the mode wrote (the debugger: its
dump over every step it saw, warm-up included). Each row also gives the
ratio of process CPU time (less sensitive to other processes on a shared
machine than wall time, which the targets are about) and the load average
when the row finished.

Targets (issue 13): health overhead <= curt_health's and its bytes per step
<= curt_health's; flight <= 1.5x plain eager and <= 1.2x as tf.function;
record's overhead <= 0.35x full_tensor's.

    python benchmarks/health_bench.py [--steps 20] [--repeats 3] [--modes health,flight]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

MODES = (
    "record",
    "health",
    "flight",
    "flight_no_health",
    "curt_health",
    "concise_health",
    "full_tensor",
    "check_numerics",
)
_DEBUGGER_MODES = {"curt_health": "CURT_HEALTH", "concise_health": "CONCISE_HEALTH", "full_tensor": "FULL_TENSOR"}


def make_step(batch=32, seed=0):
    """A CNN training step (forward, loss, GradientTape backward, SGD update) as a Python function."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    def variable(shape, name, scale):
        return tf.Variable(rng.normal(0, scale, shape).astype(np.float32), name=name)

    conv1 = variable((3, 3, 1, 16), "conv1/kernel", 0.3)
    conv2 = variable((3, 3, 16, 32), "conv2/kernel", 0.1)
    dense = variable((7 * 7 * 32, 10), "dense/kernel", 0.03)
    bias = tf.Variable(np.zeros(10, np.float32), name="dense/bias")
    weights = [conv1, conv2, dense, bias]
    x = tf.constant(rng.normal(size=(batch, 28, 28, 1)).astype(np.float32))
    y = tf.constant(rng.integers(0, 10, batch))

    def step():
        with tf.GradientTape() as tape:
            with tf.name_scope("conv1"):
                h = tf.nn.max_pool2d(tf.nn.relu(tf.nn.conv2d(x, conv1, 1, "SAME")), 2, 2, "VALID")
            with tf.name_scope("conv2"):
                h = tf.nn.max_pool2d(tf.nn.relu(tf.nn.conv2d(h, conv2, 1, "SAME")), 2, 2, "VALID")
            with tf.name_scope("dense"):
                logits = tf.matmul(tf.reshape(h, (batch, -1)), dense) + bias
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        grads = tape.gradient(loss, weights)
        for w, g in zip(weights, grads):
            w.assign_sub(0.01 * g)
        return loss

    return step


def _du(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def child(mode, graph, steps, repeats, workdir):
    """Times plain, then `mode`, in this process; prints one JSON line."""
    import tensorflow as tf

    import tb_tensorcap as tensorcap

    python_step = make_step()

    def fresh():
        return tf.function(python_step) if graph else python_step

    plain_step = fresh()
    for _ in range(5):
        plain_step()

    out = os.path.join(workdir, mode)
    os.makedirs(out)

    cpu = {}

    def timed(run):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        cpu.setdefault(run, []).append((time.process_time() - start_cpu) / steps)
        return (time.perf_counter() - start) / steps

    def plain():
        for _ in range(steps):
            plain_step()

    mode_step = {}

    # One writer for the process: a function traced in a block keeps the writer it was traced with.
    writer = tf.summary.create_file_writer(out)

    def with_tensorcap():
        recorder = (
            tensorcap.FlightRecorder(keep_steps=3, writer=writer, health=mode == "flight")
            if mode.startswith("flight")
            else None
        )
        step_fn = mode_step.setdefault("fn", fresh())  # traced inside the first block
        for i in range(steps):
            block = (
                recorder.record("cnn", step=i)
                if recorder is not None
                else tensorcap.record("cnn", step=i, writer=writer, mode="health" if mode == "health" else "full")
            )
            with block:
                step_fn()
        writer.flush()
        tensorcap.flush()  # record() writes from a background thread: the timing includes all of it
        if recorder is not None and recorder.triggered:
            raise AssertionError("the flight recorder fired on a clean step")

    def with_check_numerics():
        if "on" not in mode_step:
            tf.debugging.enable_check_numerics()
            mode_step["on"] = fresh()
        for _ in range(steps):
            mode_step["on"]()

    if mode in _DEBUGGER_MODES or mode == "check_numerics":
        # Neither can be turned off. Eagerly: plain first, then the mode. A tf.function traced before
        # they are enabled is not instrumented, so as a tf.function plain and the mode alternate.
        plain_times = [] if graph else [timed(plain) for _ in range(repeats)]
        if mode == "check_numerics":
            with_check_numerics()  # enables, traces
            run_mode, written = with_check_numerics, None
        else:
            dump = os.path.join(out, "dump")
            tf.debugging.experimental.enable_dump_debug_info(
                dump, tensor_debug_mode=_DEBUGGER_MODES[mode], circular_buffer_size=-1
            )
            mode_step["on"] = fresh()
            for _ in range(5):  # warm-up (traces)
                mode_step["on"]()

            def run_mode():
                for _ in range(steps):
                    mode_step["on"]()

        mode_times = []
        for _ in range(repeats):
            if graph:
                plain_times.append(timed(plain))
            mode_times.append(timed(run_mode))
        if mode != "check_numerics":
            tf.debugging.experimental.disable_dump_debug_info()  # flushes
            written = _du(dump) / (steps * repeats + 5)  # the dump of every step it saw, warm-up included
        ratios = (
            [m / p for p, m in zip(plain_times, mode_times)]
            if graph
            else [statistics.median(mode_times) / statistics.median(plain_times)]
        )
        cpu_ratios = (
            [m / p for p, m in zip(cpu[plain], cpu[run_mode])]
            if graph
            else [statistics.median(cpu[run_mode]) / statistics.median(cpu[plain])]
        )
        written = written or 0
    else:
        # Plain and the mode alternate, so that the machine's load drifts into both alike.
        with_tensorcap()  # traces, first writes
        plain_times, mode_times, ratios = [], [], []
        before = _du(out)
        for _ in range(repeats):
            plain_times.append(timed(plain))
            mode_times.append(timed(with_tensorcap))
            ratios.append(mode_times[-1] / plain_times[-1])
        written = (_du(out) - before) / (steps * repeats)
        cpu_ratios = [m / p for p, m in zip(cpu[plain], cpu[with_tensorcap])]
    row = {
        "mode": mode,
        "graph": graph,
        "plain_ms": statistics.median(plain_times) * 1e3,
        "mode_ms": statistics.median(mode_times) * 1e3,
        "ratio": statistics.median(ratios),
        "cpu_ratio": statistics.median(cpu_ratios),
        "bytes_per_step": written,
        "load": " ".join(open("/proc/loadavg").read().split()[:3]),
    }
    print(json.dumps(row))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3, help="plain/mode pairs (the debugger modes: one timed run)")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--graph", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.graph, args.steps, args.repeats, args.workdir)
        return
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error("unknown modes: %s (choose from %s)" % (", ".join(sorted(unknown)), ", ".join(MODES)))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    rows = []
    for graph in (False, True):
        for mode in modes:
            # The previous mode's writes reach the disk first, so that their writeback does not slow this one.
            os.sync()
            workdir = tempfile.mkdtemp(prefix="health_bench_")
            try:
                command = [
                    sys.executable,
                    __file__,
                    "--child",
                    mode,
                    "--steps",
                    str(args.steps),
                    "--repeats",
                    str(args.repeats),
                    "--workdir",
                    workdir,
                ] + (["--graph"] if graph else [])
                done = subprocess.run(command, env=env, capture_output=True, text=True)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            if done.returncode or not lines:
                print(
                    "%s %s failed (exit %d):\n%s"
                    % ("tf.function" if graph else "eager", mode, done.returncode, done.stderr[-2000:]),
                    file=sys.stderr,
                )
                continue
            rows.append(json.loads(lines[-1]))
            _print_row(rows[-1])
    _print_targets(rows)


def _print_row(row):
    print(
        "%-11s %-16s plain_ms=%7.2f mode_ms=%8.2f ratio=%6.2f cpu_ratio=%6.2f bytes_per_step=%d load=%s"
        % (
            "tf.function" if row["graph"] else "eager",
            row["mode"],
            row["plain_ms"],
            row["mode_ms"],
            row["ratio"],
            row["cpu_ratio"],
            row["bytes_per_step"],
            row["load"],
        ),
        flush=True,
    )


def _print_targets(rows):
    ratio = {(r["graph"], r["mode"]): r["ratio"] for r in rows}
    written = {(r["graph"], r["mode"]): r["bytes_per_step"] for r in rows}
    for graph in (False, True):
        kind = "tf.function" if graph else "eager"

        def check(name, ok):
            print("%s %s: %s" % (kind, name, "met" if ok else "NOT met"))

        if (graph, "health") in ratio and (graph, "curt_health") in ratio:
            check(
                "health overhead <= curt_health overhead (%.2f vs %.2f)"
                % (ratio[graph, "health"] - 1, ratio[graph, "curt_health"] - 1),
                ratio[graph, "health"] <= ratio[graph, "curt_health"],
            )
            check(
                "health bytes/step <= curt_health's (%d vs %d)"
                % (written[graph, "health"], written[graph, "curt_health"]),
                written[graph, "health"] <= written[graph, "curt_health"],
            )
        for flight in ("flight", "flight_no_health"):
            if (graph, flight) in ratio:
                limit = 1.2 if graph else 1.5
                check("%s <= %.1fx plain (%.2f)" % (flight, limit, ratio[graph, flight]), ratio[graph, flight] <= limit)
        if (graph, "record") in ratio and (graph, "full_tensor") in ratio:
            share = (ratio[graph, "record"] - 1) / max(ratio[graph, "full_tensor"] - 1, 1e-9)
            check("record overhead <= 0.35x full_tensor's (%.2f)" % share, share <= 0.35)


if __name__ == "__main__":
    main()
