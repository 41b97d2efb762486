"""Follows ``tf.summary`` writers from the moment TensorFlow is imported, without importing it.

`direct_writer` writes a capture beside the event file of the ``tf.summary``
writer it was meant for, so it must know that writer's logdir, which
TensorFlow keeps only in C++: `tf_internals.hook_summary_writers` notes it
when a writer is created. Writers are usually created before the first
capture, and ``import tb_tensorcap`` does not import TensorFlow (reading
needs no TensorFlow), so `follow_summary_writers` installs that hook at once
when TensorFlow is already imported, and otherwise right after ``import
tensorflow`` finishes (a finder on ``sys.meta_path`` that wraps TensorFlow's
loader and then removes itself). A writer created before either is not
served by `direct_writer`: its captures go through ``tf.summary``.
"""

import importlib
import importlib.abc
import sys
import warnings


def follow_summary_writers():
    """Installs `direct_writer`'s writer hook now if TensorFlow is imported, else right after it is."""
    if "tensorflow" in sys.modules:
        _install()
    elif not any(isinstance(finder, _AfterTensorFlowImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterTensorFlowImport())


def _install():
    try:
        importlib.import_module("tb_tensorcap.direct_writer")
    except Exception as e:  # noqa: BLE001 - never break the user's `import tensorflow`
        warnings.warn(
            "TensorCap could not follow tf.summary writers (%r): record() writes through tf.summary, more slowly" % e,
            RuntimeWarning,
            stacklevel=2,
        )


class _AfterTensorFlowImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` through the finders after it, and has its loader call `_install` once it ran."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow" or self not in sys.meta_path:
            return None
        spec = None
        for finder in sys.meta_path[sys.meta_path.index(self) + 1 :]:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                break
        if spec is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_follow(module):
            exec_module(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            _install()

        spec.loader.exec_module = exec_then_follow
        return spec
