// The card's chart of min / mean / max over every step (every selected run,
// in its colour, when several are: overlay.js), with TensorBoard's
// smoothing (the scalar dashboard's debiased exponential moving average,
// slider 0–0.999; the raw values stay drawn, pale, under the smoothed ones)
// and a log y axis. On a log axis a zero or negative value cannot be placed:
// the chart says how many, of which series and at which steps, rather than
// dropping them quietly.
//
// The controls are built once and keep their drag; update() redraws the
// chart. Both settings live in the URL (state `smoothing`, `logY`).

import { h, show } from "../dom.js";
import { formatShort, fromJsonNumber } from "../format.js";
import { logValues, MAX_SMOOTHING, smooth } from "../smoothing.js";
import { lineChart } from "./line.js";
import { statsOverlayChart } from "./overlay.js";
import { useStylesheet } from "./stylesheet.js";

const SERIES = [["max", "s-max"], ["mean", "s-mean"], ["min", "s-min"]];

// A statistic from JSON as a number (null: none, drawn as a gap).
const number = (value) => (value === null ? NaN : fromJsonNumber(value));

// Steps listed briefly: "3, 7, 9" or "3, 7, … (12 steps)".
function stepList(steps) {
  return steps.length <= 4 ? steps.join(", ") : `${steps.slice(0, 3).join(", ")}, … (${steps.length} steps)`;
}

// onSettings({smoothing} | {logY}): a control changed.
export function createStatsChart({ onSettings }) {
  useStylesheet("./static/views/statistics.css");
  const slider = h("input", {
    type: "range", className: "smoothing-slider", min: 0, max: MAX_SMOOTHING, step: 0.001, value: 0,
    "aria-label": "smoothing", oninput: () => onSettings({ smoothing: Number(slider.value) }),
  });
  const weight = h("input", {
    type: "number", className: "smoothing-value", min: 0, max: MAX_SMOOTHING, step: 0.001, value: 0,
    "aria-label": "smoothing weight",
    onchange: () => {
      const value = Number(weight.value);
      if (Number.isFinite(value)) onSettings({ smoothing: Math.min(Math.max(value, 0), MAX_SMOOTHING) });
    },
  });
  const logBox = h("input", { type: "checkbox", className: "log-y", onchange: () => onSettings({ logY: logBox.checked }) });
  const controls = h("div", { className: "chart-controls" },
    h("label", { title: "TensorBoard's smoothing: a debiased exponential moving average" }, "smoothing ", slider, weight),
    h("label", null, logBox, " log y"));
  const chartBox = h("div", { className: "stats-chart-plot" });
  const note = h("div", { className: "chart-note", role: "note" });
  const element = h("div", { className: "stats-chart-box" }, controls, chartBox, note);

  /**
   * @param {object} options
   * @param {import("../api.js").StatsRow[]} options.rows numeric rows (numel > 0), by step
   * @param {number|null} options.marker the shown step
   * @param {(step: number) => void} options.onPick
   * @param {number} options.smoothing
   * @param {boolean} options.logY
   * @param {number} options.width
   */
  function update({ rows, overlay = null, marker, onPick, smoothing, logY, width }) {
    if (document.activeElement !== slider) slider.value = String(smoothing);
    if (document.activeElement !== weight) weight.value = String(smoothing);
    logBox.checked = logY;
    const formatY = logY ? (y) => formatShort(10 ** y) : formatShort;
    const placed = (ys) => (logY ? logValues(ys) : { values: ys, nonPositive: [] });
    const notes = [];
    if (overlay) {
      // Several runs: each run's lines smoothed and placed alike (statsOverlayChart draws them).
      element.hidden = false;
      show(chartBox, statsOverlayChart({
        ...overlay, marker, onPick, width, formatY,
        transform: (ys, label) => {
          const line = placed(smooth(ys, smoothing));
          const lost = placed(ys).nonPositive;
          if (lost.length) notes.push(`${label} ≤ 0 at ${lost.length} step${lost.length > 1 ? "s" : ""}`);
          return line.values;
        },
      }));
      showNotes(notes);
      return;
    }
    element.hidden = rows.length <= 1;
    if (rows.length <= 1) {
      show(chartBox);
      show(note);
      return;
    }
    const xs = rows.map((r) => r.step);
    const raw = Object.fromEntries(SERIES.map(([key]) => [key, rows.map((r) => number(r[key]))]));
    const smoothed = Object.fromEntries(SERIES.map(([key]) => [key, smooth(raw[key], smoothing)]));
    const series = [];
    for (const [key, className] of SERIES) {
      const line = placed(smoothed[key]);
      const data = placed(raw[key]);
      const lost = [...new Set([...data.nonPositive, ...line.nonPositive])].sort((a, b) => a - b);
      if (lost.length) notes.push(`${key} ≤ 0 at step ${stepList(lost.map((i) => xs[i]))}`);
      if (smoothing > 0) series.push({ label: `${key} (raw)`, ys: data.values, className, faint: true });
      series.push({ label: key, ys: line.values, className });
    }
    const describe = (i) => {
      const r = rows[i];
      const part = (key) => `${key} ${formatShort(r[key])}${smoothing > 0 ? ` (smoothed ${formatShort(smoothed[key][i])})` : ""}`;
      return `step ${r.step}: ${part("min")}, ${part("mean")}, ${part("max")}`;
    };
    show(chartBox, lineChart({ xs, series, describe, marker, onPick, height: 140, width, formatY }));
    showNotes(notes);
  }

  function showNotes(notes) {
    show(note, notes.length
      ? h("span", { className: "bad", text: `Log y: ${notes.join("; ")} cannot be drawn (gaps in the lines).` })
      : null);
  }
  return { element, update };
}
