"""One `record()` block in health mode or under a `FlightRecorder`.

A full-mode block writes every captured value. Here the block instead
collects its captures and, when it closes, computes their statistics
(`health.BatchedStats`: numpy on host tensors' buffers, one call per
accelerator), adds those the `tf.function`s it called kept (`traced_store`),
and writes them all as one health record at the block's step. Under a
flight recorder the block's values (references to the eager tensors, what
the traced calls kept) then go to the recorder, which keeps or writes them
(`flight.py`). A flight recorder that writes no health record and triggers
on non-finite values only needs one dot product per tensor
(`host_stats.host_nonfinite`), not its statistics.
"""

import math
import threading
import weakref

import numpy as np
import tensorflow as tf

from tb_tensorcap import health, tf_internals, traced_store

_stats = health.BatchedStats()
_specs = health.RecordSpecs()

# Each traced graph's store, created when a health or flight block traces it.
_stores = weakref.WeakKeyDictionary()
_stores_lock = threading.Lock()


class StepCaptures:
    """What one block captured at its step: specs, health rows, values or where they are kept.

    Attributes:
      step, prefix: the block's.
      specs: [(tag, dtype, rank, source, lineage)] in capture order
        (lineage: {"op": ...} and/or {"origin": ...}, or None).
      rows: float64 vector of their health rows (`health` layout), or None
        when only whether any is non-finite was computed.
      values: in capture order, ("eager", (tag, tensor, source, description,
        lineage)) for an eager value (a reference) and ("traced", store, kept) for the
        values a traced function's call kept (`traced_store.CallKept`).
      nbytes: the bytes of the values kept in memory.
    """

    def __init__(self, step, prefix):
        self.step, self.prefix = step, prefix
        self.specs, self.values = [], []
        self.rows = None
        self.nbytes = 0
        self._nonfinite = False

    def nonfinite(self):
        """Whether any captured output held a NaN or an infinity."""
        return self._nonfinite

    def stats(self):
        """[(tag, statistics dict)] of the step's captures, `analysis.tensor_stats` keys."""
        return [(spec[0], stats) for spec, stats in zip(self.specs, health.row_stats(self.specs, self.rows))]


class BlockHealth:
    """The health side of one open block (`Recording` delegates to it).

    Args:
      record_tag: the tag of the block's health record.
      step, prefix: the block's.
      recorder: the `FlightRecorder` the block belongs to, or None (health
        mode): it says whether to write the health record, whether the
        trigger needs statistics, and how many steps functions traced in
        the block keep.
    """

    def __init__(self, record_tag, step, prefix, recorder=None):
        self._record_tag = record_tag
        self._write = recorder is None or recorder.health
        self._statistics = self._write or callable(recorder.trigger)
        self._recorder = recorder
        self.captures = StepCaptures(step, prefix)
        self._eager = []  # (tag, tensor, source, description, lineage)
        self._parts = []  # in capture order: ("eager", index into _eager) or ("traced", store, CallKept)
        traced_store.needs.opened(self, self._statistics, recorder is not None)

    def add(self, tag, tensor, source, description=None, lineage=None):
        """An eager value captured by the block (kept by reference until the block closes), with its lineage."""
        self._parts.append(("eager", len(self._eager)))
        self._eager.append((tag, tensor, source, description, lineage))

    def instrument(self, graph, tag, tensor, source, lineage=None):
        """Makes the function being traced keep `tensor`'s statistics (and value) for later calls.

        Returns whether it did (a tensor of unknown rank cannot be).
        """
        with _stores_lock:
            store = _stores.get(graph)
            if store is None:
                recorder = self._recorder
                slots = recorder.keep_steps + 1 if recorder is not None else 0
                store = _stores[graph] = traced_store.store_for(tensor, slots, getattr(recorder, "max_bytes", None))
        return store.instrument(tag, tensor, source, lineage)

    def after_function_call(self):
        """Collects what the traced functions kept during the call that just ran (before its outputs)."""
        with _stores_lock:
            stores = list(_stores.values())
        for store in stores:
            for kept in store.poll():
                self._parts.append(("traced", store, kept))

    def finish(self, writer):
        """Computes the eager statistics and writes the block's health record; returns the captures."""
        traced_store.needs.closed(self)
        captures = self.captures
        tensors = [item[1] for item in self._eager]
        shapes = [tf_internals.eager_shape(t) for t in tensors]
        ranks = [len(shape) for shape in shapes]
        if self._statistics:
            eager_rows = _stats.rows(tensors)
            captures._nonfinite = health.rows_nonfinite(eager_rows, ranks)
        else:
            eager_rows = None
            captures._nonfinite = bool(tensors) and _stats.nonfinite(tensors)
        keep = self._recorder is not None
        eager_specs = [
            (item[0], t.dtype.name, rank, item[2], item[4]) for item, t, rank in zip(self._eager, tensors, ranks)
        ]
        if keep:
            sizes = [_nbytes(t, shape) for t, shape in zip(tensors, shapes)]
        if len(self._parts) == len(self._eager):  # eager values only: already in capture order
            captures.specs = eager_specs
            captures.rows = eager_rows
            if keep:
                captures.values = [("eager", item) for item in self._eager]
                captures.nbytes = sum(sizes)
        else:
            self._merge(captures, eager_specs, eager_rows, ranks, sizes if keep else None)
        if self._write and captures.specs:
            health.write_record(self._record_tag, _specs.metadata(captures.specs), captures.rows, captures.step, writer)
        return captures

    def _merge(self, captures, eager_specs, eager_rows, ranks, sizes):
        """Puts the eager captures and what traced calls kept into `captures`, in capture order."""
        ends = np.cumsum([health.row_length(rank) for rank in ranks], dtype=np.int64)
        pieces = []
        for part in self._parts:
            if part[0] == "eager":
                index = part[1]
                captures.specs.append(eager_specs[index])
                if eager_rows is not None:
                    pieces.append(eager_rows[(ends[index - 1] if index else 0) : ends[index]])
                if sizes is not None:
                    captures.values.append(("eager", self._eager[index]))
                    captures.nbytes += sizes[index]
            else:
                _, store, kept = part
                captures.specs.extend(store.specs)
                pieces.append(kept.rows)
                captures._nonfinite = captures._nonfinite or kept.nonfinite
                if sizes is not None:
                    captures.values.append(part)
                    captures.nbytes += kept.nbytes
        if self._statistics:
            captures.rows = np.concatenate(pieces) if pieces else np.zeros([0])


def _nbytes(tensor, shape):
    dtype = tensor.dtype
    return math.prod(shape) * (dtype.size if dtype != tf.string else 64)
