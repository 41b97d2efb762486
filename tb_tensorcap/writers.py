"""Which `tf.summary` writer a capture goes to, and TensorCap's own writer.

The explicit writer, else the thread's default ``tf.summary`` writer, else
TensorCap's own: a ``tf.summary`` file writer in the process's default run
(`capture_core.DefaultWriter`: ``$TENSORCAP_LOGDIR`` or
``runs/<YYYYmmdd-HHMMSS>``, one run per worker of a cluster, flushed every
``$TENSORCAP_FLUSH_SECS`` seconds and at exit, refusing captures when its
disk is full, as TensorFlow would drop them silently). Every writer a capture
used is remembered for `flush_all()`.
"""

import os
import weakref

import tensorflow as tf

from tb_tensorcap import capture_core, tf_internals


class DefaultWriter(capture_core.DefaultWriter):
    """TensorCap's own ``tf.summary`` writer, created on first use and flushed at exit."""

    def _create(self, logdir, flush_secs):
        try:
            with tf.init_scope():
                return tf.summary.create_file_writer(logdir, flush_millis=int(flush_secs * 1000))
        except tf.errors.OpError as e:  # TF names only the failing path component
            raise OSError(
                "TensorCap cannot write captures to %r (%s): %s"
                % (
                    logdir,
                    "$TENSORCAP_LOGDIR" if os.environ.get("TENSORCAP_LOGDIR") else "its default logdir",
                    e.message,
                )
            ) from None


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
