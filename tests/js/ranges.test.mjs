// Ranges: the finite survey of values.
import assert from "node:assert/strict";
import { test } from "node:test";

import { colourRange, quantiles, survey, ticks } from "../../frontend/ranges.js";

const pick = ({ kind, scale, lo, hi }) => ({ kind, scale, lo, hi });

test("the survey finds the finite range and counts the rest", () => {
  assert.deepEqual(survey(new Float32Array([3, NaN, -1, Infinity, -Infinity, NaN])),
    { lo: -1, hi: 3, finite: 2, nan: 2, posinf: 1, neginf: 1 });
  assert.deepEqual(survey([NaN]), { lo: 0, hi: 0, finite: 0, nan: 1, posinf: 0, neginf: 0 });
});

test("the colour range spans all steps, this step, percentiles or a manual range", () => {
  const values = Float32Array.from({ length: 101 }, (_, i) => i); // 0..100
  const stats = [{ step: 0, numel: 3, dtype: "float32", min: -1, max: 2 }, { step: 1, numel: 3, dtype: "float32", min: "NaN", max: 500 }];
  const settings = { range: "steps", lo: null, hi: null, map: "sequential", scale: "linear" };
  assert.deepEqual(pick(colourRange(values, settings, stats)), { kind: "sequential", scale: "linear", lo: -1, hi: 500 });
  assert.match(colourRange(values, settings, stats).note, /all 2 steps/);
  assert.deepEqual(pick(colourRange(values, { ...settings, range: "step" }, stats)), { kind: "sequential", scale: "linear", lo: 0, hi: 100 });
  assert.deepEqual(pick(colourRange(values, { ...settings, range: "clip" }, stats)), { kind: "sequential", scale: "linear", lo: 1, hi: 99 });
  assert.deepEqual(pick(colourRange(values, { ...settings, range: "manual", lo: 10, hi: 20 }, stats)),
    { kind: "sequential", scale: "linear", lo: 10, hi: 20 });
  const refused = colourRange(values, { ...settings, range: "manual", lo: 20, hi: 10 }, stats);
  assert.deepEqual([refused.lo, refused.hi], [0, 100]);
  assert.match(refused.note, /needs low < high/);
});

test("signed data gets a symmetric diverging map by default", () => {
  const settings = { range: "step", lo: null, hi: null, map: "auto", scale: "linear" };
  assert.deepEqual(pick(colourRange([-2, 0, 5], settings, [])), { kind: "diverging", scale: "linear", lo: -5, hi: 5 });
  assert.deepEqual(pick(colourRange([1, 5], settings, [])), { kind: "sequential", scale: "linear", lo: 1, hi: 5 });
  assert.deepEqual(pick(colourRange([1, 5], { ...settings, map: "diverging" }, [])), { kind: "diverging", scale: "linear", lo: -5, hi: 5 });
});

test("a log scale needs positive values and says where it starts", () => {
  const settings = { range: "step", lo: null, hi: null, map: "auto", scale: "log" };
  assert.deepEqual(pick(colourRange([0.01, 100], settings, [])), { kind: "sequential", scale: "log", lo: 0.01, hi: 100 });
  const fromZero = colourRange([0, 100], settings, []);
  assert.deepEqual(pick(fromZero), { kind: "sequential", scale: "log", lo: 1e-4, hi: 100 });
  assert.match(fromZero.note, /at or below it take the low colour/);
  const signed = colourRange([-1, 100], settings, []);
  assert.equal(signed.scale, "linear");
  assert.match(signed.note, /log scale needs positive values/);
});

test("ticks are round numbers inside the range", () => {
  assert.deepEqual(ticks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(ticks(-5, 5), [-4, -2, 0, 2, 4]);
  assert.deepEqual(ticks(1e-3, 100, "log"), [0.001, 0.01, 0.1, 1, 10, 100]);
  assert.deepEqual(ticks(3, 3), [3]);
});

test("quantiles of the finite values", () => {
  assert.deepEqual(quantiles([NaN, 5, 1, Infinity, 3], 0, 1), { lo: 1, hi: 5 });
  assert.equal(quantiles([NaN], 0, 1), null);
});
