"""Questions asked of a whole logdir: NaN/Inf alerts and where two runs part.

Built on `reader.Reader` and `analysis`; the plugin's `/alerts` and
`/divergence` routes and the `tensorcap alerts` / `tensorcap divergence`
commands all call these, so they give the same answers.
"""

from tb_tensorcap import analysis


def alerts(reader, run=None, progress=None):
    """Every capture holding NaN or Inf, in capture order, runs by name.

    Every capture on disk counts, repeats of a (tag, step) included: each
    alert names its `repeat` (see `reader.Reader.repeats`) and its source.

    Reads each value whose statistics are not cached yet, calling
    `progress(done, total)` after each capture if given. The earliest alert
    of each run has "first": True.
    """
    captures = [
        info
        for run_name in ([run] if run is not None else reader.runs())
        for info in reader.captures(run_name)
        if info.dtype != "string"
    ]
    found, runs_alerted = [], set()
    for done, info in enumerate(captures, 1):
        stats = reader.stats(info.run, info.tag, info.step, info.repeat)
        if analysis.has_nonfinite(stats):
            found.append(
                {
                    "run": info.run,
                    "tag": info.tag,
                    "step": info.step,
                    "repeat": info.repeat,
                    "order": info.order,
                    "source": info.source,
                    "nan": stats["nan"],
                    "posinf": stats["posinf"],
                    "neginf": stats["neginf"],
                    "first": info.run not in runs_alerted,
                }
            )
            runs_alerted.add(info.run)
        if progress:
            progress(done, len(captures))
    return found


def divergence(reader, run, run2, rtol=1e-5, atol=1e-8, progress=None):
    """Where `run2` first parts from `run`, and how far each tag parts.

    Walks `run` by (step, capture order within the step), comparing each
    capture with the same tag and step in `run2`. Repeats pair in order: the
    k-th capture of (tag, step) in `run` with the k-th in `run2`; a capture
    with no partner counts in its tag's `unpaired`. Captures whose digests match
    are identical and are not re-read. `progress(done, total)` is called
    after each capture of `run` if given. The reply is documented in
    http_api.md (`/divergence`).
    """
    captures = sorted(reader.captures(run), key=lambda i: (i.step, i.order))
    tags_a, tags_b = set(reader.tags(run)), set(reader.tags(run2))
    partners = {(i.tag, i.step, i.repeat): i for i in reader.captures(run2) if i.tag in tags_a}
    first = None
    compared = unpaired = 0
    per_tag = {}
    for done, info in enumerate(captures, 1):
        if progress:
            progress(done, len(captures))
        if info.tag not in tags_b:
            continue
        row = per_tag.setdefault(
            info.tag,
            {
                "tag": info.tag,
                "steps_compared": 0,
                "steps_outside": 0,
                "unpaired": 0,
                "first_step_outside": None,
                "max_abs": None,
                "max_rel": None,
                "nonfinite_mismatch": 0,
                "reasons": [],
            },
        )
        other = partners.pop((info.tag, info.step, info.repeat), None)
        if other is None:
            row["unpaired"] += 1
            unpaired += 1
            continue
        outcome = _compare(reader, info, other, rtol, atol)
        compared += 1
        row["steps_compared"] += 1
        row["nonfinite_mismatch"] += outcome["nonfinite_mismatch"] or 0
        if outcome["max_abs"] is not None:
            row["max_abs"] = max(row["max_abs"] or 0.0, outcome["max_abs"])
        if outcome["max_rel"] is not None:
            row["max_rel"] = max(row["max_rel"] or 0.0, outcome["max_rel"])
        if outcome["reason"] is not None:
            if outcome["reason"] not in row["reasons"]:
                row["reasons"].append(outcome["reason"])
            row["steps_outside"] += 1
            if row["first_step_outside"] is None:
                row["first_step_outside"] = info.step
            if first is None:
                first = dict(
                    outcome, tag=info.tag, step=info.step, repeat=info.repeat, order=info.order, source=info.source
                )
    for other in partners.values():
        if other.tag in per_tag:
            per_tag[other.tag]["unpaired"] += 1
            unpaired += 1
    rows = sorted(
        per_tag.values(), key=lambda r: (r["first_step_outside"] is None, r["first_step_outside"] or 0, r["tag"])
    )
    return {
        "run": run,
        "run2": run2,
        "rtol": rtol,
        "atol": atol,
        "compared": compared,
        "unpaired": unpaired,
        "first": first,
        "tags": rows,
        "only_in_run": sorted(tags_a - tags_b),
        "only_in_run2": sorted(tags_b - tags_a),
    }


def _compare(reader, a, b, rtol, atol):
    """How captures `a` and `b` differ (the fields of `analysis.diff`'s stats, and both shapes).

    A shape or dtype mismatch has `reason` "shape" / "dtype" and no numbers
    (None): its values cannot be compared element-wise.
    """
    outcome = {
        "reason": None,
        "nonfinite_mismatch": None,
        "max_abs": None,
        "max_rel": None,
        "outside": 0,
        "shape": list(a.shape),
        "shape2": list(b.shape),
    }
    if a.shape != b.shape:
        return dict(outcome, reason="shape", outside=max(a.numel, b.numel))
    if (a.dtype == "string") != (b.dtype == "string"):
        return dict(outcome, reason="dtype", outside=a.numel)
    stats_a = reader.stats(a.run, a.tag, a.step, a.repeat)
    if a.dtype == b.dtype and stats_a["digest"] == reader.stats(b.run, b.tag, b.step, b.repeat)["digest"]:
        finite = stats_a["numel"] - stats_a["nan"] - stats_a["posinf"] - stats_a["neginf"]
        return dict(outcome, nonfinite_mismatch=0, max_abs=0.0 if a.dtype != "string" and finite else None)
    _, stats = analysis.diff(
        reader.value(a.run, a.tag, a.step, a.repeat), reader.value(b.run, b.tag, b.step, b.repeat), rtol, atol
    )
    return dict(
        outcome, **{key: stats[key] for key in ("reason", "nonfinite_mismatch", "max_abs", "max_rel", "outside")}
    )
