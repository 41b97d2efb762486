// The histogram view: equal-width bins over the finite values of the whole
// capture (from /histogram), with the NaN, +Inf and -Inf counts beside it.

import { fetchHistogram } from "../api.js";
import { h, show, svg } from "../dom.js";
import { formatCount, formatShort } from "../format.js";

const WIDTH = 640;
const HEIGHT = 200;
const MARGIN = { left: 50, right: 10, top: 8, bottom: 22 };
const BIN_CHOICES = [10, 30, 100, 300];

function bars(bins, readout) {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const most = Math.max(...bins.map((b) => b.count), 1);
  const width = plotW / bins.length;
  const rects = bins.map((bin, i) => {
    const barH = (bin.count / most) * plotH;
    const rect = svg("rect", {
      className: "bar", x: MARGIN.left + i * width, y: MARGIN.top + plotH - barH,
      width: Math.max(width - 1, 1), height: barH,
    });
    rect.addEventListener("pointerenter", () => {
      // Bins are half-open except the last, which holds the maximum.
      const close = i === bins.length - 1 ? "]" : ")";
      readout.textContent = `[${formatShort(bin.left, 6)}, ${formatShort(bin.right, 6)}${close}: ${formatCount(bin.count)}`;
    });
    return rect;
  });
  const label = (x, y, text, anchor) => svg("text", { x, y, "text-anchor": anchor, text });
  return svg("svg", { className: "histogram-chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}` },
    rects,
    label(MARGIN.left - 4, MARGIN.top + 9, formatCount(most), "end"),
    label(MARGIN.left - 4, MARGIN.top + plotH, "0", "end"),
    label(MARGIN.left, HEIGHT - 6, formatShort(bins[0].left), "start"),
    label(WIDTH - MARGIN.right, HEIGHT - 6, formatShort(bins[bins.length - 1].right), "end"));
}

export function createHistogramView() {
  let bins = 30;
  let rerender = null;
  const body = h("div");
  const choice = h("select", {
    onchange: () => {
      bins = Number(choice.value);
      rerender?.();
    },
  }, BIN_CHOICES.map((n) => h("option", { value: n, text: `${n} bins`, selected: n === bins })));
  const element = h("div", { className: "histogram-view" }, h("div", { className: "toolbar" }, choice), body);

  async function update({ run, tag, step, signal, rerender: again }) {
    rerender = again;
    const reply = await fetchHistogram({ run, tag, step, bins }, signal);
    const readout = h("div", { className: "readout", text: "\u00a0" });
    const count = (label, n, className) =>
      h("span", { className: `count ${n ? className : ""}`, text: `${label}: ${formatCount(n)}` });
    show(body,
      reply.bins.length ? bars(reply.bins, readout) : h("div", { className: "message", text: "No finite values." }),
      readout,
      h("div", { className: "counts" },
        count("elements", reply.numel, ""), count("NaN", reply.nan, "bad"),
        count("+Inf", reply.posinf, "bad"), count("-Inf", reply.neginf, "bad")),
    );
  }
  return { element, update };
}
