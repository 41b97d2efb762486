"""Several captures at one (run, tag, step): every one is kept and every answer sees it.

The repro of issue 10: a `capture()` inside a `tf.function` whose step is a
Python int set with `tf.summary.experimental.set_step` writes every call at
the step frozen at trace time. The reader used to keep only the last capture,
so `ls` said "1 step" and `alerts` missed a -Inf written by an earlier call.
Checked through the reader, the real `tensorcap` command and the real routes.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from support import WsgiTensorBoard

import tb_tensorcap as tensorcap
from tb_tensorcap import answers

pytestmark = pytest.mark.usefixtures("isolated_capture")

CALLS = 6
INF_CALL = 2  # the call whose value holds -Inf; later calls are finite


def _call_value(call):
    value = np.full(4, call + 1, np.float32)
    if call == INF_CALL:
        value[3] = 0.0  # log(0) = -Inf
    return value


def _write_frozen_step_run(run_dir, shift=0.0):
    """CALLS calls of a tf.function capturing log(x) at a step frozen at 0."""
    writer = tf.summary.create_file_writer(str(run_dir))

    @tf.function
    def forward(x):
        return tensorcap.capture(tf.math.log(x + shift), "logp")

    with writer.as_default():
        for call in range(CALLS):
            tf.summary.experimental.set_step(call)  # a Python int: frozen into the trace
            forward(tf.constant(_call_value(call)))
    tf.summary.experimental.set_step(None)
    writer.close()


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("repeats") / "logs"
    _write_frozen_step_run(root / "frozen")
    _write_frozen_step_run(root / "shifted", shift=1e-3)
    return root


def _tensorcap(*args):
    command = shutil.which("tensorcap", path=os.path.dirname(sys.executable))
    return subprocess.run([command, *map(str, args)], capture_output=True, text=True, timeout=120)


def test_reader_keeps_every_capture_of_a_step(logdir):
    reader = tensorcap.load(str(logdir))
    assert reader.steps("frozen", "logp") == [0]
    assert reader.repeats("frozen", "logp") == CALLS - 1
    every = reader.step_captures("frozen", "logp", 0)
    assert [i.repeat for i in every] == list(range(CALLS))
    assert [i.order for i in every] == sorted(i.order for i in every)
    assert [i.repeat for i in reader.captures("frozen")] == list(range(CALLS))
    assert reader.tag_captures("frozen", "logp") == every
    # value() and info() give the last (TensorBoard's rule); repeat=k the k-th.
    assert reader.info("frozen", "logp", 0).repeat == CALLS - 1
    np.testing.assert_array_equal(reader.value("frozen", "logp", 0), np.log(_call_value(CALLS - 1)))
    for call in range(CALLS):
        with np.errstate(divide="ignore"):
            expected = np.log(_call_value(call))
        np.testing.assert_array_equal(reader.value("frozen", "logp", 0, repeat=call), expected)
        assert reader.stats("frozen", "logp", 0, repeat=call)["neginf"] == (call == INF_CALL)
    with pytest.raises(tensorcap.NotFoundError, match="no repeat 6 of step 0"):
        reader.info("frozen", "logp", 0, repeat=CALLS)
    assert "repeat=%d" % INF_CALL in repr(every[INF_CALL])


def test_alerts_and_divergence_read_every_repeat(logdir):
    reader = tensorcap.load(str(logdir))
    (alert,) = answers.alerts(reader, "frozen")
    assert (alert["tag"], alert["step"], alert["repeat"], alert["neginf"]) == ("logp", 0, INF_CALL, 1)
    result = answers.divergence(reader, "frozen", "shifted")
    # The k-th repeat pairs with the k-th: the first parting is the first call, not the last.
    assert (result["first"]["repeat"], result["first"]["reason"]) == (0, "values")
    (row,) = result["tags"]
    assert (row["steps_compared"], row["steps_outside"], row["unpaired"]) == (CALLS, CALLS, 0)
    # log(0) = -Inf against log(1e-3): a finiteness mismatch, not a difference of 0.
    assert row["nonfinite_mismatch"] == 1 and row["reasons"] == ["values", "nonfinite"]


def test_command_lists_and_alerts_every_repeat(logdir):
    listing = _tensorcap("ls", logdir, "--run", "frozen", "--json")
    assert listing.returncode == 0, listing.stderr
    facts = json.loads(listing.stdout)["runs"]["frozen"]["logp"]
    assert (facts["steps"], facts["repeats"]) == ([0], CALLS - 1)
    text = _tensorcap("ls", logdir, "--run", "frozen")
    header, row = text.stdout.splitlines()[:2]
    assert header.split()[:4] == ["run", "tag", "steps", "repeats"]
    assert row.split()[:4] == ["frozen", "logp", "1", str(CALLS - 1)]
    assert row.split()[-1] == "test_repeated_captures.py:%d" % _line_of("tensorcap.capture(tf.math.log")

    alerts = _tensorcap("alerts", logdir, "--run", "frozen", "--json")
    assert alerts.returncode == 1
    (alert,) = json.loads(alerts.stdout)["alerts"]
    assert (alert["tag"], alert["step"], alert["repeat"], alert["neginf"]) == ("logp", 0, INF_CALL, 1)
    assert alert["source"]["line"] == _line_of("tensorcap.capture(tf.math.log")
    text = _tensorcap("alerts", logdir, "--run", "frozen").stdout
    assert "test_repeated_captures.py:%d" % _line_of("tensorcap.capture(tf.math.log") in text

    out = logdir.parent / "logp.npz"
    export = _tensorcap("export", logdir, "frozen", "logp", "-o", out)
    assert "%d capture(s) repeat a step" % (CALLS - 1) in export.stdout
    with np.load(out) as saved:
        assert sorted(saved.files) == ["step_0"] + ["step_0_repeat_%d" % k for k in range(CALLS - 1)]
        assert saved["step_0_repeat_%d" % INF_CALL][3] == -np.inf
        np.testing.assert_array_equal(saved["step_0"], np.log(_call_value(CALLS - 1)))

    show = _tensorcap("show", logdir, "frozen", "logp", "--step", "0", "--repeat", INF_CALL, "--json")
    assert json.loads(show.stdout)["data"][3] == "-Infinity"
    assert (
        "capture 3 of %d at this step" % CALLS
        in _tensorcap("show", logdir, "frozen", "logp", "--repeat", INF_CALL).stdout
    )


def test_routes_count_repeats_and_alert_on_every_capture(logdir):
    app = WsgiTensorBoard(logdir)
    index = app.wait_complete()
    assert index["runs"]["frozen"]["logp"]["repeats"] == CALLS - 1
    alerts = app.get_json("/data/plugin/tensorcap/alerts?run=frozen")["alerts"]
    assert [(a["step"], a["repeat"]) for a in alerts] == [(0, INF_CALL)]
    index = app.get_json("/data/plugin/tensorcap/index")
    assert index["runs"]["frozen"]["logp"]["alerts"] == 1
    divergence = app.get_json("/data/plugin/tensorcap/divergence?run=frozen&run2=shifted")
    assert divergence["tags"][0]["nonfinite_mismatch"] == 1


def _line_of(text):
    with open(__file__, encoding="utf-8") as f:
        (line,) = [i for i, code in enumerate(f, 1) if text in code and "_line_of" not in code]
    return line


def test_stats_frame_has_a_row_per_repeat(logdir):
    frame = tensorcap.load(str(logdir)).stats_frame(run="frozen")
    assert frame["repeat"].tolist() == list(range(CALLS))
    assert frame["neginf"].tolist() == [int(call == INF_CALL) for call in range(CALLS)]


def test_a_tag_captured_twice_in_one_block_keeps_both_values(tmp_path):
    """A block writes its values as raw events; a repeated tag goes to its own event, never read as the first."""
    writer = tf.summary.create_file_writer(str(tmp_path / "run"))
    with writer.as_default():
        with tensorcap.record("block", step=0) as block:
            block.capture(tf.constant([1.0, 2.0]), "v")
            block.capture(tf.constant([3.0, 4.0, 5.0]), "v")
            tensorcap.capture(tf.constant([7.0, 8.0]), "w")
            tensorcap.capture(tf.constant([9.0, 10.0]), "w")
    writer.close()
    reader = tensorcap.load(str(tmp_path))
    for tag, values in (("block/v", ([1, 2], [3, 4, 5])), ("block/w", ([7, 8], [9, 10]))):
        assert reader.repeats("run", tag) == 1, tag  # one capture repeats step 0
        for repeat, expected in enumerate(values):
            np.testing.assert_array_equal(reader.value("run", tag, 0, repeat=repeat), expected)


def test_an_event_holding_a_tag_twice_reads_the_first_and_reports_the_second(tmp_path, caplog):
    """Files written before the fix (or by hand) hold such events: the second value is skipped, said, never misread."""
    from tb_tensorcap import capture_context, codec

    metadata_bytes = capture_context.serialized_metadata({"file": "hand.py", "line": 1, "function": "f"}, None)
    pieces = []
    for value in (np.array([1.0, 2.0], np.float32), np.array([3.0, 4.0], np.float32)):
        codec.encode_summary_value(pieces, "twice", value, tf.float32.as_datatype_enum, metadata_bytes)
    writer = tf.summary.create_file_writer(str(tmp_path / "run"))
    with writer.as_default():
        tf.summary.experimental.write_raw_pb(b"".join(pieces), step=0)
    writer.close()
    with caplog.at_level("WARNING"):
        reader = tensorcap.load(str(tmp_path))
    assert reader.repeats("run", "twice") == 0
    np.testing.assert_array_equal(reader.value("run", "twice", 0), [1.0, 2.0])
    assert "holds capture 'twice' more than once" in caplog.text and "this one is skipped" in caplog.text
