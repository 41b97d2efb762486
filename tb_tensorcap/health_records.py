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


def decode(tensor_proto, health):
    """The rows of one health record: [(tag, dtype, shape, stats, source, op)].

    `stats` has `analysis.tensor_stats`' keys; its "digest" is None (the
    value's bytes are unknown). Raises ValueError when the tensor does not
    hold the rows the metadata names.
    """
    values = np.asarray(codec.to_ndarray(tensor_proto), dtype=np.float64).reshape(-1)
    sources = health["sources"]
    width = len(metadata.HEALTH_FIELDS)
    rows, offset = [], 0
    ops = health.get("ops", [])
    for tag, dtype, rank, source_index, *op_index in health["rows"]:
        if dtype not in codec.SUPPORTED_DTYPES:
            raise ValueError("health record names an unknown dtype %r" % (dtype,))
        end = offset + width + rank
        if end > values.size:
            raise ValueError("health record holds %d numbers, its rows need more" % values.size)
        numbers = values[offset:end]
        offset = end
        shape = tuple(int(d) for d in numbers[width:])
        stats = {name: int(numbers[i]) for i, name in enumerate(_COUNTS)}
        for i, name in enumerate(_MOMENTS, len(_COUNTS)):
            number = float(numbers[i])
            stats[name] = None if math.isnan(number) else number
        stats["digest"] = None
        source = sources[source_index] if source_index >= 0 else None
        op = ops[op_index[0]] if op_index and op_index[0] >= 0 else None
        rows.append((tag, dtype, shape, stats, source, op))
    if offset != values.size:
        raise ValueError("health record holds %d numbers, its rows name %d" % (values.size, offset))
    return rows
