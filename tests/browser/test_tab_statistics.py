"""The tab's views over steps and statistics in headless Chromium against a
real `tensorboard` process: histograms over steps (offset and overlay),
smoothing and log-y on the min/mean/max chart, small multiples, and sorting
and filtering tags by statistics. The logdir (stats_logdir.py) holds known
numbers, and each test checks what is drawn against them.
"""

import re

import numpy as np
import pytest
import stats_logdir as logdir
from servers import TensorBoardProcess
from test_tab import LOWEST_CONTRAST, open_tab, wait_index_complete, wait_view

HIDE_MANY = "&hide=many"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = tmp_path_factory.mktemp("statistics") / "logs"
    logdir.write(path)
    with TensorBoardProcess(path) as process:
        wait_index_complete(process)
        yield process


def traces(page):
    """Each drawn step's counts, read back from its ridge's vertices: {step: [count per bin]}."""
    return page.evaluate("""() => {
        const chart = document.querySelector("svg.step-histograms");
        const most = Number(chart.dataset.maxCount);
        const out = {};
        for (const path of chart.querySelectorAll("path.ridge")) {
            const base = Number(path.dataset.baseline), height = Number(path.dataset.height);
            const ys = path.getAttribute("d").slice(1).split("L").map((p) => Number(p.split(",")[1]));
            out[path.dataset.step] = ys.map((y) => ((base - y) / height) * most);
        }
        return out;
    }""")


def expected_counts(bins=30):
    finite = [logdir.hist(s)[np.isfinite(logdir.hist(s))] for s in range(logdir.STEPS)]
    return {s: np.histogram(f, bins=bins, range=(0, logdir.STEPS))[0] for s, f in enumerate(finite)}


def test_histograms_over_steps_offset_and_overlay(page, server):
    open_tab(page, server, "run=train&tag=hist/w&view=steps" + HIDE_MANY)
    page.wait_for_selector("svg.step-histograms.offset")
    wait_view(page)
    expected = expected_counts()
    drawn = traces(page)
    assert sorted(map(int, drawn)) == list(range(logdir.STEPS))  # one trace per step
    known_bin = 3
    for step in range(logdir.STEPS):
        assert len(drawn[str(step)]) == 30
        assert drawn[str(step)][known_bin] == pytest.approx(expected[step][known_bin], abs=0.05), step
    baselines = page.eval_on_selector_all("path.ridge", "ps => ps.map((p) => Number(p.dataset.baseline))")
    assert baselines == sorted(baselines) and len(set(baselines)) == logdir.STEPS  # stacked in depth, newest in front
    # NaN and +Inf are counted beside the step that holds them, not dropped.
    assert page.locator(".ridge-bad").all_text_contents() == ["NaN 2 +Inf 1"]
    page.locator(".message.note", has_text="Not in any bin: NaN 2, +Inf 1, -Inf 0").wait_for()

    # Hovering the front ridge at a bin reads out its step, bin and count.
    front = page.evaluate("""() => {
        const path = [...document.querySelectorAll("path.ridge")].pop();
        const [x, y] = path.getAttribute("d").slice(1).split("L")[3].split(",").map(Number);
        const svg = path.ownerSVGElement, scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
        return {x: x * scale, y: y * scale};
    }""")
    svg_box = page.locator("svg.step-histograms").bounding_box()
    page.mouse.move(svg_box["x"] + front["x"], svg_box["y"] + front["y"] + 1)
    last = logdir.STEPS - 1
    readout = page.locator(".step-histograms-view .readout")
    page.wait_for_function(
        "() => document.querySelector('.step-histograms-view .readout').textContent.startsWith('step')"
    )
    text = readout.text_content()
    assert text.startswith("step %d: [0.8, 1.06667)" % last), text  # bin 3 of 30 over [0, 8]
    assert "holds %d of %d" % (expected[last][3], logdir.HIST_SIZE) in text, text

    page.locator("select[aria-label=mode]").select_option("overlay")
    page.wait_for_selector("svg.step-histograms.overlay")
    assert "hmode=overlay" in page.url
    drawn = traces(page)
    assert len(drawn) == logdir.STEPS
    for step in range(logdir.STEPS):
        assert drawn[str(step)][known_bin] == pytest.approx(expected[step][known_bin], abs=0.05)
    assert len(set(page.eval_on_selector_all("path.ridge", "ps => ps.map((p) => p.dataset.baseline)"))) == 1


def chart_values(page, series):
    """The (step, value) points of a min/mean/max chart series, from its path and the chart's domains."""
    return page.evaluate(
        """(series) => {
        const svg = document.querySelector(".stats-chart svg.line-chart");
        const [y0, y1] = svg.dataset.yDomain.split(",").map(Number);
        const [x0, x1] = svg.dataset.xDomain.split(",").map(Number);
        const frame = svg.querySelector("rect.frame");
        const left = Number(frame.getAttribute("x")), top = Number(frame.getAttribute("y"));
        const w = Number(frame.getAttribute("width")), h = Number(frame.getAttribute("height"));
        const path = svg.querySelector(series);
        return path.getAttribute("d").split(/[ML]/).filter(Boolean).map((p) => {
            const [px, py] = p.split(",").map(Number);
            return [Math.round(x0 + ((px - left) / w) * (x1 - x0)), y0 + (1 - (py - top) / h) * (y1 - y0), (y1 - y0) / h];
        });
    }""",
        series,
    )


def ema(values, weight):
    last, out = 0.0, []
    for k, y in enumerate(values, start=1):
        last = last * weight + (1 - weight) * y
        out.append(last / (1 - weight**k))
    return out


def test_smoothing_moves_the_line_as_the_ema_predicts(page, server):
    open_tab(page, server, "run=train&tag=curve" + HIDE_MANY)
    wait_view(page)
    page.wait_for_selector(".stats-chart path.series.s-mean")
    raw = dict((step, value) for step, value, _ in chart_values(page, "path.series.s-mean"))
    assert raw[10] == pytest.approx(logdir.CURVE_MEANS[10], abs=0.05)
    page.locator(".smoothing-value").fill("0.6")
    page.locator(".smoothing-value").press("Enter")
    page.wait_for_selector(".stats-chart path.series.faint")
    assert "smooth=0.6" in page.url
    smoothed = {step: (value, pixel) for step, value, pixel in chart_values(page, "path.series.s-mean:not(.faint)")}
    predicted = ema(logdir.CURVE_MEANS, 0.6)
    value, pixel = smoothed[10]
    assert value == pytest.approx(predicted[10], abs=1.5 * pixel)
    assert abs(predicted[10] - logdir.CURVE_MEANS[10]) > 5 * pixel  # the line really moved
    # the raw values stay drawn, pale, under the smoothed line
    faint = {step: value for step, value, _ in chart_values(page, "path.series.s-mean.faint")}
    assert faint[10] == pytest.approx(logdir.CURVE_MEANS[10], abs=1.5 * pixel)
    # the setting survives a reload from the URL
    open_tab(page, server, page.url.split("#", 1)[1])
    page.wait_for_selector(".stats-chart path.series.faint")
    assert page.locator(".smoothing-value").input_value() == "0.6"


def test_log_y_says_which_values_it_cannot_place(page, server):
    open_tab(page, server, "run=train&tag=curve" + HIDE_MANY)
    wait_view(page)
    page.locator(".stats-chart input.log-y").check()
    note = page.locator(".chart-note")
    note.filter(has_text="min ≤ 0 at step %d" % logdir.ZERO_MIN_STEP).wait_for()
    assert "logy=1" in page.url
    mins = [logdir.curve(s).min() for s in range(logdir.CURVE_STEPS)]
    points = chart_values(page, "path.series.s-min")
    placed = {step: value for step, value, _ in points}
    assert logdir.ZERO_MIN_STEP not in placed  # a gap, not a point at some made-up value
    pixel = points[0][2]
    assert placed[3] == pytest.approx(np.log10(mins[3]), abs=1.5 * pixel)  # drawn at log10 of the value
    d = page.locator(".stats-chart path.series.s-min").get_attribute("d")
    assert d.count("M") == 2  # the line breaks at the zero
    top = page.locator(".stats-chart svg.line-chart text").first.text_content()
    domain = page.locator(".stats-chart svg.line-chart").get_attribute("data-y-domain")
    assert float(top) == pytest.approx(10 ** float(domain.split(",")[1]), rel=1e-3)


def test_small_multiples_share_one_colour_range(page, server):
    open_tab(page, server, "run=train&tag=act/nhwc&view=facets" + HIDE_MANY)
    wait_view(page)
    canvases = page.locator(".facet-canvas")
    n, height, width, channels = logdir.ACT_SHAPE
    assert canvases.count() == channels  # one panel per channel (the NHWC capture names its axes)
    labels = canvases.evaluate_all("cs => cs.map((c) => c.dataset.label)")
    assert labels == ["channel %d" % c for c in range(channels)]
    ranges = set(canvases.evaluate_all("cs => cs.map((c) => c.dataset.lo + ',' + c.dataset.hi)"))
    value = logdir.act(2)[0]
    assert len(ranges) == 1
    lo, hi = map(float, ranges.pop().split(","))
    assert (lo, hi) == (pytest.approx(value.min()), pytest.approx(value.max(), rel=1e-6))
    assert page.locator(".facets-view .colorbar").count() == 1  # one colour bar for the grid
    ticks = page.locator(".facets-view .colorbar .tick").all_text_contents()
    assert ticks == ["20", "40", "60"]  # round ticks over [2, 72.35], the range of every panel
    # Each panel is painted in that range: channel 0 near its low end, channel 7 near its high end.
    low, high = (
        page.evaluate("""() => [...document.querySelectorAll(".facet-canvas")].filter((c, k) => k === 0 || k === 7)
        .map((c) => [...c.getContext("2d").getImageData(0, 0, 1, 1).data.slice(0, 3)])""")
    )
    assert low == [68, 1, 84] or sum(low) < 200, low  # viridis' dark end
    assert sum(high) > 450, high  # viridis' bright end
    # Faceting the steps instead: one panel per step of the same slice.
    page.locator("select[aria-label=facet]").select_option("steps")
    page.wait_for_function("() => document.querySelector('.facet-grid').dataset.facet === 'steps'")
    assert page.locator(".facet-canvas").evaluate_all("cs => cs.map((c) => c.dataset.label)") == [
        "step 0",
        "step 1",
        "step 2",
    ]
    assert "facet=steps" in page.url


def expected_max_abs():
    tags = {
        "hist/w": max(
            np.nanmax(np.abs(np.where(np.isfinite(logdir.hist(s)), logdir.hist(s), 0))) for s in range(logdir.STEPS)
        )
    }
    tags["act/nhwc"] = max(np.abs(logdir.act(s)).max() for s in range(3))
    tags["curve"] = max(np.abs(logdir.curve(s)).max() for s in range(logdir.CURVE_STEPS))
    for tag in logdir.RANK_MAX_ABS:
        tags[tag] = max(np.nanmax(np.abs(logdir.rank(tag, s))) for s in range(3))
    return tags


def row_names(page):
    return page.locator(".tag-list .row.tag .name").all_text_contents()


def test_sort_by_max_abs_and_filter_nan_tags(page, server):
    open_tab(page, server, "run=train&tag=curve" + HIDE_MANY)
    page.locator("select.tag-sort").select_option("maxabs")
    page.locator(".tag-summary", has_text="8 tags, by max |x|").wait_for()
    assert "tsort=maxabs" in page.url
    numbers = expected_max_abs()
    assert row_names(page) == sorted(numbers, key=lambda tag: -numbers[tag])
    shown = page.locator(".tag-list .row.tag", has_text="rank/b").locator(".tag-stat").text_content()
    assert shown == "max|x| 50"

    page.locator("select.tag-stat-filter").select_option("nan")
    page.locator(".tag-summary", has_text="3 of 8 tags match").wait_for()
    nan_tags = {"hist/w", *logdir.RANK_NAN}
    assert row_names(page) == sorted(nan_tags, key=lambda tag: -numbers[tag])

    page.locator("select.tag-sort").select_option("name")  # the tree again, still filtered
    page.locator(".tag-summary", has_text="3 of 8 tags match").wait_for()
    assert set(row_names(page)) == {"w", "c", "e"}
    assert re.search(r"tfilter=nan", page.url)

    page.locator("select.tag-stat-filter").select_option("maxabs")
    page.locator("input.tag-min").fill("10")
    page.locator("input.tag-min").press("Enter")
    page.locator(".tag-summary", has_text="of 8 tags match").wait_for()
    page.wait_for_function("() => location.hash.includes('tmin=10')")
    assert set(row_names(page)) == {tag.split("/")[-1] for tag, value in numbers.items() if value > 10}


def test_sorting_ten_thousand_tags_draws_only_the_visible_rows(page, server):
    open_tab(page, server, "tsort=maxabs")
    page.locator(".tag-summary", has_text="10,008 tags, by max |x|").wait_for()
    # While the server computes the statistics the bar says so, and asks again until they are all in.
    page.wait_for_function("() => document.querySelector('.tag-stats-note').textContent === ''", timeout=90000)
    first = page.locator(".tag-list .row.tag").first
    assert first.locator(".name").text_content() == "g%03d/t%05d" % (
        (logdir.MANY_TAGS - 1) // 100,
        logdir.MANY_TAGS - 1,
    )
    assert first.locator(".tag-stat").text_content() == "max|x| 9999"
    assert page.locator(".tag-list .row").count() < 100  # virtual: only the rows on screen exist


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_new_views_text_contrast_meets_wcag_aa(page, server, scheme):
    page.emulate_media(color_scheme=scheme)
    for fragment in (
        "run=train&tag=hist/w&view=steps&tsort=maxabs",
        "run=train&tag=act/nhwc&view=facets&tfilter=maxabs&tmin=1",
        "run=train&tag=curve&smooth=0.5&logy=1",
    ):
        open_tab(page, server, fragment + HIDE_MANY)
        wait_view(page)
        page.wait_for_timeout(300)
        worst = page.evaluate(LOWEST_CONTRAST)
        assert worst["ratio"] >= 4.5, (fragment, worst)
