"""Load: concurrent clients fetching values and diffs from a real TensorBoard.

A generated logdir (two runs "a" and "b", 8 steps of a 256x256 float32 tag
"act" and a 4096-element float64 tag "vec") is served by a real `tensorboard`
process on loopback (benchmarks/servers.py). Then:

1. Baseline: one client, one keep-alive connection, for `--baseline-seconds`.
2. Load: `--clients` threads (default 16), each with its own keep-alive
   connection, for `--seconds` (default 60).

Each request is drawn at random from binary `/value` (whole values and
slices), pooled `/value` (`max_cells`), binary `/diff` (slices) and
stats-only `/diff` (`values=0`). Every reply body is checked against numpy:
a wrong body counts as an error, as do exceptions and any status but 200.

Reported: requests, throughput (requests/s), p50/p99 latency, errors and 5xx,
and the ratio of p99 under load to the single-client p50 of the same run.

    python benchmarks/load_bench.py [--seconds 60] [--clients 16] [--logdir DIR]

Exit status 1 if any request failed.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

P = "/data/plugin/tensorcap"
RUNS = ("a", "b")
STEPS = 8
SHAPE = (256, 256)
VEC = 4096
S = slice
# (slice text, the same index in Python) applied to "act".
SLICES = [
    ("", ()),
    ("3:9", (S(3, 9),)),
    ("::4, ::4", (S(None, None, 4), S(None, None, 4))),
    ("100, :", (100, S(None))),
    (":, 7", (S(None), 7)),
    ("0:64, 0:64", (S(0, 64), S(0, 64))),
    ("::-1, 5", (S(None, None, -1), 5)),
    ("-1, -16:", (-1, S(-16, None))),
]


def act_value(run, step):
    x = np.arange(SHAPE[0] * SHAPE[1], dtype=np.float32).reshape(SHAPE) / 1000 + step
    if run == "b":
        x[::7, ::5] += 0.25
    return x


def vec_value(run, step):
    return np.linspace(-1, 1, VEC) * (step + 1) + (0.5 if run == "b" else 0.0)


def make_logdir(logdir):
    """Writes the runs the clients read (needs TensorFlow)."""
    import tensorflow as tf

    import tb_tensorcap as tensorcap

    for run in RUNS:
        writer = tf.summary.create_file_writer(os.path.join(logdir, run))
        for step in range(STEPS):
            tensorcap.capture(act_value(run, step), "act", step=step, writer=writer)
            tensorcap.capture(vec_value(run, step), "vec", step=step, writer=writer)
        writer.close()


def _exact(expected):
    body = np.ascontiguousarray(expected).tobytes()
    return lambda reply, headers: reply == body


def _close(expected, rtol=1e-6):
    def check(reply, headers):
        got = np.frombuffer(reply, np.float32)
        return got.size == expected.size and np.allclose(got, expected.reshape(-1), rtol=rtol, atol=0)

    return check


def _diff_stats(numel, allclose):
    def check(reply, headers):
        stats = json.loads(reply)["stats"]
        return stats["numel"] == numel and stats["allclose"] is allclose

    return check


def request_set():
    """[(path, check(body, headers) -> bool)] of every request a client may make."""
    items = []

    def url(route, **params):
        return P + route + "?" + urllib.parse.urlencode(params)

    for step in range(STEPS):
        for run in RUNS:
            act = act_value(run, step)
            for text, index in SLICES:
                items.append(
                    (url("/value", run=run, tag="act", step=step, slice=text, format="binary"), _exact(act[index]))
                )
            pooled = act.astype(np.float64).reshape(32, 8, 32, 8).mean(axis=(1, 3)).astype(np.float32)
            items.append(
                (url("/value", run=run, tag="act", step=step, max_cells=1024, format="binary"), _close(pooled))
            )
            items.append((url("/value", run=run, tag="vec", step=step, format="binary"), _exact(vec_value(run, step))))
        a, b = act_value("a", step).astype(np.float64), act_value("b", step).astype(np.float64)
        for text, index in SLICES:
            items.append(
                (
                    url("/diff", run="a", tag="act", step=step, run2="b", slice=text, format="binary"),
                    _exact(a[index] - b[index]),
                )
            )
        items.append((url("/diff", run="a", tag="act", step=step, run2="b", values=0), _diff_stats(a.size, False)))
        if step:
            va, vb = vec_value("a", step), vec_value("a", step - 1)
            items.append(
                (url("/diff", run="a", tag="vec", step=step, step2=step - 1, format="binary"), _exact(va - vb))
            )
    return items


class Result:
    """Latencies and failures of one phase."""

    def __init__(self):
        self.latencies, self.errors, self.server_errors, self.failures = [], 0, 0, []
        self._lock = threading.Lock()
        self.elapsed = 0.0

    def add(self, latency, ok, status=None, what=None):
        with self._lock:
            self.latencies.append(latency)
            if not ok:
                self.errors += 1
                if status is not None and status >= 500:
                    self.server_errors += 1
                if len(self.failures) < 10:
                    self.failures.append(what)

    @property
    def requests(self):
        return len(self.latencies)

    def percentile(self, q):
        return float(np.percentile(self.latencies, q)) if self.latencies else float("nan")

    def summary(self):
        return {
            "requests": self.requests,
            "seconds": round(self.elapsed, 2),
            "throughput_rps": round(self.requests / self.elapsed, 1) if self.elapsed else 0.0,
            "p50_ms": round(self.percentile(50) * 1e3, 2),
            "p99_ms": round(self.percentile(99) * 1e3, 2),
            "errors": self.errors,
            "server_errors": self.server_errors,
            "failures": self.failures,
        }


def _client(host, port, items, seconds, seed, result, start):
    rng = random.Random(seed)
    connection = http.client.HTTPConnection(host, port, timeout=60)
    start.wait()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        path, check = rng.choice(items)
        began = time.perf_counter()
        try:
            connection.request("GET", path)
            reply = connection.getresponse()
            body = reply.read()
            status = reply.status
            ok = status == 200 and check(body, reply.headers)
            if reply.will_close:
                connection.close()
            result.add(time.perf_counter() - began, ok, status, None if ok else (status, path, body[:200]))
        except Exception as e:  # noqa: BLE001 - every failure counts as an error
            connection.close()
            connection = http.client.HTTPConnection(host, port, timeout=60)
            result.add(time.perf_counter() - began, False, None, (type(e).__name__, str(e), path))
    connection.close()


def run_load(base_url, clients, seconds, items=None, seed=0):
    """Runs `clients` threads for `seconds` against `base_url`; returns a `Result`."""
    items = items if items is not None else request_set()
    parsed = urllib.parse.urlsplit(base_url)
    result, start = Result(), threading.Event()
    threads = [
        threading.Thread(
            target=_client,
            daemon=True,
            args=(parsed.hostname, parsed.port, items, seconds, seed * 1000 + i, result, start),
        )
        for i in range(clients)
    ]
    for t in threads:
        t.start()
    began = time.perf_counter()
    start.set()
    for t in threads:
        t.join(seconds + 120)
    result.elapsed = time.perf_counter() - began
    return result


def wait_ready(server, timeout=120):
    """Waits until the TensorCap index lists both runs completely."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, index = server.get_json(P + "/index")
        if status == 200 and index.get("complete") and all(r in index["runs"] for r in RUNS):
            return index
        time.sleep(0.2)
    raise RuntimeError("the TensorCap index never listed runs %s" % (RUNS,))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="duration of the load phase")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients in the load phase")
    parser.add_argument(
        "--baseline-seconds",
        type=float,
        default=None,
        help="duration of the single-client baseline (default: min(10, seconds / 4))",
    )
    parser.add_argument("--logdir", help="where to generate the logdir (default: a temporary directory)")
    args = parser.parse_args(argv)
    baseline_seconds = args.baseline_seconds or min(10.0, args.seconds / 4)

    from servers import TensorBoardProcess

    logdir = args.logdir or tempfile.mkdtemp(prefix="tensorcap-load-")
    try:
        make_logdir(logdir)
        items = request_set()
        with TensorBoardProcess(logdir) as server:
            wait_ready(server)
            run_load(server.base, 1, min(2.0, baseline_seconds), items, seed=99)  # warm-up, not counted
            baseline = run_load(server.base, 1, baseline_seconds, items, seed=1)
            load = run_load(server.base, args.clients, args.seconds, items, seed=2)
    finally:
        if not args.logdir:
            shutil.rmtree(logdir, ignore_errors=True)

    b, loaded = baseline.summary(), load.summary()
    ratio = load.percentile(99) / baseline.percentile(50)
    print(
        "request mix: %d distinct requests (binary /value slices, pooled /value, binary /diff, /diff stats)"
        % len(items)
    )
    print(
        "baseline, 1 client, %.0f s: %d requests, %.1f req/s, p50 %.2f ms, p99 %.2f ms, errors %d"
        % (b["seconds"], b["requests"], b["throughput_rps"], b["p50_ms"], b["p99_ms"], b["errors"])
    )
    print(
        "load, %d clients, %.0f s: %d requests, %.1f req/s, p50 %.2f ms, p99 %.2f ms, errors %d (5xx %d)"
        % (
            args.clients,
            loaded["seconds"],
            loaded["requests"],
            loaded["throughput_rps"],
            loaded["p50_ms"],
            loaded["p99_ms"],
            loaded["errors"],
            loaded["server_errors"],
        )
    )
    print("p99 under load / single-client p50: %.1fx" % ratio)
    if loaded["throughput_rps"]:
        print(
            "(queueing alone, Little's law: p50 under load ~ clients / throughput = %.1f ms)"
            % (1e3 * args.clients / loaded["throughput_rps"])
        )
    if baseline.failures or load.failures:
        print("failures:", baseline.failures + load.failures)
    print(
        json.dumps(
            {"baseline": b, "load": dict(loaded, clients=args.clients), "p99_load_over_p50_single": round(ratio, 2)}
        )
    )
    return 1 if baseline.errors or load.errors else 0


if __name__ == "__main__":
    sys.exit(main())
