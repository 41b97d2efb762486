"""Health captures through the routes: /health (the overview), /index, /stats, /value, /alerts."""

import math

import numpy as np
import pytest
from support import WsgiTensorBoard, write_flight_run

from tb_tensorcap import health_overview

pytestmark = pytest.mark.usefixtures("isolated_capture")

STEPS = 10
BAD_STEP = 7
TAGS = ["step/input/x", "step/input/Mul.1", "step/Mul", "step/input/Sub.1", "step/Sub", "step/Log"]


@pytest.fixture(scope="module")
def flight_logdir(tmp_path_factory):
    """A run of 10 steps under a flight recorder: NaN at step 7 (a Log of a negative), values of 5-7 kept."""
    logdir = tmp_path_factory.mktemp("health_routes")
    write_flight_run(logdir / "train", STEPS, BAD_STEP)
    return logdir


@pytest.fixture(scope="module")
def app(flight_logdir):
    app = WsgiTensorBoard(flight_logdir)
    app.wait_complete()
    return app


def test_overview_has_a_cell_per_tag_and_step(app):
    reply = app.get_json("/data/plugin/tensorcap/health?run=train")
    # The block's outside inputs (x, and the Python numbers 10**step and the shift) are captured for the lineage.
    assert reply["tags"] == TAGS
    assert [c["first"] for c in reply["columns"]] == list(range(STEPS))
    assert reply["captures"] == len(TAGS) * (STEPS + 3)  # health at every step, full values of steps 5-7 too
    width, mul_row, log_row = STEPS, TAGS.index("step/Mul"), TAGS.index("step/Log")
    mul = reply["magnitude"][mul_row * width : (mul_row + 1) * width]
    # Mul = x * 10**step: its max |x| is 2 * 10**step.
    assert mul == [pytest.approx(math.log10(2) + s, abs=1e-3) for s in range(STEPS)]
    log_flags = reply["flags"][log_row * width : (log_row + 1) * width]
    assert log_flags == [1 if s == BAD_STEP else 0 for s in range(STEPS)]
    assert reply["open"][log_row * width + BAD_STEP] == [log_row, BAD_STEP]


def test_overview_is_downsampled_on_the_server(app):
    reply = app.get_json("/data/plugin/tensorcap/health?run=train&max_steps=3&max_tags=2")
    assert [(c["first"], c["last"]) for c in reply["columns"]] == [(0, 3), (4, 6), (7, 9)]
    assert [(r["first"], r["last"]) for r in reply["rows"]] == [
        ("step/input/x", "step/Mul"),
        ("step/input/Sub.1", "step/Log"),
    ]
    assert len(reply["magnitude"]) == len(reply["flags"]) == len(reply["open"]) == 6
    # The second row's last column covers the NaN at step 7: flagged, and a click opens it (the shift,
    # 0.0 at steps 8 and 9, is all zeros there: flag 8 too).
    assert reply["flags"][5] == 1 | 8 and reply["open"][5] == [TAGS.index("step/Log"), BAD_STEP]
    # The first row's last column keeps the largest magnitude of steps 7-9 (Mul at step 9: 2e9).
    assert reply["magnitude"][2] == pytest.approx(math.log10(2) + 9, abs=1e-3)
    assert reply["open"][2] == [TAGS.index("step/Mul"), 9]


def test_statistics_only_captures_through_the_routes(app):
    index = app.get_json("/data/plugin/tensorcap/index")
    facts = index["runs"]["train"]["step/Log"]
    assert facts["steps"] == list(range(STEPS))
    assert facts["statistics_only"] == STEPS - 3  # steps 5, 6, 7 were written in full
    stats = app.get_json("/data/plugin/tensorcap/stats?run=train&tag=step/Log")["steps"]
    assert [s["kind"] for s in stats] == ["full" if 5 <= s["step"] <= 7 else "health" for s in stats]
    assert stats[BAD_STEP]["nan"] == 6 and stats[3]["max"] == pytest.approx(math.log(2e3), rel=1e-6)
    reply = app.get_json("/data/plugin/tensorcap/value?run=train&tag=step/Log&step=3", expect=404)
    assert "health mode: only its statistics" in reply["error"]
    value = app.get_json("/data/plugin/tensorcap/value?run=train&tag=step/Log&step=6")
    assert value["shape"] == [2, 3]
    alerts = app.get_json("/data/plugin/tensorcap/alerts?run=train")["alerts"]
    assert [(a["tag"], a["step"]) for a in alerts][-1] == ("step/Log", BAD_STEP)


def test_bad_requests_get_clear_errors(app):
    assert "no run" in app.get_json("/data/plugin/tensorcap/health?run=nope", expect=404)["error"]
    assert "max_steps" in app.get_json("/data/plugin/tensorcap/health?run=train&max_steps=0", expect=400)["error"]


def test_empty_bins_are_null():
    assert health_overview._bins(5, 2).tolist() == [0, 0, 0, 1, 1]
    assert health_overview._scatter(3, np.array([0, 2]), np.array([1.5, np.nan]), skip_nan=True) == [1.5, None, None]
    # A cell with no finite non-zero magnitude opens its first capture; NaN/Inf ones open the earliest bad step.
    starts = np.array([0, 2])
    flags, magnitude, steps = np.array([0, 0, 0, 1]), np.array([np.nan, np.nan, 2.0, 1.0]), np.array([0, 1, 5, 6])
    cell_flags, cell_magnitude = np.array([0, 1]), np.array([np.nan, 2.0])
    assert health_overview._picks(starts, cell_flags, cell_magnitude, flags, magnitude, steps).tolist() == [0, 3]


def test_the_command_says_which_steps_kept_only_statistics(flight_logdir, capsys):
    from tb_tensorcap import cli

    assert cli.main(["stats", str(flight_logdir), "train", "step/Log"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[-1] == "kept"
    kept = {int(line.split()[0]): line.split("  ")[-1].strip() for line in lines[1:]}
    assert kept == {s: "values" if 5 <= s <= 7 else "statistics only" for s in range(STEPS)}
    assert cli.main(["show", str(flight_logdir), "train", "step/Log", "--step", "3"]) == 2
    assert "health mode: only its statistics" in capsys.readouterr().err
    assert cli.main(["alerts", str(flight_logdir), "--json"]) == 1


class _Columns:
    """A reader stand-in: `statistics_columns` (rows sorted by tag id, step, capture order) and what keys replies."""

    def __init__(self, rows, tags):
        self.rows, self.tags = rows, tags

    def compute_stats(self, run, progress=None):
        pass

    def count(self, run):
        return len(self.rows)

    def progress(self):
        return {"statistics": {"done": len(self.rows), "total": len(self.rows)}}

    def statistics_columns(self, run, every_capture=False):
        fields = ("tag_id", "step", "order", "min", "max", "nan", "posinf", "neginf", "zeros", "numel")
        columns = {name: np.array([r[i] for r in self.rows]) for i, name in enumerate(fields)}
        columns.update(tags=self.tags, string=np.zeros(len(self.rows), bool), known=np.ones(len(self.rows), np.int8))
        return columns


def test_rows_follow_first_capture_and_every_repeat_counts():
    # Tag id 0 ("late") was first captured after tag id 1 ("early"); "late" has two captures at step 1,
    # the earlier one holding NaN: the cell is flagged and opens it, though the last capture is finite.
    rows = [
        (0, 0, 5, -1.0, 100.0, 0, 0, 0, 0, 4),
        (0, 1, 6, -1.0, 1.0, 2, 0, 0, 0, 4),
        (0, 1, 7, -1.0, 1.0, 0, 0, 0, 0, 4),
        (1, 0, 0, 0.0, 0.0, 0, 0, 0, 4, 4),
        (1, 1, 1, 0.5, 2.0, 0, 0, 0, 0, 4),
    ]
    reply = health_overview.overview(_Columns(rows, ["late", "early"]), "run")
    assert reply["tags"] == ["early", "late"]
    assert reply["flags"] == [8, 0, 0, 1]  # early: all zeros, fine; late: fine, NaN
    assert reply["magnitude"] == [None, pytest.approx(math.log10(2), abs=1e-3), 2.0, 0.0]
    assert reply["open"] == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert reply["captures"] == 5 and reply["unknown"] == 0
