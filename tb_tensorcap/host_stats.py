"""Health rows of arrays in host memory, computed by numpy on their own buffers.

The same numbers as `health.health_row` (the TensorFlow kernel an
accelerator's tensors get), in the same layout: the `metadata.HEALTH_FIELDS`,
then the dimensions. numpy's reductions are SIMD and about 5x faster than
TensorFlow's or XLA's on a CPU, and they read a tensor's buffer in place
(``EagerTensor._numpy()`` shares it), so nothing is copied.

A training step has a few large tensors (activations and their gradients)
and many small ones (biases, shapes, scalars, the loss). Per tensor a row
costs a dozen numpy calls; for a small tensor their fixed cost, not the
data, is the price. So the small ones are reduced together: concatenated
in float64 and reduced by segment (`np.ufunc.reduceat`), a dozen calls for
all of them. A small tensor with a NaN, an infinity or a sum out of
range takes the one-by-one path, which masks those elements out. Tensors
that share their bytes (TensorFlow's Reshape and Identity outputs are views
of their input's buffer) are reduced once.

Precision: one by one, float16, bfloat16 and float32 values are reduced in
float32 (numpy's sums are pairwise), the other numeric types in float64;
small tensors together in float64. Counts are exact. The mean and std are
two-pass (mean first, then the mean squared deviation), so they match
`analysis.tensor_stats` to float32 precision. A float32 sum or sum of
squares that overflows (finite elements near float32's largest) is redone
in float64, as `analysis.tensor_stats` works.
"""

import threading

import numpy as np

from tb_tensorcap import metadata

_WIDTH = len(metadata.HEALTH_FIELDS)

# Tensors of at most this many elements are reduced together (the module docstring).
SMALL = 1 << 12

# The dtypes the together path takes (float64 holds each of their values).
_TOGETHER = frozenset(
    np.dtype(t)
    for t in (np.float16, np.float32, np.float64, np.bool_, np.int8, np.int16, np.int32, np.uint8, np.uint16)
    + (np.uint32, np.int64, np.uint64)
)

_WORK = {np.dtype(np.float32): np.float32, np.dtype(np.float64): np.float64, np.dtype(np.float16): np.float32}

# The deviation pass writes into a scratch buffer reused per thread, at most this many elements at a
# time: a fresh temporary the size of each large tensor would page-fault its memory in at every step.
_CHUNK = 1 << 20
_scratch = threading.local()


def host_rows(arrays):
    """The concatenated health rows of numpy `arrays`, float64 1-D."""
    arrays = [np.asarray(a) for a in arrays]
    ends = np.cumsum([_WIDTH + a.ndim for a in arrays], dtype=np.int64)
    out = np.empty(int(ends[-1]) if arrays else 0, np.float64)
    together = [i for i, a in enumerate(arrays) if 0 < a.size <= SMALL and a.dtype in _TOGETHER]
    alone = set(range(len(arrays))) - set(together)
    with np.errstate(all="ignore"):  # an overflowing sum or inf - inf is expected: the masked path handles it
        if together:
            alone.update(_rows_together(arrays, together, ends, out))
        done = {}  # (buffer address, dtype, size) of a C-contiguous array -> where its row starts
        for i in sorted(alone):
            array = arrays[i]
            start = ends[i] - _WIDTH - array.ndim
            buffer = (array.__array_interface__["data"][0], array.dtype, array.size)
            if buffer in done and array.flags.c_contiguous:  # a view of the same bytes (Reshape, Identity)
                out[start : start + _WIDTH] = out[done[buffer] : done[buffer] + _WIDTH]
                out[start + _WIDTH : ends[i]] = array.shape
                continue
            host_row(array, out[start : ends[i]])
            if array.flags.c_contiguous:
                done[buffer] = start
    return out


def _rows_together(arrays, indices, ends, out):
    """Writes the rows of the small `arrays[indices]` into `out`, reduced by segment of one float64 vector.

    Returns the indices whose sum or sum of squares was not finite (a NaN,
    an infinity, or out of range): the caller computes them one by one.
    """
    group = [arrays[i] for i in indices]
    flat = np.concatenate([a.reshape(-1) for a in group], dtype=np.float64)
    sizes = np.fromiter((a.size for a in group), np.int64, len(group))
    starts = np.zeros_like(sizes)
    np.cumsum(sizes[:-1], out=starts[1:])
    totals = np.add.reduceat(flat, starts)
    means = totals / sizes
    deviation = flat - np.repeat(means, sizes)
    np.square(deviation, out=deviation)
    squares = np.add.reduceat(deviation, starts)
    head = np.empty((len(group), _WIDTH), np.float64)
    head[:, 0] = sizes
    head[:, 1:4] = 0
    head[:, 4] = np.add.reduceat(flat == 0, starts, dtype=np.int64)
    head[:, 5] = np.minimum.reduceat(flat, starts)
    head[:, 6] = np.maximum.reduceat(flat, starts)
    head[:, 7] = means
    head[:, 8] = np.sqrt(squares / sizes)
    finite = np.isfinite(totals) & np.isfinite(squares)
    redo = []
    for k, i in enumerate(indices):
        if not finite[k]:
            redo.append(i)
            continue
        start = ends[i] - _WIDTH - group[k].ndim
        out[start : start + _WIDTH] = head[k]
        out[start + _WIDTH : ends[i]] = group[k].shape
    return redo


def host_row(array, out):
    """Writes the health row of a numpy `array` into float64 `out`, on its own."""
    out[_WIDTH:] = array.shape
    numel = array.size
    if array.dtype == object:  # strings: only the count and the empty ones
        out[:_WIDTH] = (numel, 0, 0, 0, sum(1 for v in array.flat if not len(v))) + (np.nan,) * 4
        return
    x = _host_work(array.reshape(-1))
    total = np.add.reduce(x)  # the ufuncs' methods directly: no wrapper per call, a dozen calls per tensor
    if np.isfinite(total):  # every element is finite: the short path
        counts = (numel, 0, 0, 0, np.count_nonzero(x == 0))
        moments = _moments(x, total) if numel else (np.nan,) * 4
    else:  # some element is not finite, or the sum overflowed
        nan = np.count_nonzero(np.isnan(x))
        posinf = np.count_nonzero(x == np.inf)
        neginf = np.count_nonzero(x == -np.inf)
        counts = (numel, nan, posinf, neginf, np.count_nonzero(x == 0))
        kept = x[np.isfinite(x)] if nan + posinf + neginf else x
        moments = _moments(kept, kept.sum()) if kept.size else (np.nan,) * 4
    out[:_WIDTH] = counts + moments


def _moments(x, total):
    """(min, max, mean, std) of `x`, finite elements whose sum is `total`.

    Redone in float64 when a float32 sum or sum of squares overflows.
    """
    if np.isfinite(total):
        mean = float(total) / x.size
        squares = _squared_deviations(x, x.dtype.type(mean))
        if np.isfinite(squares) or x.dtype == np.float64:
            return (np.minimum.reduce(x), np.maximum.reduce(x), mean, np.sqrt(squares / x.size))
    if x.dtype == np.float64:  # beyond float64's range too (elements near 1e308): reported as infinite
        return (x.min(), x.max(), float(total) / x.size, np.inf)
    wide = x.astype(np.float64)
    return _moments(wide, wide.sum())


def _squared_deviations(x, mean):
    """The sum of (x - mean)**2 (a Python float), through this thread's scratch buffer."""
    buffers = getattr(_scratch, "buffers", None)
    if buffers is None:
        buffers = _scratch.buffers = {}
    scratch = buffers.get(x.dtype)
    if scratch is None or scratch.size < min(x.size, _CHUNK):
        scratch = buffers[x.dtype] = np.empty(min(max(x.size, 1 << 16), _CHUNK), x.dtype)
    total = 0.0
    for start in range(0, x.size, _CHUNK):
        part = x[start : start + _CHUNK]
        deviation = scratch[: part.size]
        np.subtract(part, mean, out=deviation)
        np.square(deviation, out=deviation)
        total += float(np.add.reduce(deviation))
    return total


def _host_work(flat):
    """`flat` as the float type it is reduced in (a view when it already is one)."""
    if flat.dtype.kind == "c":
        flat = np.abs(flat)
    work = _WORK.get(flat.dtype)
    if work is None:
        work = np.float32 if flat.dtype == np.bool_ or flat.dtype.name == "bfloat16" else np.float64
    return flat if flat.dtype == work else flat.astype(work)


def host_nonfinite(arrays):
    """Whether any of numpy `arrays` holds a NaN or an infinity.

    One dot product of each array with itself: a NaN makes it NaN and an
    infinity infinite, so a finite result means every element is finite;
    BLAS's dot reads the array once at about twice the speed of numpy's
    pairwise sum. Only when it is not finite (or squares of finite elements
    overflow) are the elements checked one by one.
    """
    for array in arrays:
        array = np.asarray(array)
        if array.dtype == object or array.dtype.kind in "biu":
            continue
        x = _host_work(array.reshape(-1))
        with np.errstate(all="ignore"):  # an overflowing dot is expected: isfinite decides then
            if not np.isfinite(np.dot(x, x)) and not np.isfinite(x).all():
                return True
    return False
