"""How a `record()` block writes eager values: kept by reference, written as one raw summary event.

Values are not copied when captured: a block keeps a reference to each
output and writes them all at once, as one summary event built directly from
the tensors' bytes (`codec.encode_summary_value`): at block exit, before a
nested block starts, and whenever FLUSH_BYTES are pending. A value over
DIRECT_BYTES is written on its own by `summary.write` (split into chunks if
needed). The rest is TensorFlow's event writer; ``tf.summary.record_if(False)``
still suppresses the writing.
"""

import numpy as np
import tensorflow as tf

from tb_tensorcap import capture_context, codec, lineage, summary, tf_internals

# Buffered values are written when they reach this many bytes; one value
# larger than DIRECT_BYTES is written on its own (chunked by `summary`).
FLUSH_BYTES = 64 << 20
DIRECT_BYTES = 16 << 20


class PendingValues:
    """The eager values a block captured and has not written yet, in capture order."""

    def __init__(self):
        self._items = []  # (tag without the replica prefix, tensor, serialized metadata)
        self._bytes = 0

    def add(self, tag, tensor, metadata_bytes, nbytes):
        """Keeps one value of `nbytes`; True when FLUSH_BYTES are pending (time to `write`)."""
        self._items.append((tag, tensor, metadata_bytes))
        self._bytes += nbytes
        return self._bytes >= FLUSH_BYTES

    def write(self, writer, step, replica):
        """Writes the pending values (tags prefixed with `replica`) to `writer` as one summary event at `step`."""
        if not self._items:
            return
        items, self._items, self._bytes = self._items, [], 0
        with capture_context.writing(), tf_internals.writer_as_default(writer):
            event = _RawEvents(step)
            for tag, tensor, metadata_bytes in items:
                event.add(replica + tag, tensor, metadata_bytes)
            event.write()


def write_full(items, step, writer, replica):
    """Writes [(tag, tensor, source, description, lineage)] (tags with the `replica` prefix) in full at `step`.

    Flushes the writer after.

    The flight recorder's path: a health block's kept values, written when a
    NaN appears.
    """
    with capture_context.writing(), tf_internals.writer_as_default(writer):
        event = _RawEvents(step)
        for tag, tensor, source, description, facts in items:
            if nbytes(tensor) > DIRECT_BYTES:  # chunked if needed; `write` adds this thread's replica prefix again
                summary.write(tensor, tag[len(replica) :], step, description, writer, source, facts)
                continue
            event.add(tag, tensor, lineage.serialized_metadata(source, description, facts))
        event.write()
    writer.flush()


class _RawEvents:
    """Summary values gathered into raw summary events at one step, to the default writer.

    An event is written when FLUSH_BYTES are gathered, and before a tag it
    already holds: the reader finds a value by its record and tag, so one
    event never holds two values of one tag (a tag captured twice in a block
    is a repeat, kept in an event of its own).
    """

    def __init__(self, step):
        self._step = step
        self._pieces, self._tags, self._bytes = [], set(), 0

    def add(self, tag, tensor, metadata_bytes):
        if tag in self._tags or self._bytes >= FLUSH_BYTES:
            self.write()
        _encode(self._pieces, tag, tensor, metadata_bytes)
        self._tags.add(tag)
        self._bytes += nbytes(tensor)

    def write(self):
        if self._pieces:
            tf.summary.experimental.write_raw_pb(b"".join(self._pieces), step=self._step)
        self._pieces, self._tags, self._bytes = [], set(), 0


def nbytes(tensor):
    """The bytes an eager value holds (a string counts 64)."""
    numel = tensor.shape.num_elements() or 0
    return numel * (tensor.dtype.size if tensor.dtype != tf.string else 64)


def _encode(pieces, tag, tensor, metadata_bytes):
    """Appends one eager value's serialized summary value to `pieces` (`codec.encode_summary_value`)."""
    # `_numpy()` shares the tensor's buffer (no copy); the caller holds the tensors until written.
    array = np.asarray(tensor._numpy() if hasattr(tensor, "_numpy") else tensor)
    codec.encode_summary_value(pieces, tag, array, tensor.dtype.as_datatype_enum, metadata_bytes)
