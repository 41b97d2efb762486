"""Automatic capture: `record()` and `capture_gradients()`.

    import tb_tensorcap as tensorcap

    with tensorcap.record("step"):          # every eager op's outputs, named
        logits = model(x)                    #   step/dense1/0003_MatMul, ...
        loss = loss_fn(y, logits)

    tensorcap.capture_gradients(grads, model.trainable_variables)   # grad/...

`record()` is the article's hand-made capture context manager made real: it
sees every op through TensorFlow's op-callback hook
(``op_callbacks.add_op_callback``, the hook ``tf.debugging``'s dumping
callback uses), names what it sees deterministically, and persists it as
TensorCap captures in TensorBoard summary events.

Names (tags), for an op executed eagerly in ``with record(prefix):``::

    <prefix>/<scope>/<NNNN>_<OpType>[:<k>]

* ``<prefix>``: the block's prefix, nested under the prefixes of the enclosing
  `Capturer` / `record` blocks of the thread (as `Capturer` does).
* ``<scope>``: the ``tf.name_scope`` active when the op ran, relative to the
  scope active when the block was entered (Keras layers open one scope per
  layer: ``sequential/dense1``); omitted when empty.
* ``<NNNN>``: the op's position among all the ops the block executed,
  counting from 0, zero-padded to 4 digits (more past 9999). Filters do not
  renumber: the same code gives the same names at every step whatever
  ``ops``/``dtypes``/``max_captures`` say.
* ``<OpType>``: the op type (``MatMul``); for a call of a ``tf.function`` the
  Python function's name (``train_step``, from ``__inference_train_step_42``).
* ``:<k>``: the output index, for outputs 1, 2, ... of multi-output ops
  (output 0 has no suffix).

Inside a `tf.distribute` replica context the `capture` rules add
``replica_<k>/`` in front of everything (see `summary.py`).

Steps: the explicit ``step``; else TensorFlow's summary step; else the
number of times a block with this prefix was entered before (step n = the
n-th execution of the block, from 0). The step is fixed when the block is
entered: every capture of the block has the same step.

Writer: the explicit ``writer``, else the default ``tf.summary`` writer active
when the block is entered, else TensorCap's own (as for `capture`).

Cost: the callback runs after every op of the block (TensorFlow's own hook
costs next to nothing; TensorCap's bookkeeping is a few microseconds per op:
naming, filters, the source line). Values are not copied when captured:
TensorCap keeps a reference to each output and writes them all at block exit
as one summary event built directly from the tensors' bytes (also whenever
64 MiB are pending; a value over 16 MiB is written on its own, split if
needed). The rest is TensorFlow's event writer, which serializes and writes
some 200-300 MB/s. ``benchmarks/record_bench.py``: an MLP training step of 60
captured values (0.8 MB) takes 2.6 ms plain, about 7.5 ms under ``record()``
and about 16.5 ms under TensorFlow's FULL_TENSOR debugger dump (2 CPU cores).
``tf.summary.record_if(False)`` still suppresses the writing.

`tf.function` coverage, exactly:

* Called inside a block: the function's outputs are captured on every call,
  like an op's, named after the function (``<prefix>/0004_train_step``).
* Traced inside a block (its first call with a new input signature happens
  there): every op the trace creates that TensorCap can store is
  instrumented, a summary write is added to the traced graph, so its internal
  values are written on every later call of that trace too, named
  ``<prefix>/<function>/<scope>/<NNNN>_<OpType>[:<k>]`` (``<prefix>`` of the
  block that traced it; ``<NNNN>`` counts the function's ops; ``<scope>`` is
  the op's name scope inside the function). The writes run only while some
  `record` block is open (in any thread) and use the step of the most
  recently entered open block; calls outside blocks write nothing. A function
  called several times in one block writes its internal values at the same
  tag and step each time (readers keep the last). They are written while
  the function runs, so in the run's capture order they come before the
  block's eager captures that were still buffered at that moment.
* Not instrumented: functions traced before or outside a block (only their
  outputs are captured), ops inside ``tf.cond``/``tf.while_loop`` branches,
  the ops tfdbg also skips (Identity, If, While, function-call ops, ...),
  functions compiled with XLA (``jit_compile=True``, which cannot run summary
  ops) and tf.data functions. Instrumenting never changes the function's
  outputs or adds control dependencies to them.

Threads and nesting: TensorFlow's op callbacks are thread-local, and so is
`record`: only ops run by the thread that entered the block are captured
(`tf.distribute.MirroredStrategy` runs replicas in their own threads: open the
block inside the replica function). In nested blocks each op is captured once,
by the innermost block, under the inner prefix nested in the outer one; each
block has its own op counter and its own step. `tensorcap.capture()` inside a
block writes under the block's prefix at its step, in order with the ops.
The ops TensorCap itself runs to write are never captured.
"""

import re
import sys
import threading
import warnings
import weakref

import numpy as np
import tensorflow as tf
from tensorflow.python.eager import context, execute
from tensorflow.python.framework import op_callbacks, ops, tensor_util
from tensorflow.python.ops import resource_variable_ops, summary_ops_v2

from tb_tensorcap import summary

__all__ = ["record", "Recording", "capture_gradients"]

# Buffered values are written when they reach this many bytes; one value
# larger than _DIRECT_BYTES is written on its own (chunked by `summary`).
_FLUSH_BYTES = 64 << 20
_DIRECT_BYTES = 16 << 20

# Graph ops that are not instrumented (tfdbg's list: control flow and function
# calls, whose outputs cannot take extra consumers safely; plus inputs and
# constants).
_GRAPH_SKIP_OPS = frozenset(
    [
        "Enter", "Exit", "Identity", "If", "LoopCond", "Merge", "NextIteration",
        "StatelessIf", "StatefulPartitionedCall", "PartitionedCall", "Switch",
        "While", "StatelessWhile", "RemoteCall", "DestroyResourceOp", "Placeholder",
        "PlaceholderWithDefault", "Const", "NoOp", "VarHandleOp",
    ]
)
_FUNCTION_NAME = re.compile(r"^__inference_(.+?)_\d+$")

_local = threading.local()  # .records: this thread's open Recording blocks


def record(prefix="step", ops=None, dtypes=None, max_captures=None, step=None, *,
           writer=None, keep=False):
    """Captures the outputs of every op the block executes (module docstring).

    Args:
      prefix: the name under which the block's captures are written.
      ops: a regular expression that the op type must match in full
        (``re.fullmatch``): ``"MatMul|Relu"``, ``".*Conv.*"``. For a
        `tf.function` call the function's name is matched. None: every op.
      dtypes: a dtype or a collection of dtypes (``tf.float32``,
        ``"float32"``, ``np.float32``) to capture; None: every dtype TensorCap
        stores (resource and variant handles are never captured).
      max_captures: the most values the block captures (each output of an op
        is one); when reached the block stops capturing and a RuntimeWarning
        says so, once per (prefix, max_captures) in the process
        (``Recording.stopped`` tells for every block). None: no limit.
      step: the step of every capture of the block (see the module docstring
        for the default).
      writer: a ``tf.summary`` writer to use instead of the default.
      keep: keep the captured tensors in memory, in ``Recording.tensors``
        (by tag relative to the block's prefix).

    Returns:
      A `Recording` context manager; ``with record(...) as rec`` gives it, and
      after the block ``rec.tags`` lists what was captured.
    """
    return Recording(prefix, ops=ops, dtypes=dtypes, max_captures=max_captures,
                     step=step, writer=writer, keep=keep)


class Recording(summary.Capturer):
    """An open (or closed) `record()` block. Use `record()` to make one.

    Attributes:
      prefix: the full prefix of the block's tags.
      step: the step of the block's captures (set on entry).
      tags: the tags this block captured or instrumented, in order (without
        ``replica_<k>/``); the writes of functions instrumented by an earlier
        block are not listed.
      count: how many values were captured.
      stopped: whether ``max_captures`` stopped the block.
    """

    def __init__(self, prefix="step", *, ops=None, dtypes=None, max_captures=None, step=None,
                 writer=None, keep=False):
        super().__init__(prefix, step=step, writer=writer, keep=keep)
        self._ops_regex = re.compile(ops) if isinstance(ops, str) else ops
        self._dtypes = _normalize_dtypes(dtypes)
        if max_captures is not None and (not isinstance(max_captures, int) or max_captures < 0):
            raise ValueError("max_captures must be a non-negative int or None, got %r" % (max_captures,))
        self._limit = max_captures
        self._explicit_step = step
        self.step = None
        self.tags = []
        self.count = 0
        self.stopped = False
        self._entered = False
        self._open = False
        self._names = {}  # op type -> display name, or "" when filtered out
        self._op_index = 0
        self._buffer = []
        self._buffered_bytes = 0
        self._replica = ""
        self._entry_scope = ""
        self._gate_previous = None
        self._failed = False

    # -- entering and leaving -------------------------------------------------

    def __enter__(self):
        if self._entered:
            raise RuntimeError("a record() block cannot be entered twice; call record() again")
        if not tf.executing_eagerly():
            raise RuntimeError(
                "record() must be entered eagerly, not inside tf.function: call the "
                "function inside the block instead (its ops are then captured; see "
                "the tb_tensorcap.autocapture docstring)")
        self._entered = True
        stack = _records()
        if stack:
            stack[-1]._flush()  # keep the outer block's captures in capture order
        with _writing():
            super().__enter__()
            self._replica = summary._replica_prefix()
            self._writer = self._writer if self._writer is not None else summary._active_or_default_writer()
            summary._used_writers.add(self._writer)
            self.step = self._resolve_step()
            self._entry_scope = context.context().scope_name or ""
            self._gate_previous = _gate.push(self.step)
        stack.append(self)
        self._open = True
        if len(stack) == 1:
            _install_callback()
        return self

    def __exit__(self, *exc_info):
        self._open = False
        stack = _records()
        if self in stack:
            stack.remove(self)
            if not stack:
                _remove_callback()
        try:
            self._flush()  # also after an exception: what led to it is worth keeping
        finally:
            with _writing():
                _gate.restore(self._gate_previous)
                super().__exit__(*exc_info)
        return False

    def _resolve_step(self):
        step = self._explicit_step
        if step is None:
            step = summary_ops_v2.get_step()
        if step is None:
            return _next_block_step(self._replica + self.prefix)
        try:
            return int(np.asarray(step))
        except (TypeError, ValueError):
            raise ValueError("record() needs a concrete step, got %r" % (step,)) from None

    # -- manual captures inside the block ---------------------------------------

    def capture(self, value, name, step=None, *, description=None, writer=None):
        """Like `tensorcap.capture`, under the block's prefix and at its step.

        Eager values are written with the block's ops, in order. Inside a
        `tf.function` (and with an explicit ``writer``, or once the block has
        closed) the value is written at once, by the `capture` rules (inside
        a function the block's step, a Python number fixed at trace time, is
        not used).
        """
        name = summary._check_name(name)
        if writer is not None or not tf.executing_eagerly() or not self._open:
            if tf.executing_eagerly():
                self._flush()
                step = step if step is not None else self.step
            return summary.Capturer.capture(
                self, value, name, step, description=description, writer=writer)
        with _writing():
            tensor = summary._to_tensor(value, self._tag(name))
        self._add(name, tensor, summary._source_location(), description, step)
        if self._keep:
            self._tensors[name] = value
        return value

    # -- the op callback ----------------------------------------------------------

    def _cached_display_name(self, op_type):
        """`_display_name(op_type)`, computed once per op type."""
        name = self._names.get(op_type)
        if name is None:
            name = self._names[op_type] = self._display_name(op_type)
        return name

    def _on_eager_op(self, op_type, outputs):
        if self.stopped:
            return
        index = self._op_index
        self._op_index += 1
        if not outputs:
            return
        name = self._cached_display_name(op_type)
        if not name:
            return
        scope = context.context().scope_name
        if scope and self._entry_scope and scope.startswith(self._entry_scope):
            scope = scope[len(self._entry_scope):]
        base = "%s%04d_%s" % (scope, index, name)
        source = None
        for k, tensor in enumerate(outputs):
            if tensor is None or not self._wanted(tensor.dtype):
                continue
            if self._limit is not None and self.count >= self._limit:
                self._stop()
                return
            if source is None:
                source = summary._source_location()
            tag = base if k == 0 else "%s:%d" % (base, k)
            self._add(tag, tensor, source)
            if self._keep:
                self._tensors[tag] = tensor

    def _on_graph_op(self, op_type, outputs, op_name, graph):
        if self.stopped or not outputs or not _instrumentable(graph):
            return
        index = _graph_counters.get(graph, 0)
        _graph_counters[graph] = index + 1
        if op_type in _GRAPH_SKIP_OPS:
            return
        name = self._cached_display_name(op_type)
        if not name:
            return
        scope = (op_name or "").rpartition("/")[0]
        base = "%s/%s%04d_%s" % (graph.name, scope + "/" if scope else "", index, name)
        source = None
        for k, tensor in enumerate(outputs):
            if not self._wanted(tensor.dtype):
                continue
            numel = tensor.shape.num_elements()
            if numel is not None and numel * tensor.dtype.size > summary.metadata.CHUNK_BYTES:
                continue  # cannot be split inside a graph; too large for one event
            if self._limit is not None and self.count >= self._limit:
                self._stop()
                return
            if source is None:
                source = summary._source_location()
            self._instrument(base if k == 0 else "%s:%d" % (base, k), tensor, source)

    def _display_name(self, op_type):
        """The name an op type gets in tags, or "" if `ops` filters it out."""
        match = _FUNCTION_NAME.match(op_type)
        name = match.group(1) if match else op_type
        if self._ops_regex is not None and not self._ops_regex.fullmatch(name):
            return ""
        return name

    def _wanted(self, dtype):
        ok = _storable_dtypes.get(dtype)
        if ok is None:
            ok = _storable_dtypes[dtype] = dtype.name in summary._TF_DTYPE_NAMES
        return ok and (self._dtypes is None or dtype in self._dtypes)

    def _stop(self):
        self.stopped = True
        key = (self.prefix, self._limit)
        if key in _warned:
            return
        _warned.add(key)
        source = summary._source_location()
        warnings.warn_explicit(
            "tensorcap.record(%r) stopped capturing after %d values: max_captures=%d "
            "was reached, so the rest of the block (from op #%d on) is not captured. "
            "Raise max_captures (or pass max_captures=None), or narrow what is "
            "captured with ops= / dtypes=. (Warned once per prefix and limit; "
            "Recording.stopped tells for each block.)"
            % (self.prefix, self.count, self._limit, self._op_index - 1),
            RuntimeWarning, source["file"], source["line"])

    def _fail(self, error):
        """An error inside the callback must not break the user's computation."""
        if not self._failed:
            self._failed = True
            warnings.warn("tensorcap.record(%r): capturing failed and is skipped for this op: %r"
                          % (self.prefix, error), RuntimeWarning, stacklevel=3)

    # -- writing --------------------------------------------------------------------

    def _tag(self, name):
        return "%s/%s" % (self.prefix, name) if self.prefix else name

    def _add(self, name, tensor, source, description=None, step=None):
        """Counts one capture and buffers (or writes) it."""
        tag = self._tag(name)
        self.count += 1
        self.tags.append(tag)
        numel = tensor.shape.num_elements() or 0
        nbytes = numel * (tensor.dtype.size if tensor.dtype != tf.string else 64)
        if nbytes > _DIRECT_BYTES or (step is not None and step != self.step):
            self._flush()
            summary._write(tensor, tag, self.step if step is None else step, description,
                           self._writer, source)
            return
        self._buffer.append((tag, tensor, source, description))
        self._buffered_bytes += nbytes
        if self._buffered_bytes >= _FLUSH_BYTES:
            self._flush()

    def _flush(self):
        """Writes the buffered captures as one summary event."""
        if not self._buffer:
            return
        items, self._buffer, self._buffered_bytes = self._buffer, [], 0
        pieces = []
        for tag, tensor, source, description in items:
            _encode_value(pieces, self._replica + tag, tensor,
                          summary._serialized_metadata(source, description))
        with _writing(), summary._writer_as_default(self._writer):
            summary_ops_v2.write_raw_pb(b"".join(pieces), step=self.step)

    def _instrument(self, name, tensor, source):
        """Adds a gated summary write of a symbolic `tensor` to its graph."""
        tag = self._tag(name)
        self.count += 1
        self.tags.append(tag)
        with _writing():
            step = _gate.tensor()
            active = step >= 0
            state = summary_ops_v2._summary_state
            user = state.is_recording() if callable(state.is_recording) else state.is_recording
            condition = active if user is None else tf.logical_and(user, active)
            with summary._writer_as_default(self._writer), summary_ops_v2.record_if(condition):
                tf.summary.write(self._replica + tag, tensor, step=step,
                                 metadata=summary._serialized_metadata(source, None))


# -- the callback, installed while a thread has an open block ------------------------


def _op_callback(op_type, inputs, attrs, outputs, op_name=None, graph=None):
    stack = getattr(_local, "records", None)
    if not stack or getattr(summary._thread_state, "writing", False):
        return None
    recording = stack[-1]
    if type(op_type) is bytes:
        op_type = op_type.decode("utf-8", "replace")
    try:
        if graph is None:
            recording._on_eager_op(op_type, outputs)
        else:
            recording._on_graph_op(op_type, outputs, op_name, graph)
    except Exception as e:  # noqa: BLE001 - never break the user's op
        recording._fail(e)
    return None


_install_lock = threading.Lock()
_threads_installed = 0


def _install_callback():
    global _threads_installed
    with _install_lock:
        op_callbacks.add_op_callback(_op_callback)
        _threads_installed += 1


def _remove_callback():
    global _threads_installed
    with _install_lock:
        op_callbacks.remove_op_callback(_op_callback)
        _threads_installed -= 1
        if _threads_installed > 0:
            # remove_op_callback restores TensorFlow's fast path when *this*
            # thread has no callback left, which would silence the others.
            execute.execute = execute.execute_with_callbacks


def _records():
    stack = getattr(_local, "records", None)
    if stack is None:
        stack = _local.records = []
    return stack


class _writing:
    """Marks the ops run inside as TensorCap's own: the callback skips them."""

    def __enter__(self):
        self._previous = getattr(summary._thread_state, "writing", False)
        summary._thread_state.writing = True

    def __exit__(self, *exc_info):
        summary._thread_state.writing = self._previous
        return False


_block_lock = threading.Lock()
_block_counts = {}


def _next_block_step(key):
    with _block_lock:
        count = _block_counts.get(key, 0)
        _block_counts[key] = count + 1
        return count


_storable_dtypes = {}
_warned = set()  # (prefix, max_captures) already warned about


def _normalize_dtypes(dtypes):
    if dtypes is None:
        return None
    if isinstance(dtypes, (str, tf.DType, np.dtype, type)):
        dtypes = [dtypes]
    try:
        return frozenset(tf.as_dtype(d) for d in dtypes)
    except TypeError as e:
        raise TypeError("record(dtypes=...) takes dtypes or dtype names: %s" % e) from None


# -- graph instrumentation ----------------------------------------------------------

_graph_counters = weakref.WeakKeyDictionary()
_graph_instrumentable = weakref.WeakKeyDictionary()


def _instrumentable(graph):
    """Whether summary writes may be added to `graph` (cached per graph)."""
    ok = _graph_instrumentable.get(graph)
    if ok is None:
        ok = _graph_instrumentable[graph] = _check_instrumentable(graph)
    return ok


def _check_instrumentable(graph):
    from tensorflow.python.framework import func_graph as func_graph_module

    if not isinstance(graph, func_graph_module.FuncGraph):
        return False  # TF1-style graph
    try:
        from tensorflow.python.ops import control_flow_util_v2 as cf

        if isinstance(graph, (cf.CondBranchFuncGraph, cf.WhileCondFuncGraph, cf.WhileBodyFuncGraph)):
            return False
    except (ImportError, AttributeError):
        pass
    # XLA-compiled functions cannot run summary ops, and tf.data functions run
    # in tf.data's own threads. Neither is visible on the graph: look at the
    # tracing frames.
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "_create_concrete_function":
            options = frame.f_locals.get("tracing_options")
            attributes = getattr(options, "attributes", None) or {}
            if attributes.get("_XlaMustCompile"):
                return False
        elif "/data/ops/" in code.co_filename.replace("\\", "/") and "tensorflow" in code.co_filename:
            return False
        frame = frame.f_back
    return True


class _Gate:
    """The step of the most recently entered open block, read by instrumented graphs.

    -1 while no block is open: instrumented graphs then write nothing. Created
    (as a plain resource variable, outside any distribution strategy) when the
    first graph is instrumented.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._variable = None
        self._value = -1

    def push(self, step):
        with self._lock:
            previous, self._value = self._value, step
            if self._variable is not None:
                self._variable.assign(step)
            return previous

    def restore(self, previous):
        with self._lock:
            self._value = -1 if previous is None else previous
            if self._variable is not None:
                self._variable.assign(self._value)

    def tensor(self):
        with self._lock:
            if self._variable is None:
                with ops.init_scope(), tf.device("/cpu:0"):
                    self._variable = resource_variable_ops.ResourceVariable(
                        self._value, dtype=tf.int64, trainable=False, name="tensorcap_record_step")
            variable = self._variable
        return variable.read_value()


_gate = _Gate()


# -- the event encoding -------------------------------------------------------------


def _varint(n):
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _encode_value(pieces, tag, tensor, metadata_bytes):
    """Appends one serialized ``Summary.value`` entry to `pieces`.

    Numeric values are encoded by hand (dtype, shape, raw little-endian
    ``tensor_content``: what ``tf.summary.write`` writes), avoiding a
    protobuf copy of every value; strings go through `make_tensor_proto`.
    """
    # `_numpy()` shares the tensor's buffer (no copy); `tensor` outlives `pieces`' use.
    array = np.asarray(tensor._numpy() if hasattr(tensor, "_numpy") else tensor)
    dtype = tensor.dtype
    if dtype == tf.string:
        tensor_pieces = [tensor_util.make_tensor_proto(array).SerializeToString()]
    else:
        if sys.byteorder != "little":  # pragma: no cover
            array = array.byteswap()
        content = memoryview(np.ascontiguousarray(array).reshape(-1).view(np.uint8))
        dims = b"".join(b"\x12" + _varint(len(d)) + d for d in
                        (b"\x08" + _varint(int(size)) for size in array.shape))
        head = (b"\x08" + _varint(dtype.as_datatype_enum) + b"\x12" + _varint(len(dims)) + dims
                + b"\x22" + _varint(len(content)))
        tensor_pieces = [head, content]
    tensor_length = sum(len(p) for p in tensor_pieces)
    tag_bytes = tag.encode("utf-8")
    value_head = b"\x0a" + _varint(len(tag_bytes)) + tag_bytes + b"\x42" + _varint(tensor_length)
    value_tail = b"\x4a" + _varint(len(metadata_bytes)) + metadata_bytes
    value_length = len(value_head) + tensor_length + len(value_tail)
    pieces.append(b"\x0a" + _varint(value_length) + value_head)
    pieces.extend(tensor_pieces)
    pieces.append(value_tail)


# -- gradients ---------------------------------------------------------------------


def capture_gradients(grads, variables, step=None, prefix="grad", *, writer=None):
    """Captures each gradient under the name of its variable; returns `grads`.

    Tags: ``<prefix>/<variable name>``, where the name is a Keras variable's
    ``path`` (``sequential/dense1/kernel``) or a ``tf.Variable``'s name
    without its ``:0`` (``dense/kernel`` from ``dense/kernel:0``); a name
    seen twice in one call gets ``_1``, ``_2``, ... Active `Capturer` /
    `record` prefixes apply as for `capture`.

    None gradients (variables the loss does not depend on) are skipped.
    ``tf.IndexedSlices`` gradients (from gathers, embeddings) are densified to
    the variable's full shape with ``tf.convert_to_tensor``: rows that were
    not touched are 0 and repeated indices are summed, i.e. the dense
    gradient the optimizer effectively applies.

    Args:
      grads: gradients, as from ``tape.gradient(loss, variables)``.
      variables: the variables, in the same order.
      step: the step (else the `capture` rules).
      prefix: the name in front of every tag ("" for none).
      writer: a ``tf.summary`` writer to use instead of the default.
    """
    grads = list(grads)
    variables = list(variables)
    if len(grads) != len(variables):
        raise ValueError("capture_gradients got %d gradients for %d variables"
                         % (len(grads), len(variables)))
    seen = {}
    for grad, variable in zip(grads, variables):
        name = variable_name(variable)
        count = seen.get(name, 0)
        seen[name] = count + 1
        if count:
            name = "%s_%d" % (name, count)
        if grad is None:
            continue
        if isinstance(grad, tf.IndexedSlices):
            with _writing():
                grad = tf.convert_to_tensor(grad)
        summary.capture(grad, "%s/%s" % (prefix.strip("/"), name) if prefix.strip("/") else name,
                        step, writer=writer)
    return grads


def variable_name(variable):
    """A variable's capture name: Keras ``path``, else ``name`` without ``:0``."""
    path = getattr(variable, "path", None)
    if isinstance(path, str) and path:
        return path
    name = getattr(variable, "name", None) or "variable"
    return re.sub(r":\d+$", "", name)
