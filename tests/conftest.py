"""Shared fixtures: generated logdirs, TensorBoard's real WSGI app, real processes."""

import os
import shutil
import tempfile

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Saved indexes go to a directory of this test session (inherited by the
# `tensorcap` and `tensorboard` processes tests start), never to ~/.cache.
os.environ["TENSORCAP_CACHE_DIR"] = tempfile.mkdtemp(prefix="tensorcap-test-cache-")

from servers import TensorBoardProcess  # noqa: E402  (benchmarks/servers.py, on pytest's pythonpath)
from support import NAN_STEP, SAMPLE_STEPS, WsgiTensorBoard, sample_value  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _stop_wsgi_apps():
    """After each test file, the plugins its WSGI apps loaded stop refreshing in the background.

    Otherwise every app of the session keeps rescanning its logdir until the end, costing CPU
    and showing up in other tests' counts of scans.
    """
    yield
    WsgiTensorBoard.stop_all()


@pytest.fixture(scope="session")
def sample_logdir(tmp_path_factory):
    """Two runs, "base" and "changed", that part at layer2/out, step 2.

    Holds a 300-step scalar, a 2-D float32 tag with NaN/+Inf/-Inf at step 3, a
    4-D tensor, bfloat16, complex, bool and string captures, and a tag whose
    name is HTML.
    """
    import tensorflow as tf

    import tb_tensorcap as tensorcap

    logdir = tmp_path_factory.mktemp("sample") / "logs"
    for run in ("base", "changed"):
        writer = tf.summary.create_file_writer(str(logdir / run))
        with writer.as_default():
            for step in range(SAMPLE_STEPS):
                tensorcap.capture(np.float32(step) / 2, "loss", step=step)
            for step in range(5):
                tensorcap.capture(np.full(4, step, np.float32), "layer1/out", step=step, description="first layer")
                value = sample_value(run, step)
                if step == NAN_STEP:
                    value = value.copy()
                    value[0, 0], value[0, 1], value[0, 2] = np.nan, np.inf, -np.inf
                tensorcap.capture(value, "layer2/out", step=step)
            tensorcap.capture(np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5), "conv/act", step=0)
            tensorcap.capture(tf.constant([1.5, -2.25], tf.bfloat16), "half/bf16", step=0)
            tensorcap.capture(np.array([1 + 2j, -3j], np.complex64), "complex", step=0)
            tensorcap.capture(np.array([True, False, True]), "mask", step=0)
            tensorcap.capture(np.array([b"caf\xc3\xa9", b"\xff", b""], dtype=object), "words", step=0)
            tensorcap.capture(np.float32(1), "<img src=x onerror=alert(1)>", step=0)
        writer.close()
    return logdir


@pytest.fixture(scope="module")
def sample_app(sample_logdir):
    app = WsgiTensorBoard(sample_logdir)
    app.wait_complete()
    return app


@pytest.fixture
def isolated_capture(monkeypatch):
    """Fresh per-name step counters, and no reaching TensorCap's lazy default writer.

    Modules that capture use it (`pytestmark = pytest.mark.usefixtures(...)`);
    the default writer itself is tested in subprocesses.
    """
    import tensorflow as tf

    from tb_tensorcap import capture_context, capture_core, writers

    monkeypatch.setattr(capture_core, "step_counters", capture_core.StepCounters())
    monkeypatch.setattr(capture_context, "step_counters", capture_context.StepCounters())

    class NoDefaultWriter:
        logdir = "<unused>"

        def get(self):
            raise AssertionError("test reached TensorCap's lazy default writer")

    monkeypatch.setattr(writers, "default_writer", NoDefaultWriter())
    yield
    tf.summary.experimental.set_step(None)


@pytest.fixture
def writer_at():
    """writer_at(path, **kw) -> a real tf.summary writer; closed after the test."""
    import tensorflow as tf

    writers = []

    def make(path, **kwargs):
        writer = tf.summary.create_file_writer(str(path), **kwargs)
        writers.append(writer)
        return writer

    yield make
    for writer in writers:
        writer.close()


@pytest.fixture
def tensorboard_server():
    """Starts real `tensorboard` processes: `tensorboard_server(logdir, **kw)`; stops them after."""
    started = []

    def start(logdir, **kwargs):
        server = TensorBoardProcess(logdir, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(os.environ["TENSORCAP_CACHE_DIR"], ignore_errors=True)
