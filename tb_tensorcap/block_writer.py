"""How a `record()` block writes eager values: kept by reference, written as a few events per step.

Values are not copied when captured: a block keeps a reference to each
output and writes them together, as one summary event per step (more when
an event would pass `direct_writer.EVENT_BYTES` or hold a tag twice), built
around the tensors' own bytes (`codec.encode_summary_value`): at block exit,
before a nested block starts, and whenever FLUSH_BYTES are pending.

Where the writer is a ``tf.summary`` file writer on a local logdir,
`direct_writer` frames the events and appends them, from a background
thread, to TensorCap's own event file in that run directory; otherwise
(module docstring of `direct_writer`) they go through TensorFlow's event
writer as raw summaries. A value over DIRECT_BYTES is written on its own by
`summary.write` (split into chunks if needed). Either way
``tf.summary.record_if(False)`` suppresses the writing.
"""

import numpy as np
import tensorflow as tf

from tb_tensorcap import capture_context, codec, direct_writer, lineage, summary, tf_internals

# Buffered values are written when they reach this many bytes; one value
# larger than DIRECT_BYTES is written on its own (chunked by `summary`).
FLUSH_BYTES = 64 << 20
DIRECT_BYTES = 16 << 20


class PendingValues:
    """The eager values a block captured and has not written yet, in capture order."""

    def __init__(self):
        self._items = []  # (tag without the replica prefix, tensor, serialized metadata, step)
        self._bytes = 0

    def add(self, tag, tensor, metadata_bytes, nbytes, step):
        """Keeps one value of `nbytes` to write at `step`; True when FLUSH_BYTES are pending (time to `write`)."""
        self._items.append((tag, tensor, metadata_bytes, step))
        self._bytes += nbytes
        return self._bytes >= FLUSH_BYTES

    def write(self, writer, replica):
        """Writes the pending values (tags prefixed with `replica`) to `writer`, in order.

        Raises the OSError of an earlier failed write to `writer`'s run
        (`direct_writer`), even when nothing is pending.
        """
        direct = direct_writer.for_summary_writer(writer)
        if direct is not None:
            direct.check()
        if not self._items:
            return
        items, self._items, self._bytes = self._items, [], 0
        with capture_context.writing():
            _write([(replica + tag, tensor, metadata, step) for tag, tensor, metadata, step in items], writer)


def write_full(items, step, writer, replica):
    """Writes [(tag, tensor, source, description, lineage)] (tags with the `replica` prefix) in full at `step`.

    The flight recorder's path: a health block's kept values, written when a
    NaN appears. Returns once they are on disk (in the kernel's hands: the
    process may be killed next), with everything written to `writer` before.
    """
    values = []
    with capture_context.writing():
        for tag, tensor, source, description, facts in items:
            if nbytes(tensor) > DIRECT_BYTES:  # chunked if needed; `write` adds this thread's replica prefix again
                _write(values, writer)
                values = []
                summary.write(tensor, tag[len(replica) :], step, description, writer, source, facts)
                continue
            values.append((tag, tensor, lineage.serialized_metadata(source, description, facts), step))
        _write(values, writer)
    writer.flush()  # TensorCap's own file first (`direct_writer` hooks the writer's flush)


def _write(values, writer):
    """Writes [(full tag, eager tensor, serialized metadata, step)] in order (`write_arrays`)."""
    arrays = [(tag, _array(t), t.dtype.as_datatype_enum, metadata, step) for tag, t, metadata, step in values]
    write_arrays(arrays, writer)


def write_arrays(values, writer):
    """Writes [(full tag, numpy array, dtype enum, serialized metadata, step)] in order, one event per step.

    To TensorCap's own event file of `writer`'s run when `direct_writer`
    serves it, else as raw summary events through `writer`;
    ``tf.summary.record_if(False)`` suppresses both. The arrays are kept by
    reference until written.
    """
    direct = direct_writer.for_summary_writer(writer)
    if direct is not None and not tf_internals.user_records_now():
        return
    events = None
    with tf_internals.writer_as_default(writer):
        for tag, array, dtype_enum, metadata_bytes, step in values:
            if events is None or events.step != step:
                if events is not None:
                    events.write()
                events = _DirectEvents(direct, writer, step) if direct is not None else _RawEvents(step)
            events.add(tag, array, dtype_enum, metadata_bytes)
        if events is not None:
            events.write()


class _DirectEvents:
    """Values at one step, queued to `direct_writer` as one `EventBatch`."""

    def __init__(self, direct, writer, step):
        self.step = step
        self._direct, self._writer, self._batch = direct, writer, direct_writer.EventBatch(step)

    def add(self, tag, array, dtype_enum, metadata_bytes):
        self._batch.add(tag, array, dtype_enum, metadata_bytes)

    def write(self):
        self._direct.write(self._batch.finish(), self._writer)


class _RawEvents:
    """Values at one step gathered into raw summary events, through the default ``tf.summary`` writer.

    An event is written when FLUSH_BYTES are gathered, and before a tag it
    already holds (as `direct_writer.EventBatch` does).
    """

    def __init__(self, step):
        self.step = step
        self._pieces, self._tags, self._bytes = [], set(), 0

    def add(self, tag, array, dtype_enum, metadata_bytes):
        if tag in self._tags or self._bytes >= FLUSH_BYTES:
            self.write()
        codec.encode_summary_value(self._pieces, tag, array, dtype_enum, metadata_bytes)
        self._tags.add(tag)
        self._bytes += array.size * 64 if array.dtype == object else array.nbytes

    def write(self):
        if self._pieces:
            tf_internals.write_raw_summary(b"".join(self._pieces), self.step)
        self._pieces, self._tags, self._bytes = [], set(), 0


def nbytes(tensor):
    """The bytes an eager value holds (a string counts 64)."""
    numel = tensor.shape.num_elements() or 0
    return numel * (tensor.dtype.size if tensor.dtype != tf.string else 64)


def _array(tensor):
    """An eager value as numpy, sharing its buffer (`_numpy()`: no copy); it keeps the buffer alive."""
    return np.asarray(
        tensor._numpy() if hasattr(tensor, "_numpy") else tensor, object if tensor.dtype == tf.string else None
    )
