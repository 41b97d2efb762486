"""What a `tf.function` traced in a health or flight-recorder block keeps on device.

In full mode an instrumented function writes each value with a summary op.
In health mode and under a `FlightRecorder` it must not: a step's statistics
go out as one record, and full values leave the device only when the
trigger fires. So at trace time each instrumented tensor gets:

* its health row (`health.health_row`, computed beside the tensor) assigned
  into a float64 variable ("chunks" of `_CHUNK` numbers, shared by the
  function's tensors), and
* under a flight recorder keeping K steps, an assignment of the tensor into
  one of K variables of its own (a ring: the slot is a variable the host
  advances after each call; the variable is picked in the graph by gathering
  the K resource handles, so one trace serves every slot).

Every call also counts itself in a variable. After each call the host
(`poll`) sees the count move, reads the chunks (a few numbers per tensor)
and advances the ring. Reading a ring slot (`slot_values`) copies values to
the host; that happens only when the flight recorder's trigger fires.

A call made while no block is open still writes (the graph cannot tell), but
only into the slot the next recorded call overwrites: kept steps stay intact.
"""

import threading

import numpy as np
import tensorflow as tf

from tb_tensorcap import health, tf_internals

_CHUNK = 4096  # float64 numbers per statistics variable


def _plain_variable(initial, **kwargs):
    """A variable created eagerly, outside any distribution strategy's wrapping."""
    with tf.init_scope():
        return tf_internals.plain_resource_variable(initial, trainable=False, **kwargs)


class TracedStore:
    """The on-device statistics (and ring of values) of one traced function.

    Args:
      keep_steps: ring slots per tensor (0: statistics only).
    """

    def __init__(self, keep_steps=0):
        self.keep_steps = keep_steps
        self.specs = []  # (tag, dtype name, rank, source) per instrumented tensor
        self._layout = []  # (chunk index, offset, length) per spec
        self._chunks = []
        self._used = _CHUNK
        self._rings = []  # per spec: K variables, or None
        self._calls = None
        self._slot = None
        self._seen_calls = 0
        self._slot_writer = {}  # ring slot -> the call count of the call that wrote it
        self._lock = threading.Lock()

    def instrument(self, tag, tensor, source):
        """Adds to the graph being traced the ops keeping `tensor`'s statistics (and value).

        Returns False, adding nothing, for a tensor whose rank is unknown at
        trace time (its row length would be unknown).
        """
        if tensor.shape.rank is None:
            return False
        with self._lock:
            if self._calls is None:
                self._calls = _plain_variable(0, dtype=tf.int64, name="tensorcap_calls")
                if self.keep_steps:
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
            self.specs.append((tag, tensor.dtype.name, tensor.shape.rank, source))
            self._rings.append(self._ring(tensor) if self.keep_steps else None)
        return True

    def _ring(self, tensor):
        dtype = tensor.dtype
        ring = [
            _plain_variable(
                lambda: tf.zeros([0], dtype), shape=tf.TensorShape(None), dtype=dtype, name="tensorcap_ring"
            )
            for _ in range(self.keep_steps)
        ]
        handles = tf.stack([v.handle for v in ring])
        target = tf.gather(handles, self._slot.read_value())
        tf.raw_ops.AssignVariableOp(resource=target, value=tensor)
        return ring

    def poll(self):
        """After a call: (calls since the last poll, rows, slot) or None if none ran.

        `rows` is the float64 vector of the last call's health rows in
        `specs` order; `slot` is (ring slot, call count) of the values it
        kept (None without a ring), for `slot_values`; the ring then moves on
        to the next slot.
        """
        with self._lock:
            if self._calls is None:
                return None
            calls = int(self._calls.numpy())
            new_calls, self._seen_calls = calls - self._seen_calls, calls
            if not new_calls:
                return None
            chunks = [c.numpy() for c in self._chunks]
            rows = np.concatenate([chunks[c][o : o + n] for c, o, n in self._layout]) if self._layout else np.zeros([0])
            slot = None
            if self._slot is not None:
                index = int(self._slot.numpy())
                self._slot.assign((index + 1) % self.keep_steps)
                self._slot_writer[index] = calls
                slot = (index, calls)
            return new_calls, rows, slot

    def slot_values(self, slot):
        """The values kept by the call `slot` names (eager tensors, `specs` order).

        None when a later call has overwritten that ring slot since.
        """
        index, calls = slot
        with self._lock:
            if self._slot_writer.get(index) != calls:
                return None
            return [ring[index].read_value() for ring in self._rings]
