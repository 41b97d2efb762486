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

import weakref

import numpy as np

NAN, POSINF, NEGINF, ALL_ZERO = 1, 2, 4, 8  # cell flags, OR-ed over what a cell covers


def overview(reader, run, max_steps=400, max_tags=1000, progress=None):
    """The reply of `/health` (documented in http_api.md).

    Columnar: numpy passes over the run's statistics (`Reader.statistics_columns`),
    no object per capture (1,000 tags x 10,000 steps are 10 million
    captures). Statistics not known yet (full captures) are computed first,
    by the reader's batched pass; a capture whose value cannot be read is
    left out and counted in "unknown". A reply is kept per reader until the
    run gains captures or statistics (the tab asks again on every visit).

    Args:
      reader: a `reader.Reader`.
      run: the run's name.
      max_steps, max_tags: the most columns and rows.
      progress: optional `progress(done, total)` while statistics are computed.
    """
    reader.compute_stats(run, progress=progress)
    key = (run, max_steps, max_tags, reader.count(run), reader.progress()["statistics"]["done"])
    cached = _replies.setdefault(reader, {})
    if key not in cached:
        if len(cached) >= _CACHED_REPLIES:
            cached.clear()
        cached[key] = _overview(reader, run, max_steps, max_tags)
    return cached[key]


_replies = weakref.WeakKeyDictionary()  # reader -> {(run, bins, captures, statistics known): reply}
_CACHED_REPLIES = 16


def _overview(reader, run, max_steps, max_tags):
    columns = reader.statistics_columns(run, every_capture=True)  # sorted by (tag, step, capture order)
    numeric = ~columns["string"]
    known = numeric & (columns["known"] != 0)
    names = ("tag_id", "step", "order", "min", "max", "nan", "posinf", "neginf", "zeros", "numel")
    pick = {name: columns[name] for name in names} if known.all() else {name: columns[name][known] for name in names}
    count = len(pick["step"])
    # Rows: tags in the order of their first capture (each tag's captures are consecutive).
    tag_starts = np.flatnonzero(np.r_[True, pick["tag_id"][1:] != pick["tag_id"][:-1]]) if count else np.zeros(0, int)
    first_order = np.minimum.reduceat(pick["order"], tag_starts) if count else np.zeros(0, np.int64)
    by_first = np.argsort(first_order, kind="stable")
    rank = np.empty(len(tag_starts), np.int64)
    rank[by_first] = np.arange(len(tag_starts))
    tags_of = np.repeat(rank, np.diff(np.r_[tag_starts, count]))
    tag_names = [columns["tags"][t] for t in pick["tag_id"][tag_starts][by_first].tolist()]
    steps_of = pick["step"].astype(np.int64)
    steps = _distinct(steps_of)
    flags = (pick["nan"] > 0).astype(np.int64)  # NAN
    flags |= (pick["posinf"] > 0) * POSINF
    flags |= (pick["neginf"] > 0) * NEGINF
    largest = np.fmax(np.abs(pick["min"]), np.abs(pick["max"]))  # NaN: no finite element
    flags |= ((largest == 0) & (pick["zeros"] == pick["numel"])) * ALL_ZERO
    column_bins = _bins(len(steps), max_steps)
    row_bins = _bins(len(tag_names), max_tags)
    column_of = _lookup(steps, column_bins, steps_of) if count else steps_of
    row_of = row_bins[tags_of]
    width = int(column_bins[-1]) + 1 if len(column_bins) else 0
    height = int(row_bins[-1]) + 1 if len(row_bins) else 0
    cells = row_of * width + column_of
    if count and bool(np.all(cells[1:] >= cells[:-1])):
        order = None  # tags in first-capture order, steps ascending: already cell by cell
    else:
        order = np.argsort(cells, kind="stable")  # captures cell by cell, in data order within a cell
        cells, flags, largest, steps_of, tags_of = (a[order] for a in (cells, flags, largest, steps_of, tags_of))
    starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]]) if count else np.zeros(0, np.int64)
    cell_ids = cells[starts]
    cell_flags = np.bitwise_or.reduceat(flags, starts) if count else flags
    cell_largest = np.fmax.reduceat(largest, starts) if count else largest
    picked = _picks(starts, cell_flags, cell_largest, flags, largest, steps_of)
    with np.errstate(divide="ignore", invalid="ignore"):
        cell_magnitude = np.where(cell_largest > 0, np.log10(cell_largest), np.nan)
    size = height * width
    return {
        "run": run,
        "tags": tag_names,
        "rows": _spans(row_bins, tag_names),
        "columns": _spans(column_bins, steps.tolist()),
        "captures": count,
        "unknown": int(np.count_nonzero(numeric & (columns["known"] == 0))),
        "magnitude": _scatter(size, cell_ids, np.round(cell_magnitude, 3), skip_nan=True),
        "flags": _scatter(size, cell_ids, cell_flags),
        "open": _scatter(size, cell_ids, np.stack([tags_of[picked], steps_of[picked]], axis=1)),
    }


def _lookup(keys, values, wanted):
    """values[k] for each of `wanted`, where keys[k] == it (`keys` ascending, every wanted among them)."""
    low, high = int(keys[0]), int(keys[-1])
    if high - low > 4 * len(wanted) + (1 << 20):
        return values[np.searchsorted(keys, wanted)]
    table = np.zeros(high - low + 1, values.dtype)
    table[keys - low] = values
    return table[wanted - low]


def _distinct(values):
    """The distinct values of an int64 array, ascending (a bitmap when their range is small, else a sort)."""
    if not len(values):
        return values
    low, high = int(values.min()), int(values.max())
    if high - low > 4 * len(values) + (1 << 20):
        return np.unique(values)
    seen = np.zeros(high - low + 1, bool)
    seen[values - low] = True
    return np.flatnonzero(seen) + low


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


def _scatter(size, cell_ids, values, skip_nan=False):
    """A row-major list of `size` cells: `values` at `cell_ids`, None elsewhere (and for NaN with `skip_nan`)."""
    out = [None] * size
    for cell, value in zip(cell_ids.tolist(), values.tolist()):
        if not (skip_nan and value != value):
            out[cell] = value
    return out


def _picks(starts, cell_flags, cell_largest, flags, largest, steps):
    """Per cell (captures sorted cell by cell, each cell from `starts`), the position of the capture a click opens.

    The earliest capture holding NaN/Inf; else the one with the largest
    magnitude; else (no finite non-zero value) the cell's first. Ties: the
    first in data order.
    """
    if not len(starts):
        return starts
    bad = (flags & (NAN | POSINF | NEGINF)) != 0
    cell_of = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(flags)]))
    cell_bad = (cell_flags & (NAN | POSINF | NEGINF)) != 0
    earliest_bad = np.minimum.reduceat(np.where(bad, steps, np.iinfo(np.int64).max), starts)
    wanted = np.where(
        cell_bad[cell_of], bad & (steps == earliest_bad[cell_of]), (largest == cell_largest[cell_of]) & (largest > 0)
    )  # NaN == NaN is false: a cell with no finite non-zero value keeps its first capture
    picks = starts.copy()
    hits = np.flatnonzero(wanted)
    first_hit = hits[np.r_[True, cell_of[hits][1:] != cell_of[hits][:-1]]] if len(hits) else hits
    picks[cell_of[first_hit]] = first_hit
    return picks
