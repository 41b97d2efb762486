"""Serving cost of the TensorCap tab, against TensorBoard reading captures itself.

1. Memory: a 1 GB logdir (16 tags x 16 steps x 4 MB float32). TensorBoard
   with TensorCap (values read lazily, TensorBoard keeping one sample per tag)
   is browsed: every tag's stats (so every byte is read once), 64 value
   slices and histograms. The baseline is the same logdir with
   `--samples_per_plugin=tensorcap=0`, TensorBoard's own way to keep every
   step, which holds them all in RAM. The figure is the peak resident memory
   of TensorBoard and its children (the Rust data server) while browsing.
   Both are measured with TensorFlow blocked in TensorBoard's process (a
   serving environment with only TensorBoard installed) and with TensorFlow
   importable (TensorBoard then imports it at start, ~470 MB on its own).
2. Index latency: `/index` over 10,000 tags (median of 10).
3. Slice latency: a 2-D slice `3,:,:` (4 MB) of a 64 MB float32 tensor of
   shape 16x1024x1024, binary, never cached (median of 10).

Targets: RSS < 300 MB while browsing 1 GB; index <= 500 ms; slice <= 100 ms.

    python benchmarks/serve_bench.py
"""

import os
import shutil
import statistics
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from servers import TensorBoardProcess  # noqa: E402

import tb_tensorcap as tensorcap  # noqa: E402

P = "/data/plugin/tensorcap"
MB = 1 << 20


def write_captures(logdir, run, tags, steps, make_value):
    writer = tf.summary.create_file_writer(os.path.join(logdir, run))
    with writer.as_default():
        for step in range(steps):
            for tag in tags:
                tensorcap.capture(make_value(step), tag, step=step)
    writer.close()


class PeakRss:
    """Samples a server's total RSS every 50 ms in the background."""

    def __init__(self, server):
        self.server, self.peak, self._stop = server, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.server.rss_bytes())
            time.sleep(0.05)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak


def wait_index(server):
    while True:
        status, index = server.get_json(P + "/index")
        assert status == 200
        if index["complete"]:
            return index
        time.sleep(0.2)


def browse_tensorcap(server, tags, steps):
    wait_index(server)
    for tag in tags:
        status, stats = server.get_json(P + "/stats?run=big&tag=" + tag)
        assert status == 200 and len(stats["steps"]) == steps, stats
    for i in range(64):
        tag, step = tags[i % len(tags)], (i * 7) % steps
        status, _, body = server.get(
            P + "/value?run=big&tag=%s&step=%d&slice=%d:%d&format=binary" % (tag, step, i, i + 64)
        )
        assert status == 200 and len(body) == 64 * 4
        assert server.get(P + "/histogram?run=big&tag=%s&step=%d" % (tag, step))[0] == 200


def wait_loaded(server, seconds_stable=3.0):
    """Waits until TensorBoard's own ingestion stops growing (naive baseline)."""
    last, stable_since = -1, time.monotonic()
    while time.monotonic() - stable_since < seconds_stable:
        rss = server.rss_bytes()
        if abs(rss - last) > 4 * MB:
            last, stable_since = rss, time.monotonic()
        time.sleep(0.25)


def memory(root):
    logdir = os.path.join(root, "one_gb")
    tags, steps = ["layer%02d/out" % i for i in range(16)], 16
    rng = np.random.default_rng(0)
    base = rng.standard_normal(MB, dtype=np.float32)
    write_captures(logdir, "big", tags, steps, lambda step: base + step)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(logdir) for f in fs)
    print("logdir: %.2f GB, %d tags x %d steps x 4 MB" % (size / 1e9, len(tags), steps))
    ok = True
    for block_tensorflow in (True, False):
        label = "TensorFlow blocked" if block_tensorflow else "TensorFlow importable"
        with TensorBoardProcess(logdir, block_tensorflow=block_tensorflow) as server:
            sampler = PeakRss(server)
            browse_tensorcap(server, tags, steps)
            tensorcap_peak = sampler.stop()
        with TensorBoardProcess(
            logdir, block_tensorflow=block_tensorflow, extra_args=["--samples_per_plugin=tensorcap=0"]
        ) as server:
            sampler = PeakRss(server)
            wait_loaded(server)
            naive_peak = sampler.stop()
        print(
            "RSS (%s): TensorCap %.0f MB peak while browsing; naive tensorcap=0 %.0f MB; "
            "ratio %.2f" % (label, tensorcap_peak / MB, naive_peak / MB, tensorcap_peak / naive_peak)
        )
        if block_tensorflow:
            ok &= tensorcap_peak < 300 * MB
            print(
                "  target < 300 MB (TensorBoard without TensorFlow): %s"
                % ("OK" if tensorcap_peak < 300 * MB else "MISSED")
            )
    return ok


def latency(root):
    logdir = os.path.join(root, "latency")
    for run in range(10):
        write_captures(
            logdir,
            "run%d" % run,
            ["scope%02d/tag%03d" % (t // 100, t) for t in range(1000)],
            1,
            lambda step: np.float32(step),
        )
    cube = np.random.default_rng(1).standard_normal((16, 1024, 1024), dtype=np.float32)
    write_captures(logdir, "cube", ["cube"], 1, lambda step: cube)
    ok = True
    with TensorBoardProcess(logdir, block_tensorflow=True) as server:
        index = wait_index(server)
        assert sum(len(tags) for tags in index["runs"].values()) == 10001
        index_times, slice_times = [], []
        for _ in range(10):
            start = time.perf_counter()
            assert server.get(P + "/index")[0] == 200
            index_times.append(time.perf_counter() - start)
        for i in range(10):
            start = time.perf_counter()
            status, _, body = server.get(P + "/value?run=cube&tag=cube&step=0&slice=%d,:,:&format=binary" % i)
            slice_times.append(time.perf_counter() - start)
            assert status == 200 and np.array_equal(np.frombuffer(body, "<f4").reshape(1024, 1024), cube[i])
    index_ms, slice_ms = statistics.median(index_times) * 1e3, statistics.median(slice_times) * 1e3
    ok &= index_ms <= 500 and slice_ms <= 100
    print(
        "index over 10,001 tags: %.0f ms median (target <= 500 ms, ratio to target %.2f) %s"
        % (index_ms, index_ms / 500, "OK" if index_ms <= 500 else "MISSED")
    )
    print(
        "2-D slice of a 64 MB tensor: %.0f ms median (target <= 100 ms, ratio to target %.2f) %s"
        % (slice_ms, slice_ms / 100, "OK" if slice_ms <= 100 else "MISSED")
    )
    return ok


def main():
    root = tempfile.mkdtemp(prefix="serve_bench_")
    try:
        ok = memory(root)
        ok &= latency(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
