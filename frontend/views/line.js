// Line charts in SVG: a 1-D value, a scalar over steps, min/mean/max over steps.
//
// `lineChart` draws series sharing one x axis; non-finite points break the
// line and are marked on the top edge. Hovering shows a readout of the
// nearest point; clicking reports its x (the card uses it to pick a step).
// The line view fetches a 1-D slice (pooled beyond a few thousand points).

import { fetchValue } from "../api.js";
import { h, show, svg } from "../dom.js";
import { formatShort } from "../format.js";
import { survey } from "../ranges.js";
import { displayedAxes, expandSlice, fullIndex, parseSlice } from "../slicing.js";
import { fetchOverlaySlices, overlayLegend, overlayReadout } from "./overlay.js";

const DEFAULT_WIDTH = 640;
const MIN_WIDTH = 240;
const MARGIN = { left: 58, right: 12, top: 10, bottom: 22 };
const LINE_CELLS = 4096;

// Index in sorted `xs` nearest to `x`.
function nearest(xs, x) {
  let lo = 0;
  let hi = xs.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] <= x) lo = mid;
    else hi = mid;
  }
  return Math.abs(xs[hi] - x) < Math.abs(xs[lo] - x) ? hi : lo;
}

// The y range of the finite values, padded when it is a single value.
function extent(numbers) {
  const { lo, hi, finite } = survey(numbers);
  if (!finite) return [0, 1];
  if (lo === hi) return [lo - (Math.abs(lo) || 1) / 2, hi + (Math.abs(hi) || 1) / 2];
  return [lo, hi];
}

// xs: sorted numbers; series: [{label, ys, className, color?, dash?, run?, faint?}]
// (ys[i] null: nothing at xs[i], a gap; `color` a CSS colour for the line,
// `run` kept in its data-run; a faint series, such as the raw values under a
// smoothed line, is drawn pale and left out of the legend); describe(i): the
// readout of point i (text or a node); marker: an x to mark (or null);
// onPick(x): on click; legend: whether to name the series under the chart;
// formatY(y): a y axis label (log axes).
// `width`: the CSS pixels the chart will take (its container's width), so
// its text is drawn at its own size, not scaled down with the drawing.
export function lineChart({
  xs, series, describe, marker = null, onPick = null, height = 170, width = 0, legend: named = true,
  formatY = formatShort,
}) {
  const WIDTH = Math.max(MIN_WIDTH, Math.min(width || DEFAULT_WIDTH, 1200));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const [x0, x1] = xs.length > 1 ? [xs[0], xs[xs.length - 1]] : [xs[0] - 1, xs[0] + 1];
  const [y0, y1] = extent(series.flatMap((s) => Array.from(s.ys)).filter((y) => y !== null && y !== undefined));
  const px = (x) => MARGIN.left + ((x - x0) / (x1 - x0)) * plotW;
  const py = (y) => MARGIN.top + (1 - (y - y0) / (y1 - y0)) * plotH;

  const paths = series.map(({ ys, className, color = null, dash = false, run = null, faint = false }) => {
    let d = "";
    let pen = "M";
    const flags = [];
    const dots = [];
    const dotStyle = color ? { stroke: color, fill: color } : null;
    const drawn = (i) => i >= 0 && i < xs.length && Number.isFinite(ys[i]);
    xs.forEach((x, i) => {
      if (drawn(i)) {
        d += `${pen}${px(x).toFixed(1)},${py(ys[i]).toFixed(1)}`;
        pen = "L";
        // A point with no drawn neighbour has no segment: a dot keeps it visible.
        if (!drawn(i - 1) && !drawn(i + 1)) dots.push(svg("circle", { className, style: dotStyle, cx: px(x), cy: py(ys[i]), r: 2.5 }));
      } else {
        pen = "M";
        // A missing point (null: not captured there) is a gap; a non-finite one is also flagged.
        if (ys[i] !== null && ys[i] !== undefined) {
          flags.push(svg("rect", { className: "nonfinite", x: px(x) - 1.5, y: MARGIN.top - 6, width: 3, height: 5 }));
        }
      }
    });
    return [svg("path", {
      className: `series ${className}${dash ? " dashed" : ""}${faint ? " faint" : ""}`, d,
      style: color ? { stroke: color } : null, dataset: run === null ? null : { run },
    }), faint ? null : dots, faint ? null : flags];
  });
  const rule = svg("line", { className: "rule", y1: MARGIN.top, y2: MARGIN.top + plotH, visibility: "hidden" });
  const markerLine = marker === null ? null : svg("line", {
    className: "marker", x1: px(marker), x2: px(marker), y1: MARGIN.top, y2: MARGIN.top + plotH,
  });
  const label = (x, y, text, anchor) => svg("text", { x, y, "text-anchor": anchor, text });
  const overlay = svg("rect", {
    className: "overlay", x: MARGIN.left, y: MARGIN.top, width: plotW, height: plotH,
  });
  const chart = svg("svg", {
    className: "line-chart", viewBox: `0 0 ${WIDTH} ${height}`, width: WIDTH, height,
    dataset: { yDomain: `${y0},${y1}`, xDomain: `${x0},${x1}` },
  },
    svg("rect", { className: "frame", x: MARGIN.left, y: MARGIN.top, width: plotW, height: plotH }),
    label(MARGIN.left - 4, MARGIN.top + 9, formatY(y1), "end"),
    label(MARGIN.left - 4, MARGIN.top + plotH, formatY(y0), "end"),
    label(MARGIN.left, height - 6, formatShort(xs[0]), "start"),
    label(WIDTH - MARGIN.right, height - 6, formatShort(xs[xs.length - 1]), "end"),
    paths, markerLine, rule, overlay);
  const readout = h("div", { className: "readout", text: "\u00a0" });
  const shownSeries = series.filter((s) => !s.faint);
  const legend = named && shownSeries.length > 1
    ? h("div", { className: "chart-legend" }, shownSeries.map((s) => h("span", { className: s.className, text: s.label })))
    : null;

  const pointAt = (event) => {
    const box = chart.getBoundingClientRect();
    const x = x0 + (((event.clientX - box.left) * WIDTH) / box.width - MARGIN.left) / plotW * (x1 - x0);
    return nearest(xs, x);
  };
  overlay.addEventListener("pointermove", (event) => {
    const i = pointAt(event);
    rule.setAttribute("x1", px(xs[i]));
    rule.setAttribute("x2", px(xs[i]));
    rule.setAttribute("visibility", "visible");
    readout.replaceChildren(describe(i));
  });
  overlay.addEventListener("pointerleave", () => rule.setAttribute("visibility", "hidden"));
  if (onPick) {
    overlay.classList.add("pickable");
    overlay.addEventListener("click", (event) => onPick(xs[pointAt(event)]));
  }
  return h("div", { className: "chart" }, chart, legend, readout);
}

// The line view: a 1-D slice of the value, plotted against its index;
// with several runs selected, the same slice of the same step in each run,
// in its colour (overlay.js).
export function createLineView() {
  const element = h("div", { className: "line-view" });
  return {
    element,
    async update({ run, tag, step, dtype, fullShape, sliceText, overlay, signal }) {
      const tensor = await fetchValue({ run, tag, step, dtype, slice: sliceText, maxCells: LINE_CELLS }, signal);
      const runs = overlay ? await fetchOverlaySlices({
        runs: overlay, shownRun: run, shownTensor: tensor, tag, step, dtype, fullShape, slice: sliceText,
        maxCells: LINE_CELLS, signal,
      }) : null;
      const entries = expandSlice(parseSlice(tensor.slice), fullShape);
      const factor = tensor.pooled ? tensor.pooled[0] : 1;
      const positions = Array.from({ length: tensor.size }, (_, i) => i * factor);
      const axis = displayedAxes(entries)[0];
      const xs = positions.map((p) => fullIndex(entries, fullShape, [p])[axis]);
      const order = xs.length > 1 && xs[0] > xs[1] ? [...xs.keys()].reverse() : [...xs.keys()];
      const block = tensor.pooled ? ` (mean of ${factor} from here)` : "";
      const where = (i) => `x[${fullIndex(entries, fullShape, [positions[i]]).join(", ")}]`;
      if (!runs) {
        show(element, lineChart({
          xs: order.map((i) => xs[i]),
          series: [{ label: tag, ys: order.map((i) => tensor.values[i]), className: "s-value" }],
          describe: (k) => `${where(order[k])} = ${tensor.text(order[k])}${block}`,
          width: element.clientWidth,
        }));
        return;
      }
      const drawn = runs.filter((r) => r.tensor);
      const chart = lineChart({
        xs: order.map((i) => xs[i]),
        series: drawn.map(({ entry, tensor: t }) => ({
          label: entry.run, ys: order.map((i) => t.values[i]), className: "s-run", color: entry.color, run: entry.run,
        })),
        describe: (k) => overlayReadout(`${where(order[k])}${block}, step ${step}`, runs.map(({ entry, tensor: t, note }) => ({
          run: entry.run, color: entry.color, text: t ? t.text(order[k]) : note,
        }))),
        legend: false,
        width: element.clientWidth,
      });
      chart.append(overlayLegend(runs.map(({ entry, note }) => ({ run: entry.run, color: entry.color, note }))));
      show(element, chart);
    },
  };
}
