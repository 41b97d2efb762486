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

import numpy as np

NAN, POSINF, NEGINF, ALL_ZERO = 1, 2, 4, 8  # cell flags, OR-ed over what a cell covers


def overview(reader, run, max_steps=400, max_tags=1000, progress=None):
    """The reply of `/health` (documented in http_api.md).

    Columnar: one numpy pass over the run's statistics (`Reader.statistics_columns`),
    no object per capture, so 1,000 tags x 10,000 steps (10 million
    captures) take seconds. Statistics not known yet (full captures) are
    computed first, by the reader's batched pass; a capture whose value
    cannot be read is left out and counted in "unknown".

    Args:
      reader: a `reader.Reader`.
      run: the run's name.
      max_steps, max_tags: the most columns and rows.
      progress: optional `progress(done, total)` while statistics are computed.
    """
    reader.compute_stats(run, progress=progress)
    columns = reader.statistics_columns(run, every_capture=True)
    numeric = ~columns["string"]
    known = numeric & (columns["known"] != 0)
    pick = {name: columns[name][known] for name in ("tag_id", "step", "order", "min", "max", "nan", "posinf", "neginf")}
    pick["all_zero"] = columns["zeros"][known] == columns["numel"][known]
    count = int(np.count_nonzero(known))
    # Rows: tags in the order of their first capture.
    tag_ids, first_index, tag_of = np.unique(pick["tag_id"], return_index=True, return_inverse=True)
    first_order = np.full(len(tag_ids), np.iinfo(np.int64).max)
    np.minimum.at(first_order, tag_of, pick["order"])
    rank = np.empty(len(tag_ids), np.int64)
    rank[np.argsort(first_order, kind="stable")] = np.arange(len(tag_ids))
    tags_of = rank[tag_of] if count else np.zeros(0, np.int64)
    names = columns["tags"]
    tag_names = [names[t] for t in tag_ids[np.argsort(first_order, kind="stable")]]
    steps = np.unique(pick["step"])
    steps_of = pick["step"].astype(np.int64)
    flags = (
        np.where(pick["nan"] > 0, NAN, 0)
        | np.where(pick["posinf"] > 0, POSINF, 0)
        | np.where(pick["neginf"] > 0, NEGINF, 0)
    ).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        largest = np.fmax(np.abs(pick["min"]), np.abs(pick["max"]))  # NaN: no finite element
        magnitude = np.where(largest > 0, np.log10(largest), np.nan)
    flags |= np.where((largest == 0) & pick["all_zero"], ALL_ZERO, 0)
    column_bins = _bins(len(steps), max_steps)
    row_bins = _bins(len(tag_names), max_tags)
    column_of = column_bins[np.searchsorted(steps, steps_of)] if count else steps_of
    row_of = row_bins[tags_of]
    width = int(column_bins[-1]) + 1 if len(column_bins) else 0
    height = int(row_bins[-1]) + 1 if len(row_bins) else 0
    cells = row_of * width + column_of
    order = np.argsort(cells, kind="stable")  # captures cell by cell, in data order within a cell
    sorted_cells = cells[order]
    starts = np.flatnonzero(np.r_[True, sorted_cells[1:] != sorted_cells[:-1]]) if count else np.zeros(0, np.int64)
    cell_ids = sorted_cells[starts]
    cell_flags = np.bitwise_or.reduceat(flags[order], starts) if count else flags
    cell_magnitude = np.fmax.reduceat(magnitude[order], starts) if count else magnitude
    picked = order[_picks(starts, cell_flags, cell_magnitude, flags[order], magnitude[order], steps_of[order])]
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


def _picks(starts, cell_flags, cell_magnitude, flags, magnitude, steps):
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
        cell_bad[cell_of], bad & (steps == earliest_bad[cell_of]), magnitude == cell_magnitude[cell_of]
    )  # NaN == NaN is false: a cell with no magnitude keeps its first capture
    picks = starts.copy()
    hits = np.flatnonzero(wanted)
    first_hit = hits[np.r_[True, cell_of[hits][1:] != cell_of[hits][:-1]]] if len(hits) else hits
    picks[cell_of[first_hit]] = first_hit
    return picks
