// Histograms over steps (the "Over steps" view): every step's histogram of
// the capture (or of its slice) on common bin edges from /histograms, drawn
// as TensorBoard's histogram dashboard does, offset (ridges stacked in
// depth, the newest in front) or overlaid. Hovering reads out the step, the
// bin and its count; NaN, +Inf and -Inf are counted beside each ridge and in
// the readout, never dropped. When the server shows only some of the steps
// (thousands of them), the view says how many and which way. With several
// runs selected, each run holding the tag has its chart, under its colour.

import { fetchHistograms, isAbort } from "../api.js";
import { h, show, svg } from "../dom.js";
import { formatCount, formatShort } from "../format.js";
import { binAt, binText, countY, stepAt, traceLayout } from "../histogramsteps.js";
import { useStylesheet } from "./stylesheet.js";

const HEIGHT = 320;
const MARGIN = { left: 56, right: 150, top: 12, bottom: 24 };
const BIN_CHOICES = [10, 30, 100];
const STEP_CHOICES = [50, 100, 300];
const MODES = [["offset", "offset"], ["overlay", "overlay"]];

const nonFiniteText = (row) => [["NaN", row.nan], ["+Inf", row.posinf], ["-Inf", row.neginf]]
  .filter(([, n]) => n).map(([label, n]) => `${label} ${formatCount(n)}`).join(" ");

// Shade of step k of `count`: older steps paler (TensorBoard's depth cue).
const shade = (k, count) => (count <= 1 ? 1 : 0.35 + (0.65 * k) / (count - 1));

function chart(reply, mode, width, readout) {
  const rows = reply.steps;
  const edges = reply.edges;
  const bins = Math.max(edges.length - 1, 1);
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const layout = traceLayout(mode, rows.length, MARGIN.top, plotH);
  const most = Math.max(1, ...rows.flatMap((row) => row.counts));
  const binX = (i) => MARGIN.left + ((i + 0.5) / bins) * plotW;
  // Label every ridge that has room (about 14 px apart), the newest always.
  const spacing = rows.length > 1 ? Math.abs(layout[1].baseline - layout[0].baseline) : Infinity;
  const stride = mode === "offset" ? Math.max(1, Math.ceil(14 / spacing)) : Infinity;
  const labelled = (k) => k === rows.length - 1 || (rows.length - 1 - k) % stride === 0;
  const traces = rows.map((row, k) => {
    const trace = layout[k];
    const points = row.counts.map((count, i) => `${binX(i).toFixed(2)},${countY(count, trace, most).toFixed(2)}`);
    const line = `M${points.join("L")}`;
    const area = `M${binX(0).toFixed(2)},${trace.baseline}L${points.join("L")}L${binX(bins - 1).toFixed(2)},${trace.baseline}Z`;
    const bad = nonFiniteText(row);
    // Older steps paler (the lines only: labels keep their contrast).
    return svg("g", { className: "trace" },
      svg("g", { style: { opacity: String(shade(k, rows.length)) } },
        mode === "offset" ? svg("path", { className: "ridge-area", d: area }) : null,
        svg("path", {
          className: "ridge", d: line,
          dataset: { step: String(row.step), baseline: String(trace.baseline), height: String(trace.height) },
        })),
      labelled(k)
        ? svg("text", { className: "ridge-label", x: MARGIN.left + plotW + 6, y: trace.baseline, text: `step ${row.step}` })
        : null,
      bad && mode === "offset"
        ? svg("text", { className: "ridge-bad", x: MARGIN.left + plotW + 70, y: trace.baseline, text: bad })
        : null);
  });
  const dot = svg("circle", { className: "ridge-dot", r: 3.5, visibility: "hidden" });
  const overlay = svg("rect", { className: "overlay", x: MARGIN.left, y: MARGIN.top, width: plotW, height: plotH });
  const label = (x, y, text, anchor) => svg("text", { className: "axis-label", x, y, "text-anchor": anchor, text });
  const picture = svg("svg", {
    className: `step-histograms ${mode}`, viewBox: `0 0 ${width} ${HEIGHT}`, width, height: HEIGHT,
    dataset: { maxCount: String(most), bins: String(bins) },
  },
  traces,
  label(MARGIN.left, HEIGHT - 6, formatShort(edges[0]), "start"),
  label(MARGIN.left + plotW, HEIGHT - 6, formatShort(edges[edges.length - 1]), "end"),
  mode === "overlay" ? label(MARGIN.left - 4, MARGIN.top + 9, formatCount(most), "end") : null,
  dot, overlay);
  overlay.addEventListener("pointermove", (event) => {
    const box = picture.getBoundingClientRect();
    const x = ((event.clientX - box.left) * width) / box.width;
    const y = ((event.clientY - box.top) * HEIGHT) / box.height;
    const bin = binAt(x, MARGIN.left, plotW, bins);
    const k = bin < 0 ? -1 : stepAt(y, bin, rows, layout, most, mode);
    if (k < 0) return;
    const row = rows[k];
    dot.setAttribute("cx", binX(bin));
    dot.setAttribute("cy", countY(row.counts[bin], layout[k], most));
    dot.setAttribute("visibility", "visible");
    const bad = nonFiniteText(row);
    readout.textContent = `step ${row.step}: ${binText(edges, bin, (v) => formatShort(v, 6))} holds ${formatCount(row.counts[bin])} of ${formatCount(row.numel)}${bad ? ` · ${bad}` : ""}`;
  });
  overlay.addEventListener("pointerleave", () => dot.setAttribute("visibility", "hidden"));
  return picture;
}

// What the reply leaves out, in words: steps not shown, steps without values, non-finite counts.
function notes(reply) {
  const out = [];
  if (reply.sampled) {
    out.push(`Showing ${formatCount(reply.steps.length)} of ${formatCount(reply.total_steps)} steps, evenly spaced (first and last kept): the server downsampled them.`);
  }
  if (reply.statistics_only.length) {
    out.push(`${formatCount(reply.statistics_only.length)} steps kept only statistics (health mode) and have no histogram.`);
  }
  const bad = reply.steps.filter((row) => row.nan || row.posinf || row.neginf);
  if (bad.length) {
    const total = (key) => formatCount(bad.reduce((sum, row) => sum + row[key], 0));
    out.push(`Not in any bin: NaN ${total("nan")}, +Inf ${total("posinf")}, -Inf ${total("neginf")} in ${formatCount(bad.length)} of the steps shown (step${bad.length > 1 ? "s" : ""} ${bad.slice(0, 5).map((row) => row.step).join(", ")}${bad.length > 5 ? ", …" : ""}).`);
  }
  return out;
}

function choice(label, options, current, onChange) {
  const select = h("select", { "aria-label": label, onchange: () => onChange(select.value) },
    options.map(([value, text]) => h("option", { value, text, selected: String(value) === String(current) })));
  return h("label", null, `${label} `, select);
}

// One run's histograms: its chart, readout and notes (with its name and colour when several runs are shown).
function runSection(entry, reply, mode, width, several) {
  const readout = h("div", { className: "readout", text: "\u00a0" });
  const title = several
    ? h("div", { className: "run-title" }, h("i", { className: "run-swatch", style: { background: entry.color } }), entry.run)
    : null;
  if (reply.error) {
    return h("section", { className: "run-histograms", dataset: { run: entry.run } }, title,
      h("div", { className: "message error", text: reply.error }));
  }
  return h("section", { className: "run-histograms", dataset: { run: entry.run } }, title,
    reply.edges.length ? chart(reply, mode, width, readout) : h("div", { className: "message", text: "No finite values at any step shown." }),
    readout,
    notes(reply).map((text) => h("div", { className: "message note", text })));
}

export function createStepHistogramsView() {
  useStylesheet("./static/views/statistics.css");
  let bins = 30;
  let maxSteps = 100;
  const controls = h("div", { className: "toolbar" });
  const body = h("div");
  const element = h("div", { className: "step-histograms-view" }, controls, body);

  // Every selected run holding the tag gets its own chart, as TensorBoard's
  // histogram dashboard shows one per run (the shown run first); a run whose
  // histograms cannot be had says why in its place.
  async function update({ run, tag, sliceText, settings, setSettings, overlay, signal, rerender }) {
    const others = (overlay ?? []).filter((entry) => entry.facts && entry.run !== run);
    const shownColour = overlay?.find((entry) => entry.run === run)?.color ?? null;
    const entries = [{ run, color: shownColour }, ...others];
    const request = (entry) => fetchHistograms({ run: entry.run, tag, bins, maxSteps, slice: sliceText }, signal);
    const replies = await Promise.all(entries.map((entry, k) => (k === 0 ? request(entry)
      : request(entry).catch((error) => {
        if (isAbort(error)) throw error;
        return { error: error.message };
      }))));
    const mode = settings.histogramMode;
    show(controls,
      choice("mode", MODES, mode, (value) => setSettings({ histogramMode: value })),
      choice("bins", BIN_CHOICES.map((n) => [n, String(n)]), bins, (value) => { bins = Number(value); rerender(); }),
      choice("steps at most", STEP_CHOICES.map((n) => [n, String(n)]), maxSteps, (value) => { maxSteps = Number(value); rerender(); }));
    const width = Math.max(480, Math.min(element.clientWidth || 800, 1100));
    show(body, entries.map((entry, k) => runSection(entry, replies[k], mode, width, entries.length > 1)));
  }
  return { element, update };
}
