"""Questions asked of a whole logdir: NaN/Inf alerts and where two runs part.

Built on `reader.Reader` and `analysis`; the plugin's `/alerts` and
`/divergence` routes and the `tensorcap alerts` / `tensorcap divergence`
commands all call these, so they give the same answers.
"""

from tb_tensorcap import analysis


def alerts(reader, run=None, progress=None):
    """Every capture holding NaN or Inf, in capture order, runs by name.

    Reads each value whose statistics are not cached yet, calling
    `progress(done, total)` after each capture if given. The earliest alert
    of each run has "first": True.
    """
    captures = [info for run_name in ([run] if run is not None else reader.runs())
                for info in reader.captures(run_name) if info.dtype != "string"]
    found, runs_alerted = [], set()
    for done, info in enumerate(captures, 1):
        stats = reader.stats(info.run, info.tag, info.step)
        if analysis.has_nonfinite(stats):
            found.append({
                "run": info.run, "tag": info.tag, "step": info.step, "order": info.order,
                "nan": stats["nan"], "posinf": stats["posinf"], "neginf": stats["neginf"],
                "first": info.run not in runs_alerted,
            })
            runs_alerted.add(info.run)
        if progress:
            progress(done, len(captures))
    return found


def divergence(reader, run, run2, rtol=1e-5, atol=1e-8, progress=None):
    """Where `run2` first parts from `run`, and how far each tag parts.

    Walks `run` by (step, capture order within the step), comparing each
    capture with the same tag and step in `run2`. Captures whose digests match
    are identical and are not re-read. `progress(done, total)` is called
    after each capture of `run` if given. The reply is documented in
    http_api.md (`/divergence`).
    """
    captures = sorted(reader.captures(run), key=lambda i: (i.step, i.order))
    tags_a, tags_b = set(reader.tags(run)), set(reader.tags(run2))
    steps_b = {tag: set(reader.steps(run2, tag)) for tag in tags_a & tags_b}
    first = None
    compared = 0
    per_tag = {}
    for done, info in enumerate(captures, 1):
        if progress:
            progress(done, len(captures))
        if info.step not in steps_b.get(info.tag, ()):
            continue
        other = reader.info(run2, info.tag, info.step)
        outcome = _compare(reader, info, other, rtol, atol)
        compared += 1
        row = per_tag.setdefault(info.tag, {
            "tag": info.tag, "steps_compared": 0, "steps_outside": 0,
            "first_step_outside": None, "max_abs": 0.0, "max_rel": None,
        })
        row["steps_compared"] += 1
        if outcome["max_abs"] is not None:
            row["max_abs"] = max(row["max_abs"], outcome["max_abs"])
        if outcome["max_rel"] is not None:
            row["max_rel"] = max(row["max_rel"] or 0.0, outcome["max_rel"])
        if outcome["outside"]:
            row["steps_outside"] += 1
            if row["first_step_outside"] is None:
                row["first_step_outside"] = info.step
            if first is None:
                first = dict(outcome, tag=info.tag, step=info.step, order=info.order)
    rows = sorted(per_tag.values(), key=lambda r: (
        r["first_step_outside"] is None, r["first_step_outside"] or 0, r["tag"]))
    return {
        "run": run, "run2": run2, "rtol": rtol, "atol": atol, "compared": compared,
        "first": first, "tags": rows,
        "only_in_run": sorted(tags_a - tags_b), "only_in_run2": sorted(tags_b - tags_a),
    }


def _compare(reader, a, b, rtol, atol):
    """How captures `a` and `b` differ: reason, max_abs, max_rel, outside, shapes."""
    outcome = {"reason": None, "max_abs": None, "max_rel": None, "outside": 0,
               "shape": list(a.shape), "shape2": list(b.shape)}
    if a.shape != b.shape:
        return dict(outcome, reason="shape", outside=max(a.numel, b.numel))
    if (a.dtype == "string") != (b.dtype == "string"):
        return dict(outcome, reason="dtype", outside=a.numel)
    if a.dtype == b.dtype and (
        reader.stats(a.run, a.tag, a.step)["digest"] == reader.stats(b.run, b.tag, b.step)["digest"]
    ):
        return dict(outcome, max_abs=0.0 if a.dtype != "string" else None)
    _, stats = analysis.diff(reader.value(a.run, a.tag, a.step), reader.value(b.run, b.tag, b.step), rtol, atol)
    return dict(outcome, reason="values" if stats["outside"] else None, max_abs=stats["max_abs"],
                max_rel=stats["max_rel"], outside=stats["outside"])
