// The ranges values span: the finite survey of a set of numbers (to scale
// heatmaps, images and chart axes), quantiles, the colour range a heatmap
// draws with (over all steps, this step, clipped to percentiles or manual;
// symmetric for signed data; log scale) and round tick values.
//
// Pure (no DOM).

/**
 * The finite range and the non-finite counts of some numbers.
 * @typedef {{lo: number, hi: number, finite: number, nan: number, posinf: number, neginf: number}} Survey
 */

/**
 * The finite min and max of `values` (0 and 0 when none is finite), and the
 * counts of finite, NaN, +Inf and -Inf elements.
 * @param {ArrayLike<number>} values
 * @returns {Survey}
 */
export function survey(values) {
  let lo = Infinity;
  let hi = -Infinity;
  let finite = 0;
  let nan = 0;
  let posinf = 0;
  let neginf = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v - v === 0) {
      finite++;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    } else if (v !== v) nan++;
    else if (v > 0) posinf++;
    else neginf++;
  }
  return finite ? { lo, hi, finite, nan, posinf, neginf } : { lo: 0, hi: 0, finite, nan, posinf, neginf };
}


/**
 * How a heatmap's colours are chosen.
 * @typedef {object} ColourSettings
 * @property {"steps"|"step"|"clip"|"manual"} range over all steps (from the
 *   per-step statistics), this step, this step's 1st-99th percentiles, or `lo`..`hi`
 * @property {number|null} lo manual lower end
 * @property {number|null} hi manual upper end
 * @property {"auto"|"sequential"|"diverging"} map auto: diverging (symmetric about 0) for signed data
 * @property {"linear"|"log"} scale
 */

/**
 * The colour range a heatmap draws with.
 * @typedef {object} ColourRange
 * @property {"sequential"|"diverging"} kind
 * @property {"linear"|"log"} scale
 * @property {number} lo the value at the low end of the map
 * @property {number} hi the value at the high end
 * @property {string} note how the range was chosen, in words
 */

export const RANGE_MODES = ["steps", "step", "clip", "manual"];
export const CLIP_FRACTION = 0.01;
const PERCENTILE_SAMPLE = 200000;

/**
 * The `low` and `high` quantiles (fractions) of the finite values, from an
 * even sample of at most PERCENTILE_SAMPLE of them; null when none is finite.
 * @param {ArrayLike<number>} values
 */
export function quantiles(values, low, high) {
  const stride = Math.max(1, Math.floor(values.length / PERCENTILE_SAMPLE));
  const sample = [];
  for (let i = 0; i < values.length; i += stride) {
    const v = values[i];
    if (v - v === 0) sample.push(v);
  }
  if (!sample.length) return null;
  const sorted = Float64Array.from(sample).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];
  return { lo: at(low), hi: at(high) };
}

// The finite min of the minima and max of the maxima of statistics rows
// (JSON numbers: "NaN"/"Infinity" strings and nulls are skipped); null if none.
function statsExtent(rows) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of rows) {
    if (typeof row.min === "number" && Number.isFinite(row.min)) lo = Math.min(lo, row.min);
    if (typeof row.max === "number" && Number.isFinite(row.max)) hi = Math.max(hi, row.max);
  }
  return lo <= hi ? { lo, hi } : null;
}

/**
 * The colour range for `values` under `settings`; `stats` are the tag's
 * per-step statistics rows (for the range over all steps).
 * @param {ArrayLike<number>} values the numbers drawn at this step
 * @param {ColourSettings} settings
 * @param {import("./api.js").StatsRow[]} stats
 * @returns {ColourRange}
 */
export function colourRange(values, settings, stats) {
  const here = survey(values);
  let base = { lo: here.lo, hi: here.hi };
  let note = "range of this step";
  if (settings.range === "steps") {
    const extent = statsExtent(stats.filter((row) => row.numel > 0 && row.dtype !== "string"));
    if (extent && stats.length > 1) {
      base = extent;
      note = `range over all ${stats.length} steps`;
    } else if (!extent || !stats.length) {
      note = "range of this step (statistics of the other steps not loaded)";
    }
  } else if (settings.range === "clip") {
    const clipped = quantiles(values, CLIP_FRACTION, 1 - CLIP_FRACTION);
    if (clipped) base = clipped;
    note = `${CLIP_FRACTION * 100}th–${100 - CLIP_FRACTION * 100}th percentile of this step; values beyond take the end colours`;
  } else if (settings.range === "manual") {
    if (Number.isFinite(settings.lo) && Number.isFinite(settings.hi) && settings.lo < settings.hi) {
      base = { lo: settings.lo, hi: settings.hi };
      note = "manual range; values beyond take the end colours";
    } else {
      note = "range of this step (the manual range needs low < high)";
    }
  }
  const signed = base.lo < 0 && base.hi > 0;
  const kind = settings.map === "auto" ? (signed ? "diverging" : "sequential") : settings.map;
  if (kind === "diverging") {
    const m = Math.max(Math.abs(base.lo), Math.abs(base.hi));
    base = { lo: -m, hi: m };
    note += "; symmetric about 0";
  }
  let scale = "linear";
  if (settings.scale === "log") {
    if (kind === "diverging" || !(base.hi > 0)) {
      note += "; log scale needs positive values, linear used";
    } else {
      scale = "log";
      const floor = base.lo > 0 ? base.lo : base.hi / 1e6;
      if (!(base.lo > 0)) note += `; log scale from ${floor.toPrecision(2)}, values at or below it take the low colour`;
      base = { lo: floor, hi: base.hi };
    }
  }
  return { kind, scale, lo: base.lo, hi: base.hi, note };
}

/**
 * About `count` round tick values within [lo, hi] (1, 2 or 5 times a power of
 * ten apart); powers of ten on a log scale.
 * @returns {number[]}
 */
export function ticks(lo, hi, scale = "linear", count = 5) {
  if (!(hi > lo)) return Number.isFinite(lo) ? [lo] : [];
  if (scale === "log") {
    const out = [];
    for (let e = Math.ceil(Math.log10(lo)); e <= Math.floor(Math.log10(hi)); e++) out.push(10 ** e);
    return out.length >= 2 ? out : [lo, hi];
  }
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const out = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) out.push(Number((k * step).toPrecision(12)) + 0);
  return out;
}
