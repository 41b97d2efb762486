// Several runs' points on one x axis (overlaid charts), without inventing
// any: a run with no point at an x has null there (the chart leaves a gap),
// never a value interpolated from its neighbours.
//
// Pure (no DOM).

/**
 * Aligns per-run points on the sorted union of their xs.
 * @param {Array<Array<[number, number]>>} pointLists one list of [x, y] per run
 * @returns {{xs: number[], ys: Array<Array<number|null>>}} ys[k][i]: run k's y at
 *   xs[i], null where run k has no point there
 */
export function alignRuns(pointLists) {
  const xs = [...new Set(pointLists.flatMap((points) => points.map(([x]) => x)))].sort((a, b) => a - b);
  const position = new Map(xs.map((x, i) => [x, i]));
  const ys = pointLists.map((points) => {
    const row = new Array(xs.length).fill(null);
    for (const [x, y] of points) row[position.get(x)] = y;
    return row;
  });
  return { xs, ys };
}

/**
 * A statistic of a /stats row as a number to plot: JSON's "NaN" / "Infinity"
 * / "-Infinity" strings become those numbers; null (no such statistic, e.g.
 * the mean of a value without finite elements) becomes NaN.
 * @param {import("./api.js").StatsRow} row
 * @param {"min"|"mean"|"max"} key
 */
export function statValue(row, key) {
  const value = row[key];
  return value === null || value === undefined ? NaN : Number(value);
}

/**
 * The step of `steps` nearest to `x` (ties: the lower step); null when there are none.
 * @param {number[]} steps ascending
 */
export function nearestStep(steps, x) {
  let best = null;
  for (const step of steps) if (best === null || Math.abs(step - x) < Math.abs(best - x)) best = step;
  return best;
}

/**
 * A scalar capture's value from its statistics row (non-finite values have no mean).
 * @param {import("./api.js").StatsRow} row
 */
export function scalarOf(row) {
  if (row.nan) return NaN;
  if (row.posinf) return Infinity;
  if (row.neginf) return -Infinity;
  return row.mean ?? NaN;
}
