// The capture card: what a capture is (name, run, dtype, shape, source
// line), its statistics at the shown step, a chart of min / mean / max over
// every step (every selected run's, in its colour, when several are), and
// the step control (slider, ◀ ▶, ←/→ keys, play).
//
// The card's controls are built once per tag and updated in place, so the
// step slider keeps its drag while the views follow it.

import { npyUrl } from "../api.js";
import { h, show } from "../dom.js";
import { formatCount, formatShape, formatShort, summaryLine } from "../format.js";
import { createStatsChart } from "./statschart.js";

const PLAY_MS = 700;
const STAT_ROWS = [
  ["numel", "elements", formatCount], ["min", "min", formatShort], ["max", "max", formatShort],
  ["mean", "mean", formatShort], ["std", "std", formatShort], ["nan", "NaN", formatCount],
  ["posinf", "+Inf", formatCount], ["neginf", "-Inf", formatCount], ["zeros", "zeros", formatCount],
];
const STRING_STAT_ROWS = [["numel", "elements", formatCount], ["zeros", "empty", formatCount]];

function basename(path) {
  return path.split(/[\\/]/).pop();
}

// onStep(step): a step was picked; onRun(run): another run was picked;
// onChart({smoothing} | {logY}): the min/mean/max chart's settings changed.
export function createCard({ onStep, onRun, onChart }) {
  const title = h("h2", { className: "capture-name" });
  const description = h("p", { className: "description" });
  const runChoice = h("select", { className: "run-choice", "aria-label": "run", onchange: () => onRun(runChoice.value) });
  const typeLabel = h("span", { className: "facts" });
  const source = h("span", { className: "source" });
  // Captures written again at a step already captured (a step frozen inside
  // tf.function): all kept on disk, the last shown per step.
  const repeats = h("span", { className: "repeats", hidden: true });
  const download = h("a", {
    className: "download", text: "⤓ .npy", download: true,
    title: "download this step's exact values as a .npy file (np.load)",
  });
  const statsBox = h("dl", { className: "stats" });
  const chartBox = h("div", { className: "stats-chart" });
  const chart = createStatsChart({ onSettings: onChart });
  chartBox.append(chart.element);
  let chartSettings = { smoothing: 0, logY: false };
  const oneLine = h("p", { className: "summary-line" });
  const slider = h("input", {
    type: "range", className: "step-slider", min: 0, max: 0, step: 1, "aria-label": "step",
    oninput: () => onStep(steps[Number(slider.value)]),
  });
  const stepLabel = h("span", { className: "step-label" });
  const play = h("button", { className: "play", title: "play through the steps", onclick: () => toggle() });
  const element = h("section", { className: "card" },
    h("header", null, title, h("div", { className: "meta" }, runChoice, typeLabel, source, repeats, download)),
    description,
    oneLine,
    h("div", { className: "step-control" },
      h("button", { title: "previous step (←)", text: "◀", onclick: () => stepBy(-1) }),
      slider,
      h("button", { title: "next step (→)", text: "▶", onclick: () => stepBy(1) }),
      play, stepLabel),
    h("div", { className: "card-body" }, statsBox, chartBox));

  let steps = [];
  let shown = { run: "", tag: "" };
  let position = 0;
  let stats = null;
  let timer = null;

  function stepBy(delta) {
    const next = position + delta;
    if (next >= 0 && next < steps.length) onStep(steps[next]);
  }

  function toggle(on = timer === null) {
    clearInterval(timer);
    timer = null;
    if (on && steps.length > 1) {
      if (position === steps.length - 1) onStep(steps[0]);
      timer = setInterval(() => {
        if (position >= steps.length - 1) toggle(false);
        else stepBy(1);
      }, PLAY_MS);
    }
    play.textContent = timer === null ? "▷ play" : "❚❚ pause";
  }
  toggle(false);

  let statsError = null;
  let overlay = null; // the selected runs' statistics when several are selected (overlay.js)

  function renderStats() {
    const row = stats?.find((r) => r.step === steps[position]);
    oneLine.textContent = row ? summaryLine(row) : "\u00a0";
    if (statsError && !row) {
      show(statsBox, h("dt", { className: "bad", text: `statistics unavailable: ${statsError}` }));
    } else if (!row) {
      show(statsBox, h("dt", { className: stats ? null : "loading", text: stats ? "no statistics" : "loading…" }));
    } else {
      show(statsBox, (row.dtype === "string" ? STRING_STAT_ROWS : STAT_ROWS).map(([key, label, format]) => [
        h("dt", { text: label }),
        h("dd", { className: ["nan", "posinf", "neginf"].includes(key) && row[key] ? "bad" : null, text: format(row[key]) }),
      ]));
    }
    chart.update({
      rows: stats?.filter((r) => r.dtype !== "string" && r.numel > 0) ?? [],
      overlay: overlay ? { runs: overlay, tag: shown.tag, pickable: steps } : null,
      marker: steps[position],
      onPick: onStep,
      ...chartSettings,
      width: chartBox.clientWidth,
    });
  }

  return {
    element,
    stepBy,
    // A capture: its tag, the runs holding it, its index facts and steps.
    setCapture({ run, tag, runs, facts }) {
      shown = { run, tag };
      title.textContent = tag;
      title.title = `${tag} in ${run}`;
      description.textContent = facts.description || "";
      description.hidden = !facts.description;
      show(runChoice, runs.map((r) => h("option", { value: r, text: r, selected: r === run })));
      const src = facts.source;
      source.textContent = src ? `${basename(src.file)}:${src.line}` : "";
      source.title = src ? `${src.file}:${src.line} in ${src.function}()` : "";
      steps = facts.steps;
      repeats.hidden = !facts.repeats;
      repeats.textContent = facts.repeats ? `${formatCount(facts.repeats)} repeated` : "";
      repeats.title = facts.repeats ? `${facts.repeats} captures were written at a step that already held one ` +
        "(often a step frozen inside tf.function). All are kept: this card shows the last at each step; " +
        "alerts and divergence read every one; `tensorcap show --repeat K` prints the others." : "";
      slider.max = String(Math.max(steps.length - 1, 0));
    },
    // The shown step, and the dtype and shape it has.
    setStep(step, { dtype, shape }) {
      position = Math.max(steps.indexOf(step), 0);
      slider.value = String(position);
      stepLabel.textContent = `step ${step} (${position + 1} of ${steps.length})`;
      typeLabel.textContent = `${dtype} ${formatShape(shape)}`;
      download.href = npyUrl({ ...shown, step });
      renderStats();
    },
    setStats(rows) {
      stats = rows;
      statsError = null;
      renderStats();
    },
    // The statistics could not be fetched: say so instead of "loading…".
    statsFailed(text) {
      statsError = text;
      renderStats();
    },
    // Several selected runs: the chart overlays them (OverlayRun[]), or null for the shown run alone.
    setOverlay(runs) {
      overlay = runs;
      renderStats();
    },
    // The chart's smoothing and log-y settings (from the URL state).
    setChart({ smoothing, logY }) {
      if (smoothing === chartSettings.smoothing && logY === chartSettings.logY) return;
      chartSettings = { smoothing, logY };
      renderStats();
    },
    stop: () => toggle(false),
  };
}
