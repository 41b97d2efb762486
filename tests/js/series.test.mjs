// Overlaid runs: alignment on one x axis with gaps, never interpolation.
import assert from "node:assert/strict";
import { test } from "node:test";

import { alignRuns, nearestStep, statValue } from "../../frontend/series.js";

test("runs are aligned on the union of their steps; a missing step is null", () => {
  const { xs, ys } = alignRuns([
    [[0, 1], [1, 2], [2, 3], [3, 4]],
    [[0, 10], [2, 30]], // no step 1 or 3: gaps, not 20 interpolated
    [], // a run without the tag
  ]);
  assert.deepEqual(xs, [0, 1, 2, 3]);
  assert.deepEqual(ys[0], [1, 2, 3, 4]);
  assert.deepEqual(ys[1], [10, null, 30, null]);
  assert.deepEqual(ys[2], [null, null, null, null]);
});

test("steps out of order and non-finite values are kept as they are", () => {
  const { xs, ys } = alignRuns([[[5, NaN], [1, Infinity]], [[3, 0]]]);
  assert.deepEqual(xs, [1, 3, 5]);
  assert.deepEqual(ys[0], [Infinity, null, NaN]);
  assert.deepEqual(ys[1], [null, 0, null]);
});

test("statistics rows give numbers; a missing statistic is NaN", () => {
  const row = { min: "-Infinity", mean: null, max: 2.5 };
  assert.equal(statValue(row, "min"), -Infinity);
  assert.ok(Number.isNaN(statValue(row, "mean")));
  assert.equal(statValue(row, "max"), 2.5);
  assert.ok(Number.isNaN(statValue({ min: "NaN" }, "min")));
});

test("the nearest step a run holds", () => {
  assert.equal(nearestStep([0, 10, 20], 14), 10);
  assert.equal(nearestStep([0, 10, 20], 15), 10);
  assert.equal(nearestStep([0, 10, 20], 16), 20);
  assert.equal(nearestStep([], 3), null);
});
