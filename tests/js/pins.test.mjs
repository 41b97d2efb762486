// Pinned cards: URL form, expansion into cards, the shared steps and colour range.
import assert from "node:assert/strict";
import { test } from "node:test";

import { decodePins, encodePins, expandPins, sharedExtent, stepUnion, togglePin } from "../../frontend/pins.js";

test("pins round-trip through their URL text; malformed ones are left out", () => {
  const pins = [{ tag: "block1/attn", run: "a&b=c" }, { tag: "loss", run: null }];
  assert.equal(encodePins(pins), '[{"tag":"block1/attn","run":"a&b=c"},{"tag":"loss"}]');
  assert.deepEqual(decodePins(encodePins(pins)), pins);
  assert.equal(encodePins([]), "");
  assert.deepEqual(decodePins(""), []);
  assert.deepEqual(decodePins("not json"), []);
  assert.deepEqual(decodePins('{"tag": "x"}'), []);
  assert.deepEqual(decodePins('[{"tag": ""}, {"run": "a"}, 3, null, {"tag": "x", "run": 5}, {"tag": "x"}]'), [{ tag: "x", run: null }]);
});

test("toggling pins adds and removes", () => {
  const one = togglePin([], { tag: "t", run: "a" });
  assert.deepEqual(one, [{ tag: "t", run: "a" }]);
  const two = togglePin(one, { tag: "t", run: null });
  assert.equal(two.length, 2);
  assert.deepEqual(togglePin(two, { tag: "t", run: "a" }), [{ tag: "t", run: null }]);
});

test("a tag pin is a card per selected run holding it; a run pin stays even without its tag", () => {
  const index = { runs: { b: { t: {}, u: {} }, a: { t: {} }, c: { t: {} }, d: {} } };
  const cards = expandPins([{ tag: "t", run: null }, { tag: "u", run: "b" }, { tag: "t", run: "a" }, { tag: "u", run: "d" }], index, ["c"]);
  assert.deepEqual(cards.map(({ runs, tag }) => [runs, tag]), [[["a"], "t"], [["b"], "t"], [["b"], "u"], [["d"], "u"]]);
});

test("a tag pin of a chart is one card overlaying every selected run holding it", () => {
  const index = { runs: { b: { t: {}, u: {} }, a: { t: {} }, c: { t: {} } } };
  const cards = expandPins([{ tag: "t", run: null }, { tag: "t", run: "a" }, { tag: "u", run: null }], index, ["c"], (tag) => tag === "t");
  assert.deepEqual(cards.map(({ runs, tag }) => [runs, tag]), [[["a", "b"], "t"], [["a"], "t"], [["b"], "u"]]);
  assert.deepEqual(expandPins([{ tag: "t", run: null }], index, ["a", "b", "c"], () => true), []);
});

test("the shared slider walks every card's steps", () => {
  assert.deepEqual(stepUnion([{ steps: [0, 2, 4] }, { steps: [1, 2] }, null]), [0, 1, 2, 4]);
  assert.deepEqual(stepUnion([]), []);
});

test("the shared colour range spans every card at every step; non-finite and strings are skipped", () => {
  const rows = (pairs) => pairs.map(([min, max]) => ({ dtype: "float32", numel: 4, min, max }));
  assert.deepEqual(sharedExtent([rows([[0, 1], [0.5, 3]]), rows([[-2, 0.1], ["NaN", "Infinity"]])]), { lo: -2, hi: 3 });
  assert.deepEqual(sharedExtent([[{ dtype: "string", numel: 2, min: null, max: null }], rows([[null, null]])]), null);
  assert.deepEqual(sharedExtent([[{ dtype: "float32", numel: 0, min: 5, max: 9 }], rows([[1, 2]])]), { lo: 1, hi: 2 });
});
