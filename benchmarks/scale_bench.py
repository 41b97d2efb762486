"""Scale: a million small captures, opened, reopened and checked for NaN/Inf.

Generates a logdir of `--runs` runs x `--tags` tags x `--steps` steps of a
16-element float32 value (default 100 x 100 x 100 = 1,000,000 captures; one
NaN planted), written straight as TFRecord events in TensorCap's format (the
same bytes `tensorcap.capture` writes, without TensorFlow's per-call cost),
then measures, each in a new process as a user would meet it:

* cold load: `tensorcap.load()` with an empty index cache (scan + save);
  and the memory it holds per capture (RSS growth / captures);
* reopen: `tensorcap.load()` again, from the saved index;
* alerts cold: `tensorcap alerts` on the logdir never seen (scan + every
  statistic); alerts warm: `tensorcap alerts` again (a new process).

Each figure is printed against the previous release's (issue 14: load 7.3 s,
~500 B per capture, reopen 7.2 s, alerts ~60 s), and with `--baseline-rev`
against that revision's reader measured in this same run (same machine load).
The load average is printed: the machine is shared, and figures move with it.

    python benchmarks/scale_bench.py [--runs 100 --tags 100 --steps 100] [--baseline-rev 7c6011e]

The generated logdir (about 200 MB) and cache are deleted afterwards.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from tensorboard.compat.proto import event_pb2, tensor_shape_pb2, types_pb2

from tb_tensorcap import event_files, metadata

PREVIOUS = {"cold load s": 7.3, "bytes per capture": 500, "reopen s": 7.2, "alerts cold s": 60.0, "alerts warm s": 60.0}
TARGETS = {"cold load s": 6.0, "bytes per capture": 150, "alerts warm s": 3.0}
NUMEL = 16

_MEASURE = r"""
import json, os, sys, time
sys.path[:0] = json.loads(sys.argv[2])
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
import numpy, tensorboard.compat.proto.event_pb2
import tb_tensorcap
try:  # the previous release's alerts lived in queries.py
    from tb_tensorcap import queries
except ImportError:
    from tb_tensorcap import answers as queries
before = rss()
began, cpu = time.perf_counter(), time.process_time()
reader = tb_tensorcap.load(sys.argv[1])
seconds, cpu_seconds = time.perf_counter() - began, time.process_time() - cpu
grown = rss() - before
captures = sum(len(reader.captures(run)) for run in reader.runs())
result = {"seconds": seconds, "cpu_seconds": cpu_seconds, "captures": captures, "rss_bytes": grown}
if len(sys.argv) > 3:
    began, cpu = time.perf_counter(), time.process_time()
    result["alerts"] = len(queries.alerts(reader))
    result["alerts_seconds"] = time.perf_counter() - began + seconds
    result["alerts_cpu_seconds"] = time.process_time() - cpu + cpu_seconds
print(json.dumps(result))
"""


def _metadata_version_1(source):
    """A capture's metadata in format version 1, which the previous release reads too."""
    summary_metadata = metadata.create_summary_metadata(source=source)
    summary_metadata.plugin_data.content = json.dumps({"version": 1, "source": source}).encode()
    return summary_metadata


def make_logdir(logdir, runs, tags, steps):
    """Writes runs x tags x steps captures, each run one event file, as `tensorcap.capture` would."""
    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=NUMEL)])
    nan_at = (runs // 2, tags // 2, steps // 2)  # the one capture holding a NaN
    for run in range(runs):
        run_dir = os.path.join(logdir, "run%03d" % run)
        os.makedirs(run_dir)
        metas = [_metadata_version_1({"file": "train.py", "line": 10 + t, "function": "step"}) for t in range(tags)]
        values = np.random.default_rng(run).standard_normal((tags, NUMEL)).astype(np.float32)
        event = event_pb2.Event()
        value = event.summary.value.add()
        value.tensor.dtype = types_pb2.DT_FLOAT
        value.tensor.tensor_shape.CopyFrom(shape)
        records = [
            event_files.frame_record(
                event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString()
            )
        ]
        for step in range(steps):
            event.step, event.wall_time = step, 1.7e9 + step
            for tag in range(tags):
                current = values[tag] + step
                if (run, tag, step) == nan_at:
                    current = current.copy()
                    current[2] = np.nan
                value.tag = "layer%03d/out" % tag
                value.metadata.CopyFrom(metas[tag])
                value.tensor.tensor_content = current.tobytes()
                records.append(event_files.frame_record(event.SerializeToString()))
        with open(os.path.join(run_dir, "events.out.tfevents.%d.bench" % run), "wb") as f:
            f.write(b"".join(records))


def _measure(logdir, cache, paths, alerts=False):
    env = dict(os.environ, TENSORCAP_CACHE_DIR=cache)
    argv = [sys.executable, "-c", _MEASURE, logdir, json.dumps(paths)] + (["alerts"] if alerts else [])
    out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _cli_alerts(logdir, cache):
    """(wall seconds, CPU seconds, alerts found) of `tensorcap alerts` in a new process."""
    env = dict(os.environ, TENSORCAP_CACHE_DIR=cache)
    began, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(
        [sys.executable, "-m", "tb_tensorcap", "alerts", logdir, "--json"], env=env, capture_output=True, text=True
    )
    seconds, cpu_seconds = time.perf_counter() - began, _children_cpu() - cpu
    if done.returncode not in (0, 1):
        raise RuntimeError("tensorcap alerts failed: %s" % done.stderr[-2000:])
    return seconds, cpu_seconds, len(json.loads(done.stdout)["alerts"])


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _baseline_package(revision, directory):
    """The tb_tensorcap package of `revision` (git), written under `directory`; its sys.path entry."""
    root = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.dirname(os.path.abspath(__file__)),
    ).stdout.strip()
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", revision, "tb_tensorcap/"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    os.makedirs(os.path.join(directory, "tb_tensorcap"))
    for name in names:
        if name.endswith(".py"):
            source = subprocess.run(
                ["git", "show", "%s:%s" % (revision, name)], cwd=root, capture_output=True, check=True
            ).stdout
            with open(os.path.join(directory, name), "wb") as f:
                f.write(source)
    return directory


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--tags", type=int, default=100)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--baseline-rev", help="also measure this git revision's reader in the same run")
    args = parser.parse_args(argv)

    work = tempfile.mkdtemp(prefix="tensorcap-scale-")
    try:
        logdir, cache = os.path.join(work, "logs"), os.path.join(work, "cache")
        began = time.perf_counter()
        make_logdir(logdir, args.runs, args.tags, args.steps)
        total = args.runs * args.tags * args.steps
        print(
            "generated %d captures (%d MB) in %.1f s; load average %s"
            % (
                total,
                sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(logdir) for f in fs) >> 20,
                time.perf_counter() - began,
                "%.1f %.1f %.1f" % os.getloadavg(),
            )
        )
        here = [os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)]
        cold = _measure(logdir, cache, here)
        print(
            "cold load %.2f s (CPU %.2f s), %.0f bytes per capture"
            % (cold["seconds"], cold["cpu_seconds"], cold["rss_bytes"] / total),
            flush=True,
        )
        reopen = _measure(logdir, cache, here)
        print("reopen %.2f s (CPU %.2f s)" % (reopen["seconds"], reopen["cpu_seconds"]), flush=True)
        assert cold["captures"] == reopen["captures"] == total, (cold, reopen)
        shutil.rmtree(cache)
        alerts_cold, alerts_cold_cpu, found = _cli_alerts(logdir, cache)
        print("alerts cold %.2f s (CPU %.2f s)" % (alerts_cold, alerts_cold_cpu), flush=True)
        alerts_warm, alerts_warm_cpu, found_again = _cli_alerts(logdir, cache)
        print("alerts warm %.2f s (CPU %.2f s)" % (alerts_warm, alerts_warm_cpu), flush=True)
        assert found == found_again == 1, (found, found_again)
        figures = {
            "cold load s": (cold["seconds"], cold["cpu_seconds"]),
            "bytes per capture": (cold["rss_bytes"] / total,),
            "reopen s": (reopen["seconds"], reopen["cpu_seconds"]),
            "alerts cold s": (alerts_cold, alerts_cold_cpu),
            "alerts warm s": (alerts_warm, alerts_warm_cpu),
        }
        baseline = {}
        if args.baseline_rev:
            path = _baseline_package(args.baseline_rev, os.path.join(work, "baseline"))
            old = _measure(logdir, os.path.join(work, "unused"), [path], alerts=True)
            assert old["captures"] == total and old["alerts"] == 1, old
            baseline = {
                "cold load s": old["seconds"],
                "bytes per capture": old["rss_bytes"] / total,
                "reopen s": old["seconds"],
                "alerts cold s": old["alerts_seconds"],
                "alerts warm s": old["alerts_seconds"],
            }
        print("load average after: %.1f %.1f %.1f (2 cores shared)" % os.getloadavg())
        print(
            "%-18s %10s %9s %10s %8s %14s %8s" % ("", "now", "now CPU", "previous", "ratio", "same-run base", "ratio")
        )
        for name, (value, *cpu) in figures.items():
            previous, same_run = PREVIOUS[name], baseline.get(name)
            print(
                "%-18s %10.2f %9s %10.1f %7.1fx %14s %8s%s"
                % (
                    name,
                    value,
                    "%.2f" % cpu[0] if cpu else "-",
                    previous,
                    previous / value,
                    "%.2f" % same_run if same_run is not None else "-",
                    "%.1fx" % (same_run / value) if same_run is not None else "-",
                    "   (target <= %g)" % TARGETS[name] if name in TARGETS else "",
                )
            )
        print(json.dumps({"captures": total, "figures": figures, "same_run_baseline": baseline}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
