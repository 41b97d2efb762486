"""Which step a `record()` block writes at, and the warnings about a block's steps and limit.

A block without an explicit step takes TensorFlow's summary step, else the
number of times a block with its prefix was entered before, counting the
steps its `tf.function` calls used (the k-th call of a function in a block
writes at the block's step + k). The counters are per (replica prefix +
block prefix) and shared by the process's threads. The warnings (Keras'
``model.fit`` inside a block; ``max_captures`` reached) are given once per
prefix in the process.
"""

import threading
import warnings

import numpy as np
import tensorflow as tf

from tb_tensorcap import capture_context

# The tf.function names of Keras' train step (Keras 3, Keras 2): `model.fit` is running.
KERAS_TRAIN_FUNCTIONS = frozenset(["one_step_on_iterator", "multi_step_on_iterator", "train_function"])


def resolve_step(explicit_step, key):
    """The step of a block entered now: `explicit_step`, TensorFlow's summary step, or the next of `key`."""
    step = explicit_step
    if step is None:
        step = tf.summary.experimental.get_step()
    if step is None:
        return _next_block_step(key)
    try:
        return int(np.asarray(step))
    except (TypeError, ValueError):
        raise ValueError("record() needs a concrete step, got %r" % (step,)) from None


_block_lock = threading.Lock()
_block_counts = {}


def _next_block_step(key):
    with _block_lock:
        count = _block_counts.get(key, 0)
        _block_counts[key] = count + 1
        return count


def continue_block_steps(key, step):
    """The next block with this prefix starts at `step` or later (its calls used the steps before)."""
    with _block_lock:
        _block_counts[key] = max(_block_counts.get(key, 0), step)


def warn_fit(prefix, function):
    """Warns once per prefix that Keras' fit runs in the block (each batch is then a step)."""
    if ("fit", prefix) in _warned:
        return
    _warned.add(("fit", prefix))
    source = capture_context.source_location()
    warnings.warn_explicit(
        "tensorcap.record(%r) around model.fit (Keras' %s): each batch is written as one step (the "
        "block's step + the batch's index in the block), and every op Keras runs between batches at the "
        "block's step. To capture each batch's activations, weights, gradients, loss and metrics at the "
        "optimizer's step, and nothing else, use model.fit(..., callbacks=[tensorcap.keras.CaptureCallback()]) "
        "instead. (Warned once per prefix.)" % (prefix, function),
        RuntimeWarning,
        source["file"],
        source["line"],
    )


def warn_stopped(prefix, count, limit, op_number):
    """Warns once per (prefix, limit) that ``max_captures`` stopped a block at op #`op_number`."""
    key = (prefix, limit)
    if key in _warned:
        return
    _warned.add(key)
    source = capture_context.source_location()
    warnings.warn_explicit(
        "tensorcap.record(%r) stopped capturing after %d values: max_captures=%d "
        "was reached, so the rest of the block (from op #%d on) is not captured. "
        "Raise max_captures (or pass max_captures=None), or narrow what is "
        "captured with ops= / dtypes=. (Warned once per prefix and limit; "
        "Recording.stopped tells for each block.)" % (prefix, count, limit, op_number),
        RuntimeWarning,
        source["file"],
        source["line"],
    )


_warned = set()  # ("fit", prefix) and (prefix, max_captures) already warned about
