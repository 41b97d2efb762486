// The capture panel: the card, the view tabs, the slicer and the current
// view (or the diff) of the selected run, tag and step.
//
// `sync(state)` runs on every state change and does only what changed: a new
// tag reloads the per-step statistics; a new step, view, slice or diff
// target re-requests the view's data, aborting the request it replaces.
// While a view loads, a spinner says what is coming; the previous picture is
// blanked at once for another capture or view, and after STALE_MS for another
// step (so playing through fast steps does not flicker), never left under a
// title it does not belong to. Failures show as text above the view (the
// picture blanked), never as uncaught errors.

import { fetchStats, isAbort } from "../api.js";
import { h, message, show } from "../dom.js";
import { statisticsOnlyText } from "../format.js";
import { shareableLink } from "../host.js";
import {
  expandSlice, formatSlice, parseSlice, resultShape, SliceError, sliceForView, sliceShowing,
} from "../slicing.js";
import { availableViews, resolveView, VIEW_LABELS, viewAxes } from "../viewkinds.js";
import { createCard } from "./card.js";
import { createFacetsView } from "./facets.js";
import { createDiffView } from "./diff.js";
import { createHeatmapView } from "./heatmap.js";
import { createHistogramView } from "./histogram.js";
import { createImageView } from "./image.js";
import { createLineageLinks } from "./lineage.js";
import { createLineView } from "./line.js";
import { createRunStats, overlayRunNames } from "./overlay.js";
import { createPinButtons } from "./pinbutton.js";
import { createScalarView } from "./scalar.js";
import { createSlicer } from "./slicer.js";
import { createStepHistogramsView } from "./stephistograms.js";
import { createTableView } from "./table.js";

/**
 * What the capture panel passes to a view's update(): the capture, the
 * step, the slice to draw and the means to talk back.
 * @typedef {object} ViewUpdate
 * @property {string} run
 * @property {string} tag
 * @property {number} step
 * @property {string} dtype the dtype at this step
 * @property {number[]} fullShape the capture's shape at this step
 * @property {string[]|null} axisNames the capture's names for its axes (capture(..., axes=)), or null
 * @property {string} sliceText the canonical slice to request ("" for the whole value)
 * @property {number[]} sliceShape the shape that slice gives
 * @property {import("../api.js").StatsRow[]} stats per-step statistics ([] until loaded)
 * @property {import("./overlay.js").OverlayRun[]|null} overlay every selected run when several are (scalar and line views overlay them), else null
 * @property {import("../api.js").Index} index
 * @property {import("../state.js").DiffTarget|null} diff
 * @property {number} rtol
 * @property {number} atol
 * @property {import("../ranges.js").ColourSettings} colour how heatmaps choose colours
 * @property {(patch: object) => void} setColour changes the colour settings
 * @property {{histogramMode: string, facet: string}} settings the views' own settings in the URL state
 * @property {(patch: object) => void} setSettings changes them
 * @property {AbortSignal} signal aborted when a newer update replaces this one
 * @property {(step: number) => void} pickStep shows another step
 * @property {() => void} rerender asks for update() again (a view's own control changed)
 */

/**
 * A view: an element, and update() that fetches and draws; it resolves when
 * the picture is complete and rejects (never throws synchronously) on
 * failure, with an AbortError when `signal` was aborted.
 * @typedef {{element: HTMLElement, update: (context: ViewUpdate) => Promise<void>}} View
 */

/** @type {Object<string, () => View>} */
const STALE_MS = 150;

const VIEW_FACTORIES = {
  scalar: createScalarView, line: createLineView, heatmap: createHeatmapView,
  image: createImageView, histogram: createHistogramView, table: createTableView,
  steps: createStepHistogramsView, facets: createFacetsView,
};

// The views that draw the value of the shown step (a statistics-only step has none).
const VALUE_VIEWS = new Set(["scalar", "line", "heatmap", "image", "histogram", "table"]);

// The B side a diff starts with: the previous step, else another run, else itself.
function defaultTarget(index, run, tag, step) {
  const steps = index.runs[run][tag].steps;
  const position = steps.indexOf(step);
  if (position > 0) return { run: null, tag: null, step: steps[position - 1] };
  const other = Object.keys(index.runs).find((r) => r !== run && index.runs[r][tag]);
  return { run: other ?? null, tag: null, step: other ? null : steps[1] ?? null };
}

// Slice text as typed -> canonical text when it parses, else as typed (the
// slicer then says what is wrong with it).
function tidySlice(text, shape) {
  try {
    return formatSlice(expandSlice(parseSlice(text), shape));
  } catch (error) {
    if (error instanceof SliceError) return text;
    throw error;
  }
}

// `tensorboard`: TensorBoard's window (hostWindow()), or null; "Copy link" links into it.
export function createCapturePanel(store, tensorboard) {
  const card = createCard({
    onStep: (step) => store.set({ step }),
    onRun: (run) => {
      const { index, tag, step } = store.get();
      store.set({ run, step: index.runs[run][tag].steps.includes(step) ? step : null });
    },
    onChart: (patch) => store.set(patch),
  });
  const lineage = createLineageLinks({ onOpen: ({ tag, step }) => store.set({ tag, step, view: "", slice: "", diff: null }) });
  const hint = h("div", { className: "hint" });
  const tabs = h("div", { className: "view-tabs", role: "tablist" });
  const diffButton = h("button", { className: "diff-toggle", onclick: () => toggleDiff() });
  const linkStatus = h("span", { className: "status" });
  const linkButton = h("button", { text: "Copy link", title: "copy a link to this view", onclick: () => copyLink() });
  const pinButtons = createPinButtons(store);
  const slicer = createSlicer((text) => store.set({ slice: tidySlice(text, shown.shape) }));
  const status = h("div", { className: "view-status" });
  const host = h("div", { className: "view-host" });
  const loadingText = h("span");
  const loadingNote = h("div", { className: "loading-note", role: "status", hidden: true },
    h("span", { className: "spinner", "aria-hidden": "true" }), loadingText);
  const body = h("div", { className: "capture-body" },
    card.element, lineage.element, h("div", { className: "toolbar view-bar" }, tabs, diffButton, pinButtons.element, linkButton, linkStatus),
    slicer.element, status, h("div", { className: "view-area" }, loadingNote, host));
  const element = h("section", { className: "panel capture-panel" }, hint, body);
  const views = new Map();
  const runStats = createRunStats(() => sync(store.get()));
  const diffView = createDiffView({
    onTarget: (diff) => store.set({ diff }),
    onTolerance: (tolerances) => store.set(tolerances),
    onClose: () => store.set({ diff: null }),
  });

  let shown = { shape: [] };
  let capture = null; // {run, tag, facts}
  let stats = null;
  let statsKey = ""; // run, tag and step count of the last request
  let statsOwner = ""; // run and tag of `stats`
  let statsFailed = false; // why the last statistics request of `statsOwner` failed, or false
  let statsController = null;
  let renderKey = "";
  let controller = null;
  let pictureOf = ""; // the run, tag and view whose picture is on screen
  let staleTimer = null;

  // Nothing drawn until the statistics arrive (sync runs again then).
  function waitForStats(tag, step) {
    controller?.abort();
    renderKey = "";
    pictureOf = "";
    show(status);
    host.classList.add("loading");
    loadingText.textContent = `Loading ${tag} at step ${step}…`;
    blank();
  }

  function blank() {
    host.classList.add("blank");
    loadingNote.hidden = false;
  }

  function settle() {
    clearTimeout(staleTimer);
    host.classList.remove("loading", "blank");
    loadingNote.hidden = true;
  }

  function toggleDiff() {
    const { diff, index, run, tag } = store.get();
    store.set({ diff: diff ? null : defaultTarget(index, run, tag, shown.step) });
  }

  function copyLink() {
    const link = shareableLink(tensorboard);
    navigator.clipboard.writeText(link).then(
      () => { linkStatus.textContent = "Link copied."; },
      () => { linkStatus.textContent = link; },
    );
  }

  // Per-step statistics; a tag that gained steps keeps its old ones on
  // screen until the new ones arrive.
  function loadStats(run, tag, steps) {
    const key = JSON.stringify([run, tag, steps.length]);
    if (key === statsKey) return;
    statsKey = key;
    const owner = JSON.stringify([run, tag]);
    if (owner !== statsOwner) {
      statsOwner = owner;
      stats = null;
      statsFailed = false;
      card.setStats(null);
    }
    statsController?.abort();
    statsController = new AbortController();
    fetchStats(run, tag, statsController.signal).then((reply) => {
      stats = reply.steps;
      card.setStats(stats);
      sync(store.get());
    }, (error) => {
      if (isAbort(error)) return;
      statsFailed = error.message;
      card.statsFailed(error.message);
      sync(store.get());
    });
  }

  function viewInstance(view) {
    if (!views.has(view)) views.set(view, VIEW_FACTORIES[view]());
    return views.get(view);
  }

  function renderTabs(views, current, diff) {
    show(tabs, views.map((view) => h("button", {
      role: "tab", className: `tab${view === current && !diff ? " selected" : ""}`, dataset: { view },
      "aria-selected": String(view === current && !diff), text: VIEW_LABELS[view],
      onclick: () => store.set({ view, diff: null }),
    })));
    diffButton.textContent = diff ? "Diff ✓" : "Diff…";
    diffButton.classList.toggle("selected", Boolean(diff));
  }

  function sync(state) {
    const { index, run, tag } = state;
    const facts = index?.runs[run]?.[tag];
    body.hidden = !facts;
    hint.hidden = Boolean(facts);
    if (!facts) {
      renderKey = "";
      card.stop();
      // Before the first index: a spinner, or nothing beside the index's error.
      hint.classList.toggle("loading", !index && !state.indexError);
      hint.textContent = !index ? (state.indexError ? "" : "Loading captures…")
        : !Object.keys(index.runs).length ? "No TensorCap captures in this logdir yet. Capture tensors with tb_tensorcap.capture(x, \"name\")."
          : !tag ? "Pick a tag on the left."
            : `Run "${run}" has no capture named "${tag}".`;
      hint.hidden = !hint.textContent;
      return;
    }
    if (capture?.run !== run || capture?.tag !== tag || capture?.facts !== facts) {
      if (capture?.run !== run || capture?.tag !== tag) card.stop();
      capture = { run, tag, facts };
      const runs = Object.keys(index.runs).filter((r) => index.runs[r][tag]);
      card.setCapture({ run, tag, runs, facts });
      loadStats(run, tag, facts.steps);
    }
    const overlayNames = overlayRunNames(index, state.hidden, run);
    runStats.want({ index, tag, runs: overlayNames, shownRun: run });
    const overlay = overlayNames.length > 1 ? runStats.list({
      index, runs: overlayNames, colours: state.runColours, shownRun: run, shownRows: stats, shownError: statsFailed || null,
    }) : null;
    card.setOverlay(overlay);
    pinButtons.sync(state);
    const step = state.step ?? facts.steps[facts.steps.length - 1];
    const row = stats?.find((r) => r.step === step);
    const dtype = row?.dtype ?? facts.dtype;
    const shape = row?.shape ?? facts.shape;
    shown = { step, shape };
    card.setChart(state);
    card.setStep(step, { dtype, shape });
    lineage.update({ run, tag, step });

    const view = resolveView(state.view, dtype, shape);
    renderTabs(availableViews(dtype, shape), view, state.diff);
    const count = state.diff ? Math.min(shape.length, 2) : viewAxes(view, shape);
    const sliced = count > 0 && count < shape.length;
    const axisNames = facts.axes?.length === shape.length ? facts.axes : null;
    const { entries, error } = sliced
      ? sliceForView(shape, count, state.slice, axisNames)
      : { entries: sliceShowing(shape, shape.map((_, axis) => axis)), error: null };
    slicer.element.hidden = !sliced;
    if (sliced) slicer.update(shape, entries, { fixedAxes: !state.diff && view === "image", problem: error, axisNames });
    const sliceText = sliced ? formatSlice(entries) : "";
    if (error) {
      // A slice that cannot be used draws nothing: its error stands beside the text.
      controller?.abort();
      settle();
      renderKey = "";
      pictureOf = "";
      host.hidden = true;
      show(status, message(`x[${state.slice}] cannot be drawn: ${error}`, "error"));
      return;
    }
    if (!state.diff && VALUE_VIEWS.has(view) && facts.statistics_only && !stats && !statsFailed) {
      // Some steps kept only statistics: whether this one did is in its statistics row.
      waitForStats(tag, step);
      return;
    }
    if (!state.diff && VALUE_VIEWS.has(view) && row?.kind === "health") {
      // Nothing to draw: say so, and where values are, instead of asking /value for a 404.
      controller?.abort();
      settle();
      renderKey = "";
      pictureOf = "";
      host.hidden = true;
      show(status, message(statisticsOnlyText(step, stats), "info"));
      return;
    }
    if (!state.diff && view === "heatmap" && state.colour.range === "steps" && !stats && !statsFailed) {
      // Colours over all steps need every step's statistics: draw once they are in,
      // rather than in this step's range first and then in another.
      waitForStats(tag, step);
      return;
    }

    const key = JSON.stringify([run, tag, step, state.diff ? "diff" : view, sliceText, state.diff,
      state.rtol, state.atol, dtype, shape, !state.diff && ["scalar", "heatmap"].includes(view) && Boolean(stats),
      !state.diff && view === "heatmap" ? state.colour : null,
      !state.diff && ["scalar", "line", "steps"].includes(view) && overlay
        ? overlay.map((entry) => [entry.run, entry.color, entry.rows?.length ?? null, entry.error]) : null,
      !state.diff && view === "steps" ? state.histogramMode : null, !state.diff && view === "facets" ? state.facet : null]);
    if (key === renderKey) return;
    renderKey = key;
    const instance = state.diff ? diffView : viewInstance(view);
    if (host.firstChild !== instance.element) show(host, instance.element);
    controller?.abort();
    controller = new AbortController();
    const picture = JSON.stringify([run, tag, state.diff ? "diff" : view]);
    clearTimeout(staleTimer);
    host.classList.add("loading");
    loadingText.textContent = `Loading ${tag} at step ${step}…`;
    if (picture !== pictureOf) blank();
    else staleTimer = setTimeout(blank, STALE_MS);
    instance.update({
      run, tag, step, dtype, fullShape: shape, axisNames, sliceText, sliceShape: resultShape(entries, shape),
      stats: stats ?? [], overlay: state.diff ? null : overlay, index, diff: state.diff, rtol: state.rtol, atol: state.atol, colour: state.colour,
      setColour: (patch) => store.set({ colour: { ...store.get().colour, ...patch } }),
      settings: { histogramMode: state.histogramMode, facet: state.facet },
      setSettings: (patch) => store.set(patch),
      signal: controller.signal,
      pickStep: (picked) => store.set({ step: picked }),
      rerender: () => {
        renderKey = "";
        sync(store.get());
      },
    }).then(() => {
      settle();
      pictureOf = picture;
      host.hidden = false;
      show(status);
    }, (failure) => {
      if (isAbort(failure)) return;
      settle();
      renderKey = "";
      pictureOf = "";
      host.hidden = !state.diff;
      show(status, message(failure.message, "error"));
    });
  }

  return {
    element,
    sync,
    stepBy: (delta) => card.stepBy(delta),
    // Asks for the shown tag's statistics again (TensorBoard's reload); the
    // ones on screen stay until they arrive.
    refresh() {
      statsKey = "";
      runStats.refresh();
      if (capture) loadStats(capture.run, capture.tag, capture.facts.steps);
    },
  };
}
