"""The root-cause query on hand-written version 2 logdirs whose every edge is known."""

import numpy as np
import pytest
from lineage_logdir import external, op, plain, ref, softmax_log_step, write_run

import tb_tensorcap
from tb_tensorcap import root_cause, root_cause_report
from tb_tensorcap.reader import NotFoundError

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("lineage")
    write_run(
        root / "underflow",
        {
            0: softmax_log_step(nan=False),
            1: softmax_log_step(nan=False),
            2: softmax_log_step(nan=True),
            3: softmax_log_step(nan=True),
        },
    )
    write_run(root / "clean", {0: softmax_log_step(nan=False)})
    return root


def test_log_of_an_exact_zero_from_softmax(logdir):
    reader = tb_tensorcap.load(str(logdir))
    reply = root_cause.root_cause(reader, "underflow")
    assert reply["origin"] == "op"
    assert reply["step"] == 2
    culprit = reply["culprit"]
    assert (culprit["tag"], culprit["op"], culprit["step"]) == ("step/loss/Log", "Log", 2)
    assert culprit["source"] == {"file": "/home/me/train.py", "line": 30, "function": "step_fn"}
    [softmax] = culprit["inputs"]
    assert softmax["tag"] == "step/dense/Softmax"
    assert (softmax["zeros"], softmax["nan"], softmax["min"], softmax["max"]) == (1, 0, 0.0, 1.0)
    assert culprit["output"]["neginf"] == 1 and culprit["output"]["nan"] == 0
    assert culprit["reasons"] == ["input 0 has 1 exact zero", "inputs finite, output 1 -inf"]
    # The chain runs from the culprit to the first NaN capture (the Mul).
    assert [(c["tag"], c["op"]) for c in reply["chain"]] == [("step/loss/Log", "Log"), ("step/loss/Mul", "Mul")]
    assert reply["notes"] == [] and reply["replica"] is None
    text = root_cause_report.describe(reply)
    assert text.splitlines()[0] == "root cause: Log op, step 2 at /home/me/train.py:30 (step_fn) (run underflow)"
    assert "input 0 has 1 exact zero" in text and "step/dense/Softmax" in text


def test_step_and_inf_options(logdir):
    reader = tb_tensorcap.load(str(logdir))
    assert root_cause.root_cause(reader, "underflow", step=3)["culprit"]["step"] == 3
    clean_step = root_cause.root_cause(reader, "underflow", step=1)
    assert (clean_step["origin"], clean_step["culprit"], clean_step["step"]) == (None, None, 1)
    # With inf the walk starts at the -inf of Log itself: same culprit, shorter chain.
    with_inf = root_cause.root_cause(reader, "underflow", inf=True)
    assert with_inf["culprit"]["tag"] == "step/loss/Log"
    assert [c["tag"] for c in with_inf["chain"]] == ["step/loss/Log"]
    with pytest.raises(NotFoundError, match="step 9"):
        root_cause.root_cause(reader, "underflow", step=9)
    with pytest.raises(NotFoundError, match="nope"):
        root_cause.root_cause(reader, "nope")


def test_clean_run(logdir):
    reply = root_cause.root_cause(tb_tensorcap.load(str(logdir)), "clean", inf=True)
    assert (reply["origin"], reply["culprit"], reply["chain"], reply["absorbed"]) == (None, None, [], [])
    assert root_cause_report.describe(reply) == "no NaN or Inf reaches an output in run clean"


def mask_then_sqrt_step():
    """Attention-like: scores + (-inf mask) -> Softmax (finite) -> Sub 0.5 -> Sqrt (NaN) -> Sum."""
    scores = np.array([[0.5, 1.0, 2.0]], np.float32)
    mask = np.array([[0.0, 0.0, -np.inf]], np.float32)
    masked = scores + mask
    weights = np.exp(masked) / np.exp(masked).sum()
    centered = weights - np.float32(0.5)
    with np.errstate(invalid="ignore"):
        root = np.sqrt(centered)
    return [
        external("att/input/scores", scores, "input", "scores"),
        external("att/constant/mask", mask, "constant", "mask"),
        op(
            "att/AddV2",
            masked,
            "AddV2",
            [ref("att/input/scores", "input", "scores"), ref("att/constant/mask", "constant", "mask")],
        ),
        op("att/Softmax", weights, "Softmax", ["att/AddV2"]),
        op("att/Sub", centered, "Sub", ["att/Softmax", {"external": "constant", "name": "Const"}]),
        op("att/Sqrt", root, "Sqrt", ["att/Sub"], line=44),
        op("att/Sum", root.sum(), "Sum", ["att/Sqrt"]),
    ]


def test_an_intentional_minus_inf_mask_is_never_the_culprit(tmp_path):
    write_run(tmp_path / "mask", {0: mask_then_sqrt_step()})
    reader = tb_tensorcap.load(str(tmp_path))
    for inf in (False, True):
        reply = root_cause.root_cause(reader, "mask", inf=inf)
        assert (reply["origin"], reply["culprit"]["op"], reply["culprit"]["tag"]) == ("op", "Sqrt", "att/Sqrt")
        assert "input 0 has negative values (min -0.5)" in reply["culprit"]["reasons"][0]
        # The constant 0.5 was not captured: the answer says so.
        assert reply["notes"] == [] and reply["culprit"]["inputs"][0]["tag"] == "att/Sub"
    # With inf, the mask and its sum were seen and set aside as absorbed.
    assert root_cause.root_cause(reader, "mask", inf=True)["absorbed"] == [
        {"tag": "att/constant/mask", "step": 0},
        {"tag": "att/AddV2", "step": 0},
    ]


def test_a_mask_alone_is_absorbed_not_reported(tmp_path):
    write_run(tmp_path / "mask_only", {0: mask_then_sqrt_step()[:4]})
    reply = root_cause.root_cause(tb_tensorcap.load(str(tmp_path)), "mask_only", inf=True)
    assert reply["origin"] is None and reply["culprit"] is None
    assert [a["tag"] for a in reply["absorbed"]] == ["att/constant/mask", "att/AddV2"]
    assert "absorbed downstream" in root_cause_report.describe(reply)


def test_nan_in_the_input_data_is_external(tmp_path):
    x = np.array([[1.0, np.nan]], np.float32)
    w = np.ones((2, 2), np.float32)
    write_run(
        tmp_path / "data",
        {
            5: [
                external("s/input/x", x, "input", "x"),
                op("s/MatMul", x @ w, "MatMul", [ref("s/input/x", "input", "x"), ref("s/variable/w", "variable", "w")]),
                external("s/variable/w", w, "variable", "w"),
                op("s/Relu", np.maximum(x @ w, 0), "Relu", ["s/MatMul"]),
            ]
        },
    )
    reply = root_cause.root_cause(tb_tensorcap.load(str(tmp_path)), "data")
    assert reply["origin"] == "external"
    assert reply["culprit"]["tag"] == "s/input/x" and reply["culprit"]["external"] == {"kind": "input", "name": "x"}
    assert [c["tag"] for c in reply["chain"]] == ["s/input/x"]
    assert root_cause_report.describe(reply).startswith("root cause: input 'x' from outside the block, step 5")


def test_uncaptured_and_unknown_inputs_are_said(tmp_path):
    bad = np.array([np.nan], np.float32)
    write_run(
        tmp_path / "partial",
        {
            0: [
                op(
                    "p/Mul",
                    bad,
                    "Mul",
                    [{"external": "uncaptured", "op": "Cast"}, {"external": "constant", "name": "c"}],
                ),
            ]
        },
    )
    write_run(tmp_path / "old", {0: [plain("loss", bad)]})
    reader = tb_tensorcap.load(str(tmp_path))
    reply = root_cause.root_cause(reader, "partial")
    assert reply["origin"] == "op" and reply["culprit"]["op"] == "Mul"
    assert reply["notes"] == [
        "input 0 (the output of an uncaptured Cast op) was not captured: it may have held the NaN/Inf itself",
        "input 1 (constant c) was not captured: it may have held the NaN/Inf itself",
    ]
    assert reply["culprit"]["reasons"] == ["captured inputs finite, output NaN"]
    unknown = root_cause.root_cause(reader, "old")
    assert unknown["origin"] == "unknown" and unknown["culprit"]["tag"] == "loss"
    assert "no lineage" in unknown["notes"][0]


def test_the_replica_that_went_bad_first(tmp_path):
    good, bad = (
        softmax_log_step(nan=False, prefix="replica_0/step"),
        softmax_log_step(nan=True, prefix="replica_1/step"),
    )
    write_run(
        tmp_path / "mirrored",
        {
            0: softmax_log_step(nan=False, prefix="replica_0/step")
            + softmax_log_step(nan=False, prefix="replica_1/step"),
            1: good + bad,
        },
    )
    reply = root_cause.root_cause(tb_tensorcap.load(str(tmp_path)), "mirrored")
    assert (reply["replica"], reply["step"], reply["culprit"]["tag"]) == (1, 1, "replica_1/step/loss/Log")
    assert reply["replicas"] == [{"replica": 1, "tag": "replica_1/step/loss/Mul", "step": 1, "order": 37}]
    assert ", replica 1)" in root_cause_report.describe(reply).splitlines()[0]


def test_the_worker_that_went_bad_first(tmp_path):
    write_run(tmp_path / "job" / "worker_0", {0: softmax_log_step(False), 1: softmax_log_step(True)})
    write_run(tmp_path / "job" / "worker_1", {0: softmax_log_step(True), 1: softmax_log_step(True)})
    reply = root_cause.root_cause(tb_tensorcap.load(str(tmp_path)), "job")
    assert (reply["worker"], reply["run"], reply["step"]) == ("job/worker_1", "job", 0)
    assert [(w["worker"], w["step"]) for w in reply["workers"]] == [("job/worker_0", 1), ("job/worker_1", 0)]
    assert reply["culprit"]["tag"] == "step/loss/Log"


# -- the same answer through the command, the route and the Python function -----------------


def tensorcap_command(*argv):
    import os
    import shutil
    import subprocess
    import sys

    command = shutil.which("tensorcap", path=os.path.dirname(sys.executable))
    return subprocess.run([command, *argv], capture_output=True, text=True, timeout=120)


def test_command_exit_status_text_and_json(logdir):
    import json

    found = tensorcap_command("rootcause", str(logdir), "underflow")
    assert found.returncode == 1, found.stderr
    assert found.stdout.splitlines()[0] == (
        "root cause: Log op, step 2 at /home/me/train.py:30 (step_fn) (run underflow)"
    )
    assert "because   input 0 has 1 exact zero" in found.stdout
    as_json = tensorcap_command("rootcause", str(logdir), "underflow", "--step", "3", "--inf", "--json")
    assert as_json.returncode == 1
    reply = json.loads(as_json.stdout)
    expected = tb_tensorcap.rootcause(str(logdir), "underflow", step=3, inf=True)
    assert reply == json.loads(json.dumps(expected))
    assert (reply["culprit"]["op"], reply["step"], reply["inf"]) == ("Log", 3, True)
    clean = tensorcap_command("rootcause", str(logdir), "clean")
    assert (clean.returncode, clean.stdout.strip()) == (0, "no NaN reaches an output in run clean")
    for argv, words in ((("nope",), "no run 'nope'"), (("underflow", "--step", "9"), "no numeric capture at step 9")):
        failed = tensorcap_command("rootcause", str(logdir), *argv)
        assert failed.returncode == 2 and words in failed.stderr, failed.stderr


def test_command_run_may_be_left_out_only_when_the_logdir_holds_one(logdir):
    alone = tensorcap_command("rootcause", str(logdir / "underflow"))
    assert alone.returncode == 1, alone.stderr
    assert alone.stdout.splitlines()[0] == "root cause: Log op, step 2 at /home/me/train.py:30 (step_fn) (run .)"
    several = tensorcap_command("rootcause", str(logdir))
    assert several.returncode == 2 and "name one as RUN" in several.stderr and "underflow" in several.stderr


def test_python_function_prints_the_text_form(logdir):
    answer = tb_tensorcap.rootcause(str(logdir), "underflow")
    assert answer.found and str(answer) == root_cause_report.describe(answer)
    assert not tb_tensorcap.rootcause(tb_tensorcap.load(str(logdir)), "clean").found


def test_route_rootcause_and_lineage(logdir):
    from support import WsgiTensorBoard

    app = WsgiTensorBoard(logdir)
    app.wait_complete()
    base = "/data/plugin/tensorcap"
    reply = app.get_json(base + "/rootcause?run=underflow")
    assert reply["origin"] == "op" and reply["culprit"]["tag"] == "step/loss/Log"
    assert reply["culprit"]["inputs"][0]["zeros"] == 1 and reply["step"] == 2
    assert app.get_json(base + "/rootcause?run=underflow&step=1")["origin"] is None
    assert app.get_json(base + "/rootcause?run=underflow&inf=1")["chain"] == [
        {"tag": "step/loss/Log", "op": "Log", "step": 2}
    ]
    lineage = app.get_json(base + "/lineage?run=underflow&tag=step/dense/Softmax&step=2")
    assert lineage == {
        "run": "underflow",
        "tag": "step/dense/Softmax",
        "step": 2,
        "op": "Softmax",
        "origin": None,
        "inputs": [{"tag": "step/dense/MatMul", "index": 0, "step": 2, "captured": True}],
        "consumers": [{"tag": "step/loss/Log", "step": 2, "repeat": 0, "index": 0}],
    }
    for query, status in (
        ("?run=nope", 404),
        ("?run=underflow&step=x", 400),
        ("?run=underflow&inf=yes", 400),
        ("?run=underflow&step=99", 404),
        ("", 400),
    ):
        assert app.get(base + "/rootcause" + query).status_code == status, query
    assert app.get(base + "/lineage?run=underflow&tag=nope&step=0").status_code == 404


def test_the_graph_around_the_culprit(logdir):
    graph = root_cause.root_cause(tb_tensorcap.load(str(logdir)), "underflow")["graph"]
    levels = {n["tag"]: n["level"] for n in graph["nodes"]}
    assert levels == {
        "step/loss/Log": 0,
        "step/dense/Softmax": -1,
        "step/dense/MatMul": -2,
        "step/loss/Mul": 1,
        "step/loss/Sum": 2,
    }
    log = next(n for n in graph["nodes"] if n["tag"] == "step/loss/Log")
    assert (log["op"], log["neginf"], log["nan"]) == ("Log", 1, 0)
    assert sorted(graph["edges"]) == [
        ["step/dense/MatMul", "step/dense/Softmax"],
        ["step/dense/Softmax", "step/loss/Log"],
        ["step/loss/Log", "step/loss/Mul"],
        ["step/loss/Mul", "step/loss/Sum"],
    ]


def test_inputs_that_cannot_hold_nan_are_not_noted(tmp_path):
    write_run(
        tmp_path / "ints",
        {
            0: [
                op(
                    "p/Reshape",
                    np.array([np.nan], np.float32),
                    "Reshape",
                    [
                        {"external": "input", "name": "shape", "dtype": "int32"},
                        {"external": "variable", "name": "v", "dtype": "resource"},
                    ],
                ),
            ]
        },
    )
    reply = root_cause.root_cause(tb_tensorcap.load(str(tmp_path)), "ints")
    assert reply["culprit"]["op"] == "Reshape" and reply["notes"] == []


def test_repeats_at_a_step_are_told_apart(tmp_path):
    # A function called twice in one block: the first call underflows, the second does not.
    write_run(tmp_path / "twice", {0: softmax_log_step(nan=True) + softmax_log_step(nan=False)})
    reply = root_cause.root_cause(tb_tensorcap.load(str(tmp_path)), "twice")
    culprit = reply["culprit"]
    assert (culprit["tag"], culprit["repeat"]) == ("step/loss/Log", 0)
    assert culprit["inputs"][0]["zeros"] == 1 and culprit["reasons"][0] == "input 0 has 1 exact zero"
    assert [c["tag"] for c in reply["chain"]] == ["step/loss/Log", "step/loss/Mul"]
