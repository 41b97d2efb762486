"""Instrumenting a `tf.function` traced inside a `record()` block.

Exactly what is covered:

* Called inside a block: the function's outputs are captured on every call,
  like an op's, named after the function (``<prefix>/train_step``).
* Traced inside a block (its first call with a new input signature happens
  there): every op the trace creates that TensorCap can store is
  instrumented, so its internal values are written on every later call of
  that trace too (names in `op_naming`; ``<prefix>`` of the block that
  traced it). Tensors in host memory, for a writer `direct_writer` serves,
  are handed to one ``numpy_function`` added at the end of the trace, which
  queues them all to TensorCap's own event file (`_TraceWrites`); other
  tensors get a summary write op each. The writes run only while some
  `record` block is open (in any thread); calls outside blocks write nothing.
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
  (``jit_compile=True``, which cannot run summary ops or numpy functions) and
  tf.data functions.
  Instrumenting never changes the function's outputs or adds control
  dependencies to them.
"""

import threading
import weakref

import numpy as np
import tensorflow as tf

from tb_tensorcap import capture_context, direct_writer, health, tf_internals, traced_store

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
    """Has `tensor`'s graph write it on every call while a block is open (module docstring).

    A tensor in host memory, for a writer `direct_writer` serves, is handed
    to the trace's one end-of-trace write (`_TraceWrites`); any other gets a
    summary write op of its own. Both obey the user's ``tf.summary.record_if``.
    """
    direct = direct_writer.for_summary_writer(writer)
    if direct is not None and health.is_host_device(tensor.device) and traced_store.trace_end_works():
        writes = _trace_writes.get(tensor.graph)
        if writes is None:
            writes = _trace_writes[tensor.graph] = _TraceWrites(tensor.graph, direct, writer)
        writes.add(tag, tensor, metadata_bytes)
        return
    with capture_context.writing():
        block_step, step = gate.steps(tensor.graph)
        active = block_step >= 0
        user = tf_internals.user_recording_condition()
        condition = active if user is None else tf.logical_and(user, active)
        with tf_internals.writer_as_default(writer), tf.summary.record_if(condition):
            tf.summary.write(tag, tensor, step=step, metadata=metadata_bytes)


_trace_writes = weakref.WeakKeyDictionary()  # graph -> its _TraceWrites


class _TraceWrites:
    """The host tensors a trace writes: one ``numpy_function`` at the trace's end writes them all.

    Added when the trace ends (`tf_internals.at_trace_end`), it receives, on
    every call, the gate's step for the call, whether a block is open, the
    user's ``record_if`` conditions and every instrumented tensor, as numpy
    arrays sharing the tensors' buffers (no copy); while a block is open it
    queues them to `direct_writer` as one `EventBatch`, kept by reference
    until written. Cheaper than a summary op per tensor, each with its own
    condition, copy, serialisation and CRC.
    """

    def __init__(self, graph, direct, writer):
        self._graph, self._direct, self._writer = graph, direct, writer
        self._tensors, self._specs = [], []  # spec: (tag, dtype enum, metadata, index of its condition or None)
        self._conditions = []  # the user's record_if conditions (graph tensors), each once

    def add(self, tag, tensor, metadata_bytes):
        condition = tf_internals.user_recording_condition()
        if condition is not None and not tf.is_tensor(condition):
            if not condition:
                return  # record_if(False) at trace time: never written
            condition = None
        if condition is not None:
            found = [i for i, c in enumerate(self._conditions) if c is condition]
            if not found:
                self._conditions.append(condition)
            condition = found[0] if found else len(self._conditions) - 1
        if not self._tensors:
            tf_internals.at_trace_end(self._graph, self._end_trace)
        self._tensors.append(tensor)
        self._specs.append((tag, tensor.dtype.as_datatype_enum, metadata_bytes, condition))

    def _end_trace(self):
        with capture_context.writing():
            block_step, step = gate.steps(self._graph)
            conditions = [tf.cast(c, tf.bool) for c in self._conditions]
            done = tf.numpy_function(
                self._on_call,
                [step, block_step >= 0, *conditions, *self._tensors],
                Tout=tf.bool,
                stateful=True,
                name="tensorcap_write",
            )
        return [done.op]

    def _on_call(self, step, active, *arrays):
        """Runs inside each call (in TensorFlow's thread): queues the call's values while a block is open.

        A failed write of the logdir is not raised here (it would fail the
        user's call): `direct_writer` raises it at the block's next write or
        flush.
        """
        if not active:
            return np.bool_(False)
        conditions, arrays = arrays[: len(self._conditions)], arrays[len(self._conditions) :]
        batch = direct_writer.EventBatch(step)
        for (tag, dtype_enum, metadata_bytes, condition), array in zip(self._specs, arrays):
            if condition is None or conditions[condition]:
                batch.add(tag, array, dtype_enum, metadata_bytes)
        try:
            self._direct.write(batch.finish(), self._writer)  # waits for the disk if the writer flushes each write
        except OSError:
            return np.bool_(False)
        return np.bool_(True)
