"""Regenerates the README's screenshots of the TensorCap tab from the demo runs.

    python demo/train.py --logdir runs
    python demo/screenshots.py --logdir runs      # writes docs/tab-*.png

Each picture is taken inside a real `tensorboard` (started here on a free
loopback port and stopped afterwards), through TensorBoard's own page and
URL, with Debian's Chromium (/usr/bin/chromium) driven by Playwright.
"""

import argparse
import os
import sys
import time

from playwright import sync_api

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))
from servers import CHROMIUM, CHROMIUM_ARGS, TensorBoardProcess  # noqa: E402

DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs")

# (file, TensorCap URL state, whether TensorBoard is in dark mode, the view's ready selector)
SHOTS = [
    ("tab-heatmap.png", "run=nan&tag=dense1/activation&step=8", False, ".viewport-canvas"),
    ("tab-slice-4d.png", "run=healthy&tag=conv/activation&step=15&slice=3, :, :, 1", False, ".viewport-canvas"),
    ("tab-nan-dark.png", "run=nan&tag=dense1/activation&step=8", True, ".viewport-canvas"),
    ("tab-histograms.png", "run=healthy&tag=dense1/kernel&view=steps", False, "svg.step-histograms"),
    ("tab-small-multiples.png", "run=healthy&tag=conv/activation&step=15&view=facets", False, ".facet-canvas"),
]


def plugin_frame(page):
    for _ in range(600):
        frame = next((f for f in page.frames if "plugin_entry.html" in f.url), None)
        if frame is not None and frame.query_selector(".app"):
            return frame
        page.wait_for_timeout(100)
    raise RuntimeError("the TensorCap tab did not render")


def shoot(browser, server, name, state, dark, ready):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    fragment = "&".join("p.tensorcap.%s" % part for part in state.replace(" ", "%20").split("&"))
    page.goto(server.base + "/#tensorcap&" + fragment)
    frame = plugin_frame(page)
    if dark:
        page.locator("app-header-dark-mode-toggle-component button").click()
        page.locator("[role=menuitem]", has_text="Dark").click()
        frame.wait_for_function("() => document.documentElement.dataset.theme === 'dark'")
    frame.wait_for_selector(ready)
    frame.wait_for_function("""() => {
        const host = document.querySelector(".view-host");
        return host && !host.classList.contains("loading") && !host.classList.contains("blank");
    }""")
    time.sleep(0.5)  # the last frame painted
    page.screenshot(path=os.path.join(DOCS, name))
    page.close()
    print("wrote docs/%s" % name)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logdir", default="runs")
    args = parser.parse_args(argv)
    with TensorBoardProcess(args.logdir) as server, sync_api.sync_playwright() as playwright:
        for _ in range(240):
            status, index = server.get_json("/data/plugin/tensorcap/index")
            if status == 200 and index.get("complete", True):
                break
            time.sleep(0.5)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for shot in SHOTS:
            shoot(browser, server, *shot)
        browser.close()


if __name__ == "__main__":
    main()
