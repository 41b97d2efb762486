"""Reading health records back: one record's rows as per-capture statistics.

A health record (format in `metadata.py`) holds the statistics of many
captures of one step. The reader lists each row as a capture of its own tag
whose statistics are known and whose value is not; this module turns a
record's tensor and metadata into those rows. No TensorFlow needed.
"""

import math

import numpy as np

from tb_tensorcap import codec, metadata

_COUNTS = ("numel", "nan", "posinf", "neginf", "zeros")
_MOMENTS = ("min", "max", "mean", "std")


def statistics_only_message(run, tag, step):
    return (
        "step %s of tag %r in run %r was captured in health mode: only its statistics "
        "(%s) were kept, not its value. Capture it in full mode (record() without "
        "mode=\"health\"), or keep the values of the steps around a failure with "
        "tensorcap.FlightRecorder" % (step, tag, run, ", ".join(metadata.HEALTH_FIELDS))
    )


class RecordLayout:
    """Where each row of a health record sits in its tensor, from the record's metadata.

    A training step writes the same metadata at every step, so the reader
    builds this once per distinct metadata and then reads every record of it
    with a few numpy operations (`numbers`), not a Python object per row.

    Attributes:
      tags, dtypes, ranks: per row.
      sources: per row, the source dict (or None).
      lineages: per row, {"op": ...} and/or {"origin": ...} (metadata.py,
        "Lineage"), empty when the row carries none.
      total: how many numbers the record's tensor holds.

    Raises ValueError for a row naming an unknown dtype.
    """

    def __init__(self, health):
        sources, ops, origins = health["sources"], health.get("ops", []), health.get("origins", [])
        self.tags, self.dtypes, self.sources, self.lineages, ranks = [], [], [], [], []
        for tag, dtype, rank, source_index, *lineage_indices in health["rows"]:
            if dtype not in codec.SUPPORTED_DTYPES:
                raise ValueError("health record names an unknown dtype %r" % (dtype,))
            self.tags.append(tag)
            self.dtypes.append(dtype)
            ranks.append(rank)
            self.sources.append(sources[source_index] if source_index >= 0 else None)
            lineage = {}
            for key, index, items in zip(("op", "origin"), lineage_indices, (ops, origins)):
                if index >= 0:
                    lineage[key] = items[index]
            self.lineages.append(lineage)
        width = len(metadata.HEALTH_FIELDS)
        self.ranks = np.asarray(ranks, np.int64)
        starts = np.concatenate([[0], np.cumsum(width + self.ranks)])
        self.total = int(starts[-1])
        self._stat_index = starts[:-1, None] + np.arange(width)
        self._dim_index = np.concatenate(
            [np.arange(start + width, end) for start, end in zip(starts[:-1], starts[1:])] or [np.zeros(0, np.int64)]
        ).astype(np.int64)

    def numbers(self, tensor_proto):
        """(statistics, dims) of one record: float64 [rows, len(HEALTH_FIELDS)] and every row's dims, concatenated.

        Raises ValueError when the tensor does not hold the rows the metadata names.
        """
        values = np.asarray(codec.to_ndarray(tensor_proto), dtype=np.float64).reshape(-1)
        if values.size < self.total:
            raise ValueError("health record holds %d numbers, its rows need more" % values.size)
        if values.size != self.total:
            raise ValueError("health record holds %d numbers, its rows name %d" % (values.size, self.total))
        return values[self._stat_index], values[self._dim_index]

    def shapes(self, dims):
        """Each row's shape (a tuple of ints) from `numbers`' dims."""
        flat, shapes, offset = dims.astype(np.int64).tolist(), [], 0
        for rank in self.ranks.tolist():
            shapes.append(tuple(flat[offset : offset + rank]))
            offset += rank
        return shapes


def decode(tensor_proto, health):
    """The rows of one health record: [(tag, dtype, shape, stats, source, lineage)].

    `lineage` is {"op": ...} and/or {"origin": ...} (metadata.py, "Lineage"),
    empty when the row carries none.

    `stats` has `analysis.tensor_stats`' keys; its "digest" is None (the
    value's bytes are unknown). Raises ValueError when the tensor does not
    hold the rows the metadata names.
    """
    layout = RecordLayout(health)
    numbers, dims = layout.numbers(tensor_proto)
    rows = []
    for k, shape in enumerate(layout.shapes(dims)):
        row = numbers[k].tolist()
        stats = {name: int(row[i]) for i, name in enumerate(_COUNTS)}
        for i, name in enumerate(_MOMENTS, len(_COUNTS)):
            stats[name] = None if math.isnan(row[i]) else row[i]
        stats["digest"] = None
        rows.append((layout.tags[k], layout.dtypes[k], shape, stats, layout.sources[k], layout.lineages[k]))
    return rows


def compare_statistics(stats_a, stats_b, rtol, atol):
    """How two captures differ when at least one kept only statistics.

    Their values cannot be compared element by element, so this compares
    what both have: the NaN / +Inf / -Inf and zero counts, and the finite
    min, max, mean and std, each within ``atol + rtol * |b|``. Returns the
    fields of a divergence outcome: "reason" ("nonfinite" when the
    non-finite counts differ, "statistics" when a statistic is outside the
    tolerance, else None), "nonfinite_mismatch" (how far the non-finite
    counts differ: a lower bound on the positions that differ in
    finiteness), "max_abs" / "max_rel" over the four moments, "outside"
    (how many statistics are outside the tolerance) and "compared":
    "statistics".
    """
    mismatch = sum(abs(stats_a[k] - stats_b[k]) for k in ("nan", "posinf", "neginf"))
    outside, max_abs, max_rel = int(stats_a["zeros"] != stats_b["zeros"]), None, None
    for name in _MOMENTS:
        a, b = stats_a[name], stats_b[name]
        if a is None or b is None:
            outside += int((a is None) != (b is None))
            continue
        delta = abs(a - b)
        max_abs = delta if max_abs is None else max(max_abs, delta)
        if b:
            max_rel = max(max_rel or 0.0, delta / abs(b))
        outside += int(delta > atol + rtol * abs(b))
    reason = "nonfinite" if mismatch else ("statistics" if outside else None)
    return {
        "reason": reason,
        "nonfinite_mismatch": mismatch,
        "max_abs": max_abs,
        "max_rel": max_rel,
        "outside": outside,
        "compared": "statistics",
    }
