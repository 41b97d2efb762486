"""Histograms of one tag over its steps, on common bin edges (TensorBoard's histogram dashboard).

TensorBoard draws a tag's histograms over steps stacked in depth ("offset")
or on top of each other ("overlay"); both need the steps binned alike, so
the edges here span the finite range of every step shown, and each step
gives its counts in those bins. NaN, +Inf and -Inf are counted beside the
bins, never dropped silently.

A reply stays small: a tag with thousands of steps is downsampled to at most
`max_steps` steps, evenly spaced with the first and the last kept, and the
reply says so ("sampled", "total_steps"). Health-mode captures kept only
statistics; their steps are listed under "statistics_only" and not drawn.
"""

import numpy as np

from tb_tensorcap import analysis, slicing

DEFAULT_STEPS = 100
MAX_STEPS = 1000
MAX_COUNTS = 1 << 18  # bins x steps in one reply (about 2 MB of JSON at most)


class HistogramError(ValueError):
    """Histograms that cannot be made as asked (strings); the message says why."""


def sample_positions(count, most):
    """Indices into `count` items, at most `most` of them, evenly spaced, first and last kept."""
    if count <= most:
        return list(range(count))
    if most == 1:
        return [count - 1]
    return sorted({int(round(k)) for k in np.linspace(0, count - 1, most)})


def histograms(reader, run, tag, bins, max_steps=DEFAULT_STEPS, slice_text=""):
    """The reply of `/histograms` (documented in http_api.md)."""
    if bins * max_steps > MAX_COUNTS:
        raise HistogramError(
            "%d bins x %d steps is more than %d counts in one reply: ask for fewer bins or steps"
            % (bins, max_steps, MAX_COUNTS)
        )
    infos = reader.tag_infos(run, tag)
    if any(info.dtype == "string" for info in infos):
        raise HistogramError("%r holds strings: a histogram needs numbers" % tag)
    statistics_only = [info.step for info in infos if info.kind == "health"]
    drawable = [info for info in infos if info.kind != "health"]
    chosen = [drawable[k] for k in sample_positions(len(drawable), max_steps)]

    def real(info):
        array, canonical = slicing.apply(reader.value(run, tag, info.step), slice_text)
        return analysis.real_elements(array), canonical

    # First pass: the finite range over every chosen step (from the cached
    # statistics when the whole value is binned), then the counts: one step's
    # values in memory at a time.
    lo, hi = np.inf, -np.inf
    for info in chosen:
        if slice_text:
            elements = real(info)[0]
            finite = elements[np.isfinite(elements)]
            low, high = (finite.min(), finite.max()) if finite.size else (None, None)
        else:
            numbers = reader.stats(run, tag, info.step)
            low, high = numbers["min"], numbers["max"]
        if low is not None:
            lo, hi = min(lo, float(low)), max(hi, float(high))
    edges = [] if lo > hi else [lo, hi] if lo == hi else np.linspace(lo, hi, bins + 1).tolist()
    rows, canonical = [], slicing.format_index(slicing.parse(slice_text))
    for info in chosen:
        elements, canonical = real(info)
        rows.append(dict(analysis.counts_in_edges(elements, edges), step=info.step, wall_time=info.wall_time))
    return {
        "run": run,
        "tag": tag,
        "slice": canonical,
        "edges": edges,
        "steps": rows,
        "total_steps": len(drawable),
        "sampled": len(chosen) < len(drawable),
        "statistics_only": statistics_only,
    }
