"""Lineage recorded by `record()`, and the planted bugs it must find (through the
Python function, the `tensorcap` command and the route): the exact culprit op,
step and source line of each."""

import json
import os
import shutil
import subprocess
import sys

import planted_bugs
import pytest
import tensorflow as tf
from support import WsgiTensorBoard

import tb_tensorcap
import tb_tensorcap as tensorcap

pytestmark = pytest.mark.usefixtures("isolated_capture")


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    planted_bugs.log_softmax_underflow(root, "underflow_eager", "eager")
    planted_bugs.log_softmax_underflow(root, "underflow_function", "function")
    planted_bugs.log_softmax_underflow(root, "clean", "eager", bad_step=None)
    planted_bugs.divide_by_a_minus_a(root, "divide")
    planted_bugs.sqrt_after_minus_inf_mask(root, "mask")
    planted_bugs.nan_in_the_data(root, "data")
    planted_bugs.log_softmax_underflow(root, "underflow_eager_health", "eager", record_mode="health")
    planted_bugs.log_softmax_underflow(root, "underflow_function_health", "function", record_mode="health")
    planted_bugs.divide_by_a_minus_a(root, "divide_health", record_mode="health")
    planted_bugs.sqrt_after_minus_inf_mask(root, "mask_health", record_mode="health")
    planted_bugs.nan_in_the_data(root, "data_health", record_mode="health")
    return root


def tensorcap_command(*argv):
    command = shutil.which("tensorcap", path=os.path.dirname(sys.executable))
    return subprocess.run([command, *argv], capture_output=True, text=True, timeout=120)


# -- what record() stores ----------------------------------------------------------------


def test_eager_ops_record_the_tags_of_their_inputs(tmp_path, writer_at):
    w = writer_at(tmp_path)
    v = tf.Variable([[2.0, 0.0], [0.0, 2.0]], name="weights")
    x = tf.constant([[1.0, 2.0]])
    with tensorcap.record("r", step=7, writer=w):
        y = tf.matmul(x, v)
        tf.nn.relu(y - 1.0)
    w.flush()
    reader = tb_tensorcap.load(str(tmp_path))
    by_op = {reader.info(".", t, 7).op["type"]: t for t in reader.tags(".") if reader.info(".", t, 7).op}
    assert set(by_op) == {"ReadVariableOp", "MatMul", "Sub", "Relu"}, by_op
    read, matmul = reader.info(".", by_op["ReadVariableOp"], 7), by_op["MatMul"]
    assert read.origin == {"kind": "variable", "name": "weights"}
    [x_input, weights_input] = reader.inputs(".", matmul, 7)
    assert (x_input["external"], x_input["name"], x_input["captured"]) == ("input", "x", True)
    assert reader.value(".", x_input["tag"], 7).tolist() == [[1.0, 2.0]]
    assert reader.info(".", x_input["tag"], 7).origin == {"kind": "input", "name": "x"}
    assert weights_input["tag"] == by_op["ReadVariableOp"]
    sub_inputs = reader.inputs(".", by_op["Sub"], 7)
    assert sub_inputs[0]["tag"] == matmul
    assert sub_inputs[1]["external"] == "input" and reader.value(".", sub_inputs[1]["tag"], 7) == 1.0
    assert reader.inputs(".", by_op["Relu"], 7)[0]["tag"] == by_op["Sub"]
    assert reader.consumers(".", matmul, 7) == [{"tag": by_op["Sub"], "step": 7, "repeat": 0, "index": 0}]


def test_each_call_of_a_function_in_a_block_finds_its_inputs_at_its_own_step(tmp_path, writer_at):
    @tf.function
    def double(v):
        return v * 2.0

    w = writer_at(tmp_path)
    batches = [tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0]), tf.constant([5.0, float("nan")])]
    with tensorcap.record("loop", step=10, writer=w):
        for batch in batches:  # call k writes at step 10 + k
            h = double(batch)
        h + 1.0
    w.flush()
    reader = tb_tensorcap.load(str(tmp_path))
    for k, batch in enumerate(batches):
        argument = reader.inputs(".", "loop/double", 10 + k)[0]
        assert (argument["tag"], argument["step"], argument["captured"]) == ("loop/input/batch", 10 + k, True)
        assert reader.value(".", "loop/input/batch", 10 + k).tolist()[0] == batch.numpy().tolist()[0]
        [inside] = reader.inputs(".", "loop/Mul", 10 + k)[:1]
        assert (inside["tag"], inside["step"]) == ("loop/double/argument/v", 10 + k)
    # The call's other inputs: TensorCap's own step variables (the instrumentation's), named as such.
    assert [e.get("name") for e in reader.inputs(".", "loop/double", 10)[1:3]] == [
        "tensorcap/tensorcap_record_step",
        "tensorcap/tensorcap_record_calls",
    ]
    [add_input, _] = reader.inputs(".", "loop/AddV2", 10)
    assert (add_input["tag"], add_input["step"], add_input["captured"]) == ("loop/double", 12, True)
    assert {"tag": "loop/AddV2", "step": 10, "repeat": 0, "index": 0} in reader.consumers(".", "loop/double", 12)
    reply = tb_tensorcap.rootcause(reader, ".")
    assert (reply["origin"], reply["culprit"]["tag"], reply["culprit"]["step"]) == ("external", "loop/input/batch", 12)


def test_a_nested_block_links_to_the_outer_blocks_captures(tmp_path, writer_at):
    w = writer_at(tmp_path)
    x = tf.constant([1.0, -4.0])
    with tensorcap.record("outer", step=5, writer=w):
        a = x * 3.0
        with tensorcap.record("inner", step=7, writer=w):
            b = tf.sqrt(a)  # NaN: sqrt of -12
        b + 1.0
    w.flush()
    reader = tb_tensorcap.load(str(tmp_path))
    assert not [t for t in reader.tags(".") if t.startswith("outer/inner/input/")], reader.tags(".")
    [a_input] = reader.inputs(".", "outer/inner/Sqrt", 7)
    assert (a_input["tag"], a_input["step"], a_input["captured"]) == ("outer/Mul", 5, True)
    assert reader.consumers(".", "outer/Mul", 5) == [{"tag": "outer/inner/Sqrt", "step": 7, "repeat": 0, "index": 0}]
    assert reader.inputs(".", "outer/AddV2", 5)[0] == dict({"tag": "outer/inner/Sqrt"}, index=0, step=7, captured=True)
    reply = tb_tensorcap.rootcause(reader, ".")
    assert (reply["culprit"]["op"], reply["culprit"]["tag"], reply["culprit"]["step"]) == (
        "Sqrt",
        "outer/inner/Sqrt",
        7,
    )


def test_filtered_ops_are_named_as_uncaptured_inputs(tmp_path, writer_at):
    w = writer_at(tmp_path)
    with tensorcap.record("r", step=0, writer=w, ops="Relu"):
        tf.nn.relu(tf.constant([1.0, -2.0]) * 3.0)
    w.flush()
    reader = tb_tensorcap.load(str(tmp_path))
    [relu] = [t for t in reader.tags(".") if reader.info(".", t, 0).op]
    assert reader.inputs(".", relu, 0) == [
        {"external": "uncaptured", "op": "Mul", "index": 0, "step": 0, "captured": False}
    ]


def test_ops_traced_in_a_function_record_their_inputs(tmp_path, writer_at):
    w = writer_at(tmp_path)
    v = tf.Variable([1.0, 2.0], name="scale")

    @tf.function
    def f(x):
        return tf.nn.relu(x * v + tf.constant([5.0, -50.0], name="bias"))

    for step in range(2):
        with tensorcap.record("r", step=step, writer=w):
            f(tf.constant([1.0, 1.0]))
    w.flush()
    reader = tb_tensorcap.load(str(tmp_path))
    relu = next(i for i in reader.captures(".") if i.step == 1 and i.op and i.op["type"] == "Relu")
    [add] = reader.inputs(".", relu.tag, 1)
    add_inputs = reader.inputs(".", add["tag"], 1)
    mul_inputs = reader.inputs(".", add_inputs[0]["tag"], 1)
    assert add_inputs[1]["external"] == "constant" and add_inputs[1]["name"] == "bias"
    assert reader.value(".", add_inputs[1]["tag"], 1).tolist() == [5.0, -50.0]
    assert mul_inputs[0]["external"] == "argument" and mul_inputs[0]["name"] == "x"
    assert reader.value(".", mul_inputs[0]["tag"], 1).tolist() == [1.0, 1.0]
    read = reader.info(".", mul_inputs[1]["tag"], 1)
    assert read.origin == {"kind": "variable", "name": "scale"} and read.op["type"] == "ReadVariableOp"


# -- the planted bugs --------------------------------------------------------------------


@pytest.mark.parametrize(
    "run", ["underflow_eager", "underflow_function", "underflow_eager_health", "underflow_function_health"]
)
def test_log_of_softmax_underflow(logdir, run):
    reply = tb_tensorcap.rootcause(str(logdir), run)
    culprit = reply["culprit"]
    assert (reply["origin"], culprit["op"], culprit["step"]) == ("op", "Log", planted_bugs.UNDERFLOW_STEP)
    assert culprit["source"]["file"] == planted_bugs.__file__
    assert culprit["source"]["line"] == planted_bugs.line("log")
    [softmax] = culprit["inputs"]
    assert softmax["zeros"] >= 1 and softmax["nan"] == softmax["neginf"] == 0
    assert tb_tensorcap.load(str(logdir)).info(run, softmax["tag"], culprit["step"]).op["type"] == "Softmax"
    assert culprit["reasons"][0].startswith("input 0 has ") and "exact zero" in culprit["reasons"][0]
    assert reply["notes"] == []


# Side fields that only tell how a value was kept.
_KEPT_HOW = ("digest", "kind")


def _answer(reply):
    """What a root cause names; statistics to float32 precision (health mode reduces float32 in float32)."""
    culprit = reply["culprit"]
    sides = [
        {k: pytest.approx(v, rel=1e-6) if isinstance(v, float) else v for k, v in side.items() if k not in _KEPT_HOW}
        for side in culprit["inputs"] + [culprit["output"]]
    ]
    return (
        reply["origin"],
        reply["step"],
        culprit["op"],
        culprit["tag"],
        culprit["step"],
        culprit["source"],
        culprit["external"],
        culprit["reasons"],
        sides,
        [(c["tag"], c["step"]) for c in reply["chain"]],
        reply["notes"],
    )


@pytest.mark.parametrize("run", ["underflow_eager", "underflow_function", "divide", "mask", "data"])
def test_health_statistics_alone_give_the_same_root_cause(logdir, run):
    reader = tb_tensorcap.load(str(logdir))
    assert {i.kind for i in reader.captures(run + "_health")} == {"health"}
    assert _answer(tb_tensorcap.rootcause(reader, run + "_health")) == _answer(tb_tensorcap.rootcause(reader, run))


def test_flight_recorder_records_lineage_with_statistics_and_values(tmp_path):
    planted_bugs.log_softmax_underflow_in_flight(tmp_path, "flight")
    reader = tb_tensorcap.load(str(tmp_path))
    health, full = reader.step_captures("flight", "step/Log", planted_bugs.UNDERFLOW_STEP)
    assert (health.kind, full.kind) == ("health", "full")
    assert health.op == full.op and [i["tag"] for i in full.op["inputs"]] == ["step/Softmax"]
    assert reader.info("flight", "step/input/x", 0).origin == {"kind": "input", "name": "x"}
    culprit = tb_tensorcap.rootcause(reader, "flight")["culprit"]
    assert (culprit["op"], culprit["step"], culprit["source"]["line"]) == (
        "Log",
        planted_bugs.UNDERFLOW_STEP,
        planted_bugs.line("flight_log"),
    )


@pytest.mark.parametrize("callback_args", [{"mode": "health"}, {"keep_steps": 1}], ids=["health", "flight"])
def test_keras_callback_in_health_mode_finds_the_culprit(tmp_path, callback_args):
    planted_bugs.keras_log_softmax_underflow(tmp_path, "fit", **callback_args)
    reply = tb_tensorcap.rootcause(str(tmp_path), "fit")
    culprit = reply["culprit"]
    assert (reply["origin"], culprit["op"], culprit["step"]) == ("op", "Log", planted_bugs.UNDERFLOW_STEP)
    assert culprit["source"]["line"] == planted_bugs.line("keras_log")
    [softmax] = culprit["inputs"]
    assert softmax["tag"].endswith("/Softmax") and softmax["zeros"] == 8


def test_divide_by_a_minus_a_in_a_function(logdir):
    reply = tb_tensorcap.rootcause(str(logdir), "divide")
    culprit = reply["culprit"]
    assert (culprit["op"], culprit["step"], culprit["source"]["line"]) == ("RealDiv", 0, planted_bugs.line("div"))
    x, d = culprit["inputs"]
    assert (x["external"], x["name"]) == ("argument", "x")
    assert d["zeros"] == 2 and culprit["reasons"][0] == "input 1 has 2 exact zeros"


@pytest.mark.parametrize("inf", [False, True])
def test_sqrt_after_a_minus_inf_mask_never_blames_the_mask(logdir, inf):
    reply = tb_tensorcap.rootcause(str(logdir), "mask", inf=inf)
    culprit = reply["culprit"]
    assert (culprit["op"], culprit["source"]["line"]) == ("Sqrt", planted_bugs.line("sqrt"))
    assert "negative values" in culprit["reasons"][0]
    if inf:
        assert len(reply["absorbed"]) >= 2  # the mask and the masked scores, set aside


def test_nan_in_the_data_is_external(logdir):
    reply = tb_tensorcap.rootcause(str(logdir), "data")
    assert reply["origin"] == "external"
    assert reply["culprit"]["external"] == {"kind": "input", "name": "x"}
    assert reply["culprit"]["output"]["nan"] == 1


@pytest.mark.parametrize("record_mode", ["full", "health"])
def test_a_replica_whose_shard_alone_goes_bad(tmp_path, record_mode):
    planted_bugs.mirrored_replica_shard(tmp_path, "mirrored", record_mode)
    reply = tb_tensorcap.rootcause(str(tmp_path), "mirrored")
    assert (reply["replica"], reply["step"], reply["culprit"]["op"]) == (1, 3, "Sqrt")
    assert reply["culprit"]["tag"].startswith("replica_1/")
    assert [r["replica"] for r in reply["replicas"]] == [1]


def test_a_worker_whose_data_alone_goes_bad_in_a_multi_worker_job(tmp_path):
    # Two real workers (MultiWorkerMirroredStrategy on loopback): worker 1's data makes Sqrt NaN at
    # step 3; the all-reduce hands it to worker 0 at the same step, where it enters from outside the block.
    planted_bugs.multi_worker_shard(tmp_path, "job")
    reply = tb_tensorcap.rootcause(str(tmp_path), "job")
    culprit = reply["culprit"]
    assert (reply["worker"], reply["step"], reply["origin"], culprit["op"]) == ("job/worker_1", 3, "op", "Sqrt")
    assert culprit["source"]["line"] == planted_bugs.line("worker_sqrt", planted_bugs.MULTI_WORKER)
    assert culprit["reasons"][0] == "input 0 has negative values (min -1)"
    assert [(w["worker"], w["step"]) for w in reply["workers"]] == [("job/worker_0", 3), ("job/worker_1", 3)]
    assert reply["notes"] == [
        "job/worker_0 also went bad at step 3, through inputs from outside the block (as what an all-reduce "
        "receives from job/worker_1): not an op of its own"
    ]
    alone = tb_tensorcap.rootcause(str(tmp_path), "job/worker_0")  # one worker's run alone says where it ends
    assert (alone["origin"], alone["culprit"]["external"]["kind"]) == ("external", "input")


def test_through_the_command(logdir):
    found = tensorcap_command("rootcause", str(logdir), "underflow_function")
    assert found.returncode == 1, found.stderr
    assert found.stdout.startswith(
        "root cause: Log op, step %d at %s:%d (loss_fn)"
        % (planted_bugs.UNDERFLOW_STEP, planted_bugs.__file__, planted_bugs.line("log"))
    )
    as_json = tensorcap_command("rootcause", str(logdir), "mask", "--inf", "--json")
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["culprit"]["op"] == "Sqrt"
    data = tensorcap_command("rootcause", str(logdir), "data", "--json")
    assert data.returncode == 1 and json.loads(data.stdout)["origin"] == "external"
    clean = tensorcap_command("rootcause", str(logdir), "clean")
    assert clean.returncode == 0 and clean.stdout.startswith("no NaN reaches an output"), clean.stdout


def test_through_the_route(logdir):
    app = WsgiTensorBoard(logdir)
    app.wait_complete()
    for run, op in (("underflow_eager", "Log"), ("divide", "RealDiv"), ("mask", "Sqrt")):
        reply = app.get_json("/data/plugin/tensorcap/rootcause?run=" + run)
        assert reply["culprit"]["op"] == op, (run, reply["culprit"])
    assert app.get_json("/data/plugin/tensorcap/rootcause?run=clean")["origin"] is None
    assert app.get_json("/data/plugin/tensorcap/rootcause?run=data")["origin"] == "external"


def test_keras_callback_in_full_mode_names_the_culprit_layer(tmp_path):
    planted_bugs.keras_log_softmax_underflow(tmp_path, "fit")
    reader = tb_tensorcap.load(str(tmp_path))
    first = [i for i in reader.captures("fit") if i.step == 0]  # Keras numbers layer names per process
    hidden, logits = [i for i in first if i.tag.endswith("/activation")]
    assert (hidden.op["type"], logits.op["type"]) == ("Dense", "Dense")
    assert [e.get("tag") or e["external"] for e in logits.op["inputs"]] == [hidden.tag, "variable", "variable"]
    assert hidden.op["inputs"][0] == {"tag": "input/x"}
    assert reader.info("fit", "input/x", 0).origin == {"kind": "input", "name": "x"}
    assert [e["tag"] for e in reader.info("fit", "loss", 0).op["inputs"]] == [logits.tag, "input/y"]
    gradient = next(i for i in first if i.tag.startswith("grad/"))
    assert gradient.op == {"type": "Gradient", "inputs": [{"tag": "loss"}]}
    reply = tb_tensorcap.rootcause(reader, "fit")
    culprit = reply["culprit"]
    # The loss function is no layer: the culprit is the Loss, whose inputs (the logits) were finite.
    assert (reply["origin"], culprit["op"], culprit["tag"], culprit["step"]) == ("op", "Loss", "loss", 3)
    assert culprit["reasons"] == ["inputs finite, output NaN"]
