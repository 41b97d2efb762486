// Histograms over steps as TensorBoard's histogram dashboard draws them:
// the geometry of its "offset" mode (one ridge per step, stacked in depth,
// the oldest at the back) and "overlay" mode (every step on one baseline),
// and which step and bin a pointer is over.
//
// Pure (no DOM), so the layout is tested on its own.

export const RIDGE_FRACTION = 0.35;

/**
 * Where each step's trace lies: its baseline (px) and the height a full
 * count reaches, for `count` steps in a plot of `plotHeight` px from `top`.
 * Offset: baselines spread from the oldest (highest, back) to the newest
 * (lowest, front), each ridge `RIDGE_FRACTION` of the plot tall. Overlay:
 * every step on the bottom edge, the whole plot tall.
 * @returns {{baseline: number, height: number}[]}
 */
export function traceLayout(mode, count, top, plotHeight) {
  if (mode === "overlay" || count <= 1) {
    const height = mode === "overlay" ? plotHeight : plotHeight * RIDGE_FRACTION;
    return Array.from({ length: count }, () => ({ baseline: top + plotHeight, height }));
  }
  const height = plotHeight * RIDGE_FRACTION;
  const spacing = (plotHeight - height) / (count - 1);
  return Array.from({ length: count }, (_, k) => ({ baseline: top + height + k * spacing, height }));
}

/**
 * The y (px) of `count` in a trace: counts scale linearly, `most` reaching the full height.
 */
export function countY(count, trace, most) {
  return trace.baseline - (most > 0 ? (count / most) * trace.height : 0);
}

/**
 * The bin under x (px) for `bins` bins spread over [left, left + width]; -1 outside.
 */
export function binAt(x, left, width, bins) {
  if (x < left || x > left + width || bins < 1) return -1;
  return Math.min(bins - 1, Math.floor(((x - left) / width) * bins));
}

/**
 * The step (position in `rows`) a pointer at y means, at bin `bin`: in offset
 * mode the ridge whose curve is nearest above or at the pointer's level (the
 * front-most one there), in overlay mode the step whose count at that bin is
 * drawn nearest to y.
 * @param {{counts: number[]}[]} rows
 */
export function stepAt(y, bin, rows, layout, most, mode) {
  let best = -1;
  let distance = Infinity;
  rows.forEach((row, k) => {
    const trace = layout[k];
    const curve = countY(row.counts[bin] ?? 0, trace, most);
    const d = mode === "overlay"
      ? Math.abs(curve - y)
      : y <= trace.baseline && y >= curve - 2 ? trace.baseline - y : Math.abs(trace.baseline - y) + trace.height;
    if (d <= distance) {
      distance = d;
      best = k;
    }
  });
  return best;
}

/**
 * Text of bin `i` of `edges`: half-open except the last, which is closed.
 */
export function binText(edges, i, format) {
  if (edges.length === 2 && edges[0] === edges[1]) return `[${format(edges[0])}]`;
  return `[${format(edges[i])}, ${format(edges[i + 1])}${i === edges.length - 2 ? "]" : ")"}`;
}
