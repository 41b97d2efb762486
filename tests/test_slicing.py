"""Slice expressions and NaN/Inf-preserving pooling, against numpy and a brute-force reference."""

import numpy as np
import pytest

from tb_tensorcap import slicing


def reference_pool(array, fy, fx):
    """Block by block, as http_api.md defines pooling."""
    h, w = array.shape
    out = np.empty((-(-h // fy), -(-w // fx)))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            block = array[i * fy:(i + 1) * fy, j * fx:(j + 1) * fx].astype(np.float64)
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


@pytest.mark.parametrize("text", ["3, :, ::2", "...,0", "-1", ":, 1:-1", "[2, ...]", "", " "])
def test_apply_matches_numpy(text):
    array = np.arange(4 * 5 * 6).reshape(4, 5, 6)
    expected = eval("array[%s]" % (text.strip().strip("[]") or "..."))
    result, canonical = slicing.apply(array, text)
    np.testing.assert_array_equal(result, expected)
    assert isinstance(result, np.ndarray)
    np.testing.assert_array_equal(slicing.apply(array, canonical)[0], expected)


@pytest.mark.parametrize("text, words", [
    ("9", "out of range for axis 0"), ("0, 0, 0, 0", "only 3 axes"), ("..., ...", "more than one"),
    ("a", "not an integer"), ("::0", "zero"), ("1" * 5000, "out of range"),
])
def test_apply_errors_name_the_problem(text, words):
    with pytest.raises(slicing.SliceError, match=words):
        slicing.apply(np.zeros((4, 5, 6)), text)
