"""Runs the tab's JavaScript unit tests (`node --test`) inside the pytest suite."""

import shutil
import subprocess
from pathlib import Path

import pytest


def test_javascript_unit_tests_pass():
    node = shutil.which("node")
    if node is None:
        pytest.skip("needs Node.js (node --test)")
    files = sorted(str(path) for path in Path(__file__).parent.glob("*.test.mjs"))
    result = subprocess.run([node, "--test", *files], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
