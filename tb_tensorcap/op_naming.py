"""The tags `record()` gives the ops it captures, and its op and dtype filters.

For an op executed eagerly in ``with record(prefix):``::

    <prefix>/<scope>/<NNNN>_<OpType>[:<k>]

* ``<prefix>``: the block's prefix, nested under the prefixes of the enclosing
  `Capturer` / `record` blocks of the thread (as `Capturer` does).
* ``<scope>``: the ``tf.name_scope`` active when the op ran, relative to the
  scope active when the block was entered (Keras layers open one scope per
  layer: ``sequential/dense1``); omitted when empty.
* ``<NNNN>``: the op's position among all the ops the block executed,
  counting from 0, zero-padded to 4 digits (more past 9999). Filters do not
  renumber: the same code gives the same names at every step whatever
  ``ops``/``dtypes``/``max_captures`` say.
* ``<OpType>``: the op type (``MatMul``); for a call of a ``tf.function`` the
  Python function's name (``train_step``, from ``__inference_train_step_42``).
* ``:<k>``: the output index, for outputs 1, 2, ... of multi-output ops
  (output 0 has no suffix).

An op traced inside a `tf.function` is named
``<prefix>/<function>/<scope>/<NNNN>_<OpType>[:<k>]`` (``<NNNN>`` counts the
function's ops; ``<scope>`` is the op's name scope inside the function).
Inside a `tf.distribute` replica context the `capture` rules add
``replica_<k>/`` in front of everything (see `summary.py`).
"""

import re

import numpy as np
import tensorflow as tf

_FUNCTION_NAME = re.compile(r"^__inference_(.+?)_\d+$")


def display_name(op_type, ops_regex):
    """The name an op type gets in tags, or "" if `ops_regex` filters it out."""
    match = _FUNCTION_NAME.match(op_type)
    name = match.group(1) if match else op_type
    if ops_regex is not None and not ops_regex.fullmatch(name):
        return ""
    return name


def eager_op_base(scope, entry_scope, index, name):
    """The tag (relative to the block's prefix) of output 0 of an eager op.

    `scope` is the eager name scope when the op ran, `entry_scope` the one
    when the block was entered, `index` the op's position in the block.
    """
    if scope and entry_scope and scope.startswith(entry_scope):
        scope = scope[len(entry_scope) :]
    return "%s%04d_%s" % (scope, index, name)


def graph_op_base(graph_name, op_name, index, name):
    """The tag (relative to the block's prefix) of output 0 of an op traced in `graph_name`."""
    scope = (op_name or "").rpartition("/")[0]
    return "%s/%s%04d_%s" % (graph_name, scope + "/" if scope else "", index, name)


def output_tag(base, k):
    """The tag of output `k` of an op whose output 0 is tagged `base`."""
    return base if k == 0 else "%s:%d" % (base, k)


def normalize_dtypes(dtypes):
    """`record(dtypes=...)` as a frozenset of `tf.DType`s, or None for all."""
    if dtypes is None:
        return None
    if isinstance(dtypes, (str, tf.DType, np.dtype, type)):
        dtypes = [dtypes]
    try:
        return frozenset(tf.as_dtype(d) for d in dtypes)
    except TypeError as e:
        raise TypeError("record(dtypes=...) takes dtypes or dtype names: %s" % e) from None
