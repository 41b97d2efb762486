"""Capture events written straight to an event file of TensorCap's own, by a background thread.

Why: through ``tf.summary`` a block's values cost about six passes over their
bytes (joined into one string, copied into a string tensor, parsed back by
TensorFlow's kernel, re-serialised and CRC'd by its event writer, written).
Here each event is built around the tensors' own buffers
(`codec.encode_summary_value`: a few header bytes per value and a view of
its buffer), and one thread, shared by the process, frames it as a TFRecord
(`event_files.framed_pieces`: C CRC-32C, which releases the GIL) and hands
the pieces to ``os.writev``: one copy, into the kernel, overlapping the
user's next ops on another core.

Where: ``<logdir>/events.out.tfevents.0000000000.tensorcap.<host>.<pid>``,
beside the event file of the ``tf.summary`` file writer the capture was
meant for (its logdir is noted when the writer is created:
`tf_internals.summary_writer_logdir`). TensorCap's reader and TensorBoard's
default (Rust) loader read every event file of a run directory; repeats of
one tag at one step in two files are ordered by wall time
(`capture_table.TagSteps`). The name sorts before every file TensorFlow
names (``events.out.tfevents.<secs>...``): TensorBoard's Python loader
(``--load_fast=false``) follows only the last file of a run by name, and
must keep following the writer's, where the user's own summaries go (it
reads TensorCap's file when it starts; the TensorCap tab has its own reader).

Guarantees:

* Order: events reach the file in the order they were queued.
* Memory: at most QUEUE_BYTES of values wait (an event larger than that
  waits alone); a writer that would pass it waits for the disk.
* Nothing lost silently: an error writing the file (full disk, a removed
  directory) is raised by the next `write`/`flush`/`check` of that logdir as
  an `OSError` naming it (as `tensorcap.Writer` does), and by every one
  after: the captures queued since the last successful flush may be lost,
  and the error says so.
* Flushing: `flush` returns once everything queued before it is in the
  file (the kernel's: a process killed after it loses nothing).
  ``tensorcap.flush()``, the ``tf.summary`` writer's own ``flush()`` and
  ``close()`` (`tf_internals.hook_summary_writers`) and interpreter exit
  flush; a writer created with ``flush_millis=0`` or ``max_queue=0`` (which
  TensorFlow flushes on every write) has every capture written before the
  capture returns.
* ``tf.summary.record_if`` is for the callers to check
  (`tf_internals.user_records_now`), as they know when a write happens.

Not served (`for_summary_writer` gives None, and callers keep writing
through ``tf.summary``): writers created before tb_tensorcap was imported (a
RuntimeWarning says so once) or not by ``tf.summary.create_file_writer``
(their logdir is unknown), and
logdirs that are URLs (``gs://``, ``s3://``: TensorFlow's filesystems write
those). Values over `block_writer.DIRECT_BYTES` keep ``tf.summary`` too (it
splits them into chunks), and so does the TensorFlow-free `tensorcap.Writer`.
"""

import atexit
import collections
import os
import socket
import sys
import threading
import time
import warnings

from tensorboard.compat.proto import event_pb2

from tb_tensorcap import codec, event_files, tf_internals

QUEUE_BYTES = 256 << 20  # values waiting for the disk, at most (one larger event waits alone)
EVENT_BYTES = 64 << 20  # an event holds values up to this many bytes; more start another event
# Bytes per write call. One call appending 11 MB to a file took 25-30 ms where 1 MB calls took 3 ms
# (ext4, Linux 6.18 in a VM: a large write allocates the page cache in large folios).
WRITE_BYTES = 1 << 20
_IOV_MAX = 1024  # buffers per os.writev call (POSIX's minimum IOV_MAX)


class EventBatch:
    """Values at one step, encoded as events for `DirectWriter.write`, in the order added.

    An event is closed when it holds EVENT_BYTES, and before a tag it already
    holds: the reader finds a value by its record and tag, so one event never
    holds two values of one tag (a repeat goes to an event of its own).
    """

    def __init__(self, step, wall_time=None):
        self.step = int(step)
        self.wall_time = time.time() if wall_time is None else wall_time
        self.events = []  # (pieces, length) per event, ready to frame
        self.nbytes = 0
        self._pieces, self._length, self._tags = [], 0, set()

    def add(self, tag, array, dtype_enum, metadata_bytes):
        """Adds `array` (numpy, kept by reference until written) as summary value `tag`."""
        if tag in self._tags or self._length >= EVENT_BYTES:
            self._close_event()
        first = len(self._pieces)
        codec.encode_summary_value(self._pieces, tag, array, dtype_enum, metadata_bytes)
        self._length += sum(len(p) for p in self._pieces[first:])
        self._tags.add(tag)

    def finish(self):
        """Closes the open event; returns the batch."""
        self._close_event()
        return self

    def _close_event(self):
        if not self._pieces:
            return
        head = codec.encode_event_head(self.wall_time, self.step, self._length)
        self.events.append(([head, *self._pieces], len(head) + self._length))
        self.nbytes += self._length
        self._pieces, self._length, self._tags = [], 0, set()


class DirectWriter:
    """TensorCap's own event file in one run directory (module docstring); one per logdir in a process."""

    def __init__(self, logdir):
        self.logdir = logdir
        self.path = None  # the event file, named when first opened
        self._fd = None
        self._error = None
        self._lost = 0  # events not written since the error
        self._last_queued = 0  # sequence number of this writer's last queued batch

    def write(self, batch, summary_writer=None):
        """Queues `batch` (an `EventBatch`); raises the OSError of an earlier failed write instead.

        For a ``tf.summary`` writer made to flush every write (``flush_millis=0``
        or ``max_queue=0``, as TensorCap's own with ``$TENSORCAP_FLUSH_SECS=0``),
        waits until the batch is in the file, raising its write error.
        """
        self.check()
        if batch.events:
            _queue.put(self, batch)
            if summary_writer is not None and tf_internals.summary_writer_flushes_each_write(summary_writer):
                self.flush()

    def flush(self):
        """Waits until every batch queued so far is in the file; raises a write error (module docstring)."""
        _queue.wait_for(self._last_queued)
        self.check()

    def close(self):
        """Flushes and closes the file; a write error is raised this last time, then forgotten.

        A later `write` opens the file again, appending (a ``tf.summary``
        writer closed and another opened on the same logdir).
        """
        try:
            self.flush()
        finally:
            _queue.run_in_writer_thread(self._close_file)

    def check(self):
        """Raises the error of a failed write, if any (and again on every later call)."""
        if self._error is not None:
            raise OSError(
                self._error.errno,
                "TensorCap cannot write captures to %r: %s; the captures queued since the last flush may be lost "
                "(%d events not written)" % (self.logdir, self._error.strerror or self._error, self._lost),
            )

    def __repr__(self):
        return "DirectWriter(%r)" % self.logdir

    # -- in the writer thread ---------------------------------------------------

    def _write_batch(self, batch):
        if self._error is not None:
            self._lost += len(batch.events)
            return
        try:
            if self._fd is None:
                self._open()
            for pieces, length in batch.events:
                _write_all(self._fd, event_files.framed_pieces(pieces, length))
        except OSError as e:
            self._error = e
            self._lost += len(batch.events)

    def _open(self):
        if self.path is None:
            os.makedirs(self.logdir, exist_ok=True)
            name = "events.out.tfevents.0000000000.tensorcap.%s.%d" % (socket.gethostname(), os.getpid())
            self.path = os.path.join(self.logdir, name)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
        if os.fstat(self._fd).st_size == 0:  # TensorFlow's first event names the format version
            version = event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString()
            _write_all(self._fd, event_files.framed_pieces([version], len(version)))

    def _close_file(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._error, self._lost = None, 0


def _write_all(fd, buffers):
    """Writes `buffers` to `fd` in order, in ``writev`` calls of at most WRITE_BYTES."""
    batch, size = [], 0
    for buffer in buffers:
        view = memoryview(buffer).cast("B")
        while len(view):
            take = min(len(view), WRITE_BYTES - size)
            batch.append(view[:take])
            size += take
            view = view[take:]
            if size >= WRITE_BYTES or len(batch) >= _IOV_MAX:
                _writev_all(fd, batch)
                batch, size = [], 0
    if batch:
        _writev_all(fd, batch)


def _writev_all(fd, views):
    first = 0
    while first < len(views):
        written = os.writev(fd, views[first:])
        while first < len(views) and written >= len(views[first]):
            written -= len(views[first])
            first += 1
        if written:
            views[first] = views[first][written:]


class _Queue:
    """The batches every `DirectWriter` of the process queued, written in order by one thread."""

    def __init__(self):
        self._changed = threading.Condition()
        self._items = collections.deque()  # (writer, batch or callable, sequence number)
        self._queued_bytes = 0
        self._last = 0  # sequence number of the last item queued
        self._done = 0  # ... and of the last item done
        self._thread = None

    def put(self, writer, batch):
        with self._changed:
            while self._items and self._queued_bytes + batch.nbytes > QUEUE_BYTES:
                self._changed.wait()
            writer._last_queued = self._append(writer, batch, batch.nbytes)

    def run_in_writer_thread(self, function):
        """Runs `function()` in the writer thread, after everything queued, and waits for it."""
        with self._changed:
            sequence = self._append(None, function, 0)
        self.wait_for(sequence)

    def wait_for(self, sequence):
        """Waits until the item numbered `sequence` (and every one before it) is done."""
        with self._changed:
            while self._done < sequence:
                self._changed.wait()

    def _append(self, writer, item, nbytes):
        self._last += 1
        self._items.append((writer, item, self._last))
        self._queued_bytes += nbytes
        if self._thread is None or not self._thread.is_alive():  # none yet, or lost in a fork
            self._thread = threading.Thread(target=self._run, name="tensorcap-writer", daemon=True)
            self._thread.start()
        self._changed.notify_all()
        return self._last

    def _run(self):
        while True:
            with self._changed:
                while not self._items:
                    self._changed.wait()
                writer, item, sequence = self._items[0]  # stays counted in _queued_bytes until written
            if writer is None:
                item()
            else:
                writer._write_batch(item)
            with self._changed:
                self._items.popleft()
                self._queued_bytes -= 0 if writer is None else item.nbytes
                self._done = sequence
                self._changed.notify_all()

    def flush(self):
        self.wait_for(self._last)


_queue = _Queue()
_by_logdir = {}
_by_logdir_lock = threading.Lock()


def for_summary_writer(writer):
    """The `DirectWriter` of a ``tf.summary`` writer's run directory, or None when it cannot serve it."""
    logdir = tf_internals.summary_writer_logdir(writer)
    if logdir is None and tf_internals.created_before_hook(writer) and not _said_unknown_logdir:
        _say_unknown_logdir()
    if logdir is None or not event_files.is_local(logdir):
        return None
    with _by_logdir_lock:
        direct = _by_logdir.get(logdir)
        if direct is None:
            direct = _by_logdir[logdir] = DirectWriter(logdir)
    return direct


_said_unknown_logdir = False


def _say_unknown_logdir():
    """Says once that a writer's captures take the slower path: it was made before TensorCap followed writers."""
    global _said_unknown_logdir
    _said_unknown_logdir = True
    warnings.warn(
        "tensorcap: this tf.summary file writer was created before tb_tensorcap was imported, so TensorCap does "
        "not know its logdir and writes its captures through tf.summary, several times slower than to its own "
        "event file. Import tb_tensorcap before creating the writer. (Said once.)",
        RuntimeWarning,
        stacklevel=4,
    )


def _before_flush(writer, closing):
    """Flushes TensorCap's file beside a ``tf.summary`` writer; closes it too when the writer closes."""
    logdir = tf_internals.summary_writer_logdir(writer)
    direct = _by_logdir.get(logdir) if logdir is not None else None
    if direct is not None and closing:
        direct.close()
    elif direct is not None:
        direct.flush()


def flush_all():
    """Waits until everything queued by any writer is written.

    Write errors are raised by each writer's own `flush` (through its
    ``tf.summary`` writer's), so that a failed logdir does not fail the
    flushes of every other one for the rest of the process.
    """
    _queue.flush()


def _at_exit():
    """Waits for everything queued; says on stderr what a failed writer could not write."""
    _queue.flush()
    for direct in list(_by_logdir.values()):
        try:
            direct.check()
        except OSError as e:
            print("TensorCap: %s" % e, file=sys.stderr)


tf_internals.hook_summary_writers(_before_flush)
atexit.register(_at_exit)
