"""Health statistics of many tensors at once, computed where the tensors live.

Health mode (``record(..., mode="health")``, the flight recorder) keeps, for
each captured value, only the numbers `analysis.tensor_stats` gives for a full
capture: element count, NaN, +Inf, -Inf and zero counts, and min, max, mean
and std of the finite elements. They are computed by TensorFlow ops placed
beside each tensor (on its GPU for a GPU tensor: only the few numbers cross to
the host), for all of a step's tensors in one call, into one float64 vector
written as a single summary value (format in `metadata.py`, "health").

Layout of one row (one tensor): the `metadata.HEALTH_FIELDS` in order, then
the tensor's actual dimensions (its rank is in the record's metadata), so a
shape that is only partly known when a `tf.function` is traced is still
recorded exactly. A value with no finite element has NaN for min, max, mean
and std (the reader turns them into None, as `analysis` has them).

Where: a tensor in host memory (the CPU) is reduced by numpy on its own
buffer, without a copy (`host_stats`: numpy's reductions are SIMD and about 5x
faster than TensorFlow's or XLA's on CPU); a tensor on an accelerator by
TensorFlow ops placed on its device (`health_row`), so only the numbers
leave it.

Precision: float16, bfloat16 and float32 values are reduced in float32
(numpy's sums are pairwise), the other numeric types in float64; counts are
exact. The mean and std are two-pass (mean first, then the mean squared
deviation), so they match `analysis.tensor_stats` to float32 precision.
"""

import contextlib
import functools
import threading

import numpy as np
import tensorflow as tf

from tb_tensorcap import block_writer, capture_context, host_stats, metadata

_REDUCED_IN_FLOAT32 = frozenset([tf.float16, tf.bfloat16, tf.float32, tf.bool])


def row_length(rank):
    """Numbers in the row of a tensor of this rank."""
    return len(metadata.HEALTH_FIELDS) + rank


def health_row(tensor):
    """The float64 health row of one (eager or symbolic) tensor.

    Builds the ops beside `tensor` (same device); the result is a 1-D float64
    tensor of `row_length(rank)` numbers.
    """
    with _on_device(getattr(tensor, "device", "")):
        numel = tf.size(tensor, out_type=tf.int64)
        dims = tf.shape(tensor, out_type=tf.int64)
        if tensor.dtype == tf.string:
            zeros = tf.math.count_nonzero(tf.equal(tf.strings.length(tensor), 0), dtype=tf.int64)
            none = tf.zeros([], tf.int64)
            nan = tf.constant(float("nan"), tf.float64)
            head = tf.stack([tf.cast(v, tf.float64) for v in (numel, none, none, none, zeros)] + [nan] * 4)
        else:
            head = _numeric_head(tensor, numel)
        return tf.concat([head, tf.cast(dims, tf.float64)], axis=0)


def _on_device(device):
    """A device scope for a non-empty device name, else no scope."""
    return tf.device(device) if device else contextlib.nullcontext()


def _numeric_head(tensor, numel):
    """The `HEALTH_FIELDS` of a numeric tensor, float64 [9].

    Compiled with XLA where TensorFlow has it: XLA fuses the reductions into
    one or two passes over the tensor (about 4x faster than separate
    kernels on CPU), in a function of its own called from the step's graph.
    """
    if _xla_available():
        return _compiled_head(tensor)
    return _head_of(tensor, numel)


def _head_of(tensor, numel):
    """`_numeric_head` as plain ops.

    The sum decides the path: it is finite only when every element is (a NaN
    or an infinity makes it NaN or infinite), so a healthy tensor takes the
    short path of five reductions; otherwise (or when the sum overflows) the
    long path masks the non-finite elements out.
    """
    x = tensor
    if x.dtype.is_complex:
        x = tf.abs(x)  # |z|: NaN when a part is NaN, +Inf when a part is infinite
    work = tf.float32 if x.dtype in _REDUCED_IN_FLOAT32 else tf.float64
    x = tf.reshape(tf.cast(x, work), [-1])
    total = tf.reduce_sum(x)
    return tf.cond(tf.math.is_finite(total), lambda: _finite_head(x, numel, total), lambda: _masked_head(x, numel))


@tf.function(jit_compile=True, autograph=False, reduce_retracing=True)
def _compiled_head(tensor):
    return _head_of(tensor, tf.size(tensor, out_type=tf.int64))


_xla = {}


def _xla_available():
    """Whether XLA can compile `_compiled_head` here (checked once, eagerly, on a tiny value)."""
    if "ok" not in _xla:
        try:
            with tf.init_scope():
                _compiled_head(tf.constant([1.0, float("nan")]))
            _xla["ok"] = True
        except (tf.errors.OpError, ValueError, NotImplementedError):
            _xla["ok"] = False
    return _xla["ok"]


def _finite_head(x, numel, total):
    count = tf.cast(numel, x.dtype)
    mean = total / count
    squares = tf.reduce_sum(tf.math.squared_difference(x, mean))
    if x.dtype != tf.float64:  # squares past float32's range (elements near its largest): again in float64
        squares = tf.cond(
            tf.math.is_finite(squares), lambda: tf.cast(squares, tf.float64), lambda: _squares_in_float64(x)
        )
    std = tf.sqrt(squares / tf.cast(numel, tf.float64))
    zeros = tf.math.count_nonzero(x, dtype=tf.int64)
    moments = [tf.reduce_min(x), tf.reduce_max(x), mean, std]
    return _head([numel, _zero(), _zero(), _zero(), numel - zeros], moments, numel > 0)


def _squares_in_float64(x):
    wide = tf.cast(x, tf.float64)
    return tf.reduce_sum(tf.math.squared_difference(wide, tf.reduce_mean(wide)))


def _masked_head(x, numel):
    """The long path, reduced in float64: a non-finite element, or a float32 sum that overflowed."""
    x = tf.cast(x, tf.float64)
    finite = tf.math.is_finite(x)
    nan = tf.math.count_nonzero(tf.math.is_nan(x), dtype=tf.int64)
    posinf = tf.math.count_nonzero(tf.equal(x, float("inf")), dtype=tf.int64)
    neginf = tf.math.count_nonzero(tf.equal(x, float("-inf")), dtype=tf.int64)
    zeros = tf.math.count_nonzero(tf.equal(x, 0), dtype=tf.int64)
    count = numel - nan - posinf - neginf
    count_w = tf.cast(count, x.dtype)
    kept = tf.where(finite, x, tf.zeros_like(x))
    mean = tf.reduce_sum(kept) / count_w
    deviation = tf.where(finite, x - mean, tf.zeros_like(x))
    std = tf.sqrt(tf.reduce_sum(deviation * deviation) / count_w)
    lowest = tf.reduce_min(tf.where(finite, x, tf.fill(tf.shape(x), tf.constant(float("inf"), x.dtype))))
    highest = tf.reduce_max(tf.where(finite, x, tf.fill(tf.shape(x), tf.constant(float("-inf"), x.dtype))))
    return _head([numel, nan, posinf, neginf, zeros], [lowest, highest, mean, std], count > 0)


def _head(counts, moments, has_finite):
    """float64 [9]: the counts, then the moments (NaN when no element is finite)."""
    nan = tf.constant(float("nan"), tf.float64)
    moments = [tf.where(has_finite, tf.cast(v, tf.float64), nan) for v in moments]
    return tf.stack([tf.cast(v, tf.float64) for v in counts] + moments)


def _zero():
    return tf.zeros([], tf.int64)


def health_rows(tensors):
    """The concatenated health rows of `tensors` (graph or eager), float64 1-D."""
    if not tensors:
        return tf.zeros([0], tf.float64)
    return tf.concat([health_row(t) for t in tensors], axis=0)


def is_host_device(device):
    """Whether a tensor on `device` (a device name, "" when unplaced) lives in host memory.

    An unplaced tensor counts as on the host only when the process sees no
    accelerator (TensorFlow then places every op on the CPU).
    """
    if not device:
        return not _accelerators()
    return device.rsplit("device:", 1)[-1].upper().startswith("CPU")


@functools.lru_cache(maxsize=1)
def _accelerators():
    return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


def row_stats(specs, rows):
    """The statistics dict of each row of `rows`, in `specs` order ((tag, dtype, rank, ...) each)."""
    width, offset, found = len(metadata.HEALTH_FIELDS), 0, []
    for spec in specs:
        numbers = rows[offset : offset + width].tolist()
        offset += width + spec[2]
        found.append(
            {
                f: (int(x) if i < 5 else (None if x != x else x))
                for i, (f, x) in enumerate(zip(metadata.HEALTH_FIELDS, numbers))
            }
        )
    return found


def rows_nonfinite(rows, ranks):
    """Whether any row of `rows` (of tensors of these ranks) counts a NaN or an infinity."""
    if not len(ranks):
        return False
    width = len(metadata.HEALTH_FIELDS)
    starts = np.cumsum([0] + [width + r for r in ranks[:-1]])
    return bool(rows[starts + 1].any() or rows[starts + 2].any() or rows[starts + 3].any())


class BatchedStats:
    """Computes the health rows of a step's eager tensors: numpy on the host, one call per accelerator.

    Tensors in host memory are reduced by numpy on their own buffers, all
    in one `host_stats.host_rows` call (small ones together). For the tensors on each accelerator, one `tf.function` per
    device, retraced only when the list of dtypes and ranks changes (a
    training step repeats the same list, so it traces once); the ops run on
    the tensors' device and only the rows (a few dozen bytes per tensor) come
    back.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._functions = {}

    def rows(self, tensors):
        """float64 numpy vector: the rows of `tensors` in order."""

        if not tensors:
            return np.zeros([0], np.float64)
        by_device = {}
        for position, tensor in enumerate(tensors):
            by_device.setdefault(tensor.device, []).append(position)
        pieces = [None] * len(tensors)
        for device, positions in by_device.items():
            group = [tensors[p] for p in positions]
            if is_host_device(device):
                flat = host_stats.host_rows([t._numpy() for t in group])  # `_numpy()` shares the tensor's buffer
            else:
                flat = self._function(device)(group).numpy()
            if len(by_device) == 1:
                return flat
            offset = 0
            for p, tensor in zip(positions, group):
                length = row_length(tensor.shape.rank)
                pieces[p] = flat[offset : offset + length]
                offset += length
        return np.concatenate(pieces)

    def nonfinite(self, tensors):
        """Whether any of `tensors` holds a NaN or an infinity (a cheap check on the host)."""
        host = [t for t in tensors if is_host_device(t.device)]
        others = [t for t in tensors if not is_host_device(t.device)]
        if host and host_stats.host_nonfinite([t._numpy() for t in host]):
            return True
        return bool(others) and rows_nonfinite(self.rows(others), [t.shape.rank for t in others])

    def _function(self, device):
        with self._lock:
            function = self._functions.get(device)
            if function is None:
                function = self._functions[device] = tf.function(
                    _rows_on(device), reduce_retracing=True, autograph=False
                )
            return function


def _rows_on(device):
    def rows(tensors):
        with _on_device(device):
            return health_rows(tensors)

    return rows


class RecordSpecs:
    """Builds (and caches) the metadata naming a health record's rows.

    A training step repeats the same captures, so the same rows recur at
    every step: their metadata is built once. The cache is keyed by the
    rows' tags and holds the specs it was built from; a lookup compares the
    specs as they are (sources and lineage are dicts: one equality test in
    C, not a key built from them at every step).
    """

    def __init__(self, max_cached=256):
        self._cache = {}  # tuple of tags -> (specs, metadata)
        self._max_cached = max_cached

    def metadata(self, specs):
        """`SummaryMetadata` for `specs`: [(tag, dtype, rank, source dict or None[, lineage])].

        lineage: None, or {"op": ...} and/or {"origin": ...} (metadata.py, "Lineage").
        """
        key = tuple(spec[0] for spec in specs)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == specs:
            return cached[1]
        sources, ops, origins, rows, index_of = [], [], [], [], {}
        for spec in specs:
            tag, dtype, rank, source = spec[:4]
            lineage = _lineage(spec)
            rows.append(
                (
                    tag,
                    dtype,
                    rank,
                    _index(index_of, sources, ("source", _source_key(source)), source),
                    _index(index_of, ops, ("op", repr(lineage.get("op"))), lineage.get("op")),
                    _index(index_of, origins, ("origin", repr(lineage.get("origin"))), lineage.get("origin")),
                )
            )
        if len(self._cache) >= self._max_cached:
            self._cache.clear()
        built = metadata.create_health_metadata(rows, sources, ops, origins)
        self._cache[key] = (list(specs), built)
        return built


def _lineage(spec):
    return (spec[4] if len(spec) > 4 else None) or {}


def _index(index_of, items, key, item):
    """The index of `item` in `items` (appended once per key); -1 for None."""
    if item is None:
        return -1
    if key not in index_of:
        index_of[key] = len(items)
        items.append(item)
    return index_of[key]


def _source_key(source):
    return None if source is None else (source["file"], source["line"], source["function"])


def write_record(tag, metadata_proto, rows, step, writer):
    """Writes one health record: the float64 `rows` under `tag` at `step`.

    Encoded by hand (`codec.encode_summary_value`, the bytes ``tf.summary.write``
    would write) and queued to TensorCap's own event file of the writer's run
    (`direct_writer`: framed and written by its background thread, in order
    with the block's other writes); for a writer it cannot serve, written as
    one raw summary event by one op (`tf_internals.write_raw_summary`), not
    the half-dozen ops of a summary write at every step. Runs as TensorCap's
    own write (a `record()` block does not capture its ops);
    ``tf.summary.record_if(False)`` still suppresses it.
    """
    rows = np.ascontiguousarray(rows, np.float64)
    value = (tag, rows, tf.float64.as_datatype_enum, metadata_proto.SerializeToString(), step)
    with capture_context.writing():
        block_writer.write_arrays([value], writer)
