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


class EagerLineage:
    """One block's eager tensors, each with the lineage entry saying where it came from."""

    def __init__(self):
        self._entries = {}  # id(tensor) -> (weak reference, entry)
        self._names = {}  # external input name -> id of the tensor holding it

    def get(self, tensor):
        found = self._entries.get(id(tensor))
        if found is not None and found[0]() is tensor:
            return found[1]
        return None

    def remember(self, tensor, entry):
        try:
            self._entries[id(tensor)] = (weakref.ref(tensor), entry)
        except TypeError:  # not weakly referable: cannot be recognised later
            pass

    def not_captured(self, tensors, op_type):
        entry = uncaptured(op_type)
        for tensor in tensors:
            if tensor is not None:
                self.remember(tensor, entry)

    def unique_name(self, name, tensor):
        """`name`, or `name_1`, `name_2`, ... when another tensor of the block has it."""
        candidate, n = name, 0
        while self._names.setdefault(candidate, id(tensor)) != id(tensor):
            n += 1
            candidate = "%s_%d" % (name, n)
        return candidate


_graph_entries = weakref.WeakKeyDictionary()  # FuncGraph -> {tensor.ref(): entry}


def graph_entries(graph):
    """{tensor.ref(): entry} of the tensors traced so far in `graph`."""
    entries = _graph_entries.get(graph)
    if entries is None:
        entries = _graph_entries[graph] = {}
    return entries


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
    key = (source["file"], source["line"], source["function"], description,
           json.dumps(lineage, sort_keys=True, separators=(",", ":")))
    cached = _metadata_cache.get(key)
    if cached is None:
        if len(_metadata_cache) >= _MAX_CACHED:
            _metadata_cache.clear()
        cached = metadata.create_summary_metadata(source, description, **lineage).SerializeToString()
        _metadata_cache[key] = cached
    return cached
