"""Serving under stress: hostile tag and run names stored and served exactly, a
live `tensorboard` process following a growing run, path traversal over real
HTTP, and a short load test (`plugin.py`).
"""

import http.client
import json
import threading
import time
import urllib.parse

import load_bench  # benchmarks/load_bench.py, on pytest's pythonpath
import numpy as np
import pytest
import tensorflow as tf
from servers import TensorBoardProcess
from support import WsgiTensorBoard

import tb_tensorcap
import tb_tensorcap as tensorcap

P = "/data/plugin/tensorcap"

pytestmark = pytest.mark.usefixtures("isolated_capture")


# -- hostile names ------------------------------------------------------------------------

NAMES = [
    "ünïcødé/名前",
    "q\"uote's",
    "<script>alert(1)</script>",
    "x" * 2000,
    "a/" * 300 + "deep",
    "emoji 🎉/ﬁ",
    "back\\slash",
    "amp&lt;&#39;",
    "  spaced  ",
    "%2e%2e/%00",
    "tab\tand\nnewline",
    "{\"json\": [1]}",
    "\u202eright-to-left",
]
RUN_NAME = "rün <b>&\"quoted\"'"


def test_hostile_names_are_stored_and_served_exactly(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path / RUN_NAME))
    for k, name in enumerate(NAMES):
        tensorcap.capture(np.arange(k + 1, dtype=np.int32), name, step=k, writer=writer, description=name)
    writer.close()

    reader = tb_tensorcap.load(str(tmp_path))
    assert reader.runs() == [RUN_NAME]
    assert reader.tags(RUN_NAME) == sorted(NAMES)
    for k, name in enumerate(NAMES):
        assert reader.info(RUN_NAME, name, k).description == name
        assert reader.value(RUN_NAME, name, k).tolist() == list(range(k + 1))

    app = WsgiTensorBoard(tmp_path)
    index = app.wait_complete()
    assert list(index["runs"]) == [RUN_NAME]
    tags = index["runs"][RUN_NAME]
    assert sorted(tags) == sorted(NAMES)
    for k, name in enumerate(NAMES):
        assert tags[name]["steps"] == [k] and tags[name]["description"] == name
        query = urllib.parse.urlencode({"run": RUN_NAME, "tag": name, "step": k})
        value = app.get_json(P + "/value?" + query)
        assert (value["run"], value["tag"], value["data"]) == (RUN_NAME, name, list(range(k + 1)))
    # The raw JSON escapes nothing away: the names decode back exactly.
    raw = app.get(P + "/index").get_data(as_text=True)
    assert json.loads(raw)["runs"][RUN_NAME].keys() == tags.keys()


# -- a live TensorBoard: appending, raw HTTP, load -----------------------------------------


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("live")
    load_bench.make_logdir(str(logdir))
    server = TensorBoardProcess(logdir, extra_args=("--reload_interval", "1"))
    try:
        load_bench.wait_ready(server)
        yield server, logdir
    finally:
        server.stop()


def live_value(step):
    return np.arange(300_000, dtype=np.float32) + step  # 1.2 MB: often caught mid-write


def test_writer_appending_while_tensorboard_serves(live_server):
    server, logdir = live_server
    writer = tf.summary.create_file_writer(str(logdir / "growing"))
    statuses, failures, done = [], [], threading.Event()

    def poll():
        while not done.is_set():
            try:
                status, index = server.get_json(P + "/index")
                statuses.append(status)
                steps = index.get("runs", {}).get("growing", {}).get("big", {}).get("steps", [])
                for step in steps[-2:]:
                    status, _, body = server.get(
                        P + "/value?run=growing&tag=big&step=%d&format=binary&slice=299990:" % step
                    )
                    statuses.append(status)
                    if status == 200 and body != live_value(step)[299990:].tobytes():
                        failures.append(("wrong value", step))
            except Exception as e:  # noqa: BLE001
                failures.append(repr(e))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        for batch in range(3):
            for step in range(batch * 3, batch * 3 + 3):
                tensorcap.capture(live_value(step), "big", step=step, writer=writer)
                tensorcap.capture(np.int64(step), "small", step=step, writer=writer)
            writer.flush()
            deadline = time.monotonic() + 30
            while True:
                status, index = server.get_json(P + "/index")
                assert status == 200
                steps = index["runs"].get("growing", {}).get("small", {}).get("steps")
                if steps == list(range(batch * 3 + 3)):
                    break
                assert time.monotonic() < deadline, ("new steps never appeared", steps)
                time.sleep(0.1)
    finally:
        done.set()
        poller.join(60)
        writer.close()
    assert not failures, failures[:5]
    assert len(statuses) >= 10 and all(s < 500 for s in statuses), sorted(set(statuses))
    for step in range(9):
        status, headers, body = server.get(P + "/value?run=growing&tag=big&step=%d&format=binary" % step)
        assert status == 200 and body == live_value(step).tobytes(), step


@pytest.mark.parametrize(
    "path",
    [
        "/static/../../setup.py",
        "/static/%2e%2e/%2e%2e/setup.py",
        "/static/..%2f..%2fsetup.py",
        "/static/%252e%252e/setup.py",
        "/static//etc/passwd",
        "/static/..\\..\\setup.py",
        "/static/%00",
        "/static/views/../../../setup.py",
        "/static/./../../README.md",
    ],
)
def test_static_traversal_over_real_http(live_server, path):
    server, _ = live_server
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.putrequest("GET", P + path, skip_accept_encoding=True)  # the path as is, not normalised
        connection.endheaders()
        reply = connection.getresponse()
        body = reply.read()
    finally:
        connection.close()
    assert reply.status in (400, 404), (path, reply.status)
    assert b"setup(" not in body and b"root:" not in body and b"# TensorCap" not in body


def test_short_load_has_no_errors(live_server):
    server, _ = live_server
    result = load_bench.run_load(server.base, clients=4, seconds=3, seed=5)
    summary_ = result.summary()
    assert result.requests >= 20, summary_
    assert result.errors == 0 and result.server_errors == 0, summary_
