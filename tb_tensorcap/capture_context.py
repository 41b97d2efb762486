"""Per-thread and per-process state shared by every way of capturing.

* The one "writing" flag: while TensorCap runs its own ops to write a
  capture, `record()`'s op callback must not capture them (`writing()`).
* Where a capture was made: the user's file, line and function, inside
  `tf.function` too (`capture_core` has the library directories).
* The default step of a capture with no step: a per-tag counter.
* The ``replica_<k>/`` prefix inside a `tf.distribute` replica context.
"""

import sys
import threading

import tensorflow as tf

from tb_tensorcap import capture_core, metadata, tf_internals

_thread_state = threading.local()  # .writing: bool


class writing:
    """Marks the ops run inside as TensorCap's own: `record()` does not capture them."""

    def __enter__(self):
        self._previous = getattr(_thread_state, "writing", False)
        _thread_state.writing = True

    def __exit__(self, *exc_info):
        _thread_state.writing = self._previous
        return False


def is_writing():
    """Whether this thread is inside `writing()`."""
    return getattr(_thread_state, "writing", False)


def user_frame(frame):
    """The innermost frame from `frame` outwards that is user code, not a library's, or None."""
    while frame is not None and capture_core.is_library(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def source_location():
    """File, line and function of the innermost frame in user code.

    Inside `tf.function`, AutoGraph runs a generated copy of the user's code;
    TensorFlow's own stack extraction maps that back to the original lines.
    """
    if tf.executing_eagerly():
        found = capture_core.frame_location(sys._getframe(2))
        if found is not None:
            return found
    else:
        for entry in reversed(tf_internals.traced_stack()):
            if not capture_core.is_library(entry.filename):
                return {"file": entry.filename, "line": entry.lineno, "function": entry.name}
    return dict(capture_core.UNKNOWN_SOURCE)


_metadata_cache = {}


def serialized_metadata(source, description, axes=None):
    """Serialized metadata per (source, description, axes); captures repeat call sites."""
    key = (source["file"], source["line"], source["function"], description, tuple(axes) if axes else None)
    cached = _metadata_cache.get(key)
    if cached is None:
        cached = metadata.create_summary_metadata(source, description, axes=axes).SerializeToString()
        _metadata_cache[key] = cached
    return cached


class StepCounters:
    """Per-tag capture counters: the default step of the n-th capture is n.

    Eager captures count in Python, in the process's counters that the
    TensorFlow-free path counts in too (`capture_core.step_counters`). Inside
    `tf.function` the count must advance on every call, not once at trace
    time, so a tag captured there gets a `tf.Variable` counter (created
    outside the function, starting where the count was), which eager captures
    of that tag then share.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._variables = {}

    def next_step(self, tag):
        with self._lock:
            variable = self._variables.get(tag)
            if variable is None and tf.executing_eagerly():
                return capture_core.step_counters.next_step(tag)
            if variable is None:
                with tf.init_scope():
                    variable = tf.Variable(
                        capture_core.step_counters.count(tag),
                        dtype=tf.int64,
                        trainable=False,
                        name="tensorcap_step",
                    )
                self._variables[tag] = variable
        return variable.assign_add(1, read_value=True) - 1


step_counters = StepCounters()  # the process's counters (tests replace them)


def replica_prefix():
    """ "replica_<k>/" inside `strategy.run` where this worker runs several replicas.

    k is the replica context's `replica_id_in_sync_group`. With one replica
    per worker (MultiWorkerMirroredStrategy on one device each) there is no
    prefix: each worker writes its own run instead (`capture_core.cluster_task`).
    """
    if not tf.distribute.has_strategy():
        return ""
    replica_context = tf.distribute.get_replica_context()
    if replica_context is None:
        return ""
    try:
        local = len(replica_context.strategy.extended.worker_devices)
    except (AttributeError, NotImplementedError, RuntimeError, TypeError):
        local = replica_context.num_replicas_in_sync
    if local <= 1:
        return ""
    replica = replica_context.replica_id_in_sync_group
    if not isinstance(replica, int):
        replica = tf.get_static_value(replica)
        if replica is None:
            return ""
    return "replica_%d/" % int(replica)
