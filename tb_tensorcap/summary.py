"""Capturing tensors: `capture()`, `Capturer`, `flush()`.

A capture is written as a TensorBoard summary event (format in
`metadata.py`): eagerly, for a ``tf.summary`` file writer on a local logdir,
to TensorCap's own event file in that run directory, framed from the
tensor's buffer and written by a background thread (`direct_writer`;
``flush()`` and the writer's own ``flush()`` wait for it); otherwise (inside
`tf.function`, other writers: `direct_writer` says which) through
``tf.summary.write``. This module needs TensorFlow; everything that reads
captures back does not.

Rules, in order of precedence:

* Step: the explicit ``step`` argument; else TensorFlow's current summary step
  (``tf.summary.experimental.set_step`` / ``writer.as_default(step=...)``);
  else a per-name counter: the n-th capture of a tag is step n (from 0).
* Writer: the explicit ``writer`` argument; else the active default
  ``tf.summary`` writer (captures join the user's run); else a writer TensorCap
  creates on first use at ``$TENSORCAP_LOGDIR`` or ``runs/<YYYYmmdd-HHMMSS>``,
  announced once on stderr, flushed every ``$TENSORCAP_FLUSH_SECS`` seconds
  (default 5) and at interpreter exit. When ``TF_CONFIG`` describes a cluster
  of several tasks (MultiWorkerMirroredStrategy), that writer writes to the
  subdirectory ``<task type>_<index>`` (``worker_1``): one run per worker.
* A `tensorcap.Writer` (explicit, or from its ``as_default()`` block, which
  then wins over the default ``tf.summary`` writer) sends the capture down the
  TensorFlow-free path (`plain_capture.write`), with that path's step rules;
  eagerly only.
* tf.distribute: inside ``strategy.run`` on a worker that runs several
  replicas, tags start with ``replica_<k>/`` (k: ``replica_id_in_sync_group``)
  and every replica writes (TensorFlow's summaries record replica 0 only).
* ``tf.summary.record_if(False)`` turns captures off like any summary.

`write()` is the one path every capture takes to disk (`record()`, the Keras
callback and `capture_gradients` use it too).
"""

import warnings

import numpy as np
import tensorflow as tf

from tb_tensorcap import (
    capture_context,
    capture_core,
    capture_values,
    direct_writer,
    event_writer,
    metadata,
    plain_capture,
    tf_internals,
    writers,
)


def capture(value, name, step=None, *, description=None, writer=None, axes=None):
    """Writes `value` as the capture `name` and returns `value` unchanged.

    Args:
      value: an EagerTensor (or symbolic tensor inside `tf.function`), a
        `tf.Variable`, a numpy array, a Python scalar or nested list, a
        string, or any object with `__array__`.
      name: the tag; the prefixes of active `Capturer` blocks are prepended.
      step: the step to record at (see the module docstring for defaults).
      description: free text shown with the capture in the TensorCap tab.
      writer: a `tf.summary` writer or a `tensorcap.Writer` to use instead of
        the default.
      axes: names of the value's axes, one letter each ("NHWC") or a list of
        names; the tab labels its sliders with them.

    Returns:
      `value`, the same object, so that `capture` can wrap an expression.

    Raises:
      TypeError, ValueError: `value` or `name` cannot be captured; nothing was
        written.
    """
    innermost = capture_core.innermost_capturer()
    if innermost is not None:
        return innermost.capture(value, name, step, description=description, writer=writer, axes=axes)
    write(value, capture_core.check_name(name), step, description, writer, capture_context.source_location(), axes=axes)
    return value


def flush():
    """Flushes every writer TensorCap has written captures to (TensorCap's own event files first)."""
    direct_writer.flush_all()
    writers.flush_all()
    plain_capture.flush()


def default_logdir():
    """The directory TensorCap's own writer writes to (it may not exist yet)."""
    return writers.default_writer.logdir


class Capturer(capture_core.Capturer):
    """A scope that names captures under a prefix and keeps their values (`capture_core.Capturer`).

    With TensorFlow: `writer` may be a ``tf.summary`` writer or a
    `tensorcap.Writer`, and values may be tensors, variables or anything
    `capture()` takes. Its blocks share one stack with the TensorFlow-free
    `plain_capture.Capturer`.
    """

    _source_location = staticmethod(capture_context.source_location)

    def _write(self, value, tag, step, description, writer, source, axes):
        write(value, tag, step, description, writer, source, axes=axes)


def write(value, tag, step, description, writer, source, lineage_facts=None, axes=None):
    """Validates `value`, then writes it (in chunks if large) under `tag`.

    The one write path of every capture. Under `tf.distribute` the replica's
    prefix is added to `tag`. The ops it runs are marked as TensorCap's own
    (`capture_context.writing`), so `record()` skips them.

    Args:
      value: anything `capture()` takes.
      tag: the full tag, prefixes included (not the replica prefix).
      step: the step, or None for the module's step rules.
      description: free text, or None.
      writer: a `tf.summary` writer or a `tensorcap.Writer`, or None for the
        module's writer rules.
      source: the capture site, as from `capture_context.source_location()`.
      lineage_facts: `record()`'s {"op": ...} / {"origin": ...} (metadata.py, "Lineage").
      axes: the value's axis names (see `metadata.check_axes`), or None.
    """
    tag = capture_context.replica_prefix() + tag
    plain_writer = writer if isinstance(writer, event_writer.Writer) else None
    if writer is None:
        plain_writer, _ = event_writer.active()
    with capture_context.writing():
        if plain_writer is None:
            _validate_and_write(value, tag, step, description, writer, source, lineage_facts or {}, axes)
        elif not tf.executing_eagerly():
            raise TypeError(
                "cannot capture %r inside tf.function with a tensorcap.Writer (it writes from Python, "
                "once, at trace time): use a tf.summary writer there" % tag
            )
        else:
            plain_capture.write(value, tag, step, description, plain_writer, source, axes)


_warned_frozen = set()  # tags already warned about


def _warn_if_frozen(step, tag, source):
    """Warns, once per tag, that the summary step inside a `tf.function` is a constant of the trace.

    A Python int (or an eager tensor) given to `tf.summary.experimental.set_step`
    is copied into the graph when the function is traced, so every later call
    writes at that step. A `tf.Variable` (or a tensor of the graph) is read on
    each call.
    """
    if isinstance(step, tf.Variable) or (tf.is_tensor(step) and not hasattr(step, "numpy")):
        return
    if tag in _warned_frozen:
        return
    _warned_frozen.add(tag)
    value = int(np.asarray(step))
    warnings.warn_explicit(
        "tensorcap.capture(%r) inside tf.function: the summary step is the Python value %d, frozen into the graph "
        "when the function was traced, so every call writes at step %d (all are kept, as repeats of that step). "
        "Use a tf.Variable step (step = tf.Variable(0, dtype=tf.int64); tf.summary.experimental.set_step(step); "
        "step.assign(i) each iteration), or set no step so that TensorCap counts the calls of this capture. "
        "(Warned once per capture.)" % (tag, value, value),
        RuntimeWarning,
        source["file"],
        source["line"],
    )


def _validate_and_write(value, tag, step, description, writer, source, lineage_facts, axes):
    if not tf.executing_eagerly() and tf_internals.in_xla_context():
        raise ValueError(
            "cannot capture %r inside an XLA-compiled function (jit_compile=True): XLA has no "
            "summary ops. Capture the function's inputs or outputs outside it, or run it with "
            "jit_compile=False while debugging" % tag
        )
    tensor = capture_values.to_tensor(value, tag)
    plan, checks = capture_values.chunk_plan(tensor, tag)
    axes = metadata.check_axes(axes, tensor.shape.rank, tag)
    writer = writers.use(writer if writer is not None else writers.active_or_default())
    # Inside tf.function, nothing (step counter, write) may run before the
    # size check has passed; eagerly `checks` is empty.
    with tf.control_dependencies(checks), tf_internals.writer_as_default(writer):
        if step is None:
            step = tf.summary.experimental.get_step()
            if step is not None and not tf.executing_eagerly():
                _warn_if_frozen(step, tag, source)
        if step is None:
            step = capture_context.step_counters.next_step(tag)
        if plan is None:
            if lineage_facts:
                metadata_bytes = metadata.create_summary_metadata(source, description, axes=axes, **lineage_facts)
            else:
                metadata_bytes = capture_context.serialized_metadata(source, description, axes)
            parts = [(None, metadata_bytes)]
        else:
            dtype, shape = tensor.dtype.name, tensor.shape.as_list()
            parts = []
            for index, bounds in enumerate(plan):
                chunk = {"index": index, "count": len(plan), "dtype": dtype, "shape": shape}
                parts.append(
                    (bounds, metadata.create_summary_metadata(source, description, chunk, axes=axes, **lineage_facts))
                )
        direct = direct_writer.for_summary_writer(writer) if tf.executing_eagerly() else None
        if direct is not None:
            if tf_internals.user_records_now():
                _write_direct(direct, writer, tag, tensor, step, parts)
            return
        flat = tf.reshape(tensor, [-1]) if plan is not None else None
        for bounds, part_metadata in parts:
            part = tensor if bounds is None else flat[bounds[0] : bounds[1]]
            tf.summary.write(tag, part, step=step, metadata=part_metadata)


def _write_direct(direct, writer, tag, tensor, step, parts):
    """Queues an eager capture to `direct_writer`: `parts` [(flat (start, stop) or None, metadata)], an event each."""
    array = np.asarray(tensor._numpy(), dtype=object if tensor.dtype == tf.string else None)
    batch = direct_writer.EventBatch(int(np.asarray(step)))
    for bounds, part_metadata in parts:
        if not isinstance(part_metadata, bytes):
            part_metadata = part_metadata.SerializeToString()
        part = array if bounds is None else array.reshape(-1)[bounds[0] : bounds[1]]
        batch.add(tag, part, tensor.dtype.as_datatype_enum, part_metadata)
    direct.write(batch.finish(), writer)
