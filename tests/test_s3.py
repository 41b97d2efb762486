"""Logdirs on S3, for real: a moto S3 server on loopback, read the way TensorBoard reads.

Without TensorFlow, TensorBoard reads ``s3://`` through its own gfile stub
and boto3 (endpoint from ``S3_ENDPOINT``): captures are written there by the
TensorFlow-free path, read back by `load()`, the `tensorcap` command and a
real `tensorboard` process serving the bucket while a writer appends. A
missing bucket and refused credentials give clear messages, never a 5xx.
With TensorFlow installed, ``s3://`` goes through TensorFlow, which has no S3
without tensorflow-io: the message says so.
"""

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import boto3
import pytest
from no_tensorflow import CLI_WITHOUT_TENSORFLOW, popen_without_tensorflow, run_without_tensorflow
from servers import TensorBoardProcess, free_port

import tb_tensorcap as tensorcap

BUCKET = "captures"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """A moto S3 server (a real HTTP S3 protocol server) on a free loopback port, with one bucket."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **CREDENTIALS},
    )
    endpoint = "http://127.0.0.1:%d" % port
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(endpoint + "/moto-api/", timeout=2).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start; see %s" % log.name) from None
                time.sleep(0.2)
        _client(endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        server.terminate()
        server.wait(10)
        log.close()


def _client(endpoint):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def _keys(endpoint, prefix):
    return [o["Key"] for o in _client(endpoint).list_objects(Bucket=BUCKET, Prefix=prefix)["Contents"]]


@pytest.fixture
def s3_env(s3_endpoint, monkeypatch):
    """The environment TensorBoard's S3 support reads, for this process and its children."""
    for name, value in {**CREDENTIALS, "S3_ENDPOINT": s3_endpoint}.items():
        monkeypatch.setenv(name, value)
    return s3_endpoint


WRITE_STEPS = """
    import sys
    import numpy as np
    import tb_tensorcap as tensorcap

    out = {}
    logdir, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with tensorcap.Writer(logdir) as writer:
        for step in range(first, last):
            tensorcap.capture(np.arange(6, dtype=np.float32).reshape(2, 3) * step, "layer/out", step=step,
                              writer=writer)
"""


def test_capture_to_s3_and_read_back_without_tensorflow(s3_env):
    logdir = "s3://%s/direct" % BUCKET
    run_without_tensorflow(WRITE_STEPS, logdir + "/run", 0, 3)
    out = run_without_tensorflow(
        """
        import sys
        import tb_tensorcap as tensorcap

        reader = tensorcap.load(sys.argv[1])
        out = {"runs": reader.runs(), "steps": reader.steps("run", "layer/out"),
               "value": reader.value("run", "layer/out", 2).tolist(), "errors": reader.listing_errors()}
    """,
        logdir,
    )
    assert out == {"runs": ["run"], "steps": [0, 1, 2], "value": [[0, 2, 4], [6, 8, 10]], "errors": {}}
    assert [k for k in _keys(s3_env, "direct/") if "tfevents" in k][0].startswith("direct/run/events.out.tfevents.")

    cli = subprocess.run(
        [sys.executable, "-c", CLI_WITHOUT_TENSORFLOW, "stats", "--json", logdir, "run", "layer/out"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0, cli.stderr
    assert [(row["step"], row["max"]) for row in json.loads(cli.stdout)["steps"]] == [(0, 0), (1, 5), (2, 10)]


def _get_json(server, route):
    status, body = server.get_json("/data/plugin/tensorcap" + route)
    assert status == 200, body
    return body


# Writes steps 0-1 of run "first", then, on a line on stdin, steps 2-4 to the same event file
# (each flush uploads it again, longer) and one capture to a new run "second".
GROWING_WRITER = """
    import numpy as np
    import tb_tensorcap as tensorcap

    logdir = sys.argv[1]
    with tensorcap.Writer(logdir + "/first") as writer:
        for step in range(5):
            if step == 2:
                writer.flush()
                print("flushed", flush=True)
                sys.stdin.readline()
            tensorcap.capture(np.arange(6, dtype=np.float32).reshape(2, 3) * step, "layer/out", step=step,
                              writer=writer)
    with tensorcap.Writer(logdir + "/second") as second:
        tensorcap.capture(np.float32(7), "loss", step=0, writer=second)
    print("done", flush=True)
"""


def test_tensorboard_serves_an_s3_logdir_while_captures_are_appended(s3_env):
    logdir = "s3://%s/serving" % BUCKET
    writer = popen_without_tensorflow(GROWING_WRITER, logdir)
    try:
        assert writer.stdout.readline().strip() == "flushed"
        with TensorBoardProcess(
            logdir, block_tensorflow=True, load_fast=False, extra_args=["--reload_interval=1"]
        ) as server:
            index = _get_json(server, "/index")
            assert index["errors"] == [] and index["runs"]["first"]["layer/out"]["steps"] == [0, 1]
            writer.stdin.write("go\n")
            writer.stdin.flush()
            assert writer.stdout.readline().strip() == "done"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                index = _get_json(server, "/index")
                if "second" in index["runs"] and len(index["runs"]["first"]["layer/out"]["steps"]) == 5:
                    break
                time.sleep(0.5)
            assert index["runs"]["first"]["layer/out"]["steps"] == [0, 1, 2, 3, 4]
            assert index["runs"]["second"]["loss"]["steps"] == [0]
            assert len([k for k in _keys(s3_env, "serving/first/") if "tfevents" in k]) == 1  # grown in place
            query = urllib.parse.urlencode({"run": "first", "tag": "layer/out", "step": 4})
            assert _get_json(server, "/value?" + query)["data"] == [[0, 4, 8], [12, 16, 20]]
    finally:
        writer.kill()
        writer.wait()


def test_missing_bucket_gives_clear_errors_and_never_a_5xx(s3_env):
    logdir = "s3://no-such-bucket/logs"
    out = run_without_tensorflow(
        """
        import sys
        import tb_tensorcap as tensorcap

        out = {"errors": tensorcap.load(sys.argv[1]).listing_errors()}
    """,
        logdir,
    )
    assert list(out["errors"]) == [logdir]
    assert "the bucket does not exist" in out["errors"][logdir] and "NoSuchBucket" in out["errors"][logdir]

    cli = subprocess.run(
        [sys.executable, "-c", CLI_WITHOUT_TENSORFLOW, "ls", logdir], capture_output=True, text=True, timeout=120
    )
    assert cli.returncode != 0 and "the bucket does not exist" in cli.stderr

    with TensorBoardProcess(logdir, block_tensorflow=True, load_fast=False) as server:
        index = _get_json(server, "/index")
        assert index["runs"] == {} and "the bucket does not exist" in index["errors"][0]
        for route in ("/stats?run=a&tag=b", "/value?run=a&tag=b&step=0", "/alerts"):
            status, _, body = server.get("/data/plugin/tensorcap" + route)
            assert status < 500, (route, status, body)


def test_refused_credentials_give_a_clear_error(s3_env):
    run_without_tensorflow(WRITE_STEPS, "s3://%s/private/run" % BUCKET, 0, 1)
    # From here on the server checks signatures: the key "testing" is unknown to it.
    _post(s3_env + "/moto-api/reset-auth", b"0")
    try:
        out = run_without_tensorflow(
            """
            import sys
            import tb_tensorcap as tensorcap

            out = {"errors": tensorcap.load(sys.argv[1]).listing_errors()}
        """,
            "s3://%s/private" % BUCKET,
        )
        with TensorBoardProcess("s3://%s/private" % BUCKET, block_tensorflow=True, load_fast=False) as server:
            index = _get_json(server, "/index")
    finally:
        _post(s3_env + "/moto-api/reset-auth", b"inf")
    (message,) = out["errors"].values()
    assert "access denied: check the credentials" in message and "InvalidAccessKeyId" in message
    assert index["runs"] == {} and "access denied" in index["errors"][0]


def _post(url, body):
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200


def test_with_tensorflow_installed_the_error_names_what_s3_needs(s3_env):
    """TensorBoard reads through TensorFlow when it is installed, and TensorFlow has no s3:// of its own."""
    reader = tensorcap.load("s3://%s/direct" % BUCKET)
    (message,) = reader.listing_errors().values()
    assert "TensorFlow is installed" in message and "tensorflow-io" in message
    assert reader.runs() == []
