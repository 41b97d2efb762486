// The image view: an H x W (grey) or H x W x {1, 3, 4} (grey, RGB, RGBA)
// slice drawn as pixels, zoomable like the heatmap.
//
// uint8 values are shown as they are, values within [0, 1] scaled by 255,
// anything else stretched from its finite min to max (the note under the
// image says which). A pixel with a NaN or infinite channel takes that
// value's colour from the heatmap maps.

import { fetchValue } from "../api.js";
import { NAN_COLOR, NEGINF_COLOR, POSINF_COLOR } from "../colormaps.js";
import { h } from "../dom.js";
import { formatShort } from "../format.js";
import { survey } from "../ranges.js";
import { expandSlice, fullIndex, parseSlice } from "../slicing.js";
import { createViewport } from "./viewport.js";

// How values become 0..255: {scale, offset, note}.
function intensity(dtype, values) {
  if (dtype === "uint8") return { offset: 0, scale: 1, note: "uint8 values shown as they are" };
  if (dtype === "bool") return { offset: 0, scale: 255, note: "false black, true white" };
  const { lo, hi } = survey(values);
  if (lo >= 0 && hi <= 1) return { offset: 0, scale: 255, note: "values in [0, 1] scaled by 255" };
  const span = hi > lo ? hi - lo : 1;
  return {
    offset: (-lo * 255) / span,
    scale: 255 / span,
    note: `stretched from ${formatShort(lo)} (black) to ${formatShort(hi)} (white)`,
  };
}

// The colour of a pixel with a non-finite channel, else null.
function special(values, start, channels) {
  let colour = null;
  for (let c = 0; c < channels; c++) {
    const v = values[start + c];
    if (v !== v) return NAN_COLOR;
    if (v === Infinity) colour = POSINF_COLOR;
    else if (v === -Infinity && !colour) colour = NEGINF_COLOR;
  }
  return colour;
}

function paint(values, rgba, pixels, channels, { offset, scale }) {
  for (let p = 0; p < pixels; p++) {
    const start = p * channels;
    const out = p * 4;
    const colour = special(values, start, channels);
    if (colour) {
      rgba.set(colour, out);
      rgba[out + 3] = 255;
      continue;
    }
    const level = (c) => offset + values[start + c] * scale;
    if (channels < 3) {
      rgba.fill(level(0), out, out + 3);
    } else {
      rgba[out] = level(0);
      rgba[out + 1] = level(1);
      rgba[out + 2] = level(2);
    }
    rgba[out + 3] = channels === 4 ? level(3) : 255;
  }
}

export function createImageView() {
  const note = h("div", { className: "note" });
  const source = document.createElement("canvas");
  let shown = null; // {tensor, entries, fullShape, width, channels}
  const viewport = createViewport(({ row, col }) => {
    const { tensor, entries, fullShape, width, channels } = shown;
    const start = (row * width + col) * channels;
    const index = fullIndex(entries, fullShape, tensor.shape.length === 3 ? [row, col, 0] : [row, col]);
    const texts = Array.from({ length: channels }, (_, c) => tensor.text(start + c));
    if (tensor.shape.length === 3) index[index.length - 1] = ":";
    return `x[${index.join(", ")}] = ${channels > 1 ? `(${texts.join(", ")})` : texts[0]}`;
  });
  return {
    element: h("div", { className: "image-view" }, viewport.element, note),
    canvas: viewport.canvas,
    async update({ run, tag, step, dtype, fullShape, sliceText, signal }) {
      const tensor = await fetchValue({ run, tag, step, dtype, slice: sliceText }, signal);
      const [height, width, channels = 1] = tensor.shape;
      const entries = expandSlice(parseSlice(tensor.slice), fullShape);
      const mapping = intensity(tensor.dtype, tensor.values);
      source.width = width;
      source.height = height;
      const context = source.getContext("2d");
      const image = context.createImageData(width, height);
      paint(tensor.values, image.data, width * height, channels, mapping);
      context.putImageData(image, 0, 0);
      shown = { tensor, entries, fullShape, width, channels };
      viewport.setImage(source, width, height);
      note.textContent = `${width} × ${height}, ${["", "grey", "", "RGB", "RGBA"][channels]}; ${mapping.note}`;
    },
  };
}
