"""`Reader.stats_frame()` (`frames.py`): captures as a pandas DataFrame."""

import math
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import tb_tensorcap as tensorcap
from tb_tensorcap import frames


@pytest.fixture
def two_runs(tmp_path, writer_at):
    for run, offset in (("a", 0.0), ("b", 10.0)):
        writer = writer_at(tmp_path / run)
        for step in (2, 0, 1):  # out of order: the frame sorts by step
            tensorcap.capture(np.arange(4, dtype=np.float32) + offset + step, "x", step=step, writer=writer)
        tensorcap.capture(np.array([np.nan, np.inf, -np.inf, 0.0, 2.0]), "bad", step=5, writer=writer)
        tensorcap.capture(np.array([b"", b"ab"], dtype=object), "words", step=0, writer=writer)
        if run == "b":
            _write_health_record(
                writer, step=3, tag="blk/relu", value=np.array([[0.0, 1.5], [np.nan, 3.0]], np.float32)
            )
        writer.flush()
    return tensorcap.load(tmp_path)


def _write_health_record(writer, step, tag, value):
    """A health-mode capture: only the statistics of `value` are written (`health.py`)."""
    import tensorflow as tf

    from tb_tensorcap import health

    tensor = tf.constant(value)
    rows = health.BatchedStats().rows([tensor])
    specs = [(tag, tensor.dtype.name, tensor.shape.rank, {"file": "train.py", "line": 7, "function": "step"})]
    health.write_record("blk/_health", health.RecordSpecs().metadata(specs), rows, step, writer)


def test_one_row_per_capture_with_the_readers_statistics(two_runs):
    frame = two_runs.stats_frame()
    assert list(frame.columns) == list(frames.COLUMNS)
    assert len(frame) == 11
    assert frame[["run", "tag", "step"]].values.tolist() == [
        ["a", "bad", 5],
        ["a", "words", 0],
        ["a", "x", 0],
        ["a", "x", 1],
        ["a", "x", 2],
        ["b", "bad", 5],
        ["b", "blk/relu", 3],
        ["b", "words", 0],
        ["b", "x", 0],
        ["b", "x", 1],
        ["b", "x", 2],
    ]
    row = frame[(frame.run == "b") & (frame.tag == "x") & (frame.step == 1)].iloc[0]
    assert (row["dtype"], row["shape"], row["numel"]) == ("float32", (4,), 4)
    assert (row["min"], row["max"], row["mean"]) == (11.0, 14.0, 12.5)
    assert row["std"] == pytest.approx(np.std([11, 12, 13, 14]))
    assert row["wall_time"] == two_runs.info("b", "x", 1).wall_time
    bad = frame[(frame.run == "a") & (frame.tag == "bad")].iloc[0]
    assert (bad["nan"], bad["posinf"], bad["neginf"], bad["zeros"]) == (1, 1, 1, 1)
    assert (bad["min"], bad["max"]) == (0.0, 2.0)
    words = frame[(frame.run == "a") & (frame.tag == "words")].iloc[0]
    assert math.isnan(words["min"]) and words["zeros"] == 1 and words["dtype"] == "string"
    assert frame["step"].dtype == np.int64 and frame["min"].dtype == np.float64
    health = frame[frame.tag == "blk/relu"].iloc[0]  # statistics only: the frame still has them
    assert (health["kind"], health["shape"], health["numel"], health["nan"], health["zeros"]) == (
        "health",
        (2, 2),
        4,
        1,
        1,
    )
    assert (health["min"], health["max"], health["mean"]) == (0.0, 3.0, 1.5)
    assert set(frame[frame.tag != "blk/relu"].kind) == {"full"}


def test_selecting_runs_and_tags(two_runs):
    assert two_runs.stats_frame(run="b", tags="x")["step"].tolist() == [0, 1, 2]
    assert set(two_runs.stats_frame(run=["a", "b"], tags=["x", "bad"]).tag) == {"x", "bad"}
    with pytest.raises(tensorcap.NotFoundError, match="no tag 'blk/relu' in run 'a'"):
        two_runs.stats_frame(run="a", tags="blk/relu")
    with pytest.raises(tensorcap.NotFoundError, match="no run 'c'"):
        two_runs.stats_frame(run="c")
    with pytest.raises(tensorcap.NotFoundError, match="no tag 'y'"):
        two_runs.stats_frame(tags=["x", "y"])
    with pytest.raises(TypeError):
        two_runs.stats_frame(tags=[1])


def test_an_empty_logdir_gives_an_empty_frame_with_the_columns(tmp_path):
    frame = tensorcap.load(tmp_path).stats_frame()
    assert isinstance(frame, pd.DataFrame) and frame.empty and list(frame.columns) == list(frames.COLUMNS)


def test_without_pandas_the_error_names_it(tmp_path):
    script = textwrap.dedent("""
        import importlib.abc, sys

        class NoPandas(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "pandas":
                    raise ImportError("No module named 'pandas'")

        sys.meta_path.insert(0, NoPandas())
        import tb_tensorcap
        try:
            tb_tensorcap.load(sys.argv[1]).stats_frame()
        except ImportError as e:
            print(e)
    """)
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Reader.stats_frame needs pandas" in proc.stdout and "pip install pandas" in proc.stdout
