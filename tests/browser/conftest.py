"""The one headless Chromium every browser test shares.

Playwright's sync API allows one running instance per thread, so the
session's browser is a single fixture here rather than one per test module.
"""

import pytest
from page_problems import Problems
from playwright import sync_api
from servers import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="session")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    """A fresh 1400x1000 tab of the test module's `server`; after the test, no console error and no dialog.

    A test that expects an HTTP error (a failing request, a diff of shapes that cannot be diffed) sets `page.problems.allow_http_errors`.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base)
    tab = context.new_page()
    tab.problems = Problems(tab)
    yield tab
    problems = tab.problems
    context.close()
    assert not problems.dialogs, problems.dialogs
    assert not problems.errors, problems.errors
