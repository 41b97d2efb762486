// Smoothing and log scales for charts over steps, as TensorBoard's scalar
// dashboard does them.
//
// Pure (no DOM), so the formulas are tested on their own.

export const MAX_SMOOTHING = 0.999;

/**
 * TensorBoard's debiased exponential moving average: with weight w,
 * last = w * last + (1 - w) * y, divided by 1 - w^k after k finite points so
 * that the first points are not pulled toward 0. Non-finite points (NaN,
 * ±Inf) are kept as they are and do not enter the average; a constant
 * series stays exactly constant. w = 0 returns the values unchanged.
 * @param {ArrayLike<number>} ys
 * @param {number} weight in [0, 1)
 * @returns {number[]}
 */
export function smooth(ys, weight) {
  const values = Array.from(ys);
  if (!(weight > 0)) return values;
  const constant = values.every((y) => y === values[0]);
  let last = 0;
  let count = 0;
  return values.map((y) => {
    if (constant || !Number.isFinite(y)) return y;
    last = last * weight + (1 - weight) * y;
    count += 1;
    return last / (1 - weight ** count);
  });
}

/**
 * A smoothing weight from URL text: a number in [0, MAX_SMOOTHING], else 0.
 * @param {string|null} text
 */
export function smoothingWeight(text) {
  const value = text === null || text === "" ? NaN : Number(text);
  return Number.isFinite(value) && value >= 0 ? Math.min(value, MAX_SMOOTHING) : 0;
}

/**
 * Values for a log axis: log10 of each positive value; zero and negative
 * values cannot be placed and become NaN, their positions listed in
 * `nonPositive` so that the chart can say so. NaN and ±Inf stay as they are.
 * @param {ArrayLike<number>} ys
 * @returns {{values: number[], nonPositive: number[]}}
 */
export function logValues(ys) {
  const nonPositive = [];
  const values = Array.from(ys, (y, i) => {
    if (!Number.isFinite(y)) return y;
    if (y > 0) return Math.log10(y);
    nonPositive.push(i);
    return NaN;
  });
  return { values, nonPositive };
}
