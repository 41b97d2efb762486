"""The tags `record()` gives the ops it captures, and its op and dtype filters.

For an op executed eagerly in ``with record(prefix):``::

    <prefix>/<scope>/<OpType>[_<n>][:<k>]

* ``<prefix>``: the block's prefix, nested under the prefixes of the enclosing
  `Capturer` / `record` blocks of the thread (as `Capturer` does).
* ``<scope>``: the ``tf.name_scope`` active when the op ran, relative to the
  scope active when the block was entered (Keras layers open one scope per
  layer: ``sequential/dense1``); omitted when empty.
* ``<OpType>``: the op type (``MatMul``); for a call of a ``tf.function`` the
  Python function's name (``train_step``, from ``__inference_train_step_42``).
* ``_<n>``: the n-th earlier op of the same type in the same scope, as
  TensorFlow names graph ops (``MatMul``, ``MatMul_1``, ...): inserting an op
  renames only the later ops of its type in its scope, and filters
  (``ops``/``dtypes``/``max_captures``) rename nothing. Calls of a
  ``tf.function`` get no ``_<n>``: each call in a block is a step of its own
  (`graph_capture`).
* ``:<k>``: the output index, for outputs 1, 2, ... of multi-output ops
  (output 0 has no suffix).

An op traced inside a `tf.function` gets the same name as it would eagerly:
``<prefix>/<scope>/<OpType>[_<n>][:<k>]``, counted per scope and type within
the function, with the scope as the code asked for it (TensorFlow makes
scopes unique inside a graph: Keras' ``cnn/dense`` becomes ``cnn_1/dense_1``;
`requested_scope` undoes that) and without the function's name, so an eager
run and a `tf.function` run of the same model code compare tag for tag. Runs
written before this scheme (``<NNNN>_<OpType>``, ``<prefix>/<function>/...``)
stay readable: tags are only names.
Inside a `tf.distribute` replica context the `capture` rules add
``replica_<k>/`` in front of everything (see `summary.py`).
"""

import re

import numpy as np
import tensorflow as tf

_FUNCTION_NAME = re.compile(r"^__inference_(.+?)_\d+$")


def is_function_call(op_type):
    """Whether an eager op is the call of a `tf.function` (``__inference_<name>_<n>``)."""
    return op_type.startswith("__inference_")


def display_name(op_type, ops_regex):
    """The name an op type gets in tags, or "" if `ops_regex` filters it out."""
    match = _FUNCTION_NAME.match(op_type)
    name = match.group(1) if match else op_type
    if ops_regex is not None and not ops_regex.fullmatch(name):
        return ""
    return name


def eager_scope(scope, entry_scope):
    """The scope ("" or "a/b/") of an eager op, relative to the block's entry scope."""
    if scope and entry_scope and scope.startswith(entry_scope):
        scope = scope[len(entry_scope) :]
    return scope


def graph_scope(op_name, names_in_use):
    """The scope ("" or "a/b/") of a graph op named `op_name`, as the code asked for it."""
    scope = requested_scope((op_name or "").rpartition("/")[0], names_in_use)
    return scope + "/" if scope else ""


def op_base(scope, name, count):
    """The tag (relative to the block's prefix) of output 0 of the `count`-th op `name` in `scope`."""
    return "%s%s_%d" % (scope, name, count) if count else scope + name


_UNIQUIFIED = re.compile(r"^(.+)_\d+$")


def requested_scope(scope, names_in_use):
    """A graph name scope without the suffixes the graph added to make it unique.

    Inside a `tf.function` TensorFlow makes each name scope unique in the
    graph (Keras 3 enters a layer's scope twice: ``dense`` becomes
    ``dense_1``, a layer named ``dense_1`` becomes ``dense_1_2``); eagerly
    scopes are used as given. A segment ``X_<n>`` whose ``X`` (under the same
    parent) is in `names_in_use` (the graph's used names, lower case) was
    asked for as ``X``. A scope first asked for as ``block_2`` keeps its name.
    """
    if not scope:
        return ""
    made, asked = [], []
    for segment in scope.split("/"):
        match = _UNIQUIFIED.match(segment)
        if match and "/".join(made + [match.group(1)]).lower() in names_in_use:
            asked.append(match.group(1))
        else:
            asked.append(segment)
        made.append(segment)
    return "/".join(asked)


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
