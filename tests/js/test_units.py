"""Runs the tab's JavaScript unit tests (`node --test`) inside the pytest suite."""

import shutil
import subprocess
from pathlib import Path


def test_javascript_unit_tests_pass():
    node = shutil.which("node")
    assert node is not None, "Node.js is needed for the tab's unit tests (make test installs it)"
    files = sorted(str(path) for path in Path(__file__).parent.glob("*.test.mjs"))
    result = subprocess.run([node, "--test", *files], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout and "# pass 0" not in result.stdout, result.stdout[-2000:]
