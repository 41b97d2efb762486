"""`capture_gradients()`: each gradient captured under its variable's name."""

import re

import tensorflow as tf

from tb_tensorcap import capture_context, summary


def capture_gradients(grads, variables, step=None, prefix="grad", *, writer=None):
    """Captures each gradient under the name of its variable; returns `grads`.

    Tags: ``<prefix>/<variable name>``, where the name is a Keras variable's
    ``path`` (``sequential/dense1/kernel``) or a ``tf.Variable``'s name
    without its ``:0`` (``dense/kernel`` from ``dense/kernel:0``); a name
    seen twice in one call gets ``_1``, ``_2``, ... Active `Capturer` /
    `record` prefixes apply as for `capture`.

    None gradients (variables the loss does not depend on) are skipped.
    ``tf.IndexedSlices`` gradients (from gathers, embeddings) are densified to
    the variable's full shape with ``tf.convert_to_tensor``: rows that were
    not touched are 0 and repeated indices are summed, i.e. the dense
    gradient the optimizer effectively applies.

    Args:
      grads: gradients, as from ``tape.gradient(loss, variables)``.
      variables: the variables, in the same order.
      step: the step (else the `capture` rules).
      prefix: the name in front of every tag ("" for none).
      writer: a ``tf.summary`` writer to use instead of the default.
    """
    grads = list(grads)
    variables = list(variables)
    if len(grads) != len(variables):
        raise ValueError("capture_gradients got %d gradients for %d variables" % (len(grads), len(variables)))
    seen = {}
    for grad, variable in zip(grads, variables):
        name = variable_name(variable)
        count = seen.get(name, 0)
        seen[name] = count + 1
        if count:
            name = "%s_%d" % (name, count)
        if grad is None:
            continue
        if isinstance(grad, tf.IndexedSlices):
            with capture_context.writing():
                grad = tf.convert_to_tensor(grad)
        summary.capture(grad, "%s/%s" % (prefix.strip("/"), name) if prefix.strip("/") else name, step, writer=writer)
    return grads


def variable_name(variable):
    """A variable's capture name: Keras ``path``, else ``name`` without ``:0``."""
    path = getattr(variable, "path", None)
    if isinstance(path, str) and path:
        return path
    name = getattr(variable, "name", None) or "variable"
    return re.sub(r":\d+$", "", name)
