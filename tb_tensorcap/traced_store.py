"""What a `tf.function` traced in a health or flight-recorder block keeps for it.

In full mode an instrumented function writes each value with a summary op.
In health mode and under a `FlightRecorder` it must not: a step's statistics
go out as one record, and full values are written only when the trigger
fires. Two stores, chosen when the first tensor of a trace is instrumented:

* `HostStore`, where the function's tensors live in host memory (the
  process sees no accelerator): when the trace ends, one ``numpy_function``
  is added that receives every instrumented tensor of a call (numpy views of
  their buffers, no copy) and, while a health block is open, computes their
  statistics (`host_stats.host_rows`; or only whether any is non-finite, when no
  open block needs more) and, under a flight recorder, keeps the arrays
  themselves by reference: the ring of kept steps costs no copy at all.
* `DeviceStore`, on an accelerator: each tensor's health row is computed by
  ops beside it (`health.health_row`) into float64 variables on its device,
  and under a flight recorder the tensor is assigned into a ring of
  variables of its own (the slot is a variable the host advances after each
  call; the variable is picked in the graph by gathering the slots' resource
  handles, so one trace serves every slot). Only the rows cross to the host
  after a call; a ring slot is copied to the host only when the trigger
  fires. The ring is sized to ``max_bytes`` from the tensors' static shapes.

After each call the block polls its stores (`poll`) for what the call kept:
a `CallKept`.
"""

import sys
import threading

import numpy as np
import tensorflow as tf

from tb_tensorcap import capture_context, health, host_stats, tf_internals

_CHUNK = 4096  # float64 numbers per statistics variable of a DeviceStore


class CallKept:
    """What one call of an instrumented function kept.

    Attributes:
      rows: float64 health rows in the store's `specs` order, or None when
        only `nonfinite` was computed.
      nonfinite: whether any instrumented tensor held a NaN or an infinity.
      values: what `values()` needs to give the call's tensors back, or None
        when none were kept.
      nbytes: the bytes those values hold.
    """

    def __init__(self, rows, nonfinite, values=None, nbytes=0):
        self.rows, self.nonfinite, self.values, self.nbytes = rows, nonfinite, values, nbytes


class Needs:
    """What the open health blocks of the process need from traced calls (shared by every thread).

    A store serves every later call of its trace, whichever block is open,
    so it asks here: statistics (some open block writes or triggers on
    them), values (a flight recorder is open), or nothing (no block open:
    the call costs next to nothing).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._open = {}  # id(block) -> (statistics, values)

    def opened(self, block, statistics, values):
        with self._lock:
            self._open[id(block)] = (statistics, values)

    def closed(self, block):
        with self._lock:
            self._open.pop(id(block), None)

    def now(self):
        """(any block open, statistics needed, values needed)."""
        with self._lock:
            open_ = list(self._open.values())
        return bool(open_), any(s for s, _ in open_), any(v for _, v in open_)


needs = Needs()


def store_for(tensor, slots, max_bytes):
    """A new store for the graph `tensor` is being traced in: host or device (module docstring)."""
    if health.is_host_device(tensor.device) and trace_end_works():
        return HostStore(tensor.graph)
    return DeviceStore(slots, max_bytes)


_probe = {}


def trace_end_works():
    """Whether `tf_internals.at_trace_end` works in this TensorFlow (probed once, on a tiny function)."""
    if "ok" not in _probe:
        ran = []

        def probe(x):
            y = x + 1.0
            tf_internals.at_trace_end(
                y.graph, lambda: [tf.numpy_function(lambda v: ran.append(v) or np.bool_(True), [y], Tout=tf.bool).op]
            )
            return x

        try:
            with tf.init_scope(), capture_context.writing():
                tf.function(probe, autograph=False)(tf.constant(1.0))
            _probe["ok"] = len(ran) == 1
        except (RuntimeError, TypeError, ValueError, tf.errors.OpError):
            _probe["ok"] = False
    return _probe["ok"]


class HostStore:
    """The statistics (and kept values) of a trace whose tensors live in host memory."""

    def __init__(self, graph):
        self.specs = []  # (tag, dtype name, rank, source, lineage) per instrumented tensor
        self._tensors = []
        self._graph = graph
        self._pending = []  # CallKept of the calls not polled yet
        self._error = None  # what a call's numpy_function raised, for the next poll
        self._lock = threading.Lock()

    def instrument(self, tag, tensor, source, lineage=None):
        """Adds `tensor` (with its `lineage`) to what the trace's end hands to numpy; False for an unknown rank."""
        if tensor.shape.rank is None:
            return False
        if not self._tensors:
            tf_internals.at_trace_end(self._graph, self._end_trace)
        self._tensors.append(tensor)
        self.specs.append((tag, tensor.dtype.name, tensor.shape.rank, source, lineage))
        return True

    def _end_trace(self):
        with capture_context.writing():
            done = tf.numpy_function(self._on_call, self._tensors, Tout=tf.bool, stateful=True, name="tensorcap_health")
        return [done.op]

    def _on_call(self, *arrays):
        """Runs inside each call (in TensorFlow's thread), with the tensors' buffers as numpy arrays.

        Never raises: an error would fail the user's call. It is kept and
        raised by the next `poll` instead, in the block's thread, where the
        block reports it as any failure of capturing.
        """
        try:
            return self._keep(arrays)
        except Exception as e:  # noqa: BLE001 - never break the user's function
            with self._lock:
                self._error = e
            return np.bool_(False)

    def _keep(self, arrays):
        open_, statistics, values = needs.now()
        if not open_:
            return np.bool_(False)
        if statistics:
            rows = host_stats.host_rows(arrays)
            nonfinite = health.rows_nonfinite(rows, [spec[2] for spec in self.specs])
        else:
            rows, nonfinite = None, host_stats.host_nonfinite(arrays)
        kept = CallKept(rows, nonfinite)
        if values:  # references: the arrays share the tensors' buffers, which TensorFlow never changes
            kept.values, kept.nbytes = arrays, sum(_host_nbytes(a) for a in arrays)
        with self._lock:
            self._pending.append(kept)
        return np.bool_(nonfinite)

    def poll(self):
        """The `CallKept` of each call since the last poll, in call order."""
        with self._lock:
            pending, self._pending = self._pending, []
            error, self._error = self._error, None
        if error is not None:
            raise error
        return pending

    def values(self, kept):
        """The tensors a call kept (`specs` order), as eager tensors; None if it kept none."""
        if kept.values is None:
            return None
        with capture_context.writing():
            return [tf.constant(array) for array in kept.values]


def _host_nbytes(array):
    return array.size * 64 if array.dtype == object else array.nbytes


def _plain_variable(initial, **kwargs):
    """A variable created eagerly, outside any distribution strategy's wrapping."""
    with tf.init_scope():
        return tf_internals.plain_resource_variable(initial, trainable=False, **kwargs)


class DeviceStore:
    """The on-device statistics (and ring of values) of one traced function.

    Args:
      slots: ring slots per tensor (0: statistics only): the kept steps and
        the current one.
      max_bytes: the most bytes the ring's earlier steps (every slot but
        one) may hold, from the tensors' static shapes; a tensor that does
        not fit is left out of the ring (said on stderr).
    """

    def __init__(self, slots=0, max_bytes=None):
        self.slots = slots
        self.max_bytes = max_bytes
        self.specs = []  # (tag, dtype name, rank, source) per instrumented tensor
        self._layout = []  # (chunk index, offset, length) per spec
        self._chunks = []
        self._used = _CHUNK
        self._rings = []  # per spec: its ring's variables, or None
        self._ring_bytes = 0  # bytes per slot, from static shapes
        self._calls = None
        self._slot = None
        self._seen_calls = 0
        self._slot_writer = {}  # ring slot -> the call count of the call that wrote it
        self._lock = threading.Lock()

    def instrument(self, tag, tensor, source, lineage=None):
        """Adds to the graph being traced the ops keeping `tensor`'s statistics (and value).

        `lineage` ({"op": ...} and/or {"origin": ...}) goes with its row.

        Returns False, adding nothing, for a tensor whose rank is unknown at
        trace time (its row length would be unknown).
        """
        if tensor.shape.rank is None:
            return False
        with self._lock:
            if self._calls is None:
                self._calls = _plain_variable(0, dtype=tf.int64, name="tensorcap_calls")
                if self.slots:
                    self._slot = _plain_variable(0, dtype=tf.int32, name="tensorcap_slot")
                self._calls.assign_add(1)
            row = health.health_row(tensor)
            length = health.row_length(tensor.shape.rank)
            if self._used + length > _CHUNK:
                self._chunks.append(_plain_variable(np.zeros([_CHUNK], np.float64), name="tensorcap_health"))
                self._used = 0
            chunk, offset = len(self._chunks) - 1, self._used
            self._used += length
            self._chunks[chunk][offset : offset + length].assign(row)
            self._layout.append((chunk, offset, length))
            self.specs.append((tag, tensor.dtype.name, tensor.shape.rank, source, lineage))
            self._rings.append(self._ring(tag, tensor) if self.slots else None)
        return True

    def _ring(self, tag, tensor):
        """The ring slots keeping `tensor`, or None (said on stderr) when `max_bytes` leaves no room."""
        numel = tensor.shape.num_elements()
        nbytes = None if numel is None else numel * (64 if tensor.dtype == tf.string else tensor.dtype.size)
        if self.max_bytes is not None and (
            nbytes is None or (self._ring_bytes + nbytes) * (self.slots - 1) > self.max_bytes
        ):
            why = (
                "its size is unknown when traced"
                if nbytes is None
                else "the ring would pass max_bytes=%d" % self.max_bytes
            )
            print(
                "tensorcap: flight recorder: %s is not kept in the on-device ring (%s): a trigger writes its "
                "statistics, not its value" % (tag, why),
                file=sys.stderr,
                flush=True,
            )
            return None
        self._ring_bytes += nbytes or 0
        dtype = tensor.dtype
        ring = [
            _plain_variable(
                lambda: tf.zeros([0], dtype), shape=tf.TensorShape(None), dtype=dtype, name="tensorcap_ring"
            )
            for _ in range(self.slots)
        ]
        handles = tf.stack([v.handle for v in ring])
        target = tf.gather(handles, self._slot.read_value())
        tf.raw_ops.AssignVariableOp(resource=target, value=tensor)
        return ring

    def poll(self):
        """After a call: [the `CallKept` of the last call] ([] if none ran since the last poll).

        Its values are (ring slot, call count), for `values`; the ring then
        moves on to the next slot.
        """
        with self._lock:
            if self._calls is None:
                return []
            calls = int(self._calls.numpy())
            new_calls, self._seen_calls = calls - self._seen_calls, calls
            if not new_calls:
                return []
            chunks = [c.numpy() for c in self._chunks]
            rows = np.concatenate([chunks[c][o : o + n] for c, o, n in self._layout]) if self._layout else np.zeros([0])
            kept = CallKept(rows, health.rows_nonfinite(rows, [spec[2] for spec in self.specs]))
            if self._slot is not None:
                index = int(self._slot.numpy())
                self._slot.assign((index + 1) % self.slots)
                self._slot_writer[index] = calls
                kept.values = (index, calls)
                kept.nbytes = _ring_nbytes(self.specs, rows, self._rings)
            return [kept]

    def values(self, kept):
        """The values a call kept (eager tensors, `specs` order; None for a tensor the ring does not keep).

        None when the store has no ring (traced outside a flight recorder's
        block) or a later call has overwritten that ring slot since.
        """
        if kept.values is None:
            return None
        index, calls = kept.values
        with self._lock:
            if self._slot_writer.get(index) != calls:
                return None
            return [None if ring is None else ring[index].read_value() for ring in self._rings]


def _ring_nbytes(specs, rows, rings):
    """Bytes of the values a call kept in its ring, from their element counts."""
    total = 0
    for spec, stats, ring in zip(specs, health.row_stats(specs, rows), rings):
        if ring is not None:
            dtype = spec[1]
            total += stats["numel"] * (64 if dtype == "string" else np.dtype(_numpy_name(dtype)).itemsize)
    return total


def _numpy_name(dtype):
    return "uint16" if dtype == "bfloat16" else dtype
