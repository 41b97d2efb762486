// The divergence headline's detail: elements for values, statistics for health captures, shapes otherwise.
import assert from "node:assert/strict";
import { test } from "node:test";

import { partingDetail } from "../../frontend/views/divergence.js";

test("values: counts elements and NaN/Inf positions", () => {
  assert.equal(
    partingDetail({ reason: "values", nonfinite_mismatch: 0, max_abs: 0.5, outside: 3 }),
    "0 NaN/Inf differ, max |A−B| 0.5 over finite pairs, 3 elements outside tolerance");
});

test("health captures: counts statistics, never elements", () => {
  assert.equal(
    partingDetail({ reason: "statistics", compared: "statistics", nonfinite_mismatch: 0, max_abs: 0.5, outside: 1 }),
    "NaN/Inf counts differ by 0, max |A−B| 0.5 over finite statistics, 1 statistic outside tolerance");
  assert.match(
    partingDetail({ reason: "nonfinite", compared: "statistics", nonfinite_mismatch: 4, max_abs: null, outside: 2 }),
    /^NaN\/Inf counts differ by 4, .* 2 statistics outside tolerance$/);
});

test("shape and dtype mismatches show both shapes", () => {
  assert.equal(partingDetail({ reason: "shape", shape: [2, 3], shape2: [3, 2] }), "(2, 3) vs (3, 2)");
});
