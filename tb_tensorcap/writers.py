"""Which `tf.summary` writer a capture goes to, and TensorCap's own writer.

The explicit writer, else the thread's default ``tf.summary`` writer, else
TensorCap's own: created on first use at ``$TENSORCAP_LOGDIR`` or
``runs/<YYYYmmdd-HHMMSS>`` (``<task type>_<index>`` below it for a
multi-worker cluster), flushed every ``$TENSORCAP_FLUSH_SECS`` seconds and at
exit, and refusing captures when its disk is full (TensorFlow would drop them
silently). Every writer a capture used is remembered for `flush_all()`.
"""

import atexit
import errno
import json
import os
import sys
import threading
import time
import weakref

import tensorflow as tf

from tb_tensorcap import tf_internals

_MIN_FREE_BYTES = 1 << 20  # TensorCap's own writer refuses captures below this much free disk


class DefaultWriter:
    """TensorCap's own writer, created on first use and flushed at exit."""

    def __init__(self):
        self._lock = threading.Lock()
        self._writer = None
        self._logdir = None

    @property
    def logdir(self):
        if self._logdir is None:
            self._logdir = os.environ.get("TENSORCAP_LOGDIR") or os.path.join("runs", time.strftime("%Y%m%d-%H%M%S"))
            task = cluster_task()
            if task:  # multi-worker training: one run per worker
                self._logdir = os.path.join(self._logdir, task)
        return self._logdir

    def get(self):
        with self._lock:
            if self._writer is None:
                flush_secs = float(os.environ.get("TENSORCAP_FLUSH_SECS", "5"))
                try:
                    with tf.init_scope():
                        self._writer = tf.summary.create_file_writer(self.logdir, flush_millis=int(flush_secs * 1000))
                except tf.errors.OpError as e:  # TF names only the failing path component
                    raise OSError(
                        "TensorCap cannot write captures to %r (%s): %s"
                        % (
                            self.logdir,
                            "$TENSORCAP_LOGDIR" if os.environ.get("TENSORCAP_LOGDIR") else "its default logdir",
                            e.message,
                        )
                    ) from None
                print("tensorcap: writing captures to %s" % self.logdir, file=sys.stderr)
                atexit.register(self._writer.flush)
            self._check_space()
            return self._writer

    def _check_space(self):
        """Raises OSError (ENOSPC) when the logdir's disk is (nearly) full.

        On a full disk TensorFlow drops events without an error (it ignores a
        failed write of a record larger than its 4 KB buffer; the flush of the
        then empty buffer succeeds), so the next capture fails here instead.
        """
        if "://" in self.logdir or not hasattr(os, "statvfs"):
            return
        try:
            disk = os.statvfs(self.logdir)
        except OSError:
            return
        free = (disk.f_bfree if hasattr(os, "geteuid") and os.geteuid() == 0 else disk.f_bavail) * disk.f_frsize
        if free < _MIN_FREE_BYTES:
            raise OSError(
                errno.ENOSPC,
                "No space left on device: TensorCap cannot write captures to %r "
                "(%d bytes free); captures not yet flushed may be lost" % (self.logdir, free),
            )


default_writer = DefaultWriter()  # the process's own writer (tests replace it)
_used_writers = weakref.WeakSet()


def use(writer):
    """Remembers that captures were written to `writer` (for `flush_all`); returns it."""
    _used_writers.add(writer)
    return writer


def flush_all():
    """Flushes every writer captures were written to."""
    for writer in list(_used_writers):
        writer.flush()


def active_or_default():
    """The thread's default `tf.summary` writer, else TensorCap's own."""
    active = tf_internals.active_writer()
    return active if active is not None else default_writer.get()


def cluster_task():
    """ "<task type>_<index>" ("worker_1") when TF_CONFIG names a cluster of several tasks."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
        cluster, task = config.get("cluster") or {}, config.get("task") or {}
        tasks = sum(len(v) for v in cluster.values() if isinstance(v, (list, dict)))
        if tasks > 1 and task.get("type"):
            return "%s_%d" % (task["type"], int(task.get("index", 0)))
    except (ValueError, TypeError, AttributeError):
        pass
    return None
