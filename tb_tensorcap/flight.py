"""`FlightRecorder`: keep the last steps' full values in memory, write them when a step goes bad.

    recorder = tensorcap.FlightRecorder(keep_steps=3)
    for step in range(steps):
        with recorder.record("train", step=step):
            train_step(x, y)

Each block is one training step, with `record()`'s arguments. The recorder
writes only each step's health record (statistics of every captured output,
as health mode does; none with ``health=False``) and keeps the step's values
in memory: eager values by reference (they stay where they live, on the GPU
for GPU tensors); the values of a `tf.function` traced in a block by
reference too when they live in host memory, else in an on-device ring of
``keep_steps + 1`` slots (see `traced_store`). At most ``keep_steps`` earlier
steps are kept, and fewer when their values exceed ``max_bytes`` (oldest
dropped first; said once on stderr). The device ring is sized to
``max_bytes`` when the function is traced: a tensor that does not fit is
left out of it (said on stderr then, and again when a trigger writes only its
statistics). With ``health=False`` and the "nonfinite" trigger a step costs
one dot product per captured output (finite only when every element is),
not its statistics.

When the trigger fires, the recorder writes the full values of the kept
steps and of the trigger step (oldest first, each at its own step: the
reader then lists them as full captures beside the health ones), flushes the
writer at once (the process may die next) and says so on stderr. The
written steps are then forgotten; a later trigger writes again, up to
``max_triggers`` triggers: a run whose weights went NaN fires at every step
after, and would otherwise write every step in full for the rest of the run.
Past that limit the recorder says so once, keeps no more values and lists
the later triggers in ``skipped_triggers``; health is still written.

Triggers: ``"nonfinite"`` (any NaN or infinity in a captured output), or a
callable receiving the step's health, a list of (tag, statistics dict), and
returning True to write.

Per replica: under `tf.distribute` each replica's blocks are kept apart (by
the ``replica_<k>/`` prefix) and a trigger writes that replica's steps.
"""

import collections
import sys
import threading

__all__ = ["FlightRecorder"]


class FlightRecorder:
    """Keeps the last `keep_steps` steps' values; writes them when `trigger` fires.

    Args:
      keep_steps: earlier steps whose values are kept (0: only the trigger step).
      trigger: "nonfinite", or a callable(step_health) -> bool where
        step_health is a list of (tag, statistics dict).
      health: whether to write every step's health record.
      max_bytes: the most bytes of earlier steps' values kept; the oldest
        steps are dropped first.
      writer: a ``tf.summary`` writer for every block (else `record()`'s rules).
      max_triggers: the most triggers that write full values (None: no limit).

    Attributes:
      triggered: one dict per trigger that wrote, in order: {"step",
        "prefix", "written_steps", "lost_steps"}.
      skipped_triggers: {"step", "prefix"} of each trigger past
        ``max_triggers`` (nothing written but health).
    """

    def __init__(self, keep_steps=3, trigger="nonfinite", health=True, max_bytes=1 << 30, writer=None, max_triggers=10):
        if not isinstance(keep_steps, int) or isinstance(keep_steps, bool) or keep_steps < 0:
            raise ValueError("keep_steps must be a non-negative int, got %r" % (keep_steps,))
        if trigger != "nonfinite" and not callable(trigger):
            raise ValueError('trigger must be "nonfinite" or a callable(step_health) -> bool, got %r' % (trigger,))
        if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 0:
            raise ValueError("max_bytes must be a non-negative int, got %r" % (max_bytes,))
        self.keep_steps = keep_steps
        self.trigger = trigger
        self.health = bool(health)
        if max_triggers is not None and (
            not isinstance(max_triggers, int) or isinstance(max_triggers, bool) or max_triggers < 1
        ):
            raise ValueError("max_triggers must be a positive int or None, got %r" % (max_triggers,))
        self.max_bytes = max_bytes
        self.writer = writer
        self.max_triggers = max_triggers
        self.triggered = []
        self.skipped_triggers = []
        self._kept = {}  # replica prefix + block prefix -> deque of StepCaptures
        self._warned_max_bytes = {}  # id(deque) -> the deque, once max_bytes dropped one of its steps
        self._lock = threading.Lock()

    def record(self, prefix="step", ops=None, dtypes=None, max_captures=None, step=None, *, writer=None):
        """A `record()` block for one training step, kept by this recorder."""
        from tb_tensorcap import autocapture

        return autocapture.Recording(
            prefix,
            ops=ops,
            dtypes=dtypes,
            max_captures=max_captures,
            step=step,
            writer=writer if writer is not None else self.writer,
            recorder=self,
        )

    def kept_steps(self):
        """{replica prefix + block prefix: [steps whose values are kept now, oldest first]}."""
        with self._lock:
            return {key: [c.step for c in kept] for key, kept in self._kept.items() if kept}

    def _step_done(self, key, captures, write_values):
        """Called when a block closes: fires the trigger or keeps the step.

        `write_values(items, step)` writes [(tag, tensor, source, description,
        lineage)] as full captures at `step`; the block's writer is flushed after.
        """
        fired = self.trigger(captures.stats()) if callable(self.trigger) else captures.nonfinite()
        with self._lock:
            kept = self._kept.setdefault(key, collections.deque())
            if self._spent():
                if fired:
                    self.skipped_triggers.append({"step": captures.step, "prefix": key})
                return False
            if not fired:
                kept.append(captures)
                self._evict(kept)
                return False
            earlier = list(kept)
            kept.clear()
        written, lost, why_lost, left_out = [], [], set(), set()
        for step_captures in earlier + [captures]:
            items, missing, reason = _values(step_captures)
            if items is None:
                lost.append(step_captures.step)
                why_lost.add(reason)
                continue
            write_values(items, step_captures.step)
            written.append(step_captures.step)
            left_out.update(missing)
        self.triggered.append({"step": captures.step, "prefix": key, "written_steps": written, "lost_steps": lost})
        reason = "its trigger fired" if callable(self.trigger) else "a captured output held NaN or Inf"
        print(
            "tensorcap: flight recorder: %s at step %d of %r; wrote the full values of step%s %s%s"
            % (
                reason,
                captures.step,
                key,
                "s" if len(written) > 1 else "",
                ", ".join(map(str, written)),
                "" if not lost else " (steps %s: %s)" % (", ".join(map(str, lost)), "; ".join(sorted(why_lost))),
            )
            + (
                ""
                if not left_out
                else " (only the statistics of %s: left out of the device ring by max_bytes)"
                % ", ".join(sorted(left_out))
            ),
            file=sys.stderr,
            flush=True,
        )
        if self._spent():
            with self._lock:
                self._kept.clear()
            print(
                "tensorcap: flight recorder: max_triggers=%d reached: later triggers write only health, no full "
                "values (they are listed in recorder.skipped_triggers; said once)" % self.max_triggers,
                file=sys.stderr,
                flush=True,
            )
        return True

    def _spent(self):
        """Whether ``max_triggers`` triggers have written (later ones write nothing but health)."""
        return self.max_triggers is not None and len(self.triggered) >= self.max_triggers

    def _evict(self, kept):
        while len(kept) > self.keep_steps:
            kept.popleft()
        evicted = []
        while kept and sum(c.nbytes for c in kept) > self.max_bytes:
            evicted.append(kept.popleft())
        if evicted and kept is not self._warned_max_bytes.get(id(kept)):
            self._warned_max_bytes[id(kept)] = kept
            newest = evicted[-1]
            print(
                "tensorcap: flight recorder: max_bytes=%d dropped step %d of %r (%d bytes of values): only %d of "
                "keep_steps=%d earlier steps fit, so a trigger writes fewer steps before it (said once per prefix)"
                % (self.max_bytes, newest.step, newest.prefix, newest.nbytes, len(kept), self.keep_steps),
                file=sys.stderr,
                flush=True,
            )


def _values(captures):
    """(items, left_out, None) for a step, or (None, (), reason) when its values are no longer kept.

    items: [(tag, tensor, source, description, lineage)] in capture order; left_out:
    tags of traced tensors the device ring did not keep (max_bytes).
    """
    items, left_out = [], []
    for value in captures.values:
        if value[0] == "eager":
            items.append(value[1])
            continue
        _, store, kept = value
        tensors = store.values(kept)
        if tensors is None:
            return None, (), _LOST_REASONS[type(store).__name__]
        for (tag, _, _, source, lineage), tensor in zip(store.specs, tensors):
            if tensor is None:
                left_out.append(tag)
            else:
                items.append((tag, tensor, source, None, lineage))
    return items, left_out, None


_LOST_REASONS = {
    "DeviceStore": "values no longer kept on device: a later call of the function overwrote its ring slot, "
    "or the function was traced outside a flight recorder's block",
    "HostStore": "values not kept: the function ran while no flight recorder's block was open",
}
