"""The op callback behind `record()`: sees every op the thread runs or traces.

TensorFlow's op callbacks are thread-local; the callback is installed in a
thread while it has an open `record()` block and hands each op to the
innermost open block of that thread (`Recording._on_eager_op` /
`_on_graph_op`). Ops TensorCap runs itself (`capture_context.writing`) are
skipped, and an error while capturing never breaks the user's op.
"""

import threading

from tb_tensorcap import capture_context, tf_internals

_local = threading.local()  # .records: this thread's open Recording blocks


def open_records():
    """This thread's open `Recording` blocks, innermost last (a mutable list)."""
    stack = getattr(_local, "records", None)
    if stack is None:
        stack = _local.records = []
    return stack


def _op_callback(op_type, inputs, attrs, outputs, op_name=None, graph=None):
    stack = getattr(_local, "records", None)
    if not stack or capture_context.is_writing():
        return None
    recording = stack[-1]
    if type(op_type) is bytes:
        op_type = op_type.decode("utf-8", "replace")
    try:
        if graph is None:
            recording._on_eager_op(op_type, inputs, outputs)
        else:
            recording._on_graph_op(op_type, inputs, outputs, op_name, graph)
    except Exception as e:  # noqa: BLE001 - never break the user's op
        recording._fail(e)
    return None


_install_lock = threading.Lock()
_threads_installed = 0


def install():
    """Installs the callback in this thread (when its first block opens)."""
    global _threads_installed
    with _install_lock:
        tf_internals.add_op_callback(_op_callback)
        _threads_installed += 1


def remove():
    """Removes the callback from this thread (when its last block closes)."""
    global _threads_installed
    with _install_lock:
        tf_internals.remove_op_callback(_op_callback)
        _threads_installed -= 1
        if _threads_installed > 0:
            # Removing this thread's last callback restores TensorFlow's fast
            # path, which would silence the other threads' callbacks.
            tf_internals.keep_callbacks_path()
