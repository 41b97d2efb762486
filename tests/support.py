"""Helpers that test modules import (`from support import ...`): the sample logdir's facts,
TensorBoard's real WSGI app in this process, and event-file surgery (record spans,
a bad-disk byte flip, the reader's warnings).

They live here, not in conftest.py: tests/ and tests/browser/ each have a
conftest.py, so `from conftest import ...` would find whichever was imported first.
"""

import logging
import os
import time

import numpy as np

READER_LOGGER = "tb_tensorcap"

# The sample logdir's known facts, asserted by the tests that use it.
SAMPLE_STEPS = 300
NAN_STEP = 3
DIVERGE_STEP = 2


def sample_value(run, step):
    """The 2-D value of tag "layer2/out" in `run` at `step`."""
    x = np.arange(48, dtype=np.float32).reshape(6, 8) / 10 + step
    if run == "changed" and step >= DIVERGE_STEP:
        x[2, 5] += 0.5
    return x


def flip_byte(path, position):
    """Damages one byte of a file in place (XOR 0x55), as a bad disk would."""
    with open(path, "r+b") as f:
        f.seek(position)
        byte = f.read(1)
        f.seek(position)
        f.write(bytes([byte[0] ^ 0x55]))


class WsgiTensorBoard:
    """TensorBoard's real WSGI app and data provider, in this process.

    TensorBoard's own ingestion is loaded once, without its reload thread
    (which, running inside TensorFlow at interpreter exit, aborts the
    process); the TensorCap plugin still refreshes on `--reload_interval`.
    """

    open_apps = []  # every app made and not yet stopped: `stop_all()` ends their refreshers

    def __init__(self, logdir, extra_argv=()):
        """`logdir` None: the logdirs come from `--logdir_spec` in `extra_argv`."""
        from tensorboard import program
        from tensorboard.backend import application
        from tensorboard.backend.event_processing import data_ingester
        from tensorboard.plugins.core import core_plugin
        from werkzeug import test as werkzeug_test

        from tb_tensorcap import plugin

        class KeepingLoader(plugin.TensorCapLoader):
            """Keeps the plugin it loads, so `stop()` can end its background refresher."""

            def load(loader, context):
                loader.plugin = super().load(context)
                return loader.plugin

        self.loader = KeepingLoader()
        self.tensorboard = program.TensorBoard(plugins=[core_plugin.CorePluginLoader, self.loader])
        logdir_argv = ["--logdir", str(logdir)] if logdir is not None else []
        self.tensorboard.configure(argv=["tensorboard", *logdir_argv, "--load_fast=false", *extra_argv])
        self.flags = self.tensorboard.flags
        ingester = data_ingester.LocalDataIngester(self.flags)
        multiplexer = ingester.deprecated_multiplexer
        roots = (
            {str(logdir): None} if logdir is not None else data_ingester._parse_event_files_spec(self.flags.logdir_spec)
        )
        for path, group in roots.items():
            multiplexer.AddRunsFromDirectory(path, group)
        multiplexer.Reload()
        provider = ingester.data_provider
        app = application.TensorBoardWSGIApp(
            self.flags, self.tensorboard.plugin_loaders, provider, self.tensorboard.assets_zip_provider, multiplexer
        )
        self.client = werkzeug_test.Client(app)
        WsgiTensorBoard.open_apps.append(self)

    def stop(self):
        """Ends the plugin's background refresher (TensorBoard itself never stops a plugin)."""
        self.loader.plugin.stop()
        WsgiTensorBoard.open_apps.remove(self)

    @classmethod
    def stop_all(cls):
        for app in list(cls.open_apps):
            app.stop()

    def get(self, path):
        return self.client.get(path)

    def get_json(self, path, expect=200):
        reply = self.client.get(path)
        assert reply.status_code == expect, (path, reply.status_code, reply.get_data(as_text=True))
        return reply.get_json()

    def wait_complete(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            index = self.get_json("/data/plugin/tensorcap/index")
            if index["complete"]:
                return index
            time.sleep(0.1)
        raise AssertionError("the TensorCap index did not complete")


def event_files_of(run_dir):
    return sorted(os.path.join(run_dir, n) for n in os.listdir(run_dir) if "tfevents" in n)


def capture_file_of(run_dir):
    """The event file of `run_dir` holding its captures: TensorCap's own beside a tf.summary writer's
    (`direct_writer`), else the only one."""
    files = event_files_of(run_dir)
    (path,) = [f for f in files if ".tensorcap." in os.path.basename(f)] or files
    return path


def record_spans(path):
    """[(start, end)] of each complete record, from the TFRecord framing alone."""
    with open(path, "rb") as f:
        data = f.read()
    spans, pos = [], 0
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 8], "little")
        if pos + 12 + length + 4 > len(data):
            break
        spans.append((pos, pos + 12 + length + 4))
        pos += 12 + length + 4
    return spans


def warnings_of(caplog, *words):
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith(READER_LOGGER) and all(w in r.getMessage() for w in words)
    ]


def write_flight_run(run_dir, steps, bad_step):
    """`steps` steps of log(x * 10**step) under FlightRecorder(keep_steps=2): NaN at `bad_step` (a negative's Log).

    Health at every step; full values of the two steps before `bad_step` and of `bad_step` itself.
    """
    import tensorflow as tf

    import tb_tensorcap as tensorcap

    writer = tf.summary.create_file_writer(str(run_dir))
    recorder = tensorcap.FlightRecorder(keep_steps=2, writer=writer)
    x = tf.constant(np.linspace(1, 2, 6, dtype=np.float32).reshape(2, 3))
    for step in range(steps):
        with recorder.record("step", step=step):
            scaled = x * (10.0**step)
            tf.math.log(scaled - (1e9 if step == bad_step else 0.0))
    writer.close()
