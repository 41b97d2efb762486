"""Instrumenting a `tf.function` traced inside a `record()` block.

Exactly what is covered:

* Called inside a block: the function's outputs are captured on every call,
  like an op's, named after the function (``<prefix>/0004_train_step``).
* Traced inside a block (its first call with a new input signature happens
  there): every op the trace creates that TensorCap can store is
  instrumented, a summary write is added to the traced graph, so its internal
  values are written on every later call of that trace too (names in
  `op_naming`; ``<prefix>`` of the block that traced it). The writes run only
  while some `record` block is open (in any thread) and use the step of the
  most recently entered open block (`gate`); calls outside blocks write
  nothing. A function called several times in one block writes its internal
  values at the same tag and step each time (readers keep the last). They are
  written while the function runs, so in the run's capture order they come
  before the block's eager captures that were still buffered at that moment.
* Not instrumented: functions traced before or outside a block (only their
  outputs are captured), ops inside ``tf.cond``/``tf.while_loop`` branches,
  the ops tfdbg also skips (`SKIPPED_OP_TYPES`), functions compiled with XLA
  (``jit_compile=True``, which cannot run summary ops) and tf.data functions.
  Instrumenting never changes the function's outputs or adds control
  dependencies to them.
"""

import threading
import weakref

import tensorflow as tf

from tb_tensorcap import capture_context, tf_internals

# Graph ops that are not instrumented (tfdbg's list: control flow and function
# calls, whose outputs cannot take extra consumers safely; plus inputs and
# constants).
SKIPPED_OP_TYPES = frozenset(
    [
        "Enter",
        "Exit",
        "Identity",
        "If",
        "LoopCond",
        "Merge",
        "NextIteration",
        "StatelessIf",
        "StatefulPartitionedCall",
        "PartitionedCall",
        "Switch",
        "While",
        "StatelessWhile",
        "RemoteCall",
        "DestroyResourceOp",
        "Placeholder",
        "PlaceholderWithDefault",
        "Const",
        "NoOp",
        "VarHandleOp",
    ]
)

_graph_counters = weakref.WeakKeyDictionary()
_graph_instrumentable = weakref.WeakKeyDictionary()


def next_op_index(graph):
    """The position of the next op traced in `graph`, counting from 0."""
    index = _graph_counters.get(graph, 0)
    _graph_counters[graph] = index + 1
    return index


def instrumentable(graph):
    """Whether summary writes may be added to `graph` (cached per graph)."""
    ok = _graph_instrumentable.get(graph)
    if ok is None:
        ok = _graph_instrumentable[graph] = _check_instrumentable(graph)
    return ok


def _check_instrumentable(graph):
    if not tf_internals.is_function_graph(graph):
        return False  # TF1-style graph
    if tf_internals.is_control_flow_branch(graph):
        return False
    # XLA-compiled functions cannot run summary ops, and tf.data functions run
    # in tf.data's own threads.
    return not tf_internals.tracing_for_xla_or_tf_data()


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
                with tf.init_scope(), tf.device("/cpu:0"):
                    self._variable = tf_internals.plain_resource_variable(
                        self._value, dtype=tf.int64, trainable=False, name="tensorcap_record_step"
                    )
            variable = self._variable
        return variable.read_value()


gate = _Gate()


def add_gated_write(tag, tensor, writer, metadata_bytes):
    """Adds to `tensor`'s graph a summary write of it, run only while a block is open.

    The write also obeys the user's ``tf.summary.record_if``.
    """
    with capture_context.writing():
        step = gate.tensor()
        active = step >= 0
        user = tf_internals.user_recording_condition()
        condition = active if user is None else tf.logical_and(user, active)
        with tf_internals.writer_as_default(writer), tf.summary.record_if(condition):
            tf.summary.write(tag, tensor, step=step, metadata=metadata_bytes)
