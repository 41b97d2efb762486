"""The root-cause panel and the lineage links in headless Chromium, against a real `tensorboard`.

The logdir holds a classifier step whose Softmax underflows to an exact 0 at
step 2 (Log makes -inf, the loss goes NaN): the panel must name Log at step 2
with its source line, show Softmax's exact zero beside Log's -inf, link every
capture, draw the graph around Log, and the capture card must link inputs
and consumers. The other runs hold every planted bug of planted_bugs.py,
captured by a real `record()`: log(softmax) eager and in a `tf.function`
(also in health mode: statistics only), x/(a-a) in a `tf.function`, sqrt
after a -inf mask, NaN in the input data, one replica's shard under a real
MirroredStrategy, and a clean run; the tab must name each one's culprit op,
step and source line as the command does.
"""

import planted_bugs
import pytest
from lineage_logdir import softmax_log_step, write_run
from playwright.sync_api import expect  # noqa: E402
from servers import TensorBoardProcess
from test_tab import ENTRY, wait_index_complete, wait_step


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("rootcause_tab")
    write_run(logdir / "underflow", {step: softmax_log_step(nan=step >= 2) for step in range(4)})
    write_run(logdir / "clean", {0: softmax_log_step(nan=False)})
    for mode in ("eager", "function"):
        planted_bugs.log_softmax_underflow(logdir, mode, mode)
    planted_bugs.log_softmax_underflow(logdir, "health", "function", record_mode="health")
    planted_bugs.log_softmax_underflow(logdir, "clean_record", "eager", bad_step=None)
    planted_bugs.divide_by_a_minus_a(logdir, "divide")
    planted_bugs.sqrt_after_minus_inf_mask(logdir, "mask")
    planted_bugs.nan_in_the_data(logdir, "data")
    planted_bugs.mirrored_replica_shard(logdir, "mirrored")
    with TensorBoardProcess(logdir) as process:
        wait_index_complete(process)
        yield process


def open_tab(page, server, fragment):
    page.goto(server.base + ENTRY + "#" + fragment)
    page.wait_for_selector(".app")


def test_from_the_alert_to_the_root_cause_and_back(page, server):
    open_tab(page, server, "p=alerts")
    page.locator(".alerts-panel select").select_option("underflow")
    page.locator(".root-cause").click()
    headline = page.locator(".rootcause-headline")
    expect(headline).to_contain_text("Log op at step 2")
    assert "/home/me/train.py:30 (step_fn)" in headline.text_content()
    assert page.locator(".rootcause-reasons li").all_text_contents() == [
        "input 0 has 1 exact zero",
        "inputs finite, output 1 -inf",
    ]
    sides = page.locator(".rootcause-sides")
    assert sides.locator("thead th").all_text_contents() == ["", "input 0: step/dense/Softmax", "output step/loss/Log"]
    zeros = sides.locator("tr", has_text="zeros").locator("td").all_text_contents()
    neginf = sides.locator("tr", has_text="-Inf").locator("td")
    assert zeros == ["1", "1"] and neginf.all_text_contents() == ["0", "1"]
    assert neginf.nth(1).get_attribute("class") == "bad"
    assert page.locator(".rootcause-chain button").all_text_contents() == ["step/loss/Log (Log)", "step/loss/Mul (Mul)"]
    # The input and the output as values, side by side: a heatmap (2 x 2) and a histogram each.
    values = page.locator(".rootcause-values .value-panel")
    expect(values).to_have_count(2)
    assert values.evaluate_all("ps => ps.map(p => p.dataset.tag)") == ["step/dense/Softmax", "step/loss/Log"]
    for k in range(2):
        expect(values.nth(k).locator(".heatmap canvas").first).to_be_visible()
        expect(values.nth(k).locator(".histogram-chart")).to_have_count(1)
    expect(values.nth(1).locator(".histogram-view")).to_contain_text("-Inf: 1")
    assert values.locator("h3 button").all_text_contents() == ["step/dense/Softmax", "output step/loss/Log"]
    # The graph: Log in the middle, Softmax and MatMul upstream, Mul and Sum downstream, NaN/Inf in red.
    nodes = page.locator(".flow-graph .flow-node")
    expect(nodes).to_have_count(5)
    assert page.locator(".flow-node.culprit").get_attribute("data-tag") == "step/loss/Log"
    assert sorted(page.locator(".flow-node.nan").evaluate_all("ns => ns.map(n => n.dataset.tag)")) == [
        "step/loss/Mul",
        "step/loss/Sum",
    ]
    assert page.locator(".flow-graph .flow-edge").count() == 4
    # One click on the input opens its capture card at the culprit's step.
    sides.locator("thead button", has_text="step/dense/Softmax").click()
    wait_step(page, 2)
    assert page.locator(".capture-name").text_content() == "step/dense/Softmax"
    lineage = page.locator(".lineage")
    expect(lineage).to_contain_text("op Softmax")
    assert lineage.locator("button").all_text_contents() == ["step/dense/MatMul", "step/loss/Log"]
    lineage.locator("button", has_text="step/loss/Log").click()
    expect(page.locator(".capture-name")).to_have_text("step/loss/Log")
    expect(page.locator(".lineage")).to_contain_text("consumers: step/loss/Mul")


def test_a_clean_run_and_an_external_input(page, server):
    open_tab(page, server, "p=rootcause&run=clean")
    expect(page.locator(".rootcause-body .message")).to_have_text("No NaN reaches an output in clean.")
    open_tab(page, server, "run=underflow&tag=step/input/x&step=0")
    expect(page.locator(".lineage")).to_contain_text("from outside the block: input x · consumers: step/dense/MatMul")


@pytest.mark.parametrize("run", ["eager", "function", "health"])
def test_the_planted_log_softmax_bug_captured_by_record(page, server, run):
    open_tab(page, server, "p=rootcause&run=" + run)
    headline = page.locator(".rootcause-headline")
    expect(headline).to_contain_text("Log op at step %d" % planted_bugs.UNDERFLOW_STEP)
    assert "%s:%d (loss_fn)" % (planted_bugs.__file__, planted_bugs.line("log")) in headline.text_content()
    assert "exact zero" in page.locator(".rootcause-reasons li").first.text_content()
    assert "Softmax" in page.locator(".rootcause-sides thead th").nth(1).text_content()
    values = page.locator(".rootcause-values .value-panel")
    expect(values).to_have_count(2)
    if run == "health":  # statistics only: the panels say so instead of drawing
        expect(values.locator(".message")).to_have_count(2)
        expect(values.first).to_contain_text("Statistics only (health mode)")
    else:
        expect(values.locator(".heatmap canvas").first).to_be_visible()
    expect(page.locator(".flow-node.culprit")).to_have_count(1)
    if run != "health":  # (the card of a health capture asks for a value it does not have)
        page.locator(".flow-node.culprit").click()
        expect(page.locator(".lineage")).to_contain_text("op Log")


PLANTED = {
    # run: (headline, source file, line, reason)
    "divide": ("RealDiv op at step 0", planted_bugs.__file__, planted_bugs.line("div"), "input 1 has 2 exact zeros"),
    "mask": ("Sqrt op at step 0", planted_bugs.__file__, planted_bugs.line("sqrt"), "input 0 has negative values"),
    "data": ("input x from outside the block at step 0", planted_bugs.__file__, None, "holds 1 NaN"),
    "mirrored": (
        "Sqrt op at step 3 (replica 1)",
        "<string>",
        planted_bugs.line("replica_sqrt", planted_bugs.MIRRORED),
        "input 0 has negative values",
    ),
}


@pytest.mark.parametrize("run", sorted(PLANTED))
def test_every_planted_bug_names_its_culprit_step_and_line(page, server, run):
    headline_text, source_file, source_line, reason = PLANTED[run]
    open_tab(page, server, "p=rootcause&run=" + run)
    headline = page.locator(".rootcause-headline")
    expect(headline).to_contain_text(headline_text)
    if source_line is not None:
        assert "%s:%d " % (source_file, source_line) in headline.text_content()
    expect(page.locator(".rootcause-reasons li").first).to_contain_text(reason)
    if run == "mask":  # also from the first ±Inf: the -inf mask, made finite by softmax, is never blamed
        page.locator(".rootcause-panel input[type=checkbox]").check()
        expect(page.locator(".rootcause-body .absorbed")).to_contain_text("Absorbed")
        expect(headline).to_contain_text("Sqrt op at step 0")
        assert "Sqrt" in page.locator(".culprit-link").text_content()


def test_a_clean_record_run(page, server):
    open_tab(page, server, "p=rootcause&run=clean_record")
    expect(page.locator(".rootcause-body .message")).to_have_text("No NaN reaches an output in clean_record.")


def test_screenshot_of_the_panel(page, server):
    from test_tab import SCREENSHOTS

    open_tab(page, server, "p=rootcause&run=underflow")
    page.locator(".flow-graph").wait_for()
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "rootcause.png"))
