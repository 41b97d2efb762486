"""Captures as a pandas DataFrame: one row of statistics per capture.

`Reader.stats_frame()` is built here, like tbparse's frames of scalars: a
tidy table to group, filter and plot in a notebook. pandas is optional; it is
imported only here, and its absence is a clear ImportError naming it.

Statistics are `analysis.tensor_stats` (through `Reader.stats`, cached), so
they match the tab and the `tensorcap` command: min / max / mean / std over
the finite elements (NaN where a value has none, and for strings), and the
counts of NaN, +Inf, -Inf and zeros. Every capture is a row: several
captures at one (run, tag, step) are told apart by `repeat` (0, 1, ...). `kind` tells captures whose value was
kept ("full") from health-mode ones, which kept only these statistics.
"""

from tb_tensorcap import reader as reader_module

COLUMNS = (
    "run",
    "tag",
    "step",
    "repeat",
    "wall_time",
    "dtype",
    "shape",
    "numel",
    "min",
    "max",
    "mean",
    "std",
    "nan",
    "posinf",
    "neginf",
    "zeros",
    "kind",
)
_INTEGER_COLUMNS = ("step", "repeat", "numel", "nan", "posinf", "neginf", "zeros")
_FLOAT_COLUMNS = ("wall_time", "min", "max", "mean", "std")


def stats_frame(reader, run=None, tags=None):
    """A DataFrame of every capture's statistics (see `Reader.stats_frame`)."""
    pandas = _import_pandas()
    runs = _selection(run, reader.runs(), "run")
    wanted = None if tags is None else set(_selection(tags, None, "tag"))
    if wanted is not None:
        missing = wanted - {tag for r in runs for tag in reader.tags(r)}
        if missing:
            raise reader_module.NotFoundError(
                "no tag %s in run%s %s"
                % (", ".join(map(repr, sorted(missing))), "" if len(runs) == 1 else "s", ", ".join(map(repr, runs)))
            )
    rows = []
    for name in runs:
        for info in reader.captures(name):
            if wanted is not None and info.tag not in wanted:
                continue
            stats = reader.stats(info.run, info.tag, info.step, info.repeat)
            rows.append(
                (
                    info.run,
                    info.tag,
                    info.step,
                    info.repeat,
                    info.wall_time,
                    info.dtype,
                    tuple(info.shape),
                    stats["numel"],
                    _float(stats["min"]),
                    _float(stats["max"]),
                    _float(stats["mean"]),
                    _float(stats["std"]),
                    stats["nan"],
                    stats["posinf"],
                    stats["neginf"],
                    stats["zeros"],
                    info.kind,
                )
            )
    frame = pandas.DataFrame.from_records(rows, columns=list(COLUMNS))
    frame = frame.astype({**{c: "int64" for c in _INTEGER_COLUMNS}, **{c: "float64" for c in _FLOAT_COLUMNS}})
    return frame.sort_values(["run", "tag", "step", "repeat"], kind="stable", ignore_index=True)


def _selection(value, known, what):
    """A str or an iterable of str as a list; each must be in `known` (unless None)."""
    names = [value] if isinstance(value, str) else list(value) if value is not None else list(known)
    if not all(isinstance(n, str) for n in names):
        raise TypeError("%ss must be strings, got %r" % (what, value))
    if known is not None:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise reader_module.NotFoundError(
                "no %s %s (runs: %s)" % (what, ", ".join(map(repr, unknown)), ", ".join(map(repr, known)) or "none")
            )
    return names


def _float(x):
    return float("nan") if x is None else x


def _import_pandas():
    try:
        import pandas
    except ImportError as e:
        raise ImportError(
            "Reader.stats_frame needs pandas, which is not installed (pip install pandas): %s" % e
        ) from None
    return pandas
