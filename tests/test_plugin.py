"""The plugin's routes through TensorBoard's real WSGI app and data provider."""

import io
import json
import struct
import time

import numpy as np
import pytest
from support import DIVERGE_STEP, NAN_STEP, SAMPLE_STEPS, WsgiTensorBoard, sample_value

P = "/data/plugin/tensorcap"


def test_tab_is_listed_and_active(sample_app):
    listing = sample_app.get_json("/data/plugins_listing")["tensorcap"]
    assert listing["enabled"] is True
    assert listing["tab_name"] == "TensorCap"
    assert listing["loading_mechanism"]["module_path"] == P + "/static/index.js"


def test_loader_lowers_retention_but_keeps_user_choice(sample_logdir):
    from tensorboard import program
    from tensorboard.plugins.core import core_plugin

    from tb_tensorcap import plugin

    def samples(*argv):
        tb = program.TensorBoard(plugins=[core_plugin.CorePluginLoader, plugin.TensorCapLoader()])
        tb.configure(argv=["tensorboard", "--logdir", str(sample_logdir), *argv])
        return tb.flags.samples_per_plugin

    assert samples() == {"tensorcap": 1}
    assert samples("--samples_per_plugin=tensorcap=0,images=3") == {"tensorcap": 0, "images": 3}


def test_any_route_may_come_first_on_a_fresh_tensorboard(sample_logdir):
    """The first scan starts with the plugin: /alerts or /value need no /index before them."""
    alerts = WsgiTensorBoard(sample_logdir).get_json(P + "/alerts")["alerts"]
    assert [(a["run"], a["tag"], a["step"]) for a in alerts] == [
        ("base", "layer2/out", NAN_STEP),
        ("changed", "layer2/out", NAN_STEP),
    ]
    value = WsgiTensorBoard(sample_logdir).get_json(P + "/value?run=changed&tag=layer2/out&step=2")
    np.testing.assert_array_equal(np.array(value["data"], np.float32), sample_value("changed", 2))


def test_index_lists_every_run_tag_and_step(sample_app):
    index = sample_app.get_json(P + "/index")
    assert index["complete"] is True
    assert sorted(index["runs"]) == ["base", "changed"]
    base = index["runs"]["base"]
    assert base["loss"]["steps"] == list(range(SAMPLE_STEPS))
    layer1 = base["layer1/out"]
    assert (layer1["dtype"], layer1["shape"], layer1["description"]) == ("float32", [4], "first layer")
    assert layer1["source"]["file"].endswith("conftest.py")
    assert layer1["source"]["function"] == "sample_logdir"
    assert base["half/bf16"]["dtype"] == "bfloat16"
    assert "<img src=x onerror=alert(1)>" in base


def test_index_works_under_an_experiment_prefix(sample_app):
    index = sample_app.get_json("/experiment/123" + P + "/index")
    assert index["runs"]["base"]["loss"]["steps"][-1] == SAMPLE_STEPS - 1


def test_logdir_spec_names_runs_by_group_as_tensorboard_does(sample_logdir):
    spec = "first:%s,second:%s" % (sample_logdir / "base", sample_logdir)
    app = WsgiTensorBoard(None, ["--logdir_spec", spec])
    index = app.wait_complete()
    assert sorted(index["runs"]) == ["first", "second/base", "second/changed"]
    assert app.get_json(P + "/value?run=first&tag=layer1/out&step=2")["data"] == [2.0] * 4
    divergence = app.get_json(P + "/divergence?run=first&run2=second/changed")
    assert (divergence["first"]["tag"], divergence["first"]["step"]) == ("layer2/out", DIVERGE_STEP)


def test_stats_match_numpy(sample_app):
    stats = sample_app.get_json(P + "/stats?run=changed&tag=layer2/out")
    assert [row["step"] for row in stats["steps"]] == list(range(5))
    row = stats["steps"][1]
    expected = sample_value("changed", 1).astype(np.float64)
    assert row["numel"] == 48 and row["shape"] == [6, 8] and row["dtype"] == "float32"
    assert row["min"] == pytest.approx(expected.min())
    assert row["max"] == pytest.approx(expected.max())
    assert row["mean"] == pytest.approx(expected.mean())
    assert row["std"] == pytest.approx(expected.std())
    assert (row["nan"], row["posinf"], row["neginf"]) == (0, 0, 0)
    nan_row = sample_app.get_json(P + "/stats?run=base&tag=layer2/out&step=%d" % NAN_STEP)["steps"]
    assert len(nan_row) == 1
    assert (nan_row[0]["nan"], nan_row[0]["posinf"], nan_row[0]["neginf"]) == (1, 1, 1)
    finite = sample_value("base", NAN_STEP).reshape(-1)[3:].astype(np.float64)
    assert nan_row[0]["min"] == pytest.approx(finite.min())


def test_value_json_and_slices(sample_app):
    reply = sample_app.get_json(P + "/value?run=changed&tag=layer2/out&step=2")
    assert reply["shape"] == [6, 8] and reply["full_shape"] == [6, 8] and reply["slice"] == "..."
    np.testing.assert_array_equal(np.array(reply["data"], np.float32), sample_value("changed", 2))
    sliced = sample_app.get_json(P + "/value?run=changed&tag=layer2/out&step=2&slice=2,%201:6:2")
    assert sliced["slice"] == "2, 1:6:2" and sliced["shape"] == [3]
    np.testing.assert_array_equal(np.array(sliced["data"], np.float32), sample_value("changed", 2)[2, 1:6:2])
    conv = sample_app.get_json(P + "/value?run=base&tag=conv/act&step=0&slice=1,:,:,-1")
    expected = np.arange(120, dtype=np.float64).reshape(2, 3, 4, 5)[1, :, :, -1]
    assert conv["shape"] == [3, 4]
    np.testing.assert_array_equal(np.array(conv["data"]), expected)
    ellipsis = sample_app.get_json(P + "/value?run=base&tag=conv/act&step=0&slice=...,0")
    assert ellipsis["shape"] == [2, 3, 4]


def test_value_json_nonfinite_complex_strings_bool(sample_app):
    nan = sample_app.get_json(P + "/value?run=base&tag=layer2/out&step=%d&slice=0,0:4" % NAN_STEP)
    assert nan["data"][:3] == ["NaN", "Infinity", "-Infinity"]
    assert sample_app.get_json(P + "/value?run=base&tag=complex&step=0")["data"] == [[1.0, 2.0], [0.0, -3.0]]
    assert sample_app.get_json(P + "/value?run=base&tag=words&step=0")["data"] == ["café", "\\xff", ""]
    assert sample_app.get_json(P + "/value?run=base&tag=mask&step=0")["data"] == [True, False, True]
    assert sample_app.get_json(P + "/value?run=base&tag=half/bf16&step=0")["data"] == [1.5, -2.25]


def test_value_binary(sample_app):
    reply = sample_app.get(P + "/value?run=changed&tag=layer2/out&step=4&format=binary&slice=1:3")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/octet-stream"
    assert reply.headers["X-TensorCap-Dtype"] == "float32"
    assert reply.headers["X-TensorCap-Shape"] == "2,8"
    assert reply.headers["X-TensorCap-Full-Shape"] == "6,8"
    assert reply.headers["X-TensorCap-Slice"] == "1:3"
    data = np.frombuffer(reply.get_data(), "<f4").reshape(2, 8)
    np.testing.assert_array_equal(data, sample_value("changed", 4)[1:3])
    bf16 = sample_app.get(P + "/value?run=base&tag=half/bf16&step=0&format=binary")
    assert bf16.headers["X-TensorCap-Dtype"] == "bfloat16"
    bits = struct.unpack("<2H", bf16.get_data())
    assert [struct.unpack("<f", struct.pack("<I", b << 16))[0] for b in bits] == [1.5, -2.25]
    complex_reply = sample_app.get(P + "/value?run=base&tag=complex&step=0&format=binary")
    np.testing.assert_array_equal(np.frombuffer(complex_reply.get_data(), "<f4"), [1, 2, 0, -3])


def test_value_npy_download_is_exact(sample_app):
    reply = sample_app.get(P + "/value?run=changed&tag=layer2/out&step=4&slice=1:3&format=npy")
    assert reply.status_code == 200
    assert reply.headers["Content-Disposition"] == 'attachment; filename="changed_layer2_out_step4.npy"'
    array = np.load(io.BytesIO(reply.get_data()), allow_pickle=False)
    assert array.dtype == np.float32
    np.testing.assert_array_equal(array, sample_value("changed", 4)[1:3])
    bf16 = np.load(io.BytesIO(sample_app.get(P + "/value?run=base&tag=half/bf16&step=0&format=npy").get_data()))
    assert bf16.dtype == np.uint16 and [struct.unpack("<f", struct.pack("<I", int(b) << 16))[0] for b in bf16] == [
        1.5,
        -2.25,
    ]
    words = np.load(io.BytesIO(sample_app.get(P + "/value?run=base&tag=words&step=0&format=npy").get_data()))
    assert words.tolist() == [b"caf\xc3\xa9", b"\xff", b""]
    pooled = sample_app.get(P + "/value?run=base&tag=layer2/out&step=0&format=npy&max_cells=4")
    assert pooled.status_code == 400 and "exact" in pooled.get_json()["error"]


def test_value_pooling_keeps_nonfinite_visible(sample_app):
    reply = sample_app.get_json(P + "/value?run=base&tag=layer2/out&step=%d&max_cells=12" % NAN_STEP)
    fy, fx = reply["pooled"]
    rows, cols = reply["shape"]
    assert rows * cols <= 12 and (fy, fx) == (2, 2)
    # Block (0, 0) holds NaN and +Inf: NaN wins. Block (0, 1) holds -Inf.
    assert reply["data"][0][0] == "NaN"
    assert reply["data"][0][1] == "-Infinity"
    expected = sample_value("base", NAN_STEP)[2:4, 4:6].astype(np.float64).mean()
    assert reply["data"][1][2] == pytest.approx(expected)
    binary = sample_app.get(P + "/value?run=base&tag=loss&step=0&format=binary&max_cells=1")
    assert binary.headers["X-TensorCap-Pooled"] == ""


def test_histogram(sample_app):
    reply = sample_app.get_json(P + "/histogram?run=base&tag=layer2/out&step=%d&bins=5" % NAN_STEP)
    assert (reply["nan"], reply["posinf"], reply["neginf"], reply["numel"]) == (1, 1, 1, 48)
    assert len(reply["bins"]) == 5 and sum(b["count"] for b in reply["bins"]) == 45
    finite = sample_value("base", NAN_STEP).reshape(-1)[3:]
    assert reply["bins"][0]["left"] == pytest.approx(finite.min())
    assert reply["bins"][-1]["right"] == pytest.approx(finite.max())


def test_diff_between_runs_steps_and_tags(sample_app):
    reply = sample_app.get_json(P + "/diff?run=changed&tag=layer2/out&step=2&run2=base&rtol=0&atol=0.1")
    stats = reply["stats"]
    assert stats["outside"] == 1 and stats["argmax"] == [2, 5] and stats["allclose"] is False
    assert stats["max_abs"] == pytest.approx(0.5)
    delta = np.array(reply["diff"]["data"])
    assert delta[2, 5] == pytest.approx(0.5) and np.count_nonzero(delta) == 1
    steps = sample_app.get_json(P + "/diff?run=base&tag=layer2/out&step=1&step2=0&values=0")
    assert "diff" not in steps and steps["stats"]["max_abs"] == pytest.approx(1.0)
    assert steps["stats"]["max_rel"] == pytest.approx(1.0 / 0.1)
    loose = sample_app.get_json(P + "/diff?run=base&tag=layer2/out&step=1&step2=0&atol=1.5&values=0")
    assert loose["stats"]["allclose"] is True
    binary = sample_app.get(P + "/diff?run=changed&tag=layer2/out&step=3&run2=base&format=binary")
    assert json.loads(binary.headers["X-TensorCap-Diff-Stats"])["argmax"] == [2, 5]
    assert np.frombuffer(binary.get_data(), "<f8").reshape(6, 8)[2, 5] == pytest.approx(0.5)


def test_diff_with_nan_on_both_sides_agrees(sample_app):
    reply = sample_app.get_json(P + "/diff?run=base&tag=layer2/out&step=%d&run2=changed" % NAN_STEP)
    delta = np.array(reply["diff"]["data"], dtype=object)
    assert delta[0, 0] == 0 and delta[0, 1] == 0 and reply["stats"]["outside"] == 1


def test_diff_of_different_shapes_names_both(sample_app):
    reply = sample_app.get(P + "/diff?run=base&tag=layer2/out&step=0&tag2=layer1/out")
    assert reply.status_code == 400
    message = reply.get_json()["error"]
    assert "[6, 8]" in message and "[4]" in message


def test_alerts_in_capture_order_first_marked(sample_app):
    alerts = sample_app.get_json(P + "/alerts")["alerts"]
    assert [(a["run"], a["tag"], a["step"], a["first"]) for a in alerts] == [
        ("base", "layer2/out", NAN_STEP, True),
        ("changed", "layer2/out", NAN_STEP, True),
    ]
    assert alerts[0]["nan"] == 1 and alerts[0]["posinf"] == 1 and alerts[0]["neginf"] == 1
    assert sample_app.get_json(P + "/alerts?run=changed")["alerts"][0]["run"] == "changed"
    index = sample_app.get_json(P + "/index")
    assert index["runs"]["base"]["layer2/out"]["alerts"] == 1


def test_divergence_finds_first_capture_that_parts(sample_app):
    reply = sample_app.get_json(P + "/divergence?run=base&run2=changed")
    first = reply["first"]
    assert (first["tag"], first["step"], first["reason"]) == ("layer2/out", DIVERGE_STEP, "values")
    assert first["max_abs"] == pytest.approx(0.5) and first["outside"] == 1
    rows = {row["tag"]: row for row in reply["tags"]}
    assert rows["layer2/out"]["first_step_outside"] == DIVERGE_STEP
    assert rows["layer2/out"]["steps_outside"] == 5 - DIVERGE_STEP
    assert rows["loss"]["steps_outside"] == 0 and rows["loss"]["steps_compared"] == SAMPLE_STEPS
    assert reply["tags"][0]["tag"] == "layer2/out"
    assert reply["only_in_run"] == [] and reply["only_in_run2"] == []
    tolerant = sample_app.get_json(P + "/divergence?run=base&run2=changed&atol=1")
    assert tolerant["first"] is None


def test_static_files_and_traversal(sample_app):
    module = sample_app.get(P + "/static/index.js")
    assert module.status_code == 200 and "javascript" in module.headers["Content-Type"]
    assert b"render" in module.get_data()
    for attempt in (
        "/static/../plugin.py",
        "/static/%2e%2e/setup.py",
        "/static/..%2fsetup.py",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/",
        "/static/nope.js",
    ):
        assert sample_app.get(P + attempt).status_code == 404, attempt


@pytest.mark.parametrize(
    "query, status, words",
    [
        ("/value?tag=loss&step=0", 400, "'run'"),
        ("/value?run=base&step=0", 400, "'tag'"),
        ("/value?run=base&tag=loss", 400, "'step'"),
        ("/value?run=nope&tag=loss&step=0", 404, "'nope'"),
        ("/value?run=base&tag=nope&step=0", 404, "'nope'"),
        ("/value?run=base&tag=loss&step=999", 404, "999"),
        ("/value?run=base&tag=loss&step=x", 400, "integer"),
        ("/value?run=base&tag=loss&step=99999999999999999999", 400, "step"),
        ("/value?run=base&tag=layer2/out&step=0&slice=1,:,0", 400, "axes"),
        ("/value?run=base&tag=layer2/out&step=0&slice=9", 400, "out of range"),
        ("/value?run=base&tag=layer2/out&step=0&slice=a:b", 400, "slice"),
        ("/value?run=base&tag=layer2/out&step=0&slice=::0", 400, "zero"),
        ("/value?run=base&tag=layer2/out&step=0&format=xml", 400, "format"),
        ("/value?run=base&tag=layer2/out&step=0&max_cells=0", 400, "max_cells"),
        ("/value?run=base&tag=words&step=0&format=binary", 400, "string"),
        ("/value?run=base&tag=conv/act&step=0&max_cells=10", 400, "slice"),
        ("/histogram?run=base&tag=loss&step=0&bins=0", 400, "bins"),
        ("/histogram?run=base&tag=loss&step=0&bins=1001", 400, "bins"),
        ("/histogram?run=base&tag=words&step=0", 400, "string"),
        ("/stats?run=base", 400, "'tag'"),
        ("/diff?run=base&tag=loss&step=0&rtol=-1", 400, "rtol"),
        ("/diff?run=base&tag=loss&step=0&atol=nan", 400, "atol"),
        ("/diff?run=base&tag=loss&step=0&run2=nope", 404, "'nope'"),
        ("/alerts?run=nope", 404, "'nope'"),
        ("/divergence?run=base", 400, "'run2'"),
        ("/divergence?run=base&run2=nope", 404, "'nope'"),
    ],
)
def test_bad_requests_get_json_4xx(sample_app, query, status, words):
    reply = sample_app.get(P + query)
    assert reply.status_code == status, (query, reply.get_data(as_text=True))
    assert words in reply.get_json()["error"]


def test_new_steps_appear_after_reload(tmp_path):
    import tensorflow as tf

    import tb_tensorcap as tensorcap

    writer = tf.summary.create_file_writer(str(tmp_path / "live"))
    with writer.as_default():
        tensorcap.capture(np.zeros(3), "growing", step=0)
    writer.flush()
    app = WsgiTensorBoard(tmp_path, ["--reload_interval", "0.2"])
    assert app.wait_complete()["runs"]["live"]["growing"]["steps"] == [0]
    with writer.as_default():
        tensorcap.capture(np.ones(3), "growing", step=1)
    writer.flush()
    deadline = time.monotonic() + 20
    while app.get_json(P + "/index")["runs"]["live"]["growing"]["steps"] != [0, 1]:
        assert time.monotonic() < deadline, "step 1 never appeared"
        time.sleep(0.1)
    assert app.get_json(P + "/value?run=live&tag=growing&step=1")["data"] == [1.0, 1.0, 1.0]


def test_stopped_plugin_stops_refreshing(sample_logdir):
    """`stop()` ends the background refresh thread; its index stays as it was."""
    import argparse
    import threading

    from tensorboard.plugins import base_plugin

    from tb_tensorcap import plugin

    before = set(threading.enumerate())
    context = base_plugin.TBContext(logdir=str(sample_logdir), flags=argparse.Namespace(reload_interval=0.05))
    tensorcap_plugin = plugin.TensorCapPlugin(context)
    (refresher,) = [t for t in set(threading.enumerate()) - before if t.name == "tensorcap-refresh"]
    index = tensorcap_plugin.index_impl()
    assert index["complete"] is True and sorted(index["runs"]) == ["base", "changed"]
    tensorcap_plugin.stop()
    assert not refresher.is_alive()
    assert sorted(tensorcap_plugin.index_impl()["runs"]) == ["base", "changed"]


def test_alerts_and_index_say_how_far_a_statistics_pass_is(tmp_path, writer_at, monkeypatch):
    """/alerts answers with what is known when its time is spent, and says so; polling completes it."""
    import tb_tensorcap as tensorcap
    from tb_tensorcap import plugin, stats_pass

    writer = writer_at(tmp_path / "run")
    for step in range(6):
        value = np.full((4,), float(step), np.float32)
        if step in (1, 4):
            value[2] = np.nan
        tensorcap.capture(value, "x", step=step, writer=writer)
    writer.flush()
    monkeypatch.setattr(plugin, "ALERTS_WAIT_SECONDS", 0.0)
    monkeypatch.setattr(stats_pass, "BATCH_CAPTURES", 2)
    monkeypatch.setattr(plugin._Refresher, "_warm_stats", lambda self: None)  # no background statistics pass
    app = WsgiTensorBoard(tmp_path)
    app.wait_complete()
    index = app.get_json(P + "/index")
    assert index["progress"]["index"]["done"] == index["progress"]["index"]["total"] > 0
    assert index["progress"]["statistics"] == {"done": 0, "total": 6, "unit": "captures", "running": False}
    assert (index["runs"]["run"]["x"]["checked"], index["runs"]["run"]["x"]["captures"]) == (0, 6)

    first = app.get_json(P + "/alerts")
    assert first["complete"] is False and first["progress"]["statistics"]["done"] == 2
    assert [a["step"] for a in first["alerts"]] == [1]  # steps 0 and 1 checked so far
    assert app.get_json(P + "/index")["runs"]["run"]["x"]["checked"] == 2
    replies = [first]
    while not replies[-1]["complete"]:
        replies.append(app.get_json(P + "/alerts"))
        assert len(replies) < 10
    assert [a["step"] for a in replies[-1]["alerts"]] == [1, 4]
    assert [a["first"] for a in replies[-1]["alerts"]] == [True, False]
    assert replies[-1]["progress"]["statistics"]["done"] == 6
    assert app.get_json(P + "/index")["runs"]["run"]["x"] | {"steps": None, "source": None} == {
        "steps": None,
        "source": None,
        "repeats": 0,
        "dtype": "float32",
        "shape": [4],
        "axes": None,
        "description": "",
        "statistics_only": 0,
        "alerts": 2,
        "checked": 6,
        "captures": 6,
    }
