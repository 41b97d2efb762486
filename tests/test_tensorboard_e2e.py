"""The real `tensorboard` command serving TensorCap, with both data loaders."""

import time

import numpy as np
import pytest
from support import SAMPLE_STEPS

P = "/data/plugin/tensorcap"


@pytest.mark.parametrize(
    "load_fast, block_tensorflow",
    [
        (True, False),
        (False, False),
        (True, True),
    ],
    ids=["load_fast", "python_loader", "without_tensorflow"],
)
def test_tensorboard_serves_every_step(sample_logdir, tensorboard_server, load_fast, block_tensorflow):
    server = tensorboard_server(sample_logdir, load_fast=load_fast, block_tensorflow=block_tensorflow)
    status, listing = server.get_json("/data/plugins_listing")
    assert status == 200 and listing["tensorcap"]["enabled"] is True
    assert listing["tensorcap"]["tab_name"] == "TensorCap"

    index = _complete_index(server)
    assert index["runs"]["base"]["loss"]["steps"] == list(range(SAMPLE_STEPS))
    status, stats = server.get_json(P + "/stats?run=base&tag=loss")
    assert status == 200
    assert [row["mean"] for row in stats["steps"]] == [step / 2 for step in range(SAMPLE_STEPS)]
    for step in (0, 137, SAMPLE_STEPS - 1):
        status, _, body = server.get(P + "/value?run=base&tag=loss&step=%d&format=binary" % step)
        assert status == 200 and np.frombuffer(body, "<f4")[0] == step / 2

    status, _, module = server.get(P + "/static/index.js")
    assert status == 200 and b"export" in module
    if block_tensorflow:
        log = open(server._log.name, encoding="utf-8", errors="replace").read()
        assert "TensorFlow installation not found" in log


def _complete_index(server, attempts=120):
    for _ in range(attempts):
        status, index = server.get_json(P + "/index")
        assert status == 200
        if index["complete"]:
            return index
        time.sleep(0.25)
    raise AssertionError("index never completed")
