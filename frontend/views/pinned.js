// The Pinned panel: pinned captures side by side in a grid, with one step
// slider and one colour range for all of them.
//
// Each card (pins.js expands the pins into cards) shows its capture at the
// shared step in its default view (a heatmap for 2-D and up, a line, a
// scalar, an image, a table), under its run's colour, name and one-line
// summary. A card whose run has no capture at the shared step says so and
// draws nothing: it never shows another step instead. Heatmaps share one
// colour range computed over every pinned heatmap at every step (from
// /stats), so equal colours mean equal values across cards and steps; "own
// ranges" gives each card its range over its own steps. Cards wait for the
// statistics a shared range needs rather than drawing in another range first.

import { fetchStats, fetchValue, isAbort } from "../api.js";
import { h, message, show } from "../dom.js";
import { formatShort, summaryLine } from "../format.js";
import { expandPins, sharedExtent, stepUnion } from "../pins.js";
import { colourRange } from "../ranges.js";
import { formatSlice, resultShape, sliceForView } from "../slicing.js";
import { defaultView, viewAxes } from "../viewkinds.js";
import { createHeatmap, HEATMAP_CELLS } from "./heatmap.js";
import { createImageView } from "./image.js";
import { createLineView } from "./line.js";
import { createScalarView } from "./scalar.js";
import { createTableView } from "./table.js";

const OTHER_VIEWS = { scalar: createScalarView, line: createLineView, image: createImageView, table: createTableView };
const OWN_RANGE = { range: "steps", lo: null, hi: null, map: "auto", scale: "linear" };

// "0–4, 6" for steps [0, 1, 2, 3, 4, 6]: which steps a run holds, in few words.
function stepRanges(steps) {
  const parts = [];
  for (let i = 0; i < steps.length; i++) {
    let j = i;
    while (j + 1 < steps.length && steps[j + 1] === steps[j] + 1) j++;
    parts.push(j > i ? `${steps[i]}–${steps[j]}` : `${steps[i]}`);
    i = j;
  }
  return parts.join(", ");
}

// One pinned card: its header, summary, note and picture.
function createPinnedCard({ run, tag, onOpen, onUnpin }) {
  const swatch = h("i", { className: "run-swatch", "aria-hidden": "true" });
  const summary = h("p", { className: "summary-line" });
  const note = h("div", { className: "pinned-note" });
  const picture = h("div", { className: "pinned-picture" });
  const element = h("section", { className: "pinned-card", dataset: { run, tag } },
    h("header", null,
      h("button", { className: "pinned-title", title: `open ${tag} in ${run}`, onclick: onOpen },
        h("span", { className: "pinned-name", text: tag })),
      h("span", { className: "pinned-run" }, swatch, run),
      h("button", { className: "unpin", title: "unpin", "aria-label": `unpin ${tag} in ${run}`, text: "✕", onclick: onUnpin })),
    summary, note, picture);
  let heatmap = null;
  let view = null;
  let viewKind = "";
  let controller = null;
  let drawnKey = "";
  return {
    element,
    stats: null, // this card's /stats rows, once loaded
    statsKey: "",
    statsError: null,
    abort() {
      controller?.abort();
    },
    /**
     * Draws the card at `step` (run colour `color`). `shared`: the shared
     * colour range's ends, null for the card's own range, undefined while
     * the shared range waits for statistics.
     */
    async drawAt({ facts, step, shared, color }) {
      swatch.style.background = color ?? "transparent";
      element.dataset.step = String(step);
      const say = (text, kind = "info") => {
        controller?.abort();
        drawnKey = "";
        element.classList.add("missing");
        summary.textContent = "\u00a0";
        show(note, message(text, kind));
        show(picture);
      };
      if (!facts) return say(`Run "${run}" has no capture named "${tag}".`);
      if (step === null) return say("No steps.");
      if (!facts.steps.includes(step)) {
        return say(`No capture at step ${step} in ${run} (its steps: ${stepRanges(facts.steps)}).`);
      }
      if (this.statsError) return say(`statistics unavailable: ${this.statsError}`, "error");
      const row = this.stats?.find((r) => r.step === step);
      const dtype = row?.dtype ?? facts.dtype;
      const shape = row?.shape ?? facts.shape;
      const kind = defaultView(dtype, shape);
      // Heatmaps wait for the statistics their colour range comes from.
      if (!this.stats || (kind === "heatmap" && shared === undefined)) {
        element.classList.remove("missing");
        show(note, h("span", { className: "loading", text: `Loading ${tag} at step ${step}…` }));
        return undefined;
      }
      const key = JSON.stringify([step, dtype, shape, shared, color]);
      if (key === drawnKey) return undefined;
      drawnKey = key;
      element.classList.remove("missing");
      summary.textContent = row ? summaryLine(row) : "\u00a0";
      const axisNames = facts.axes?.length === shape.length ? facts.axes : null;
      const count = viewAxes(kind, shape);
      const sliced = count > 0 && count < shape.length;
      const { entries } = sliced ? sliceForView(shape, count, "", axisNames) : { entries: null };
      const sliceText = sliced ? formatSlice(entries) : "";
      controller?.abort();
      controller = new AbortController();
      const signal = controller.signal;
      show(note, sliced ? h("span", { className: "pinned-slice", text: `x[${sliceText}]` }) : null);
      try {
        if (kind === "heatmap") {
          heatmap ??= createHeatmap();
          if (picture.firstChild !== heatmap.element) show(picture, heatmap.element);
          const tensor = await fetchValue({ run, tag, step, dtype, slice: sliceText, maxCells: HEATMAP_CELLS }, signal);
          const settings = shared ? { ...OWN_RANGE, range: "manual", lo: shared.lo, hi: shared.hi } : OWN_RANGE;
          const range = colourRange(tensor.values, settings, this.stats);
          if (shared) range.note = range.note.replace("manual range", "range shared by the pinned heatmaps over all their steps");
          heatmap.draw(tensor, shape, { range, axisNames });
        } else {
          if (viewKind !== kind) {
            view = OTHER_VIEWS[kind]();
            viewKind = kind;
          }
          if (picture.firstChild !== view.element) show(picture, view.element);
          await view.update({
            run, tag, step, dtype, fullShape: shape, axisNames, sliceText,
            sliceShape: sliced ? resultShape(entries, shape) : shape, stats: this.stats,
            // A line or scalar chart in the run's colour, with its name (an overlay of one run).
            overlay: [{ run, color: color ?? "currentColor", facts, rows: this.stats, error: null }],
            signal, pickStep: () => {}, rerender: () => {},
          });
        }
      } catch (error) {
        if (isAbort(error)) return undefined;
        drawnKey = "";
        show(note, message(error.message, "error"));
      }
      return undefined;
    },
  };
}

/**
 * @param {{onOpen: (capture: {run: string, tag: string, step: number}) => void,
 *   onUnpin: (pin: import("../pins.js").Pin) => void, onStep: (step: number) => void,
 *   onOwnRange: (own: boolean) => void}} handlers
 */
export function createPinnedPanel({ onOpen, onUnpin, onStep, onOwnRange }) {
  const hint = h("div", { className: "pinned-hint" });
  const slider = h("input", {
    type: "range", className: "pinned-slider", min: 0, max: 0, step: 1, "aria-label": "shared step",
    oninput: () => onStep(steps[Number(slider.value)]),
  });
  const stepLabel = h("span", { className: "pinned-step" });
  const ownRange = h("input", { type: "checkbox", onchange: () => onOwnRange(ownRange.checked) });
  const rangeNote = h("span", { className: "pinned-range-note" });
  const toolbar = h("div", { className: "toolbar pinned-bar" },
    h("button", { title: "previous step", text: "◀", onclick: () => stepBy(-1) }), slider,
    h("button", { title: "next step", text: "▶", onclick: () => stepBy(1) }), stepLabel,
    h("label", { className: "pinned-own", title: "each heatmap coloured over its own steps, not one range for all" },
      ownRange, "own colour ranges"),
    rangeNote);
  const grid = h("div", { className: "pinned-grid" });
  const element = h("section", { className: "panel pinned-panel" }, hint, toolbar, grid);
  const cards = new Map(); // JSON [run, tag] -> card
  let steps = [];
  let position = 0;
  let last = null;

  function stepBy(delta) {
    const next = position + delta;
    if (next >= 0 && next < steps.length) onStep(steps[next]);
  }

  function loadStats(card, run, tag, facts) {
    const key = JSON.stringify([run, tag, facts.steps.length]);
    if (card.statsKey === key) return;
    card.statsKey = key;
    fetchStats(run, tag).then((reply) => {
      card.stats = reply.steps;
      card.statsError = null;
      if (last) update(last);
    }, (error) => {
      if (isAbort(error)) return;
      card.statsError = error.message;
      if (last) update(last);
    });
  }

  function update(state) {
    last = state;
    const { index, pins, hidden, runColours } = state;
    hint.hidden = Boolean(pins.length);
    hint.textContent = pins.length ? "" : "Nothing pinned yet. Pin a capture from its card (📌 Pin): pinned captures "
      + "show side by side here, at one step and in one colour range.";
    toolbar.hidden = !pins.length;
    if (!index) return;
    const wanted = expandPins(pins, index, hidden);
    const keys = new Set(wanted.map(({ run, tag }) => JSON.stringify([run, tag])));
    for (const [key, card] of cards) {
      if (!keys.has(key)) {
        card.abort();
        cards.delete(key);
      }
    }
    const shown = wanted.map(({ run, tag, pin }) => {
      const key = JSON.stringify([run, tag]);
      if (!cards.has(key)) {
        cards.set(key, createPinnedCard({
          run, tag,
          onOpen: () => onOpen({ run, tag, step: state.pinStep ?? steps[steps.length - 1] }),
          onUnpin: () => onUnpin(pin),
        }));
      }
      const card = cards.get(key);
      const facts = index.runs[run]?.[tag] ?? null;
      if (facts) loadStats(card, run, tag, facts);
      return { card, facts, run };
    });
    show(grid, shown.map(({ card }) => card.element));

    steps = stepUnion(shown.map(({ facts }) => facts));
    const step = state.pinStep !== null && steps.includes(state.pinStep) ? state.pinStep : steps[steps.length - 1] ?? null;
    position = Math.max(steps.indexOf(step), 0);
    slider.max = String(Math.max(steps.length - 1, 0));
    slider.value = String(position);
    stepLabel.textContent = step === null ? "no steps" : `step ${step} (${position + 1} of ${steps.length})`;
    ownRange.checked = state.pinOwnRange;

    // The shared range: over every heatmap card at every step, once all their statistics are in.
    const heatmaps = shown.filter(({ facts }) => facts && defaultView(facts.dtype, facts.shape) === "heatmap");
    let shared = null;
    if (!state.pinOwnRange && heatmaps.length) {
      const waiting = heatmaps.some(({ card }) => !card.stats && !card.statsError);
      shared = waiting ? undefined : sharedExtent(heatmaps.map(({ card }) => card.stats ?? []));
    }
    rangeNote.textContent = state.pinOwnRange || !heatmaps.length ? ""
      : shared === undefined ? "colour range: loading statistics…"
        : shared === null ? "colour range: no finite values"
          : `colour range shared by ${heatmaps.length} heatmap${heatmaps.length > 1 ? "s" : ""}: `
            + `${formatShort(shared.lo)} to ${formatShort(shared.hi)} over all their steps`;
    for (const { card, facts, run } of shown) {
      card.drawAt({ facts, step, shared: state.pinOwnRange ? null : shared, color: runColours[run] });
    }
  }

  return {
    element,
    update,
    // TensorBoard's reload: statistics asked again, pictures redrawn.
    refresh() {
      for (const card of cards.values()) card.statsKey = "";
      if (last) update(last);
    },
  };
}
