"""Serving cost of the tab's views over many steps and many slices, through a real TensorBoard.

1. Small multiples: the 64 channels of an 8 x 128 x 128 x 64 float32
   activation (32 MB) as one `/facets` reply (pooled to the tab's 131,072
   cells), against the baseline of 64 `/value` requests, one per channel
   (what drawing the grid would cost without the route).
2. Histograms over steps: a tag of 3,000 steps x 4,096 values as one
   `/histograms` reply (100 steps shown, 30 bins), against the baseline of
   100 `/histogram` requests for the same steps.
3. Tag statistics: `/tagstats` over 10,000 tags, against `/index` over the
   same tags (the request the sidebar makes anyway), measured in the same run.

Latencies are medians of 5 (warm: statistics computed, files in the page
cache). Targets: /facets <= 0.5x the 64 requests; /histograms <= 0.5x the
100 requests; /tagstats <= 2x /index at 10,000 tags.

    python benchmarks/views_bench.py
"""

import os
import statistics
import tempfile
import time

import numpy as np
from servers import TensorBoardProcess

import tb_tensorcap as tensorcap

P = "/data/plugin/tensorcap"
CHANNELS = 64
HIST_STEPS = 3000
MANY_TAGS = 10000


def write(logdir):
    rng = np.random.default_rng(0)
    with tensorcap.Writer(os.path.join(logdir, "act")) as writer, writer.as_default():
        tensorcap.capture(rng.standard_normal((8, 128, 128, CHANNELS), np.float32), "conv/act", step=0, axes="NHWC")
    with tensorcap.Writer(os.path.join(logdir, "hist")) as writer, writer.as_default():
        for step in range(HIST_STEPS):
            tensorcap.capture(rng.standard_normal(4096, np.float32) * (1 + step / 1000), "w", step=step)
    with tensorcap.Writer(os.path.join(logdir, "many")) as writer, writer.as_default():
        for i in range(MANY_TAGS):
            tensorcap.capture(np.float32(i), "g%03d/t%05d" % (i // 100, i), step=0)


def median_seconds(action, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fetch(server, path):
    status, _, body = server.get(P + path)
    assert status == 200, (path, status, body[:300])
    return len(body)


def main():
    with tempfile.TemporaryDirectory() as logdir:
        write(logdir)
        with TensorBoardProcess(logdir) as server:
            while not server.get_json(P + "/tagstats")[1]["complete"]:
                time.sleep(0.5)
            facets = "/facets?run=act&tag=conv/act&step=0&slice=0,:,:,0&axis=3&max_cells=131072&format=binary"
            one = lambda c: "/value?run=act&tag=conv/act&step=0&slice=0,:,:,%d&max_cells=1048576&format=binary" % c  # noqa: E731
            facet_bytes = fetch(server, facets)
            facet_s = median_seconds(lambda: fetch(server, facets))
            channels_s = median_seconds(lambda: [fetch(server, one(c)) for c in range(CHANNELS)])
            print(
                "small multiples, 64 channels: /facets %.1f ms (%d KB) vs 64 x /value %.1f ms: %.2fx"
                % (facet_s * 1e3, facet_bytes >> 10, channels_s * 1e3, facet_s / channels_s)
            )

            _, reply = server.get_json(P + "/histograms?run=hist&tag=w&bins=30&max_steps=100")
            shown = [row["step"] for row in reply["steps"]]
            hist_bytes = fetch(server, "/histograms?run=hist&tag=w&bins=30&max_steps=100")
            hist_s = median_seconds(lambda: fetch(server, "/histograms?run=hist&tag=w&bins=30&max_steps=100"))
            single_s = median_seconds(
                lambda: [fetch(server, "/histogram?run=hist&tag=w&bins=30&step=%d" % s) for s in shown], repeats=3
            )
            print(
                "histograms over %d steps (%d shown): /histograms %.1f ms (%d KB) vs %d x /histogram %.1f ms: %.2fx"
                % (
                    HIST_STEPS,
                    len(shown),
                    hist_s * 1e3,
                    hist_bytes >> 10,
                    len(shown),
                    single_s * 1e3,
                    hist_s / single_s,
                )
            )

            stats_bytes = fetch(server, "/tagstats")
            stats_s = median_seconds(lambda: fetch(server, "/tagstats"))
            index_s = median_seconds(lambda: fetch(server, "/index"))
            print(
                "tag statistics over %d tags: /tagstats %.1f ms (%d KB) vs /index %.1f ms: %.2fx"
                % (MANY_TAGS + 2, stats_s * 1e3, stats_bytes >> 10, index_s * 1e3, stats_s / index_s)
            )


if __name__ == "__main__":
    main()
