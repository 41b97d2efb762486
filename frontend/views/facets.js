// Small multiples: the heatmap's slice repeated along an axis the slice
// fixes (channels, heads) or over a range of steps, as a grid of small
// heatmaps that share one colour range and one colour bar, each labelled.
// The server (/facets) pools every panel so that all of them together stay
// within FACET_CELLS cells: a 64-channel activation is one small reply.
// The shared range covers every panel's unpooled values (not only the pooled
// means); the map and scale follow the heatmap's colour settings. NaN, +Inf
// and -Inf keep their colours and are counted on their panel's label.

import { fetchFacets } from "../api.js";
import { h, show } from "../dom.js";
import { formatCount, formatShort } from "../format.js";
import { chooseFacet, facetChoices, sharedExtent } from "../facetaxes.js";
import { colourRange } from "../ranges.js";
import { axisLabel, expandSlice, formatSlice, fullIndex, parseSlice, withIndex } from "../slicing.js";
import { colorbar } from "./colorbar.js";
import { paint } from "./heatmap.js";
import { useStylesheet } from "./stylesheet.js";

export const FACET_CELLS = 1 << 17;
const PANEL_PX = 120;

// A facet choice in words: "steps", "channel (axis 3)", or "axis 3" for an unnamed axis.
function facetName(facet, names) {
  if (facet === "steps") return "steps";
  const label = axisLabel(names, Number(facet));
  return label === `axis ${facet}` ? label : `${label} (axis ${facet})`;
}

// One panel: its canvas painted in `range`, its label and the readout on hover.
function panel(tensor, k, label, facts, range, describe, readout) {
  const [rows, cols] = tensor.shape.length === 3 ? tensor.shape.slice(1) : [1, tensor.shape[1]];
  const size = rows * cols;
  const values = tensor.values.subarray(k * size, (k + 1) * size);
  const canvas = h("canvas", {
    className: "facet-canvas", width: cols, height: rows,
    dataset: { lo: String(range.lo), hi: String(range.hi), label },
  });
  const context = canvas.getContext("2d");
  const image = context.createImageData(cols, rows);
  paint(values, new Uint32Array(image.data.buffer), range, cols);
  context.putImageData(image, 0, 0);
  const scale = Math.max(1, Math.floor(PANEL_PX / Math.max(rows, cols)));
  canvas.style.width = `${cols * Math.min(scale, 24)}px`;
  canvas.style.height = `${rows * Math.min(scale, 24)}px`;
  canvas.addEventListener("pointermove", (event) => {
    const box = canvas.getBoundingClientRect();
    const col = Math.min(cols - 1, Math.floor(((event.clientX - box.left) / box.width) * cols));
    const row = Math.min(rows - 1, Math.floor(((event.clientY - box.top) / box.height) * rows));
    readout.textContent = describe(k, row, col, values[row * cols + col]);
  });
  const bad = [["NaN", facts.nan], ["+Inf", facts.posinf], ["-Inf", facts.neginf]].filter(([, n]) => n)
    .map(([name, n]) => `${name} ${formatCount(n)}`).join(" ");
  return h("figure", { className: "facet" }, canvas,
    h("figcaption", null, h("span", { text: label }), bad ? h("span", { className: "bad", text: ` ${bad}` }) : null));
}

function choice(label, options, current, onChange) {
  const select = h("select", { "aria-label": label, onchange: () => onChange(select.value) },
    options.map(([value, text]) => h("option", { value, text, selected: value === current })));
  return h("label", null, `${label} `, select);
}

export function createFacetsView() {
  useStylesheet("./static/views/statistics.css");
  const controls = h("div", { className: "toolbar facet-controls" });
  const grid = h("div", { className: "facet-grid" });
  const barSlot = h("div", { className: "colorbar-slot" });
  const readout = h("div", { className: "readout", text: "\u00a0" });
  const note = h("div", { className: "message note" });
  const element = h("div", { className: "facets-view" }, controls, note, h("div", { className: "facet-body" }, grid, barSlot), readout);
  let stepRange = null; // [from, to] chosen here, for the steps facet

  async function update({ run, tag, step, index, fullShape, axisNames, sliceText, colour, settings, setSettings, signal, rerender }) {
    const steps = index.runs[run][tag].steps;
    const entries = expandSlice(parseSlice(sliceText), fullShape);
    const choices = facetChoices(entries, fullShape, steps.length);
    const facet = chooseFacet(settings.facet, choices, axisNames);
    if (!facet) throw new Error("Small multiples need an axis the slice fixes or more than one step.");
    const [from, to] = stepRange && steps.some((s) => s >= stepRange[0] && s <= stepRange[1])
      ? stepRange : [steps[0], steps[steps.length - 1]];
    const request = facet === "steps"
      ? { run, tag, slice: sliceText, from, to, maxCells: FACET_CELLS }
      : { run, tag, step, slice: sliceText, axis: Number(facet), maxCells: FACET_CELLS };
    const { facts, tensor } = await fetchFacets(request, signal);

    const bound = (value, onChange) => h("input", {
      type: "number", className: "facet-step", value: String(value), step: 1, onchange: (event) => onChange(Number(event.target.value)),
    });
    show(controls,
      choice("facet", choices.map((c) => [c, facetName(c, axisNames)]), facet, (value) => setSettings({ facet: value })),
      facet === "steps" ? h("label", null, "from ", bound(from, (v) => { stepRange = [v, to]; rerender(); }),
        " to ", bound(to, (v) => { stepRange = [from, v]; rerender(); })) : null);

    const extent = sharedExtent(facts.panels);
    const range = { ...colourRange([extent.lo, extent.hi], { range: "step", map: colour.map, scale: colour.scale }, []) };
    range.note = `one range shared by all ${facts.labels.length} panels (their unpooled values)${range.note.replace(/^range of this step/, "")}`;
    const axisName = facet === "steps" ? "" : axisLabel(axisNames, Number(facet));
    const name = facet === "steps" ? (s) => `step ${s}`
      : (i) => (axisNames?.[Number(facet)] ? `${axisName} ${i}` : `${axisName} = ${i}`);
    const describe = (k, row, col, value) => {
      const at = withIndex(entries, facet === "steps" ? -1 : Number(facet), facts.labels[k]);
      const position = [row, col].slice(2 - (tensor.shape.length - 1));
      const pooled = facts.pooled ? ` (mean of a ${facts.pooled.join("×")} block from here)` : "";
      const where = facts.pooled
        ? fullIndex(at, fullShape, position.map((p, j) => p * facts.pooled[j]))
        : fullIndex(at, fullShape, position);
      return `${name(facts.labels[k])}: x[${where.join(", ")}] = ${formatShort(value, 6)}${pooled}`;
    };
    show(grid, facts.labels.map((label, k) => panel(tensor, k, name(label), facts.panels[k], range, describe, readout)));
    grid.dataset.facet = facet;
    show(barSlot, colorbar(range, { ...extent, below: 0, above: 0 }));
    const told = [];
    if (facts.sampled) told.push(`Showing ${formatCount(facts.labels.length)} of ${formatCount(facts.total)} ${facet === "steps" ? "steps" : "indices"}, evenly spaced (first and last kept).`);
    if (facts.pooled) told.push(`Each panel is pooled ${facts.pooled.join("×")} (block means; a NaN or Inf in a block shows).`);
    told.push(facet === "steps"
      ? `x[${formatSlice(entries)}] at the steps from ${from} to ${to}.`
      : `x[${formatSlice(entries)}] at step ${step}, one panel per ${axisName} index (the ${axisName} slider above does not apply here).`);
    show(note, told.join(" "));
  }
  return { element, update };
}
