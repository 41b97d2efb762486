"""Small multiples: one 1-D or 2-D slice of a capture, repeated along an axis or over steps.

The tab draws a grid of small heatmaps sharing one colour range: the
channels (or heads) of an activation, or the same slice at a range of
steps. The slice chooses the picture (its one or two free axes); the facet
is either an axis the slice fixes by an integer (each panel puts another
index there) or the captured steps between two steps.

The reply stays bounded: at most `MAX_PANELS` panels (evenly spaced, first
and last kept, "sampled" says so) and `max_cells` cells over all panels,
each panel pooled as `/value` pools (a NaN or infinity in a block stays
visible). Each panel also gives the finite range and NaN/Inf counts of its
unpooled slice, so a shared colour range covers every value, not only the
pooled means.
"""

import numpy as np

from tb_tensorcap import analysis, slicing
from tb_tensorcap.step_histograms import sample_positions

MAX_PANELS = 256
DEFAULT_CELLS = 1 << 16


class FacetError(ValueError):
    """Small multiples that cannot be made as asked; the message says why (HTTP 400)."""


def _panel(array, index, max_cells):
    """(pooled slice, its facts) of one panel: its range and NaN/Inf counts before pooling."""
    part = np.asarray(array[index], dtype=array.dtype)
    if part.ndim not in (1, 2):
        raise FacetError("a panel must be 1-D or 2-D; the slice leaves %d free axes" % part.ndim)
    if part.dtype == object:
        raise FacetError("strings cannot be drawn as small multiples")
    real = analysis.real_elements(part)
    finite = real[np.isfinite(real)]
    facts = {
        "lo": float(finite.min()) if finite.size else None,
        "hi": float(finite.max()) if finite.size else None,
        "nan": int(np.count_nonzero(np.isnan(real))),
        "posinf": int(np.count_nonzero(real == np.inf)),
        "neginf": int(np.count_nonzero(real == -np.inf)),
    }
    if np.iscomplexobj(part) or part.dtype == bool:
        part = real.reshape(part.shape)
    pooled, factors = slicing.pool(part, max_cells)
    return pooled.astype(np.float32), factors, facts


def facets(reader, run, tag, step, slice_text, axis=None, steps=None, max_cells=DEFAULT_CELLS):
    """The reply of `/facets` (documented in http_api.md): panels stacked under "array".

    Exactly one of `axis` (an axis the slice fixes; panels along it at
    `step`) and `steps` ((first, last): the captured steps in that range).
    """
    if (axis is None) == (steps is None):
        raise FacetError("give either an axis to facet or a range of steps")
    if axis is not None and step is None:
        raise FacetError("facet an axis at one step: give the step")
    info = reader.info(run, tag, step) if axis is not None else None
    index = slicing.parse(slice_text)
    if axis is not None:
        shape = info.shape
        fixed = slicing.fixed_axes(index, len(shape))
        if not 0 <= axis < len(shape):
            raise FacetError("axis %d is not an axis of shape %s" % (axis, list(shape)))
        if axis not in fixed:
            raise FacetError("axis %d is not fixed by an integer in the slice %r" % (axis, slicing.format_index(index)))
        slicing.apply(np.broadcast_to(np.False_, shape), slice_text)  # the slice's errors, named as /value names them
        labels = list(range(shape[axis]))
        chosen = [labels[k] for k in sample_positions(len(labels), MAX_PANELS)]
        array = reader.value(run, tag, step)
        position = fixed[axis]
        panel_sources = [(array, index[:position] + (i,) + index[position + 1 :]) for i in chosen]
        total = len(labels)
    else:
        first, last = steps
        in_range = [s for s in reader.steps(run, tag) if first <= s <= last]
        if not in_range:
            raise FacetError("no step of %r in run %r lies between %d and %d" % (tag, run, first, last))
        chosen = [in_range[k] for k in sample_positions(len(in_range), MAX_PANELS)]
        infos = [reader.info(run, tag, s) for s in chosen]
        if any(i.kind == "health" for i in infos):
            raise FacetError("some of these steps kept only statistics (health mode): no values to draw")
        shapes = {tuple(i.shape) for i in infos}
        if len(shapes) > 1:
            raise FacetError("the steps have different shapes %s: choose steps of one shape" % sorted(shapes))
        info = infos[-1]
        slicing.apply(np.broadcast_to(np.False_, info.shape), slice_text)
        panel_sources = ((reader.value(run, tag, s), index) for s in chosen)
        total = len(in_range)
    budget = max(1, max_cells // len(chosen))
    pooled, facts, factors = [], [], None
    for array, panel_index in panel_sources:
        values, factors, numbers = _panel(array, panel_index, budget)
        pooled.append(values)
        facts.append(numbers)
    return {
        "run": run,
        "tag": tag,
        "step": step,
        "facet": "axis" if axis is not None else "steps",
        "axis": axis,
        "labels": chosen,
        "total": total,
        "sampled": len(chosen) < total,
        "slice": slicing.format_index(index),
        "full_shape": list(info.shape),
        "dtype": info.dtype,
        "panels": facts,
        "pooled": list(factors) if factors else None,
        "array": np.stack(pooled),
    }
