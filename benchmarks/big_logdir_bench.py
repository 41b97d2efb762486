"""Big values and big logdirs, end to end through a real TensorBoard.

Generates `--gigabytes` (default 10) of 4 MB float32 captures (runs x tags x
steps, written straight as TensorCap events) plus, in run "huge", one value
over protobuf's 2 GB limit (`--huge-elements`, default 600,000,000 float32 =
2.4 GB), written in chunks as `tensorcap.capture` does (metadata.py,
"Chunks"). Every value is a known function of its position, so replies are
checked exactly. Then, each against a real `tensorboard` process:

* RSS of TensorBoard (and its data server) on an empty logdir, and on the big
  one once `/index` is complete: the increase is what browsing costs;
* time from start to the first complete `/index` (and the same on the empty
  logdir: TensorBoard's own start-up);
* slice latency: p50 / max of `/value` slices of 4 MB captures, and of a row
  of the 2.4 GB value (its first read joins the chunks);
* the 2.4 GB value read back with `tensorcap.load()` and sliced, exactly.

    python benchmarks/big_logdir_bench.py [--gigabytes 10] [--huge-elements 600000000]

Everything generated is deleted afterwards (the logdir and the index cache).
"""

import argparse
import json
import os
import shutil
import tempfile
import time

import numpy as np
from tensorboard.compat.proto import event_pb2, tensor_shape_pb2, types_pb2

from tb_tensorcap import event_files, metadata

P = "/data/plugin/tensorcap"
MB = 1 << 20
SHAPE = (512, 2048)  # 4 MB of float32
RUNS, TAGS = 4, 4


def _event(tag, step, array, summary_metadata):
    event = event_pb2.Event(step=step, wall_time=1.7e9 + step)
    value = event.summary.value.add(tag=tag)
    value.metadata.CopyFrom(summary_metadata)
    value.tensor.dtype = types_pb2.DT_FLOAT
    value.tensor.tensor_shape.CopyFrom(
        tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in array.shape])
    )
    value.tensor.tensor_content = array.tobytes()
    return event_files.frame_record(event.SerializeToString())


def capture_value(run, tag, step):
    """The 4 MB value of (run, tag, step): exact to check against."""
    base = np.arange(SHAPE[0] * SHAPE[1], dtype=np.float32).reshape(SHAPE) * np.float32(1e-3)
    return base + np.float32(run * 1000 + tag * 100 + step)


def huge_rows(elements):
    return elements // 30000, 30000


def huge_piece(start, stop):
    """Elements start..stop of the huge value (float32 of each position), built in bounded blocks."""
    piece = np.empty(stop - start, np.float32)
    for block in range(start, stop, 1 << 24):
        end = min(stop, block + (1 << 24))
        piece[block - start : end - start] = np.arange(block, end, dtype=np.int64)
    return piece


def make_logdir(logdir, gigabytes, huge_elements):
    steps = max(1, int(gigabytes * 1024 / 4 / (RUNS * TAGS)))
    for run in range(RUNS):
        os.makedirs(os.path.join(logdir, "run%d" % run))
        metas = [
            metadata.create_summary_metadata(source={"file": "bench.py", "line": tag, "function": "f"})
            for tag in range(TAGS)
        ]
        with open(os.path.join(logdir, "run%d" % run, "events.out.tfevents.1.bench"), "wb") as f:
            for step in range(steps):
                for tag in range(TAGS):
                    f.write(_event("layer%d/act" % tag, step, capture_value(run, tag, step), metas[tag]))
    if huge_elements:
        os.makedirs(os.path.join(logdir, "huge"))
        shape = huge_rows(huge_elements)
        total = shape[0] * shape[1]
        per_chunk = metadata.CHUNK_BYTES // 4
        count = -(-total // per_chunk)
        with open(os.path.join(logdir, "huge", "events.out.tfevents.1.bench"), "wb") as f:
            for index in range(count):
                chunk = {"index": index, "count": count, "dtype": "float32", "shape": list(shape)}
                piece = huge_piece(index * per_chunk, min(total, (index + 1) * per_chunk))
                f.write(_event("big", 0, piece, metadata.create_summary_metadata(chunk=chunk)))
    return steps


def _p50(values):
    return float(np.median(values))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gigabytes", type=float, default=10.0)
    parser.add_argument("--huge-elements", type=int, default=600_000_000)
    args = parser.parse_args(argv)

    from servers import TensorBoardProcess

    work = tempfile.mkdtemp(prefix="tensorcap-big-", dir=os.environ.get("TENSORCAP_BENCH_DIR"))
    os.environ["TENSORCAP_CACHE_DIR"] = os.path.join(work, "cache")
    result = {}
    try:
        logdir, empty = os.path.join(work, "logs"), os.path.join(work, "empty")
        os.makedirs(empty)
        began = time.perf_counter()
        steps = make_logdir(logdir, args.gigabytes, args.huge_elements)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(logdir) for f in fs)
        result["logdir_gb"] = round(size / 2**30, 2)
        result["generate_s"] = round(time.perf_counter() - began, 1)
        print(
            "generated %.2f GB in %.0f s; load average %.1f %.1f %.1f"
            % (size / 2**30, result["generate_s"], *os.getloadavg()),
            flush=True,
        )

        began = time.perf_counter()
        with TensorBoardProcess(empty) as server:
            while not server.get_json(P + "/index")[1]["complete"]:
                time.sleep(0.2)
            result["empty_first_complete_index_s"] = round(time.perf_counter() - began, 1)
            result["rss_empty_mb"] = round(server.rss_bytes() / MB)

        began = time.perf_counter()
        with TensorBoardProcess(logdir) as server:
            while True:
                status, index = server.get_json(P + "/index")
                if status == 200 and index["complete"]:
                    break
                time.sleep(0.2)
            result["first_complete_index_s"] = round(time.perf_counter() - began, 1)
            result["index_progress"] = index["progress"]
            result["rss_indexed_mb"] = round(server.rss_bytes() / MB)
            latencies = []
            for i in range(20):
                run, tag, step = i % RUNS, i % TAGS, (i * 7) % steps
                row = (i * 37) % SHAPE[0]
                began = time.perf_counter()
                status, _, body = server.get(
                    "%s/value?run=run%d&tag=layer%d/act&step=%d&slice=%d,:&format=binary" % (P, run, tag, step, row)
                )
                latencies.append(time.perf_counter() - began)
                assert status == 200 and body == capture_value(run, tag, step)[row].tobytes(), (status, body[:200])
            result["slice_4mb_p50_ms"] = round(_p50(latencies) * 1e3, 1)
            result["slice_4mb_max_ms"] = round(max(latencies) * 1e3, 1)
            if args.huge_elements:
                shape = huge_rows(args.huge_elements)
                huge = []
                for row in (0, shape[0] // 2, shape[0] - 1, 7):
                    began = time.perf_counter()
                    status, _, body = server.get(
                        "%s/value?run=huge&tag=big&step=0&slice=%d,:&format=binary" % (P, row), timeout=600
                    )
                    huge.append(time.perf_counter() - began)
                    expected = huge_piece(row * shape[1], (row + 1) * shape[1])
                    assert status == 200 and body == expected.tobytes(), (status, body[:300])
                result["slice_huge_first_ms"] = round(huge[0] * 1e3)
                result["slice_huge_next_p50_ms"] = round(_p50(huge[1:]) * 1e3)
                result["rss_after_huge_mb"] = round(server.rss_bytes() / MB)
        result["rss_increase_mb"] = result["rss_indexed_mb"] - result["rss_empty_mb"]

        if args.huge_elements:
            import tb_tensorcap

            began = time.perf_counter()
            reader = tb_tensorcap.load(logdir)
            value = reader.value("huge", "big", 0)
            assert value.shape == shape and len(reader.info("huge", "big", 0).locations) > 1
            for row in (0, 1234, shape[0] - 1):
                assert np.array_equal(value[row], huge_piece(row * shape[1], (row + 1) * shape[1]))
            column = value[:, 17]
            assert np.array_equal(column, np.arange(17, shape[0] * shape[1], shape[1]).astype(np.float32))
            result["huge_read_back_and_sliced_s"] = round(time.perf_counter() - began, 1)
        print("load average after: %.1f %.1f %.1f (2 cores shared)" % os.getloadavg())
        print(json.dumps(result, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
