"""Instrumenting a `tf.function` traced inside a `record()` block.

Exactly what is covered:

* Called inside a block: the function's outputs are captured on every call,
  like an op's, named after the function (``<prefix>/train_step``).
* Traced inside a block (its first call with a new input signature happens
  there): every op the trace creates that TensorCap can store is
  instrumented, a summary write is added to the traced graph, so its internal
  values are written on every later call of that trace too (names in
  `op_naming`; ``<prefix>`` of the block that traced it). The writes run only
  while some `record` block is open (in any thread); calls outside blocks
  write nothing.
* Steps: each call of a function in a block is a step of its own. The k-th
  call (from 0) since the most recently entered open block was entered writes
  its internal values, and its outputs, at that block's step + k; a block
  with the automatic step then starts after the steps its calls used. So
  ``with record(): for batch in data: train_step(batch)`` writes one step per
  call, as one block per call does, and nothing is overwritten. (With an
  explicit or a ``tf.summary`` step the next block may reuse those steps:
  readers keep every capture, as repeats.) Internal values are written while
  the function runs, so in the run's capture order they come before the
  block's eager captures that were still buffered at that moment.
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


def next_type_count(graph, scope, name):
    """How many ops `name` were traced in `scope` of `graph` before this one."""
    counts = _graph_counters.setdefault(graph, {})
    count = counts.get((scope, name), 0)
    counts[scope, name] = count + 1
    return count


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
        self._calls = {}  # function name -> int64 variable: its calls since a block was entered
        self._graph_steps = weakref.WeakKeyDictionary()  # graph -> (block step, call step) tensors

    def push(self, step):
        with self._lock:
            previous, self._value = self._value, step
            if self._variable is not None:
                self._variable.assign(step)
            for calls in self._calls.values():
                calls.assign(0)
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

    def steps(self, graph):
        """(block step, call step) tensors of `graph`: the k-th call writes at block step + k.

        Made once per graph, so that a call counts once however many of its
        ops are written; counted per function name (a retrace continues the
        count) and from 0 again whenever a block is entered.
        """
        cached = self._graph_steps.get(graph)
        if cached is None:
            block_step = self.tensor()
            with self._lock:
                calls = self._calls.get(graph.name)
                if calls is None:
                    with tf.init_scope(), tf.device("/cpu:0"):
                        calls = self._calls[graph.name] = tf_internals.plain_resource_variable(
                            0, dtype=tf.int64, trainable=False, name="tensorcap_record_calls"
                        )
            cached = self._graph_steps[graph] = (block_step, block_step + calls.assign_add(1) - 1)
        return cached


gate = _Gate()


def add_gated_write(tag, tensor, writer, metadata_bytes):
    """Adds to `tensor`'s graph a summary write of it, run only while a block is open.

    The write also obeys the user's ``tf.summary.record_if``.
    """
    with capture_context.writing():
        block_step, step = gate.steps(tensor.graph)
        active = block_step >= 0
        user = tf_internals.user_recording_condition()
        condition = active if user is None else tf.logical_and(user, active)
        with tf_internals.writer_as_default(writer), tf.summary.record_if(condition):
            tf.summary.write(tag, tensor, step=step, metadata=metadata_bytes)
