"""The health overview (`/health`) of a big health-mode run: 1,000 tags x 10,000 steps.

Writes a run of health records straight as TensorCap events (one record per
step, a row per tag: what `record(mode="health")` writes for a model of
`--tags` op outputs), with NaN planted at one (tag, step), then measures,
each in this process:

* the cold scan (`Reader.refresh`: 10 million statistics-only captures) and
  the reopen of the saved index in a new `Reader`;
* the first lookup of the reopened index (its (tag, step) view, built once
  and shared by every route);
* `answers.health` (what the `/health` route answers): the first answer,
  the same question again (a kept reply; median of `--repeats`), and the
  reply's size as JSON, checking that the planted NaN's cell is flagged and
  opens it; at the route's default size (200 x 400) and at what the tab asks
  on a 1,200-pixel-wide panel (400 columns x 1,000 rows).

    python benchmarks/health_overview_bench.py [--tags 1000] [--steps 10000]

The logdir and the index cache are deleted afterwards.
"""

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time

import numpy as np
from tensorboard.compat.proto import event_pb2, tensor_shape_pb2, types_pb2

from tb_tensorcap import answers, event_files, metadata, reader

WIDTH = len(metadata.HEALTH_FIELDS)


def write_run(run_dir, tags, steps, bad):
    """One health record per step; tag t at step s has max |x| = (t + 1) * 10**(s % 7 - 3); NaN at `bad`."""
    os.makedirs(run_dir)
    names = ["model/block_%03d/layer_%d/Conv2D" % (t // 10, t % 10) for t in range(tags)]
    health_metadata = metadata.create_health_metadata(
        [(name, "float32", 2, 0, -1) for name in names], [{"file": "train.py", "line": 12, "function": "step"}]
    )
    rows = np.zeros((tags, WIDTH + 2), np.float64)
    rows[:, 0] = 64  # numel: 8 x 8
    rows[:, WIDTH:] = 8
    scale = np.arange(1, tags + 1, dtype=np.float64)
    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=rows.size)])
    path = os.path.join(run_dir, "events.out.tfevents.1.bench")
    with open(path, "wb") as f:
        f.write(
            event_files.frame_record(event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString())
        )
        for step in range(steps):
            magnitude = scale * 10.0 ** (step % 7 - 3)
            rows[:, 1] = 0
            rows[:, 5], rows[:, 6], rows[:, 7], rows[:, 8] = -magnitude / 2, magnitude, magnitude / 4, magnitude / 3
            if step == bad[1]:
                rows[bad[0], 1] = 3
            event = event_pb2.Event(step=step, wall_time=1.7e9 + step)
            value = event.summary.value.add(tag="model/_health")
            value.metadata.CopyFrom(health_metadata)
            value.tensor.dtype = types_pb2.DT_DOUBLE
            value.tensor.tensor_shape.CopyFrom(shape)
            value.tensor.tensor_content = rows.tobytes()
            f.write(event_files.frame_record(event.SerializeToString()))
    return names, os.path.getsize(path)


def timed(function, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def check(reply, names, bad):
    """The planted NaN's cell is flagged and a click on it opens that capture."""
    tag_row = next(
        k for k, r in enumerate(reply["rows"]) if names.index(r["first"]) <= bad[0] <= names.index(r["last"])
    )
    column = next(k for k, c in enumerate(reply["columns"]) if c["first"] <= bad[1] <= c["last"])
    cell = tag_row * len(reply["columns"]) + column
    assert reply["flags"][cell] & 1, "the NaN cell is not flagged"
    assert reply["open"][cell] == [bad[0], bad[1]], reply["open"][cell]
    assert sum(1 for f in reply["flags"] if f and f & 1) == 1, "one cell holds the NaN"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="health_overview_bench_")
    cache = os.path.join(work, "cache")
    bad = (args.tags * 7 // 9, args.steps * 7 // 8)
    try:
        start = time.perf_counter()
        names, size = write_run(os.path.join(work, "logdir", "train"), args.tags, args.steps, bad)
        print(
            "wrote %d tags x %d steps (%.0f MB) in %.1f s"
            % (args.tags, args.steps, size / 1e6, time.perf_counter() - start)
        )
        cold, scanned = timed(lambda: _opened(os.path.join(work, "logdir"), cache), 1)
        scanned.save()
        print("cold scan: %.1f s, %d captures, load %s" % (cold, scanned.count(), _load()))
        del scanned
        reopen, index = timed(lambda: _opened(os.path.join(work, "logdir"), cache), 1)
        print("reopen (saved index): %.2f s" % reopen)
        lookup, _ = timed(lambda: index.tags("train"), 1)
        print("first lookup of the reopened index (built once, for every route): %.2f s" % lookup)
        for max_steps, max_tags in ((answers.DEFAULT_HEALTH_STEPS, answers.DEFAULT_HEALTH_TAGS), (400, 1000)):
            first, reply = timed(lambda: answers.health(index, "train", max_steps, max_tags), 1)
            again, _ = timed(lambda: answers.health(index, "train", max_steps, max_tags), args.repeats)
            check(reply, names, bad)
            print(
                "/health max_steps=%d max_tags=%d: %.2f s, again (kept reply) %.4f s, reply %.2f MB as JSON, "
                "%d x %d cells, load %s"
                % (
                    max_steps,
                    max_tags,
                    first,
                    again,
                    len(json.dumps(reply)) / 1e6,
                    len(reply["rows"]),
                    len(reply["columns"]),
                    _load(),
                )
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _opened(logdir, cache):
    index = reader.Reader(logdir, cache_dir=cache)
    index.refresh()
    return index


def _load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


if __name__ == "__main__":
    main()
