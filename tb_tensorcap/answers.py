"""Every question asked of a logdir, answered once for the plugin and the `tensorcap` command.

Each function takes a `reader.Reader` and returns plain data (dicts, lists,
numbers; a numpy array under "array" where a value is the answer). The
plugin's routes and the CLI's subcommands only parse their arguments and
format these replies, so the tab and the terminal give the same answers;
the replies' fields are documented in http_api.md.

Errors: `reader.NotFoundError` for an unknown run, tag or step;
`InvalidQuestion` for a question that cannot be answered as asked (shapes
that cannot be compared, a result too large to send); `slicing.SliceError`
for a bad slice.
"""

from tb_tensorcap import (
    analysis,
    health_overview,
    health_records,
    slicing,
    small_multiples,
    step_histograms,
    tag_statistics,
)
from tb_tensorcap import root_cause as root_cause_module
from tb_tensorcap.reader import NotFoundError

MAX_ELEMENTS = 1 << 24  # elements in one value reply, before pooling
MAX_POOLED_ELEMENTS = 1 << 28  # elements a pooled reply may start from
MAX_JSON_ELEMENTS = 1 << 20  # JSON is for small values; larger ones go binary (or to `tensorcap export`)
DEFAULT_BINS = 30
MAX_BINS = 1000
DEFAULT_RTOL = 1e-5
DEFAULT_ATOL = 1e-8
DEFAULT_HEALTH_STEPS = 200  # columns of a health overview
DEFAULT_HEALTH_TAGS = 400  # rows of a health overview
MAX_HEALTH_CELLS = 5000  # the most columns (and rows) a health overview may ask for
DEFAULT_HISTOGRAM_STEPS = step_histograms.DEFAULT_STEPS  # steps in one /histograms reply
MAX_HISTOGRAM_STEPS = step_histograms.MAX_STEPS
DEFAULT_FACET_CELLS = small_multiples.DEFAULT_CELLS  # cells over all panels of one /facets reply


class InvalidQuestion(ValueError):
    """A question that cannot be answered as asked; the message says why (HTTP 400, exit status 2)."""


# -- facts of the index (no values read) --------------------------------------


def tag_facts(reader, run, tag):
    """One tag's facts: its steps, repeats, and the last step's dtype, shape, description and source.

    "statistics_only" counts the steps whose (last) capture kept only statistics (health mode).
    """
    infos = reader.tag_infos(run, tag)
    last = infos[-1]
    return {
        "steps": [i.step for i in infos],
        "repeats": reader.repeats(run, tag),
        "dtype": last.dtype,
        "shape": list(last.shape),
        "description": last.description,
        "source": last.source,
        "statistics_only": sum(1 for i in infos if i.kind == "health"),
        "axes": last.axes,
    }


def index(reader):
    """{run: {tag: facts}}: `tag_facts` plus "alerts", "checked" and "captures" for every tag of every run.

    "alerts" counts the tag's captures (repeats included) known to hold NaN or
    Inf among the "checked" ones (of its "captures") whose statistics are
    already computed: it reads no values (the plugin computes statistics in
    the background). Built from the reader's columns, without a `CaptureInfo`
    per capture.
    """
    runs = {}
    for run in reader.runs():
        try:
            summaries = reader.tag_summaries(run)
        except NotFoundError:  # gone since listed (its files were replaced)
            continue
        runs[run] = {
            tag: {
                "steps": facts["steps"],
                "repeats": facts["repeats"],
                "dtype": facts["last"].dtype,
                "shape": list(facts["last"].shape),
                "description": facts["last"].description,
                "source": facts["last"].source,
                "axes": facts["last"].axes,
                "statistics_only": facts["statistics_only"],
                "alerts": facts["alerts"],
                "checked": facts["stats_known"],
                "captures": facts["captures"],
            }
            for tag, facts in summaries.items()
        }
    return runs


# -- one capture ---------------------------------------------------------------


def stats(reader, run, tag, step=None, progress=None):
    """{"run", "tag", "steps": [one row per step, or only `step`]}.

    A row holds `analysis.tensor_stats`' numbers (not the digest) with step,
    wall_time, dtype, shape and kind ("health": only statistics were kept);
    a repeated step gives its last capture's.
    `progress(done, total)` is called before each capture is read, if given.
    """
    infos = [reader.info(run, tag, step)] if step is not None else reader.tag_infos(run, tag)
    rows = []
    for done, info in enumerate(infos):
        if progress:
            progress(done, len(infos))
        numbers = dict(reader.stats(run, tag, info.step))
        del numbers["digest"]
        rows.append(
            dict(
                numbers,
                step=info.step,
                wall_time=info.wall_time,
                dtype=info.dtype,
                shape=list(info.shape),
                kind=info.kind,
            )
        )
    return {"run": run, "tag": tag, "steps": rows}


def value(reader, run, tag, step, slice_text="", max_cells=None, repeat=None):
    """A (sliced, maybe pooled) value: its facts, with the numpy array under "array".

    `repeat` chooses among several captures at the step (default: the last).
    With `max_cells`, a result larger than that is pooled (mean of blocks, in
    float64; "pooled" gives the block size per axis).
    """
    info = reader.info(run, tag, step, repeat)
    array, canonical = slicing.apply(reader.value(run, tag, step, info.repeat), slice_text)
    array, pooled = _bounded(array, max_cells)
    return {
        "run": run,
        "tag": tag,
        "step": step,
        "repeat": info.repeat,
        "captures_at_step": len(reader.step_captures(run, tag, step)),
        "source": info.source,
        "dtype": info.dtype if pooled is None else "float64",
        "full_shape": list(info.shape),
        "slice": canonical,
        "shape": list(array.shape),
        "pooled": pooled,
        "array": array,
    }


def histogram(reader, run, tag, step, bins=DEFAULT_BINS, slice_text=""):
    """The histogram of the finite elements of a (sliced) value (see `analysis.histogram`)."""
    array, _ = slicing.apply(reader.value(run, tag, step), slice_text)
    try:
        return dict(analysis.histogram(array, bins), run=run, tag=tag, step=step)
    except ValueError as e:
        raise InvalidQuestion(str(e)) from None


def histograms(reader, run, tag, bins=DEFAULT_BINS, max_steps=DEFAULT_HISTOGRAM_STEPS, slice_text=""):
    """A tag's histograms over its steps on common bin edges, downsampled to `max_steps` (`step_histograms`)."""
    try:
        return step_histograms.histograms(reader, run, tag, bins, max_steps, slice_text)
    except step_histograms.HistogramError as e:
        raise InvalidQuestion(str(e)) from None


def facets(reader, run, tag, step, slice_text, axis=None, steps=None, max_cells=DEFAULT_FACET_CELLS):
    """Small multiples of a slice along an axis or over steps, pooled to `max_cells` (`small_multiples`)."""
    try:
        return small_multiples.facets(reader, run, tag, step, slice_text, axis, steps, max_cells)
    except small_multiples.FacetError as e:
        raise InvalidQuestion(str(e)) from None


def tag_stats(reader, run=None):
    """{"runs": {run: per-tag statistics, columnar}, "complete"}: max |x|, NaN/Inf steps, std change (`tag_statistics`).

    From the statistics known so far (no value is read): "complete" is false
    while some tag's "checked" is below its "steps".
    """
    runs = {}
    for name in [run] if run is not None else reader.runs():
        try:
            summary = tag_statistics.summarize(reader.statistics_columns(name))
        except NotFoundError:
            if run is not None:
                raise
            continue  # gone since listed
        runs[name] = tag_statistics.columnar(summary)
    complete = all(c == s for r in runs.values() for c, s in zip(r["checked"], r["steps"]))
    return {"runs": runs, "complete": complete}


def lineage(reader, run, tag, step):
    """One capture's op, origin, inputs and consumers."""
    info = reader.info(run, tag, step)
    return {
        "run": run,
        "tag": tag,
        "step": step,
        "op": info.op["type"] if info.op else None,
        "origin": info.origin,
        "inputs": reader.inputs(run, tag, step),
        "consumers": reader.consumers(run, tag, step),
    }


# -- comparing captures and scanning runs ------------------------------------------


def diff(reader, a, b, slice_text="", rtol=DEFAULT_RTOL, atol=DEFAULT_ATOL, max_cells=None, with_values=True):
    """A - B for captures a = (run, tag, step) and b likewise.

    Returns {"a", "b" (run, tag, step, dtype and shape of each), "slice",
    "stats" (`analysis.diff`'s), "diff": {"dtype", "shape", "pooled",
    "array"}}. With ``with_values=False`` "diff" has no "array" and the
    difference is neither pooled nor limited in size: only its statistics
    are wanted.
    """
    info_a, info_b = reader.info(*a), reader.info(*b)
    if info_a.shape != info_b.shape:
        raise InvalidQuestion(
            "cannot diff shapes %s (%s) and %s (%s)" % (list(info_a.shape), _name(a), list(info_b.shape), _name(b))
        )
    value_a, canonical = slicing.apply(reader.value(*a), slice_text)
    value_b, _ = slicing.apply(reader.value(*b), slice_text)
    if with_values:
        _check_size(value_a, max_cells)  # before computing float64 temporaries of it
    try:
        delta, numbers = analysis.diff(value_a, value_b, rtol, atol)
    except ValueError as e:
        raise InvalidQuestion("cannot diff %s and %s: %s" % (_name(a), _name(b), e)) from None
    pooled = None
    if with_values:
        delta, pooled = _bounded(delta, max_cells)
    difference = {"dtype": str(delta.dtype), "shape": list(delta.shape), "pooled": pooled}
    if with_values:
        difference["array"] = delta
    return {"a": _side(info_a), "b": _side(info_b), "slice": canonical, "stats": numbers, "diff": difference}


def alerts(reader, run=None, progress=None, timeout=None):
    """Every capture holding NaN or Inf, in capture order, runs by name.

    Every capture on disk counts, repeats of a (tag, step) included: each
    alert names its `repeat` (see `reader.Reader.repeats`) and its source.

    Computes the statistics not known yet (`Reader.compute_stats`, which saves
    them for the next process), calling `progress(done, total)` as it goes.
    With `timeout` (seconds), answers from the statistics known when it is
    spent (`reader.progress()` says how many captures were checked) and
    leaves unreadable captures unchecked instead of raising. The earliest
    alert of each run has "first": True.
    """
    reader.compute_stats(run, progress, strict=timeout is None, timeout=timeout)
    found = []
    for run_name in [run] if run is not None else reader.runs():
        for position, info in enumerate(reader.nonfinite(run_name)):
            stats = info.stats
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
                    "first": position == 0,
                }
            )
    return found


def numeric_capture_count(reader, run=None):
    """How many captures `alerts` checks (every non-string capture, repeats included)."""
    return reader.count(run, numeric=True)


def divergence(reader, run, run2, rtol=DEFAULT_RTOL, atol=DEFAULT_ATOL, progress=None):
    """Where `run2` first parts from `run`, and how far each tag parts.

    Walks `run` by (step, capture order within the step), comparing each
    capture with the same tag and step in `run2`. Repeats pair in order: the
    k-th capture of (tag, step) in `run` with the k-th in `run2`; a capture
    with no partner counts in its tag's `unpaired`. Captures whose digests match
    are identical and are not re-read. `progress(done, total)` is called
    after each capture of `run` if given. The reply is documented in
    http_api.md (`/divergence`).
    """
    tags_a, tags_b = set(reader.tags(run)), set(reader.tags(run2))  # NotFoundError naming an unknown run
    captures = sorted(reader.captures(run), key=lambda i: (i.step, i.order))
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
    if "health" in (a.kind, b.kind):  # no values on one side: compare the statistics
        stats_b = reader.stats(b.run, b.tag, b.step, b.repeat)
        return dict(outcome, **health_records.compare_statistics(stats_a, stats_b, rtol, atol))
    if a.dtype == b.dtype and stats_a["digest"] == reader.stats(b.run, b.tag, b.step, b.repeat)["digest"]:
        finite = stats_a["numel"] - stats_a["nan"] - stats_a["posinf"] - stats_a["neginf"]
        return dict(outcome, nonfinite_mismatch=0, max_abs=0.0 if a.dtype != "string" and finite else None)
    _, stats = analysis.diff(
        reader.value(a.run, a.tag, a.step, a.repeat), reader.value(b.run, b.tag, b.step, b.repeat), rtol, atol
    )
    return dict(
        outcome, **{key: stats[key] for key in ("reason", "nonfinite_mismatch", "max_abs", "max_rel", "outside")}
    )


def health(reader, run, max_steps=DEFAULT_HEALTH_STEPS, max_tags=DEFAULT_HEALTH_TAGS):
    """The run's health overview, tags x steps, binned (`health_overview`; http_api.md, /health)."""
    return health_overview.overview(reader, run, max_steps, max_tags)


def root_cause(reader, run, step=None, inf=False):
    """The op that made the first NaN (NaN or Inf with `inf`) of `run` (the algorithm: `root_cause.py`)."""
    return root_cause_module.root_cause(reader, run, step, inf)


def _side(info):
    return {"run": info.run, "tag": info.tag, "step": info.step, "dtype": info.dtype, "shape": list(info.shape)}


def _name(capture):
    """RUN:TAG:STEP of a (run, tag, step)."""
    return ":".join("" if part is None else str(part) for part in capture)


def _bounded(array, max_cells):
    """Pools `array` to `max_cells`, refusing results too large to send."""
    _check_size(array, max_cells)
    if max_cells is None:
        return array, None
    return slicing.pool(array, max_cells)


def _check_size(array, max_cells):
    """Refuses a result of `array`'s size that would be too large to send."""
    limit = MAX_POOLED_ELEMENTS if max_cells else MAX_ELEMENTS
    if array.size > limit:
        raise InvalidQuestion(
            "the result has %d elements (shape %s), more than %d: slice it%s"
            % (array.size, list(array.shape), limit, "" if max_cells else " or set max_cells")
        )
