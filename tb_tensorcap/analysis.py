"""Numbers about captured values: statistics, histograms, element-wise diffs.

Pure numpy, shared by the reader, the plugin and the `tensorcap` command, so
the tab and the terminal always give the same answers.

Conventions:

* Floating values are reduced in float64. min / max / mean / std are over the
  finite elements only; NaN, +Inf and -Inf are counted separately. A value
  with no finite element has None for these.
* Complex values: statistics of the magnitude |z|; an element with a NaN part
  counts as NaN, one with an infinite part as +Inf.
* Booleans count as 0 / 1. Strings have only `numel` (and `zeros`: empty
  strings).
"""

import hashlib

import numpy as np

# Elements reduced at once: bounds the float64 temporaries of a large value.
_BLOCK = 1 << 22


def tensor_stats(array):
    """Returns the statistics dict of one value (see the module docstring).

    Keys: numel, min, max, mean, std, nan, posinf, neginf, zeros, digest.
    `digest` is a hash of dtype, shape and bytes: equal digests mean
    identical values, which lets a run comparison skip reading them.
    """
    array = np.asarray(array)
    stats = {
        "numel": int(array.size),
        "min": None,
        "max": None,
        "mean": None,
        "std": None,
        "nan": 0,
        "posinf": 0,
        "neginf": 0,
        "zeros": 0,
        "digest": _digest(array),
    }
    if array.dtype == object:
        stats["zeros"] = int(sum(1 for v in array.flat if len(v) == 0))
        return stats
    flat = array.reshape(-1)
    count, mean, m2 = 0, 0.0, 0.0
    lo, hi = np.inf, -np.inf
    for start in range(0, flat.size, _BLOCK):
        block = _as_real(flat[start : start + _BLOCK])
        finite_mask = np.isfinite(block)
        stats["nan"] += int(np.count_nonzero(np.isnan(block)))
        stats["posinf"] += int(np.count_nonzero(block == np.inf))
        stats["neginf"] += int(np.count_nonzero(block == -np.inf))
        stats["zeros"] += int(np.count_nonzero(block == 0))
        finite = block if finite_mask.all() else block[finite_mask]
        if not finite.size:
            continue
        # Chan et al.'s pairwise merge of (count, mean, M2): stable for large sizes.
        n, block_mean = finite.size, float(finite.mean())
        block_m2 = float(np.square(finite - block_mean).sum())
        delta = block_mean - mean
        total = count + n
        mean += delta * n / total
        m2 += block_m2 + delta * delta * count * n / total
        count = total
        lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
    if count:
        stats.update(min=lo, max=hi, mean=mean, std=float(np.sqrt(m2 / count)))
    return stats


def batch_stats(values, shape):
    """`tensor_stats` of many values of one dtype and `shape`, bit for bit, faster.

    `values` holds one value per row (k x numel). Rows with only finite
    elements are reduced together, with the same float64 operations in the
    same order as `tensor_stats`; the others (and strings, empty or large
    values) go through `tensor_stats` itself. A statistics pass over
    thousands of small captures is then bounded by reading them, not by
    numpy's per-call overhead.
    """
    values = np.asarray(values)
    count, size = values.shape
    if values.dtype == object or not size or size > _BLOCK:
        return [tensor_stats(row.reshape(shape)) for row in values]
    real = _as_real(values)
    nonfinite = ~np.isfinite(real)
    plain = ~nonfinite.any(axis=1)
    results = [None] * count
    finite = real[plain]
    block_mean = finite.mean(axis=1)
    block_m2 = np.square(finite - block_mean[:, None]).sum(axis=1)
    # tensor_stats' merge of one block into (count 0, mean 0.0, M2 0.0):
    mean = 0.0 + block_mean * size / size
    m2 = 0.0 + (block_m2 + block_mean * block_mean * 0 * size / size)
    std = np.sqrt(m2 / size)
    zeros = np.count_nonzero(finite == 0, axis=1)
    columns = zip(
        np.flatnonzero(plain).tolist(),
        finite.min(axis=1).tolist(),
        finite.max(axis=1).tolist(),
        mean.tolist(),
        std.tolist(),
        zeros.tolist(),
    )
    for row, lo, hi, row_mean, row_std, row_zeros in columns:
        results[row] = {
            "numel": size,
            "min": lo,
            "max": hi,
            "mean": row_mean,
            "std": row_std,
            "nan": 0,
            "posinf": 0,
            "neginf": 0,
            "zeros": row_zeros,
            "digest": _digest(values[row].reshape(shape)),
        }
    for row in np.flatnonzero(~plain).tolist():
        results[row] = tensor_stats(values[row].reshape(shape))
    return results


def has_nonfinite(stats):
    return bool(stats["nan"] or stats["posinf"] or stats["neginf"])


def histogram(array, bins):
    """Equal-width bins over the finite values, plus NaN / +Inf / -Inf counts.

    Returns {"bins": [{"left", "right", "count"}], "nan", "posinf", "neginf",
    "numel"}. No finite value gives no bins; a constant value gives one bin.
    """
    real = real_elements(array)
    finite = real[np.isfinite(real)]
    edges = []
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        edges = [lo, hi] if lo == hi else np.linspace(lo, hi, bins + 1).tolist()
    result = counts_in_edges(real, edges)
    counts = result.pop("counts")
    result["bins"] = [{"left": edges[i], "right": edges[i + 1], "count": c} for i, c in enumerate(counts)]
    return result


def real_elements(array):
    """The elements of a numeric value as a flat float64 array (|z| for complex, 0/1 for bool)."""
    if np.asarray(array).dtype == object:
        raise ValueError("a histogram needs numeric values, not strings")
    return _as_real(np.asarray(array).reshape(-1))


def counts_in_edges(real, edges):
    """How many of the flat float64 `real` fall in each bin of `edges`, and how many are NaN, +Inf, -Inf.

    Bins are half-open except the last, which is closed (numpy's rule); a
    single bin [lo, lo] counts the elements equal to lo. No edges, no bins.
    Returns {"numel", "nan", "posinf", "neginf", "counts"}.
    """
    finite = real[np.isfinite(real)]
    result = {
        "numel": int(real.size),
        "nan": int(np.count_nonzero(np.isnan(real))),
        "posinf": int(np.count_nonzero(real == np.inf)),
        "neginf": int(np.count_nonzero(real == -np.inf)),
        "counts": [],
    }
    if len(edges) == 2 and edges[0] == edges[1]:
        result["counts"] = [int(np.count_nonzero(finite == edges[0]))]
    elif edges:
        result["counts"] = np.histogram(finite, bins=len(edges) - 1, range=(edges[0], edges[-1]))[0].tolist()
    return result


def diff(a, b, rtol=1e-5, atol=1e-8):
    """Element-wise A - B and its statistics.

    Computed in float64 (complex128 if either side is complex). Where both
    sides are NaN, or the same infinity, the difference is 0: they agree.
    Strings compare for equality (1 where they differ).

    Returns:
      (difference array, stats dict) with stats keys: numel;
      nonfinite_mismatch (positions where the sides differ in finiteness:
      NaN vs a number, +Inf vs -Inf, an infinity vs a finite number);
      max_abs, mean_abs, max_rel (over finite pairs only, max_rel where
      B != 0; None when there is no such pair, never a 0 that hides a
      mismatch); outside (elements not within atol + rtol * |B|, NaN
      agreeing with NaN); argmax (index of the largest difference; a
      finiteness mismatch counts as largest); allclose; reason (None when
      allclose, else "nonfinite" if any finiteness mismatch, else "values").

    Raises:
      ValueError: the shapes differ (the message names both).
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError("cannot compare shapes %s and %s" % (list(a.shape), list(b.shape)))
    if (a.dtype == object) != (b.dtype == object):
        raise ValueError("cannot compare strings with numbers")
    if a.dtype == object:
        differs = (a != b).astype(np.int8)
        outside = int(np.count_nonzero(differs))
        argmax = np.unravel_index(int(np.argmax(differs)), a.shape) if outside else None
        return differs, {
            "numel": int(a.size),
            "nonfinite_mismatch": 0,
            "max_abs": None,
            "mean_abs": None,
            "max_rel": None,
            "outside": outside,
            "argmax": _index(argmax),
            "allclose": outside == 0,
            "reason": "values" if outside else None,
        }
    work = np.complex128 if np.iscomplexobj(a) or np.iscomplexobj(b) else np.float64
    a64, b64 = a.astype(work), b.astype(work)
    with np.errstate(invalid="ignore", over="ignore"):
        delta = np.asarray(a64 - b64)  # an array even for 0-d values
    agree = (a64 == b64) | (np.isnan(a64) & np.isnan(b64))
    delta[agree] = 0
    magnitude = np.abs(delta)
    finite_pair = np.isfinite(a64) & np.isfinite(b64)
    mismatch = ~finite_pair & ~agree
    nonfinite_mismatch = int(np.count_nonzero(mismatch))
    close = np.isclose(a64, b64, rtol=rtol, atol=atol, equal_nan=True) | agree
    outside = int(a.size - np.count_nonzero(close))
    stats = {
        "numel": int(a.size),
        "nonfinite_mismatch": nonfinite_mismatch,
        "max_abs": None,
        "mean_abs": None,
        "max_rel": None,
        "outside": outside,
        "argmax": None,
        "allclose": outside == 0,
        "reason": None if not outside else "nonfinite" if nonfinite_mismatch else "values",
    }
    pair_magnitude = np.where(finite_pair, magnitude, 0.0)
    if finite_pair.any():
        stats["max_abs"] = float(magnitude[finite_pair].max())
        stats["mean_abs"] = float(magnitude[finite_pair].mean())
        nonzero_b = (np.abs(b64) > 0) & finite_pair
        if nonzero_b.any():
            stats["max_rel"] = float((magnitude[nonzero_b] / np.abs(b64[nonzero_b])).max())
    if a.size:
        worst = np.argmax(mismatch) if nonfinite_mismatch else np.argmax(pair_magnitude)
        stats["argmax"] = _index(np.unravel_index(int(worst), a.shape))
    return delta, stats


def _as_real(block):
    """float64 view of a block for reductions (|z| for complex, 0/1 for bool)."""
    if np.iscomplexobj(block):
        return np.abs(block.astype(np.complex128))
    return block.astype(np.float64)


def _digest(array):
    h = hashlib.blake2b(digest_size=16)
    h.update(("%s%s" % (array.dtype.str, array.shape)).encode())
    if array.dtype == object:
        for v in array.flat:
            h.update(len(v).to_bytes(8, "little"))
            h.update(v)
    else:
        h.update(np.ascontiguousarray(array).view(np.uint8).reshape(-1).data)
    return h.hexdigest()


def _index(index):
    return None if index is None else [int(i) for i in index]
