"""The answers over many steps or many slices: histograms over steps
(step_histograms.py), small multiples (small_multiples.py) and per-tag
statistics (tag_statistics.py), through `answers` on a real logdir and
through TensorBoard's real WSGI app (/histograms, /facets, /tagstats).
"""

import json

import numpy as np
import pytest
from support import WsgiTensorBoard

import tb_tensorcap as tensorcap
from tb_tensorcap import answers
from tb_tensorcap.reader import Reader

P = "/data/plugin/tensorcap"
STEPS = 12
ACT_SHAPE = (2, 3, 4, 6)


def weights(step):
    x = np.linspace(-1, 1 + step, 50)
    if step == 4:
        x[:3] = [np.nan, np.inf, -np.inf]
    return x


def act(step):
    return np.arange(np.prod(ACT_SHAPE), dtype=np.float32).reshape(ACT_SHAPE) + 100 * step


def stds(step):
    # std 1 up to step 5, then 3 (a 200% change at step 6); a NaN at step 8
    x = np.array([-1.0, 1.0]) * (1 if step < 6 else 3)
    return np.append(x, np.nan) if step == 8 else x


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("steps")
    with tensorcap.Writer(str(path / "run")) as writer, writer.as_default():
        for step in range(STEPS):
            tensorcap.capture(weights(step), "w", step=step)
            tensorcap.capture(act(step), "act", step=step, axes="NHWC")
            tensorcap.capture(stds(step), "s", step=step)
            tensorcap.capture(np.float32(-7.5 if step == 2 else step), "scalar", step=step)
        tensorcap.capture(np.array([b"a"], dtype=object), "words", step=0)
    return path


@pytest.fixture(scope="module")
def reader(logdir):
    reader = Reader(str(logdir))
    reader.refresh()
    return reader


def test_histograms_share_edges_and_count_every_element(reader):
    reply = answers.histograms(reader, "run", "w", bins=10)
    edges = np.array(reply["edges"])
    assert edges[0] == -1 and edges[-1] == 1 + STEPS - 1 and len(edges) == 11
    assert [row["step"] for row in reply["steps"]] == list(range(STEPS))
    assert not reply["sampled"] and reply["total_steps"] == STEPS
    for row in reply["steps"]:
        values = weights(row["step"])
        finite = values[np.isfinite(values)]
        assert row["counts"] == np.histogram(finite, bins=edges)[0].tolist()
        assert sum(row["counts"]) + row["nan"] + row["posinf"] + row["neginf"] == row["numel"] == 50
    bad = reply["steps"][4]
    assert (bad["nan"], bad["posinf"], bad["neginf"]) == (1, 1, 1)


def test_histograms_downsample_steps_and_say_so(reader):
    reply = answers.histograms(reader, "run", "w", bins=5, max_steps=4)
    assert [row["step"] for row in reply["steps"]] == [0, 4, 7, 11]
    assert reply["sampled"] and reply["total_steps"] == STEPS


def test_histograms_of_a_slice_and_refusals(reader):
    reply = answers.histograms(reader, "run", "act", bins=4, slice_text="0, 0, :, 5")
    assert reply["slice"] == "0, 0, :, 5"
    assert reply["edges"][0] == act(0)[0, 0, 0, 5] and reply["edges"][-1] == act(STEPS - 1)[0, 0, 3, 5]
    with pytest.raises(answers.InvalidQuestion, match="strings"):
        answers.histograms(reader, "run", "words")
    with pytest.raises(answers.InvalidQuestion, match="fewer bins or steps"):
        answers.histograms(reader, "run", "w", bins=1000, max_steps=1000)  # a reply bounded in size


def test_facets_along_an_axis_pool_within_max_cells(reader):
    reply = answers.facets(reader, "run", "act", 2, "1, :, :, 0", axis=3)
    assert reply["labels"] == list(range(6)) and not reply["sampled"] and reply["pooled"] is None
    assert reply["array"].shape == (6, 3, 4)
    np.testing.assert_array_equal(reply["array"][4], act(2)[1, :, :, 4])
    assert reply["panels"][5] == {
        "lo": float(act(2)[1, 0, 0, 5]),
        "hi": float(act(2)[1, 2, 3, 5]),
        "nan": 0,
        "posinf": 0,
        "neginf": 0,
    }
    pooled = answers.facets(reader, "run", "act", 2, "1, :, :, 0", axis=3, max_cells=6 * 4)
    assert pooled["array"].shape[0] == 6 and pooled["array"][0].size <= 4 and pooled["pooled"]
    assert pooled["panels"] == reply["panels"]  # the ranges of the unpooled values
    with pytest.raises(answers.InvalidQuestion, match="not fixed"):
        answers.facets(reader, "run", "act", 2, "1, :, :, :", axis=3)


def test_facets_over_steps(reader):
    reply = answers.facets(reader, "run", "act", None, "0, 1, :, 2", steps=(3, 6))
    assert reply["labels"] == [3, 4, 5, 6] and reply["facet"] == "steps"
    np.testing.assert_array_equal(reply["array"][1], act(4)[0, 1, :, 2])
    with pytest.raises(answers.InvalidQuestion, match="no step"):
        answers.facets(reader, "run", "act", None, "0, 1, :, 2", steps=(50, 60))


def test_tag_statistics_from_known_statistics(reader):
    reader.compute_stats()
    reply = answers.tag_stats(reader)
    assert reply["complete"]
    run = reply["runs"]["run"]
    facts = {tag: {field: run[field][i] for field in run if field != "tags"} for i, tag in enumerate(run["tags"])}
    assert "words" not in facts
    assert facts["scalar"]["max_abs"] == STEPS - 1 and facts["w"]["max_abs"] == STEPS
    assert (facts["w"]["nan_steps"], facts["w"]["inf_steps"], facts["w"]["nan"], facts["w"]["inf"]) == (1, 1, 1, 2)
    assert facts["s"]["std_change"] == pytest.approx(2.0) and facts["s"]["std_change_step"] == 6
    assert facts["s"]["nan_steps"] == 1 and facts["act"]["nan_steps"] == 0
    assert all(f["checked"] == f["steps"] == STEPS for f in facts.values())


def test_routes_through_tensorboard(logdir):
    app = WsgiTensorBoard(logdir)
    app.wait_complete()
    reply = app.get_json(P + "/histograms?run=run&tag=w&bins=3&max_steps=2")
    assert [row["step"] for row in reply["steps"]] == [0, STEPS - 1] and reply["sampled"]
    binary = app.get(P + "/facets?run=run&tag=act&step=1&slice=0,:,:,0&axis=3&format=binary")
    assert binary.status_code == 200 and binary.headers["X-TensorCap-Shape"] == "6,3,4"
    facts = json.loads(binary.headers["X-TensorCap-Facets"])
    assert facts["labels"] == list(range(6)) and facts["facet"] == "axis"
    values = np.frombuffer(binary.get_data(), np.float32).reshape(6, 3, 4)
    np.testing.assert_array_equal(values[2], act(1)[0, :, :, 2])
    assert app.get(P + "/facets?run=run&tag=act&slice=0,:,:,0&from=5").status_code == 400
    assert app.get(P + "/tagstats?run=nope").status_code == 404
    assert "w" in app.get_json(P + "/tagstats")["runs"]["run"]["tags"]
