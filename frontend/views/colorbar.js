// The colour bar beside a heatmap: the map from its low to its high value
// with round ticks, how the range was chosen, how many values fall beyond
// it, and the NaN, +Inf and -Inf cells (colour, glyph, count).

import { cssColor, lookupTable, NAN_SLOT, NEGINF_SLOT, POSINF_SLOT } from "../colormaps.js";
import { h } from "../dom.js";
import { formatCount, formatShort } from "../format.js";
import { ticks } from "../ranges.js";

const BAR_HEIGHT = 200;

// Where value v sits along the bar, 0 (low end) to 1 (high end).
function position(v, { lo, hi, scale }) {
  if (scale === "log") return (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo));
  return (v - lo) / (hi - lo);
}

/**
 * @param {import("../ranges.js").ColourRange} range
 * @param {{nan: number, posinf: number, neginf: number, below: number, above: number}} counts
 */
export function colorbar(range, counts) {
  const table = lookupTable(range.kind);
  const strip = h("canvas", { className: "colorbar-strip", width: 1, height: 256 });
  const context = strip.getContext("2d");
  const image = context.createImageData(1, 256);
  const words = new Uint32Array(image.data.buffer);
  for (let k = 0; k < 256; k++) words[k] = table[255 - k]; // high values at the top
  context.putImageData(image, 0, 0);
  const tickLabels = (range.hi > range.lo ? ticks(range.lo, range.hi, range.scale) : [range.lo]).map((v) => {
    const at = range.hi > range.lo ? position(v, range) : 0.5;
    return h("span", { className: "tick", style: { top: `${(1 - at) * BAR_HEIGHT}px` }, text: formatShort(v) });
  });
  const special = (slot, glyph, ink, label, count) => (count
    ? h("span", { className: "swatch" },
      h("i", { className: "glyph", style: { background: cssColor(table, slot), color: ink }, text: glyph }),
      `${label} ${formatCount(count)}`)
    : null);
  return h("div", { className: "colorbar", role: "img", "aria-label": `colour scale from ${formatShort(range.lo)} to ${formatShort(range.hi)}` },
    h("div", { className: "colorbar-scale" }, strip, h("div", { className: "colorbar-ticks" }, tickLabels)),
    h("div", { className: "colorbar-facts" },
      counts.above ? h("span", { text: `▲ ${formatCount(counts.above)} above ${formatShort(range.hi)}` }) : null,
      counts.below ? h("span", { text: `▼ ${formatCount(counts.below)} below ${formatShort(range.lo)}` }) : null,
      special(NAN_SLOT, "X", "#ffffff", "NaN", counts.nan),
      special(POSINF_SLOT, "I", "#000000", "+Inf", counts.posinf),
      special(NEGINF_SLOT, "−I", "#ffffff", "-Inf", counts.neginf),
      h("span", { className: "note", text: `${range.scale === "log" ? "log scale, " : ""}${range.note}` })));
}
