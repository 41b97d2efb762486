"""Per-tag statistics over steps, for sorting and filtering the tab's tag tree.

For every tag of a run: the largest finite magnitude (max |x|) over its
steps, the steps (and elements) holding NaN and ±Inf, and the largest
relative change of the standard deviation between two consecutive steps
(where a layer's activations blow up or die). Made from the statistics the
reader already keeps (computed in the background), never by reading values:
a tag whose statistics are not all known yet says how many of its steps were
checked ("checked" < "steps"), so a filter can say its answer is partial.

Each capture counted is the last at its step (the one the tab shows);
string tags have no numeric statistics and are left out. Vectorised over
numpy columns, so a run of 10,000 tags or millions of captures answers fast.
"""

import numpy as np

FIELDS = ("steps", "checked", "max_abs", "nan_steps", "inf_steps", "nan", "inf", "std_change", "std_change_step")


def _per_tag_max(values, starts, tag_of):
    """(largest value of each tag's rows, -inf where none; the row holding it)."""
    order = np.lexsort((-values, tag_of))
    best = order[starts]  # rows sorted by tag keep each tag's rows at the same starts
    return values[best], best


def summarize(columns):
    """{tag: {field: value}} from `Reader.statistics_columns`' columns (the fields of FIELDS).

    max_abs: max |x| over the checked steps' finite values (None when none);
    nan_steps / inf_steps: checked steps holding NaN / ±Inf; nan / inf: their
    elements summed over steps; std_change: the largest |σ_k − σ_(k−1)| / σ_(k−1)
    between consecutive checked steps (inf when σ rose from 0; None with
    fewer than two), at step std_change_step.
    """
    keep = ~columns["string"]
    tag_of, step = columns["tag_id"][keep], columns["step"][keep]
    if not tag_of.size:
        return {}
    known = columns["known"][keep] != 0
    low, high, std = (np.where(known, columns[name][keep], np.nan) for name in ("min", "max", "std"))
    nan = np.where(known, columns["nan"][keep], 0)
    inf = np.where(known, columns["posinf"][keep] + columns["neginf"][keep], 0)
    starts = np.flatnonzero(np.r_[True, tag_of[1:] != tag_of[:-1]])
    magnitude = np.fmax(np.abs(low), np.abs(high))
    max_abs, _ = _per_tag_max(np.where(np.isnan(magnitude), -np.inf, magnitude), starts, tag_of)

    # The std change at each row from the tag's previous step (both checked, both with a std).
    change = np.full(tag_of.size, -np.inf)
    same_tag = tag_of[1:] == tag_of[:-1]
    before, after = std[:-1], std[1:]
    usable = same_tag & ~np.isnan(before) & ~np.isnan(after)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(before > 0, np.abs(after - before) / before, np.where(after > 0, np.inf, 0.0))
    change[1:][usable] = relative[usable]
    std_change, std_row = _per_tag_max(change, starts, tag_of)

    counts = np.diff(np.r_[starts, tag_of.size])
    totals = {
        "checked": np.add.reduceat(known.astype(np.int64), starts),
        "nan_steps": np.add.reduceat((nan > 0).astype(np.int64), starts),
        "inf_steps": np.add.reduceat((inf > 0).astype(np.int64), starts),
        "nan": np.add.reduceat(nan, starts),
        "inf": np.add.reduceat(inf, starts),
    }
    names = columns["tags"]
    summary = {}
    for k, start in enumerate(starts.tolist()):
        summary[names[int(tag_of[start])]] = {
            "steps": int(counts[k]),
            **{name: int(values[k]) for name, values in totals.items()},
            "max_abs": float(max_abs[k]) if max_abs[k] > -np.inf else None,
            "std_change": float(std_change[k]) if std_change[k] > -np.inf else None,
            "std_change_step": int(step[std_row[k]]) if std_change[k] > -np.inf else None,
        }
    return summary


def columnar(summary):
    """{"tags": [...], field: [...] for each of FIELDS}: a summary in the compact form /tagstats sends."""
    tags = sorted(summary)
    return {"tags": tags, **{field: [summary[t][field] for t in tags] for field in FIELDS}}
