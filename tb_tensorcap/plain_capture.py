"""Capturing without TensorFlow: `capture()`, `Capturer`, `flush()` for numpy, JAX, PyTorch.

Where TensorFlow is not importable, `tensorcap.capture` and friends are the
ones here. They accept anything `arrays.to_numpy` converts (numpy arrays,
bfloat16 through ml_dtypes, Python values, ``__array__`` / ``__dlpack__``
objects: JAX arrays, PyTorch tensors on CPU or GPU) and write the events
``tf.summary.write`` would, through TensorBoard's own writer
(`event_writer.Writer`). The rules are those of the TensorFlow path
(`summary.py`), with `tensorcap.Writer` in the place of a ``tf.summary``
writer:

* Step: the explicit ``step`` argument; else the step of the innermost
  ``writer.as_default(step=...)`` block; else a per-name counter: the n-th
  capture of a tag is step n (from 0), counted with the TensorFlow path's.
* Writer: the explicit ``writer`` argument; else the innermost
  ``writer.as_default()`` block's; else, in a program that also captures
  through TensorFlow (`summary` is loaded), the TensorFlow path's rules (the
  active ``tf.summary`` writer, else TensorCap's own); else TensorCap's own
  writer (`event_writer.default_writer`), in the process's default run.
* Source: the innermost frame outside TensorCap and the array libraries.
* `Capturer` blocks share one stack per thread with the TensorFlow path's
  (`capture_core`, which holds every rule both paths share).
* Values larger than ``metadata.CHUNK_BYTES`` are written in chunks
  (`metadata.py`).

What needs TensorFlow: `record()` (automatic capture of every op),
``tf.function`` graphs, Keras callbacks and ``tf.distribute`` replicas.
A value being traced (inside ``jax.jit`` or ``jax.grad``) has no numbers to
capture; ``jax.debug.callback`` hands them over at run time (see the README).
"""

import sys

import numpy as np

from tb_tensorcap import capture_core, event_writer, metadata


def capture(value, name, step=None, *, description=None, writer=None, axes=None):
    """Writes `value` as the capture `name` and returns `value` unchanged.

    Args:
      value: a numpy array or scalar, a Python scalar, string or nested list,
        or any object with ``__array__`` or ``__dlpack__``.
      name: the tag; the prefixes of active `Capturer` blocks are prepended.
      step: the step to record at (see the module docstring for defaults).
      description: free text shown with the capture in the TensorCap tab.
      writer: a `tensorcap.Writer` to use instead of the default.
      axes: names of the value's axes ("NHWC" or a list), for the tab.

    Raises:
      TypeError, ValueError: `value` or `name` cannot be captured; nothing was
        written.
      OSError: the writer cannot write.
    """
    innermost = capture_core.innermost_capturer()
    if innermost is not None:
        return innermost.capture(value, name, step, description=description, writer=writer, axes=axes)
    write(value, capture_core.check_name(name), step, description, writer, capture_core.source_location(), axes)
    return value


def flush():
    """Flushes every writer TensorCap has written captures to."""
    for writer in list(_used_writers):
        writer.flush()


def default_logdir():
    """The directory TensorCap's own writer writes to (it may not exist yet)."""
    return event_writer.default_writer.logdir


class Capturer(capture_core.Capturer):
    """A scope that names captures under a prefix and keeps their values (`capture_core.Capturer`).

    As `tensorcap.Capturer` with TensorFlow, and on the same per-thread
    stack of blocks; `writer` is a `tensorcap.Writer`.
    """

    def _write(self, value, tag, step, description, writer, source, axes):
        write(value, tag, step, description, writer, source, axes)


def write(value, tag, step, description, writer, source, axes=None):
    """Converts `value` (or raises, writing nothing), then writes it, in chunks if large."""
    if writer is not None and not isinstance(writer, event_writer.Writer):
        raise TypeError(
            "cannot capture %r: writer must be a tensorcap.Writer, not %s (tf.summary writers need "
            "TensorFlow)" % (tag, type(writer).__name__)
        )
    default, default_step = event_writer.active()
    tensorflow_path = sys.modules.get("tb_tensorcap.summary") if writer is None and default is None else None
    if tensorflow_path is not None:
        # The program captures through TensorFlow too: its writer rules (the active tf.summary
        # writer) then apply to every capture without a tensorcap.Writer, as for tensorcap.capture.
        tensorflow_path.write(value, tag, step, description, None, source, axes=axes)
        return
    array = capture_core.to_numpy(value, tag)
    axes = metadata.check_axes(axes, array.ndim, tag)
    plan = chunk_plan(array)
    writer = writer or default or event_writer.default_writer.get()
    if step is None:
        step = default_step
    step = capture_core.step_counters.next_step(tag) if step is None else _check_step(step, tag)
    _used_writers.add(writer)
    if plan is None:
        writer.write(tag, array, step, _metadata(source, description, axes))
        return
    flat = array.reshape(-1)
    shape = list(array.shape)
    dtype = "string" if array.dtype == object else array.dtype.name
    for index, (start, stop) in enumerate(plan):
        chunk = {"index": index, "count": len(plan), "dtype": dtype, "shape": shape}
        writer.write(
            tag, flat[start:stop], step, metadata.create_summary_metadata(source, description, chunk, axes=axes)
        )


def _check_step(step, tag):
    """`step` as a Python int (numpy and JAX integer scalars included)."""
    try:
        item = np.asarray(step).item() if not isinstance(step, int) else step
    except (TypeError, ValueError):
        item = None
    if isinstance(item, bool) or not isinstance(item, int):
        raise TypeError("cannot capture %r: step must be an integer, got %r" % (tag, step))
    return item


def chunk_plan(array):
    """None if `array` fits one event, else the flat (start, stop) of each chunk (`metadata.chunk_bounds`)."""
    if array.dtype == object:
        return metadata.chunk_bounds(np.fromiter((len(s) + 8 for s in array.flat), np.int64, array.size))
    if array.size * array.dtype.itemsize <= metadata.CHUNK_BYTES:
        return None
    return metadata.chunk_bounds(np.full(array.size, array.dtype.itemsize, np.int64))


_metadata_cache = {}


def _metadata(source, description, axes=None):
    """The SummaryMetadata of an unchunked capture, one per call site, description and axes."""
    key = (source["file"], source["line"], source["function"], description, tuple(axes) if axes else None)
    cached = _metadata_cache.get(key)
    if cached is None:
        cached = _metadata_cache[key] = metadata.create_summary_metadata(source, description, axes=axes)
    return cached


_used_writers = set()  # writers are few and flushed at exit: hold them
