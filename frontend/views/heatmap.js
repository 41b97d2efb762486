// The heatmap: a 1-D or 2-D tensor drawn cell by cell on a canvas.
//
// The colour range is chosen by ranges.colourRange (over all steps by
// default, so colours compare across steps; symmetric with a diverging map
// for signed data; log scale, percentile clipping and manual ranges on
// request) and drawn as a colour bar with ticks beside the cells. NaN, +Inf
// and -Inf have colours of their own and glyphs (X, I, −I) once cells are
// large enough. Drawing is one pass through a 256-colour lookup table into
// ImageData, so a 1024 x 1024 value draws in milliseconds; the time of the
// last draw is kept in the canvas's data-draw-ms. Hovering shows the
// element's index in the full value (or the block of a pooled cell) and its
// exact value; tick labels give full indices along both axes.

import { fetchValue } from "../api.js";
import { lookupTable, NAN_SLOT, NEGINF_SLOT, POSINF_SLOT, scaling } from "../colormaps.js";
import { h, show } from "../dom.js";
import {
  axisLabel, blockSlice, displayedAxes, expandSlice, formatSlice, fullIndex, parseSlice, resultShape,
} from "../slicing.js";
import { colourRange } from "../ranges.js";
import { colorbar } from "./colorbar.js";
import { createViewport } from "./viewport.js";

export const HEATMAP_CELLS = 1 << 20;
const MAX_MARKS = 100000;
const COLORBAR_WIDTH = 300;

const RANGE_CHOICES = [["steps", "all steps"], ["step", "this step"], ["clip", "1st–99th percentile"], ["manual", "manual"]];
const MAP_CHOICES = [["auto", "auto"], ["sequential", "sequential"], ["diverging", "diverging (0 centred)"]];
const SCALE_CHOICES = [["linear", "linear"], ["log", "log"]];

/**
 * Colours `values` into `pixels` (a Uint32Array over ImageData) within
 * `range`; returns the non-finite marks and the counts beyond the range.
 * @param {ArrayLike<number>} values
 * @param {Uint32Array} pixels
 * @param {import("../ranges.js").ColourRange} range
 */
export function paint(values, pixels, range, cols) {
  const table = lookupTable(range.kind);
  const log = range.scale === "log";
  const { offset, scale } = log
    ? { offset: (-Math.log10(range.lo) * 255) / (Math.log10(range.hi) - Math.log10(range.lo)),
      scale: 255 / (Math.log10(range.hi) - Math.log10(range.lo)) }
    : scaling(range.kind, range.lo, range.hi);
  const marks = [];
  const counts = { nan: 0, posinf: 0, neginf: 0, below: 0, above: 0 };
  const { lo, hi } = range;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    let slot;
    if (v - v === 0) {
      if (v < lo) counts.below++;
      else if (v > hi) counts.above++;
      slot = log ? (v > 0 ? (offset + Math.log10(v) * scale + 0.5) | 0 : 0) : (offset + v * scale + 0.5) | 0;
      slot = slot < 0 ? 0 : slot > 255 ? 255 : slot;
    } else {
      const kind = v !== v ? "nan" : v > 0 ? "posinf" : "neginf";
      counts[kind]++;
      slot = kind === "nan" ? NAN_SLOT : kind === "posinf" ? POSINF_SLOT : NEGINF_SLOT;
      if (marks.length < MAX_MARKS) marks.push({ row: Math.floor(i / cols), col: i % cols, kind });
    }
    pixels[i] = table[slot];
  }
  return { marks, counts };
}

// Tick labels and the caption naming the displayed axes of `entries`.
function axisLabels(tensor, entries, fullShape, names) {
  const shown = displayedAxes(entries);
  const factors = tensor.pooled ?? shown.map(() => 1);
  const along = (k) => (i) => {
    const position = shown.map((_, j) => (j === k ? i * factors[k] : 0));
    return String(fullIndex(entries, fullShape, position)[shown[k]]);
  };
  const name = (axis) => `${axisLabel(names, axis)}${names?.[axis] ? ` · axis ${axis}` : ""} (${fullShape[axis]})`;
  if (shown.length === 2) {
    return { rowLabel: along(0), colLabel: along(1), caption: `rows: ${name(shown[0])} ↓   cols: ${name(shown[1])} →` };
  }
  if (shown.length === 1) return { rowLabel: null, colLabel: along(0), caption: `cols: ${name(shown[0])} →` };
  return { rowLabel: null, colLabel: null, caption: "" };
}

// A heatmap of values or of differences.
export function createHeatmap() {
  const barSlot = h("div", { className: "colorbar-slot" });
  const source = document.createElement("canvas");
  let shown = null; // {tensor, entries, fullShape, unpooled, name, cols}

  const viewport = createViewport(describe, { reserve: COLORBAR_WIDTH });

  function describe({ row, col }) {
    const { tensor, entries, fullShape, unpooled, name, cols } = shown;
    const value = tensor.text(row * cols + col);
    const position = [row, col].slice(2 - tensor.shape.length);
    if (!tensor.pooled) {
      return `${name}[${fullIndex(entries, fullShape, position).join(", ")}] = ${value}`;
    }
    const factors = tensor.pooled;
    const from = position.map((p, k) => p * factors[k]);
    const to = from.map((p, k) => Math.min(p + factors[k], unpooled[k]));
    return `${name}[${formatSlice(blockSlice(entries, fullShape, from, to))}]: ${value} (block ${factors.join("×")})`;
  }

  return {
    element: h("div", { className: "heatmap" }, viewport.element, barSlot),
    canvas: viewport.canvas,
    /**
     * Draws `tensor` (rank <= 2) of a value of `fullShape` in `range`
     * (default: this step's own range); `name` labels the tooltip ("x" for
     * a value, "(A − B)" for a diff).
     * @param {import("../api.js").Tensor} tensor
     * @param {number[]} fullShape
     * @param {{name?: string, range?: import("../ranges.js").ColourRange, axisNames?: string[]|null}} [options]
     */
    draw(tensor, fullShape, { name = "x", range = null, axisNames = null } = {}) {
      const started = performance.now();
      const entries = expandSlice(parseSlice(tensor.slice), fullShape);
      const rows = tensor.shape.length === 2 ? tensor.shape[0] : 1;
      const cols = tensor.shape.length === 0 ? 1 : tensor.shape[tensor.shape.length - 1];
      const colours = range ?? colourRange(tensor.values, { range: "step", map: "auto", scale: "linear" }, []);
      if (source.width !== cols || source.height !== rows) {
        source.width = cols;
        source.height = rows;
      }
      const context = source.getContext("2d");
      const image = context.createImageData(cols, rows);
      const { marks, counts } = paint(tensor.values, new Uint32Array(image.data.buffer), colours, cols);
      context.putImageData(image, 0, 0);
      shown = { tensor, entries, fullShape, unpooled: resultShape(entries, fullShape), name, cols };
      viewport.setImage(source, cols, rows, marks, axisLabels(tensor, entries, fullShape, axisNames));
      viewport.canvas.dataset.drawMs = (performance.now() - started).toFixed(2);
      show(barSlot, colorbar(colours, counts));
    },
  };
}

function choice(label, options, current, onChange) {
  const select = h("select", { "aria-label": label, onchange: () => onChange(select.value) },
    options.map(([value, text]) => h("option", { value, text, selected: value === current })));
  return h("label", null, `${label} `, select);
}

// The heatmap view of a value: a 2-D (or 1-D) slice, pooled by the server
// beyond 1024 x 1024 cells, with its colour controls.
export function createHeatmapView() {
  const heatmap = createHeatmap();
  const controls = h("div", { className: "toolbar colour-controls" });
  return {
    element: h("div", { className: "heatmap-view" }, controls, heatmap.element),
    async update({ run, tag, step, dtype, fullShape, axisNames, sliceText, stats, colour, setColour, signal }) {
      const tensor = await fetchValue({ run, tag, step, dtype, slice: sliceText, maxCells: HEATMAP_CELLS }, signal);
      const range = colourRange(tensor.values, colour, stats);
      const bound = (key, value) => h("input", {
        type: "number", step: "any", className: `colour-${key}`, "aria-label": `colour range ${key === "lo" ? "low" : "high"} end`,
        value: String(colour[key] ?? (key === "lo" ? range.lo : range.hi)),
        onchange: (event) => {
          const number = Number(event.target.value);
          if (event.target.value !== "" && Number.isFinite(number)) setColour({ [key]: number });
        },
      });
      show(controls,
        choice("colour range", RANGE_CHOICES, colour.range, (value) => setColour({ range: value })),
        colour.range === "manual" ? [bound("lo", colour.lo), "to", bound("hi", colour.hi)] : null,
        choice("map", MAP_CHOICES, colour.map, (value) => setColour({ map: value })),
        choice("scale", SCALE_CHOICES, colour.scale, (value) => setColour({ scale: value })));
      heatmap.draw(tensor, fullShape, { range, axisNames });
    },
  };
}
