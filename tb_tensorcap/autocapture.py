"""Automatic capture: `record()` captures every op a block runs.

    import tb_tensorcap as tensorcap

    with tensorcap.record("step"):          # every eager op's outputs, named
        logits = model(x)                    #   step/dense1/MatMul, ...
        loss = loss_fn(y, logits)

`record()` is the article's hand-made capture context manager made real: it
sees every op through TensorFlow's op-callback hook (`op_callback`, the hook
``tf.debugging``'s dumping callback uses), names what it sees
deterministically (`op_naming`), and persists it as TensorCap captures in
TensorBoard summary events. A `tf.function` traced inside a block is
instrumented so its internal values are written too (`graph_capture`).
With each op output it stores the op's lineage, where each input came from
(`lineage`); tensors from outside the block that can hold NaN/Inf (data,
Python numbers, a function's arguments and constants) are captured too,
once per block and step (the k-th call of a `tf.function` in the block
finds its inputs at its own step, below), as ``<prefix>/input/<name>`` (``<prefix>/<fn>/argument/<name>``,
``<prefix>/<fn>/constant/<name>`` inside a function). Health mode and the
flight recorder keep the same lineage with each statistics row (and with the
full values the recorder writes), so a root cause needs statistics alone.

Steps: the explicit ``step``; else TensorFlow's summary step; else the
number of times a block with this prefix was entered before (step n = the
n-th execution of the block, from 0), counting the steps its `tf.function`
calls used (`block_steps`). The step is fixed when the block is entered: every
capture of the block has that step, except that the k-th call (from 0) of a
`tf.function` in the block writes at step + k (`graph_capture`). Keras'
``model.fit`` in a block thus writes one step per batch, and a warning
points to `tensorcap.keras.CaptureCallback`, made for it.

Writer: the explicit ``writer``, else the default ``tf.summary`` writer active
when the block is entered, else TensorCap's own (as for `capture`).

Cost: the callback runs after every op of the block (TensorFlow's own hook
costs next to nothing; TensorCap's bookkeeping is a few microseconds per op:
naming, filters, the source line). Values are not copied when captured:
TensorCap keeps a reference to each output and writes them all at block exit
as one summary event per step built directly from the tensors' bytes, to an
event file of its own beside the writer's, from a background thread
(`block_writer`, `direct_writer`).
``tf.summary.record_if(False)`` still suppresses the writing.

Threads and nesting: TensorFlow's op callbacks are thread-local, and so is
`record`: only ops run by the thread that entered the block are captured
(`tf.distribute.MirroredStrategy` runs replicas in their own threads: open the
block inside the replica function). In nested blocks each op is captured once,
by the innermost block, under the inner prefix nested in the outer one; each
block has its own op counter and its own step; a tensor the outer block
captured is linked to that capture (at the outer block's step), not captured
again by the inner one, and the outer block's later ops link to the inner
block's captures. `tensorcap.capture()` inside a
block writes under the block's prefix at its step, in order with the ops.
The ops TensorCap itself runs to write are never captured.
"""

import re
import warnings

import tensorflow as tf

from tb_tensorcap import (
    block_steps,
    block_writer,
    capture_context,
    capture_core,
    capture_values,
    graph_capture,
    health_mode,
    lineage,
    metadata,
    op_callback,
    op_naming,
    summary,
    tf_internals,
    writers,
)

__all__ = ["record", "Recording"]


def record(prefix="step", ops=None, dtypes=None, max_captures=None, step=None, *, writer=None, keep=False, mode="full"):
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
        is one, and so is each tensor from outside the block captured for
        its lineage); when reached the block stops capturing and a RuntimeWarning
        says so, once per (prefix, max_captures) in the process
        (``Recording.stopped`` tells for every block). None: no limit.
      step: the step of every capture of the block (see the module docstring
        for the default).
      writer: a ``tf.summary`` writer to use instead of the default.
      keep: keep the captured tensors in memory, in ``Recording.tensors``
        (by tag relative to the block's prefix).
      mode: "full" writes every value; "health" writes only their
        statistics (count, NaN, +Inf, -Inf, zeros, finite min/max/mean/std),
        computed on the tensors' device, as one record per block (and one per
        call of a function traced in a health block): see `health_mode`.

    Returns:
      A `Recording` context manager; ``with record(...) as rec`` gives it, and
      after the block ``rec.tags`` lists what was captured.
    """
    return Recording(
        prefix, ops=ops, dtypes=dtypes, max_captures=max_captures, step=step, writer=writer, keep=keep, mode=mode
    )


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

    def __init__(
        self,
        prefix="step",
        *,
        ops=None,
        dtypes=None,
        max_captures=None,
        step=None,
        writer=None,
        keep=False,
        mode="full",
        recorder=None,
    ):
        super().__init__(prefix, step=step, writer=writer, keep=keep)
        if mode not in ("full", "health"):
            raise ValueError('record(mode=...) takes "full" or "health", not %r' % (mode,))
        self.mode = "health" if recorder is not None else mode
        self._recorder = recorder
        self._health = None
        self._ops_regex = re.compile(ops) if isinstance(ops, str) else ops
        self._dtypes = op_naming.normalize_dtypes(dtypes)
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
        self._type_counts = {}  # (scope, display name) -> ops of that type run in that scope
        self._function_calls = {}  # tf.function name -> its calls in the block
        self._calls = 0  # the most calls of one tf.function in the block
        self._pending = block_writer.PendingValues()
        self._replica = ""
        self._entry_scope = ""
        self._gate_previous = None
        self._failed = False
        self._lineage = lineage.EagerLineage()

    # -- entering and leaving -------------------------------------------------

    def __enter__(self):
        if self._entered:
            raise RuntimeError("a record() block cannot be entered twice; call record() again")
        if not tf.executing_eagerly():
            raise RuntimeError(
                "record() must be entered eagerly, not inside tf.function: call the "
                "function inside the block instead (its ops are then captured; see "
                "the tb_tensorcap.autocapture docstring)"
            )
        self._entered = True
        stack = op_callback.open_records()
        if stack:
            stack[-1]._flush()  # keep the outer block's captures in capture order
        with capture_context.writing():
            super().__enter__()
            self._replica = capture_context.replica_prefix()
            self._writer = writers.use(self._writer if self._writer is not None else writers.active_or_default())
            self.step = block_steps.resolve_step(self._explicit_step, self._replica + self.prefix)
            self._entry_scope = tf_internals.eager_scope_name()
            self._gate_previous = graph_capture.gate.push(self.step)
            if self.mode == "health":
                self._health = health_mode.BlockHealth(
                    self._replica + self._tag("_health"), self.step, self.prefix, self._recorder
                )
        stack.append(self)
        self._open = True
        if len(stack) == 1:
            op_callback.install()
        return self

    def __exit__(self, *exc_info):
        self._open = False
        if self._explicit_step is None and self._calls > 1:
            block_steps.continue_block_steps(self._replica + self.prefix, self.step + self._calls)
        stack = op_callback.open_records()
        if self in stack:
            stack.remove(self)
            if not stack:
                op_callback.remove()
            else:
                stack[-1]._lineage.adopt(self._lineage)
        try:
            if self._health is not None:
                self._finish_health()
            else:
                self._flush()  # also after an exception: what led to it is worth keeping
        finally:
            with capture_context.writing():
                graph_capture.gate.restore(self._gate_previous)
                super().__exit__(*exc_info)
        return False

    def _finish_health(self):
        """Writes the block's health record; hands the step to the flight recorder."""
        with capture_context.writing():
            captures = self._health.finish(self._writer)
        if self._recorder is not None:
            self._recorder._step_done(self._replica + self.prefix, captures, self._write_full)

    def _write_full(self, items, step):
        """Writes the flight recorder's [(tag, tensor, source, description, lineage)] at `step` (`block_writer`)."""
        block_writer.write_full(items, step, self._writer, self._replica)

    # -- manual captures inside the block ---------------------------------------

    def capture(self, value, name, step=None, *, description=None, writer=None, axes=None):
        """Like `tensorcap.capture`, under the block's prefix and at its step.

        Eager values are written with the block's ops, in order. Inside a
        `tf.function` (and with an explicit ``writer`` or ``axes``, or once the
        block has closed) the value is written at once, by the `capture` rules
        (inside a function the block's step, a Python number fixed at trace
        time, is not used).
        """
        name = capture_core.check_name(name)
        if writer is not None or axes is not None or not tf.executing_eagerly() or not self._open:
            if tf.executing_eagerly():
                self._flush()
                step = step if step is not None else self.step
            return summary.Capturer.capture(self, value, name, step, description=description, writer=writer, axes=axes)
        with capture_context.writing():
            tensor = capture_values.to_tensor(value, self._tag(name))
        self._add(name, tensor, capture_context.source_location(), description, step)
        if self._keep:
            self._tensors[name] = value
        return value

    # -- called by the op callback ------------------------------------------------

    def _cached_display_name(self, op_type):
        """`op_naming.display_name(op_type)`, computed once per op type."""
        name = self._names.get(op_type)
        if name is None:
            name = self._names[op_type] = op_naming.display_name(op_type, self._ops_regex)
        return name

    def _on_eager_op(self, op_type, inputs, outputs):
        if self.stopped:
            return
        self._op_index += 1
        if self._health is not None and op_type.startswith("__inference_"):
            with capture_context.writing():
                self._health.after_function_call()
        if not outputs:
            return
        # The k-th call of a tf.function in the block writes at step + k, as its instrumented
        # ops do: counted even when `ops` filters the call out, as the graph counts it.
        call = self._count_call(op_type) if op_naming.is_function_call(op_type) else None
        name = self._cached_display_name(op_type)
        if not name:
            self._lineage.not_captured(outputs, op_type)
            return
        scope = op_naming.eager_scope(tf_internals.eager_scope_name(), self._entry_scope)
        step = self.step
        if call is not None:
            base, step = op_naming.op_base(scope, name, 0), self.step + call
        else:
            count = self._type_counts.get((scope, name), 0)
            self._type_counts[scope, name] = count + 1
            base = op_naming.op_base(scope, name, count)
        source = found = None
        for k, tensor in enumerate(outputs):
            if tensor is None or not self._wanted(tensor.dtype):
                self._lineage.not_captured([tensor], name)
                continue
            if source is None:
                source = capture_context.source_location()
                found = self._lineage.op(name, op_type, inputs, base, self._capture_external, step, self._outer())
            if self._limit is not None and self.count >= self._limit:
                self._stop()
                return
            tag = op_naming.output_tag(base, k)
            self._add(tag, tensor, source, step=step, lineage_facts=found)
            self._lineage.produced(tensor, self._replica + self._tag(tag), step)
            if self._keep:
                self._tensors[tag] = tensor

    def _on_graph_op(self, op_type, inputs, outputs, op_name, graph):
        if self.stopped or not outputs or not graph_capture.instrumentable(graph):
            return
        if op_type in ("Placeholder", "Const"):
            lineage.graph_external(op_type, outputs[0], op_name, graph, self._instrument_external)
            return
        if op_type == "Identity":
            lineage.graph_passes_through(inputs, outputs, graph)
            return
        name = self._cached_display_name(op_type) if op_type not in graph_capture.SKIPPED_OP_TYPES else ""
        if not name:
            lineage.graph_not_captured(graph, outputs, op_type)
            return
        scope = op_naming.graph_scope(op_name, tf_internals.graph_names_in_use(graph))
        base = op_naming.op_base(scope, name, graph_capture.next_type_count(graph, scope, name))
        source = found = None
        for k, tensor in enumerate(outputs):
            numel = tensor.shape.num_elements()
            if not self._wanted(tensor.dtype) or (
                numel is not None and numel * tensor.dtype.size > metadata.CHUNK_BYTES
            ):
                lineage.graph_not_captured(graph, [tensor], name)  # too large: cannot be split inside a graph
                continue
            if self._limit is not None and self.count >= self._limit:
                self._stop()
                return
            if source is None:
                source = capture_context.source_location()
                found = lineage.graph_op(name, op_type, inputs, graph, self._instrument_external)
            tag = op_naming.output_tag(base, k)
            if self._instrument(tag, tensor, source, found):
                lineage.graph_produced(graph, tensor, self._replica + self._tag(tag))
            else:
                lineage.graph_not_captured(graph, [tensor], name)

    def _capture_external(self, name, tensor, origin, step):
        """Captures an eager tensor from outside the block at `step`; its full tag, or None if not.

        (None: filtered out by ``dtypes``, or past ``max_captures``.)
        """
        if not self._wanted(tensor.dtype) or (self._limit is not None and self.count >= self._limit):
            return None
        self._add(name, tensor, capture_context.source_location(), step=step, lineage_facts={"origin": origin})
        return self._replica + self._tag(name)

    def _outer(self):
        """The lineages of the thread's enclosing open blocks, innermost first (nested blocks)."""
        stack = op_callback.open_records()
        if len(stack) < 2 or stack[-1] is not self:
            return ()
        return [block._lineage for block in reversed(stack[:-1])]

    def _instrument_external(self, name, tensor, origin):
        """Instruments a function's argument or constant; its full tag, or None if not (filters, max_captures)."""
        if not self._wanted(tensor.dtype) or (self._limit is not None and self.count >= self._limit):
            return None
        if not self._instrument(name, tensor, capture_context.source_location(), {"origin": origin}):
            return None
        return self._replica + self._tag(name)

    def _wanted(self, dtype):
        ok = _storable_dtypes.get(dtype)
        if ok is None:
            ok = _storable_dtypes[dtype] = capture_values.is_storable(dtype)
        return ok and (self._dtypes is None or dtype in self._dtypes)

    def _count_call(self, op_type):
        """How many calls of this tf.function the block made before this one."""
        function = op_naming.display_name(op_type, None)
        count = self._function_calls.get(function, 0)
        self._function_calls[function] = count + 1
        self._calls = max(self._calls, count + 1)
        if function in block_steps.KERAS_TRAIN_FUNCTIONS and count:
            block_steps.warn_fit(self.prefix, function)  # fit's batches in one block (one block per batch is fine)
        return count

    def _stop(self):
        self.stopped = True
        block_steps.warn_stopped(self.prefix, self.count, self._limit, self._op_index - 1)

    def _fail(self, error):
        """An error inside the callback must not break the user's computation."""
        if not self._failed:
            self._failed = True
            warnings.warn(
                "tensorcap.record(%r): capturing failed and is skipped for this op: %r" % (self.prefix, error),
                RuntimeWarning,
                stacklevel=3,
            )

    # -- writing --------------------------------------------------------------------

    def _tag(self, name):
        return "%s/%s" % (self.prefix, name) if self.prefix else name

    def _add(self, name, tensor, source, description=None, step=None, lineage_facts=None):
        """Counts one capture and buffers (or writes) it, with its lineage ({"op": ...}, {"origin": ...})."""
        tag = self._tag(name)
        self.count += 1
        self.tags.append(tag)
        if self._health is not None and (step is None or step == self.step):
            self._health.add(self._replica + tag, tensor, source, description, lineage_facts)
            return
        step = self.step if step is None else step
        nbytes = block_writer.nbytes(tensor)
        if nbytes > block_writer.DIRECT_BYTES:
            self._flush()
            summary.write(tensor, tag, step, description, self._writer, source, lineage_facts)
            return
        metadata_bytes = lineage.serialized_metadata(source, description, lineage_facts)
        if self._pending.add(tag, tensor, metadata_bytes, nbytes, step):
            self._flush()

    def _flush(self):
        """Writes the buffered captures (`block_writer`)."""
        self._pending.write(self._writer, self._replica)

    def _instrument(self, name, tensor, source, lineage_facts=None):
        """Adds a gated summary write of a symbolic `tensor` to its graph, with its lineage.

        In health mode, the ops keeping its statistics (and, under a flight
        recorder, its value) on device instead. Returns whether it
        instrumented the tensor (health mode cannot when its rank is unknown).
        """
        tag = self._tag(name)
        if self._health is not None:
            with capture_context.writing():
                done = self._health.instrument(tensor.graph, self._replica + tag, tensor, source, lineage_facts)
            if done:
                self.count += 1
                self.tags.append(tag)
            return done
        self.count += 1
        self.tags.append(tag)
        graph_capture.add_gated_write(
            self._replica + tag, tensor, self._writer, lineage.serialized_metadata(source, None, lineage_facts)
        )
        return True


_storable_dtypes = {}
