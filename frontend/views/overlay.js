// Every selected run in one chart, each in its TensorBoard colour: the
// card's min / mean / max over steps, the scalar view's value over steps and
// the line view's 1-D slice. The selected runs are those ticked in the
// sidebar (the shown run always); each gets a legend entry, saying so when
// it has no capture of the tag, and a line of the hover readout, saying so
// when it has no capture at that step. A step a run lacks is a gap in its
// line (series.js), never a value made up from its neighbours.
//
// `createRunStats` fetches the other selected runs' per-step statistics
// (the shown run's come from the capture panel).

import { fetchStats, fetchValue, isAbort } from "../api.js";
import { h } from "../dom.js";
import { formatExact, formatShort } from "../format.js";
import { alignRuns, nearestStep, scalarOf, statValue } from "../series.js";
import { lineChart } from "./line.js";

/**
 * One run of an overlay.
 * @typedef {object} OverlayRun
 * @property {string} run
 * @property {string} color TensorBoard's colour for it
 * @property {import("../api.js").TagFacts|null} facts the tag's facts in this run, null if it has none
 * @property {import("../api.js").StatsRow[]|null} rows per-step statistics, null until loaded
 * @property {string|null} error why its statistics could not be fetched
 */

/**
 * The runs an overlay draws: every run ticked in the sidebar and the shown
 * one, in the sidebar's (sorted) order.
 * @param {import("../api.js").Index} index
 * @param {string[]} hidden
 * @param {string} shownRun
 */
export function overlayRunNames(index, hidden, shownRun) {
  return Object.keys(index.runs).sort().filter((run) => run === shownRun || !hidden.includes(run));
}

/**
 * Per-step statistics of one tag in several runs, fetched as needed;
 * `onChange()` when some arrive or fail.
 */
export function createRunStats(onChange) {
  let tag = null;
  const held = new Map(); // run -> {steps, rows, error, controller}

  function forget() {
    for (const entry of held.values()) entry.controller.abort();
    held.clear();
  }

  return {
    /**
     * Asks for `tag`'s statistics in `runs` (the shown run excepted); a run
     * whose step count changed is asked again, keeping its old rows meanwhile.
     */
    want({ index, tag: wanted, runs, shownRun }) {
      if (wanted !== tag) {
        forget();
        tag = wanted;
      }
      for (const run of runs) {
        const facts = index.runs[run]?.[tag];
        if (run === shownRun || !facts) continue;
        const entry = held.get(run);
        if (entry && entry.steps === facts.steps.length) continue;
        entry?.controller.abort();
        const controller = new AbortController();
        const next = { steps: facts.steps.length, rows: entry?.rows ?? null, error: null, controller };
        held.set(run, next);
        fetchStats(run, tag, controller.signal).then((reply) => {
          next.rows = reply.steps;
          onChange();
        }, (error) => {
          if (isAbort(error)) return;
          next.error = error.message;
          onChange();
        });
      }
    },
    /**
     * The overlay's runs, the shown run's statistics given by the caller.
     * @returns {OverlayRun[]}
     */
    list({ index, runs, colours, shownRun, shownRows, shownError }) {
      return runs.map((run) => {
        const facts = index.runs[run]?.[tag] ?? null;
        const entry = held.get(run);
        const shown = run === shownRun;
        return {
          run, color: colours[run] ?? "currentColor", facts,
          rows: shown ? shownRows : facts ? entry?.rows ?? null : [],
          error: shown ? shownError : entry?.error ?? null,
        };
      });
    },
    // Asks every run again (TensorBoard's reload).
    refresh: forget,
  };
}

// A colour swatch for a run.
function swatch(color) {
  return h("i", { className: "run-swatch", style: { background: color }, "aria-hidden": "true" });
}

// Why run `entry` draws nothing (or less than all), or "".
function absence(entry, tag) {
  if (!entry.facts) return `no capture named ${tag}`;
  if (entry.error) return `statistics unavailable: ${entry.error}`;
  if (!entry.rows) return "loading…";
  return "";
}

/**
 * The legend: one entry per run (colour, name, what it lacks), and a key
 * of the line styles when there are several per run.
 * @param {Array<{run: string, color: string, note?: string}>} entries
 * @param {string} [key] what the line styles mean
 */
export function overlayLegend(entries, key = "") {
  return h("div", { className: "chart-legend overlay-legend" },
    entries.map(({ run, color, note }) => h("span", { className: `overlay-entry${note ? " absent" : ""}`, dataset: { run } },
      swatch(color), run, note ? h("span", { className: "overlay-note", text: ` — ${note}` }) : null)),
    key ? h("span", { className: "overlay-key", text: key }) : null);
}

// The hover readout at one x: a line per run.
export function overlayReadout(heading, lines) {
  return h("span", { className: "overlay-readout" }, heading,
    lines.map(({ run, color, text }) => h("span", { className: "overlay-line", dataset: { run } }, swatch(color), `${run}: ${text}`)));
}

/**
 * The card's min / mean / max chart over steps for several runs: the mean
 * solid, min and max dashed, all in the run's colour.
 * @param {{runs: OverlayRun[], tag: string, marker: number|null, onPick: (step: number) => void, pickable: number[], width: number,
 *   transform?: (ys: Array<number|null>, label: string) => Array<number|null>, formatY?: (y: number) => string}} options
 *   pickable: the steps a click may pick (the shown run's); it picks the nearest; transform: what each line
 *   draws instead of its values (smoothing, log y: statschart.js), formatY its axis labels
 */
export function statsOverlayChart({ runs, tag, marker, onPick, pickable, width, transform = (ys) => ys, formatY }) {
  const drawn = runs.map((entry) => ({
    entry, rows: (entry.rows ?? []).filter((row) => row.dtype !== "string" && row.numel > 0),
  }));
  const rowAt = drawn.map(({ rows }) => new Map(rows.map((row) => [row.step, row])));
  const keys = ["max", "mean", "min"];
  const { xs, ys } = alignRuns(drawn.flatMap(({ rows }) => keys.map((key) => rows.map((row) => [row.step, statValue(row, key)]))));
  const legend = overlayLegend(runs.map((entry) => ({ run: entry.run, color: entry.color, note: absence(entry, tag) })),
    "— mean   ┄ min, max");
  if (!xs.length) return h("div", { className: "chart" }, legend);
  const series = drawn.flatMap(({ entry }, k) => keys.map((key, j) => ({
    label: `${entry.run} ${key}`, ys: transform(ys[k * 3 + j], `${entry.run} ${key}`), className: `s-run s-${key}-run`, color: entry.color,
    dash: key !== "mean", run: entry.run,
  })));
  const describe = (i) => overlayReadout(`step ${xs[i]}`, drawn.map(({ entry }, k) => {
    const row = rowAt[k].get(xs[i]);
    const text = row ? `min ${formatShort(row.min)}, mean ${formatShort(row.mean)}, max ${formatShort(row.max)}`
      : absence(entry, tag) || `no capture at step ${xs[i]}`;
    return { run: entry.run, color: entry.color, text };
  }));
  const chart = lineChart({
    xs, series, describe, marker, legend: false, height: 160, width, formatY,
    onPick: (x) => {
      const step = nearestStep(pickable, x);
      if (step !== null) onPick(step);
    },
  });
  chart.append(legend);
  return chart;
}

/**
 * A scalar's value over steps for several runs, each a line in its colour.
 * @param {{runs: OverlayRun[], tag: string, marker: number, onPick: (step: number) => void, pickable: number[], width: number}} options
 */
export function scalarOverlayChart({ runs, tag, marker, onPick, pickable, width }) {
  const drawn = runs.map((entry) => ({ entry, rows: (entry.rows ?? []).filter((row) => row.numel === 1 && row.dtype !== "string") }));
  const rowAt = drawn.map(({ rows }) => new Map(rows.map((row) => [row.step, row])));
  const { xs, ys } = alignRuns(drawn.map(({ rows }) => rows.map((row) => [row.step, scalarOf(row)])));
  const legend = overlayLegend(runs.map((entry) => ({ run: entry.run, color: entry.color, note: absence(entry, tag) })));
  if (!xs.length) return h("div", { className: "chart" }, legend);
  const chart = lineChart({
    xs,
    series: drawn.map(({ entry }, k) => ({ label: entry.run, ys: ys[k], className: "s-run", color: entry.color, run: entry.run })),
    describe: (i) => overlayReadout(`step ${xs[i]}`, drawn.map(({ entry }, k) => {
      const row = rowAt[k].get(xs[i]);
      return {
        run: entry.run, color: entry.color,
        text: row ? formatExact(scalarOf(row), row.dtype) : absence(entry, tag) || `no capture at step ${xs[i]}`,
      };
    })),
    marker, legend: false, width,
    onPick: (x) => {
      const step = nearestStep(pickable, x);
      if (step !== null) onPick(step);
    },
  });
  chart.append(legend);
  return chart;
}

/**
 * The same slice of the same step in the other overlaid runs, for the line
 * view: each run's tensor, or why it has none (no capture at that step,
 * another shape there). The shown run's tensor is given.
 * @returns {Promise<Array<{entry: OverlayRun, tensor: import("../api.js").Tensor|null, note: string}>>}
 */
export async function fetchOverlaySlices({ runs, shownRun, shownTensor, tag, step, dtype, fullShape, slice, maxCells, signal }) {
  return Promise.all(runs.map(async (entry) => {
    if (entry.run === shownRun) return { entry, tensor: shownTensor, note: "" };
    if (!entry.facts) return { entry, tensor: null, note: `no capture named ${tag}` };
    if (!entry.facts.steps.includes(step)) return { entry, tensor: null, note: `no capture at step ${step}` };
    const row = entry.rows?.find((r) => r.step === step);
    const shape = row?.shape ?? entry.facts.shape;
    if (JSON.stringify(shape) !== JSON.stringify(fullShape)) {
      return { entry, tensor: null, note: `shape [${shape.join(", ")}] at step ${step}, not [${fullShape.join(", ")}]` };
    }
    try {
      const tensor = await fetchValue({ run: entry.run, tag, step, dtype: row?.dtype ?? dtype, slice, maxCells }, signal);
      return { entry, tensor, note: "" };
    } catch (error) {
      if (isAbort(error)) throw error;
      return { entry, tensor: null, note: error.message };
    }
  }));
}
