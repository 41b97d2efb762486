"""Honest comparisons (`analysis.diff`, divergence): a NaN against a number, or
two shapes, never read as "max_abs 0".

Units on numpy values, then the repro of issue 10 through the real
`tensorcap` command and TensorBoard's real WSGI app.
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
from tb_tensorcap import analysis

pytestmark = pytest.mark.usefixtures("isolated_capture")

NAN, INF = np.nan, np.inf


@pytest.mark.parametrize(
    "a, b, mismatch",
    [
        ([NAN, 1.0], [1.0, 1.0], 1),  # NaN vs a number
        ([INF, 1.0], [-INF, 1.0], 1),  # +Inf vs -Inf
        ([INF, -INF], [5.0, -5.0], 2),  # infinities vs numbers
        ([NAN, INF], [INF, NAN], 2),  # NaN vs Inf
        ([NAN, INF, -INF], [NAN, INF, -INF], 0),  # agreeing non-finite values
    ],
)
def test_nonfinite_mismatch_counts_finiteness_differences(a, b, mismatch):
    _, stats = analysis.diff(np.array(a, np.float32), np.array(b, np.float32))
    assert stats["nonfinite_mismatch"] == mismatch
    assert stats["outside"] == mismatch
    assert stats["reason"] == ("nonfinite" if mismatch else None)
    assert stats["allclose"] is (mismatch == 0)


def test_max_abs_is_over_finite_pairs_only_and_null_without_one():
    _, stats = analysis.diff(np.array([NAN, 1.0, 2.0]), np.array([0.0, 1.5, 2.0]))
    assert (stats["max_abs"], stats["max_rel"]) == (0.5, pytest.approx(1 / 3))
    assert stats["mean_abs"] == 0.25  # over the two finite pairs
    assert stats["argmax"] == [0] and stats["reason"] == "nonfinite"
    _, stats = analysis.diff(np.array([NAN, INF]), np.array([1.0, 2.0]))
    assert (stats["max_abs"], stats["mean_abs"], stats["max_rel"]) == (None, None, None)
    assert stats["nonfinite_mismatch"] == 2 and not stats["allclose"]
    _, stats = analysis.diff(np.array([1.0, 2.0]), np.array([1.0, 2.5]))
    assert (stats["reason"], stats["nonfinite_mismatch"], stats["max_abs"]) == ("values", 0, 0.5)
    _, stats = analysis.diff(np.array([b"a", b"b"], object), np.array([b"a", b"c"], object))
    assert (stats["reason"], stats["nonfinite_mismatch"], stats["outside"]) == ("values", 0, 1)


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    """Runs "eager", "other" (probs NaN at step 1, feature [4] at step 2) and "reshaped" (feature [4] at 0)."""
    root = tmp_path_factory.mktemp("honest") / "logs"
    for run in ("eager", "other", "reshaped"):
        writer = tf.summary.create_file_writer(str(root / run))
        for step in range(3):
            probs = np.array([0.25, 0.75], np.float32)
            if run == "other" and step == 1:
                probs[0] = np.nan
            reshaped = (run, step) in (("other", 2), ("reshaped", 0))
            feature = np.ones([4] if reshaped else [2, 2], np.float32)
            tensorcap.capture(feature, "feature", step=step, writer=writer)
            tensorcap.capture(probs, "probs", step=step, writer=writer)
        writer.close()
    return root


def _tensorcap(*args):
    command = shutil.which("tensorcap", path=os.path.dirname(sys.executable))
    proc = subprocess.run([command, *map(str, args)], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_command_reports_nan_and_shape_mismatches_honestly(logdir):
    proc = _tensorcap("divergence", logdir, "eager", "other", "--json")
    assert proc.returncode == 1
    result = json.loads(proc.stdout)
    first = result["first"]
    assert (first["tag"], first["step"], first["reason"], first["nonfinite_mismatch"]) == ("probs", 1, "nonfinite", 1)
    assert first["max_abs"] == 0.0  # the finite pair agrees; the NaN is counted, not hidden in max_abs
    rows = {row["tag"]: row for row in result["tags"]}
    assert rows["feature"]["reasons"] == ["shape"] and rows["feature"]["first_step_outside"] == 2
    assert rows["feature"]["max_abs"] == 0.0  # steps 0 and 1 compared equal; step 2 is not a number
    assert rows["probs"]["nonfinite_mismatch"] == 1
    text = _tensorcap("divergence", logdir, "eager", "other").stdout
    assert "first divergence: probs at step 1" in text and "NaN/Inf differ" in text
    assert "1 differ in finiteness" in text

    diff = _tensorcap("diff", logdir, "eager:probs:1", "other::", "--json")
    assert diff.returncode == 1
    stats = json.loads(diff.stdout)["stats"]
    assert (stats["nonfinite_mismatch"], stats["max_abs"], stats["reason"]) == (1, 0.0, "nonfinite")
    assert "NOT allclose: NaN/Inf differ" in _tensorcap("diff", logdir, "eager:probs:1", "other::").stdout
    shape = _tensorcap("divergence", logdir, "eager", "reshaped")
    assert "first divergence: feature at step 0" in shape.stdout
    assert "shapes differ ([2, 2] vs [4]): not comparable element-wise" in shape.stdout
    assert (
        json.loads(_tensorcap("divergence", logdir, "eager", "reshaped", "--json").stdout)["first"]["max_abs"] is None
    )


def test_routes_report_nan_and_shape_mismatches_honestly(logdir):
    app = WsgiTensorBoard(logdir)
    app.wait_complete()
    result = app.get_json("/data/plugin/tensorcap/divergence?run=eager&run2=other")
    assert (result["first"]["reason"], result["first"]["nonfinite_mismatch"]) == ("nonfinite", 1)
    shape_row = next(r for r in result["tags"] if r["tag"] == "feature")
    assert shape_row["reasons"] == ["shape"]
    # A shape mismatch first: its numbers are null, never 0.
    reshaped = app.get_json("/data/plugin/tensorcap/divergence?run=eager&run2=reshaped")
    first = reshaped["first"]
    assert (first["tag"], first["step"], first["reason"]) == ("feature", 0, "shape")
    assert (first["max_abs"], first["max_rel"], first["nonfinite_mismatch"]) == (None, None, None)
    assert (first["shape"], first["shape2"]) == ([2, 2], [4])
    row = next(r for r in reshaped["tags"] if r["tag"] == "feature")
    assert row["max_abs"] == 0.0 and row["steps_outside"] == 1
    diff = app.get_json("/data/plugin/tensorcap/diff?run=eager&tag=probs&step=1&run2=other&values=0")
    assert (diff["stats"]["nonfinite_mismatch"], diff["stats"]["reason"]) == (1, "nonfinite")
    refused = app.get_json("/data/plugin/tensorcap/diff?run=eager&tag=feature&step=2&run2=other", expect=400)
    assert "cannot diff shapes [2, 2]" in refused["error"]
