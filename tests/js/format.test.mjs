// Number formatting: exact values per dtype, compact numbers, counts, shapes.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  statisticsOnlyText,
  formatComplex, formatCount, formatExact, formatShape, formatShort, fromJsonNumber, summaryLine,
} from "../../frontend/format.js";

test("exact values are the shortest text that reads back in the value's precision", () => {
  assert.equal(formatExact(Math.fround(0.1), "float32"), "0.1");
  assert.equal(formatExact(0.1, "float64"), "0.1");
  assert.equal(formatExact(Math.fround(1 / 3), "float32"), "0.33333334");
  assert.equal(formatExact(1 / 3, "float64"), "0.3333333333333333");
  assert.equal(formatExact(Math.fround(1e-7), "float32"), "1e-7");
  assert.equal(formatExact(65504, "float16"), "65504");
  assert.equal(formatExact(-0.5, "bfloat16"), "-0.5");
  assert.equal(formatExact(42, "int32"), "42");
  assert.equal(formatExact(9007199254740993n, "int64"), "9007199254740993");
  assert.equal(formatExact(1, "bool"), "true");
  assert.equal(formatExact(0, "bool"), "false");
});

test("non-finite values read NaN, +Inf and -Inf", () => {
  assert.equal(formatExact(NaN, "float32"), "NaN");
  assert.equal(formatExact(Infinity), "+Inf");
  assert.equal(formatExact(-Infinity), "-Inf");
  assert.equal(formatShort(NaN), "NaN");
  assert.equal(formatShort("Infinity"), "+Inf");
  assert.equal(formatShort("-Infinity"), "-Inf");
  assert.equal(formatShort(null), "–");
});

test("compact numbers keep about four significant digits", () => {
  assert.equal(formatShort(0), "0");
  assert.equal(formatShort(0.50219), "0.5022");
  assert.equal(formatShort(2179), "2179");
  assert.equal(formatShort(-12.3456), "-12.35");
  assert.equal(formatShort(123456), "1.235e5");
  assert.equal(formatShort(0.0001234), "1.234e-4");
  assert.equal(formatShort(1e-12), "1e-12");
  assert.equal(formatShort(0.1234567, 6), "0.123457");
});

test("counts, shapes and complex values", () => {
  assert.equal(formatCount(0), "0");
  assert.equal(formatCount(999), "999");
  assert.equal(formatCount(1234567), "1,234,567");
  assert.equal(formatCount(-1000), "-1,000");
  assert.equal(formatShape([]), "()");
  assert.equal(formatShape([3]), "(3,)");
  assert.equal(formatShape([8, 64, 64, 3]), "(8, 64, 64, 3)");
  assert.equal(formatComplex(1, 2), "1+2j");
  assert.equal(formatComplex(0, -3), "0-3j");
  assert.equal(formatComplex(NaN, Infinity), "NaN+Infj");
  assert.equal(formatComplex(Math.fround(0.1), Math.fround(-0.2), "complex64"), "0.1-0.2j");
});

test("JSON's strings for non-finite numbers", () => {
  assert.ok(Number.isNaN(fromJsonNumber("NaN")));
  assert.equal(fromJsonNumber("Infinity"), Infinity);
  assert.equal(fromJsonNumber("-Infinity"), -Infinity);
  assert.equal(fromJsonNumber(1.5), 1.5);
  assert.equal(fromJsonNumber(null), null);
});

test("summaryLine writes a capture in one line, lovely-tensors style", () => {
  const row = {
    dtype: "float32", shape: [32, 4], numel: 128, min: -0.6812, max: 0.6346, mean: 0.01234, std: 0.2611,
    nan: 1, posinf: 0, neginf: 2, zeros: 0,
  };
  assert.equal(summaryLine(row), "f32[32,4] n=128 x∈[-0.6812, 0.6346] μ=0.0123 σ=0.261 NaN! -Inf!");
  assert.equal(summaryLine({ ...row, shape: [], numel: 1, min: 0, max: 0, mean: 0, std: 0, nan: 0, neginf: 0, zeros: 1 }),
    "f32[] n=1 x∈[0, 0] μ=0 all zeros");
  assert.equal(summaryLine({ dtype: "string", shape: [3], numel: 3, zeros: 1, nan: 0, posinf: 0, neginf: 0 }), "str[3] n=3");
});

test("a statistics-only step names the nearest steps with values, at most three each side", () => {
  const rows = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((step) => ({ step, kind: [1, 2, 5, 6, 7, 8, 9].includes(step) ? "full" : "health" }));
  const text = statisticsOnlyText(4, rows);
  assert.match(text, /^Step 4 kept only statistics/);
  assert.match(text, /Steps with values nearby: 1, 2, 5, 6, 7\.$/);
  assert.match(statisticsOnlyText(0, rows.map((row) => ({ ...row, kind: "health" }))), /No step of this tag kept its value\.$/);
});
