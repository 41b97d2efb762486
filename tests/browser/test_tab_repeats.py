"""The tab tells repeated captures and NaN/Inf mismatches (issue 10), in headless Chromium.

Its own small logdir: runs "a" and "b" each write "logp" three times at step
0 (a step frozen inside tf.function), and b's later captures hold a NaN where
a's are finite.
"""

import numpy as np
import pytest
from servers import TensorBoardProcess
from test_tab import open_tab, wait_index_complete, wait_view

CALLS = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import tensorflow as tf

    import tb_tensorcap as tensorcap

    logdir = tmp_path_factory.mktemp("tab_repeats") / "logs"
    for run in ("a", "b"):
        writer = tf.summary.create_file_writer(str(logdir / run))
        for call in range(CALLS):
            value = np.arange(4, dtype=np.float32) + call
            if run == "b" and call >= 1:
                value[0] = np.nan
            tensorcap.capture(value, "logp", step=0, writer=writer)
        writer.close()
    with TensorBoardProcess(logdir) as process:
        wait_index_complete(process)
        yield process


def test_card_counts_repeats_and_diff_counts_nan_mismatches(page, server):
    open_tab(page, server, "run=a&tag=logp&step=0")
    wait_view(page)
    repeats = page.locator(".card .repeats")
    assert repeats.text_content() == "%d repeated" % (CALLS - 1)
    assert "All are kept" in repeats.get_attribute("title")

    page.locator("button.diff-toggle").click()
    page.locator('select[aria-label="run B"]').select_option("b")
    page.wait_for_function("document.querySelector('.diff-stats')?.textContent.includes('NaN/Inf differ1')")
    stats = page.locator(".diff-stats").text_content()
    assert "reasonnonfinite" in stats and "max |A−B|0" in stats


def test_divergence_panel_names_the_nonfinite_parting(page, server):
    open_tab(page, server, "p=divergence")
    headline = page.locator(".first-divergence")
    headline.wait_for()
    text = headline.text_content()
    assert "logp at step 0" in text and "repeat 1" in text and "nonfinite" in text and "1 NaN/Inf differ" in text
    row = page.locator(".divergence-table tbody tr").first
    cells = row.locator("td").all_text_contents()
    assert cells[0] == "logp" and cells[4] == "2" and cells[-1] == "nonfinite"
