"""Lineage for `keras.CaptureCallback`'s full mode, at the level it captures: layers.

Full mode captures each layer's output, the loss, the gradients and the
weights, not every op as `record()` does, so the lineage it stores
(metadata.py, "Lineage") is one level up: a layer's activation is the output
of an "op" whose type is the layer's class (``Dense``) and whose inputs are
the activations of the layers that fed it, the batch's inputs and targets
(captured for this as ``<prefix>/input/x`` and ``<prefix>/input/y``, origin
"input") and the layer's own weights (variables: their value as the layer
read it is not captured, the weights are captured after the update). The
loss takes the model's outputs and the targets; each gradient takes the
loss. A tensor the layer got from an op between layers (a cast, a reshape
outside any layer) is "uncaptured". So a root cause on a ``fit`` captured in
full mode names the layer whose inputs were finite and whose output was not.

Tensors are the symbolic ones of the train step being traced, known by
`Tensor.ref()`; the callback starts afresh at every trace.
"""

from tb_tensorcap import lineage

# Names of the batch's parts, as captured: <prefix>/input/x, <prefix>/input/y.
BATCH_PARTS = {"input": "x", "target": "y"}


class KerasLineage:
    """Which stash holds each traced tensor, and the lineage of each stash's capture.

    Args:
      tag_of: stash key -> the full tag its capture is written under.
    """

    def __init__(self, tag_of):
        self._tag_of = tag_of
        self._keys = {}  # tensor.ref() -> stash key
        self._facts = {}  # stash key -> {"op": ...} or {"origin": ...}

    def start_trace(self):
        self._keys.clear()
        self._facts.clear()

    def batch_part(self, tensor, key):
        """`tensor`, a part of the batch (key ("input" | "target", k)), is stashed under `key`."""
        self._keys[tensor.ref()] = key
        self._facts[key] = {"origin": {"kind": "input", "name": BATCH_PARTS[key[0]]}}

    def entries(self, tensors):
        """The lineage entry of each tensor: the capture of its stash, or "uncaptured"."""
        found = []
        for tensor in tensors:
            key = self._keys.get(tensor.ref())
            found.append({"tag": self._tag_of(key)} if key is not None else lineage.uncaptured(tensor.op.type))
        return found

    def produced(self, tensor, key, op_type, inputs):
        """`tensor`, stashed under `key`, is the output of `op_type` from `inputs` (entries)."""
        self._keys[tensor.ref()] = key
        self._facts[key] = {"op": {"type": op_type, "inputs": inputs}}

    def facts(self, key):
        """The lineage facts of the capture of stash `key`, or None (unknown)."""
        return self._facts.get(key)


def weight_entries(layer, name_of):
    """Entries for the variables `layer` itself holds (not its sublayers'), named by `name_of`."""
    try:
        sublayers = list(layer._flatten_layers(include_self=False, recursive=True))
    except (AttributeError, TypeError):
        sublayers = []
    nested = {id(w) for sub in sublayers for w in sub.weights}
    return [
        {"external": "variable", "name": name_of(w), "dtype": getattr(w.dtype, "name", str(w.dtype))}
        for w in layer.weights
        if id(w) not in nested
    ]
