"""Capturing without TensorFlow (`plain_capture`, `event_writer`, `arrays`).

The suite runs with TensorFlow installed, so every capture here happens in a
child process that cannot import it (`no_tensorflow.run_without_tensorflow`); the parent
reads what the child wrote with the Reader and compares it with what the
TensorFlow path writes for the same values.
"""

import json
import os

import ml_dtypes
import numpy as np
import pytest
from no_tensorflow import run_without_tensorflow
from tensorboard.compat.proto import event_pb2

import tb_tensorcap as tensorcap
from tb_tensorcap import event_files

# Values captured by both paths; name -> Python expression (numpy as np, ml_dtypes).
VALUES = {
    "f32": "np.arange(12, dtype=np.float32).reshape(3, 4) / 7",
    "bf16": "np.array([1.5, -2.25, np.inf], dtype=ml_dtypes.bfloat16)",
    "f16": "np.array([[0.5, np.nan]], dtype=np.float16)",
    "big_endian": "np.arange(3, dtype='>i4')",
    "i8": "np.array([-128, 127], dtype=np.int8)",
    "u64": "np.array([2**64 - 1], dtype=np.uint64)",
    "c64": "np.array([1 + 2j, -3j], dtype=np.complex64)",
    "mask": "np.array([True, False])",
    "py_float": "2.5",
    "py_int": "7",
    "py_bool": "True",
    "nested": "[[1.0, 2.0], [3.0, 4.0]]",
    "text": "'café'",
    "words": "np.array([b'caf\\xc3\\xa9', b'\\xff', b'', b'nul\\x00'], dtype=object)",
    "empty": "np.zeros((0, 3), np.float32)",
}

CAPTURE_ALL = """
    import json, sys
    import ml_dtypes, numpy as np
    import tb_tensorcap as tensorcap

    out = {}
    with tensorcap.Writer(sys.argv[1]) as writer:
        for step, (name, expression) in enumerate(json.loads(sys.argv[2]).items()):
            tensorcap.capture(eval(expression), name, step=step, writer=writer)
"""


def test_values_match_the_tensorflow_path_event_for_event(tmp_path, writer_at):
    """Same TensorProto, metadata and step as `tf.summary.write` writes, for every dtype."""
    run_without_tensorflow(CAPTURE_ALL, tmp_path / "plain", json.dumps(VALUES))
    tf_writer = writer_at(tmp_path / "tf")
    for step, (name, expression) in enumerate(VALUES.items()):
        tensorcap.capture(eval(expression), name, step=step, writer=tf_writer)
    tf_writer.flush()

    plain, with_tf = _values_by_tag(tmp_path / "plain"), _values_by_tag(tmp_path / "tf")
    assert sorted(plain) == sorted(with_tf) == sorted(VALUES)
    for name in VALUES:
        (plain_step, plain_value), (tf_step, tf_value) = plain[name], with_tf[name]
        assert plain_step == tf_step, name
        assert plain_value.tensor == tf_value.tensor, name
        assert plain_value.metadata.plugin_data.plugin_name == "tensorcap"
        assert plain_value.metadata.data_class == tf_value.metadata.data_class
    reader = tensorcap.load(tmp_path)
    np.testing.assert_array_equal(reader.value("plain", "f32", 0), np.arange(12, dtype=np.float32).reshape(3, 4) / 7)
    bf16 = reader.value("plain", "bf16", 1)
    assert bf16.dtype == ml_dtypes.bfloat16 and bf16.astype(np.float32).tolist() == [1.5, -2.25, np.inf]
    assert reader.value("plain", "words", 13).tolist() == [b"caf\xc3\xa9", b"\xff", b"", b"nul\x00"]
    assert reader.value("plain", "text", 12).item() == "café".encode()
    assert reader.info("plain", "empty", 14).shape == (0, 3)


def _values_by_tag(run_dir):
    """{tag: (step, Summary.Value)} of the event files in `run_dir` (the tf.summary writer's and TensorCap's own)."""
    found = {}
    for path in event_files.list_event_files(str(run_dir)):
        for _, _, data in event_files.scan_records(path, 0):
            event = event_pb2.Event.FromString(data)
            for value in event.summary.value:
                assert value.tag not in found
                found[value.tag] = (event.step, value)
    return found


def test_array_protocols_jax_and_torch_like_objects(tmp_path):
    """__array__, __dlpack__, JAX arrays (incl. bfloat16) and PyTorch's detach/cpu/bfloat16 rules."""
    out = run_without_tensorflow(
        """
        import sys
        import jax.numpy as jnp, ml_dtypes, numpy as np
        import tb_tensorcap as tensorcap

        class OnlyArray:                      # the __array__ protocol alone
            def __array__(self, dtype=None, copy=None):
                return np.array([[1, 2], [3, 4]], dtype=np.int16)

        class OnlyDLPack:                     # the DLPack protocol alone (numpy's own capsule)
            def __init__(self, array):
                self._array = array
            def __dlpack__(self, **kwargs):
                return self._array.__dlpack__(**kwargs)
            def __dlpack_device__(self):
                return self._array.__dlpack_device__()

        class TorchLike:
            # What a PyTorch tensor does: refuses numpy while it requires grad or sits on a GPU,
            # and has no bfloat16 in either protocol.
            def __init__(self, array, requires_grad=False, device="cpu"):
                self.array, self.requires_grad, self.device = array, requires_grad, device
                self.dtype = "torch." + array.dtype.name
            def _usable(self):
                if self.requires_grad:
                    raise RuntimeError("Can't call numpy() on Tensor that requires grad.")
                if self.device != "cpu":
                    raise TypeError("can't convert cuda:0 device type tensor to numpy.")
                if self.array.dtype == ml_dtypes.bfloat16:
                    raise TypeError("Got unsupported ScalarType BFloat16")
                return self.array
            def __array__(self, dtype=None, copy=None):
                return self._usable()
            def __dlpack__(self, **kwargs):
                return self._usable().__dlpack__()
            def __dlpack_device__(self):
                return (1, 0) if self.device == "cpu" else (2, 0)
            def detach(self):
                return TorchLike(self.array, False, self.device)
            def cpu(self):
                return TorchLike(self.array, self.requires_grad, "cpu")
            def float(self):
                return TorchLike(self.array.astype(np.float32), self.requires_grad, self.device)

        out = {}
        with tensorcap.Writer(sys.argv[1]) as w:
            tensorcap.capture(OnlyArray(), "only_array", step=0, writer=w)
            tensorcap.capture(OnlyDLPack(np.arange(5, dtype=np.float64)), "only_dlpack", step=0, writer=w)
            tensorcap.capture(jnp.arange(6, dtype=jnp.float32).reshape(2, 3), "jax", step=0, writer=w)
            tensorcap.capture(jnp.array([0.5, -1.5], dtype=jnp.bfloat16), "jax_bf16", step=0, writer=w)
            grad = TorchLike(np.array([0.25, 4.0], np.float32), requires_grad=True, device="cuda:0")
            tensorcap.capture(grad, "torch_cuda_grad", step=0, writer=w)
            half = TorchLike(np.array([3.0, -0.125], ml_dtypes.bfloat16), requires_grad=True, device="cuda:0")
            tensorcap.capture(half, "torch_bf16", step=0, writer=w)
            tensorcap.capture(jnp.int32(5), "jax_step", step=jnp.int32(9), writer=w)
            errors = {}
            for name, value in [("object", object()), ("datetime", np.array(["2026-01-01"], dtype="datetime64[s]"))]:
                try:
                    tensorcap.capture(value, name, step=0, writer=w)
                except TypeError as e:
                    errors[name] = str(e)
        out["errors"] = errors
    """,
        tmp_path / "run",
    )
    reader = tensorcap.load(tmp_path / "run")
    assert reader.value(".", "only_array", 0).tolist() == [[1, 2], [3, 4]]
    assert reader.info(".", "only_array", 0).dtype == "int16"
    assert reader.value(".", "only_dlpack", 0).tolist() == [0, 1, 2, 3, 4]
    assert reader.value(".", "jax", 0).tolist() == [[0, 1, 2], [3, 4, 5]]
    assert reader.info(".", "jax_bf16", 0).dtype == "bfloat16"
    assert reader.value(".", "jax_bf16", 0).astype(np.float32).tolist() == [0.5, -1.5]
    assert reader.value(".", "torch_cuda_grad", 0).tolist() == [0.25, 4.0]
    assert reader.info(".", "torch_bf16", 0).dtype == "bfloat16"
    assert reader.value(".", "torch_bf16", 0).astype(np.float32).tolist() == [3.0, -0.125]
    assert reader.steps(".", "jax_step") == [9]
    assert "cannot capture 'object'" in out["errors"]["object"] and "object" in out["errors"]["object"]
    assert "datetime64" in out["errors"]["datetime"]
    assert set(reader.tags(".")) == {
        "only_array",
        "only_dlpack",
        "jax",
        "jax_bf16",
        "torch_cuda_grad",
        "torch_bf16",
        "jax_step",
    }


def test_step_writer_source_and_capturer_rules(tmp_path):
    """Explicit step > as_default(step) > per-tag counter; explicit writer > as_default > own writer."""
    out = run_without_tensorflow(
        """
        import sys
        import numpy as np
        import tb_tensorcap as tensorcap

        out = {}
        explicit, other = tensorcap.Writer(sys.argv[1] + "/explicit"), tensorcap.Writer(sys.argv[1] + "/other")
        tensorcap.capture(1.0, "counted")                                   # default writer, step 0
        tensorcap.capture(2.0, "counted")                                   # step 1
        out["line"] = sys._getframe().f_lineno - 1
        with explicit.as_default(step=10):
            tensorcap.capture(3.0, "defaulted")                             # explicit run, step 10
            tensorcap.capture(4.0, "stepped", step=3)                       # step 3
            tensorcap.capture(5.0, "elsewhere", writer=other)               # other run, step 10
            with tensorcap.Capturer("block", step=20) as outer:
                with tensorcap.Capturer("inner", keep=False) as inner:
                    tensorcap.capture(np.ones(2), "z")                      # block/inner/z, step 10
                outer.capture(np.zeros(3), "kept")                          # block/kept, step 20
        out["kept"] = sorted(outer.tensors), outer["kept"].tolist(), sorted(inner.tensors)
        errors = {}
        for name, call in [
            ("bad_writer", lambda: tensorcap.capture(1.0, "w", writer="runs")),
            ("bad_step", lambda: tensorcap.capture(1.0, "s", step=1.5)),
            ("bad_name", lambda: tensorcap.capture(1.0, "/")),
            ("record", lambda: tensorcap.record),
        ]:
            try:
                call()
            except (TypeError, ValueError, ImportError) as e:
                errors[name] = "%s: %s" % (type(e).__name__, e)
        out["errors"] = errors
        tensorcap.flush()
        out["default_logdir"] = tensorcap.default_logdir()
        explicit.close(), other.close()
    """,
        tmp_path,
        env={"TENSORCAP_LOGDIR": str(tmp_path / "default")},
    )
    reader = tensorcap.load(tmp_path)
    assert reader.runs() == ["default", "explicit", "other"]
    assert out["default_logdir"] == str(tmp_path / "default")
    assert reader.steps("default", "counted") == [0, 1]
    info = reader.info("default", "counted", 1)
    assert info.source["line"] == out["line"] and info.source["function"] == "<module>"
    assert reader.steps("explicit", "defaulted") == [10]
    assert reader.steps("explicit", "stepped") == [3]
    assert reader.steps("other", "elsewhere") == [10]
    assert reader.steps("explicit", "block/inner/z") == [10]
    assert reader.steps("explicit", "block/kept") == [20]
    assert out["kept"] == [["kept"], [0.0, 0.0, 0.0], []]
    errors = out["errors"]
    assert errors["bad_writer"].startswith("TypeError") and "tensorcap.Writer" in errors["bad_writer"]
    assert errors["bad_step"].startswith("TypeError") and "step must be an integer" in errors["bad_step"]
    assert errors["bad_name"].startswith("ValueError")
    assert errors["record"].startswith("ImportError") and "needs TensorFlow" in errors["record"]


def test_large_values_are_chunked_and_read_back_whole(tmp_path):
    run_without_tensorflow(
        """
        import sys
        import numpy as np
        import tb_tensorcap as tensorcap
        from tb_tensorcap import metadata

        metadata.CHUNK_BYTES = 1000
        out = {}
        with tensorcap.Writer(sys.argv[1]) as w:
            tensorcap.capture(np.arange(1000, dtype=np.float32).reshape(10, 100), "big", step=4, writer=w)
            tensorcap.capture(np.array([b"x" * 600, b"y" * 600, b""], dtype=object), "strings", step=4, writer=w)
    """,
        tmp_path,
    )
    reader = tensorcap.load(tmp_path)
    big = reader.info(".", "big", 4)
    assert len(big.locations) == 4 and big.shape == (10, 100)
    np.testing.assert_array_equal(reader.value(".", "big", 4), np.arange(1000, dtype=np.float32).reshape(10, 100))
    assert len(reader.info(".", "strings", 4).locations) == 2
    assert reader.value(".", "strings", 4).tolist() == [b"x" * 600, b"y" * 600, b""]


def test_a_traced_jax_value_gets_a_clear_error(tmp_path):
    out = run_without_tensorflow(
        """
        import sys
        import jax, jax.numpy as jnp
        import tb_tensorcap as tensorcap

        out = {}
        w = tensorcap.Writer(sys.argv[1])

        @jax.jit
        def f(x):
            tensorcap.capture(x * 2, "inside", writer=w)
            return x

        try:
            f(jnp.ones(3))
        except TypeError as e:
            out["error"] = str(e)
        w.close()
    """,
        tmp_path,
    )
    assert "JAX tracer" in out["error"] and "jax.debug.callback" in out["error"]
    assert tensorcap.load(tmp_path).runs() == []


def test_write_errors_name_the_logdir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    out = run_without_tensorflow(
        """
        import sys
        import tb_tensorcap as tensorcap

        out = {}
        try:
            tensorcap.Writer(sys.argv[1] + "/run")
        except OSError as e:
            out["error"] = str(e)
        w = tensorcap.Writer(sys.argv[2])
        w.close()
        try:
            tensorcap.capture(1.0, "after_close", writer=w)
        except OSError as e:
            out["closed"] = str(e)
    """,
        blocker,
        tmp_path / "ok",
    )
    assert "cannot write captures to %r" % (str(blocker) + "/run") in out["error"]
    assert "closed" in out["closed"].lower()


def test_jax_demo_trains_and_its_captures_are_exact(tmp_path):
    """demo/jax_train.py without TensorFlow; the gradients it wrote equal jax.grad's, recomputed here."""
    import runpy

    import jax

    demo_path = os.path.join(os.path.dirname(__file__), "..", "demo", "jax_train.py")
    out = run_without_tensorflow(
        """
        import runpy, sys
        demo = runpy.run_path(sys.argv[1])
        out = {"loss": demo["train"](sys.argv[2], 6)}
    """,
        demo_path,
        tmp_path,
    )
    reader = tensorcap.load(tmp_path)
    assert reader.runs() == ["jax"]
    tags = reader.tags("jax")
    for tag in (
        "dense1/preactivation",
        "dense1/activation",
        "dense2/activation",
        "logits",
        "loss",
        "probe/dense2_mean",
        "grad/dense1/kernel",
        "grad/dense3/bias",
        "dense2/kernel",
    ):
        assert tag in tags and reader.steps("jax", tag) == list(range(6)), tag
    losses = [reader.value("jax", "loss", s).item() for s in range(6)]
    assert losses[-1] < losses[0] and abs(losses[-1] - out["loss"]) < 1e-6

    demo = runpy.run_path(demo_path)
    points, labels = demo["make_data"]()
    params = demo["init_params"]()
    (loss, activations), grads = jax.value_and_grad(demo["loss_fn"], has_aux=True)(params, points, labels)
    np.testing.assert_allclose(reader.value("jax", "grad/dense1/kernel", 0), grads["dense1"]["kernel"], rtol=1e-5)
    np.testing.assert_allclose(reader.value("jax", "loss", 0), loss, rtol=1e-6)
    np.testing.assert_allclose(
        reader.value("jax", "probe/dense2_mean", 0), np.mean(activations["dense2/activation"]), rtol=1e-5
    )
    assert reader.info("jax", "loss", 0).source["file"].endswith("jax_train.py")
    # The capture order within a step: forward pass, probe, loss, gradients, weights.
    order = [info.tag for info in reader.captures("jax") if info.step == 2]
    assert (
        order.index("logits") < order.index("loss") < order.index("grad/dense1/kernel") < order.index("dense1/kernel")
    )


def test_a_full_disk_stops_captures_to_the_default_writer(tmp_path, monkeypatch):
    """The TensorFlow path's rule: below 1 MiB free, TensorCap's own writer refuses captures."""
    from tb_tensorcap import event_writer

    class FullDisk:
        f_bfree = f_bavail = 10
        f_frsize = 4096

    monkeypatch.setenv("TENSORCAP_LOGDIR", str(tmp_path / "run"))
    default = event_writer.DefaultWriter()
    default.get().close()  # created while the disk had room
    monkeypatch.setattr(event_writer.os, "statvfs", lambda path: FullDisk())
    with pytest.raises(OSError) as raised:
        default.get()
    assert raised.value.errno == 28 and str(tmp_path / "run") in str(raised.value)


def test_with_tensorflow_a_tensorcap_writer_takes_the_plain_path(tmp_path, writer_at):
    """TensorFlow values into a tensorcap.Writer: explicit, from as_default (over tf.summary's default)."""
    import tensorflow as tf

    plain = tensorcap.Writer(tmp_path / "plain")
    tf_writer = writer_at(tmp_path / "tf")
    tensorcap.capture(tf.constant([1.5, -2.0], tf.bfloat16), "bf16", step=0, writer=plain)
    tensorcap.capture(tf.Variable([[1, 2]], dtype=tf.int64), "variable", step=0, writer=plain)
    with tf_writer.as_default(step=5), plain.as_default(step=3):
        tensorcap.capture(tf.constant(["a", "b\0"]), "strings")
        with tensorcap.Capturer("block"):
            tensorcap.capture(np.float32(2), "x")

    @tf.function
    def traced(x):
        return tensorcap.capture(x, "inside", writer=plain)

    with pytest.raises(TypeError, match="inside tf.function with a tensorcap.Writer"):
        traced(tf.constant(1.0))
    tensorcap.flush()
    reader = tensorcap.load(tmp_path)
    assert reader.runs() == ["plain"]
    assert reader.value("plain", "bf16", 0).astype(np.float32).tolist() == [1.5, -2.0]
    assert reader.value("plain", "variable", 0).tolist() == [[1, 2]]
    assert reader.value("plain", "strings", 3).tolist() == [b"a", b"b\0"]
    assert reader.steps("plain", "block/x") == [3]
    assert reader.info("plain", "block/x", 3).source["file"] == __file__
    plain.close()
