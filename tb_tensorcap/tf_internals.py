"""Every reach into TensorFlow's private modules (``tensorflow.python``), in one place.

TensorCap needs a few things TensorFlow's public API does not offer: a hook
that sees every op, the thread's summary-writer state, the user's frame in a
traced function, and which graphs may take extra summary ops. Each is wrapped
here, with the TensorFlow versions it was checked against, so that a
TensorFlow upgrade is checked in one module. No other module imports
``tensorflow.python``.

"Checked" means the test suite (tests/test_autocapture.py, test_summary.py,
test_distribute.py, test_keras.py) passes on that version.
"""

import functools
import os
import sys
import weakref

import tensorflow as tf
from tensorflow.python.eager import context as _context
from tensorflow.python.eager import execute as _execute
from tensorflow.python.framework import func_graph as _func_graph
from tensorflow.python.framework import op_callbacks as _op_callbacks
from tensorflow.python.framework import ops as _ops
from tensorflow.python.ops import control_flow_util as _control_flow_util
from tensorflow.python.ops import gen_summary_ops as _gen_summary_ops
from tensorflow.python.ops import resource_variable_ops as _resource_variable_ops
from tensorflow.python.ops import summary_ops_v2 as _summary_ops_v2
from tensorflow.python.util import tf_stack as _tf_stack

# -- op callbacks (checked: TF 2.21) ------------------------------------------
# `op_callbacks.add_op_callback` is the hook tfdbg's dumping callback uses; it
# is per thread and sees eager ops and ops created while tracing a function.


def add_op_callback(callback):
    """Calls `callback(op_type, inputs, attrs, outputs, op_name, graph)` after each op of this thread."""
    _op_callbacks.add_op_callback(callback)


def remove_op_callback(callback):
    """Removes a callback added by `add_op_callback` from this thread."""
    _op_callbacks.remove_op_callback(callback)


def thread_op_callbacks():
    """The op callbacks installed in this thread, TensorCap's and others' (checked: TF 2.21).

    A closed `record()` block leaves none of TensorCap's behind; the tests
    check it through here rather than reach into TensorFlow themselves.
    """
    return tuple(_context.context().op_callbacks)


def keep_callbacks_path():
    """Keeps TensorFlow's eager `execute` on the path that runs op callbacks (checked: TF 2.21).

    `remove_op_callback` restores the fast path (``execute.execute =
    quick_execute``) when the calling thread has no callback left, which would
    silence the callbacks other threads still have.
    """
    _execute.execute = _execute.execute_with_callbacks


def graph_names_in_use(graph):
    """The names (lower case) a graph has handed out, as a mapping; checked: TF 2.21.

    `Graph.unique_name` keeps them in ``_names_in_use``; read to undo its
    scope uniquifiers (`op_naming.requested_scope`). Empty if absent.
    """
    return getattr(graph, "_names_in_use", None) or {}


def eager_scope_name():
    """The eager context's current name scope ("" or "a/b/"); checked: TF 2.21."""
    return _context.context().scope_name or ""


def eager_shape(tensor):
    """An eager tensor's shape as a tuple of ints; checked: TF 2.21.

    ``EagerTensor.shape`` builds a `tf.TensorShape` (a Dimension per axis) on
    every call: a cost per tensor when a block closes over a step's dozens.
    """
    return tensor._shape_tuple()


# -- summary writer state (checked: TF 2.21) ----------------------------------
# `summary_ops_v2._summary_state` is the thread-local state behind
# `writer.as_default()` and `tf.summary.record_if`.


def active_writer():
    """The thread's default `tf.summary` writer, or None."""
    return _summary_ops_v2._summary_state.writer


def user_recording_condition():
    """The user's `tf.summary.record_if` condition: None, a bool, or a boolean tensor."""
    state = _summary_ops_v2._summary_state
    return state.is_recording() if callable(state.is_recording) else state.is_recording


def write_raw_summary(serialized, step):
    """Writes the serialized ``Summary`` bytes at `step` with the thread's default writer, eagerly.

    One op, where ``tf.summary.experimental.write_raw_pb`` builds six (the
    step and the condition as tensors, a ``cond``, an identity): used only
    when its condition is plainly true (no ``tf.summary.record_if``, or
    ``record_if(True)``; not a callable or a tensor); otherwise it goes
    through ``write_raw_pb``, which decides as TensorFlow does.
    """
    state = _summary_ops_v2._summary_state
    if state.writer is None:
        return
    recording = state.is_recording
    if (recording is None or recording is True) and state.is_recording_distribution_strategy is True:
        with tf.device("cpu:0"):
            _gen_summary_ops.write_raw_proto_summary(state.writer._resource, step, serialized)
        return
    tf.summary.experimental.write_raw_pb(serialized, step=step)


def user_records_now():
    """Whether the user's `tf.summary.record_if` lets an eager write happen now (no condition: True)."""
    condition = user_recording_condition()
    return condition is None or bool(condition)


# -- where a `tf.summary` file writer writes (checked: TF 2.21) ----------------
# `tf.summary.create_file_writer` gives the logdir to its init op only (a
# `functools.partial` keyword); the writer object does not keep it. TensorCap
# wraps `_ResourceSummaryWriter.__init__` to note it on the writer, and its
# `flush` and `close` to flush TensorCap's own event file in the same run
# (`direct_writer`) first, so that ``writer.flush()`` still means "every
# capture written to this writer is on disk". Writers created before
# tb_tensorcap was imported have no logdir noted.


def summary_writer_logdir(writer):
    """The logdir a `tf.summary.create_file_writer` writer was created with (absolute if local), or None."""
    return getattr(writer, "_tensorcap_logdir", None)


def created_before_hook(writer):
    """Whether `writer` is a `tf.summary` file writer made before `hook_summary_writers` (its logdir unknown)."""
    return isinstance(writer, _summary_ops_v2._ResourceSummaryWriter) and not hasattr(writer, "_tensorcap_logdir")


def summary_writer_flushes_each_write(writer):
    """Whether a writer was created with ``flush_millis=0`` or ``max_queue=0``: TensorFlow then flushes every write."""
    return getattr(writer, "_tensorcap_flushes_each_write", False)


def _is_zero(limit):
    """Whether a `create_file_writer` limit is 0: a Python number stays one (only None becomes a tensor)."""
    if isinstance(limit, _ops.EagerTensor):
        limit = limit.numpy()
    try:
        return limit is not None and int(limit) == 0
    except (TypeError, ValueError):
        return False


def hook_summary_writers(before_flush):
    """Calls `before_flush(writer, closing)` before every eager `flush()` and `close()` of a `tf.summary` file writer.

    Installed once; also makes new writers note their logdir (`summary_writer_logdir`).
    """
    cls = _summary_ops_v2._ResourceSummaryWriter
    if getattr(cls, "_tensorcap_hooked", False):
        return
    init, flush, close = cls.__init__, cls.flush, cls.close

    def __init__(self, create_fn, init_op_fn, *args, **kwargs):
        init(self, create_fn, init_op_fn, *args, **kwargs)
        self._tensorcap_logdir = None  # known below for a file writer created eagerly
        keywords = getattr(init_op_fn, "keywords", {})
        logdir = keywords.get("logdir")
        if isinstance(logdir, _ops.EagerTensor):
            logdir = logdir.numpy().decode("utf-8", "replace")
            self._tensorcap_logdir = logdir if "://" in logdir else os.path.abspath(logdir)
            limits = [keywords.get(name) for name in ("flush_millis", "max_queue")]
            self._tensorcap_flushes_each_write = any(_is_zero(limit) for limit in limits)

    def hooked(method, closing):
        @functools.wraps(method)
        def call(self):
            error = None
            if tf.executing_eagerly() and not getattr(self, "_closed", False):
                try:
                    before_flush(self, closing)
                except OSError as e:  # raised after TensorFlow's own flush or close has run
                    error = e
            result = method(self)
            if error is not None:
                raise error
            return result

        return call

    cls.__init__, cls.flush, cls.close = __init__, hooked(flush, False), hooked(close, True)
    cls._tensorcap_hooked = True


class writer_as_default:
    """Makes `writer` the thread's default summary writer for a block.

    Unlike `writer.as_default()`, leaving the block does not flush: a flush per
    capture would cost more than the capture. It also records in every replica
    (a replica context records summaries on replica 0 only; TensorCap's
    captures are per replica).
    """

    def __init__(self, writer):
        self._writer = writer

    def __enter__(self):
        state = _summary_ops_v2._summary_state
        self._previous = state.writer
        state.writer = self._writer
        self._previous_distributed = state.is_recording_distribution_strategy
        state.is_recording_distribution_strategy = True

    def __exit__(self, *exc_info):
        state = _summary_ops_v2._summary_state
        state.writer = self._previous
        state.is_recording_distribution_strategy = self._previous_distributed
        return False


# -- the variable an op reads (checked: TF 2.21, Keras 3.12) ------------------


def variable_being_read(frame, max_frames):
    """The variable TensorFlow is reading (or capturing into a function) on this stack, or None.

    Found among the `max_frames` frames from `frame` outwards as the ``self``
    of a ``BaseResourceVariable`` method; a Keras variable wrapping it, a few
    frames further out, is preferred, as it has the user's ``path``.
    """
    found = None
    for _ in range(max_frames):
        if frame is None:
            break
        owner = frame.f_locals.get("self") if "self" in frame.f_code.co_varnames else None
        if isinstance(owner, _resource_variable_ops.BaseResourceVariable):
            if found is None:  # never `found or owner`: a variable's truth value reads it
                found = owner
        elif found is not None and isinstance(getattr(owner, "path", None), str) and hasattr(owner, "assign"):
            return owner
        frame = frame.f_back
    return found


# -- source lines inside traced functions (checked: TF 2.21) ------------------


def traced_stack():
    """The stack of the op being traced, AutoGraph's generated frames mapped back to the user's code.

    Entries have ``filename``, ``lineno`` and ``name``, outermost first.
    """
    return _tf_stack.extract_stack()


# -- which graphs may take extra summary ops (checked: TF 2.21) ---------------


def in_xla_context():
    """Whether the default graph (or a graph it is nested in) is compiled with XLA."""
    return _control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


def is_function_graph(graph):
    """Whether `graph` is a `tf.function`'s graph (not a TF1-style graph)."""
    return isinstance(graph, _func_graph.FuncGraph)


def is_control_flow_branch(graph):
    """Whether `graph` is a `tf.cond` branch or a `tf.while_loop` cond/body graph."""
    try:
        from tensorflow.python.ops import control_flow_util_v2 as cf

        return isinstance(graph, (cf.CondBranchFuncGraph, cf.WhileCondFuncGraph, cf.WhileBodyFuncGraph))
    except (ImportError, AttributeError):
        return False


def tracing_for_xla_or_tf_data():
    """Whether the function being traced is XLA-compiled or a tf.data function.

    Neither is visible on the graph, so this looks at the tracing frames:
    ``_create_concrete_function``'s ``tracing_options.attributes`` holds
    ``_XlaMustCompile`` for ``jit_compile=True``, and tf.data traces its
    functions from ``tensorflow/.../data/ops/``. Checked: TF 2.21.
    """
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "_create_concrete_function":
            options = frame.f_locals.get("tracing_options")
            attributes = getattr(options, "attributes", None) or {}
            if attributes.get("_XlaMustCompile"):
                return True
        elif "/data/ops/" in code.co_filename.replace("\\", "/") and "tensorflow" in code.co_filename:
            return True
        frame = frame.f_back
    return False


# -- the end of a trace (checked: TF 2.21) -------------------------------------


def at_trace_end(graph, build):
    """Calls `build()` when the `tf.function` whose `graph` is being traced ends its trace.

    `build` runs in `graph`, after the traced Python function returned, and
    returns the ops it added; they are made control outputs of the function
    (else its runtime would prune them: they run after every op whose
    output they read, before the call returns).

    TensorFlow's hook, ``ops.add_exit_callback_to_default_func_graph``, runs
    a callback when the innermost ``graph.as_default()`` scope exits, and
    every op creation opens one. So the callback moves itself out one scope
    at a time: it runs in ``_func_graph_as_default_inner_cm``'s frame, whose
    ``old_scope_exit_callbacks`` is the enclosing scope's list, None for
    the trace's own scope (after automatic control dependencies were
    computed, before ``func_graph_from_py_func`` extends
    ``control_outputs``).
    """
    if _ops.get_default_graph() is not graph:
        raise RuntimeError("at_trace_end: %r is not the graph being traced" % (graph,))

    def on_exit():
        frame = sys._getframe(1)
        if frame.f_code.co_name != "_func_graph_as_default_inner_cm":
            raise RuntimeError("at_trace_end: TensorFlow's scope exit callbacks changed (checked: TF 2.21)")
        enclosing = frame.f_locals.get("old_scope_exit_callbacks")
        if enclosing is not None:
            enclosing.append(on_exit)
        else:
            graph.control_outputs.extend(build())

    _ops.add_exit_callback_to_default_func_graph(on_exit)


# -- variables outside distribution strategies (checked: TF 2.21) -------------


def plain_resource_variable(initial_value, **kwargs):
    """A `ResourceVariable(initial_value, **kwargs)` that no distribution strategy mirrors or wraps.

    Create it under `tf.init_scope()`; `tf.Variable` inside a strategy's scope
    would make a distributed variable. TensorCap makes its own variables
    (steps, stashes, rings) with it, and `own_variable_name` knows them.
    """
    variable = _resource_variable_ops.ResourceVariable(initial_value, **kwargs)
    handle = variable.handle
    if tf.executing_eagerly():
        _own_handles[id(handle)] = (weakref.ref(handle), "tensorcap/%s" % kwargs.get("name", "variable"))
    return variable


_own_handles = {}  # id(eager handle) -> (weak reference, name) of TensorCap's own variables


def own_variable_name(handle):
    """ "tensorcap/<name>" when `handle` is one of TensorCap's own variables (a function that
    TensorCap instrumented takes them as inputs), else None."""
    found = _own_handles.get(id(handle))
    return found[1] if found is not None and found[0]() is handle else None
