// Which views suit a capture and how many axes each draws.
import assert from "node:assert/strict";
import { test } from "node:test";

import { availableViews, defaultView, resolveView, viewAxes } from "../../frontend/viewkinds.js";

test("default views by rank and dtype", () => {
  assert.equal(defaultView("float32", []), "scalar");
  assert.equal(defaultView("float32", [100]), "line");
  assert.equal(defaultView("float32", [8, 16]), "heatmap");
  assert.equal(defaultView("uint8", [16, 24, 3]), "image");
  assert.equal(defaultView("float32", [3, 5, 6, 2]), "heatmap");
  assert.equal(defaultView("string", [3]), "table");
  assert.equal(defaultView("string", []), "scalar");
});

test("available views and fallback to the default", () => {
  assert.deepEqual(availableViews("float32", [8, 16]), ["line", "heatmap", "image", "histogram", "steps", "facets", "table"]);
  assert.deepEqual(availableViews("float32", [5, 6, 7]), ["line", "heatmap", "histogram", "steps", "facets", "table"]);
  assert.deepEqual(availableViews("float32", [5]), ["line", "heatmap", "histogram", "steps", "table"]);
  assert.deepEqual(availableViews("string", [2]), ["table"]);
  assert.equal(resolveView("image", "float32", [5, 6, 7]), "heatmap");
  assert.equal(resolveView("", "float32", [5]), "line");
  assert.equal(resolveView("table", "float32", [5]), "table");
});

test("axes drawn per view", () => {
  assert.equal(viewAxes("line", [4, 5, 6]), 1);
  assert.equal(viewAxes("heatmap", [4, 5, 6]), 2);
  assert.equal(viewAxes("heatmap", [4]), 1);
  assert.equal(viewAxes("image", [8, 16, 16, 3]), 3);
  assert.equal(viewAxes("image", [16, 16]), 2);
  assert.equal(viewAxes("histogram", [4, 5]), 0);
  assert.equal(viewAxes("steps", [4, 5]), 0);
  assert.equal(viewAxes("facets", [2, 4, 5, 8]), 2);
});
