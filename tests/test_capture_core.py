"""The rules both capture paths share (`capture_core`): one block stack, one default run, one conversion.

The TensorFlow-free half is also run where TensorFlow cannot be imported, by
test_plain_capture.py.
"""

import importlib.abc
import os
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf

import tb_tensorcap as tensorcap
from tb_tensorcap import capture_core

pytestmark = pytest.mark.usefixtures("isolated_capture")

MIXED_PROGRAM = """
import sys
import numpy as np
import tensorflow as tf
import tb_tensorcap as tensorcap
from tb_tensorcap import plain_capture

plain_capture.capture(np.float32([0, 1]), "counted")   # TensorFlow's path not loaded yet: the TF-free writer, step 0
tensorcap.capture(tf.constant([1.0, 2.0]), "counted")  # TensorCap's tf.summary writer, the same run, step 1
plain_capture.capture(np.float32([2, 3]), "counted")   # step 2, by TensorFlow's rules from now on
with tensorcap.Capturer("outer") as outer:
    with plain_capture.Capturer("inner") as inner:
        tensorcap.capture(np.float32(1.5), "x")          # the innermost block writes it
    plain_capture.capture(np.float32(2.5), "y")          # written by the TensorFlow block
user = tf.summary.create_file_writer(sys.argv[1])
with user.as_default(step=7), plain_capture.Capturer("numpy"):
    plain_capture.capture(np.ones(2), "z")               # joins the user's active tf.summary writer
user.flush()
print("logdirs", tensorcap.default_logdir(), plain_capture.default_logdir())
print("kept", sorted(inner.tensors), sorted(outer.tensors))
tensorcap.flush()
"""


def test_numpy_and_tensorflow_captures_share_one_default_run_one_block_stack_and_one_step_count(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("TENSORCAP_LOGDIR", "TF_CONFIG")}
    proc = subprocess.run(
        [sys.executable, "-c", MIXED_PROGRAM, str(tmp_path / "user")],
        env=dict(env, TF_CPP_MIN_LOG_LEVEL="3"),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    runs = os.listdir(tmp_path / "runs")
    assert len(runs) == 1, runs  # both writers chose the same runs/<YYYYmmdd-HHMMSS>
    logdir = os.path.join("runs", runs[0])
    assert "logdirs %s %s" % (logdir, logdir) in proc.stdout
    assert proc.stderr.count("tensorcap: writing captures to") == 1, proc.stderr
    assert "kept ['x'] ['y']" in proc.stdout
    reader = tensorcap.load(tmp_path / logdir, cache_dir=None)
    assert reader.runs() == ["."]
    assert reader.tags(".") == ["counted", "outer/inner/x", "outer/y"]
    assert reader.steps(".", "counted") == [0, 1, 2]
    assert [reader.value(".", "counted", step).tolist() for step in (0, 1, 2)] == [[0, 1], [1, 2], [2, 3]]
    assert reader.repeats(".", "counted") == 0
    assert float(reader.value(".", "outer/inner/x", 0)) == 1.5
    assert float(reader.value(".", "outer/y", 0)) == 2.5
    user = tensorcap.load(tmp_path / "user", cache_dir=None)
    assert user.tags(".") == ["numpy/z"] and user.steps(".", "numpy/z") == [7]


class _TorchCudaLike:
    """What a PyTorch CUDA tensor that requires grad does: refuses numpy until detached and copied to the host."""

    def __init__(self, array, requires_grad=True, device="cuda:0"):
        self.array, self.requires_grad, self.device = array, requires_grad, device

    def __array__(self, dtype=None, copy=None):
        if self.requires_grad or self.device != "cpu":
            raise TypeError("can't convert cuda:0 device type tensor to numpy.")
        return self.array

    def detach(self):
        return _TorchCudaLike(self.array, False, self.device)

    def cpu(self):
        return _TorchCudaLike(self.array, self.requires_grad, "cpu")


class DynamicJaxprTracer:
    """Stands for a JAX tracer (a value inside jax.jit): no numbers to capture."""


DynamicJaxprTracer.__module__ = "jax._src.interpreters.partial_eval"


def test_the_tensorflow_path_converts_array_likes_as_the_tensorflow_free_path_does(tmp_path, writer_at):
    writer = writer_at(tmp_path / "run")
    tensorcap.capture(_TorchCudaLike(np.array([0.25, 4.0], np.float32)), "torch_cuda", step=0, writer=writer)
    tensorcap.capture(np.array([1.5, -2.0], ml_dtypes.bfloat16), "bf16", step=0, writer=writer)
    with pytest.raises(TypeError, match="JAX tracer.*jax.debug.callback"):
        tensorcap.capture(DynamicJaxprTracer(), "traced", step=0, writer=writer)
    with pytest.raises(TypeError, match="'when'.*datetime64"):
        tensorcap.capture(np.array(["2026-01-01"], dtype="datetime64[s]"), "when", step=0, writer=writer)
    writer.flush()
    reader = tensorcap.load(tmp_path / "run", cache_dir=None)
    assert reader.tags(".") == ["bf16", "torch_cuda"]
    assert reader.value(".", "torch_cuda", 0).tolist() == [0.25, 4.0]
    assert reader.info(".", "bf16", 0).dtype == "bfloat16"


def test_a_tensorflow_capturer_inside_a_plain_one_nests_its_prefix(tmp_path, writer_at):
    from tb_tensorcap import plain_capture

    writer = writer_at(tmp_path / "run")
    plain = tensorcap.Writer(tmp_path / "plain")
    with plain_capture.Capturer("outer", writer=plain):
        with tensorcap.Capturer("inner", writer=writer) as inner:
            tensorcap.capture(tf.constant(3.0), "z", step=4)
        assert capture_core.innermost_capturer().prefix == "outer"
    assert capture_core.innermost_capturer() is None
    assert inner.prefix == "outer/inner" and float(inner["z"]) == 3.0
    writer.flush()
    plain.close()
    assert tensorcap.load(tmp_path / "run", cache_dir=None).steps(".", "outer/inner/z") == [4]


def test_library_directories_are_found_even_where_an_import_hook_refuses_a_package():
    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "refused_by_hook":
                raise ImportError("blocked: " + name)
            return None

    hook = Refuse()
    sys.meta_path.insert(0, hook)
    try:
        dirs = capture_core.package_dirs("refused_by_hook", "tb_tensorcap")
    finally:
        sys.meta_path.remove(hook)
    assert dirs == (os.path.realpath(os.path.dirname(capture_core.__file__)) + os.sep,)
