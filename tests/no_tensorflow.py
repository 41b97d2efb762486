"""Running code where TensorFlow cannot be imported, for the TensorFlow-free paths.

The suite runs with TensorFlow installed; these helpers start child Pythons
in which `import tensorflow` fails, as where only TensorBoard is installed.
"""

import json
import os
import subprocess
import sys
import textwrap

BLOCK_TENSORFLOW = textwrap.dedent("""
    import importlib.abc, json, sys

    class NoTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith(("tensorflow.", "tensorflow_")):
                raise ImportError("TensorFlow is blocked in this test: " + name)
            return None

    sys.meta_path.insert(0, NoTensorFlow())
""")

# The `tensorcap` command: python -c CLI_WITHOUT_TENSORFLOW <arguments>.
CLI_WITHOUT_TENSORFLOW = BLOCK_TENSORFLOW + "from tb_tensorcap import cli\nsys.exit(cli.main(sys.argv[1:]))\n"


def run_without_tensorflow(code, *args, env=None):
    """Runs `code`, which fills a dict `out`; returns `out` (read back as JSON).

    Fails the test if the code fails or if TensorFlow got imported anyway.
    """
    script = (
        BLOCK_TENSORFLOW
        + textwrap.dedent(code)
        + textwrap.dedent("""
        out["tf_loaded"] = sorted(m for m in sys.modules if m.split(".")[0] == "tensorflow")
        print(json.dumps(out))
    """)
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out.pop("tf_loaded") == []
    return out


def popen_without_tensorflow(code, *args):
    """Starts `code` in a child that cannot import TensorFlow, with pipes for stdin and stdout."""
    return subprocess.Popen(
        [sys.executable, "-c", BLOCK_TENSORFLOW + textwrap.dedent(code), *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
