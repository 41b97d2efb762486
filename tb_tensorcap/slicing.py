"""Numpy-style slice expressions and pooling of large results.

`parse("3, :, ::2")` turns the text a user types after `x[...]` into an index
that numpy applies; `apply(array, text)` checks it against the array's shape
and gives errors that say which entry or axis is wrong. `pool` shrinks a 1-D
or 2-D result to a cell budget while keeping NaN and infinities visible.

The grammar is shared with the tab (frontend/slicing.js) and pinned by one
case file both test suites run (tests/slicing_cases.json): the same text is
accepted or refused on both sides, with the same message. An expression is
an optional `name[...]` or `[...]` wrapper around comma-separated entries,
each an integer, a `start:stop:step` range (parts optional, spaces allowed
around the colons) or one `...`; entries are counted from 1 in messages.
"""

import json
import math
import re

import numpy as np

MAX_AXES = 32
# Integers beyond 2**53 cannot be represented exactly by the tab's numbers.
MAX_INTEGER = 2**53
_INT = r"[+-]?[0-9]+"
_INT_RE = re.compile(r"^%s$" % _INT)
_RANGE = re.compile(r"^(%s)?\s*:\s*(%s)?(?:\s*:\s*(%s)?)?$" % (_INT, _INT, _INT))
_WRAPPED = re.compile(r"^\s*(?:[A-Za-z_][A-Za-z0-9_]*\s*)?\[(.*)\]\s*$", re.S)
_SHOWN_CHARS = 40


class SliceError(ValueError):
    """A slice expression that is malformed or does not fit the value."""


def parse(text):
    """Parses a slice expression into a tuple of ints, slices and Ellipsis.

    Accepts what numpy accepts between brackets, restricted to basic
    indexing: integers, `start:stop:step` ranges and one `...`, optionally
    wrapped as `x[...]` or `[...]`.
    """
    body = text or ""
    wrapped = _WRAPPED.match(body)
    if wrapped:
        body = wrapped.group(1)
    if not body.strip():
        return ()
    index = []
    for number, raw in enumerate(body.split(","), start=1):
        index.append(_parse_entry(raw.strip(), number))
    if sum(1 for e in index if e is Ellipsis) > 1:
        raise SliceError("only one '...' is allowed")
    if len(index) > MAX_AXES:
        raise SliceError("at most %d entries" % MAX_AXES)
    return tuple(index)


def _parse_entry(part, number):
    if part == "...":
        return Ellipsis
    if not part:
        raise SliceError("entry %d is empty" % number)
    if _INT_RE.match(part):
        return _int(part, number)
    match = _RANGE.match(part)
    if not match:
        shown = part if len(part) <= _SHOWN_CHARS else part[:_SHOWN_CHARS] + "\u2026"
        raise SliceError(
            "entry %d (%s) is not an integer, a start:stop:step range or '...'"
            % (number, json.dumps(shown, ensure_ascii=False))
        )
    start, stop, step = (None if v is None else _int(v, number) for v in match.groups())
    if step == 0:
        raise SliceError("entry %d: the step cannot be zero" % number)
    return slice(start, stop, step)


def _int(digits, number):
    """int(digits), refusing magnitudes the tab cannot hold exactly."""
    if len(digits.lstrip("+-")) > 16 or abs(int(digits)) > MAX_INTEGER:
        raise SliceError("entry %d: an integer over 2^53 in magnitude is out of range" % number)
    return int(digits)


def format_index(index):
    """The canonical text of a parsed index ("..." for the whole value)."""
    if not index:
        return "..."
    return ", ".join(_format_entry(entry) for entry in index)


def _format_entry(entry):
    if entry is Ellipsis:
        return "..."
    if isinstance(entry, int):
        return str(entry)
    text = "%s:%s" % ("" if entry.start is None else entry.start, "" if entry.stop is None else entry.stop)
    return text + (":%d" % entry.step if entry.step is not None else "")


def apply(array, text):
    """Applies slice expression `text` to `array`; returns (result, canonical text).

    Raises:
      SliceError: the expression is malformed, has too many entries for the
        array's rank, or an integer index is out of range (naming the axis).
    """
    index = parse(text)
    explicit = [e for e in index if e is not Ellipsis]
    if len(explicit) > array.ndim:
        raise SliceError(
            "too many entries (%d) for a value with %d axes (shape %s)" % (len(explicit), array.ndim, list(array.shape))
        )
    axes = _axes_of(index, array.ndim)
    for entry, axis in zip(index, axes):
        if isinstance(entry, int) and not -array.shape[axis] <= entry < array.shape[axis]:
            raise SliceError("index %d is out of range for axis %d of size %d" % (entry, axis, array.shape[axis]))
    # Indexing every axis gives a numpy scalar (or `bytes`): keep it an array.
    return np.asarray(array[index], dtype=array.dtype), format_index(index)


def fixed_axes(index, ndim):
    """{axis: position of its entry in `index`} for the axes of an `ndim`-D value that an integer fixes."""
    return {
        axis: position
        for position, (entry, axis) in enumerate(zip(index, _axes_of(index, ndim)))
        if isinstance(entry, int)
    }


def _axes_of(index, ndim):
    """The array axis each index entry applies to (None for '...')."""
    axes, axis = [], 0
    for position, entry in enumerate(index):
        if entry is Ellipsis:
            axes.append(None)
            axis = ndim - sum(1 for e in index[position + 1 :] if e is not Ellipsis)
        else:
            axes.append(axis)
            axis += 1
    return axes


def pool_factors(shape, max_cells):
    """Block sizes (one per axis) that bring a 1-D or 2-D `shape` within `max_cells`."""
    if len(shape) == 1:
        return (max(1, math.ceil(shape[0] / max_cells)),)
    h, w = shape
    side = max(1, math.ceil(math.sqrt(h * w / max_cells)))
    fy, fx = min(side, max(h, 1)), min(side, max(w, 1))
    while math.ceil(h / fy) * math.ceil(w / fx) > max_cells:
        if math.ceil(h / fy) >= math.ceil(w / fx) and fy < h:
            fy += max(1, fy // 8)
        elif fx < w:
            fx += max(1, fx // 8)
        else:
            fy += max(1, fy // 8)
    return fy, fx


def pool(array, max_cells):
    """Shrinks a 1-D or 2-D numeric array to at most `max_cells` cells.

    Returns (pooled float64 array, factors) or (array, None) when it already
    fits. A cell is the mean of its block's finite elements, except that a
    block holding a NaN is NaN, else one holding +Inf is +Inf, else -Inf.
    Complex values pool their magnitude.
    """
    if array.size <= max_cells:
        return array, None
    if array.ndim not in (1, 2):
        raise SliceError(
            "a %d-D result of %d elements exceeds max_cells=%d: slice it to 1 or 2 axes"
            % (array.ndim, array.size, max_cells)
        )
    if array.dtype == object:
        raise SliceError("string values cannot be pooled; slice them instead")
    factors = pool_factors(array.shape, max_cells)
    if array.ndim == 1:
        (fx,) = factors
        cells = math.ceil(array.size / fx)
        step = max(1, _BAND_ELEMENTS // fx)  # output cells per band
        pooled = np.concatenate(
            [
                _pool_band(array[start * fx : (start + step) * fx].reshape(1, -1), 1, fx)[0]
                for start in range(0, cells, step)
            ]
        )
        return pooled, factors
    fy, fx = factors
    rows = math.ceil(array.shape[0] / fy)
    step = max(1, _BAND_ELEMENTS // (fy * array.shape[1]))  # output rows per band
    pooled = np.concatenate(
        [_pool_band(array[start * fy : (start + step) * fy], fy, fx) for start in range(0, rows, step)]
    )
    return pooled, factors


# Input elements pooled at once: bounds the float64 temporaries of a large value.
_BAND_ELEMENTS = 1 << 22


def _pool_band(band, fy, fx):
    """Pools a 2-D band by fy x fx blocks; edge blocks may be partial."""
    real = np.abs(band) if np.iscomplexobj(band) else band
    real = np.asarray(real, dtype=np.float64)
    h, w = real.shape
    oh, ow = math.ceil(h / fy), math.ceil(w / fx)
    padded = np.zeros((oh * fy, ow * fx))
    padded[:h, :w] = real
    valid = np.zeros(padded.shape, dtype=bool)
    valid[:h, :w] = True
    blocks = padded.reshape(oh, fy, ow, fx)
    finite = np.isfinite(blocks) & valid.reshape(oh, fy, ow, fx)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.where(finite, blocks, 0).sum(axis=(1, 3)) / finite.sum(axis=(1, 3))
    result[(blocks == -np.inf).any(axis=(1, 3))] = -np.inf
    result[(blocks == np.inf).any(axis=(1, 3))] = np.inf
    result[np.isnan(blocks).any(axis=(1, 3))] = np.nan
    return result
