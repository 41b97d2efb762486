"""The TensorCap tab in headless Chromium against a real `tensorboard` process.

The logdir (tab_logdir.py) holds known values, so the tests check what is
drawn: canvas pixels at known cells, tooltips, tables and statistics. Every
test fails on a console error, an uncaught exception or a dialog (the XSS
tag must stay inert). Most tests open the iframe's page directly
(`data/plugin_entry.html?name=tensorcap#...`, exactly what TensorBoard
frames); one goes through TensorBoard's own page.
"""

import statistics
import time
from pathlib import Path

import numpy as np
import pytest
import tab_logdir
from playwright.sync_api import expect  # noqa: E402
from servers import TensorBoardProcess

SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
ENTRY = "/data/plugin_entry.html?name=tensorcap"
HIDE_MANY = "hide=many"
NAN, WHITE, BLACK = (255, 0, 255), (255, 255, 255), (0, 0, 0)
VIRIDIS_LOW, VIRIDIS_HIGH = (68, 1, 84), (253, 231, 37)
DIVERGING_LOW, DIVERGING_CENTRE = (59, 76, 192), (221, 221, 221)


def wait_index_complete(server, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, index = server.get_json("/data/plugin/tensorcap/index")
        if status == 200 and index.get("complete", True):
            return index
        time.sleep(0.25)
    raise AssertionError("the TensorCap index did not complete")


@pytest.fixture(scope="session")
def tab_logdir_path(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("tab") / "logs"
    tab_logdir.write(logdir)
    return logdir


@pytest.fixture(scope="module")
def server(tab_logdir_path):
    with TensorBoardProcess(tab_logdir_path) as process:
        wait_index_complete(process)
        yield process


def open_tab(page, server, fragment):
    """Loads the tab afresh at `fragment` (a bare hash change would not reload it)."""
    page.goto("about:blank")
    page.goto(server.base + ENTRY + "#" + fragment)
    page.wait_for_selector(".app")
    return page


def wait_view(page):
    """Waits until the capture panel shows a view whose data has arrived."""
    page.wait_for_function("""() => {
        const host = document.querySelector(".view-host");
        return host && host.firstChild && !host.classList.contains("loading") && !host.closest(".capture-body").hidden;
    }""")


def wait_step(page, step):
    page.wait_for_function(
        "s => document.querySelector('.step-label')?.textContent.startsWith('step ' + s + ' ')", arg=step
    )
    wait_view(page)


def cell(page, canvas, row, col):
    """The pixel colour drawn for cell (row, col) (near its top-left corner,
    clear of a NaN/Inf glyph) and the page coordinates of that point."""
    return page.evaluate(
        """([selector, row, col]) => {
        const canvas = document.querySelector(selector);
        const d = canvas.dataset, scale = Number(d.scale), ratio = devicePixelRatio;
        const x = Number(d.ox) + (col + 0.1) * scale, y = Number(d.oy) + (row + 0.1) * scale;
        const p = canvas.getContext("2d").getImageData(Math.floor(x * ratio), Math.floor(y * ratio), 1, 1).data;
        const box = canvas.getBoundingClientRect();
        return {rgb: [p[0], p[1], p[2]], x: box.left + x, y: box.top + y};
    }""",
        [canvas, row, col],
    )


def glyph_pixels(page, canvas, row, col, rgb):
    """How many pixels inside cell (row, col) are exactly `rgb` (a glyph's strokes)."""
    return page.evaluate(
        """([selector, row, col, rgb]) => {
        const canvas = document.querySelector(selector);
        const d = canvas.dataset, scale = Number(d.scale), ratio = devicePixelRatio;
        const x = Math.ceil((Number(d.ox) + col * scale) * ratio), y = Math.ceil((Number(d.oy) + row * scale) * ratio);
        const size = Math.floor(scale * ratio) - 1;
        const p = canvas.getContext("2d").getImageData(x, y, size, size).data;
        let n = 0;
        for (let i = 0; i < p.length; i += 4) n += p[i] === rgb[0] && p[i + 1] === rgb[1] && p[i + 2] === rgb[2];
        return n;
    }""",
        [canvas, row, col, list(rgb)],
    )


def hover_text(page, canvas, row, col):
    page.evaluate("s => document.querySelector(s).scrollIntoView({block: 'nearest', inline: 'nearest'})", canvas)
    at = cell(page, canvas, row, col)
    page.mouse.move(at["x"], at["y"])
    tooltip = page.locator(canvas + " ~ .tooltip")
    tooltip.wait_for(state="visible")
    return tooltip.text_content()


def close(rgb, expected, tolerance=2):
    return all(abs(a - b) <= tolerance for a, b in zip(rgb, expected))


HEATMAP = ".view-host .viewport-canvas"


def tensorboard_frame(page):
    """The TensorCap iframe inside TensorBoard's page, once it has rendered."""
    for _ in range(300):
        frame = next((f for f in page.frames if "plugin_entry.html" in f.url), None)
        if frame is not None and frame.query_selector(".app"):
            return frame
        page.wait_for_timeout(100)
    raise AssertionError([f.url for f in page.frames])


def test_tab_inside_tensorboard_iframe_and_xss_tag_is_inert(page, server):
    page.goto(server.base + "/#tensorcap")
    frame = tensorboard_frame(page)
    frame.wait_for_selector(".run-list .run")
    assert frame.locator(".run-list .run").all_text_contents() == ["baseline", "many", "variant"]
    frame.locator(".tag-summary").filter(has_text="10,013 tags").wait_for()

    frame.locator(".tag-filter").fill("onerror")
    row = frame.locator(".row.tag", has_text=tab_logdir.XSS_TAG)
    row.wait_for()
    assert row.locator(".name").text_content() == tab_logdir.XSS_TAG
    row.click()
    frame.wait_for_selector(".capture-name")
    assert frame.locator(".capture-name").text_content() == tab_logdir.XSS_TAG
    frame.wait_for_selector(".scalar-value")
    assert frame.locator(".scalar-value").text_content() == "7"
    expect(frame.locator("img")).to_have_count(0)
    assert "tag=%3Cimg" in frame.url, frame.url
    assert "#tensorcap&p.tensorcap.run=baseline&p.tensorcap.tag=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E" in page.url


def test_view_lives_in_tensorboards_url_through_reload_and_history(page, server):
    page.goto(server.base + "/#tensorcap&p.tensorcap.hide=many")
    frame = tensorboard_frame(page)
    frame.locator(".tag-filter").fill("attn")
    frame.locator(".row.tag", has_text="attn").click()
    wait_view(frame)
    frame.locator(".step-slider").fill("2")
    wait_step(frame, 2)
    assert page.url.endswith(
        "#tensorcap&p.tensorcap.run=baseline&p.tensorcap.tag=block1%2Fattn&p.tensorcap.step=2&p.tensorcap.hide=many"
    ), page.url
    frame.locator(".view-tabs .tab", has_text="Table").click()
    wait_view(frame)
    assert "p.tensorcap.view=table" in page.url

    page.reload()  # TensorBoard's reload: the same capture, step and view
    frame = tensorboard_frame(page)
    wait_step(frame, 2)
    assert frame.locator(".capture-name").text_content() == "block1/attn"
    assert frame.locator(".view-tabs .tab.selected").text_content() == "Table"
    assert frame.locator(".run-list input").nth(1).is_checked() is False

    page.go_back()  # the view change was a history entry; the step change was not
    frame.locator(".view-tabs .tab.selected", has_text="Heatmap").wait_for()
    wait_step(frame, 2)
    assert "view=" not in page.url
    page.go_forward()
    frame.locator(".view-tabs .tab.selected", has_text="Table").wait_for()

    frame.locator(".view-bar button", has_text="Copy link").click()
    frame.locator(".view-bar .status").filter(has_text="Link copied.").wait_for()
    link = page.evaluate("navigator.clipboard.readText()")
    assert link == page.url and link.startswith(server.base + "/#tensorcap&")
    page.goto("about:blank")
    page.goto(link)  # a copied address opens TensorBoard on the same view
    frame = tensorboard_frame(page)
    wait_step(frame, 2)
    assert frame.locator(".view-tabs .tab.selected").text_content() == "Table"


def test_dark_mode_follows_tensorboards_own_setting(page, server):
    page.goto(server.base + "/#tensorcap&p.tensorcap.run=baseline&p.tensorcap.tag=loss&p.tensorcap.hide=many")
    frame = tensorboard_frame(page)
    background = "getComputedStyle(document.body).backgroundColor"
    assert frame.evaluate(background) == "rgb(255, 255, 255)"
    for mode, colour in (("Dark", "rgb(48, 48, 48)"), ("Light", "rgb(255, 255, 255)")):
        page.locator("app-header-dark-mode-toggle-component button").click()
        page.locator("[role=menuitem]", has_text=mode).click()
        frame.wait_for_function("c => getComputedStyle(document.body).backgroundColor === c", arg=colour)
        assert page.evaluate("document.body.classList.contains('dark-mode')") == (mode == "Dark")


def test_tensorboards_reload_button_refreshes_the_tab(page, tmp_path):
    import tensorflow as tf

    import tb_tensorcap as tensorcap

    logdir = tmp_path / "live"
    writer = tf.summary.create_file_writer(str(logdir / "train"))
    with writer.as_default():
        for step in range(2):
            tensorcap.capture(np.full((2, 2), step, np.float32), "w", step=step)
    writer.flush()
    with TensorBoardProcess(logdir, extra_args=("--reload_interval", "1")) as live:
        wait_index_complete(live)
        page.goto(live.base + "/#tensorcap&p.tensorcap.run=train&p.tensorcap.tag=w&p.tensorcap.step=0")
        frame = tensorboard_frame(page)
        wait_step(frame, 0)
        with writer.as_default():
            tensorcap.capture(np.full((2, 2), 2, np.float32), "w", step=2)
        writer.flush()
        deadline = time.monotonic() + 30
        while len(live.get_json("/data/plugin/tensorcap/index")[1]["runs"]["train"]["w"]["steps"]) < 3:
            assert time.monotonic() < deadline, "the server never saw the new step"
            page.wait_for_timeout(250)
        assert frame.locator(".step-label").text_content() == "step 0 (1 of 2)"
        page.locator("button.reload-button").click()
        frame.locator(".step-label").filter(has_text="step 0 (1 of 3)").wait_for(timeout=10000)
        frame.locator(".card .stats-chart path.series").first.wait_for()
    writer.close()


def test_heatmap_pixels_hover_and_zoom(page, server):
    open_tab(page, server, "run=baseline&tag=block1/attn&step=2&" + HIDE_MANY)
    page.wait_for_selector(HEATMAP + "[data-draw-ms]")
    wait_view(page)
    assert cell(page, HEATMAP, *tab_logdir.NAN_CELL)["rgb"] == list(NAN)
    assert cell(page, HEATMAP, *tab_logdir.POSINF_CELL)["rgb"] == list(WHITE)
    assert cell(page, HEATMAP, *tab_logdir.NEGINF_CELL)["rgb"] == list(BLACK)
    assert cell(page, HEATMAP, 0, 0)["rgb"] == list(VIRIDIS_LOW)
    assert cell(page, HEATMAP, 7, 15)["rgb"] == list(VIRIDIS_HIGH)
    middle = cell(page, HEATMAP, 4, 0)["rgb"]  # 64/127: mid-map green-teal
    assert middle[1] > middle[0] and middle not in (list(VIRIDIS_LOW), list(VIRIDIS_HIGH))

    assert hover_text(page, HEATMAP, *tab_logdir.NAN_CELL) == "x[1, 2] = NaN"
    assert hover_text(page, HEATMAP, *tab_logdir.POSINF_CELL) == "x[3, 4] = +Inf"
    assert hover_text(page, HEATMAP, 7, 15) == "x[7, 15] = 1"
    assert hover_text(page, HEATMAP, 0, 1) == "x[0, 1] = 0.007874016"
    legend = page.locator(".view-host .colorbar-facts").text_content()
    assert "NaN 1" in legend and "+Inf 1" in legend and "-Inf 1" in legend
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "heatmap.png"))

    fitted = float(page.locator(HEATMAP).get_attribute("data-scale"))
    at = cell(page, HEATMAP, 4, 8)
    page.mouse.move(at["x"], at["y"])
    page.keyboard.down("Control")  # Ctrl+wheel (a trackpad pinch) zooms; a plain wheel scrolls
    page.mouse.wheel(0, -400)
    page.keyboard.up("Control")
    page.wait_for_function(
        "s => Number(document.querySelector('.view-host .viewport-canvas').dataset.scale) > s", arg=fitted
    )
    zoomed = float(page.locator(HEATMAP).get_attribute("data-scale"))
    assert zoomed > fitted * 1.5
    assert cell(page, HEATMAP, 4, 8)["x"] == pytest.approx(at["x"], abs=1), "zoom keeps the cell under the pointer"
    page.mouse.down()
    page.mouse.move(at["x"] + 40, at["y"] + 10)
    page.mouse.up()
    assert cell(page, HEATMAP, 4, 8)["x"] == pytest.approx(at["x"] + 40, abs=1), "dragging pans"
    page.locator(HEATMAP).dblclick()
    assert float(page.locator(HEATMAP).get_attribute("data-scale")) == pytest.approx(fitted)


def test_plain_wheel_scrolls_the_page_and_the_canvas_fits_its_cells(page, server):
    page.set_viewport_size({"width": 1400, "height": 600})
    open_tab(page, server, "run=baseline&tag=block1/attn&step=2&" + HIDE_MANY)
    wait_view(page)
    canvas = page.locator(HEATMAP)
    scale = float(canvas.get_attribute("data-scale"))
    box = canvas.bounding_box()
    assert box["width"] == pytest.approx(16 * scale, abs=1) and box["height"] == pytest.approx(8 * scale, abs=1)
    assert float(canvas.get_attribute("data-ox")) == pytest.approx(0, abs=0.5), "no blank margin beside the cells"

    at = cell(page, HEATMAP, 0, 8)  # the top row: on screen at this height
    page.mouse.move(at["x"], at["y"])
    page.mouse.wheel(0, 300)
    page.wait_for_function("document.querySelector('main').scrollTop > 0")
    assert float(canvas.get_attribute("data-scale")) == scale, "a plain wheel must not zoom"

    page.locator(".zoom-controls button", has_text="+").click()
    assert float(canvas.get_attribute("data-scale")) == pytest.approx(scale * 1.5)
    page.locator(".zoom-controls button", has_text="−").click()
    page.locator(".zoom-controls button", has_text="−").click()
    assert float(canvas.get_attribute("data-scale")) == pytest.approx(scale / 1.5)
    page.locator(".zoom-controls button", has_text="fit").click()
    assert float(canvas.get_attribute("data-scale")) == pytest.approx(scale)


def test_keyboard_walks_the_tag_tree_and_the_heatmap(page, server):
    open_tab(page, server, HIDE_MANY)
    page.locator(".row.group", has_text="block1").wait_for()
    page.locator(".tag-filter").focus()
    page.keyboard.press("Tab")  # the tree is one tab stop: its first row
    focused = "document.activeElement.closest('.row')?.querySelector('.name')?.textContent"
    assert page.evaluate(focused) == "big"
    page.keyboard.press("ArrowLeft")  # an open group: closes
    expect(page.locator(".row.group", has_text="big")).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("ArrowDown")
    assert page.evaluate(focused) == "block1"
    page.keyboard.press("ArrowRight")  # an open group: into its first child
    assert page.evaluate(focused) == "attn"
    page.keyboard.press("Enter")
    page.locator(".capture-name", has_text="block1/attn").wait_for()
    wait_step(page, 5)
    assert page.evaluate(focused) == "attn", "the focus stays in the tree"
    page.keyboard.press("ArrowLeft")  # a tag: to its group
    assert page.evaluate(focused) == "block1"
    page.keyboard.press("ArrowLeft")  # an open group: closes
    expect(page.locator(".row.group", has_text="block1")).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("ArrowRight")
    expect(page.locator(".row.group", has_text="block1")).to_have_attribute("aria-expanded", "true")

    page.locator(HEATMAP).focus()
    for key in ("ArrowRight", "ArrowRight", "ArrowRight", "ArrowDown"):  # the first press shows [0, 0]
        page.keyboard.press(key)
    tooltip = page.locator(HEATMAP + " ~ .tooltip")
    expect(tooltip).to_have_text("x[1, 2] = %s" % np.float32(18 / 127))
    assert page.locator(".step-label").text_content().startswith("step 5 "), "arrows on the heatmap move the cell"
    scale = float(page.locator(HEATMAP).get_attribute("data-scale"))
    page.keyboard.press("+")
    assert float(page.locator(HEATMAP).get_attribute("data-scale")) == pytest.approx(scale * 1.5)
    page.keyboard.press("0")
    assert float(page.locator(HEATMAP).get_attribute("data-scale")) == pytest.approx(scale)


def test_loading_blanks_the_old_picture_and_failures_never_hang(page, server):
    page.problems.allow_http_errors = True
    open_tab(page, server, "run=baseline&tag=block1/attn&step=2&" + HIDE_MANY)
    wait_view(page)
    held = []
    page.route("**/value?*step=3*", lambda route: held.append(route))
    page.locator(".capture-name").click()
    page.keyboard.press("ArrowRight")
    page.locator(".view-host.blank").wait_for(state="attached")  # the step-2 picture is gone
    expect(page.locator(".loading-note")).to_be_visible()
    expect(page.locator(".loading-note")).to_have_text("Loading block1/attn at step 3…")
    assert len(held) == 1
    held[0].continue_()
    wait_step(page, 3)
    expect(page.locator(".loading-note")).to_be_hidden()
    assert cell(page, HEATMAP, *tab_logdir.NAN_CELL)["rgb"] != list(NAN)

    page.route(
        "**/stats?*",
        lambda route: route.fulfill(
            status=400, content_type="application/json", body='{"error": "statistics exploded"}'
        ),
    )
    open_tab(page, server, "run=baseline&tag=diverge/h&" + HIDE_MANY)
    expect(page.locator(".card .stats")).to_have_text("statistics unavailable: statistics exploded")
    page.route(
        "**/data/plugin/tensorcap/index",
        lambda route: route.fulfill(status=400, content_type="application/json", body='{"error": "index exploded"}'),
    )
    open_tab(page, server, "run=baseline&tag=diverge/h&" + HIDE_MANY)
    page.locator(".app-status .message.error").filter(has_text="Cannot list captures: index exploded").wait_for()
    expect(page.locator(".hint")).to_be_hidden()


def test_layout_at_900_pixels(page, server):
    page.set_viewport_size({"width": 900, "height": 900})
    open_tab(page, server, "run=baseline&tag=diverge/h&step=4&diff=1&drun=variant&" + HIDE_MANY)
    wait_view(page)
    page.locator(".diff-stats").filter(has_text="1 of 16").wait_for()
    overflow = page.evaluate("""() => [...document.querySelectorAll('main, .card, .diff-view, .diff-stats')]
        .filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => e.className || e.tagName)""")
    assert overflow == []
    main_right = page.evaluate("document.querySelector('main').getBoundingClientRect().right")
    for box in page.locator(".diff-stats .pair").all():
        assert box.bounding_box()["x"] + box.bounding_box()["width"] <= main_right + 1
    sizes = page.evaluate(
        "[...document.querySelectorAll('.stats-chart svg text')].map((t) => t.getBoundingClientRect().height)"
    )
    assert sizes and min(sizes) >= 11, sizes  # 11 px text, not scaled down with the chart
    text = hover_text(page, HEATMAP, 3, 3)  # the right-most cell: its tooltip flips left
    assert text == "(A − B)[3, 3] = 0"
    tooltip = page.locator(HEATMAP + " ~ .tooltip").bounding_box()
    assert tooltip["x"] >= 0 and tooltip["x"] + tooltip["width"] <= 900
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "diff-900px.png"))


# The worst text contrast on the page: every element with its own visible text
# against the first opaque background behind it (WCAG's ratio).
LOWEST_CONTRAST = """() => {
    const rgba = (text) => text.match(/[\\d.]+/g).map(Number);
    const channel = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    const background = (node) => {
        for (let e = node; e; e = e.parentElement) {
            const c = rgba(getComputedStyle(e).backgroundColor);
            if (c.length < 4 || c[3] > 0.9) return c;
        }
        return [255, 255, 255];
    };
    let worst = {ratio: 99, text: ""};
    for (const e of document.querySelectorAll("body *")) {
        const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
        const style = getComputedStyle(e);
        if (!own || !e.getClientRects().length || style.visibility === "hidden" || e.closest("svg, .tooltip, :disabled")) continue;
        const [a, b] = [luminance(rgba(style.color)), luminance(background(e))];
        const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        if (ratio < worst.ratio) worst = {ratio, text: e.textContent.trim().slice(0, 40), className: e.className};
    }
    return worst;
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_meets_wcag_aa(page, server, scheme):
    page.emulate_media(color_scheme=scheme)
    for fragment in (
        "run=baseline&tag=block1/attn&step=2&",
        "p=alerts&",
        "p=divergence&",
        "run=baseline&tag=diverge/h&step=4&diff=1&drun=variant&",
        'p=pinned&pins=[{"tag":"diverge/h"},{"tag":"loss"}]&pstep=4&',
    ):
        open_tab(page, server, fragment + HIDE_MANY)
        if fragment.startswith("p=pinned"):  # the diverge/h heatmaps of both runs and the loss chart
            page.wait_for_function(
                "document.querySelectorAll('.pinned-card .colorbar, .pinned-card .line-chart').length === 3"
            )
        page.wait_for_function(
            "!document.querySelector('.loading-note:not([hidden]), .message.loading, .pinned-note .loading')"
        )
        page.wait_for_timeout(300)
        worst = page.evaluate(LOWEST_CONTRAST)
        assert worst["ratio"] >= 4.5, (fragment, worst)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_nan_and_inf_cells_carry_glyphs_in_both_themes_and_in_diffs(page, server, scheme):
    page.emulate_media(color_scheme=scheme)
    for fragment in ("step=2", "step=2&diff=1&dstep=1"):
        open_tab(page, server, "run=baseline&tag=block1/attn&%s&%s" % (fragment, HIDE_MANY))
        wait_view(page)
        assert float(page.locator(HEATMAP).get_attribute("data-scale")) >= 7
        assert cell(page, HEATMAP, *tab_logdir.NAN_CELL)["rgb"] == list(NAN)
        assert glyph_pixels(page, HEATMAP, *tab_logdir.NAN_CELL, WHITE) > 20  # X on magenta
        assert glyph_pixels(page, HEATMAP, *tab_logdir.POSINF_CELL, BLACK) > 20  # I on white
        assert glyph_pixels(page, HEATMAP, *tab_logdir.NEGINF_CELL, WHITE) > 20  # −I on black
        assert glyph_pixels(page, HEATMAP, 0, 0, WHITE) == glyph_pixels(page, HEATMAP, 0, 0, BLACK) == 0
        facts = page.locator(".view-host .colorbar-facts").text_content()
        assert "XNaN 1" in facts and "I+Inf 1" in facts and "−I-Inf 1" in facts, facts
    if scheme == "dark":
        page.screenshot(path=str(SCREENSHOTS / "diff-glyphs-dark.png"))


def test_colour_range_over_all_steps_is_the_same_at_every_step(page, server):
    def show(step, extra=""):
        open_tab(page, server, "run=baseline&tag=block2/act4d&step=%d&%s%s" % (step, extra, HIDE_MANY))
        wait_view(page)
        return page.locator(".view-host .colorbar-ticks .tick").all_text_contents()

    at_0, at_2 = show(0), show(2)  # values 0..179 at step 0, 2000..2179 at step 2
    assert at_0 == at_2 == ["0", "500", "1000", "1500", "2000"]
    assert "range over all 3 steps" in page.locator(".view-host .colorbar").text_content()
    high = cell(page, HEATMAP, 0, 0)["rgb"]  # 2000 of [0, 2179]: near viridis' yellow end
    assert high[0] > 150 and high[1] > 200
    show(0)
    assert cell(page, HEATMAP, 0, 0)["rgb"] == list(VIRIDIS_LOW)

    page.locator('select[aria-label="colour range"]').select_option("step")
    page.wait_for_function("location.hash.includes('crange=step')")
    wait_view(page)
    show(2, "crange=step&")
    assert cell(page, HEATMAP, 0, 0)["rgb"] == list(VIRIDIS_LOW)  # each step re-fitted
    assert page.locator(".view-host .colorbar-ticks .tick").all_text_contents()[0] == "2000"

    show(0, "crange=manual&clo=0&chi=50&")
    assert cell(page, HEATMAP, 4, 5)["rgb"] == list(VIRIDIS_HIGH)  # 58 is beyond the manual 50
    assert "▲ 4 above 50" in page.locator(".view-host .colorbar-facts").text_content()
    assert show(0, "cscale=log&") == ["0.01", "0.1", "1", "10", "100", "1000"]
    show(0, "crange=clip&")
    assert "percentile" in page.locator(".view-host .colorbar-facts").text_content()

    open_tab(page, server, "run=baseline&tag=signed&" + HIDE_MANY)  # signed: diverging, symmetric about 0
    wait_view(page)
    assert cell(page, HEATMAP, 1, 0)["rgb"] == list(DIVERGING_CENTRE)
    assert cell(page, HEATMAP, 1, 1)["rgb"] == [180, 4, 38]
    assert page.locator(".view-host .colorbar-ticks .tick").all_text_contents() == ["-4", "-2", "0", "2", "4"]
    assert "symmetric about 0" in page.locator(".view-host .colorbar-facts").text_content()
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "signed-diverging.png"))


def test_divergence_has_tolerances_of_its_own(page, server):
    open_tab(page, server, "run=baseline&tag=diverge/h&step=4&diff=1&drun=variant&atol=1&" + HIDE_MANY)
    wait_view(page)
    page.locator(".diff-stats").filter(has_text="allcloseyes").wait_for()  # atol 1 covers the 0.75
    page.locator(".diff-view button", has_text="Close diff").click()
    page.locator(".panel-tabs .tab", has_text="Divergence").click()
    headline = page.locator(".first-divergence")
    headline.wait_for()  # its own default tolerances: the runs still part
    assert "diverge/h at step %d" % tab_logdir.DIVERGE_STEP in headline.text_content()
    assert page.locator('input[aria-label="divergence atol"]').input_value() == "1e-8"
    page.locator('input[aria-label="divergence atol"]').fill("1")
    page.locator('input[aria-label="divergence atol"]').press("Enter")
    page.locator(".divergence-body").filter(has_text="agree").wait_for()
    assert "vatol=1" in page.url


def test_step_slider_arrow_keys_and_play(page, server):
    open_tab(page, server, "run=baseline&tag=block1/attn&" + HIDE_MANY)
    wait_step(page, 5)
    assert page.locator(".step-label").text_content() == "step 5 (6 of 6)"
    page.locator(".step-slider").fill("2")
    wait_step(page, 2)
    assert "step=2" in page.url
    assert cell(page, HEATMAP, *tab_logdir.NAN_CELL)["rgb"] == list(NAN)
    expect(page.locator(".card .stats dd.bad")).to_have_count(3)
    page.locator(".capture-name").click()
    page.keyboard.press("ArrowRight")
    wait_step(page, 3)
    assert cell(page, HEATMAP, *tab_logdir.NAN_CELL)["rgb"] != list(NAN)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    wait_step(page, 1)
    page.locator(".step-slider").focus()
    page.keyboard.press("ArrowLeft")
    wait_step(page, 0)
    page.keyboard.press("ArrowLeft")  # the first step stays
    assert page.locator(".step-label").text_content().startswith("step 0 ")

    page.locator("button.play").click()
    wait_step(page, 1)
    page.locator("button.play").click()
    assert page.locator("button.play").text_content() == "▷ play"

    page.locator(".stats-chart .overlay").click(position={"x": 5, "y": 5})  # the chart picks steps too
    wait_step(page, 0)


def test_download_link_gives_the_exact_values_of_the_shown_step(page, server):
    open_tab(page, server, "run=baseline&tag=block1/attn&step=%d&" % tab_logdir.NAN_STEP + HIDE_MANY)
    wait_step(page, tab_logdir.NAN_STEP)
    link = page.locator(".card a.download")
    expect(link).to_have_attribute("download", "")
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == "baseline_block1_attn_step%d.npy" % tab_logdir.NAN_STEP
    values = np.load(download.path(), allow_pickle=False)
    np.testing.assert_array_equal(values, tab_logdir.attn(tab_logdir.NAN_STEP))  # NaN and ±Inf included


def test_slicing_a_4d_tensor(page, server):
    def value(step, index):
        return float(tab_logdir.act(step)[index])

    open_tab(page, server, "run=baseline&tag=block2/act4d&step=0&" + HIDE_MANY)
    wait_view(page)
    expression = page.locator(".slice-input")
    assert expression.input_value() == "0, :, :, 0"
    assert page.locator(HEATMAP).get_attribute("data-rows") == "5"
    assert page.locator(HEATMAP).get_attribute("data-cols") == "6"
    assert hover_text(page, HEATMAP, 2, 3) == "x[0, 2, 3, 0] = %g" % value(0, (0, 2, 3, 0))

    page.locator('input[aria-label="index on axis 0"]').fill("2")
    wait_view(page)
    assert expression.input_value() == "2, :, :, 0"
    assert "slice=2%2C+%3A%2C+%3A%2C+0" in page.url
    assert hover_text(page, HEATMAP, 2, 3) == "x[2, 2, 3, 0] = %g" % value(0, (2, 2, 3, 0))
    page.locator('input[aria-label="index on axis 3"]').fill("1")
    wait_view(page)
    assert hover_text(page, HEATMAP, 0, 0) == "x[2, 0, 0, 1] = %g" % value(0, (2, 0, 0, 1))

    expression.fill("x[1, 2, :, :]")
    expression.press("Enter")
    page.wait_for_function("document.querySelector('.view-host .viewport-canvas').dataset.rows === '6'")
    wait_view(page)
    assert page.locator(HEATMAP).get_attribute("data-cols") == "2"
    assert hover_text(page, HEATMAP, 4, 1) == "x[1, 2, 4, 1] = %g" % value(0, (1, 2, 4, 1))
    assert page.locator('input[aria-label="index on axis 1"]').input_value() == "2"
    page.locator(".axis-choice select").first.select_option("1")  # rows: axis 1, cols stay axis 3
    wait_view(page)
    assert expression.input_value() == "1, :, 0, :"
    page.locator(".axis-choice select").nth(1).select_option("2")  # cols: axis 2
    wait_view(page)
    assert expression.input_value() == "1, :, :, 0"
    page.locator(".capture-name").click()
    page.keyboard.press("ArrowRight")
    wait_step(page, 1)
    assert hover_text(page, HEATMAP, 3, 4) == "x[1, 3, 4, 0] = %g" % value(1, (1, 3, 4, 0))
    SCREENSHOTS.mkdir(exist_ok=True)
    page.mouse.move(0, 0)
    page.screenshot(path=str(SCREENSHOTS / "slice4d.png"))

    expression.fill("9, :, :, 0")
    expression.press("Enter")
    page.locator(".slice-error").filter(has_text="out of range for axis 0 of size 3").wait_for()
    expect(page.locator(".view-host")).to_be_hidden()  # no default picture under the bad text
    assert "cannot be drawn" in page.locator(".view-status").text_content()
    expression.fill("1, a")
    expression.press("Enter")
    page.locator(".slice-error").filter(has_text='entry 2 ("a")').wait_for()


def test_one_line_summaries_on_the_card_and_tag_tooltips(page, server):
    open_tab(page, server, "run=baseline&tag=block1/attn&step=2&" + HIDE_MANY)
    wait_view(page)
    expect(page.locator(".card .summary-line")).to_have_text(
        "f32[8,16] n=128 x∈[0, 1] μ=0.502 σ=0.292 NaN! +Inf! -Inf!"
    )
    page.locator(".row.tag .name", has_text="act4d").hover()
    expect(page.locator(".row.tag", has_text="act4d")).to_have_attribute(
        "title", "block2/act4d\nf32[3,5,6,2] n=180 x∈[2000, 2179] μ=2090 σ=52 (baseline, step 2)"
    )


def test_named_axes_label_the_sliders(page, server):
    open_tab(page, server, "run=baseline&tag=named/nhwc&" + HIDE_MANY)
    wait_view(page)
    assert page.locator(".slice-input").input_value() == "0, :, :, 0"  # H x W, not W x C
    assert page.locator(".axis-slider span").all_text_contents() == ["batch (2)", "channel (16)"]
    assert "rows: height · axis 1 (5)" in page.locator(".axes-caption").text_content()


def test_views_line_histogram_table_image_scalar(page, server):
    open_tab(page, server, "run=baseline&tag=block1/z&step=0&" + HIDE_MANY)
    wait_view(page)
    assert page.locator(".view-tabs .tab.selected").text_content() == "Line"
    path = page.locator(".view-host path.series[data-run=baseline]").get_attribute("d")
    assert path.count("L") == 99

    open_tab(page, server, "run=baseline&tag=block1/attn&step=2&" + HIDE_MANY)
    wait_view(page)
    page.locator(".view-tabs .tab", has_text="Histogram").click()
    wait_view(page)
    expect(page.locator(".view-host rect.bar")).to_have_count(30)
    counts = page.locator(".view-host .counts").text_content()
    assert "elements: 128" in counts and "NaN: 1" in counts and "+Inf: 1" in counts and "-Inf: 1" in counts
    page.locator(".histogram-view select").select_option("10")
    page.wait_for_function("document.querySelectorAll('.view-host rect.bar').length === 10")
    page.locator(".view-host rect.bar").last.hover()  # the last bin holds the maximum: closed
    expect(page.locator(".histogram-view .readout")).to_have_text("[0.9, 1]: 13")

    page.locator(".view-tabs .tab", has_text="Table").click()
    wait_view(page)
    assert "view=table" in page.url
    cells = page.locator(".view-host table.values tbody tr").first.locator("td").all_text_contents()
    assert cells[:3] == ["0", "0.007874016", "0.015748031"]
    assert page.locator(".view-host td.bad").all_text_contents() == ["NaN", "+Inf", "-Inf"]
    page.locator(".view-host button.copy").click()
    page.locator(".view-host .status").filter(has_text="Copied 128 values.").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    lines = copied.split("\n")
    assert len(lines) == 8 and lines[0].split("\t")[:2] == ["0", "0.007874016"]
    assert lines[1].split("\t")[2] == "NaN"

    open_tab(page, server, "run=baseline&tag=image&" + HIDE_MANY)
    wait_view(page)
    assert page.locator(".view-tabs .tab.selected").text_content() == "Image"
    image = tab_logdir.image()
    for y, x in ((0, 0), (5, 7), (15, 23)):
        assert cell(page, HEATMAP, y, x)["rgb"] == [int(v) for v in image[y, x]]
    assert hover_text(page, HEATMAP, 5, 7) == "x[5, 7, :] = (70, 75, 200)"

    open_tab(page, server, "run=baseline&tag=loss&" + HIDE_MANY)
    wait_view(page)
    assert page.locator(".scalar-value").text_content() == "%s" % np.float32(np.exp(-19 / 5))
    expect(page.locator(".view-host path.series")).to_have_count(2)  # baseline and variant overlaid
    open_tab(page, server, "run=baseline&tag=words&" + HIDE_MANY)
    wait_view(page)
    assert page.locator(".view-host table.values td").all_text_contents() == ["café", "<b>bold</b>", ""]
    expect(page.locator(".view-host b")).to_have_count(0)
    open_tab(page, server, "run=baseline&tag=half/f16&view=table&" + HIDE_MANY)
    wait_view(page)
    assert page.locator(".view-host table.values td").all_text_contents() == ["0.5", "-1.25", "65504", "5.9604645e-8"]


def test_diff_against_another_step_and_run(page, server):
    open_tab(page, server, "run=baseline&tag=diverge/h&step=4&" + HIDE_MANY)
    wait_view(page)
    page.locator("button.diff-toggle").click()
    wait_view(page)
    assert "diff=1" in page.url and "dstep=3" in page.url
    stats = page.locator(".diff-stats").text_content()
    assert "allcloseyes" in stats and "0 of 16" in stats and "at–" in stats, stats  # no "at [0, 0]"
    assert close(cell(page, HEATMAP, 1, 2)["rgb"], DIVERGING_CENTRE, 0)

    page.locator('select[aria-label="run B"]').select_option("variant")
    page.locator('select[aria-label="step B"]').select_option("")
    page.wait_for_function("document.querySelector('.diff-stats')?.textContent.includes('1 of 16')")
    wait_view(page)
    assert "drun=variant" in page.url and "dstep" not in page.url
    stats = page.locator(".diff-stats").text_content()
    assert "allcloseno" in stats and "max |A−B|0.75" in stats and "at[1, 2]" in stats
    assert cell(page, HEATMAP, 1, 2)["rgb"] == list(DIVERGING_LOW)
    assert cell(page, HEATMAP, 0, 0)["rgb"] == list(DIVERGING_CENTRE)
    assert hover_text(page, HEATMAP, 1, 2) == "(A − B)[1, 2] = -0.75"

    page.locator('input[aria-label="atol"]').fill("1")
    page.locator('input[aria-label="atol"]').press("Enter")
    page.locator('input[aria-label="atol"]').blur()
    page.wait_for_function("document.querySelector('.diff-stats')?.textContent.includes('allcloseyes')")
    assert "atol=1" in page.url

    page.locator(".capture-name").click()
    page.keyboard.press("ArrowLeft")  # B follows A's step: before step 3 the runs agree
    wait_step(page, 3)
    page.keyboard.press("ArrowLeft")
    wait_step(page, 2)
    assert "0 of 16" in page.locator(".diff-stats").text_content()

    page.locator(".diff-view button", has_text="Close diff").click()
    wait_view(page)
    assert "diff=1" not in page.url
    expect(page.locator(".diff-view")).to_have_count(0)


def test_alerts_panel_opens_the_first_alert(page, server):
    open_tab(page, server, "p=alerts&" + HIDE_MANY)
    page.wait_for_selector(".alerts-table")
    rows = page.locator(".alerts-table tbody tr")
    expect(rows).to_have_count(3)
    assert [rows.nth(k).get_attribute("class") for k in range(3)] == ["first", None, "first"]
    assert rows.nth(0).locator("td").all_text_contents() == [
        "baseline",
        "block1/attn",
        "2",
        "1",
        "1",
        "1",
        "first in run",
    ]
    assert rows.nth(1).locator("td").all_text_contents()[:6] == ["baseline", "big/pooled", "0", "1", "1", "0"]
    assert page.locator(".sidebar .row.tag", has_text="attn").locator(".badge").text_content() == "NaN/Inf 2"
    page.locator(".first-alert").click()
    wait_step(page, 2)
    assert page.locator(".capture-name").text_content() == "block1/attn"
    assert cell(page, HEATMAP, *tab_logdir.NAN_CELL)["rgb"] == list(NAN)
    page.locator(".panel-tabs .tab", has_text="Alerts").click()
    rows.nth(2).click()
    wait_step(page, 2)
    assert page.locator(".run-choice").input_value() == "variant"


def test_divergence_panel_finds_where_runs_part(page, server):
    open_tab(page, server, "p=divergence&" + HIDE_MANY)
    headline = page.locator(".first-divergence")
    headline.wait_for()
    assert "diverge/h at step %d" % tab_logdir.DIVERGE_STEP in headline.text_content()
    assert "1 element outside tolerance" in headline.text_content()
    first_row = page.locator(".divergence-table tbody tr").first
    assert first_row.locator("td").all_text_contents()[:4] == ["diverge/h", "6", "3", "3"]
    expect(page.locator(".divergence-table tbody tr.parted")).to_have_count(1)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "divergence.png"))

    first_row.click()
    wait_step(page, tab_logdir.DIVERGE_STEP)
    assert "drun=variant" in page.url
    assert "1 of 16" in page.locator(".diff-stats").text_content()
    assert page.locator("button.diff-toggle").text_content() == "Diff ✓"

    page.locator(".panel-tabs .tab", has_text="Divergence").click()
    page.locator('select[aria-label="second run"]').select_option("many")
    page.locator(".divergence-panel .only").first.wait_for()
    assert "…" in page.locator(".divergence-panel .only").last.text_content()


def test_link_reopens_the_same_view(page, server):
    open_tab(page, server, "run=variant&tag=block2/act4d&step=1&" + HIDE_MANY)
    wait_view(page)
    page.locator('input[aria-label="index on axis 0"]').fill("2")
    wait_view(page)
    page.locator(".view-tabs .tab", has_text="Table").click()
    wait_view(page)
    link = page.url
    assert "#" in link and ENTRY in link
    page.goto("about:blank")
    page.goto(link)
    wait_view(page)
    assert page.locator(".capture-name").text_content() == "block2/act4d"
    assert page.locator(".run-choice").input_value() == "variant"
    assert page.locator(".step-label").text_content().startswith("step 1 ")
    assert page.locator(".slice-input").input_value() == "2, :, :, 0"
    assert page.locator(".view-tabs .tab.selected").text_content() == "Table"
    assert page.locator(".run-list input").nth(1).is_checked() is False

    page.locator(".run-list .run", has_text="baseline").locator("input").uncheck()  # its own tags leave the tree
    page.locator(".row.group", has_text="big").wait_for(state="detached")
    assert "hide=many&hide=baseline" in page.url
    page.locator(".run-list .run", has_text="baseline").locator("input").check()
    page.locator(".row.group", has_text="big").wait_for()

    page.evaluate("location.hash = 'run=baseline&tag=loss&step=3&hide=many'")  # edited by hand
    wait_step(page, 3)
    assert page.locator(".capture-name").text_content() == "loss"
    page.locator(".view-bar button", has_text="Copy link").click()
    page.locator(".view-bar .status").filter(has_text="Link copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == page.url


def test_ten_thousand_tags_stay_responsive(page, server):
    open_tab(page, server, "")
    summary = page.locator(".tag-summary")
    summary.filter(has_text="10,013 tags").wait_for()
    assert page.locator(".tag-rows .row").count() < 80, "rows outside the window must not be in the DOM"

    filter_box = page.locator(".tag-filter")
    started = time.perf_counter()
    filter_box.fill("t0999")
    summary.filter(has_text="10 of 10,013 tags match").wait_for()
    print(
        "\n10k-tag filter: %.0f ms from keystroke to redrawn list (60 ms debounce included)"
        % ((time.perf_counter() - started) * 1000)
    )
    names = page.locator(".tag-rows .row.tag .name").all_text_contents()
    assert names == ["t%05d" % i for i in range(9990, 10000)]

    filter_box.fill("(")
    page.locator(".filter-error").filter(has_text="Not a regular expression").wait_for()
    filter_box.fill("")
    summary.filter(has_text="10,013 tags").wait_for()
    page.locator(".row.group", has_text="g001").click()
    page.locator(".row.tag", has_text="t00100").wait_for()
    assert page.locator(".row.group", has_text="g001").get_attribute("aria-expanded") == "true"
    page.locator(".tag-list").evaluate("list => { list.scrollTop = list.scrollHeight; }")
    page.locator(".row", has_text="words").wait_for()
    assert page.locator(".tag-rows .row").count() < 80


def test_heatmap_of_1024_by_1024_draws_fast(page, server):
    open_tab(page, server, "run=baseline&tag=big/heat&step=0&" + HIDE_MANY)
    times = []
    for step in range(tab_logdir.BIG_STEPS):
        if step:
            page.locator(".capture-name").click()
            page.keyboard.press("ArrowRight")
        wait_step(page, step)
        canvas = page.locator(HEATMAP)
        assert canvas.get_attribute("data-rows") == "1024" and canvas.get_attribute("data-cols") == "1024"
        times.append(float(canvas.get_attribute("data-draw-ms")))
    print(
        "\n1024x1024 heatmap draw (colour mapping + canvas), ms per step: %s; median %.1f ms"
        % (", ".join("%.1f" % t for t in times), statistics.median(times))
    )
    # Time to the screen: the same draw of 1024 x 1024 decoded float32 values,
    # until the frame holding it has been produced.
    framed = page.evaluate("""async () => {
        const { createHeatmap } = await import("./static/views/heatmap.js");
        const heatmap = createHeatmap("sequential");
        document.body.append(heatmap.element);
        const values = new Float32Array(1024 * 1024).map((_, i) => Math.sin(i));
        const tensor = { shape: [1024, 1024], slice: "...", pooled: null, size: values.length, values, text: (i) => String(values[i]) };
        const results = [];
        for (let k = 0; k < 5; k++) {
            await new Promise(requestAnimationFrame);
            const started = performance.now();
            heatmap.draw(tensor, [1024, 1024]);
            await new Promise(requestAnimationFrame);
            results.push(performance.now() - started);
        }
        heatmap.element.remove();
        return results;
    }""")
    print(
        "1024x1024 heatmap, draw until the next frame, ms: %s; median %.1f ms"
        % (", ".join("%.1f" % t for t in framed), statistics.median(framed))
    )
    # The target is 100 ms; these bounds only catch a gross regression on a loaded machine.
    assert statistics.median(times) < 250
    assert statistics.median(framed) < 250


def test_large_heatmap_is_pooled_keeping_non_finite_cells(page, server):
    page.set_viewport_size({"width": 1400, "height": 1400})  # the whole 520 px canvas on screen
    open_tab(page, server, "run=baseline&tag=big/pooled&" + HIDE_MANY)
    wait_view(page)
    canvas = page.locator(HEATMAP)
    assert (canvas.get_attribute("data-rows"), canvas.get_attribute("data-cols")) == ("550", "500")
    assert hover_text(page, HEATMAP, 2, 2) == "x[4:6, 4:6]: +Inf (block 2×2)"
    assert hover_text(page, HEATMAP, 10, 3) == "x[20:22, 6:8]: 20.5 (block 2×2)"
    assert hover_text(page, HEATMAP, 549, 499) == "x[1098:1100, 998:1000]: 1098.5 (block 2×2)"
    corner = cell(page, HEATMAP, 0, 0)
    page.mouse.move(corner["x"] + 1, corner["y"] + 1)  # a whole pixel inside: cells are under a pixel
    page.keyboard.down("Control")
    page.mouse.wheel(0, -1500)  # cells are under a pixel wide until zoomed in
    page.keyboard.up("Control")
    page.wait_for_function("Number(document.querySelector('.view-host .viewport-canvas').dataset.scale) > 4")
    page.mouse.down()  # pan the corner cells fully onto the canvas
    page.mouse.move(corner["x"] + 21, corner["y"] + 21)
    page.mouse.up()
    assert cell(page, HEATMAP, 0, 0)["rgb"] == list(NAN)
    assert cell(page, HEATMAP, 2, 2)["rgb"] == list(WHITE)
    assert cell(page, HEATMAP, 0, 1)["rgb"] == list(VIRIDIS_LOW)


def test_server_errors_show_as_text(page, server):
    page.problems.allow_http_errors = True
    open_tab(page, server, "run=baseline&tag=diverge/h&step=0&diff=1&dtag=block1/attn&" + HIDE_MANY)
    page.locator(".view-status .message.error").filter(has_text="cannot diff shapes [4, 4]").wait_for()
    open_tab(page, server, "run=baseline&tag=diverge/h&step=99&" + HIDE_MANY)
    error = page.locator(".view-status .message.error")
    error.wait_for()
    assert "99" in error.text_content()
    open_tab(page, server, "run=baseline&tag=no/such/tag&" + HIDE_MANY)
    page.locator(".hint").filter(has_text='Run "baseline" has no capture named "no/such/tag".').wait_for()


def test_new_steps_appear_without_losing_the_selection(page, tmp_path):
    import tensorflow as tf

    import tb_tensorcap as tensorcap

    logdir = tmp_path / "live"
    writer = tf.summary.create_file_writer(str(logdir / "train"))
    with writer.as_default():
        for step in range(2):
            tensorcap.capture(np.full((2, 2), step, np.float32), "w", step=step)
    writer.flush()
    with TensorBoardProcess(logdir, extra_args=("--reload_interval", "1")) as live:
        wait_index_complete(live)
        page.goto(live.base + ENTRY + "#run=train&tag=w&step=0")
        wait_step(page, 0)
        assert page.locator(".step-label").text_content() == "step 0 (1 of 2)"
        with writer.as_default():
            tensorcap.capture(np.full((2, 2), 2, np.float32), "w", step=2)
        writer.flush()
        deadline = time.monotonic() + 30
        while "of 3" not in page.locator(".step-label").text_content():
            assert time.monotonic() < deadline, "the new step never appeared"
            page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
            page.wait_for_timeout(500)
        assert page.locator(".step-label").text_content() == "step 0 (1 of 3)"
        page.locator(".step-slider").fill("2")
        wait_step(page, 2)
        assert hover_text(page, HEATMAP, 0, 0) == "x[0, 0] = 2"
    writer.close()


def test_dark_theme(page, server):
    page.emulate_media(color_scheme="dark")
    open_tab(page, server, "run=baseline&tag=block1/attn&step=2&" + HIDE_MANY)
    wait_view(page)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(48, 48, 48)"
    accent = page.evaluate("getComputedStyle(document.querySelector('.tab.selected')).borderColor")
    assert accent == "rgb(255, 152, 0)"
    page.screenshot(path=str(SCREENSHOTS / "heatmap-dark.png"))
