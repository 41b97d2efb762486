"""The tab says why a logdir could not be listed, rather than showing it as empty."""

from servers import TensorBoardProcess, free_port

ENTRY = "/data/plugin_entry.html?name=tensorcap"


def test_an_unreadable_logdir_is_reported_in_the_tab(browser, monkeypatch):
    # A TensorFlow-free TensorBoard reads s3:// with boto3; nothing listens at this endpoint.
    endpoint = "http://127.0.0.1:%d" % free_port()
    for name, value in {
        "S3_ENDPOINT": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    with TensorBoardProcess("s3://captures/logs", block_tensorflow=True, load_fast=False) as server:
        status, index = server.get_json("/data/plugin/tensorcap/index")
        assert status == 200 and index["runs"] == {}
        assert "cannot reach the storage endpoint (S3_ENDPOINT=%s)" % endpoint in index["errors"][0]
        context = browser.new_context(viewport={"width": 1200, "height": 800})
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(server.base + ENTRY)
        alert = page.locator(".message.error[role=alert]")
        alert.wait_for(timeout=30000)
        assert "cannot read s3://captures/logs: cannot reach the storage endpoint" in alert.text_content()
        context.close()
        assert not errors, errors
