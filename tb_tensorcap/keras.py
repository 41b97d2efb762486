"""`CaptureCallback`: activations, weights and gradients from `model.fit`.

    import tb_tensorcap as tensorcap
    model.fit(x, y, callbacks=[tensorcap.keras.CaptureCallback(every_n_batches=10)])

For Keras 3 with the TensorFlow backend. Tags, relative to the model (its
own name is dropped from Keras paths: ``sequential/dense1/kernel`` gives
``dense1/kernel``)::

    [<prefix>/]<layer>/activation          the layer's output for the batch
    [<prefix>/]<layer>/<weight>            e.g. dense1/kernel, after the update
    [<prefix>/]grad/<layer>/<weight>       the gradient the optimizer applied
    [<prefix>/]loss                        the batch's loss (the value the gradients are of)
    [<prefix>/]logs/<name>                 what Keras logs after the batch: ``loss`` and the
                                           compiled metrics, each Keras' running mean over
                                           the epoch so far (as the progress bar shows)

A layer with several outputs gives ``activation``, ``activation:1``, ...

Step: the global batch counter, ``optimizer.iterations`` when training starts
plus the batches run since, so successive ``fit`` calls continue the count.
Batches whose step is a multiple of ``every_n_batches`` are captured.

How (and what it costs): when the callback is attached (``set_model``, at
the start of ``fit``) it wraps the model's ``train_step``, the selected
layers' ``call``, the model's ``_compute_loss`` and the optimizer's
``apply_gradients`` on these instances
only, and makes Keras retrace its train function. While that trace is built,
each selected layer output and each gradient gets a conditional copy into a
stash variable inside the compiled step; the condition is one boolean
variable the callback sets before captured batches. So the values are exactly
those of the training step (same batch, same dropout mask, the gradients the
optimizer received: for a ``LossScaleOptimizer``, scaled), and a batch that is
not captured pays one boolean read per stash. A captured batch pays one
device copy per activation and gradient, then reading them back and writing
them (and the weights) after the batch. No extra forward or backward pass
runs. XLA cannot compile the stash writes, so while attached the train
step runs with ``jit_compile=False`` (a warning says so when it was on).
Each capture carries its lineage at the level of layers (`keras_lineage`:
the batch's inputs and targets are captured for it, as ``input/x`` and
``input/y``), so ``tensorcap rootcause`` names the culprit layer.
``on_train_end`` removes the wrappers and Keras retraces again at the next
``fit``. Under a distribution strategy with several replicas only weights are
captured (a warning says so). With ``steps_per_execution > 1`` the values
are those of the last batch of each captured execution.

Health mode and the flight recorder (``mode="health"``, ``keep_steps=K``):
instead of the stashes, each captured batch runs inside a ``record()`` block
(``tensorcap.record(mode="health")``, or a block of a
``tensorcap.FlightRecorder(keep_steps=K)`` opened on every batch), and the
train function is retraced inside the first one, so every op of the compiled
train step is instrumented: its statistics are computed on device and written
as one health record per batch, and under the flight recorder its values
stay in an on-device ring, written when the trigger fires (see
`health_mode`, `traced_store`, `flight`). Tags are
``<prefix or "train">/<function>/.../<NNNN>_<OpType>``; ``layers`` and
``what`` apply to full mode only. XLA is turned off while attached, as above.
"""

import functools
import warnings

import keras as _keras
import numpy as np
import tensorflow as tf

from tb_tensorcap import autocapture, capture_context, capture_core, flight, keras_lineage, summary, tf_internals
from tb_tensorcap.gradients import variable_name

__all__ = ["CaptureCallback"]

_WHAT = ("activations", "weights", "gradients", "loss", "metrics")
_STASHED = frozenset(["activations", "gradients", "loss"])


class CaptureCallback(_keras.callbacks.Callback):
    """Captures layer activations, weights and gradients during ``fit``.

    Args:
      layers: the layers to capture: None for every layer (nested ones
        included, input layers excluded), or a list of layers or layer names.
      every_n_batches: capture the batches whose step is a multiple of this.
      what: any of "activations", "weights", "gradients", "loss" (the
        batch's loss) and "metrics" (the batch's logs: loss and compiled
        metrics as Keras reports them); default: all.
      prefix: a name in front of every tag ("" for none).
      writer: a ``tf.summary`` writer to write to; else the `capture` rules
        (the active default writer, else TensorCap's own).
      mode: "full" (the stashes above) or "health" (statistics of every op
        of the train step, one record per captured batch).
      keep_steps: with an int, a `FlightRecorder` keeping that many batches
        runs on every batch (``every_n_batches`` is ignored).
      trigger, max_bytes, max_triggers: the flight recorder's (see `FlightRecorder`).
    """

    def __init__(
        self,
        layers=None,
        every_n_batches=1,
        what=_WHAT,
        prefix="",
        writer=None,
        *,
        mode="full",
        keep_steps=None,
        trigger="nonfinite",
        max_bytes=1 << 30,
        max_triggers=10,
    ):
        super().__init__()
        if mode not in ("full", "health"):
            raise ValueError('CaptureCallback(mode=...) takes "full" or "health", not %r' % (mode,))
        self._mode = mode
        self._recorder = (
            None
            if keep_steps is None
            else flight.FlightRecorder(
                keep_steps, trigger=trigger, max_bytes=max_bytes, writer=writer, max_triggers=max_triggers
            )
        )
        self._block = None
        if isinstance(what, str):
            what = (what,)
        unknown = set(what) - set(_WHAT)
        if unknown:
            raise ValueError(
                "CaptureCallback(what=...) takes %s, not %s" % (", ".join(_WHAT), ", ".join(sorted(unknown)))
            )
        if not isinstance(every_n_batches, int) or every_n_batches < 1:
            raise ValueError("every_n_batches must be a positive int, got %r" % (every_n_batches,))
        self._layer_spec = layers
        self._every = every_n_batches
        self._what = frozenset(what)
        self._prefix = prefix.strip("/") if prefix else ""
        self._writer = writer
        self._hooked = None  # the model whose methods are wrapped
        self._originals = []  # (object, attribute) pairs to restore
        self._tracing = False
        self._flag = None
        self._stashes = {}  # key -> stash variable
        self._lineage = keras_lineage.KerasLineage(self._tag_of)
        self._layers = []
        self._step = None
        self._batch_begin = 0
        self._capture_now = False

    # -- Keras callback API -----------------------------------------------------

    def set_model(self, model):
        super().set_model(model)
        # fit() builds its train function right after set_model and before
        # on_train_begin: the wrappers must be in place now.
        if getattr(model, "optimizer", None) is not None and self._hooked is not model:
            self._install(model)

    def on_train_begin(self, logs=None):
        if self._hooked is not self.model:
            self._install(self.model)
        iterations = getattr(getattr(self.model, "optimizer", None), "iterations", None)
        self._step = int(np.asarray(iterations)) if iterations is not None else (self._step or 0)

    def on_train_batch_begin(self, batch, logs=None):
        self._batch_begin = batch
        self._capture_now = self._recorder is not None or self._step % self._every == 0
        if self._records_blocks:
            if self._capture_now:
                self._open_block(self._step)
            return
        self._set_flag(self._capture_now)

    def on_train_batch_end(self, batch, logs=None):
        step = self._step + max(batch - self._batch_begin, 0)
        self._step = step + 1
        if self._records_blocks:
            self._close_block()
        elif self._capture_now:
            self._capture(step)
            if "metrics" in self._what:
                for name, value in sorted((logs or {}).items()):
                    if np.ndim(value) == 0 and np.issubdtype(np.asarray(value).dtype, np.number):
                        self._write(np.float32(value), "logs/%s" % name, step)

    def on_train_end(self, logs=None):
        self._close_block()
        self._set_flag(False)
        self._uninstall()

    @property
    def recorder(self):
        """The `FlightRecorder` of ``keep_steps`` (None without): its ``triggered`` list."""
        return self._recorder

    @property
    def _records_blocks(self):
        return self._mode == "health" or self._recorder is not None

    def _open_block(self, step):
        prefix = self._prefix or "train"
        if self._recorder is not None:
            self._block = self._recorder.record(prefix, step=step)
        else:
            self._block = autocapture.record(prefix, step=step, writer=self._writer, mode="health")
        self._block.__enter__()

    def _close_block(self):
        block, self._block = self._block, None
        if block is not None:
            block.__exit__(None, None, None)

    # -- wrapping ------------------------------------------------------------------

    def _install(self, model):
        self._uninstall()
        self._hooked = model
        if self._records_blocks:
            self._without_xla(model)
            model.train_function = None  # retraced inside the first block: its ops get instrumented
            return
        self._layers = self._select_layers(model)
        strategy = model.distribute_strategy
        replicas = getattr(strategy, "num_replicas_in_sync", 1)
        stash_what = self._what & _STASHED
        if replicas > 1 and stash_what:
            warnings.warn(
                "CaptureCallback: %d replicas in sync; only weights and logs are captured "
                "under a multi-replica strategy" % replicas,
                RuntimeWarning,
                stacklevel=3,
            )
            stash_what = set()
        if stash_what:
            with tf.init_scope():
                if self._flag is None:
                    self._flag = tf_internals.plain_resource_variable(
                        False, trainable=False, name="tensorcap_capture_batch"
                    )
            self._wrap(model, "train_step", self._wrapped_train_step)
            if "activations" in stash_what:
                for layer in self._layers:
                    self._wrap(layer, "call", functools.partial(self._wrapped_call, layer))
            if "loss" in stash_what and hasattr(model, "_compute_loss"):
                self._wrap(model, "_compute_loss", self._wrapped_compute_loss)
            if "gradients" in stash_what and getattr(model, "optimizer", None) is not None:
                self._wrap(model.optimizer, "apply_gradients", self._wrapped_apply_gradients)
            self._without_xla(model)
            model.train_function = None  # retrace with the wrappers

    def _without_xla(self, model):
        if getattr(model, "jit_compile", False):
            warnings.warn(
                "CaptureCallback: running the train step without XLA (jit_compile=False) while attached",
                RuntimeWarning,
                stacklevel=4,
            )
            self._originals.append((model, "jit_compile", model.jit_compile, True))
            model.jit_compile = False

    def _wrap(self, obj, name, make_wrapper):
        original = getattr(obj, name)
        had_own = name in obj.__dict__  # an instance attribute to put back, else delete ours
        self._originals.append((obj, name, obj.__dict__.get(name), had_own))
        setattr(obj, name, functools.wraps(original)(make_wrapper(original)))

    def _uninstall(self):
        model, self._hooked = self._hooked, None
        originals, self._originals = self._originals, []
        for obj, name, original, had_own in reversed(originals):
            if name == "jit_compile":
                obj.jit_compile = original
            elif had_own:
                setattr(obj, name, original)
            else:
                try:
                    object.__delattr__(obj, name)
                except AttributeError:
                    pass
        if model is not None and (originals or self._records_blocks):
            model.train_function = None

    def _wrapped_train_step(self, original):
        def train_step(*args, **kwargs):
            self._tracing = True
            self._lineage.start_trace()
            if args and self._what & {"activations", "loss"}:
                self._stash_batch(args[0])
            try:
                return original(*args, **kwargs)
            finally:
                self._tracing = False

        return train_step

    def _stash_batch(self, data):
        """Stashes the batch's inputs and targets (captured as input/x, input/y: the lineage's sources)."""
        x, y, _ = _keras.utils.unpack_x_y_sample_weight(data)
        for part, values in (("input", x), ("target", y)):
            tensors = [t for t in tf.nest.flatten(values) if isinstance(t, tf.Tensor)]
            for k, tensor in enumerate(tensors):
                self._stash((part, k), tensor)
                self._lineage.batch_part(tensor, (part, k))

    def _wrapped_call(self, layer, original):
        def call(*args, **kwargs):
            inputs = None
            if self._tracing:
                tensors = [t for t in tf.nest.flatten((args, kwargs)) if isinstance(t, tf.Tensor)]
                inputs = self._lineage.entries(tensors) + keras_lineage.weight_entries(layer, self._variable_name)
            outputs = original(*args, **kwargs)
            if self._tracing:
                flat = tf.nest.flatten(outputs)
                for k, value in enumerate(flat):
                    if isinstance(value, tf.Tensor):
                        self._stash(("activation", id(layer), k), value)
                        self._lineage.produced(value, ("activation", id(layer), k), type(layer).__name__, inputs)
            return outputs

        return call

    def _wrapped_compute_loss(self, original):
        def compute_loss(*args, **kwargs):
            loss = original(*args, **kwargs)
            if self._tracing and kwargs.get("training", True) and isinstance(loss, tf.Tensor):
                self._stash(("loss",), loss)
                sides = [kwargs.get("y_pred"), kwargs.get("y")]
                tensors = [t for t in tf.nest.flatten(sides) if isinstance(t, tf.Tensor)]
                self._lineage.produced(loss, ("loss",), "Loss", self._lineage.entries(tensors))
            return loss

        return compute_loss

    def _wrapped_apply_gradients(self, original):
        def apply_gradients(grads_and_vars, *args, **kwargs):
            grads_and_vars = list(grads_and_vars)
            if self._tracing:
                for grad, variable in grads_and_vars:
                    if grad is None:
                        continue
                    if isinstance(grad, tf.IndexedSlices):
                        grad = tf.convert_to_tensor(grad)
                    key = ("gradient", id(_backing(variable)))
                    self._stash(key, grad)
                    loss = [{"tag": self._tag_of(("loss",))}] if ("loss",) in self._stashes else []
                    self._lineage.produced(grad, key, "Gradient", loss)
            return original(grads_and_vars, *args, **kwargs)

        return apply_gradients

    def _stash(self, key, value):
        """Inside the train step: copy `value` into its stash on captured batches."""
        variable = self._stashes.get(key)
        if variable is None or variable.dtype != value.dtype:
            with tf.init_scope():
                variable = tf_internals.plain_resource_variable(
                    tf.zeros([0], value.dtype), shape=tf.TensorShape(None), trainable=False, name="tensorcap_stash"
                )
            self._stashes[key] = variable

        def copy():
            with tf.control_dependencies([variable.assign(value, read_value=False)]):
                return tf.constant(True)

        tf.cond(self._flag.read_value(), copy, lambda: tf.constant(False))

    def _set_flag(self, value):
        if self._flag is not None and self._hooked is not None:
            self._flag.assign(value)

    # -- capturing -----------------------------------------------------------------

    def _capture(self, step):
        for part in keras_lineage.BATCH_PARTS:
            k = 0
            while (part, k) in self._stashes:
                self._write(self._stashes[(part, k)].read_value(), self._name_of((part, k)), step, (part, k))
                k += 1
        if "activations" in self._what:
            for layer in self._layers:
                k = 0
                while ("activation", id(layer), k) in self._stashes:
                    key = ("activation", id(layer), k)
                    self._write(self._stashes[key].read_value(), self._name_of(key), step, key)
                    k += 1
        if "loss" in self._what and ("loss",) in self._stashes:
            self._write(self._stashes[("loss",)].read_value(), "loss", step, ("loss",))
        variables = self._variables()
        if "gradients" in self._what:
            for variable in variables:
                key = ("gradient", id(_backing(variable)))
                stash = self._stashes.get(key)
                if stash is not None and getattr(variable, "trainable", True):
                    self._write(stash.read_value(), "grad/" + self._variable_name(variable), step, key)
        if "weights" in self._what:
            for variable in variables:
                self._write(_backing(variable), self._variable_name(variable), step)

    def _write(self, value, name, step, key=None):
        """Writes one capture, with the lineage of stash `key` (none inside a user's Capturer block)."""
        tag = "%s/%s" % (self._prefix, name) if self._prefix else name
        facts = self._lineage.facts(key) if key is not None else None
        if facts is None or capture_core.innermost_capturer() is not None:
            summary.capture(value, tag, step, writer=self._writer)
        else:
            summary.write(value, tag, step, None, self._writer, capture_context.source_location(), facts)

    def _name_of(self, key):
        """The capture name (without the prefix) of stash `key`."""
        if key[0] in keras_lineage.BATCH_PARTS:
            name = "input/" + keras_lineage.BATCH_PARTS[key[0]]
            return name if key[1] == 0 else "%s:%d" % (name, key[1])
        if key[0] == "activation":
            layer = next(layer for layer in self._layers if id(layer) == key[1])
            return "%s/%s" % (self._layer_name(layer), "activation" if key[2] == 0 else "activation:%d" % key[2])
        return "loss"

    def _tag_of(self, key):
        """The full tag of the capture of stash `key` (activations, batch parts and the loss)."""
        name = self._name_of(key)
        return "%s/%s" % (self._prefix, name) if self._prefix else name

    # -- naming and selection ------------------------------------------------------

    def _select_layers(self, model):
        if self._layer_spec is None:
            try:
                layers = list(model._flatten_layers(include_self=False, recursive=True))
            except (AttributeError, TypeError):
                layers = list(model.layers)
            return [layer for layer in layers if not isinstance(layer, _keras.layers.InputLayer)]
        selected = []
        for spec in self._layer_spec:
            selected.append(model.get_layer(spec) if isinstance(spec, str) else spec)
        return selected

    def _variables(self):
        seen, variables = set(), []
        for layer in self._layers:
            for variable in layer.weights:
                if id(variable) not in seen:
                    seen.add(id(variable))
                    variables.append(variable)
        return variables

    def _relative(self, path):
        own = getattr(self.model, "name", None)
        if own and path.startswith(own + "/"):
            return path[len(own) + 1 :]
        return path

    def _variable_name(self, variable):
        return self._relative(variable_name(variable))

    def _layer_name(self, layer):
        path = getattr(layer, "path", None)
        return self._relative(path if isinstance(path, str) and path else layer.name)


def _backing(variable):
    """The tf.Variable behind a Keras variable (the optimizer may get either)."""
    value = getattr(variable, "value", None)
    return value if isinstance(value, tf.Variable) else variable
