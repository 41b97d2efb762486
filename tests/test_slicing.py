"""Slice expressions and NaN/Inf-preserving pooling, against numpy and a brute-force reference."""

import json
from pathlib import Path

import numpy as np
import pytest

from tb_tensorcap import slicing


def reference_pool(array, fy, fx):
    """Block by block, as http_api.md defines pooling."""
    h, w = array.shape
    out = np.empty((-(-h // fy), -(-w // fx)))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            block = array[i * fy : (i + 1) * fy, j * fx : (j + 1) * fx].astype(np.float64)
            if np.isnan(block).any():
                out[i, j] = np.nan
            elif (block == np.inf).any():
                out[i, j] = np.inf
            elif (block == -np.inf).any():
                out[i, j] = -np.inf
            else:
                out[i, j] = block.mean()
    return out


@pytest.mark.parametrize("band_elements", [50, 1 << 22])
def test_pool_2d_matches_reference_in_any_band_size(monkeypatch, band_elements):
    monkeypatch.setattr(slicing, "_BAND_ELEMENTS", band_elements)
    array = np.random.default_rng(0).standard_normal((37, 53)).astype(np.float32)
    array[3, 4], array[10, 10], array[30, 50] = np.nan, np.inf, -np.inf
    pooled, factors = slicing.pool(array, 100)
    assert pooled.size <= 100
    np.testing.assert_allclose(pooled, reference_pool(array, *factors), rtol=1e-12)


@pytest.mark.parametrize("band_elements", [50, 1 << 22])
def test_pool_1d_matches_reference_in_any_band_size(monkeypatch, band_elements):
    monkeypatch.setattr(slicing, "_BAND_ELEMENTS", band_elements)
    vector = np.random.default_rng(1).standard_normal(1001)
    vector[500] = np.nan
    pooled, (fx,) = slicing.pool(vector, 37)
    assert pooled.size <= 37
    np.testing.assert_allclose(pooled, reference_pool(vector.reshape(1, -1), 1, fx)[0], rtol=1e-12)


def test_pool_complex_uses_magnitude_and_small_values_pass_through():
    values = np.array([3 + 4j, 0, 6 + 8j, 0], np.complex64)
    pooled, factors = slicing.pool(values, 2)
    assert factors == (2,) and pooled.tolist() == [2.5, 5.0]
    same, none = slicing.pool(values, 4)
    assert same is values and none is None


CASES = json.loads((Path(__file__).parent / "slicing_cases.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES["parse"], ids=lambda c: repr(c["text"]))
def test_parse_gives_the_shared_canonical_text(case):
    canonical = slicing.format_index(slicing.parse(case["text"]))
    assert canonical == case["canonical"]
    assert slicing.format_index(slicing.parse(canonical)) == canonical


@pytest.mark.parametrize("case", CASES["parse_errors"], ids=lambda c: repr(c["text"][:20]))
def test_parse_errors_are_the_shared_messages(case):
    with pytest.raises(slicing.SliceError) as raised:
        slicing.parse(case["text"])
    assert str(raised.value) == case["error"]


@pytest.mark.parametrize("case", CASES["apply"], ids=lambda c: repr(c["text"]))
def test_apply_matches_numpy_and_the_shared_result_shapes(case):
    array = np.arange(int(np.prod(case["shape"]))).reshape(case["shape"])
    body = case["text"].strip()
    body = body[body.index("[") + 1 : -1] if body.endswith("]") else body
    expected = eval("array[%s]" % (body.strip() or "..."))
    result, canonical = slicing.apply(array, case["text"])
    assert isinstance(result, np.ndarray) and list(result.shape) == case["result_shape"]
    np.testing.assert_array_equal(result, expected)
    np.testing.assert_array_equal(slicing.apply(array, canonical)[0], expected)


@pytest.mark.parametrize("case", CASES["apply_errors"], ids=lambda c: repr(c["text"]))
def test_apply_errors_are_the_shared_messages(case):
    with pytest.raises(slicing.SliceError) as raised:
        slicing.apply(np.zeros(case["shape"]), case["text"])
    assert str(raised.value) == case["error"]
