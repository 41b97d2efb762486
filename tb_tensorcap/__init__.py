"""TensorCap: capture named tensors from eager TensorFlow, browse them in TensorBoard.

    import tb_tensorcap as tensorcap
    y = tensorcap.capture(x @ w, "logits")      # written as a TensorBoard summary
    reader = tensorcap.load("runs")             # read back as numpy, no server
    print(tensorcap.rootcause("runs", "broken"))  # the op that made the first NaN

With TensorFlow installed, captures go through ``tf.summary`` (`summary.py`)
and `record()`, Keras and ``tf.distribute`` are covered. Without it,
`capture`, `Capturer` and `flush` take numpy, JAX and PyTorch values and write
the same events through TensorBoard's own writer (`plain_capture.py`,
`tensorcap.Writer`). Reading (`load`, the TensorBoard plugin, the `tensorcap`
command) needs only tensorboard, numpy, protobuf, ml_dtypes and crc32c, so
this package imports without TensorFlow and imports it only on first capture.
"""

from tb_tensorcap.event_writer import Writer
from tb_tensorcap.notebook import describe
from tb_tensorcap.reader import CaptureInfo, NotFoundError, Reader, load
from tb_tensorcap.root_cause import RootCause, rootcause
from tb_tensorcap.tf_import_hook import follow_summary_writers as _follow_summary_writers

_follow_summary_writers()  # `direct_writer` must know the logdir of writers created from now on

# Names whose module depends on whether TensorFlow is installed, imported on first use.
_CAPTURE_NAMES = ("capture", "Capturer", "flush", "default_logdir")
# Names that need TensorFlow, by module, imported on first use.
_TENSORFLOW_ONLY = {
    "record": "tb_tensorcap.autocapture",
    "capture_gradients": "tb_tensorcap.gradients",
    "FlightRecorder": "tb_tensorcap.flight",
}
# Submodules that need TensorFlow, imported on first use: `tensorcap.keras`.
_LAZY_SUBMODULES = ("keras",)

__all__ = [
    "CaptureInfo",
    "NotFoundError",
    "Reader",
    "RootCause",
    "Writer",
    "describe",
    "load",
    "rootcause",
    *_CAPTURE_NAMES,
    *_TENSORFLOW_ONLY,
    *_LAZY_SUBMODULES,
]


def __getattr__(name):
    import importlib

    if name in _CAPTURE_NAMES:
        module = "tb_tensorcap.summary" if _tensorflow_installed() else "tb_tensorcap.plain_capture"
    elif name in _TENSORFLOW_ONLY or name in _LAZY_SUBMODULES:
        module = _TENSORFLOW_ONLY.get(name, "tb_tensorcap." + name)
        if not _tensorflow_installed():
            raise ImportError(
                "tensorcap.%s needs TensorFlow (automatic op capture, tf.function, Keras and tf.distribute "
                "do); without it, capture values with tensorcap.capture" % name
            )
    else:
        raise AttributeError("module 'tb_tensorcap' has no attribute %r" % name)
    loaded = importlib.import_module(module)
    value = loaded if name in _LAZY_SUBMODULES else getattr(loaded, name)
    globals()[name] = value
    return value


def _tensorflow_installed():
    """Whether `import tensorflow` can be attempted (found without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):  # a finder that refuses it, or a broken module entry
        return False
