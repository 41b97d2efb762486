"""The capture API: inputs, step and writer rules, Capturer, tf.function, errors.

Everything is written by real `tf.summary` writers into `tmp_path` and read
back from the files (TensorCap's reader, and TensorFlow's own
`summary_iterator` where "nothing was written" must be shown independently).
"""

import os
import re
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

import tb_tensorcap
import tb_tensorcap as tensorcap
from tb_tensorcap import direct_writer

pytestmark = pytest.mark.usefixtures("isolated_capture")


def on_disk(logdir):
    """[(tag, step, numpy value)] of every TensorCap value in `logdir`, in file
    order, read with TensorFlow's own event-file iterator (not tb_tensorcap)."""
    found = []
    if not os.path.isdir(logdir):
        return found
    for name in sorted(os.listdir(logdir)):
        if "tfevents" not in name:
            continue
        for event in tf.compat.v1.train.summary_iterator(os.path.join(logdir, name)):
            for v in event.summary.value:
                if v.metadata.plugin_data.plugin_name == "tensorcap":
                    found.append((v.tag, event.step, tf.make_ndarray(v.tensor)))
    return found


def steps_of(logdir, tag):
    return [step for t, step, _ in on_disk(logdir) if t == tag]


def marker_line(name):
    """The line of this file that carries the comment `# LINE:<name>`."""
    with open(__file__, encoding="utf-8") as f:
        lines = [i for i, text in enumerate(f, 1) if text.rstrip().endswith("# LINE:" + name)]
    assert len(lines) == 1, name
    return lines[0]


# -- inputs -----------------------------------------------------------------------


class ArrayLike:
    """Not an ndarray, but converts to one."""

    def __init__(self, array):
        self.array = array

    def __array__(self, dtype=None, copy=None):
        return self.array if dtype is None else self.array.astype(dtype)


INPUTS = {
    # name: (factory, expected numpy value)
    "eager": (lambda: tf.constant([[1.5, -2.0]], tf.float32), np.array([[1.5, -2.0]], np.float32)),
    "variable": (lambda: tf.Variable([3, 4, 5], dtype=tf.int16), np.array([3, 4, 5], np.int16)),
    "numpy": (lambda: np.arange(6, dtype=np.uint32).reshape(2, 3), np.arange(6, dtype=np.uint32).reshape(2, 3)),
    "numpy_scalar": (lambda: np.float16(0.5), np.array(0.5, np.float16)),
    "py_int": (lambda: 7, np.array(7, np.int64)),
    "py_float": (lambda: -0.0, np.array(-0.0, np.float64)),
    "py_bool": (lambda: True, np.array(True)),
    "py_complex": (lambda: 1 - 2j, np.array(1 - 2j, np.complex128)),
    "py_str": (lambda: "h\u00e9", np.array(b"h\xc3\xa9", dtype=object)),
    "py_bytes": (lambda: b"\xff\x00", np.array(b"\xff\x00", dtype=object)),
    "nested_list": (lambda: [[1.0, 2.0], [3.0, 4.5]], np.array([[1.0, 2.0], [3.0, 4.5]])),
    "nested_int_list": (lambda: [[[1], [2]], [[3], [4]]], np.array([[[1], [2]], [[3], [4]]], np.int64)),
    "nested_bytes_list": (
        lambda: [[b"a\x00", b""], [b"\xff", b"z"]],
        np.array([[b"a\x00", b""], [b"\xff", b"z"]], dtype=object),
    ),
    "array_like": (lambda: ArrayLike(np.array([[1, -1]], np.int8)), np.array([[1, -1]], np.int8)),
    "bfloat16_variable": (
        lambda: tf.Variable([1.5, -0.0], dtype=tf.bfloat16),
        np.array([1.5, -0.0], dtype=tf.bfloat16.as_numpy_dtype),
    ),
}


@pytest.mark.parametrize("kind", INPUTS)
def test_inputs_of_every_kind_are_captured_and_returned_unchanged(tmp_path, writer_at, kind):
    make, want = INPUTS[kind]
    obj = make()
    w = writer_at(tmp_path)
    assert tensorcap.capture(obj, "v", step=3, writer=w) is obj
    with tensorcap.Capturer("p", writer=w) as cap:
        assert cap.capture(obj, "v", step=3) is obj
        assert tensorcap.capture(obj, "m", step=3) is obj
    assert cap["v"] is obj and cap["m"] is obj
    w.flush()
    reader = tb_tensorcap.load(str(tmp_path))
    for tag in ("v", "p/v", "p/m"):
        got = reader.value(".", tag, 3)
        assert got.dtype == want.dtype and got.shape == want.shape
        if want.dtype == object:
            assert got.tolist() == want.tolist()
        else:
            assert got.tobytes() == want.tobytes()
    assert [(t, s) for t, s, _ in on_disk(tmp_path)] == [("v", 3), ("p/v", 3), ("p/m", 3)]


def test_capture_of_a_variable_records_its_value_at_capture_time(tmp_path, writer_at):
    w = writer_at(tmp_path)
    v = tf.Variable([1.0, 2.0])
    tensorcap.capture(v, "v", writer=w)
    v.assign([5.0, 6.0])
    tensorcap.capture(v, "v", writer=w)
    w.flush()
    reader = tb_tensorcap.load(str(tmp_path))
    assert reader.value(".", "v", 0).tolist() == [1.0, 2.0]
    assert reader.value(".", "v", 1).tolist() == [5.0, 6.0]


# -- step rules -------------------------------------------------------------------


def test_per_name_counter_counts_each_name_independently(tmp_path, writer_at):
    w = writer_at(tmp_path)
    for i, tag in enumerate(["a", "a", "b", "a", "c", "b"]):
        tensorcap.capture(np.int32(i), tag, writer=w)
    with tensorcap.Capturer("blk", writer=w) as cap:
        cap.capture(np.int32(10), "a")
        cap.capture(np.int32(11), "a")
    w.flush()
    assert [(t, s, int(v)) for t, s, v in on_disk(tmp_path)] == [
        ("a", 0, 0),
        ("a", 1, 1),
        ("b", 0, 2),
        ("a", 2, 3),
        ("c", 0, 4),
        ("b", 1, 5),
        ("blk/a", 0, 10),
        ("blk/a", 1, 11),
    ]


def test_step_precedence(tmp_path, writer_at):
    w = writer_at(tmp_path)
    tensorcap.capture(1, "t", writer=w)  # counter: 0
    tf.summary.experimental.set_step(40)
    tensorcap.capture(2, "t", writer=w)  # set_step: 40
    tensorcap.capture(3, "t", step=5, writer=w)  # explicit beats set_step
    step_var = tf.Variable(41, dtype=tf.int64)
    tf.summary.experimental.set_step(step_var)
    tensorcap.capture(4, "t", writer=w)  # a step variable: 41
    tf.summary.experimental.set_step(None)
    with w.as_default(step=70):
        tensorcap.capture(5, "t")  # writer.as_default(step=...)
        tensorcap.capture(6, "t", step=tf.constant(6, tf.int64))  # explicit beats it
        with tensorcap.Capturer(step=8) as cap:
            cap.capture(7, "t")  # the Capturer's default step ...
            cap.capture(8, "t", step=9)  # ... loses to an explicit one
    tensorcap.capture(9, "t", writer=w)  # counter again: 1
    w.flush()
    assert [(s, int(v)) for t, s, v in on_disk(tmp_path)] == [
        (0, 1),
        (40, 2),
        (5, 3),
        (41, 4),
        (70, 5),
        (6, 6),
        (8, 7),
        (9, 8),
        (1, 9),
    ]


def test_failed_capture_does_not_use_up_a_step(tmp_path, writer_at):
    w = writer_at(tmp_path)
    with pytest.raises(TypeError):
        tensorcap.capture({"not": "capturable"}, "x", writer=w)
    tensorcap.capture(1.0, "x", writer=w)
    w.flush()
    assert steps_of(tmp_path, "x") == [0]


# -- writer rules -----------------------------------------------------------------


def test_explicit_writer_beats_the_active_default_writer(tmp_path, writer_at):
    w1, w2 = writer_at(tmp_path / "one"), writer_at(tmp_path / "two")
    with w1.as_default():
        tensorcap.capture(1, "active", step=0)
        tensorcap.capture(2, "explicit", step=0, writer=w2)
        with tensorcap.Capturer("c", writer=w2) as cap:
            cap.capture(3, "capturer", step=0)
            cap.capture(4, "override", step=0, writer=w1)
        # The user's default writer is still the active one after captures.
        assert tf.summary.scalar("user_scalar", 1.0, step=0)
    w1.flush()
    w2.flush()
    assert [t for t, _, _ in on_disk(tmp_path / "one")] == ["active", "c/override"]
    assert [t for t, _, _ in on_disk(tmp_path / "two")] == ["explicit", "c/capturer"]
    assert tb_tensorcap.load(str(tmp_path / "one")).tags(".") == ["active", "c/override"]


def test_capture_does_not_leave_its_writer_as_the_default(tmp_path, writer_at):
    w = writer_at(tmp_path)
    tensorcap.capture(1, "t", step=0, writer=w)
    assert not tf.summary.scalar("s", 1.0, step=0)  # no default writer: not written


def test_flush_flushes_every_writer_captures_went_to(tmp_path, writer_at, monkeypatch):
    big = dict(max_queue=10000, flush_millis=10**8)
    w1, w2, w3 = (writer_at(tmp_path / n, **big) for n in ("explicit", "default", "capturer"))
    # TensorCap's own event files are written by a background thread: a slow disk keeps them queued.
    write_all = direct_writer._write_all
    monkeypatch.setattr(direct_writer, "_write_all", lambda fd, buffers: time.sleep(0.2) or write_all(fd, buffers))
    # Checked inside the block: leaving `as_default()` flushes by itself.
    with w2.as_default():
        tensorcap.capture(1, "a", step=0, writer=w1)
        tensorcap.capture(2, "b", step=0)
        with tensorcap.Capturer("c", writer=w3) as cap:
            cap.capture(3, "z", step=0)
        # Still queued: nothing on disk yet.
        assert [on_disk(tmp_path / n) for n in ("explicit", "default", "capturer")] == [[], [], []]
        tensorcap.flush()
        assert [[t for t, _, _ in on_disk(tmp_path / n)] for n in ("explicit", "default", "capturer")] == [
            ["a"],
            ["b"],
            ["c/z"],
        ]


def test_record_if_false_writes_nothing(tmp_path, writer_at):
    w = writer_at(tmp_path)
    x = np.ones(3, np.float32)
    with tf.summary.record_if(False):
        assert tensorcap.capture(x, "off", step=0, writer=w) is x
        with w.as_default():
            tensorcap.capture(x, "off_default", step=0)
        with tensorcap.Capturer("c", writer=w) as cap:
            cap.capture(x, "off", step=0)

        @tf.function
        def fn(v):
            tensorcap.capture(v, "off_fn", step=0, writer=w)
            return v

        fn(tf.constant(x))
    tensorcap.capture(x, "on", step=0, writer=w)
    w.flush()
    assert [t for t, _, _ in on_disk(tmp_path)] == ["on"]


LAZY_SCRIPT = textwrap.dedent("""
    import os, sys
    import numpy as np
    import tensorflow as tf
    import time
    import tb_tensorcap as tensorcap
    from tb_tensorcap import direct_writer

    write_all = direct_writer._write_all
    direct_writer._write_all = lambda fd, buffers: time.sleep(0.3) or write_all(fd, buffers)
    lazy = os.environ["TENSORCAP_LOGDIR"]
    other = sys.argv[1]
    # An explicit writer or an active default writer never creates the lazy one.
    w = tf.summary.create_file_writer(other)
    tensorcap.capture(np.float32(1), "explicit", step=0, writer=w)
    with w.as_default():
        tensorcap.capture(np.float32(2), "active", step=0)
    w.close()
    print("lazy-exists-before", os.path.exists(lazy))
    print("default_logdir", tensorcap.default_logdir())
    for i in range(3):
        tensorcap.capture(np.arange(3, dtype=np.int32) + i, "x")
    with tensorcap.Capturer("blk"):
        tensorcap.capture(b"\\xff\\x00", "s")
    # Not flushed yet (flush interval 1 hour, fewer events than the queue; TensorCap's own file is
    # written by a background thread, slowed down here as by a slow disk):
    print("listed-before-exit", tensorcap.load(lazy).runs())
    # No flush() call: the writer must be flushed at interpreter exit.
""")


def test_lazy_default_writer_in_a_subprocess(tmp_path):
    lazy, other = tmp_path / "lazy", tmp_path / "other"
    env = dict(os.environ, TENSORCAP_LOGDIR=str(lazy), TENSORCAP_FLUSH_SECS="3600", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-c", LAZY_SCRIPT, str(other)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert "lazy-exists-before False" in out
    assert "default_logdir %s" % lazy in out
    assert "listed-before-exit []" in out
    announcement = "tensorcap: writing captures to %s" % lazy
    assert proc.stderr.count(announcement) == 1, proc.stderr
    assert proc.stderr.count("tensorcap: writing captures") == 1

    reader = tb_tensorcap.load(str(lazy))
    assert reader.runs() == ["."]
    assert reader.tags(".") == ["blk/s", "x"]
    assert reader.steps(".", "x") == [0, 1, 2]
    assert reader.value(".", "x", 2).tolist() == [2, 3, 4]
    assert reader.value(".", "blk/s", 0).item() == b"\xff\x00"
    assert tb_tensorcap.load(str(other)).tags(".") == ["active", "explicit"]
    assert not os.path.exists(tmp_path / "runs")  # $TENSORCAP_LOGDIR, not runs/<time>


# -- Capturer ---------------------------------------------------------------------


def test_capturer_prefix_values_and_nesting(tmp_path, writer_at):
    w = writer_at(tmp_path)
    x, y, z, m = np.float32(1), tf.constant([2.0]), np.arange(3), [4, 5]
    with w.as_default(step=0):
        with tensorcap.Capturer("a/") as outer:
            assert outer.prefix == "a"
            assert outer.capture(x, "x") is x
            with tensorcap.Capturer("b") as inner:
                assert inner.prefix == "a/b"
                assert inner.capture(z, "z") is z
                assert tensorcap.capture(m, "m") is m  # module-level: innermost prefix
            assert outer.capture(y, "y") is y  # after the inner block: outer prefix
            assert tensorcap.capture(m, "n") is m
        assert tensorcap.capture(x, "plain") is x  # outside every block: no prefix
        with tensorcap.Capturer("nokeep", keep=False) as nokeep:
            nokeep.capture(x, "x")
    w.flush()
    assert [t for t, _, _ in on_disk(tmp_path)] == ["a/x", "a/b/z", "a/b/m", "a/y", "a/n", "plain", "nokeep/x"]
    assert outer["x"] is x and outer["y"] is y and outer["n"] is m
    assert inner["z"] is z and inner["m"] is m
    assert "z" in inner and "z" not in outer
    assert set(outer.tensors) == {"x", "y", "n"}
    assert inner.tensors == {"z": z, "m": m}
    outer.tensors.clear()  # a copy
    assert "x" in outer
    assert nokeep.tensors == {} and "x" not in nokeep
    with pytest.raises(KeyError):
        outer["missing"]
    # After the blocks, the Capturer still writes under its prefix.
    outer.capture(x, "later", step=1, writer=w)
    w.flush()
    assert on_disk(tmp_path)[-1][:2] == ("a/later", 1)


def test_capturer_stack_is_per_thread(tmp_path, writer_at):
    w = writer_at(tmp_path)
    entered, release, errors = threading.Event(), threading.Event(), []

    def other_thread():
        try:
            with tensorcap.Capturer("theirs"):
                entered.set()
                release.wait(10)
                tensorcap.capture(2, "t", step=0, writer=w)
            tensorcap.capture(3, "bare", step=0, writer=w)
        except Exception as e:  # reported below
            errors.append(e)

    with tensorcap.Capturer("mine") as cap:
        thread = threading.Thread(target=other_thread)
        thread.start()
        assert entered.wait(10)
        tensorcap.capture(1, "t", step=0, writer=w)  # the other thread's block is not ours
        release.set()
        thread.join(10)
    assert not errors
    w.flush()
    assert sorted(t for t, _, _ in on_disk(tmp_path)) == ["bare", "mine/t", "theirs/t"]
    assert cap.tensors == {"t": 1}


# -- source location --------------------------------------------------------------


def test_source_location_points_at_the_callers_line(tmp_path, writer_at):
    w = writer_at(tmp_path)
    tensorcap.capture(1, "direct", step=0, writer=w)  # LINE:src-direct
    with tensorcap.Capturer("c", writer=w) as cap:
        cap.capture(2, "method", step=0)  # LINE:src-method
        tensorcap.capture(3, "module", step=0)  # LINE:src-module
    helper_capture(w)
    w.flush()
    reader = tb_tensorcap.load(str(tmp_path))
    me = "test_source_location_points_at_the_callers_line"
    for tag, line, function in [
        ("direct", "src-direct", me),
        ("c/method", "src-method", me),
        ("c/module", "src-module", me),
        ("helper", "src-helper", "helper_capture"),
    ]:
        assert reader.info(".", tag, 0).source == {"file": __file__, "line": marker_line(line), "function": function}, (
            tag
        )


def test_axes_name_each_axis_on_both_write_paths(tmp_path, writer_at):
    w = writer_at(tmp_path / "tf")
    tensorcap.capture(np.zeros((2, 4, 4, 3), np.float32), "act", step=0, writer=w, axes="NHWC")
    with tensorcap.Capturer("c", writer=w) as cap:
        cap.capture(np.zeros((5, 7)), "attn", step=0, axes=["query", "key"])
    with tensorcap.record("rec", writer=w, step=0):  # a manual capture inside record() names its axes too
        tensorcap.capture(tf.zeros((3, 2)), "seq", axes="TC")
    plain = tensorcap.Writer(tmp_path / "plain")
    tensorcap.capture(np.zeros((2, 3)), "img", step=0, writer=plain, axes="HW")
    with pytest.raises(ValueError, match="'NHW' of 'bad' name 3 axes, but the value has 4"):
        tensorcap.capture(np.zeros((2, 4, 4, 3)), "bad", step=0, writer=w, axes="NHW")
    with pytest.raises(ValueError, match="string of letters"):
        tensorcap.capture(np.zeros(3), "bad", step=0, writer=plain, axes=[3])
    tensorcap.flush()
    reader = tb_tensorcap.load(str(tmp_path))
    assert reader.info("tf", "act", 0).axes == ["N", "H", "W", "C"]
    assert reader.info("tf", "c/attn", 0).to_json()["axes"] == ["query", "key"]
    assert reader.info("tf", "rec/seq", 0).axes == ["T", "C"]
    assert reader.info("plain", "img", 0).axes == ["H", "W"]
    assert "bad" not in reader.tags("tf") and "bad" not in reader.tags("plain")


def helper_capture(w):
    tensorcap.capture(4, "helper", step=0, writer=w)  # LINE:src-helper


# -- tf.function ------------------------------------------------------------------


def test_tf_function_records_on_every_call(tmp_path, writer_at):
    w = writer_at(tmp_path)
    step_var = tf.Variable(100, dtype=tf.int64)

    @tf.function
    def counted(x):
        tensorcap.capture(x * 2.0, "fn/counted", writer=w)  # LINE:fn-counted
        return x

    @tf.function
    def explicit(x, step):
        tensorcap.capture(x + 1.0, "fn/explicit", step=step, writer=w)  # LINE:fn-explicit
        return x

    @tf.function
    def with_set_step(x):
        tensorcap.capture(-x, "fn/set_step", writer=w)  # LINE:fn-set-step
        return x

    @tf.function
    def in_capturer(x):
        with tensorcap.Capturer("blk", writer=w):
            tensorcap.capture(x, "z")
        return x

    xs = [tf.constant([float(i), 0.5]) for i in range(3)]
    for i, x in enumerate(xs):
        counted(x)
        explicit(x, tf.constant(10 * i, tf.int64))
        in_capturer(x)
    tf.summary.experimental.set_step(step_var)
    for i, x in enumerate(xs):
        step_var.assign(100 + i)
        with_set_step(x)
    tf.summary.experimental.set_step(None)
    tensorcap.capture(np.array([9.0, 9.0], np.float32), "fn/counted", writer=w)  # eager shares the counter
    w.flush()

    reader = tb_tensorcap.load(str(tmp_path))
    assert reader.steps(".", "fn/counted") == [0, 1, 2, 3]
    assert reader.steps(".", "fn/explicit") == [0, 10, 20]
    assert reader.steps(".", "fn/set_step") == [100, 101, 102]
    assert reader.steps(".", "blk/z") == [0, 1, 2]
    for i, x in enumerate(xs):
        x = x.numpy()
        assert reader.value(".", "fn/counted", i).tolist() == (x * 2).tolist()
        assert reader.value(".", "fn/explicit", 10 * i).tolist() == (x + 1).tolist()
        assert reader.value(".", "fn/set_step", 100 + i).tolist() == (-x).tolist()
        assert reader.value(".", "blk/z", i).tolist() == x.tolist()
    assert reader.value(".", "fn/counted", 3).tolist() == [9.0, 9.0]

    for tag, marker, function in [
        ("fn/counted", "fn-counted", "counted"),
        ("fn/explicit", "fn-explicit", "explicit"),
        ("fn/set_step", "fn-set-step", "with_set_step"),
    ]:
        source = reader.info(".", tag, reader.steps(".", tag)[0]).source
        # The user's line in this file, not AutoGraph's generated copy of it.
        assert source == {"file": __file__, "line": marker_line(marker), "function": function}, source


# -- errors: nothing written -------------------------------------------------------


def _bad_values():
    cases = {
        "ragged": (lambda: tf.ragged.constant([[1, 2], [3]]), "RaggedTensor"),
        "sparse": (lambda: tf.sparse.from_dense(tf.constant([[1, 0], [0, 2]])), "SparseTensor"),
        "indexed_slices": (lambda: tf.IndexedSlices(tf.ones([1, 2]), tf.constant([0])), "IndexedSlices"),
        "resource": (lambda: tf.Variable(1.0).handle, "resource"),
        "variant": (lambda: tf.data.experimental.to_variant(tf.data.Dataset.range(3)), "variant"),
        "dict": (lambda: {"a": 1}, "dict"),
        "object": (lambda: object(), "object"),
        "none": (lambda: None, "NoneType"),
        "ragged_list": (lambda: [[1, 2], [3]], "inhomogeneous|sequence"),
        "mixed_list": (lambda: [b"a", 1], "list"),
        "datetime64": (lambda: np.array(["2020-01-01"], dtype="datetime64[D]"), "datetime64"),
        "timedelta64": (lambda: np.timedelta64(5, "s"), "timedelta64"),
        "structured": (lambda: np.zeros(2, dtype=[("a", "i4"), ("b", "f4")]), "dtype"),
        "qint8": (lambda: tf.quantization.quantize(tf.constant([0.5]), 0.0, 1.0, tf.qint8).output, "qint8"),
    }
    if hasattr(np, "float128") and np.dtype(np.longdouble).itemsize > 8:
        cases["float128"] = (lambda: np.ones(2, np.longdouble), "float128")
    return cases


BAD_VALUES = _bad_values()


@pytest.mark.parametrize("case", BAD_VALUES)
def test_uncapturable_values_raise_and_write_nothing(tmp_path, writer_at, case):
    make, reason = BAD_VALUES[case]
    bad = make()
    w = writer_at(tmp_path)
    tensorcap.capture(np.float32(1.5), "before", writer=w)
    w.flush()
    with pytest.raises((TypeError, ValueError)) as raised:
        tensorcap.capture(bad, "bad_" + case, writer=w)
    message = str(raised.value)
    assert "'bad_%s'" % case in message
    assert re.search(reason, message), message
    with tensorcap.Capturer("blk", writer=w) as cap:
        with pytest.raises((TypeError, ValueError), match="blk/inner"):
            cap.capture(bad, "inner")
        with pytest.raises((TypeError, ValueError), match="blk/module"):
            tensorcap.capture(bad, "module")
    assert cap.tensors == {}
    tensorcap.capture(np.float32(2.5), "after", writer=w)
    w.flush()
    assert [(t, s, float(v)) for t, s, v in on_disk(tmp_path)] == [("before", 0, 1.5), ("after", 0, 2.5)]
    reader = tb_tensorcap.load(str(tmp_path))
    assert reader.tags(".") == ["after", "before"]
    assert reader.value(".", "before", 0).item() == 1.5


@pytest.mark.parametrize("name", ["", "/", "//", None, 3, b"x", ("a",)])
def test_bad_names_raise_and_write_nothing(tmp_path, writer_at, name):
    w = writer_at(tmp_path)
    with pytest.raises(ValueError, match="name") as raised:
        tensorcap.capture(np.float32(1), name, writer=w)
    assert repr(name) in str(raised.value)
    with pytest.raises(ValueError, match="name"):
        with tensorcap.Capturer("blk", writer=w) as cap:
            cap.capture(np.float32(1), name)
    if name not in (None, ""):
        with pytest.raises(ValueError, match="name"):
            tensorcap.Capturer(name)
    w.flush()
    assert on_disk(tmp_path) == []


def test_uncapturable_values_inside_tf_function_fail_at_trace_time(tmp_path, writer_at):
    w = writer_at(tmp_path)

    @tf.function
    def fn(x):
        tensorcap.capture(tf.RaggedTensor.from_row_lengths(x, [1, 2]), "rag", writer=w)
        return x

    with pytest.raises(TypeError, match="'rag'.*RaggedTensor"):
        fn(tf.constant([1.0, 2.0, 3.0]))
    w.flush()
    assert on_disk(tmp_path) == []


def test_capture_inside_an_xla_function_fails_clearly_at_trace_time(tmp_path, writer_at):
    w = writer_at(tmp_path)

    @tf.function(jit_compile=True)
    def fn(x):
        return tensorcap.capture(x * 2, "in_xla", writer=w)

    with pytest.raises(ValueError, match="'in_xla'.*XLA-compiled.*jit_compile=False"):
        fn(tf.ones(3))
    w.flush()
    assert on_disk(tmp_path) == []
