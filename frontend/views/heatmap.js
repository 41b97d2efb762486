// The heatmap: a 1-D or 2-D tensor drawn cell by cell on a canvas.
//
// Values use the perceptual sequential map over the finite range, diffs the
// diverging map centred on zero; NaN, +Inf and -Inf have colours of their
// own. Drawing is one pass for the range and one through a 256-colour lookup
// table into ImageData, so a 1024 x 1024 value draws in milliseconds; the
// time of the last draw is kept in the canvas's data-draw-ms. Hovering shows the element's index in the
// full value (or the block of a pooled cell) and its exact value.

import { fetchValue } from "../api.js";
import {
  cssColor, lookupTable, NAN_SLOT, NEGINF_SLOT, POSINF_SLOT, scaling, slotOf,
} from "../colormaps.js";
import { h, show } from "../dom.js";
import { formatCount, formatShort } from "../format.js";
import { survey } from "../ranges.js";
import { blockSlice, expandSlice, formatSlice, fullIndex, parseSlice, resultShape } from "../slicing.js";
import { createViewport } from "./viewport.js";

export const HEATMAP_CELLS = 1 << 20;

// Colours `values` into `pixels` (a Uint32Array over ImageData).
function paint(values, pixels, table, { offset, scale }) {
  for (let i = 0; i < values.length; i++) pixels[i] = table[slotOf(values[i], offset, scale)];
}

// The colour bar from `lo` to `hi`, and swatches of the non-finite values present.
function legend(kind, lo, hi, counts) {
  const table = lookupTable(kind);
  const bar = h("canvas", { className: "legend-bar", width: 256, height: 1 });
  const context = bar.getContext("2d");
  const strip = context.createImageData(256, 1);
  new Uint32Array(strip.data.buffer).set(table.subarray(0, 256));
  context.putImageData(strip, 0, 0);
  const swatch = (slot, label, count) =>
    count ? h("span", { className: "swatch" }, h("i", { style: { background: cssColor(table, slot) } }),
      `${label} ${formatCount(count)}`) : null;
  return h("div", { className: "legend" },
    h("span", { text: formatShort(lo) }), bar, h("span", { text: formatShort(hi) }),
    swatch(NAN_SLOT, "NaN", counts.nan), swatch(POSINF_SLOT, "+Inf", counts.posinf),
    swatch(NEGINF_SLOT, "-Inf", counts.neginf));
}

// kind: "sequential" for values, "diverging" for differences.
export function createHeatmap(kind = "sequential") {
  const legendSlot = h("div");
  const source = document.createElement("canvas");
  let shown = null; // {tensor, entries, fullShape, unpooled, name, cols}

  const viewport = createViewport(describe);

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
    element: h("div", { className: "heatmap" }, viewport.element, legendSlot),
    canvas: viewport.canvas,
    // Draws `tensor` (rank <= 2) of a value of `fullShape`; `name` labels
    // the tooltip ("x" for a value, "(A - B)" for a diff).
    draw(tensor, fullShape, name = "x") {
      const started = performance.now();
      const entries = expandSlice(parseSlice(tensor.slice), fullShape);
      const rows = tensor.shape.length === 2 ? tensor.shape[0] : 1;
      const cols = tensor.shape.length === 0 ? 1 : tensor.shape[tensor.shape.length - 1];
      const range = survey(tensor.values);
      if (source.width !== cols || source.height !== rows) {
        source.width = cols;
        source.height = rows;
      }
      const context = source.getContext("2d");
      const image = context.createImageData(cols, rows);
      paint(tensor.values, new Uint32Array(image.data.buffer), lookupTable(kind), scaling(kind, range.lo, range.hi));
      context.putImageData(image, 0, 0);
      shown = { tensor, entries, fullShape, unpooled: resultShape(entries, fullShape), name, cols };
      viewport.setImage(source, cols, rows);
      const elapsed = performance.now() - started;
      viewport.canvas.dataset.drawMs = elapsed.toFixed(2);
      const extent = Math.max(Math.abs(range.lo), Math.abs(range.hi));
      const [lo, hi] = kind === "diverging" ? [-extent, extent] : [range.lo, range.hi];
      show(legendSlot, legend(kind, lo, hi, range));
    },
  };
}

// The heatmap view of a value: a 2-D (or 1-D) slice, pooled by the server
// beyond 1024 x 1024 cells.
export function createHeatmapView() {
  const heatmap = createHeatmap("sequential");
  return {
    element: heatmap.element,
    async update({ run, tag, step, dtype, fullShape, sliceText, signal }) {
      const tensor = await fetchValue({ run, tag, step, dtype, slice: sliceText, maxCells: HEATMAP_CELLS }, signal);
      heatmap.draw(tensor, fullShape);
    },
  };
}
