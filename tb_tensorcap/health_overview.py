"""The health overview of a run: tags x steps, magnitude and NaN/Inf, downsampled.

One picture of a whole training run: a row per tag (in the order tags were
first captured, which follows the data flow of a step), a column per step,
each cell coloured by log10 of the largest finite magnitude (max |x|) and
marked when the capture held NaN or an infinity. Every capture counts, full
or health (statistics only). Built from statistics alone: health captures
carry theirs, full ones are computed once and cached by the reader.

A run of 1,000 tags x 10,000 steps does not fit a screen or a reply, so the
server bins it: at most `max_steps` columns (consecutive steps share one)
and `max_tags` rows (consecutive tags share one). A cell keeps the largest
magnitude and every NaN/Inf flag of what it covers, and names one capture to
open on a click: the earliest non-finite one, else the largest.
"""

import math

import numpy as np

NAN, POSINF, NEGINF, ALL_ZERO = 1, 2, 4, 8  # cell flags, OR-ed over what a cell covers


def overview(reader, run, max_steps=400, max_tags=1000, progress=None):
    """The reply of `/health` (documented in http_api.md).

    Args:
      reader: a `reader.Reader`.
      run: the run's name.
      max_steps, max_tags: the most columns and rows.
      progress: optional `progress(done, total)` while statistics are read.
    """
    captures = [i for i in reader.captures(run) if i.dtype != "string"]
    tag_names, tag_index = [], {}
    for info in captures:
        if info.tag not in tag_index:
            tag_index[info.tag] = len(tag_names)
            tag_names.append(info.tag)
    steps = np.array(sorted({i.step for i in captures}), dtype=np.int64)
    count = len(captures)
    tags_of = np.empty(count, np.int64)
    steps_of = np.empty(count, np.int64)
    magnitude = np.full(count, np.nan)
    flags = np.zeros(count, np.int64)
    for k, info in enumerate(captures):
        stats = reader.stats(info.run, info.tag, info.step, *_repeat(info))
        tags_of[k], steps_of[k] = tag_index[info.tag], info.step
        flags[k] = (
            (NAN if stats["nan"] else 0) | (POSINF if stats["posinf"] else 0) | (NEGINF if stats["neginf"] else 0)
        )
        if stats["min"] is not None:
            largest = max(abs(stats["min"]), abs(stats["max"]))
            if largest > 0:
                magnitude[k] = math.log10(largest)
            elif stats["zeros"] == stats["numel"]:
                flags[k] |= ALL_ZERO
        if progress:
            progress(k + 1, count)
    columns = _bins(len(steps), max_steps)
    rows = _bins(len(tag_names), max_tags)
    column_of = columns[np.searchsorted(steps, steps_of)] if count else steps_of
    row_of = rows[tags_of]
    width = int(columns[-1]) + 1 if len(columns) else 0
    height = int(rows[-1]) + 1 if len(rows) else 0
    cells = row_of * width + column_of
    return {
        "run": run,
        "tags": tag_names,
        "rows": _spans(rows, tag_names),
        "columns": _spans(columns, steps.tolist()),
        "captures": count,
        "magnitude": _cell_max(cells, magnitude, height * width),
        "flags": _cell_or(cells, flags, height * width),
        "open": _cell_pick(cells, flags, magnitude, tags_of, steps_of, height * width),
    }


def _repeat(info):
    """(repeat,) where the reader tells repeats of one (tag, step) apart, else ()."""
    repeat = getattr(info, "repeat", None)
    return () if repeat is None else (repeat,)


def _bins(size, most):
    """The bin of each of `size` consecutive items, at most `most` bins of near-equal size."""
    positions = np.arange(size, dtype=np.int64)
    if size <= most:
        return positions
    return positions * most // size


def _spans(bins, labels):
    """[{"first", "last", "count"}] of each bin's labels."""
    spans = []
    for start in np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]]) if len(bins) else ():
        end = start
        while end + 1 < len(bins) and bins[end + 1] == bins[start]:
            end += 1
        spans.append({"first": labels[start], "last": labels[end], "count": int(end - start + 1)})
    return spans


def _cell_max(cells, magnitude, size):
    """Per cell, the largest magnitude (None where no capture has a finite non-zero value)."""
    out = np.full(size, -np.inf)
    known = ~np.isnan(magnitude)
    np.maximum.at(out, cells[known], magnitude[known])
    return [None if v == -np.inf else round(float(v), 3) for v in out]


def _cell_or(cells, flags, size):
    out = np.zeros(size, np.int64)
    np.bitwise_or.at(out, cells, flags)
    empty = np.ones(size, bool)
    empty[cells] = False
    return [None if e else int(f) for f, e in zip(out, empty)]


def _cell_pick(cells, flags, magnitude, tags_of, steps_of, size):
    """Per cell, [tag index, step] of the capture a click opens (None for an empty cell)."""
    out = [None] * size
    if not len(cells):
        return out
    bad = (flags & (NAN | POSINF | NEGINF)) != 0
    # Sort by cell, then non-finite first (earliest step), then largest magnitude.
    within = np.where(bad, steps_of.astype(np.float64), -np.nan_to_num(magnitude, nan=-np.inf))
    order = np.lexsort((within, ~bad, cells))
    first = order[np.r_[True, cells[order][1:] != cells[order][:-1]]]
    for k in first:
        out[int(cells[k])] = [int(tags_of[k]), int(steps_of[k])]
    return out
