"""The capture rules both capture paths share, without TensorFlow.

`summary.py` (TensorFlow) and `plain_capture.py` (numpy, JAX, PyTorch) write
captures through different writers, but one program may use both (numpy or
PyTorch values next to tensors, a `tensorcap.Writer` next to ``tf.summary``
writers), and then they act as one:

* one stack of open `Capturer` blocks per thread: prefixes nest across both
  kinds, and `capture()` inside a block writes under the innermost one;
* one name check, and one conversion of array-likes to numpy (`arrays`; a
  JAX tracer is refused with the way out);
* one notion of where a capture was made: the innermost frame outside
  TensorCap and the libraries that call user code (TensorFlow, Keras, JAX,
  Flax, PyTorch);
* one per-tag counter of default steps (`step_counters`);
* one default run (`DefaultWriter`): ``$TENSORCAP_LOGDIR``, else
  ``runs/<YYYYmmdd-HHMMSS>`` with the time the process first needed it (so
  TensorCap's TensorFlow writer and its TensorFlow-free one write to the same
  run), ``<task type>_<index>`` below it for a multi-worker cluster; announced
  once on stderr, flushed every ``$TENSORCAP_FLUSH_SECS`` seconds (default 5)
  and at exit, refusing captures when its disk is full.
"""

import atexit
import errno
import importlib.util
import json
import os
import sys
import threading
import time

from tb_tensorcap import arrays

_thread_state = threading.local()  # .capturers: this thread's open Capturers


def check_name(name):
    """Returns `name` if it is a usable capture name, else raises ValueError."""
    if not isinstance(name, str) or not name.strip("/"):
        raise ValueError("capture name must be a non-empty string, got %r" % (name,))
    return name


def to_numpy(value, tag):
    """A value that is not a TensorFlow tensor as numpy (`arrays.to_numpy`), or raises naming `tag`."""
    if type(value).__name__.endswith("Tracer") and type(value).__module__.startswith("jax"):
        raise TypeError(
            "cannot capture %r: it is a JAX tracer (inside jax.jit, jax.grad or vmap), which holds no "
            "numbers yet. Capture outside the traced function, or inside it with "
            "jax.debug.callback(lambda v: tensorcap.capture(v, %r), value)" % (tag, tag)
        )
    return arrays.to_numpy(value, tag)


# -- Capturer blocks ------------------------------------------------------------


def capturer_stack():
    """This thread's open `Capturer` blocks (both kinds), innermost last (a mutable list)."""
    stack = getattr(_thread_state, "capturers", None)
    if stack is None:
        stack = _thread_state.capturers = []
    return stack


def innermost_capturer():
    """The innermost open `Capturer` of this thread, or None."""
    stack = getattr(_thread_state, "capturers", None)
    return stack[-1] if stack else None


class Capturer:
    """A scope that names captures under a prefix and keeps their values.

    The article's hand-made context manager, made persistent::

        with tensorcap.Capturer("block1") as cap:
            z = cap.capture(x * y, "z")        # written as "block1/z"
        cap["z"], cap.tensors                  # the values, in memory

    Prefixes nest: a `Capturer("b")` entered inside `Capturer("a")` writes
    under "a/b/". Inside the block, the module-level `tensorcap.capture` also
    uses the innermost prefix and keeps its value here. The block stack is
    per thread. A subclass says how a capture is written (`_write`) and where
    it was made (`_source_location`): `summary.Capturer` (TensorFlow) and
    `plain_capture.Capturer`.

    Args:
      prefix: the name scope for captures made through this capturer.
      step, writer: defaults for this capturer's captures (the module rules
        apply when None).
      keep: whether to keep captured values in memory (`tensors`).
    """

    def __init__(self, prefix=None, *, step=None, writer=None, keep=True):
        self._own_prefix = check_name(prefix).strip("/") if prefix else ""
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
        stack = capturer_stack()
        outer = stack[-1].prefix if stack else ""
        self._prefix = "/".join(p for p in (outer, self._own_prefix) if p)
        stack.append(self)
        return self

    def __exit__(self, *exc_info):
        stack = capturer_stack()
        if self in stack:
            stack.remove(self)
        return False

    def capture(self, value, name, step=None, *, description=None, writer=None, axes=None):
        """Like `tensorcap.capture`, under this capturer's prefix."""
        name = check_name(name)
        tag = "%s/%s" % (self._prefix, name) if self._prefix else name
        self._write(
            value,
            tag,
            step if step is not None else self._step,
            description,
            writer if writer is not None else self._writer,
            self._source_location(),
            axes,
        )
        if self._keep:
            self._tensors[name] = value
        return value

    def _write(self, value, tag, step, description, writer, source, axes):
        raise NotImplementedError("a Capturer subclass writes (summary.Capturer, plain_capture.Capturer)")

    @staticmethod
    def _source_location():
        return source_location(depth=3)


# -- where a capture was made -------------------------------------------------------


def package_dirs(*names):
    """The directories (real paths) of installed packages, found without importing them."""
    dirs = []
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):  # an import hook refusing it, a broken install
            spec = None
        for location in (spec.submodule_search_locations or []) if spec else []:
            dirs.append(os.path.realpath(location) + os.sep)
    return tuple(dirs)


# Frames in these directories are library code, not the capture site (a capture
# made from a jax.debug.callback or a Keras callback is attributed to the user's call).
LIBRARY_DIRS = package_dirs("tb_tensorcap", "tensorflow", "keras", "tf_keras", "jax", "jaxlib", "flax", "torch")
UNKNOWN_SOURCE = {"file": "<unknown>", "line": 0, "function": "<unknown>"}
_library_files = {}  # a file name as code objects give it -> whether it is library code


def is_library(filename):
    """Whether `filename` is in TensorCap or one of the `LIBRARY_DIRS` packages, compared as real paths.

    Code objects keep the path a module was imported through, which may be
    relative or not normalised (``demo/../tb_tensorcap/autocapture.py``).
    """
    known = _library_files.get(filename)
    if known is None:
        known = _library_files[filename] = os.path.realpath(filename).startswith(LIBRARY_DIRS)
    return known


_locations = {}  # (code object, line) -> its location dict, shared by every capture made there


def frame_location(frame):
    """File, line and function of the innermost user-code frame from `frame` outwards, or None.

    The dict is shared by every capture from that line (never mutated): a
    training loop captures from the same lines every step, and a new dict per
    capture kept for the flight recorder's steps is work for Python's garbage
    collector.
    """
    while frame is not None and is_library(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return None
    code, line = frame.f_code, frame.f_lineno
    found = _locations.get((code, line))
    if found is None:
        if len(_locations) >= 1 << 14:  # generated code (exec, notebooks) must not grow it forever
            _locations.clear()
        found = _locations[code, line] = {"file": code.co_filename, "line": line, "function": code.co_name}
    return found


def source_location(depth=2):
    """File, line and function of the innermost frame in user code, from `depth` frames above this one."""
    return frame_location(sys._getframe(depth)) or dict(UNKNOWN_SOURCE)


# -- default steps -------------------------------------------------------------------


class StepCounters:
    """Per-tag capture counters: the default step of the n-th capture of a tag is n."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = {}

    def next_step(self, tag):
        """The default step of this capture of `tag`, counted."""
        with self._lock:
            count = self._counts.get(tag, 0)
            self._counts[tag] = count + 1
            return count

    def count(self, tag):
        """How many captures of `tag` were counted."""
        with self._lock:
            return self._counts.get(tag, 0)


# The process's counters, shared by both paths: a tag captured without a step through
# either counts on (`capture_context.StepCounters` adds tf.function's counters). Tests replace it.
step_counters = StepCounters()


# -- TensorCap's own writer -------------------------------------------------------------

_MIN_FREE_BYTES = 1 << 20  # TensorCap's own writer refuses captures below this much free disk
_run_lock = threading.Lock()
_run_name = None  # "YYYYmmdd-HHMMSS" of the process's default run, once needed
_announced = set()  # logdirs already announced on stderr


class DefaultWriter:
    """TensorCap's own writer, created on first use; a subclass says how (`_create`).

    `writers.DefaultWriter` makes a ``tf.summary`` file writer and flushes it
    at exit; `event_writer.DefaultWriter` a `tensorcap.Writer`, closed at exit.
    """

    at_exit = "flush"  # the writer's method called at interpreter exit

    def __init__(self):
        self._lock = threading.Lock()
        self._writer = None
        self._logdir = None

    @property
    def logdir(self):
        if self._logdir is None:
            self._logdir = os.environ.get("TENSORCAP_LOGDIR") or os.path.join("runs", _default_run_name())
            task = cluster_task()
            if task:  # multi-worker training: one run per worker
                self._logdir = os.path.join(self._logdir, task)
        return self._logdir

    def get(self):
        """The writer, made (and announced) on the first call; OSError when it cannot write or the disk is full."""
        with self._lock:
            if self._writer is None:
                flush_secs = float(os.environ.get("TENSORCAP_FLUSH_SECS", "5"))
                self._writer = self._create(self.logdir, flush_secs)
                if self.logdir not in _announced:
                    _announced.add(self.logdir)
                    print("tensorcap: writing captures to %s" % self.logdir, file=sys.stderr)
                atexit.register(getattr(self._writer, self.at_exit))
            check_free_space(self.logdir)
            return self._writer

    def _create(self, logdir, flush_secs):
        """A new writer at `logdir`, flushed every `flush_secs`; OSError naming `logdir` when it cannot."""
        raise NotImplementedError


def _default_run_name():
    global _run_name
    with _run_lock:
        if _run_name is None:
            _run_name = time.strftime("%Y%m%d-%H%M%S")
        return _run_name


def check_free_space(logdir):
    """Raises OSError (ENOSPC) when the local disk of `logdir` is (nearly) full.

    Checked before each capture to TensorCap's own writer. On a full disk
    TensorFlow drops events without an error (it ignores a failed write of a
    record larger than its 4 KB buffer; the flush of the then empty buffer
    succeeds), and TensorBoard's writer fails in a background thread, so the
    next capture fails here instead, with a clear error.
    """
    if "://" in logdir or not hasattr(os, "statvfs"):
        return
    try:
        disk = os.statvfs(logdir)
    except OSError:
        return
    free = (disk.f_bfree if hasattr(os, "geteuid") and os.geteuid() == 0 else disk.f_bavail) * disk.f_frsize
    if free < _MIN_FREE_BYTES:
        raise OSError(
            errno.ENOSPC,
            "No space left on device: TensorCap cannot write captures to %r "
            "(%d bytes free); captures not yet flushed may be lost" % (logdir, free),
        )


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
