// Which axes small multiples can facet, and which one they facet by default.
//
// Pure (no DOM). The panels are a heatmap's slice (its one or two free axes);
// the facet is an axis that slice fixes by an index (each panel another
// index there) or the captured steps ("steps").

const CHANNEL_NAMES = /^(c|channel|channels|head|heads)$/i;

/**
 * The facets a slice allows: the axes it fixes with more than one index,
 * then "steps" (when the tag has more than one step).
 * @param {{kind: string}[]} entries the expanded slice
 * @param {number[]} shape
 * @param {number} stepCount
 * @returns {string[]} axis numbers as text, and "steps"
 */
export function facetChoices(entries, shape, stepCount) {
  const axes = entries.flatMap((entry, axis) => (entry.kind === "index" && shape[axis] > 1 ? [String(axis)] : []));
  return stepCount > 1 ? [...axes, "steps"] : axes;
}

/**
 * The facet shown: `wanted` when allowed, else an axis named channel or head
 * (capture(..., axes="NHWC")), else the last fixed axis (channels last, as
 * TensorFlow lays them out), else the steps; "" when none is possible.
 * @param {string} wanted from the URL ("" for the default)
 * @param {string[]} choices from facetChoices
 * @param {string[]|null} names the capture's axis names
 */
export function chooseFacet(wanted, choices, names) {
  if (choices.includes(wanted)) return wanted;
  const named = choices.find((choice) => choice !== "steps" && CHANNEL_NAMES.test(names?.[Number(choice)] ?? ""));
  if (named !== undefined) return named;
  const axes = choices.filter((choice) => choice !== "steps");
  return axes.length ? axes[axes.length - 1] : choices[0] ?? "";
}

/**
 * The one colour range every panel shares: the finite range of all panels'
 * unpooled values (facts from /facets), and their NaN/Inf counts summed.
 * @param {{lo: number|null, hi: number|null, nan: number, posinf: number, neginf: number}[]} panels
 */
export function sharedExtent(panels) {
  let lo = Infinity;
  let hi = -Infinity;
  const counts = { nan: 0, posinf: 0, neginf: 0 };
  for (const panel of panels) {
    if (panel.lo !== null && panel.lo < lo) lo = panel.lo;
    if (panel.hi !== null && panel.hi > hi) hi = panel.hi;
    for (const key of Object.keys(counts)) counts[key] += panel[key];
  }
  return lo <= hi ? { lo, hi, ...counts } : { lo: 0, hi: 0, ...counts };
}
