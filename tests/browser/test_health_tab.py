"""The health overview panel in headless Chromium, against a real `tensorboard`.

The run: 10 steps of a small block under a flight recorder (keep_steps=2), a
Log going NaN at step 7, so steps 5-7 were written in full and the rest kept
only statistics. Besides Mul, Sub and Log the block captures their inputs
from outside it (x and two Python numbers, for the lineage), in capture
order: input/x, input/Mul.1, Mul, input/Sub.1, Sub, Log. The panel must
draw a 6 x 10 grid with the NaN cell in
magenta, name what a cell covers on hover, and open the NaN capture on a
click; a statistics-only step's card must say that only statistics were kept.
"""

import pytest
from playwright.sync_api import expect  # noqa: E402
from servers import TensorBoardProcess
from support import write_flight_run
from test_tab import ENTRY, NAN, wait_index_complete

STEPS, BAD_STEP = 10, 7
ROWS, MUL_ROW, LOG_ROW = 6, 2, 5


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("health_tab")
    write_flight_run(logdir / "train", STEPS, BAD_STEP)
    with TensorBoardProcess(logdir) as process:
        wait_index_complete(process)
        yield process


def pixel(page, x, y):
    return tuple(
        page.evaluate(
            """([x, y]) => Array.from(
        document.querySelector('.health-grid').getContext('2d').getImageData(x, y, 1, 1).data.slice(0, 3))""",
            [x, y],
        )
    )


def test_overview_marks_the_nan_and_opens_it(page, server):
    page.goto(server.base + ENTRY + "#p=health&run=train")
    grid = page.locator(".health-grid")
    expect(grid).to_be_visible()
    expect(page.locator(".health-body .summary")).to_contain_text("78 captures, 6 tags in 6 rows × 10 columns")
    width, height = page.evaluate(
        "() => [document.querySelector('.health-grid').width, document.querySelector('.health-grid').height]"
    )
    cell_w, cell_h = width // STEPS, height // ROWS
    assert pixel(page, BAD_STEP * cell_w + cell_w // 2, LOG_ROW * cell_h + cell_h // 2) == NAN
    assert pixel(page, 3 * cell_w + cell_w // 2, LOG_ROW * cell_h + cell_h // 2) != NAN
    # Magnitude grows with the step (x * 10**step): the last Mul cell is brighter than the first.
    mul_y = MUL_ROW * cell_h + cell_h // 2
    first, last = pixel(page, cell_w // 2, mul_y), pixel(page, 9 * cell_w + cell_w // 2, mul_y)
    assert sum(last) > sum(first)
    box = grid.bounding_box()
    x, y = box["x"] + (BAD_STEP + 0.5) * box["width"] / STEPS, box["y"] + (LOG_ROW + 0.5) * box["height"] / ROWS
    page.mouse.move(x, y)
    expect(page.locator(".health-tip")).to_contain_text("tag step/Log · step 7")
    expect(page.locator(".health-tip")).to_contain_text("NaN")
    page.mouse.click(x, y)
    expect(page.locator(".capture-name")).to_have_text("step/Log")
    page.wait_for_function("() => document.querySelector('.step-label')?.textContent.startsWith('step 7 ')")


def test_a_statistics_only_step_says_so(page, server):
    value_requests = []
    page.on(
        "request", lambda request: "/data/plugin/tensorcap/value" in request.url and value_requests.append(request.url)
    )
    page.goto(server.base + ENTRY + "#run=train&tag=step/Log&step=2")
    status = page.locator(".capture-panel .view-status")
    expect(status).to_contain_text("Step 2 kept only statistics")
    expect(status).to_contain_text("Steps with values nearby: 5, 6, 7.")
    assert not [url for url in value_requests if "step=2" in url]  # no request bound to answer 404
    page.evaluate("() => { location.hash = '#run=train&tag=step/Log&step=6'; }")
    expect(status).not_to_contain_text("kept only statistics")
    page.wait_for_function("() => !document.querySelector('.view-host').hidden")
    assert [url for url in value_requests if "step=6" in url]


def test_a_pinned_card_at_a_statistics_only_step_says_so(page, server):
    value_requests = []
    page.on("request", lambda request: "/value" in request.url and value_requests.append(request.url))
    page.goto(server.base + ENTRY + '#p=pinned&pins=[{"tag":"step/Log","run":"train"}]&pstep=2')
    card = page.locator('.pinned-card[data-run="train"][data-tag="step/Log"]')
    expect(card.locator(".pinned-note")).to_contain_text("Step 2 kept only statistics")
    expect(card.locator(".summary-line")).to_contain_text("n=6")
    assert not value_requests
