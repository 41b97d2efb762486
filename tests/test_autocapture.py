"""record() and capture_gradients(): real ops, real writers, read back with load()."""

import threading
import warnings

import numpy as np
import pytest
import tensorflow as tf  # noqa: E402

import tb_tensorcap as tensorcap  # noqa: E402
from tb_tensorcap import tf_internals


def _writer(tmp_path, run="run"):
    return tf.summary.create_file_writer(str(tmp_path / run))


def _load(tmp_path, writer):
    writer.flush()
    return tensorcap.load(str(tmp_path))


def _line_of(text):
    """The line number in this file of the first line containing `text`."""
    with open(__file__) as f:
        return next(i for i, line in enumerate(f, 1) if text in line and "_line_of" not in line)


def _op_tags(tags):
    """The tags of op outputs, without the captures of tensors from outside the block (test_lineage.py)."""
    return [t for t in tags if "/input/" not in t]


X = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
W1 = (np.arange(12, dtype=np.float32).reshape(3, 4) - 6) / 5
W2 = np.linspace(-1, 1, 8, dtype=np.float32).reshape(4, 2)


def _forward(x, w1, w2):
    with tf.name_scope("dense1"):
        h = tf.nn.relu(tf.matmul(x, w1))  # forward: dense1
    with tf.name_scope("dense2"):
        logits = tf.matmul(h, w2)
    return tf.reduce_mean(tf.square(logits))


def test_values_names_sources_and_steps(tmp_path):
    writer = _writer(tmp_path)
    w1, w2 = tf.Variable(W1, name="w1"), tf.Variable(W2, name="w2")
    tag_lists = []
    with writer.as_default():
        for step in range(3):
            x = tf.constant(X + step)
            with tensorcap.record("step") as rec:
                _forward(x, w1, w2)
            tag_lists.append(_op_tags(rec.tags))
            assert rec.step == step  # n-th execution of the block
    assert tag_lists[0] == tag_lists[1] == tag_lists[2]
    assert tag_lists[0] == [
        "step/dense1/ReadVariableOp",
        "step/dense1/MatMul",
        "step/dense1/Relu",
        "step/dense2/ReadVariableOp",
        "step/dense2/MatMul",
        "step/Square",
        "step/Mean",
    ]
    reader = _load(tmp_path, writer)
    assert reader.tags("run") == sorted(tag_lists[0] + ["step/input/x"])
    for step in range(3):
        x = X + step
        h = np.maximum(x @ W1, 0)
        logits = h @ W2
        expected = {
            "step/dense1/ReadVariableOp": W1,
            "step/dense1/MatMul": x @ W1,
            "step/dense1/Relu": h,
            "step/dense2/ReadVariableOp": W2,
            "step/dense2/MatMul": logits,
            "step/Square": logits**2,
            "step/Mean": np.mean(logits**2),
        }
        for tag, value in expected.items():
            got = reader.value("run", tag, step)
            assert got.dtype == np.float32 and got.shape == np.shape(value), tag
            np.testing.assert_allclose(got, value, rtol=1e-6, atol=1e-6, err_msg=tag)
    source = reader.info("run", "step/dense1/MatMul", 2).source
    assert source["file"] == __file__
    assert source["line"] == _line_of("# forward: dense1")
    assert source["function"] == "_forward"
    # Capture order inside a step is the order the ops ran.
    order = [i.tag for i in reader.captures("run") if i.step == 1 and "/input/" not in i.tag]
    assert order == tag_lists[0]


def test_multi_output_ops_scope_relative_to_entry_and_explicit_step(tmp_path):
    writer = _writer(tmp_path)
    with writer.as_default(), tf.name_scope("outer_scope"):
        with tensorcap.record("blk", step=42) as rec:
            a, b = tf.split(tf.constant(X), [1, 2], axis=1)
            with tf.name_scope("inner"):
                tf.identity(b)
    assert _op_tags(rec.tags) == ["blk/SplitV", "blk/SplitV:1", "blk/inner/Identity"]
    reader = _load(tmp_path, writer)
    assert reader.steps("run", "blk/SplitV:1") == [42]
    np.testing.assert_array_equal(reader.value("run", "blk/SplitV", 42), X[:, :1])
    np.testing.assert_array_equal(reader.value("run", "blk/SplitV:1", 42), X[:, 1:])


def test_every_storable_dtype_round_trips(tmp_path):
    import ml_dtypes

    values = [
        np.array([1.5, -2.25], ml_dtypes.bfloat16),
        np.array([[0.5, np.inf]], np.float16),
        np.array(3.25, np.float64),
        np.array([-128, 127], np.int8),
        np.array([2**63 - 1], np.uint64),
        np.array([[True, False]]),
        np.array([1 + 2j, -3j], np.complex64),
        np.zeros((0, 3), np.float32),
        np.array([b"caf\xc3\xa9", b"", b"\x00x"], dtype=object),
    ]
    writer = _writer(tmp_path)
    with writer.as_default():
        tensors = [tf.constant(v) for v in values]
        with tensorcap.record("d") as rec:
            for t in tensors:
                tf.identity(t)
            tf.raw_ops.VarHandleOp(dtype=tf.float32, shape=[])  # a resource handle: skipped
    assert len(_op_tags(rec.tags)) == len(values)
    reader = _load(tmp_path, writer)
    for tag, value in zip(_op_tags(rec.tags), values):
        got = reader.value("run", tag, 0)
        assert got.dtype == value.dtype and got.shape == value.shape, tag
        np.testing.assert_array_equal(got, value)


def test_summary_step_is_used(tmp_path):
    writer = _writer(tmp_path)
    with writer.as_default(step=7):
        with tensorcap.record("s") as rec:
            tf.add(tf.constant(1.0), 2.0)
    assert rec.step == 7
    assert _load(tmp_path, writer).steps("run", "s/AddV2") == [7]


def test_filters_ops_regex_and_dtypes(tmp_path):
    writer = _writer(tmp_path)
    x = tf.constant(X)
    with writer.as_default():
        with tensorcap.record("ops", ops="MatMul|Relu") as by_op:
            y = tf.nn.relu(tf.matmul(x, W1))
            tf.reduce_sum(y)
        with tensorcap.record("dt", dtypes=["int32", tf.bool]) as by_dtype:
            n = tf.shape(x)  # int32
            tf.greater(x, 0.5)  # bool
            tf.add(x, 1.0)  # float32: not captured
        with tensorcap.record("none", ops="Nothing") as nothing:
            tf.add(x, 1.0)
    # The op counter counts every op, so filtered names keep their numbers.
    assert _op_tags(by_op.tags) == ["ops/MatMul", "ops/Relu"]
    assert _op_tags(by_dtype.tags) == ["dt/Shape", "dt/Greater"]
    assert nothing.tags == []
    reader = _load(tmp_path, writer)
    np.testing.assert_array_equal(reader.value("run", "dt/Shape", 0), [2, 3])
    assert reader.value("run", "dt/Greater", 0).dtype == np.bool_
    np.testing.assert_allclose(reader.value("run", "ops/Relu", 0), np.maximum(X @ W1, 0), rtol=1e-6)
    assert n.dtype == tf.int32


def test_max_captures_stops_and_warns_once(tmp_path):
    writer = _writer(tmp_path)
    x = tf.constant(1.0)
    one = tf.constant(1.0)
    with writer.as_default(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with tensorcap.record("limited", max_captures=5) as rec:
            for _ in range(10):
                x = x + one  # x and one come from outside: captured once each, and counted
    messages = [str(w.message) for w in caught if "tensorcap" in str(w.message)]
    assert len(messages) == 1, messages
    assert "max_captures=5" in messages[0] and "stopped capturing after 5 values" in messages[0]
    assert "Raise max_captures" in messages[0]
    assert caught[0].filename == __file__
    assert rec.stopped and rec.count == 5
    reader = _load(tmp_path, writer)
    assert reader.tags("run") == [
        "limited/AddV2",
        "limited/AddV2_1",
        "limited/AddV2_2",
        "limited/input/one",
        "limited/input/x",
    ]
    assert float(reader.value("run", "limited/AddV2_2", 0)) == 4.0
    assert float(x) == 11.0  # the computation itself went on


def test_nothing_after_exit_and_own_writes_not_captured(tmp_path):
    writer = _writer(tmp_path)
    x = tf.constant(X)
    with writer.as_default():
        with tensorcap.record("b") as rec:
            y = tf.square(x)
            tensorcap.capture(y, "manual")  # TensorCap's own ops are not captured
            tensorcap.capture(tf.Variable(W1), "var")  # reading it either
        assert not tf_internals.thread_op_callbacks()
        tf.square(x)  # after the block: not captured
        tensorcap.capture(x, "after")
    assert _op_tags(rec.tags) == ["b/Square", "b/manual", "b/var"]
    reader = _load(tmp_path, writer)
    assert _op_tags(reader.tags("run")) == ["after", "b/Square", "b/manual", "b/var"]
    assert reader.steps("run", "b/manual") == [0]
    np.testing.assert_array_equal(reader.value("run", "b/manual", 0), X**2)
    np.testing.assert_array_equal(reader.value("run", "b/var", 0), W1)
    assert _op_tags([i.tag for i in reader.captures("run")])[:3] == ["b/Square", "b/manual", "b/var"]


def test_nested_blocks(tmp_path):
    writer = _writer(tmp_path)
    x = tf.constant(2.0)
    with writer.as_default():
        with tensorcap.record("outer") as outer:
            a = x * 3.0
            with tensorcap.record("inner") as inner:
                b = a + 1.0
                c = b * b
            tf.sqrt(c)
    assert _op_tags(outer.tags) == ["outer/Mul", "outer/Sqrt"]
    assert _op_tags(inner.tags) == ["outer/inner/AddV2", "outer/inner/Mul"]
    reader = _load(tmp_path, writer)
    assert _op_tags([i.tag for i in reader.captures("run")]) == [
        "outer/Mul",
        "outer/inner/AddV2",
        "outer/inner/Mul",
        "outer/Sqrt",
    ]
    assert float(reader.value("run", "outer/inner/Mul", 0)) == 49.0
    assert float(reader.value("run", "outer/Sqrt", 0)) == 7.0


def _twice(v):
    return v * 2.0


def test_threads_are_separate(tmp_path):
    writer = _writer(tmp_path)
    twice = tf.function(_twice)
    twice(tf.constant(1.0))  # traced outside the block
    inside, leave, errors = threading.Event(), threading.Event(), []
    thread_tags = {}

    def outsider():  # runs ops while the main thread is inside its block
        try:
            inside.wait(10)
            for _ in range(5):
                tf.math.cos(tf.constant(1.0))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    def own_block():  # opens and closes its own block meanwhile
        try:
            with writer.as_default():
                with tensorcap.record("thread") as rec:
                    tf.math.sin(tf.constant(0.5))
            thread_tags["tags"] = _op_tags(rec.tags)
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        finally:
            leave.set()

    with writer.as_default():
        with tensorcap.record("main") as rec:
            tf.math.exp(tf.constant(1.0))
            inside.set()
            t1 = threading.Thread(target=outsider)
            t2 = threading.Thread(target=own_block)
            t1.start(), t2.start()
            t1.join(10), t2.join(10)
            assert leave.is_set()
            # The other thread's block has closed; this one still captures,
            # also what runs through TensorFlow's Python path (function calls).
            tf.math.log(tf.constant(2.0))
            twice(tf.constant(4.0))
    assert not errors
    assert _op_tags(rec.tags) == ["main/Exp", "main/Log", "main/_twice"]
    assert thread_tags["tags"] == ["thread/Sin"]
    reader = _load(tmp_path, writer)
    assert not [t for t in reader.tags("run") if "Cos" in t]
    assert float(reader.value("run", "main/Log", 0)) == pytest.approx(np.log(2.0))


def test_tf_function_outputs_every_call_and_internal_ops(tmp_path):
    writer = _writer(tmp_path)
    w = tf.Variable(W1)

    @tf.function
    def before(x):
        return tf.nn.relu(tf.matmul(x, w)), tf.reduce_sum(x)

    @tf.function
    def traced_inside(x):
        with tf.name_scope("layer"):
            y = tf.matmul(x, w)  # inside: matmul
        return tf.nn.sigmoid(y)

    before(tf.constant(X))  # traced before any block: outputs only
    with writer.as_default():
        for step in range(3):
            x = tf.constant(X * (step + 1))
            with tensorcap.record("fn") as rec:
                before(x)
                out = traced_inside(x)
            np.testing.assert_allclose(out.numpy(), 1 / (1 + np.exp(-(X * (step + 1)) @ W1)), rtol=1e-5)
        traced_inside(tf.constant(X))  # outside any block: the graph writes nothing
    assert "fn/before" in rec.tags and "fn/before:1" in rec.tags
    assert "fn/traced_inside" in rec.tags
    reader = _load(tmp_path, writer)
    # Internal ops are named as eagerly (no function segment); `before` was traced outside: outputs only.
    matmul = ["fn/layer/MatMul"]
    assert {"fn/layer/MatMul", "fn/Sigmoid"} <= set(reader.tags("run")), reader.tags("run")
    assert not {"fn/Relu", "fn/Sum"} & set(reader.tags("run"))
    for step in range(3):
        x = X * (step + 1)
        np.testing.assert_allclose(reader.value("run", "fn/before", step), np.maximum(x @ W1, 0), rtol=1e-6)
        np.testing.assert_allclose(reader.value("run", "fn/before:1", step), x.sum(), rtol=1e-6)
        np.testing.assert_allclose(reader.value("run", "fn/traced_inside", step), 1 / (1 + np.exp(-x @ W1)), rtol=1e-5)
        np.testing.assert_allclose(reader.value("run", matmul[0], step), x @ W1, rtol=1e-6)
    assert reader.steps("run", matmul[0]) == [0, 1, 2]
    assert len([i for i in reader.captures("run") if i.tag == matmul[0]]) == 3
    assert reader.info("run", matmul[0], 1).source["line"] == _line_of("# inside: matmul")


def test_xla_control_flow_and_tf_data_are_left_alone(tmp_path):
    writer = _writer(tmp_path)

    @tf.function(jit_compile=True)
    def compiled(x):
        return tf.nn.relu(x * 2.0) + 1.0

    @tf.function
    def branchy(x):
        y = tf.cond(tf.reduce_sum(x) > 0, lambda: x * 2.0, lambda: x - 1.0)
        _, acc = tf.while_loop(
            lambda i, acc: i < 3, lambda i, acc: (i + 1, acc + x), [tf.constant(0), tf.zeros_like(x)]
        )
        return y + acc

    x = tf.constant([1.0, -2.0])
    with writer.as_default():
        with tensorcap.record("cf") as rec:
            a = compiled(x)
            b = branchy(x)
            values = [int(v) for v in tf.data.Dataset.range(3).map(lambda v: v * 2)]
    np.testing.assert_array_equal(a.numpy(), [3.0, 1.0])
    np.testing.assert_array_equal(b.numpy(), [3.0, -9.0])
    assert values == [0, 2, 4]
    reader = _load(tmp_path, writer)
    np.testing.assert_array_equal(reader.value("run", "cf/compiled", 0), [3.0, 1.0])
    np.testing.assert_array_equal(reader.value("run", "cf/branchy", 0), [3.0, -9.0])
    # Only top-level ops of the non-XLA function are instrumented: its Sum and Greater, none
    # of the branches' ops (Mul, Sub, AddV2 of the loop body) nor the XLA function's (Relu).
    inside = set(rec.tags) - {"cf/compiled", "cf/branchy"}
    assert {"cf/Sum", "cf/Greater"} <= inside, rec.tags
    assert not [t for t in inside if t.split("/")[-1].split("_")[0] in ("Relu", "Mul", "Sub", "Less")], rec.tags


def test_exceptions_and_misuse(tmp_path):
    writer = _writer(tmp_path)
    with writer.as_default():
        with pytest.raises(ZeroDivisionError):
            with tensorcap.record("boom", keep=True) as rec:
                tf.square(tf.constant(3.0))
                1 / 0  # noqa: B018 - the exception under test
    assert not tf_internals.thread_op_callbacks()
    assert float(rec["Square"]) == 9.0
    reader = _load(tmp_path, writer)
    assert float(reader.value("run", "boom/Square", 0)) == 9.0  # written all the same

    @tf.function
    def inside():
        with tensorcap.record("x"):
            return tf.constant(1.0)

    with pytest.raises(RuntimeError, match="entered eagerly"):
        inside()
    with pytest.raises(ValueError, match="max_captures"):
        tensorcap.record(max_captures=-1)


def test_record_if_false_writes_nothing(tmp_path):
    writer = _writer(tmp_path)
    with writer.as_default(), tf.summary.record_if(False):
        with tensorcap.record("off") as rec:
            tf.square(tf.constant(3.0))
    assert _op_tags(rec.tags) == ["off/Square"]
    assert _load(tmp_path, writer).runs() == []


def test_record_stays_the_function_after_importing_its_module():
    import tb_tensorcap.autocapture as autocapture

    assert tensorcap.record is autocapture.record
    assert isinstance(tensorcap.record("x"), autocapture.Recording)


def test_capture_gradients(tmp_path):
    writer = _writer(tmp_path)
    kernel = tf.Variable(W1, name="dense/kernel")
    unused = tf.Variable(1.0, name="unused")
    table = tf.Variable(np.arange(10, dtype=np.float32).reshape(5, 2), name="emb/table")
    same_name = tf.Variable(2.0, name="dense/kernel")
    x = tf.constant(X)
    with writer.as_default():
        with tf.GradientTape() as tape:
            rows = tf.gather(table, [0, 3, 3])
            loss = tf.reduce_sum(tf.matmul(x, kernel)) + tf.reduce_sum(rows * rows) + same_name * 3.0
        variables = [kernel, unused, table, same_name]
        grads = tape.gradient(loss, variables)
        assert isinstance(grads[2], tf.IndexedSlices) and grads[1] is None
        returned = tensorcap.capture_gradients(grads, variables, step=5)
    assert returned[0] is grads[0]
    reader = _load(tmp_path, writer)
    assert reader.tags("run") == ["grad/dense/kernel", "grad/dense/kernel_1", "grad/emb/table"]
    np.testing.assert_allclose(
        reader.value("run", "grad/dense/kernel", 5), np.repeat(X.sum(axis=0)[:, None], 4, axis=1), rtol=1e-6
    )
    dense_table = np.zeros((5, 2), np.float32)
    dense_table[0] = 2 * np.array([0, 1])
    dense_table[3] = 2 * 2 * np.array([6, 7])  # index 3 twice: summed
    np.testing.assert_array_equal(reader.value("run", "grad/emb/table", 5), dense_table)
    assert float(reader.value("run", "grad/dense/kernel_1", 5)) == 3.0
    with pytest.raises(ValueError, match="2 gradients for 1 variables"):
        tensorcap.capture_gradients(grads[:2], variables[:1])


def test_demo_writes_what_it_promises(tmp_path):
    """demo/train.py, as `make demo` runs it (in a subprocess: it turns on op determinism)."""
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, os.path.join(root, "demo", "train.py"), "--logdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "first NaN in run nan: dense1/activation at step 8" in result.stdout
    assert "first differ at dense2/kernel, step 5" in result.stdout
    assert "Root cause:   run flight: train/Log at step 36 (op)" in result.stdout
    reader = tensorcap.load(str(tmp_path))
    assert reader.runs() == ["diverged", "flight", "healthy", "nan", "record"]
    kinds = {i.step: i.kind for i in reader.tag_infos("flight", "train/Softmax")}
    assert [s for s, kind in kinds.items() if kind == "full"] == [33, 34, 35, 36, 37, 38, 39]
    assert reader.stats("flight", "train/Softmax", 36)["zeros"] > 0 and reader.steps("flight", "train/Log")[-1] == 39
    cause = tensorcap.rootcause(reader, "flight", inf=True)
    assert [i["tag"] for i in cause["culprit"]["inputs"]] == ["train/Softmax"]
    with open(os.path.join(root, "demo", "train.py")) as demo:
        line = demo.read().splitlines()[cause["culprit"]["source"]["line"] - 1]
    assert "tf.math.log(probs)" in line
    for name in ("dense1/kernel", "dense1/activation", "grad/dense1/kernel", "loss"):
        assert reader.steps("healthy", name) == list(range(16)), name
    assert reader.info("healthy", "conv/activation", 0).shape == (32, 16, 16, 8)
    assert reader.info("healthy", "input/image", 3).shape == (16, 16, 3)
    assert "forward/dense1/MatMul" in reader.tags("record"), reader.tags("record")
    for step in range(5):  # same seed: identical until the perturbation
        np.testing.assert_array_equal(
            reader.value("healthy", "dense2/kernel", step), reader.value("diverged", "dense2/kernel", step)
        )


def test_source_lines_when_the_package_is_imported_through_a_non_normalised_path(tmp_path):
    """`demo/../tb_tensorcap/...` frames are library code too: the source is the user's line."""
    import os
    import subprocess
    import sys
    import textwrap

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = tmp_path / "user.py"
    script.write_text(
        textwrap.dedent("""\
        import sys
        sys.path.insert(0, %r)
        import tensorflow as tf
        import tb_tensorcap as tensorcap
        assert "/../" in tensorcap.__file__, tensorcap.__file__
        writer = tf.summary.create_file_writer(%r)
        with tensorcap.record("step", writer=writer):
            tf.square(tf.constant(3.0))  # the user's line
        writer.close()
        """)
        % (os.path.join(root, "demo", ".."), str(tmp_path / "logs"))
    )
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
        cwd=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    source = tensorcap.load(str(tmp_path / "logs")).info(".", "step/Square", 0).source
    assert (source["file"], source["line"]) == (str(script), 8)
