// Run colours: TensorBoard's palette, ids in first-seen order, never given again.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  createColourIds, INACTIVE, paletteColour, runColourMap, TENSORBOARD_PALETTE,
} from "../../frontend/runcolors.js";

test("the palette is TensorBoard's default one, in its order", () => {
  assert.deepEqual(TENSORBOARD_PALETTE.map((c) => c.light),
    ["#425066", "#12b5cb", "#e52592", "#f9ab00", "#9334e6", "#7cb342", "#e8710a"]);
  assert.equal(TENSORBOARD_PALETTE[0].dark, "#8e98a3");
});

test("runs take colours in TensorBoard's run-list order, wrapping after seven", () => {
  const ids = createColourIds();
  const runs = ["healthy", "diverged", "nan", "record", "e", "f", "g", "h", "i"];
  ids.see(runs);
  const colours = runColourMap(runs, ids, false);
  assert.equal(colours.healthy, "#425066");
  assert.equal(colours.diverged, "#12b5cb");
  assert.equal(colours.nan, "#e52592");
  assert.equal(colours.record, "#f9ab00");
  assert.equal(colours.h, "#425066"); // the 8th run wraps to the first colour
  assert.equal(colours.i, "#12b5cb");
  assert.equal(runColourMap(["healthy"], ids, true).healthy, "#8e98a3");
});

test("a run seen later gets the next id even when it sorts first; none is given again", () => {
  const ids = createColourIds();
  ids.see(["b", "c"]);
  ids.see(["a", "b", "c"]); // a new run listed first (an earlier start time)
  ids.see(["c"]); // b gone: its id is not reused
  ids.see(["c", "d"]);
  assert.deepEqual(["a", "b", "c", "d"].map(ids.id), [2, 0, 1, 3]);
});

test("a run TensorBoard has not listed is TensorBoard's inactive grey", () => {
  const ids = createColourIds();
  ids.see(["x"]);
  assert.deepEqual(runColourMap(["x", "y"], ids, false), { x: "#425066", y: INACTIVE.light });
  assert.equal(paletteColour(undefined, true), INACTIVE.dark);
  assert.equal(paletteColour(-1, false), INACTIVE.light);
});
