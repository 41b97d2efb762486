// Slice expressions: parse, format, round trip, errors, and their use by views.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  blockSlice, defaultAxes, expandSlice, formatSlice, fullIndex, parseSlice, rangeLength, resultShape,
  SliceError, sliceForView, sliceShowing, withIndex,
} from "../../frontend/slicing.js";

test("parses integers, ranges and an ellipsis, ignoring whitespace", () => {
  assert.deepEqual(parseSlice(" 3, :, -1 :  , ::2, 1:5:-1, ..."), [
    { kind: "index", index: 3 },
    { kind: "range", start: null, stop: null, step: null },
    { kind: "range", start: -1, stop: null, step: null },
    { kind: "range", start: null, stop: null, step: 2 },
    { kind: "range", start: 1, stop: 5, step: -1 },
    { kind: "ellipsis" },
  ]);
  assert.deepEqual(parseSlice(""), []);
  assert.deepEqual(parseSlice("  "), []);
  assert.deepEqual(parseSlice("x[3, :]"), parseSlice("3, :"));
  assert.deepEqual(parseSlice("[+2]"), [{ kind: "index", index: 2 }]);
});

test("formats as the server writes it", () => {
  assert.equal(formatSlice(parseSlice("3,:,:,0")), "3, :, :, 0");
  assert.equal(formatSlice(parseSlice(":,10:20")), ":, 10:20");
  assert.equal(formatSlice(parseSlice("::2, -5:, 1:2:3")), "::2, -5:, 1:2:3");
  assert.equal(formatSlice(parseSlice("...,0")), "..., 0");
  assert.equal(formatSlice([]), "...");
});

test("round-trips every expression it formats", () => {
  for (const text of ["3, :, :, 0", ":, 10:20", "..., 0", "-1, ::-1", "1:2:3, 4", "..."]) {
    const formatted = formatSlice(parseSlice(text));
    assert.equal(formatted, text === "..." ? "..." : text);
    assert.deepEqual(parseSlice(formatted), parseSlice(text));
  }
});

test("rejects malformed expressions with a message naming the entry", () => {
  assert.throws(() => parseSlice("3, a"), (e) => e instanceof SliceError && /entry 2 \("a"\)/.test(e.message));
  assert.throws(() => parseSlice("1:2:3:4"), SliceError);
  assert.throws(() => parseSlice("::0"), /step cannot be zero/);
  assert.throws(() => parseSlice("..., ..."), /one '\.\.\.'/);
  assert.throws(() => parseSlice("1.5"), SliceError);
  assert.throws(() => parseSlice(Array(33).fill("0").join(",")), /at most 32/);
});

test("expands against a shape: ellipsis, trailing axes, negative indices, bounds", () => {
  const shape = [8, 64, 64, 3];
  assert.equal(formatSlice(expandSlice(parseSlice("..., 0"), shape)), ":, :, :, 0");
  assert.equal(formatSlice(expandSlice(parseSlice("-1"), shape)), "7, :, :, :");
  assert.throws(() => expandSlice(parseSlice("8"), shape), /index 8 is out of range for axis 0 of size 8/);
  assert.throws(() => expandSlice(parseSlice("0, 0, 0, 0, 0"), shape), /5 entries for a value with 4 axes/);
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
