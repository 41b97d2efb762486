// The ranges values span: the finite survey of a set of numbers, used to
// scale heatmaps, images and chart axes.
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

