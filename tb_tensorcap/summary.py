"""Capturing tensors: `capture()`, `Capturer`, `flush()`.

A capture is written as a TensorBoard summary event through
``tf.summary.write`` (format in `metadata.py`). This module needs TensorFlow;
everything that reads captures back does not.

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
* tf.distribute: inside ``strategy.run`` on a worker that runs several
  replicas, tags start with ``replica_<k>/`` (k: ``replica_id_in_sync_group``)
  and every replica writes (TensorFlow's summaries record replica 0 only).
* ``tf.summary.record_if(False)`` turns captures off like any summary.
"""

import atexit
import errno
import importlib.util
import json
import os
import sys
import threading
import time
import weakref

import numpy as np
import tensorflow as tf
from tensorflow.python.distribute import distribute_lib
from tensorflow.python.framework import ops, tensor_util
from tensorflow.python.ops import control_flow_util
from tensorflow.python.ops import summary_ops_v2
from tensorflow.python.util import tf_stack

from tb_tensorcap import metadata

def _package_dirs(*names):
    """The directories of installed packages, found without importing them."""
    dirs = []
    for name in names:
        spec = importlib.util.find_spec(name)
        for location in (spec.submodule_search_locations or []) if spec else []:
            dirs.append(os.path.abspath(location) + os.sep)
    return tuple(dirs)


# Frames in these directories are library code, not the capture site.
_LIBRARY_DIRS = _package_dirs("tb_tensorcap", "tensorflow", "keras", "tf_keras")

_NUMPY_DTYPE_NAMES = {
    "float16", "float32", "float64", "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64", "bool", "complex64", "complex128",
    "bfloat16",
}
_TF_DTYPE_NAMES = _NUMPY_DTYPE_NAMES | {"string"}


def capture(value, name, step=None, *, description=None, writer=None):
    """Writes `value` as the capture `name` and returns `value` unchanged.

    Args:
      value: an EagerTensor (or symbolic tensor inside `tf.function`), a
        `tf.Variable`, a numpy array, a Python scalar or nested list, a
        string, or any object with `__array__`.
      name: the tag; the prefixes of active `Capturer` blocks are prepended.
      step: the step to record at (see the module docstring for defaults).
      description: free text shown with the capture in the TensorCap tab.
      writer: a `tf.summary` writer to use instead of the default.

    Returns:
      `value`, the same object, so that `capture` can wrap an expression.

    Raises:
      TypeError, ValueError: `value` or `name` cannot be captured; nothing was
        written.
    """
    innermost = _innermost_capturer()
    if innermost is not None:
        return innermost.capture(value, name, step, description=description, writer=writer)
    _write(value, _check_name(name), step, description, writer, _source_location())
    return value


def flush():
    """Flushes every writer TensorCap has written captures to."""
    for writer in list(_used_writers):
        writer.flush()


def default_logdir():
    """The directory TensorCap's own writer writes to (it may not exist yet)."""
    return _default_writer.logdir


class Capturer:
    """A scope that names captures under a prefix and keeps their values.

    The article's hand-made context manager, made persistent::

        with tensorcap.Capturer("block1") as cap:
            z = cap.capture(x * y, "z")        # written as "block1/z"
        cap["z"], cap.tensors                  # the values, in memory

    Prefixes nest: a `Capturer("b")` entered inside `Capturer("a")` writes
    under "a/b/". Inside the block, the module-level `tensorcap.capture` also
    uses the innermost prefix and keeps its value here. The block stack is
    per thread.

    Args:
      prefix: the name scope for captures made through this capturer.
      step, writer: defaults for this capturer's captures (the module rules
        apply when None).
      keep: whether to keep captured values in memory (`tensors`).
    """

    def __init__(self, prefix=None, *, step=None, writer=None, keep=True):
        self._own_prefix = _check_name(prefix).strip("/") if prefix else ""
        self._prefix = self._own_prefix
        self._step = step
        self._writer = writer
        self._keep = keep
        self._tensors = {}

    @property
    def prefix(self):
        """The full prefix this capturer writes under ("" for none)."""
        return self._prefix

    @property
    def tensors(self):
        """A dict of the values captured here, by name relative to the prefix."""
        return dict(self._tensors)

    def __getitem__(self, name):
        return self._tensors[name]

    def __contains__(self, name):
        return name in self._tensors

    def __enter__(self):
        stack = _capturer_stack()
        outer = stack[-1].prefix if stack else ""
        self._prefix = "/".join(p for p in (outer, self._own_prefix) if p)
        stack.append(self)
        return self

    def __exit__(self, *exc_info):
        stack = _capturer_stack()
        if self in stack:
            stack.remove(self)
        return False

    def capture(self, value, name, step=None, *, description=None, writer=None):
        """Like `tensorcap.capture`, under this capturer's prefix."""
        name = _check_name(name)
        tag = "%s/%s" % (self._prefix, name) if self._prefix else name
        _write(
            value,
            tag,
            step if step is not None else self._step,
            description,
            writer if writer is not None else self._writer,
            _source_location(),
        )
        if self._keep:
            self._tensors[name] = value
        return value


def _write(value, tag, step, description, writer, source):
    """Validates `value`, then writes it (in chunks if large) under `tag`.

    Under `tf.distribute` the replica's prefix is added to `tag`. While this
    runs, `record()` skips the ops it executes (`_thread_state.writing`).
    """
    tag = _replica_prefix() + tag
    previous = getattr(_thread_state, "writing", False)
    _thread_state.writing = True
    try:
        _validate_and_write(value, tag, step, description, writer, source)
    finally:
        _thread_state.writing = previous


def _validate_and_write(value, tag, step, description, writer, source):
    if not tf.executing_eagerly() and control_flow_util.GraphOrParentsInXlaContext(ops.get_default_graph()):
        raise ValueError(
            "cannot capture %r inside an XLA-compiled function (jit_compile=True): XLA has no "
            "summary ops. Capture the function's inputs or outputs outside it, or run it with "
            "jit_compile=False while debugging" % tag)
    tensor = _to_tensor(value, tag)
    plan, checks = _chunk_plan(tensor, tag)
    writer = writer if writer is not None else _active_or_default_writer()
    _used_writers.add(writer)
    # Inside tf.function, nothing (step counter, write) may run before the
    # size check has passed; eagerly `checks` is empty.
    with tf.control_dependencies(checks), _writer_as_default(writer):
        if step is None:
            step = summary_ops_v2.get_step()
        if step is None:
            step = _counters.next_step(tag)
        if plan is None:
            tf.summary.write(tag, tensor, step=step, metadata=_serialized_metadata(source, description))
            return
        flat = tf.reshape(tensor, [-1])
        dtype, shape = tensor.dtype.name, tensor.shape.as_list()
        for index, (start, stop) in enumerate(plan):
            chunk = {"index": index, "count": len(plan), "dtype": dtype, "shape": shape}
            md = metadata.create_summary_metadata(source, description, chunk)
            tf.summary.write(tag, flat[start:stop], step=step, metadata=md)


def _check_name(name):
    if not isinstance(name, str) or not name.strip("/"):
        raise ValueError("capture name must be a non-empty string, got %r" % (name,))
    return name


def _to_tensor(value, tag):
    """Converts `value` to a tensor TensorCap can store, or raises naming `tag`."""
    if isinstance(value, (tf.RaggedTensor, tf.SparseTensor, tf.IndexedSlices)):
        raise TypeError(
            "cannot capture %r: %s has no dense layout; densify it first "
            "(ragged.to_tensor(), tf.sparse.to_dense(sparse) or "
            "tf.convert_to_tensor(indexed_slices))" % (tag, type(value).__name__)
        )
    if isinstance(value, tf.Variable):
        value = value.read_value() if value.dtype != tf.resource else value
    if not isinstance(value, tf.Tensor):
        value = _to_numpy(value, tag)
        if value.dtype.name not in _NUMPY_DTYPE_NAMES and value.dtype != object:
            raise TypeError("cannot capture %r: dtype %s is not supported" % (tag, value.dtype))
        try:
            value = tf.convert_to_tensor(value)
        except (TypeError, ValueError) as e:
            raise TypeError("cannot capture %r: %s" % (tag, e)) from None
    if value.dtype.name not in _TF_DTYPE_NAMES:
        raise TypeError(
            "cannot capture %r: dtype %s holds no values TensorCap can store "
            "(supported: %s)" % (tag, value.dtype.name, ", ".join(sorted(_TF_DTYPE_NAMES)))
        )
    return value


def _to_numpy(value, tag):
    """Converts Python and array-like values to numpy, strings to bytes."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as e:
        raise ValueError("cannot capture %r: %s" % (tag, e)) from None
    if array.dtype.kind in "US" or array.dtype == object:
        # numpy's fixed-width string dtypes drop trailing NUL bytes (b"a\0"
        # becomes b"a"): keep the Python objects themselves where there are any.
        objects = array.astype(object)  # a copy: the caller's array is not changed
        if array.dtype.kind in "US" and not isinstance(value, np.ndarray):
            try:
                rebuilt = np.array(value, dtype=object)
            except (TypeError, ValueError):
                rebuilt = None
            if rebuilt is not None and rebuilt.shape == array.shape:
                objects = rebuilt
        flat = objects.reshape(-1)
        for i, v in enumerate(flat):
            if isinstance(v, str):
                flat[i] = v.encode("utf-8")
        array = objects
    if array.dtype == object and not all(isinstance(v, bytes) for v in array.flat):
        raise TypeError(
            "cannot capture %r: %s does not convert to a numeric or string array"
            % (tag, type(value).__name__)
        )
    return array


def _chunk_plan(tensor, tag):
    """`(plan, checks)`: the chunks of `tensor` and the checks to run first.

    `plan` is None if `tensor` fits one event, else the flat (start, stop) of
    each chunk. Inside `tf.function` a shape unknown at trace time cannot be
    planned; the graph then refuses, at run time, a value too large for one
    event: `checks` holds that assertion, which the write must depend on.
    """
    limit = metadata.CHUNK_BYTES
    numel = tensor.shape.num_elements()
    if numel is None:
        nbytes = tf.size(tensor, out_type=tf.int64) * tensor.dtype.size
        check = tf.debugging.assert_less_equal(
            nbytes,
            tf.constant(limit, tf.int64),
            message="TensorCap cannot split capture %r: its shape is unknown when "
            "tf.function traces it and it exceeds %d bytes; capture it eagerly or "
            "give it a static shape" % (tag, limit),
        )
        return None, [check] if check is not None else []
    if tensor.dtype == tf.string:
        if not tf.executing_eagerly():
            return None, []
        # np.asarray: `.numpy()` of a scalar string tensor is plain `bytes`.
        strings = np.asarray(tensor.numpy(), dtype=object).flat
        sizes = np.fromiter((len(s) + 8 for s in strings), np.int64, numel)
    else:
        if numel * tensor.dtype.size <= limit:
            return None, []
        sizes = np.full(numel, tensor.dtype.size, np.int64)
    ends = np.cumsum(sizes)
    if not numel or ends[-1] <= limit:
        return None, []
    plan, start = [], 0
    while start < numel:
        # The last element whose cumulative size stays within one more chunk.
        base = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, base + limit, side="right")), start + 1)
        plan.append((start, stop))
        start = stop
    return plan, []


_metadata_cache = {}


def _serialized_metadata(source, description):
    """Serialized metadata per (source, description); captures repeat call sites."""
    key = (source["file"], source["line"], source["function"], description)
    cached = _metadata_cache.get(key)
    if cached is None:
        cached = metadata.create_summary_metadata(source, description).SerializeToString()
        _metadata_cache[key] = cached
    return cached


def _source_location():
    """File, line and function of the innermost frame in user code.

    Inside `tf.function`, AutoGraph runs a generated copy of the user's code;
    TensorFlow's own stack extraction maps that back to the original lines.
    """
    if tf.executing_eagerly():
        frame = sys._getframe(2)
        while frame is not None and frame.f_code.co_filename.startswith(_LIBRARY_DIRS):
            frame = frame.f_back
        if frame is not None:
            code = frame.f_code
            return {"file": code.co_filename, "line": frame.f_lineno, "function": code.co_name}
    else:
        for entry in reversed(tf_stack.extract_stack()):
            if not entry.filename.startswith(_LIBRARY_DIRS):
                return {"file": entry.filename, "line": entry.lineno, "function": entry.name}
    return {"file": "<unknown>", "line": 0, "function": "<unknown>"}


class _StepCounters:
    """Per-tag capture counters: the default step of the n-th capture is n.

    Eager captures count in Python. Inside `tf.function` the count must advance
    on every call, not once at trace time, so a tag captured there gets a
    `tf.Variable` counter (created outside the function), which eager captures
    of that tag then share.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = {}
        self._variables = {}

    def next_step(self, tag):
        with self._lock:
            variable = self._variables.get(tag)
            if variable is None and tf.executing_eagerly():
                count = self._counts.get(tag, 0)
                self._counts[tag] = count + 1
                return count
            if variable is None:
                with tf.init_scope():
                    variable = tf.Variable(
                        self._counts.get(tag, 0), dtype=tf.int64, trainable=False,
                        name="tensorcap_step",
                    )
                self._variables[tag] = variable
        return variable.assign_add(1, read_value=True) - 1


_counters = _StepCounters()


class _DefaultWriter:
    """TensorCap's own writer, created on first use and flushed at exit."""

    def __init__(self):
        self._lock = threading.Lock()
        self._writer = None
        self._logdir = None

    @property
    def logdir(self):
        if self._logdir is None:
            self._logdir = os.environ.get("TENSORCAP_LOGDIR") or os.path.join(
                "runs", time.strftime("%Y%m%d-%H%M%S")
            )
            task = _cluster_task()
            if task:  # multi-worker training: one run per worker
                self._logdir = os.path.join(self._logdir, task)
        return self._logdir

    def get(self):
        with self._lock:
            if self._writer is None:
                flush_secs = float(os.environ.get("TENSORCAP_FLUSH_SECS", "5"))
                try:
                    with tf.init_scope():
                        self._writer = tf.summary.create_file_writer(
                            self.logdir, flush_millis=int(flush_secs * 1000)
                        )
                except tf.errors.OpError as e:  # TF names only the failing path component
                    raise OSError("TensorCap cannot write captures to %r (%s): %s" % (
                        self.logdir, "$TENSORCAP_LOGDIR" if os.environ.get("TENSORCAP_LOGDIR")
                        else "its default logdir", e.message)) from None
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
            raise OSError(errno.ENOSPC, "No space left on device: TensorCap cannot write captures to %r "
                          "(%d bytes free); captures not yet flushed may be lost" % (self.logdir, free))


_MIN_FREE_BYTES = 1 << 20  # TensorCap's own writer refuses captures below this much free disk
_default_writer = _DefaultWriter()
_used_writers = weakref.WeakSet()


def _active_or_default_writer():
    active = summary_ops_v2._summary_state.writer
    return active if active is not None else _default_writer.get()


class _writer_as_default:
    """Makes `writer` the thread's default summary writer for a block.

    Unlike `writer.as_default()`, leaving the block does not flush: a flush per
    capture would cost more than the capture.
    """

    def __init__(self, writer):
        self._writer = writer

    def __enter__(self):
        state = summary_ops_v2._summary_state
        self._previous = state.writer
        state.writer = self._writer
        # A replica context records summaries on replica 0 only; captures are
        # per replica (see `_replica_prefix`).
        self._previous_distributed = state.is_recording_distribution_strategy
        state.is_recording_distribution_strategy = True

    def __exit__(self, *exc_info):
        summary_ops_v2._summary_state.writer = self._previous
        summary_ops_v2._summary_state.is_recording_distribution_strategy = self._previous_distributed
        return False


_thread_state = threading.local()


def _capturer_stack():
    stack = getattr(_thread_state, "capturers", None)
    if stack is None:
        stack = _thread_state.capturers = []
    return stack


def _innermost_capturer():
    stack = getattr(_thread_state, "capturers", None)
    return stack[-1] if stack else None


def _replica_prefix():
    """"replica_<k>/" inside `strategy.run` where this worker runs several replicas.

    k is the replica context's `replica_id_in_sync_group`. With one replica
    per worker (MultiWorkerMirroredStrategy on one device each) there is no
    prefix: each worker writes its own run instead (`_cluster_task`).
    """
    if not distribute_lib.has_strategy():
        return ""
    replica_context = distribute_lib.get_replica_context()
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
        replica = tensor_util.constant_value(replica)
        if replica is None:
            return ""
    return "replica_%d/" % int(replica)


def _cluster_task():
    """"<task type>_<index>" ("worker_1") when TF_CONFIG names a cluster of several tasks."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
        cluster, task = config.get("cluster") or {}, config.get("task") or {}
        tasks = sum(len(v) for v in cluster.values() if isinstance(v, (list, dict)))
        if tasks > 1 and task.get("type"):
            return "%s_%d" % (task["type"], int(task.get("index", 0)))
    except (ValueError, TypeError, AttributeError):
        pass
    return None
