"""Real `tensorboard` processes on free loopback ports, for tests and benchmarks.

`TensorBoardProcess(logdir)` starts TensorBoard exactly as a user would (the
installed entry point loads the TensorCap plugin), waits until it answers, and
stops it. With `block_tensorflow=True` the process cannot import TensorFlow,
as in an environment that has only TensorBoard installed.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

# Debian's Chromium as every browser test and the README's screenshots drive it (never `playwright install`).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# Runs TensorBoard's own main; optionally makes `import tensorflow` fail first.
_LAUNCHER = r"""
import importlib.abc, sys
if sys.argv[1] == "block":
    class _NoTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                raise ImportError("TensorFlow is blocked in this process")
    sys.meta_path.insert(0, _NoTensorFlow())
sys.argv = ["tensorboard"] + sys.argv[2:]
from tensorboard.main import run_main
run_main()
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TensorBoardProcess:
    """A `tensorboard --logdir LOGDIR` child process on 127.0.0.1."""

    def __init__(self, logdir, *, load_fast=True, block_tensorflow=False, extra_args=(), timeout=90):
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        args = [
            sys.executable,
            "-c",
            _LAUNCHER,
            "block" if block_tensorflow else "allow",
            "--logdir",
            str(logdir),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--load_fast=%s" % ("true" if load_fast else "false"),
            *extra_args,
        ]
        self._log = tempfile.NamedTemporaryFile(prefix="tensorboard-%d-" % self.port, suffix=".log", delete=False)
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready(timeout)

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("tensorboard exited with %s; see %s" % (self.process.returncode, self._log.name))
            try:
                if self.get("/data/plugins_listing")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError("tensorboard did not answer within %d s" % timeout)

    def get(self, path, timeout=60):
        """(status, headers, body bytes) of a GET; HTTP errors are returned, not raised."""
        try:
            with urllib.request.urlopen(self.base + path, timeout=timeout) as reply:
                return reply.status, dict(reply.headers), reply.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def get_json(self, path):
        status, _, body = self.get(path)
        return status, json.loads(body)

    def rss_bytes(self):
        """Resident memory of TensorBoard and all its children (the data server)."""
        return sum(_rss(pid) for pid in _process_tree(self.process.pid))

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()


def _process_tree(pid):
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        try:
            for task in os.listdir("/proc/%d/task" % current):
                with open("/proc/%d/task/%s/children" % (current, task)) as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return pids


def _rss(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
