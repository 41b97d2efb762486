"""Lineage for `record()`: where each input of a captured op came from.

With every op output it captures, `record()` stores the op's type and, per
input, the tag of the capture that produced it, or where it came from when
the block did not make it (metadata.py, "Lineage"): a variable (by name), an
eager tensor from before the block or from a Python value ("input", named
after the user's local variable holding it when there is one), a function
argument or a constant inside a traced `tf.function`, or the output of an op
the block ran but did not capture ("uncaptured"). Tensors from outside the
block that can hold NaN or Inf are captured too, once per block (per step),
so the root cause knows whether they were finite; a variable's value is the
output of its ``ReadVariableOp``, captured as an op output that also carries
the variable as its origin.

Eager tensors are known by identity (a weak reference, so a dead tensor's id
reused by a new one is never mistaken for it); symbolic tensors of a traced
function by `Tensor.ref()`, per graph.
"""

import json
import sys
import weakref

import tensorflow as tf

from tb_tensorcap import capture_context, gradients, metadata, tf_internals

# Frames searched for the variable being read, and for a user's local name.
_MAX_FRAMES = 40


def can_hold_nonfinite(dtype):
    """Whether values of `dtype` can be NaN or Inf (what the root cause asks of inputs)."""
    return dtype.is_floating or dtype.is_complex


def uncaptured(op_type):
    """The entry of an output of an op the block ran without capturing it."""
    return {"external": "uncaptured", "op": op_type}


# Lineage facts are the same at every step of a training loop. They are shared, not made anew per
# capture: the flight recorder keeps its steps' captures, and every container a step leaves alive is
# work for Python's garbage collector (a full collection walks every object of the process). Shared
# entries and facts are never mutated.
_MAX_SHARED = 100_000
_tag_entries = {}  # tag -> {"tag": tag}
_facts = {}  # (op type, origin, the inputs' entries as item tuples) -> {"op": ...} and maybe "origin"


def _shared_facts(display_name, entries, origin):
    """{"op": {"type", "inputs"}} (and "origin" for a variable read): one dict per distinct content."""
    try:
        key = (display_name, origin, tuple(tuple(entry.items()) for entry in entries))
        found = _facts.get(key)
    except TypeError:  # an entry holding something unhashable: not shared
        key = found = None
    if found is None:
        found = {"op": {"type": display_name, "inputs": entries}}
        if origin is not None:
            found["origin"] = {"kind": "variable", "name": origin}
        if key is not None:
            if len(_facts) >= _MAX_SHARED:
                _facts.clear()
            _facts[key] = found
    return found


class EagerLineage:
    """One block's eager tensors, each with the lineage entry saying where it came from.

    Each entry's tag lives at a step: the block's, or step + k for what the
    k-th call of a `tf.function` in the block made (`graph_capture`). An op
    whose captures go to another step than an input's names that step in
    the input's entry ("step"); an outside input is captured again at the
    op's step, so every call of a function finds its inputs at its own
    step. A tensor an enclosing open block knows (nested blocks) is linked
    to that block's capture, not captured again, and what a nested block
    captured is known to the enclosing block once the nested one closes.
    """

    def __init__(self):
        # id(tensor) -> (weak reference, entry, step of its tag, outside): outside is None, or for an
        # input from outside the block {"name": its capture's name, "at": {step: its entry there}}
        self._entries = {}
        self._names = {}  # (external input name, step) -> id of the tensor holding it

    def op(self, display_name, op_type, inputs, base, capture_external, step, outer=()):
        """The lineage of an op about to be captured at `step`: {"op": ...}, plus "origin" for a variable read.

        Inputs from outside the block (and unknown to the `outer` blocks'
        lineages, innermost first) are captured here (before the op's
        outputs, so they come first in capture order), once per block and
        step, by `capture_external(name, tensor, origin, step)`, which
        returns the full tag, or None when it did not capture it (filters,
        max_captures).
        """
        entries = []
        for index, tensor in enumerate(inputs):
            known = self._get(tensor)
            if known is None:
                entry = self._from_outer(tensor, step, outer)
                if entry is None:
                    entry = self._external(tensor, "%s.%d" % (base, index), capture_external, step)
            else:
                entry, at, outside = known
                if outside is not None and at != step:
                    entry = self._external_again(tensor, entry, outside, capture_external, step)
                elif at is not None and at != step:
                    entry = dict(entry, step=at)
            entries.append(entry)
        origin = None
        if op_type == "ReadVariableOp" and entries and entries[0].get("external") == "variable":
            origin = entries[0]["name"]
        return _shared_facts(display_name, entries, origin)

    def produced(self, tensor, tag, step):
        """`tensor` was captured under the full `tag` at `step`."""
        entry = _tag_entries.get(tag)
        if entry is None:
            if len(_tag_entries) >= _MAX_SHARED:
                _tag_entries.clear()
            entry = _tag_entries[tag] = {"tag": tag}
        self._remember(tensor, entry, step)

    def not_captured(self, tensors, op_type):
        entry = uncaptured(op_type)
        for tensor in tensors:
            if tensor is not None:
                self._remember(tensor, entry, None)

    def entry_at(self, tensor, step):
        """`tensor`'s entry as seen from a capture at `step` (an inner block's), or None if unknown."""
        known = self._get(tensor)
        if known is None:
            return None
        entry, at, _ = known
        return dict(entry, step=at) if at is not None and at != step else entry

    def adopt(self, inner):
        """Takes over what a closed `inner` block captured, so this block's later ops link to it."""
        for key, (ref, entry, at, _) in inner._entries.items():
            if at is not None and ref() is not None and self._get(ref()) is None:
                self._entries[key] = (ref, entry, at, None)

    def _from_outer(self, tensor, step, outer):
        for lineage in outer:
            entry = lineage.entry_at(tensor, step)
            if entry is not None:
                return entry
        return None

    def _external(self, tensor, fallback_name, capture_external, step):
        if tensor.dtype == tf.resource:
            name = tf_internals.own_variable_name(tensor) or variable_name(tensor)
            entry = {"external": "variable", "name": name, "dtype": "resource"}
            self._remember(tensor, entry, None)
            return entry
        local = local_name(tensor)
        entry = {"external": "input", "name": local, "dtype": tensor.dtype.name}
        if not can_hold_nonfinite(tensor.dtype):
            self._remember(tensor, entry, None)
            return entry
        name = "input/" + self._unique_name(local or fallback_name, tensor, step)
        tag = capture_external(name, tensor, {"kind": "input", "name": local}, step)
        if tag is not None:
            entry["tag"] = tag
        self._remember(tensor, entry, step if tag is not None else None, {"name": name, "at": {step: entry}})
        return entry

    def _external_again(self, tensor, entry, outside, capture_external, step):
        """An outside input captured at another step, captured (once) at `step` too."""
        again = outside["at"].get(step)
        if again is None:
            again = {k: v for k, v in entry.items() if k != "tag"}
            tag = capture_external(outside["name"], tensor, {"kind": "input", "name": entry.get("name")}, step)
            if tag is not None:
                again["tag"] = tag
            outside["at"][step] = again
        return again

    def _get(self, tensor):
        """(entry, step of its tag, outside) of a tensor the block saw (see `_entries`), or None."""
        found = self._entries.get(id(tensor))
        if found is not None and found[0]() is tensor:
            return found[1:]
        return None

    def _remember(self, tensor, entry, step, outside=None):
        try:
            self._entries[id(tensor)] = (weakref.ref(tensor), entry, step, outside)
        except TypeError:  # not weakly referable: cannot be recognised later
            pass

    def _unique_name(self, name, tensor, step):
        """`name`, or `name_1`, `name_2`, ... when another tensor of the block has it at `step`."""
        candidate, n = name, 0
        while self._names.setdefault((candidate, step), id(tensor)) != id(tensor):
            n += 1
            candidate = "%s_%d" % (name, n)
        return candidate


_graph_entries = weakref.WeakKeyDictionary()  # FuncGraph -> {tensor.ref(): entry}
_graph_external_names = weakref.WeakKeyDictionary()  # FuncGraph -> names of its arguments and constants so far
# FuncGraph -> {tensor.ref(): (name, tensor, origin)}: arguments to capture at their first use.
_pending_arguments = weakref.WeakKeyDictionary()


def graph_entries(graph):
    """{tensor.ref(): entry} of the tensors traced so far in `graph`."""
    entries = _graph_entries.get(graph)
    if entries is None:
        entries = _graph_entries[graph] = {}
    return entries


def graph_external(op_type, tensor, op_name, graph, capture_external):
    """Notes a function argument (``Placeholder``) or constant (``Const``) of `graph`.

    Those that can hold NaN/Inf are captured on every call through
    `capture_external(name, tensor, origin)`: a constant at once, an argument
    when an instrumented op first uses it (arguments are made before the
    function's body, whose stateful ops alone are kept when it runs).
    """
    if tensor.dtype == tf.resource:  # a captured variable's handle
        entry = {"external": "variable", "name": variable_name(tensor), "dtype": "resource"}
    else:
        kind = "argument" if op_type == "Placeholder" else "constant"
        op_name = _unique_in(graph, (op_name or op_type).strip("/"))  # "ones/": a name scope used as a name
        entry = {"external": kind, "name": op_name, "dtype": tensor.dtype.name}
        if can_hold_nonfinite(tensor.dtype):
            name, origin = "%s/%s/%s" % (graph.name, kind, op_name), {"kind": kind, "name": op_name}
            if kind == "argument":
                _pending_arguments.setdefault(graph, {})[tensor.ref()] = (name, tensor, origin)
            else:
                tag = capture_external(name, tensor, origin)
                if tag is not None:
                    entry["tag"] = tag
    graph_entries(graph)[tensor.ref()] = entry


def _unique_in(graph, name):
    """`name`, or `name_1`, `name_2`, ... when an argument or constant of `graph` has it already.

    (Keras names both placeholders of its ``(x, y)`` argument ``data``.)
    """
    used = _graph_external_names.setdefault(graph, set())
    candidate, n = name, 0
    while candidate in used:
        n += 1
        candidate = "%s_%d" % (name, n)
    used.add(candidate)
    return candidate


def graph_op(display_name, op_type, inputs, graph, capture_external):
    """The lineage of an op traced in `graph`, about to be instrumented.

    Arguments it is the first instrumented op to use are captured now.
    """
    known = graph_entries(graph)
    pending = _pending_arguments.get(graph, {})
    for tensor in inputs:
        waiting = pending.pop(tensor.ref(), None)
        if waiting is not None:
            tag = capture_external(*waiting)
            if tag is not None:
                known[tensor.ref()] = dict(known[tensor.ref()], tag=tag)
    entries = [known.get(t.ref()) or uncaptured(t.op.type) for t in inputs]
    found = {"op": {"type": display_name, "inputs": entries}}
    if op_type == "ReadVariableOp" and entries and entries[0].get("external") == "variable":
        found["origin"] = {"kind": "variable", "name": entries[0]["name"]}
    return found


def graph_produced(graph, tensor, tag):
    """`tensor` of `graph` is instrumented under the full `tag`."""
    graph_entries(graph)[tensor.ref()] = {"tag": tag}


def graph_not_captured(graph, tensors, op_type):
    known = graph_entries(graph)
    for tensor in tensors:
        known[tensor.ref()] = uncaptured(op_type)


def graph_passes_through(inputs, outputs, graph):
    """An ``Identity``: its output comes from where its input came from."""
    known = graph_entries(graph)
    known[outputs[0].ref()] = known.get(inputs[0].ref()) or uncaptured(inputs[0].op.type)


_variable_names = {}  # id(resource handle) -> (weak reference, name)


def variable_name(handle):
    """The name of the variable whose resource `handle` an op is reading, or None.

    Known from the stack while TensorFlow reads the variable (`tf_internals`);
    remembered per eager handle for later ops that take the handle itself.
    """
    known = _variable_names.get(id(handle))
    if known is not None and known[0]() is handle:
        return known[1]
    variable = tf_internals.variable_being_read(sys._getframe(1), _MAX_FRAMES)
    name = None if variable is None else gradients.variable_name(variable)
    if name is not None and tf.executing_eagerly():
        try:
            _variable_names[id(handle)] = (weakref.ref(handle), name)
        except TypeError:
            pass
    return name


def local_name(tensor):
    """The name of a local variable of the user's innermost frame holding `tensor`, or None."""
    frame = capture_context.user_frame(sys._getframe(1))
    if frame is not None:
        for name, value in frame.f_locals.items():
            if value is tensor and not name.startswith("_"):
                return name
    return None


_metadata_cache = {}
_MAX_CACHED = 100_000


def serialized_metadata(source, description=None, lineage=None):
    """The serialized metadata of a capture with `lineage` ({"op": ...} and/or {"origin": ...})."""
    if not lineage:
        return capture_context.serialized_metadata(source, description)
    key = (
        source["file"],
        source["line"],
        source["function"],
        description,
        json.dumps(lineage, sort_keys=True, separators=(",", ":")),
    )
    cached = _metadata_cache.get(key)
    if cached is None:
        if len(_metadata_cache) >= _MAX_CACHED:
            _metadata_cache.clear()
        cached = metadata.create_summary_metadata(source, description, **lineage).SerializeToString()
        _metadata_cache[key] = cached
    return cached
