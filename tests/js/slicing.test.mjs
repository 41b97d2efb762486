// Slice expressions: parse, format, round trip, errors, and their use by views.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  axisLabel, blockSlice, defaultAxes, expandSlice, formatSlice, fullIndex, parseSlice, rangeLength, resultShape,
  SliceError, sliceForView, sliceShowing, withIndex,
} from "../../frontend/slicing.js";

const CASES = JSON.parse(readFileSync(new URL("../slicing_cases.json", import.meta.url), "utf8"));

test("parses every shared case to the canonical text the server gives", () => {
  for (const { text, canonical } of CASES.parse) {
    assert.equal(formatSlice(parseSlice(text)), canonical, text);
    assert.equal(formatSlice(parseSlice(canonical)), canonical, canonical);
  }
  assert.deepEqual(parseSlice(" 3, :, -1 :  , ::2, 1:5:-1, ..."), [
    { kind: "index", index: 3 },
    { kind: "range", start: null, stop: null, step: null },
    { kind: "range", start: -1, stop: null, step: null },
    { kind: "range", start: null, stop: null, step: 2 },
    { kind: "range", start: 1, stop: 5, step: -1 },
    { kind: "ellipsis" },
  ]);
});

test("refuses every shared malformed case with the server's message", () => {
  for (const { text, error } of CASES.parse_errors) {
    assert.throws(() => parseSlice(text), (e) => e instanceof SliceError && e.message === error, text);
  }
});

test("gives the shared result shapes and shape errors", () => {
  for (const { text, shape, result_shape: expected } of CASES.apply) {
    assert.deepEqual(resultShape(expandSlice(parseSlice(text), shape), shape), expected, text);
  }
  for (const { text, shape, error } of CASES.apply_errors) {
    assert.throws(() => expandSlice(parseSlice(text), shape), (e) => e instanceof SliceError && e.message === error, text);
  }
});

test("expands against a shape: ellipsis, trailing axes, negative indices, bounds", () => {
  const shape = [8, 64, 64, 3];
  assert.equal(formatSlice(expandSlice(parseSlice("..., 0"), shape)), ":, :, :, 0");
  assert.equal(formatSlice(expandSlice(parseSlice("-1"), shape)), "7, :, :, :");
  assert.throws(() => expandSlice(parseSlice("8"), shape), /index 8 is out of range for axis 0 of size 8/);
  assert.throws(() => expandSlice(parseSlice("0, 0, 0, 0, 0"), shape), /too many entries \(5\) for a value with 4 axes/);
});

test("computes result shapes like numpy", () => {
  const shape = [10, 10];
  const lengths = { ":": 10, "2:5": 3, "::3": 4, "::-1": 10, "-3:": 3, "5:2": 0, "8:2:-2": 3, "20:": 0 };
  for (const [text, length] of Object.entries(lengths)) {
    assert.equal(rangeLength(parseSlice(text)[0], 10), length, text);
  }
  assert.deepEqual(resultShape(expandSlice(parseSlice("3, 2:5"), shape), shape), [3]);
});

test("maps result positions back to full indices", () => {
  const shape = [4, 10, 10, 3];
  const entries = expandSlice(parseSlice("2, 1::2, ::-1, 0"), shape);
  assert.deepEqual(fullIndex(entries, shape, [0, 0]), [2, 1, 9, 0]);
  assert.deepEqual(fullIndex(entries, shape, [3, 2]), [2, 7, 7, 0]);
  const block = blockSlice(expandSlice(parseSlice("1, :, :"), [2, 16, 16]), [2, 16, 16], [4, 8], [8, 9]);
  assert.equal(formatSlice(block), "1, 4:8, 8");
});

test("picks displayed axes for views and keeps slider indices", () => {
  assert.deepEqual(defaultAxes([8, 64, 64, 3], 2), [1, 2]);
  assert.deepEqual(defaultAxes([5, 6, 7], 2), [1, 2]);
  assert.deepEqual(defaultAxes([8, 64, 64, 3], 3), [1, 2, 3]);
  assert.deepEqual(defaultAxes([4, 5], 2), [0, 1]);
  const shape = [8, 64, 64, 3];
  assert.equal(formatSlice(sliceForView(shape, 2, "").entries), "0, :, :, 0");
  assert.equal(formatSlice(sliceForView(shape, 2, "3, :, :, 1").entries), "3, :, :, 1");
  assert.equal(formatSlice(sliceForView(shape, 1, "3, :, :, 1").entries), "3, :, 0, 1");
  assert.equal(formatSlice(sliceForView(shape, 3, "3, :, :, 1").entries), "3, :, :, :");
  assert.equal(formatSlice(sliceForView(shape, 2, "3, 10:20, :, 1").entries), "3, 10:20, :, 1");
  const bad = sliceForView(shape, 2, "9, :, :, 0");
  assert.match(bad.error, /out of range/);
  assert.equal(formatSlice(bad.entries), "0, :, :, 0");
  assert.equal(formatSlice(withIndex(sliceShowing(shape, [1, 2]), 0, 5)), "5, :, :, 0");
});

test("N x H x W x C shows H x W by default, and named axes are followed", () => {
  assert.deepEqual(defaultAxes([8, 32, 32, 16], 2), [1, 2]);
  assert.deepEqual(defaultAxes([16, 8, 32, 32], 2, ["N", "C", "H", "W"]), [2, 3]);
  assert.deepEqual(defaultAxes([16, 8, 32], 2, ["C", "H", "W"]), [1, 2]);
  assert.deepEqual(defaultAxes([16, 8, 32], 2, ["time", "height", "width"]), [1, 2]);
  assert.equal(formatSlice(sliceForView([2, 5, 6, 16], 2, "", ["N", "H", "W", "C"]).entries), "0, :, :, 0");
  assert.equal(axisLabel(["N", "H", "W", "C"], 3), "channel");
  assert.equal(axisLabel(["batch", "head", "query", "key"], 1), "head");
  assert.equal(axisLabel(null, 2), "axis 2");
});
