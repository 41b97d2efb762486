// The pure logic of the views over steps: TensorBoard's smoothing, log axes,
// the histogram ridges' layout and hit testing, facet choices, and tag
// sorting and filtering by statistics.
import assert from "node:assert/strict";
import { test } from "node:test";

import { chooseFacet, facetChoices, sharedExtent } from "../../frontend/facetaxes.js";
import { binAt, binText, countY, stepAt, traceLayout } from "../../frontend/histogramsteps.js";
import { logValues, smooth, smoothingWeight } from "../../frontend/smoothing.js";
import { decodeState, DEFAULT_STATE, encodeState } from "../../frontend/state.js";
import { keepTag, mergeTagStats, rankedRows, sortKey } from "../../frontend/tagstats.js";

test("smoothing is TensorBoard's debiased exponential moving average", () => {
  const ys = [1, 3, 2, NaN, 5];
  const w = 0.6;
  // by hand: last_k = w * last_(k-1) + (1 - w) * y_k, divided by 1 - w^k over finite points
  const l1 = 0.4 * 1;
  const l2 = w * l1 + 0.4 * 3;
  const l3 = w * l2 + 0.4 * 2;
  const l4 = w * l3 + 0.4 * 5;
  const expected = [l1 / (1 - w), l2 / (1 - w ** 2), l3 / (1 - w ** 3), NaN, l4 / (1 - w ** 4)];
  smooth(ys, w).forEach((y, i) => (Number.isNaN(expected[i]) ? assert.ok(Number.isNaN(y)) : assert.ok(Math.abs(y - expected[i]) < 1e-12)));
  assert.equal(smooth(ys, w)[0], 1); // debiased: the first point is itself
  assert.deepEqual(smooth([4, 4, 4], 0.9), [4, 4, 4]);
  assert.deepEqual(smooth(ys, 0), ys);
  assert.deepEqual(smooth([Infinity, 2], 0.5), [Infinity, 2]);
});

test("smoothing weights from the URL are clamped to 0..0.999", () => {
  assert.equal(smoothingWeight("0.6"), 0.6);
  assert.equal(smoothingWeight("1"), 0.999);
  assert.equal(smoothingWeight("-1"), 0);
  assert.equal(smoothingWeight("abc"), 0);
  assert.equal(smoothingWeight(null), 0);
});

test("a log axis lists the values it cannot place", () => {
  const { values, nonPositive } = logValues([100, 0, -3, 1, NaN, Infinity]);
  assert.deepEqual(values.slice(0, 4).map((v) => (Number.isNaN(v) ? "gap" : v)), [2, "gap", "gap", 0]);
  assert.deepEqual(nonPositive, [1, 2]);
  assert.ok(Number.isNaN(values[4]) && values[5] === Infinity);
});

test("offset ridges stack from the oldest at the back; overlay shares one baseline", () => {
  const offset = traceLayout("offset", 3, 10, 200);
  assert.deepEqual(offset.map((t) => t.baseline), [10 + 70, 10 + 70 + 65, 10 + 200]);
  assert.ok(offset.every((t) => t.height === 70));
  const overlay = traceLayout("overlay", 3, 10, 200);
  assert.ok(overlay.every((t) => t.baseline === 210 && t.height === 200));
  assert.equal(countY(5, offset[0], 10), 80 - 35);
  assert.equal(countY(0, offset[0], 0), 80);
});

test("the pointer finds its bin and its step", () => {
  assert.equal(binAt(50, 50, 100, 10), 0);
  assert.equal(binAt(149.9, 50, 100, 10), 9);
  assert.equal(binAt(150, 50, 100, 10), 9);
  assert.equal(binAt(49, 50, 100, 10), -1);
  const rows = [{ counts: [10, 0] }, { counts: [0, 10] }];
  const overlay = traceLayout("overlay", 2, 0, 100);
  assert.equal(stepAt(5, 0, rows, overlay, 10, "overlay"), 0); // step 0's count 10 is drawn at the top
  assert.equal(stepAt(98, 0, rows, overlay, 10, "overlay"), 1);
  const offset = traceLayout("offset", 2, 0, 100);
  assert.equal(stepAt(offset[1].baseline - 1, 1, rows, offset, 10, "offset"), 1);
  assert.equal(stepAt(offset[0].baseline - 1, 0, rows, offset, 10, "offset"), 0);
});

test("bins read half-open except the last, which is closed", () => {
  const edges = [0, 1, 2];
  assert.equal(binText(edges, 0, String), "[0, 1)");
  assert.equal(binText(edges, 1, String), "[1, 2]");
  assert.equal(binText([3, 3], 0, String), "[3]");
});

test("small multiples facet a fixed axis, a named channel axis first", () => {
  const entries = [{ kind: "index", index: 0 }, { kind: "range" }, { kind: "range" }, { kind: "index", index: 0 }];
  assert.deepEqual(facetChoices(entries, [2, 5, 5, 8], 3), ["0", "3", "steps"]);
  assert.deepEqual(facetChoices(entries, [1, 5, 5, 8], 1), ["3"]);
  assert.equal(chooseFacet("", ["0", "3", "steps"], ["N", "H", "W", "C"]), "3");
  assert.equal(chooseFacet("", ["0", "2", "steps"], ["C", "H", "W", "N"]), "0");
  assert.equal(chooseFacet("", ["0", "2"], null), "2");
  assert.equal(chooseFacet("steps", ["0", "steps"], null), "steps");
  assert.equal(chooseFacet("7", ["steps"], null), "steps");
  assert.deepEqual(sharedExtent([{ lo: -1, hi: 2, nan: 1, posinf: 0, neginf: 0 }, { lo: null, hi: null, nan: 4, posinf: 1, neginf: 0 }]),
    { lo: -1, hi: 2, nan: 5, posinf: 1, neginf: 0 });
});

const REPLY = {
  runs: {
    a: {
      tags: ["x", "y", "z"], steps: [3, 3, 3], checked: [3, 3, 2], max_abs: [5, 0.5, null],
      nan_steps: [0, 1, 0], inf_steps: [0, 0, 1], nan: [0, 4, 0], inf: [0, 0, 2],
      std_change: [0.1, "Infinity", null], std_change_step: [1, 2, null],
    },
    b: {
      tags: ["x"], steps: [3], checked: [3], max_abs: [9], nan_steps: [1], inf_steps: [0], nan: [1], inf: [0],
      std_change: [0.2], std_change_step: [2],
    },
  },
};

test("tag statistics merge over the visible runs", () => {
  const merged = mergeTagStats(REPLY, []);
  assert.deepEqual(merged.get("x"), {
    maxAbs: 9, nan: 1, inf: 0, nanSteps: 1, infSteps: 0, stdChange: 0.2, stdChangeStep: 2, stdChangeRun: "b", partial: false,
  });
  assert.equal(merged.get("y").stdChange, Infinity);
  assert.equal(merged.get("z").partial, true);
  assert.equal(mergeTagStats(REPLY, ["b"]).get("x").maxAbs, 5);
});

test("sort keys and filters by statistics", () => {
  const stats = mergeTagStats(REPLY, []);
  assert.equal(sortKey(stats.get("x"), "maxabs"), 9);
  assert.equal(sortKey(stats.get("y"), "nonfinite"), 4);
  assert.equal(sortKey(undefined, "maxabs"), null);
  assert.equal(keepTag(stats.get("y"), "nan", null), true);
  assert.equal(keepTag(stats.get("z"), "nan", null), false);
  assert.equal(keepTag(stats.get("z"), "nonfinite", null), true);
  assert.equal(keepTag(stats.get("x"), "maxabs", 8), true);
  assert.equal(keepTag(stats.get("y"), "maxabs", 8), false);
  assert.equal(keepTag(undefined, "nan", null), false);
  const tags = new Map([["x", { steps: 3, alerts: 0 }], ["y", { steps: 3, alerts: 1 }], ["z", { steps: 3, alerts: 1 }], ["w", { steps: 1, alerts: 0 }]]);
  assert.deepEqual(rankedRows(tags, stats, null, { sort: "maxabs", filter: "", min: null }).map((r) => r.tag), ["x", "y", "w", "z"]);
  assert.deepEqual(rankedRows(tags, stats, null, { sort: "stdchange", filter: "", min: null }).map((r) => r.tag), ["y", "x", "w", "z"]);
  assert.deepEqual(rankedRows(tags, stats, /[xz]/, { sort: "nonfinite", filter: "nonfinite", min: null }).map((r) => r.tag), ["z", "x"]);
});

test("the new settings round-trip through the URL", () => {
  const state = { ...DEFAULT_STATE, smoothing: 0.85, logY: true, histogramMode: "overlay", facet: "steps", tagSort: "maxabs", tagFilter: "maxabs", tagMin: 2.5 };
  const decoded = decodeState(encodeState(state));
  for (const key of ["smoothing", "logY", "histogramMode", "facet", "tagSort", "tagFilter", "tagMin"]) assert.equal(decoded[key], state[key], key);
  assert.equal(encodeState(DEFAULT_STATE), "");
  const bad = decodeState("smooth=7&logy=yes&hmode=x&facet=..&tsort=evil&tfilter=x&tmin=abc");
  assert.deepEqual([bad.smoothing, bad.logY, bad.histogramMode, bad.facet, bad.tagSort, bad.tagFilter, bad.tagMin], [0.999, false, "offset", "", "name", "", null]);
});
