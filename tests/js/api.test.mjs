// Decoding of binary and JSON values: every dtype, float16/bfloat16 bit patterns.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError, decodeBfloat16, decodeBinary, decodeFloat16, stringTensor } from "../../frontend/api.js";

function headers(dtype, shape, extra = {}) {
  return new Headers({
    "X-TensorCap-Dtype": dtype, "X-TensorCap-Shape": shape.join(","), "X-TensorCap-Full-Shape": shape.join(","),
    "X-TensorCap-Slice": "...", "X-TensorCap-Pooled": "", ...extra,
  });
}

test("float16 bit patterns decode exactly, specials included", () => {
  const bits = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x3555, 0x7c00, 0xfc00, 0x7e00, 0x8000]);
  const values = Array.from(decodeFloat16(bits));
  assert.deepEqual(values.slice(0, 5), [1, -2, 65504, 2 ** -24, Math.fround(0.333251953125)]);
  assert.deepEqual(values.slice(5, 7), [Infinity, -Infinity]);
  assert.ok(Number.isNaN(values[7]));
  assert.ok(Object.is(values[8], -0));
});

test("bfloat16 bit patterns are the top half of a float32", () => {
  const values = Array.from(decodeBfloat16(new Uint16Array([0x3fc0, 0xc010, 0x7f80, 0x7fc0])));
  assert.deepEqual(values.slice(0, 3), [1.5, -2.25, Infinity]);
  assert.ok(Number.isNaN(values[3]));
});

test("binary values decode to numbers to draw and exact text", () => {
  const f32 = new Float32Array([0.1, NaN, Infinity, -2]);
  const tensor = decodeBinary(f32.buffer, headers("float32", [2, 2]));
  assert.deepEqual(tensor.shape, [2, 2]);
  assert.equal(tensor.size, 4);
  assert.equal(tensor.pooled, null);
  assert.deepEqual([0, 1, 2, 3].map(tensor.text), ["0.1", "NaN", "+Inf", "-2"]);

  const i64 = decodeBinary(new BigInt64Array([9007199254740993n, -1n]).buffer, headers("int64", [2]));
  assert.deepEqual(Array.from(i64.values), [9007199254740992, -1]);
  assert.equal(i64.text(0), "9007199254740993");

  const c64 = decodeBinary(new Float32Array([3, 4, 0, -1]).buffer, headers("complex64", [2]));
  assert.deepEqual(Array.from(c64.values), [5, 1]);
  assert.equal(c64.text(0), "3+4j");
  assert.equal(c64.text(1), "0-1j");

  const flags = decodeBinary(new Uint8Array([1, 0]).buffer, headers("bool", [2]));
  assert.deepEqual([flags.text(0), flags.text(1)], ["true", "false"]);

  const half = decodeBinary(new Uint16Array([0x3800]).buffer, headers("float16", []));
  assert.deepEqual(half.shape, []);
  assert.equal(half.text(0), "0.5");
});

test("pooled replies carry their block factors and full shape", () => {
  const tensor = decodeBinary(new Float32Array(6).buffer, headers("float32", [2, 3], {
    "X-TensorCap-Pooled": "4,5", "X-TensorCap-Full-Shape": "8,15", "X-TensorCap-Slice": "0, :, :",
  }));
  assert.deepEqual(tensor.pooled, [4, 5]);
  assert.deepEqual(tensor.fullShape, [8, 15]);
  assert.equal(tensor.slice, "0, :, :");
});

test("a body that does not match its headers is an ApiError", () => {
  assert.throws(() => decodeBinary(new ArrayBuffer(12), headers("float32", [2, 2])), ApiError);
  assert.throws(() => decodeBinary(new ArrayBuffer(4), headers("float128", [1])), /unknown dtype/);
});

test("string values come from JSON, nested lists flattened", () => {
  const tensor = stringTensor({
    dtype: "string", shape: [2, 2], full_shape: [2, 2], slice: "...", data: [["a", "<b>"], ["", "\\xff"]],
  });
  assert.equal(tensor.size, 4);
  assert.deepEqual([0, 1, 2, 3].map(tensor.text), ["a", "<b>", "", "\\xff"]);
  assert.equal(stringTensor({ dtype: "string", shape: [], full_shape: [], slice: "...", data: "x" }).text(0), "x");
});
