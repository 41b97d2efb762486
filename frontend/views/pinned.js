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
import { formatExact, formatShort, statisticsOnlyText, summaryLine } from "../format.js";
import { expandPins, sharedExtent, stepUnion } from "../pins.js";
import { colourRange } from "../ranges.js";
import { scalarOf } from "../series.js";
import { formatSlice, resultShape, sliceForView } from "../slicing.js";
import { defaultView, viewAxes } from "../viewkinds.js";
import { createHeatmap, HEATMAP_CELLS } from "./heatmap.js";
import { createImageView } from "./image.js";
import { createLineView } from "./line.js";
import { createRunStats, overlayReadout, scalarOverlayChart } from "./overlay.js";
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
function createPinnedCard({ run, tag, onOpen, onUnpin, onStep }) {
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
      if (row?.kind === "health") { // no value to draw: its statistics are the summary line
        controller?.abort();
        show(note, message(statisticsOnlyText(step, this.stats)));
        show(picture);
        return undefined;
      }
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
            signal, pickStep: onStep, rerender: () => {},
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

// A pinned chart of a tag over every selected run holding it (a tag pin of
// a scalar or 1-D capture): the runs overlaid in their colours (overlay.js),
// each run's value at the shared step listed, or that it has none there.
function createOverlayCard({ runs, tag, onOpen, onUnpin, onStep }) {
  const values = h("div", { className: "pinned-values" });
  const note = h("div", { className: "pinned-note" });
  const picture = h("div", { className: "pinned-picture" });
  const element = h("section", { className: "pinned-card overlaid", dataset: { tag, runs: runs.join(", ") } },
    h("header", null,
      h("button", { className: "pinned-title", title: `open ${tag}`, onclick: onOpen },
        h("span", { className: "pinned-name", text: tag })),
      h("span", { className: "pinned-run", text: `${runs.length} runs` }),
      h("button", { className: "unpin", title: "unpin", "aria-label": `unpin ${tag} in every run`, text: "✕", onclick: onUnpin })),
    values, note, picture);
  let redraw = null;
  const runStats = createRunStats(() => redraw?.());
  const lineView = createLineView();
  let controller = null;
  let drawnKey = "";
  return {
    element,
    overlaid: true,
    abort() {
      controller?.abort();
    },
    refresh() {
      runStats.refresh();
      drawnKey = "";
    },
    async drawAt({ index, step, colours, allSteps }) {
      redraw = () => this.drawAt({ index, step, colours, allSteps });
      element.dataset.step = String(step);
      runStats.want({ index, tag, runs, shownRun: null });
      const list = runStats.list({ index, runs, colours, shownRun: null, shownRows: null, shownError: null });
      const key = JSON.stringify([step, list.map((e) => [e.run, e.color, e.rows?.length ?? null, e.error])]);
      if (key === drawnKey) return;
      drawnKey = key;
      const withStep = list.filter((e) => e.facts?.steps.includes(step));
      const rowAt = (e) => e.rows?.find((r) => r.step === step);
      show(values, overlayReadout(`step ${step}`, list.map((e) => ({
        run: e.run, color: e.color,
        text: !e.facts?.steps.includes(step) ? `no capture at step ${step}`
          : e.error ? `statistics unavailable: ${e.error}`
            : !rowAt(e) ? "loading…" : rowAt(e).numel === 1 ? formatExact(scalarOf(rowAt(e)), rowAt(e).dtype) : summaryLine(rowAt(e)),
      }))));
      if (list.some((e) => e.facts && !e.rows && !e.error)) {
        show(note, h("span", { className: "loading", text: `Loading ${tag}…` }));
        return;
      }
      show(note);
      const first = withStep[0];
      if (!first || first.facts.shape.length === 0) {
        show(picture, scalarOverlayChart({ runs: list, tag, marker: step, onPick: onStep, pickable: allSteps, width: picture.clientWidth }));
        return;
      }
      controller?.abort();
      controller = new AbortController();
      const row = rowAt(first);
      if (picture.firstChild !== lineView.element) show(picture, lineView.element);
      try {
        await lineView.update({
          run: first.run, tag, step, dtype: row?.dtype ?? first.facts.dtype, fullShape: row?.shape ?? first.facts.shape,
          sliceText: "", overlay: list, signal: controller.signal,
        });
      } catch (error) {
        if (isAbort(error)) return;
        drawnKey = "";
        show(note, message(error.message, "error"));
      }
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
    h("button", { title: "previous step (←)", text: "◀", onclick: () => stepBy(-1) }), slider,
    h("button", { title: "next step (→)", text: "▶", onclick: () => stepBy(1) }), stepLabel,
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
    hint.textContent = pins.length ? "" : "Nothing pinned yet. Pin a capture from its card (its Pin button): pinned captures "
      + "show side by side here, at one step and in one colour range.";
    toolbar.hidden = !pins.length;
    if (!index) return;
    // A tag pinned in every run: one chart overlaying them for scalars and 1-D values.
    const overlaid = (tag) => {
      const facts = Object.values(index.runs).map((tags) => tags[tag]).find(Boolean);
      return Boolean(facts) && facts.dtype !== "string" && facts.shape.length <= 1;
    };
    const wanted = expandPins(pins, index, hidden, overlaid);
    const keys = new Set(wanted.map(({ runs, tag }) => JSON.stringify([runs, tag])));
    for (const [key, card] of cards) {
      if (!keys.has(key)) {
        card.abort();
        cards.delete(key);
      }
    }
    const shown = wanted.map(({ runs, tag, pin }) => {
      const key = JSON.stringify([runs, tag]);
      const open = () => onOpen({ run: runs[0], tag, step: state.pinStep ?? steps[steps.length - 1] });
      if (!cards.has(key)) {
        cards.set(key, pin.run === null && overlaid(tag)
          ? createOverlayCard({ runs, tag, onOpen: open, onUnpin: () => onUnpin(pin), onStep })
          : createPinnedCard({ run: runs[0], tag, onOpen: open, onUnpin: () => onUnpin(pin), onStep }));
      }
      const card = cards.get(key);
      const factsList = runs.map((run) => index.runs[run]?.[tag] ?? null);
      if (!card.overlaid && factsList[0]) loadStats(card, runs[0], tag, factsList[0]);
      return { card, facts: factsList[0], factsList, run: runs[0] };
    });
    const elements = shown.map(({ card }) => card.element);
    if (elements.length !== grid.children.length || elements.some((e, i) => grid.children[i] !== e)) show(grid, elements);

    steps = stepUnion(shown.flatMap(({ factsList }) => factsList));
    const step = state.pinStep !== null && steps.includes(state.pinStep) ? state.pinStep : steps[steps.length - 1] ?? null;
    position = Math.max(steps.indexOf(step), 0);
    slider.max = String(Math.max(steps.length - 1, 0));
    slider.value = String(position);
    stepLabel.textContent = step === null ? "no steps" : `step ${step} (${position + 1} of ${steps.length})`;
    ownRange.checked = state.pinOwnRange;

    // The shared range: over every heatmap card at every step, once all their statistics are in.
    const heatmaps = shown.filter(({ card, facts }) => !card.overlaid && facts && defaultView(facts.dtype, facts.shape) === "heatmap");
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
      if (card.overlaid) card.drawAt({ index, step, colours: runColours, allSteps: steps });
      else card.drawAt({ facts, step, shared: state.pinOwnRange ? null : shared, color: runColours[run] });
    }
  }

  return {
    element,
    update,
    stepBy,
    // TensorBoard's reload: statistics asked again, pictures redrawn.
    refresh() {
      for (const card of cards.values()) {
        card.statsKey = "";
        card.refresh?.();
      }
      if (last) update(last);
    },
  };
}
