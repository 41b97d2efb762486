"""`tensorcap.Writer`: writing capture events without TensorFlow.

TensorBoard ships its own event writer (`EventFileWriter`, the one PyTorch's
`SummaryWriter` uses): TFRecord files of `Event` protos, written by a
background thread, through TensorBoard's gfile (local paths, and ``s3://``
with boto3 when TensorFlow is not installed). TensorCap's TensorFlow-free
capture path writes the very events ``tf.summary.write`` writes (same tag,
step, wall time, `SummaryMetadata` and `TensorProto`), so the reader, the tab
and the command cannot tell them apart.

A `Writer` plays the part of a ``tf.summary`` writer: pass it as
``writer=``, or make it the thread's default with ``as_default(step=...)``.
Without either, captures go to TensorCap's own writer (`default_writer`),
in the process's default run (`capture_core.DefaultWriter`: the run
TensorCap's ``tf.summary`` writer uses too), closed at interpreter exit.

A write error (full disk, lost bucket) happens in the background thread;
TensorBoard's writer raises it on the next write or flush, and so does this
one, as an `OSError` naming the logdir: captures since the last successful
flush may be lost, and the error says so.
"""

import contextlib
import functools
import os
import threading
import time

from tensorboard.compat.proto import event_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.summary.writer.record_writer import RecordWriter

from tb_tensorcap import capture_core, codec, event_files


class Writer:
    """An event file writer for captures, in `logdir` (a directory or URL).

    Args:
      logdir: the run directory; created if missing.
      flush_secs: how often the background thread flushes (seconds).
      max_queue: events queued before `write` waits for the disk.

    Raises:
      OSError: `logdir` cannot be created or written.
    """

    def __init__(self, logdir, *, flush_secs=120, max_queue=10):
        self.logdir = os.fspath(logdir)
        self._closed = False
        try:
            self._events = EventFileWriter(self.logdir, max_queue_size=max_queue, flush_secs=flush_secs)
        except Exception as e:  # gfile raises its own error types for URLs
            raise OSError("TensorCap cannot write captures to %r: %s" % (self.logdir, _message(e))) from None
        _use_fast_crc(self._events)

    def write(self, tag, array, step, summary_metadata):
        """Queues one event: `array` (numpy) as summary value `tag` at `step`."""
        event = event_pb2.Event(wall_time=time.time(), step=int(step))
        value = event.summary.value.add(tag=tag)  # filled in place: no copy of a large value
        value.metadata.CopyFrom(summary_metadata)
        codec.to_tensor_proto(array, value.tensor)
        self._call(self._events.add_event, event)

    def flush(self):
        """Writes every queued event to the event file."""
        if not self._closed:
            self._call(self._events.flush)

    def close(self):
        """Flushes and closes the event file; later writes raise OSError."""
        if not self._closed:
            self._closed = True
            self._call(self._events.close)

    @contextlib.contextmanager
    def as_default(self, step=None):
        """Makes this the thread's default writer for a block, as ``tf.summary`` does.

        Args:
          step: the default step of captures in the block (an int), as in
            ``tf.summary``'s ``writer.as_default(step=...)``.
        """
        stack = _default_stack()
        stack.append((self, step))
        try:
            yield self
        finally:
            stack.pop()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    def __repr__(self):
        return "tensorcap.Writer(%r)" % self.logdir

    def _call(self, method, *args):
        try:
            method(*args)
        except Exception as e:  # OSError, or gfile's and boto's own types
            message = "TensorCap cannot write captures to %r: %s; captures since the last flush may be lost" % (
                self.logdir,
                _message(e),
            )
            errno_ = getattr(e, "errno", None)
            raise (OSError(errno_, message) if errno_ else OSError(message)) from None


def _use_fast_crc(events):
    """Frames `events`' records with the C CRC-32C of `crc32c`.

    TensorBoard's `RecordWriter` computes the CRC in pure Python (about 2 ms
    per 4 KB event, seconds per MB); the framing written here is the same,
    byte for byte. The record writer is TensorBoard's private attribute: if
    it ever moves, the writer stays correct, only slower.
    """
    records = getattr(getattr(events, "_async_writer", None), "_writer", None)
    if isinstance(records, RecordWriter):
        records.write = functools.partial(_write_record, records._writer)


def _write_record(file, data):
    """One TFRecord, in one write: TensorBoard's TensorFlow-free gfile opens the file for each."""
    file.write(event_files.frame_record(data))


def active():
    """(writer, step) of the innermost `as_default` block of this thread, or (None, None)."""
    stack = _default_stack()
    return stack[-1] if stack else (None, None)


def _message(error):
    return getattr(error, "message", None) or str(error) or type(error).__name__


_thread_state = threading.local()


def _default_stack():
    stack = getattr(_thread_state, "defaults", None)
    if stack is None:
        stack = _thread_state.defaults = []
    return stack


class DefaultWriter(capture_core.DefaultWriter):
    """TensorCap's own `Writer` in the process's default run (`capture_core.DefaultWriter`), closed at exit."""

    at_exit = "close"

    def _create(self, logdir, flush_secs):
        return Writer(logdir, flush_secs=flush_secs)


default_writer = DefaultWriter()
