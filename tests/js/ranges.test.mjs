// Ranges: the finite survey of values.
import assert from "node:assert/strict";
import { test } from "node:test";

import { survey } from "../../frontend/ranges.js";

test("the survey finds the finite range and counts the rest", () => {
  assert.deepEqual(survey(new Float32Array([3, NaN, -1, Infinity, -Infinity, NaN])),
    { lo: -1, hi: 3, finite: 2, nan: 2, posinf: 1, neginf: 1 });
  assert.deepEqual(survey([NaN]), { lo: 0, hi: 0, finite: 0, nan: 1, posinf: 0, neginf: 0 });
});
