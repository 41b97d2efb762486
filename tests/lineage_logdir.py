"""Hand-written logdirs in format version 2: captures with known lineage.

Each capture is written by a real `tf.summary` writer with metadata from
`metadata.create_summary_metadata`, exactly as `record()` writes it, so the
root-cause tests know every value and every edge they assert about.
"""

import numpy as np
import tensorflow as tf

from tb_tensorcap import metadata


def source(line, function="step_fn", file="/home/me/train.py"):
    return {"file": file, "line": line, "function": function}


def op(tag, value, op_type, inputs, line=10):
    """A captured op output: `inputs` are tags or {"external": ...} dicts."""
    entries = [{"tag": i} if isinstance(i, str) else i for i in inputs]
    return (tag, value, {"op": {"type": op_type, "inputs": entries}, "source": source(line)})


def external(tag, value, kind, name, line=5):
    """The capture of a tensor from outside the block."""
    return (tag, value, {"origin": {"kind": kind, "name": name}, "source": source(line)})


def plain(tag, value):
    """A `capture()` call: no lineage."""
    return (tag, value, {"source": source(99)})


def ref(tag, kind, name):
    """An op input that came from outside the block, captured under `tag`."""
    return {"external": kind, "name": name, "tag": tag}


def write_run(run_dir, steps):
    """Writes {step: [capture, ...]} to `run_dir`, in the order given."""
    writer = tf.summary.create_file_writer(str(run_dir))
    with writer.as_default():
        for step, captures in steps.items():
            for tag, value, facts in captures:
                md = metadata.create_summary_metadata(**facts)
                assert tf.summary.write(tag, tf.constant(np.asarray(value)), step=step, metadata=md)
    writer.close()


def softmax_log_step(nan, prefix="step"):
    """A classifier step: x -> MatMul -> Softmax -> Log -> Mul(labels) -> Sum -> Neg (the loss).

    With `nan`, Softmax underflows to an exact 0 in one element, Log makes
    -inf there and -inf * 0 (the label) makes the loss NaN.
    """
    p = prefix + "/"
    x = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    w = np.array([[1.0, -1.0], [0.5, 0.25]], np.float32)
    logits = x @ w
    probs = np.array([[0.7, 0.3], [1.0, 0.0]] if nan else [[0.7, 0.3], [0.9, 0.1]], np.float32)
    labels = np.array([[1.0, 0.0], [1.0, 0.0]], np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        log = np.log(probs)
        product = log * labels
    total = product.sum(dtype=np.float32)
    return [
        external(p + "input/x", x, "input", "x"),
        op(p + "ReadVariableOp", w, "ReadVariableOp", [ref(p + "variable/dense/kernel", "variable", "dense/kernel")]),
        external(p + "variable/dense/kernel", w, "variable", "dense/kernel"),
        op(p + "dense/MatMul", logits, "MatMul", [ref(p + "input/x", "input", "x"), p + "ReadVariableOp"], line=20),
        op(p + "dense/Softmax", probs, "Softmax", [p + "dense/MatMul"], line=21),
        op(p + "loss/Log", log, "Log", [p + "dense/Softmax"], line=30),
        external(p + "input/labels", labels, "input", "labels"),
        op(p + "loss/Mul", product, "Mul", [p + "loss/Log", ref(p + "input/labels", "input", "labels")], line=30),
        op(p + "loss/Sum", total, "Sum", [p + "loss/Mul"], line=31),
        op(p + "loss/Neg", -total, "Neg", [p + "loss/Sum"], line=31),
    ]
