"""The installed `tensorcap` command, run as a subprocess on real captures.

The logdir is written once per module with TensorFlow's summary writers and
`tb_tensorcap.capture`; every command then runs without TensorFlow and is
checked against numpy, the reader and the answers module.
"""

import json
import math
import os
import pty
import select
import shutil
import subprocess
import sys

import ml_dtypes  # noqa: E402
import numpy as np
import pytest
import tensorflow as tf  # noqa: E402

import tb_tensorcap  # noqa: E402
from tb_tensorcap import answers  # noqa: E402

BIN = os.path.dirname(sys.executable)
TENSORCAP = shutil.which("tensorcap", path=BIN)
STEPS = range(5)
BF16 = np.array([1.5, -2.25, 3.140625, 0.0, 65280.0, -1e-3], dtype=np.float32)


def _tokens(step):
    # Undecodable bytes always; a trailing NUL (dropped by numpy's dtype S) only at step 4.
    return np.array([b"tok%d" % step, b"", b"\xff\xfebad", b"nul\x00" if step == 4 else b"nul"], dtype=object)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Three runs: `changed` parts from `healthy` at dense/kernel step 3; `nan_run` has NaN/Inf."""
    root = tmp_path_factory.mktemp("cli")
    logdir = str(root / "logs")
    rng = np.random.default_rng(0)
    kernels = rng.standard_normal((5, 4, 5)).astype(np.float32)
    conv = rng.standard_normal((5, 2, 3, 4, 5)).astype(np.float32)
    big = rng.standard_normal((100, 100)).astype(np.float32)
    written = {}
    for run in ("healthy", "changed", "nan_run"):
        writer = tf.summary.create_file_writer(os.path.join(logdir, run))
        for step in STEPS:
            kernel = kernels[step].copy()
            if run == "changed" and step >= 3:
                kernel[1, 2] += 0.5
            if run == "nan_run" and step == 4:
                kernel[0, :2] = [np.inf, -np.inf]
            loss = np.float32(np.nan if run == "nan_run" and step == 2 else 1 / (step + 1))
            values = {
                "dense/kernel": kernel,
                "conv:out": conv[step],
                "loss": loss,
                "bf16": tf.constant(BF16 * (step + 1), dtype=tf.bfloat16),
                "tokens": _tokens(step),
            }
            if step == 0:
                values["big"] = big
            for tag, value in values.items():
                tb_tensorcap.capture(value, tag, step=step, writer=writer)  # the capture line
                written[run, tag, step] = np.asarray(value)
        writer.flush()
    empty = root / "empty"
    (empty / "run").mkdir(parents=True)
    (empty / "run" / "notes.txt").write_text("no event files here")
    source_line = next(
        i for i, text in enumerate(open(__file__, encoding="utf-8"), 1) if text.rstrip().endswith("# the capture line")
    )
    return {"logdir": logdir, "written": written, "empty": str(empty), "root": root, "source_line": source_line}


def tensorcap(*args, module=False):
    """Runs the installed command (or `python -m tb_tensorcap`); never a traceback."""
    command = [sys.executable, "-m", "tb_tensorcap"] if module else [TENSORCAP]
    proc = subprocess.run(command + [str(a) for a in args], capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def as_json(*args):
    proc = tensorcap(*args, "--json")
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def cleansed(value):
    """Python floats as the JSON replies write them."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: cleansed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [cleansed(v) for v in value]
    return value


def test_script_is_installed_and_module_runs_the_same():
    assert TENSORCAP, "the tensorcap console script is not installed in %s" % BIN
    script, module = tensorcap("--help"), tensorcap("--help", module=True)
    assert script.returncode == module.returncode == 0
    assert script.stdout == module.stdout
    assert "examples:" in script.stdout and "exit status" in script.stdout


def test_ls_json_lists_every_run_tag_and_step(data):
    code, reply = as_json("ls", data["logdir"])
    assert code == 0
    assert sorted(reply["runs"]) == ["changed", "healthy", "nan_run"]
    healthy = reply["runs"]["healthy"]
    assert sorted(healthy) == ["bf16", "big", "conv:out", "dense/kernel", "loss", "tokens"]
    expected = {
        "bf16": ("bfloat16", [6]),
        "big": ("float32", [100, 100]),
        "conv:out": ("float32", [2, 3, 4, 5]),
        "dense/kernel": ("float32", [4, 5]),
        "loss": ("float32", []),
        "tokens": ("string", [4]),
    }
    for tag, (dtype, shape) in expected.items():
        assert (healthy[tag]["dtype"], healthy[tag]["shape"]) == (dtype, shape)
        assert healthy[tag]["steps"] == ([0] if tag == "big" else list(STEPS))
        assert healthy[tag]["source"]["file"] == __file__


def test_ls_text_filters_by_run_and_tag(data):
    proc = tensorcap("ls", data["logdir"], "--run", "changed", "--tag", "^(dense|conv)")
    assert proc.returncode == 0 and proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["run", "tag", "steps", "repeats", "first..last", "dtype", "shape", "source"]
    assert [line.split()[:6] for line in lines[1:]] == [
        ["changed", "conv:out", "5", "0", "0..4", "float32"],
        ["changed", "dense/kernel", "5", "0", "0..4", "float32"],
    ]
    source = "%s:%d" % (os.path.basename(__file__), data["source_line"])
    assert [line.split()[-1] for line in lines[1:]] == [source, source]
    long = tensorcap("ls", data["logdir"], "--run", "changed", "--tag", "^dense", "--long")
    assert long.stdout.splitlines()[1].split()[-1] == "%s:%d" % (__file__, data["source_line"])
    same = tensorcap("ls", data["logdir"], "--run", "changed", "--tag", "^(dense|conv)", module=True)
    assert same.stdout == proc.stdout


def test_stats_match_numpy(data):
    code, reply = as_json("stats", data["logdir"], "healthy", "dense/kernel")
    assert code == 0 and (reply["run"], reply["tag"]) == ("healthy", "dense/kernel")
    assert [row["step"] for row in reply["steps"]] == list(STEPS)
    for row in reply["steps"]:
        value = data["written"]["healthy", "dense/kernel", row["step"]].astype(np.float64)
        assert (row["dtype"], row["shape"], row["numel"]) == ("float32", [4, 5], 20)
        assert (row["min"], row["max"]) == (value.min(), value.max())
        assert row["mean"] == pytest.approx(value.mean(), rel=1e-12)
        assert row["std"] == pytest.approx(value.std(), rel=1e-12)
        assert (row["nan"], row["posinf"], row["neginf"], row["zeros"]) == (0, 0, 0, 0)
    code, reply = as_json("stats", data["logdir"], "nan_run", "dense/kernel", "--step", "4")
    [row] = reply["steps"]
    finite = data["written"]["nan_run", "dense/kernel", 4].reshape(-1)[2:].astype(np.float64)
    assert (row["posinf"], row["neginf"], row["min"], row["max"]) == (1, 1, finite.min(), finite.max())
    code, reply = as_json("stats", data["logdir"], "nan_run", "loss", "--step", "2")
    assert (reply["steps"][0]["nan"], reply["steps"][0]["mean"]) == (1, None)
    text = tensorcap("stats", data["logdir"], "nan_run", "loss")
    assert text.returncode == 0 and len(text.stdout.splitlines()) == 6
    assert text.stdout.splitlines()[3].split()[4:9] == ["-", "-", "-", "-", "1"]  # step 2: no finite element


def test_show_json_gives_exact_values(data):
    code, reply = as_json("show", data["logdir"], "healthy", "conv:out", "--step", "2", "--slice", "1,:, :,0")
    expected = data["written"]["healthy", "conv:out", 2][1, :, :, 0]
    assert code == 0
    assert (reply["slice"], reply["shape"], reply["full_shape"]) == ("1, :, :, 0", [3, 4], [2, 3, 4, 5])
    assert reply["data"] == expected.astype(np.float64).tolist()
    _, reply = as_json("show", data["logdir"], "healthy", "bf16", "--step", "3")
    assert reply["dtype"] == "bfloat16"
    assert reply["data"] == (BF16 * 4).astype(ml_dtypes.bfloat16).astype(np.float64).tolist()
    _, reply = as_json("show", data["logdir"], "nan_run", "dense/kernel", "--step", "4", "--slice", "0")
    assert reply["data"][:2] == ["Infinity", "-Infinity"]
    _, reply = as_json("show", data["logdir"], "nan_run", "loss", "--step", "2")
    assert (reply["data"], reply["shape"]) == ("NaN", [])
    _, reply = as_json("show", data["logdir"], "healthy", "tokens")  # the last step by default
    assert (reply["step"], reply["data"]) == (4, ["tok4", "", "\\xff\\xfebad", "nul\x00"])


def test_show_text_is_numpy_style_and_truncated(data):
    proc = tensorcap("show", data["logdir"], "healthy", "big", "--step", "0")
    big = data["written"]["healthy", "big", 0]
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0
    assert lines[0] == "healthy:big:0  float32 [100, 100]  from %s:%d" % (__file__, data["source_line"])
    assert "..." in proc.stdout and len(lines) < 20
    assert ("%.4f" % big[0, 0])[:5] in lines[1]
    full = tensorcap("show", data["logdir"], "healthy", "big", "--step", "0", "--full")
    assert "..." not in full.stdout and len(full.stdout.splitlines()) > 100
    tokens = tensorcap("show", data["logdir"], "healthy", "tokens", "--step", "1")
    assert tokens.stdout.splitlines()[1] == r"""['tok1' '' b'\xff\xfebad' 'nul']"""
    scalar = tensorcap("show", data["logdir"], "healthy", "bf16", "--step", "0", "--slice", "2")
    assert scalar.stdout.splitlines() == [
        "healthy:bf16:0  bfloat16 [6]  [2] -> []  from %s:%d" % (__file__, data["source_line"]),
        "3.140625",
    ]


def test_export_round_trips_bit_exact(data, tmp_path):
    reader = tb_tensorcap.load(data["logdir"])
    for tag in ("dense/kernel", "conv:out", "bf16", "tokens"):
        out = tmp_path / ("%s.npz" % tag.replace("/", "_").replace(":", "_"))
        code, reply = as_json("export", data["logdir"], "nan_run", tag, "-o", out)
        assert code == 0 and reply["steps"] == list(STEPS)
        with np.load(out, allow_pickle=(tag == "tokens")) as saved:
            assert sorted(saved.files) == ["step_%d" % s for s in STEPS]
            for step in STEPS:
                value, array = reader.value("nan_run", tag, step), saved["step_%d" % step]
                if tag == "tokens":
                    assert array.dtype.kind == ("O" if step == 4 else "S")  # step 4 ends in NUL
                    assert array.tolist() == value.tolist()
                elif tag == "bf16":
                    assert array.dtype == np.uint16 and reply["saved_dtypes"] == ["uint16"]
                    assert array.tobytes() == value.tobytes()
                    assert np.array_equal(
                        array.view(ml_dtypes.bfloat16).astype(np.float32),
                        (BF16 * (step + 1)).astype(ml_dtypes.bfloat16).astype(np.float32),
                    )
                else:
                    assert array.dtype == value.dtype and array.shape == value.shape
                    assert array.tobytes() == value.tobytes()
    out = tmp_path / "one.npy"
    proc = tensorcap("export", data["logdir"], "healthy", "tokens", "--step", "2", "-o", out)
    assert proc.returncode == 0 and "wrote %s" % out in proc.stdout
    array = np.load(out)  # dtype S: no pickle needed when no string ends in NUL
    assert array.dtype.kind == "S" and array.tolist() == _tokens(2).tolist()
    proc = tensorcap("export", data["logdir"], "healthy", "bf16", "--step", "2", "-o", out)
    assert "uint16" in proc.stdout
    assert np.load(out).tobytes() == reader.value("healthy", "bf16", 2).tobytes()


def test_diff_reports_and_exits_1_when_not_allclose(data):
    logdir, written = data["logdir"], data["written"]
    code, reply = as_json("diff", logdir, "healthy:dense/kernel:3", "changed::")
    a64 = written["healthy", "dense/kernel", 3].astype(np.float64)
    b64 = written["changed", "dense/kernel", 3].astype(np.float64)
    assert code == 1
    assert reply["a"] == {"run": "healthy", "tag": "dense/kernel", "step": 3, "dtype": "float32", "shape": [4, 5]}
    assert (reply["b"]["run"], reply["b"]["tag"], reply["b"]["step"]) == ("changed", "dense/kernel", 3)
    stats = reply["stats"]
    assert (stats["outside"], stats["argmax"], stats["allclose"]) == (1, [1, 2], False)
    assert stats["max_abs"] == abs(a64 - b64).max()
    assert stats["max_rel"] == pytest.approx(abs(a64[1, 2] - b64[1, 2]) / abs(b64[1, 2]), rel=1e-12)
    assert tensorcap("diff", logdir, "healthy:dense/kernel:3", "changed::", "--atol", "0.6").returncode == 0
    assert tensorcap("diff", logdir, "healthy:dense/kernel:2", "changed:dense/kernel:2").returncode == 0
    code, reply = as_json("diff", logdir, "healthy:dense/kernel:3", "changed::", "--slice", "1, 3:")
    assert (code, reply["slice"], reply["stats"]["numel"], reply["stats"]["outside"]) == (0, "1, 3:", 2, 0)
    text = tensorcap("diff", logdir, "healthy:dense/kernel:4", "changed::")
    assert text.returncode == 1 and "NOT allclose" in text.stdout and "[1, 2]" in text.stdout


def test_diff_parses_tags_with_colons(data):
    code, reply = as_json("diff", data["logdir"], "healthy:conv:out:2", "::3", "--slice", "0,0")
    a = data["written"]["healthy", "conv:out", 2][0, 0].astype(np.float64)
    b = data["written"]["healthy", "conv:out", 3][0, 0].astype(np.float64)
    assert code == 1 and (reply["a"]["tag"], reply["b"]["tag"], reply["b"]["step"]) == ("conv:out", "conv:out", 3)
    assert reply["stats"]["max_abs"] == abs(a - b).max()
    assert tensorcap("diff", data["logdir"], "healthy:conv:out:2", "changed::").returncode == 0


def test_divergence_gives_the_answers_layers_answer(data):
    code, reply = as_json("divergence", data["logdir"], "healthy", "changed")
    expected = answers.divergence(tb_tensorcap.load(data["logdir"]), "healthy", "changed")
    assert code == 1 and reply == cleansed(expected)
    first = reply["first"]
    assert (first["tag"], first["step"], first["reason"], first["outside"]) == ("dense/kernel", 3, "values", 1)
    assert reply["tags"][0]["tag"] == "dense/kernel" and reply["tags"][0]["steps_outside"] == 2
    assert reply["compared"] == 26
    same = tensorcap("divergence", data["logdir"], "healthy", "healthy")
    assert same.returncode == 0 and "no divergence" in same.stdout
    text = tensorcap("divergence", data["logdir"], "healthy", "changed", "--rtol", "0", "--atol", "0.4")
    assert text.returncode == 1 and "first divergence: dense/kernel at step 3" in text.stdout
    assert tensorcap("divergence", data["logdir"], "healthy", "changed", "--atol", "0.6").returncode == 0


def test_divergence_of_scalar_captures(data):
    code, reply = as_json("divergence", data["logdir"], "healthy", "nan_run")
    assert code == 1 and (reply["first"]["tag"], reply["first"]["step"]) == ("loss", 2)


def test_alerts_list_nan_and_inf_and_exit_1(data):
    proc = tensorcap("alerts", data["logdir"], "--json")
    assert proc.returncode == 1 and proc.stderr == ""  # no progress bar when stderr is not a terminal
    reply = json.loads(proc.stdout)
    assert reply == cleansed({"alerts": answers.alerts(tb_tensorcap.load(data["logdir"]))})
    keys = ("run", "tag", "step", "nan", "posinf", "neginf", "first")
    found = [tuple(a[k] for k in keys) for a in reply["alerts"]]
    assert found == [("nan_run", "loss", 2, 1, 0, 0, True), ("nan_run", "dense/kernel", 4, 0, 1, 1, False)]
    clean = tensorcap("alerts", data["logdir"], "--run", "healthy")
    assert clean.returncode == 0 and clean.stdout.startswith("no NaN or Inf")
    text = tensorcap("alerts", data["logdir"], "--run", "nan_run")
    # loss is the 3rd capture of step 2, after 6 at step 0 and 5 at step 1: order 13.
    assert (
        text.returncode == 1
        and text.stdout.splitlines()[1].split()
        == ("nan_run loss 2 0 13 1 0 0 first test_cli.py:%d" % data["source_line"]).split()
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["ls", "{root}/missing"], "logdir '{root}/missing' does not exist"),
        (["ls", "{empty}"], "no TensorCap captures under logdir '{empty}'"),
        (["stats", "{logdir}", "nosuch", "loss"], "no run 'nosuch'"),
        (["show", "{logdir}", "healthy", "nosuch"], "no tag 'nosuch' in run 'healthy'"),
        (["show", "{logdir}", "healthy", "loss", "--step", "9"], "no step 9 for tag 'loss'"),
        (["show", "{logdir}", "healthy", "conv:out", "--slice", "0,x"], 'entry 2 ("x")'),
        (["show", "{logdir}", "healthy", "conv:out", "--slice", "0,5"], "index 5 is out of range for axis 1"),
        (["diff", "{logdir}", "healthy:loss", "::"], "'healthy:loss' is not RUN:TAG:STEP"),
        (["diff", "{logdir}", "healthy:loss:two", "::"], "step 'two'"),
        (["diff", "{logdir}", "healthy:loss:1", ":bf16:"], "cannot diff shapes [] (healthy:loss:1) and [6]"),
        (["diff", "{logdir}", "healthy:loss:1", "::", "--rtol", "-1"], "--rtol: must be a non-negative number"),
        (["divergence", "{logdir}", "healthy", "nosuch"], "no run 'nosuch'"),
        (["ls", "{logdir}", "--tag", "("], "--tag '(' is not a regular expression"),
        (["export", "{logdir}", "healthy", "loss", "-o", "{root}/x.npy"], "healthy:loss has 5 steps"),
        (["export", "{logdir}", "healthy", "loss", "-o", "{root}/x.csv"], "must end in .npy"),
        (["export", "{logdir}", "healthy", "loss", "-o", "{root}/no/dir/x.npz"], "cannot write"),
    ],
)
def test_errors_name_the_wrong_thing_and_exit_2(data, args, message):
    names = {"logdir": data["logdir"], "empty": data["empty"], "root": data["root"]}
    proc = tensorcap(*[a.format(**names) for a in args])
    assert proc.returncode == 2 and proc.stdout == ""
    last = proc.stderr.splitlines()[-1]
    assert last.startswith(("tensorcap: error:", "tensorcap %s: error:" % args[0]))
    assert message.format(**names) in last


def test_unreadable_event_file_is_reported_without_traceback(data):
    run = data["root"] / "corrupt" / "run"
    shutil.copytree(os.path.join(data["logdir"], "healthy"), run)
    [path] = [p for p in run.iterdir() if ".tensorcap." in p.name]  # TensorCap's own file, beside the writer's
    damaged = bytearray(path.read_bytes())
    damaged[100] ^= 0xFF  # inside the first capture's record: its CRC no longer matches
    path.write_bytes(bytes(damaged))
    proc = tensorcap("ls", run.parent)
    assert proc.returncode == 0
    assert "tensorcap: warning: %s: record at byte" % path in proc.stderr
    path.write_bytes(bytes(damaged[:60]))
    proc = tensorcap("ls", run.parent)
    assert proc.returncode == 2 and "no TensorCap captures" in proc.stderr


def test_runs_without_tensorflow(data, tmp_path):
    script = """
import contextlib, io, json, sys

class BlockTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow":
            raise ImportError("blocked: " + name)

sys.meta_path.insert(0, BlockTensorFlow())
from tb_tensorcap import cli
codes = []
for argv in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()):
        codes.append(cli.main(argv))
print(json.dumps({"codes": codes, "tf": [m for m in sys.modules if m.split(".")[0] == "tensorflow"]}))
"""
    logdir = data["logdir"]
    commands = [
        ["ls", logdir],
        ["stats", logdir, "healthy", "bf16"],
        ["show", logdir, "healthy", "tokens"],
        ["export", logdir, "healthy", "bf16", "-o", str(tmp_path / "b.npz")],
        ["diff", logdir, "healthy:dense/kernel:3", "changed::"],
        ["divergence", logdir, "healthy", "changed"],
        ["alerts", logdir],
    ]
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(commands)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"codes": [0, 0, 0, 0, 1, 1, 1], "tf": []}


def test_progress_bar_only_on_a_terminal(data):
    master, slave = pty.openpty()
    proc = subprocess.Popen([TENSORCAP, "alerts", data["logdir"], "--json"], stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    stdout, _ = proc.communicate(timeout=60)
    stderr = b""
    while select.select([master], [], [], 1)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other end is closed
            break
        if not chunk:
            break
        stderr += chunk
    os.close(master)
    assert proc.returncode == 1 and len(json.loads(stdout)["alerts"]) == 2  # stdout stays clean JSON
    assert b"indexing [" in stderr and b"checking [" in stderr and b"\r\x1b[K" in stderr and b"Traceback" not in stderr
