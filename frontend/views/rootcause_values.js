// The culprit's inputs and its output as values, side by side, in the
// root-cause panel: each drawn by the view its capture card opens with
// (viewkinds.defaultView: a number, a line for 1-D, a heatmap for 2-D and up,
// an image for H x W x 3) and, for more than one element, its histogram; each
// at the step of its own capture, titled with a link to that capture's card.
// A value kept only as statistics (health mode) or not captured says so
// instead of drawing.

import { isAbort } from "../api.js";
import { h, message, show } from "../dom.js";
import { formatShape } from "../format.js";
import { DEFAULT_COLOUR } from "../state.js";
import { formatSlice, resultShape, sliceForView, sliceShowing } from "../slicing.js";
import { defaultView, viewAxes } from "../viewkinds.js";
import { createHeatmapView } from "./heatmap.js";
import { createHistogramView } from "./histogram.js";
import { createImageView } from "./image.js";
import { createLineView } from "./line.js";
import { createScalarView } from "./scalar.js";
import { createTableView } from "./table.js";

const VIEW_FACTORIES = {
  scalar: createScalarView, line: createLineView, heatmap: createHeatmapView,
  image: createImageView, table: createTableView,
};

// The slice of `shape` a view drawing `count` axes shows by default ("" for the whole value).
function defaultSlice(shape, count) {
  if (count === 0 || count >= shape.length) {
    return { sliceText: "", entries: sliceShowing(shape, shape.map((_, axis) => axis)) };
  }
  const { entries } = sliceForView(shape, count, "");
  return { sliceText: formatSlice(entries), entries };
}

// One value's views, updated once; `rerender` draws them again (a view's own control changed).
function drawValue(body, { run, tag, step, dtype, shape }, signal) {
  const view = defaultView(dtype, shape);
  const instances = [VIEW_FACTORIES[view]()];
  if (view !== "scalar" && view !== "table") instances.push(createHistogramView());
  let colour = { ...DEFAULT_COLOUR, range: "step" };
  const problem = h("div");
  show(body, problem, instances.map((v) => v.element));
  const { sliceText, entries } = defaultSlice(shape, viewAxes(view, shape));
  const update = (instance) => instance.update({
    run, tag, step, dtype, fullShape: shape, axisNames: null, sliceText, sliceShape: resultShape(entries, shape),
    stats: [], index: null, diff: null, rtol: 0, atol: 0, colour,
    setColour: (patch) => {
      colour = { ...colour, ...patch };
      update(instance);
    },
    signal,
    pickStep: () => {},
    rerender: () => update(instance),
  }).catch((error) => {
    if (isAbort(error)) return;
    show(problem, message(error.message, "error"));
    for (const v of instances) v.element.hidden = true;
  });
  instances.forEach(update);
}

/**
 * The panels of the culprit's inputs and output.
 * @param {string} run the run holding the captures (a worker's run for worker groups)
 * @param {{title: () => Node|Node[], tag?: string, step: number, stats: object}[]} sides one per input, then the
 *   output; `title()` makes the heading (a link to the capture);
 *   `stats` is the side of the /rootcause reply (dtype, shape, captured)
 * @param {AbortSignal} signal aborted when the panel is drawn again
 */
export function valuePanels(run, sides, signal) {
  return h("div", { className: "rootcause-values" }, sides.map((side) => {
    const body = h("div", { className: "value-body" });
    const facts = side.stats;
    const panel = h("section", { className: "value-panel", dataset: { tag: side.tag ?? "" } },
      h("h3", null, side.title(), facts.dtype ? ` ${facts.dtype} ${formatShape(facts.shape ?? [])}` : ""), body);
    if (!side.tag || facts.captured === false || !facts.dtype) {
      show(body, message("Not captured: its value is unknown.", "note"));
    } else if (facts.kind === "health") {
      show(body, message("Statistics only (health mode): the value was not kept.", "note"));
    } else {
      drawValue(body, { run, tag: side.tag, step: side.step, dtype: facts.dtype, shape: facts.shape ?? [] }, signal);
    }
    return panel;
  }));
}
