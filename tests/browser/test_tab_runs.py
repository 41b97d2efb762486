"""Runs in colour, overlaid runs and pinned cards (issue 15), in headless Chromium.

Its own logdir: runs "alpha", "alpha_scalars" (plain tf.summary scalars, no
TensorCap capture: not in the tab, but it takes a colour in TensorBoard's
run list), "beta", "gamma", written in that order (TensorBoard's run order:
start time, then name). TensorBoard's colours are then alpha Slate,
alpha_scalars Cyan, beta Pink, gamma Yellow: the tab's three runs are not
simply the first three colours. Known values:
- "loss" (scalar) = K / (step + 1), K = 1 (gamma), 2 (alpha), 3 (beta);
  beta only at even steps (its odd steps must be gaps);
- "vec" (8,) = 10 K + arange(8) + step at steps 0..2;
- "w" (4 x 4) = 100 K + 10 step + arange(16) at steps 0..4, beta lacking step 3;
- "only_alpha" only in alpha.
"""

import time

import numpy as np
import pytest
from servers import TensorBoardProcess
from test_tab import SCREENSHOTS, open_tab, tensorboard_frame, wait_index_complete, wait_view

K = {"gamma": 1, "alpha": 2, "beta": 3}
TENSORBOARD_ORDER = ["alpha", "alpha_scalars", "beta", "gamma"]
PALETTE = ["#425066", "#12b5cb", "#e52592", "#f9ab00", "#9334e6", "#7cb342", "#e8710a"]
SLATE_DARK = "#8e98a3"
W_STEPS = range(5)
BETA_LACKS = 3


def loss(run, step):
    return np.float32(K[run] / (step + 1))


def vec(run, step):
    return (10 * K[run] + np.arange(8) + step).astype(np.float32)


def w(run, step):
    return (100 * K[run] + 10 * step + np.arange(16)).reshape(4, 4).astype(np.float32)


def rgb(hex_colour):
    return "rgb(%d, %d, %d)" % tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))


def expected_colour(run):
    return PALETTE[TENSORBOARD_ORDER.index(run) % len(PALETTE)]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import tensorflow as tf

    import tb_tensorcap as tensorcap

    logdir = tmp_path_factory.mktemp("tab_runs") / "logs"
    for run in TENSORBOARD_ORDER:
        writer = tf.summary.create_file_writer(str(logdir / run))
        with writer.as_default():
            if run == "alpha_scalars":
                tf.summary.scalar("accuracy", 0.5, step=0)
            else:
                for step in range(10):
                    if run != "beta" or step % 2 == 0:
                        tensorcap.capture(loss(run, step), "loss", step=step)
                for step in range(3):
                    tensorcap.capture(vec(run, step), "vec", step=step)
                for step in W_STEPS:
                    if run != "beta" or step != BETA_LACKS:
                        tensorcap.capture(w(run, step), "w", step=step)
                if run == "alpha":
                    tensorcap.capture(np.ones(3, np.float32), "only_alpha", step=0)
        writer.close()
        time.sleep(0.05)  # distinct start times: TensorBoard orders runs by them
    with TensorBoardProcess(logdir) as process:
        wait_index_complete(process)
        yield process


def swatches(frame):
    return frame.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('.run-list .run')].map(
            (row) => [row.textContent, getComputedStyle(row.querySelector('.run-swatch')).backgroundColor]))"""
    )


def test_run_colours_are_tensorboards_in_its_run_order(page, server):
    status, runs = server.get_json("/data/runs")
    assert status == 200 and runs == TENSORBOARD_ORDER
    expected = {run: rgb(expected_colour(run)) for run in K}
    page.goto(server.base + "/#tensorcap")
    frame = tensorboard_frame(page)
    frame.wait_for_function("() => document.querySelectorAll('.run-list .run-swatch[style*=background]').length === 3")
    frame.wait_for_function(
        "want => [...document.querySelectorAll('.run-list .run-swatch')].every((s, i) => getComputedStyle(s).backgroundColor === want[i])",
        arg=[expected[run] for run in sorted(K)],
    )
    assert swatches(frame) == expected
    assert expected["beta"] == rgb("#e52592")  # the third colour: alpha_scalars took the second
    # TensorBoard's dark mode: its dark shade of Slate for the first run.
    page.locator("app-header-dark-mode-toggle-component button").click()
    page.locator("[role=menuitem]", has_text="Dark").click()
    frame.wait_for_function(
        "c => [...document.querySelectorAll('.run-list .run')].some((r) => r.textContent === 'alpha'"
        " && getComputedStyle(r.querySelector('.run-swatch')).backgroundColor === c)",
        arg=rgb(SLATE_DARK),
    )
    # Opened on its own, the tab reads TensorBoard's data/runs: the same colours.
    open_tab(page, server, "")
    page.wait_for_function("() => document.querySelectorAll('.run-list .run-swatch[style*=background]').length === 3")
    page.wait_for_function(
        "want => [...document.querySelectorAll('.run-list .run-swatch')].every((s, i) => getComputedStyle(s).backgroundColor === want[i])",
        arg=[expected[run] for run in sorted(K)],
    )


def hover_step(page, chart, step, first, last):
    """Moves the pointer over `chart`'s plot at `step` (x axis from `first` to `last`)."""
    box = page.locator(chart + " rect.overlay").bounding_box()
    page.mouse.move(box["x"] + box["width"] * (step - first) / (last - first), box["y"] + box["height"] / 2)


def readout_lines(page, chart):
    return page.locator(chart + " .overlay-line").all_text_contents()


def test_scalar_and_stats_charts_overlay_every_selected_run_with_gaps(page, server):
    open_tab(page, server, "run=alpha&tag=loss&step=4")
    wait_view(page)
    view = ".view-host .scalar-view"
    page.wait_for_function("() => document.querySelectorAll('.view-host path.series[data-run]').length === 3")
    for run in K:
        path = page.locator(view + " path.series[data-run=%s]" % run)
        assert path.evaluate("p => getComputedStyle(p).stroke") == rgb(expected_colour(run))
    # beta has no odd steps: five separate points (dots), no segment across a missing step.
    beta = page.locator(view + " path.series[data-run=beta]").get_attribute("d")
    assert beta.count("M") == 5 and "L" not in beta
    assert page.locator(view + " path.series[data-run=alpha]").get_attribute("d").count("L") == 9
    assert page.locator(view + " circle.s-run").count() == 5
    hover_step(page, view, 3, 0, 9)
    page.wait_for_function("() => document.querySelectorAll('.scalar-view .overlay-line').length === 3")
    assert readout_lines(page, view) == [
        "alpha: %s" % loss("alpha", 3),
        "beta: no capture at step 3",
        "gamma: %s" % loss("gamma", 3),
    ]
    hover_step(page, view, 8, 0, 9)
    page.wait_for_function(
        "() => document.querySelector('.scalar-view .overlay-readout').textContent.startsWith('step 8')"
    )
    assert readout_lines(page, view)[1] == "beta: %s" % loss("beta", 8)

    # The card's min / mean / max chart: three lines per run, each in the run's colour.
    card = ".card .stats-chart"
    page.wait_for_function("() => document.querySelectorAll('.card .stats-chart path.series[data-run]').length === 9")
    assert page.locator(card + " .overlay-entry").all_text_contents() == ["alpha", "beta", "gamma"]

    # Unticking a run in the sidebar takes it out of both charts.
    page.locator(".run-list .run", has_text="gamma").locator("input").uncheck()
    page.wait_for_function("() => document.querySelectorAll('.view-host path.series[data-run]').length === 2")
    page.wait_for_function("() => document.querySelectorAll('.card .stats-chart path.series[data-run]').length === 6")


def test_line_view_overlays_the_same_slice_and_names_runs_without_the_tag(page, server):
    open_tab(page, server, "run=beta&tag=vec&step=1")
    wait_view(page)
    view = ".view-host .line-view"
    page.wait_for_function("() => document.querySelectorAll('.line-view path.series[data-run]').length === 3")
    hover_step(page, view, 2, 0, 7)
    page.wait_for_function("() => document.querySelectorAll('.line-view .overlay-line').length === 3")
    assert readout_lines(page, view) == ["%s: %d" % (run, vec(run, 1)[2]) for run in ("alpha", "beta", "gamma")]

    open_tab(page, server, "run=alpha&tag=only_alpha&step=0")
    wait_view(page)
    entries = page.locator(".view-host .overlay-entry")
    assert entries.all_text_contents() == [
        "alpha",
        "beta — no capture named only_alpha",
        "gamma — no capture named only_alpha",
    ]
    assert page.locator(".view-host path.series[data-run]").count() == 1


def test_histograms_over_steps_show_every_selected_run_in_its_colour(page, server):
    open_tab(page, server, "run=beta&tag=w&view=steps")
    page.wait_for_function("() => document.querySelectorAll('.run-histograms svg.step-histograms').length === 3")
    sections = page.locator(".run-histograms")
    assert [sections.nth(k).get_attribute("data-run") for k in range(3)] == ["beta", "alpha", "gamma"]  # shown first
    for k, run in enumerate(("beta", "alpha", "gamma")):
        swatch = sections.nth(k).locator(".run-title .run-swatch")
        assert swatch.evaluate("e => getComputedStyle(e).backgroundColor") == rgb(expected_colour(run))
        steps = sections.nth(k).locator("path.ridge").evaluate_all("ps => ps.map((p) => Number(p.dataset.step))")
        assert steps == [s for s in W_STEPS if run != "beta" or s != BETA_LACKS]
    # Each run's values: w = 100 K + 10 step + arange(16), so each run's chart starts at 100 K.
    lowest = page.locator(".run-histograms .axis-label").evaluate_all("ls => ls.map((l) => l.textContent)")
    assert lowest[0::2] == ["300", "200", "100"]

    open_tab(page, server, "run=beta&tag=w&view=steps&hide=gamma")
    page.wait_for_function("() => document.querySelectorAll('.run-histograms svg.step-histograms').length === 2")
    open_tab(page, server, "run=alpha&tag=w&view=steps&hide=beta&hide=gamma")
    page.wait_for_selector("svg.step-histograms")
    wait_view(page)
    assert page.locator(".run-histograms").count() == 1
    assert page.locator(".run-histograms .run-title").count() == 0  # one run: no title, as before


def pinned_cards(frame):
    return frame.locator(".pinned-panel .pinned-card")


def card(frame, run, tag):
    return frame.locator('.pinned-card[data-run="%s"][data-tag="%s"]' % (run, tag))


def colorbar_ticks(frame, run, tag):
    return card(frame, run, tag).locator(".colorbar-ticks .tick").all_text_contents()


def wait_cards_at(frame, step, count):
    frame.wait_for_function(
        """([step, count]) => {
            const cards = [...document.querySelectorAll('.pinned-panel .pinned-card')];
            return cards.length === count && cards.every((c) => c.dataset.step === String(step)
                && (c.classList.contains('missing') || c.querySelector('.pinned-picture')?.firstChild
                    && !c.querySelector('.pinned-note .loading')));
        }""",
        arg=[step, count],
    )


def test_pinned_cards_share_the_step_and_colour_range_and_survive_reload(page, server):
    page.goto(server.base + "/#tensorcap&p.tensorcap.run=alpha&p.tensorcap.tag=w")
    frame = tensorboard_frame(page)
    wait_view(frame)
    frame.locator(".pin-tag").click()  # w in every selected run: alpha, beta, gamma
    frame.locator(".pin-tag", has_text="Pinned, all runs ✓").wait_for()
    frame.locator(".run-choice").select_option("gamma")
    frame.locator(".capture-name").filter(has_text="w").wait_for()
    frame.locator(".row.tag", has_text="loss").click()
    frame.locator(".run-choice").select_option("gamma")
    wait_view(frame)
    frame.locator(".pin-run").click()  # loss in gamma only
    frame.locator(".pin-tag").click()  # loss in every run: one chart overlaying them
    frame.locator(".panel-tabs .tab", has_text="Pinned 3").click()
    wait_cards_at(frame, 9, 5)  # the latest step of any card: loss's 9
    assert [
        (c.get_attribute("data-run") or c.get_attribute("data-runs")) + " " + c.get_attribute("data-tag")
        for c in pinned_cards(frame).all()
    ] == ["alpha w", "beta w", "gamma w", "gamma loss", "alpha, beta, gamma loss"]
    assert "No capture at step 9 in alpha (its steps: 0–4)." in card(frame, "alpha", "w").text_content()
    swatch = card(frame, "beta", "w").locator(".run-swatch")
    assert swatch.evaluate("s => getComputedStyle(s).backgroundColor") == rgb(expected_colour("beta"))

    # One slider: every card at step 3, beta's w saying it has none there.
    frame.locator(".pinned-slider").fill("3")
    wait_cards_at(frame, 3, 5)
    for run in ("alpha", "gamma"):
        values = w(run, 3)
        summary = card(frame, run, "w").locator(".summary-line").text_content()
        assert "x∈[%d, %d]" % (values.min(), values.max()) in summary, summary
    assert card(frame, "beta", "w").locator(".pinned-note").text_content() == (
        "No capture at step 3 in beta (its steps: 0–2, 4)."
    )
    assert (
        card(frame, "beta", "w").locator("canvas").count() == 0
        or not card(frame, "beta", "w").locator(".pinned-picture").is_visible()
    )
    assert card(frame, "gamma", "loss").locator(".scalar-value").text_content() == "%s" % loss("gamma", 3)
    overlaid = frame.locator(".pinned-card.overlaid")
    assert overlaid.locator(".pinned-values .overlay-line").all_text_contents() == [
        "alpha: %s" % loss("alpha", 3),
        "beta: no capture at step 3",
        "gamma: %s" % loss("gamma", 3),
    ]
    assert overlaid.locator("path.series[data-run]").count() == 3
    assert frame.locator(".pinned-bar .pinned-step").text_content() == "step 3 (4 of 10)"

    frame.locator(".pinned-panel").click(position={"x": 5, "y": 5})
    page.keyboard.press("ArrowRight")  # → walks the shared steps too
    wait_cards_at(frame, 4, 5)
    assert "x∈[340, 355]" in card(frame, "beta", "w").locator(".summary-line").text_content()
    page.keyboard.press("ArrowLeft")
    wait_cards_at(frame, 3, 5)

    # One colour range over every pinned heatmap at every step: identical colour bars.
    lo, hi = min(w(r, s).min() for r in K for s in W_STEPS), max(w(r, s).max() for r in K for s in W_STEPS)
    assert (lo, hi) == (100, 355)
    assert colorbar_ticks(frame, "alpha", "w") == colorbar_ticks(frame, "gamma", "w")
    assert colorbar_ticks(frame, "alpha", "w") == ["100", "200", "300"]  # 100 to 355
    assert "shared by 3 heatmaps: 100 to 355" in frame.locator(".pinned-range-note").text_content()
    frame.locator(".pinned-own input").check()
    frame.wait_for_function(
        "() => document.querySelector('.pinned-card[data-run=alpha] .colorbar-ticks .tick')?.textContent !== '100'"
    )
    assert colorbar_ticks(frame, "alpha", "w") != colorbar_ticks(frame, "gamma", "w")
    frame.locator(".pinned-own input").uncheck()
    frame.wait_for_function(
        "() => document.querySelector('.pinned-card[data-run=alpha] .colorbar-ticks .tick')?.textContent === '100'"
    )

    # The pins, the step and the panel live in TensorBoard's URL: a reload restores them.
    assert "p.tensorcap.pins=" in page.url and "p.tensorcap.pstep=3" in page.url
    page.reload()
    frame = tensorboard_frame(page)
    wait_cards_at(frame, 3, 5)
    assert frame.locator(".panel-tabs .tab.selected").text_content() == "Pinned 3"
    assert colorbar_ticks(frame, "alpha", "w") == colorbar_ticks(frame, "gamma", "w")

    # Unpinning takes the card out, and out of the URL.
    card(frame, "gamma", "loss").locator(".unpin").click()
    wait_cards_at(frame, 3, 4)
    frame.locator(".pinned-card.overlaid .unpin").click()
    wait_cards_at(frame, 3, 3)
    assert "loss" not in page.url.split("p.tensorcap.pins=")[1]


@pytest.mark.parametrize("width", [1400, 900])
def test_pinned_grid_layout(page, server, width):
    page.set_viewport_size({"width": width, "height": 900})
    open_tab(page, server, 'p=pinned&pins=[{"tag":"w"},{"tag":"vec","run":"alpha"}]&pstep=1')
    wait_cards_at(page, 1, 4)
    boxes = [c.bounding_box() for c in pinned_cards(page).all()]
    grid = page.locator(".pinned-grid").bounding_box()
    columns = len({round(b["x"]) for b in boxes})
    assert columns == (3 if width == 1400 else 2), boxes
    assert all(b["x"] >= grid["x"] - 1 and b["x"] + b["width"] <= grid["x"] + grid["width"] + 1 for b in boxes)
    assert page.evaluate("document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth")
    for c in pinned_cards(page).all():  # the picture stays inside its card
        inner = c.locator(".pinned-picture").bounding_box()
        outer = c.bounding_box()
        assert inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 1
    page.screenshot(path=str(SCREENSHOTS / ("pinned-%d.png" % width)))
