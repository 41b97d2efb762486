"""TensorCap: capture named tensors from eager TensorFlow, browse them in TensorBoard.

    import tb_tensorcap as tensorcap
    y = tensorcap.capture(x @ w, "logits")      # written through tf.summary
    reader = tensorcap.load("runs")             # read back as numpy, no server
    print(tensorcap.rootcause("runs", "broken"))  # the op that made the first NaN

Capturing needs TensorFlow and is imported on first use; reading (`load`,
the TensorBoard plugin, the `tensorcap` command) needs only tensorboard and
numpy, so this package imports without TensorFlow.
"""

from tb_tensorcap.reader import CaptureInfo, NotFoundError, Reader, load
from tb_tensorcap.root_cause import RootCause, rootcause

# Names served by the TensorFlow-dependent modules, imported on first use.
_LAZY = {
    "capture": "tb_tensorcap.summary",
    "Capturer": "tb_tensorcap.summary",
    "flush": "tb_tensorcap.summary",
    "default_logdir": "tb_tensorcap.summary",
    "record": "tb_tensorcap.autocapture",
    "capture_gradients": "tb_tensorcap.autocapture",
}
# Submodules that need TensorFlow, imported on first use: `tensorcap.keras`.
_LAZY_SUBMODULES = ("keras",)

__all__ = ["CaptureInfo", "NotFoundError", "Reader", "RootCause", "load", "rootcause", *_LAZY, *_LAZY_SUBMODULES]


def __getattr__(name):
    import importlib

    if name in _LAZY_SUBMODULES:
        return importlib.import_module("tb_tensorcap." + name)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError("module 'tb_tensorcap' has no attribute %r" % name)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
