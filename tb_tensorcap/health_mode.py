"""One `record()` block in health mode or under a `FlightRecorder`.

A full-mode block writes every captured value. Here the block instead
collects its captures and, when it closes, computes their statistics in one
call per device (`health.BatchedStats`), adds the statistics that the
`tf.function`s it called kept on device (`traced_store`), and writes them all
as one health record at the block's step. Under a flight recorder the
block's values (references to the eager tensors, ring slots of the traced
ones) then go to the recorder, which keeps or writes them (`flight.py`).
"""

import threading
import weakref

import numpy as np

from tb_tensorcap import health, metadata, traced_store

_stats = health.BatchedStats()
_specs = health.RecordSpecs()

# Each traced graph's store, created when a health or flight block traces it.
_stores = weakref.WeakKeyDictionary()
_stores_lock = threading.Lock()


class StepCaptures:
    """What one block captured at its step: specs, health rows, values or where they are kept.

    Attributes:
      step, prefix: the block's.
      specs: [(tag, dtype, rank, source)] in capture order.
      rows: float64 vector of their health rows (`health` layout).
      values: in capture order, ("eager", (tag, tensor, source, description))
        for an eager value (a reference) and ("traced", store, slot) for the
        values a traced function's call kept in its ring.
      nbytes: the bytes of the values kept in memory (eager and ring).
    """

    def __init__(self, step, prefix):
        self.step, self.prefix = step, prefix
        self.specs, self.values = [], []
        self.rows = np.zeros([0])
        self.nbytes = 0

    def nonfinite(self):
        """Whether any captured output held a NaN or an infinity."""
        return any(stats["nan"] or stats["posinf"] or stats["neginf"] for _, stats in self.stats())

    def stats(self):
        """[(tag, statistics dict)] of the step's captures, `analysis.tensor_stats` keys."""
        return [(spec[0], stats) for spec, stats in zip(self.specs, _row_stats(self.specs, self.rows))]


class BlockHealth:
    """The health side of one open block (`Recording` delegates to it).

    Args:
      record_tag: the tag of the block's health record.
      step: the block's step.
      write: whether to write the health record (a flight recorder with
        health=False only uses the statistics for its trigger).
      ring_slots: ring slots per tensor in functions this block traces (0:
        statistics only).
    """

    def __init__(self, record_tag, step, prefix, write=True, ring_slots=0):
        self._record_tag = record_tag
        self._write = write
        self._ring_slots = ring_slots
        self.captures = StepCaptures(step, prefix)
        self._eager = []  # (tag, tensor, source, description)
        self._parts = []  # in capture order: ("eager", index into _eager) or ("traced", store, rows, slot)

    def add(self, tag, tensor, source, description=None):
        """An eager value captured by the block (kept by reference until the block closes)."""
        self._parts.append(("eager", len(self._eager)))
        self._eager.append((tag, tensor, source, description))

    def instrument(self, graph, tag, tensor, source):
        """Makes the function being traced keep `tensor`'s statistics (and value) on device."""
        with _stores_lock:
            store = _stores.get(graph)
            if store is None:
                store = _stores[graph] = traced_store.TracedStore(self._ring_slots)
        return store.instrument(tag, tensor, source)

    def after_function_call(self):
        """Collects what the traced functions kept during the call that just ran (before its outputs)."""
        with _stores_lock:
            stores = list(_stores.values())
        for store in stores:
            polled = store.poll()
            if polled is not None:
                _, rows, slot = polled
                self._parts.append(("traced", store, rows, slot))

    def finish(self, writer):
        """Computes the eager statistics and writes the block's health record; returns the captures."""
        captures = self.captures
        tensors = [tensor for _, tensor, _, _ in self._eager]
        eager_rows = _stats.rows(tensors) if tensors else np.zeros([0])
        ends = np.cumsum([health.row_length(t.shape.rank) for t in tensors], dtype=np.int64)
        pieces = []
        for part in self._parts:
            if part[0] == "eager":
                item = self._eager[part[1]]
                tag, tensor, source, _ = item
                captures.specs.append((tag, tensor.dtype.name, tensor.shape.rank, source))
                pieces.append(eager_rows[(ends[part[1] - 1] if part[1] else 0) : ends[part[1]]])
                captures.values.append(("eager", item))
                captures.nbytes += _nbytes(tensor)
            else:
                _, store, rows, slot = part
                captures.specs.extend(store.specs)
                pieces.append(rows)
                if slot is not None:
                    captures.values.append(("traced", store, slot))
                    captures.nbytes += _ring_bytes(store.specs, rows)
        captures.rows = np.concatenate(pieces) if pieces else np.zeros([0])
        if self._write and captures.specs:
            health.write_record(self._record_tag, _specs.metadata(captures.specs), captures.rows, captures.step, writer)
        return captures


def _row_stats(specs, rows):
    """The statistics dict of each row of `rows` (`health` layout), in `specs` order."""
    width, offset, found = len(metadata.HEALTH_FIELDS), 0, []
    for spec in specs:
        numbers = rows[offset : offset + width]
        offset += width + spec[2]
        found.append(
            {
                f: (int(x) if i < 5 else (None if np.isnan(x) else float(x)))
                for i, (f, x) in enumerate(zip(metadata.HEALTH_FIELDS, numbers))
            }
        )
    return found


def _nbytes(tensor):
    numel = tensor.shape.num_elements() or 0
    return numel * (tensor.dtype.size if tensor.dtype.name != "string" else 64)


def _ring_bytes(specs, rows):
    """Bytes of the values a traced call kept in its ring, from their element counts."""
    total = 0
    for spec, stats in zip(specs, _row_stats(specs, rows)):
        dtype = spec[1]
        total += stats["numel"] * (64 if dtype == "string" else np.dtype(_numpy_name(dtype)).itemsize)
    return total


def _numpy_name(dtype):
    return "uint16" if dtype == "bfloat16" else dtype
