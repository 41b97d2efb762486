// URL state: round trips, defaults left out, malformed values ignored; the store.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createStore, decodeState, DEFAULT_STATE, encodeState } from "../../frontend/state.js";

test("the default state encodes to nothing and decodes back", () => {
  assert.equal(encodeState(DEFAULT_STATE), "");
  assert.deepEqual(decodeState(""), DEFAULT_STATE);
  assert.deepEqual(decodeState("#"), DEFAULT_STATE);
});

test("a full state round-trips through the hash", () => {
  const state = {
    ...DEFAULT_STATE,
    panel: "divergence", run: "run a", tag: "block1/z&<img src=x>", step: 12, view: "heatmap",
    slice: "3, :, :, 0", diff: { run: "other", tag: null, step: 4 }, rtol: 0.001, atol: 0,
    divRun: "a", divRun2: "b#c", hidden: ["x,y", "z"],
    pins: [{ tag: "block1/attn", run: "run a" }, { tag: "loss", run: null }], pinStep: 7, pinOwnRange: true,
  };
  const hash = encodeState(state);
  assert.deepEqual(decodeState(`#${hash}`), state);
  assert.deepEqual(decodeState(hash), state);
  assert.ok(!hash.includes("#"));
});

test("a diff against the same run, tag and step keeps its nulls", () => {
  const state = { ...DEFAULT_STATE, run: "r", tag: "t", diff: { run: null, tag: null, step: null } };
  assert.equal(encodeState(state), "run=r&tag=t&diff=1");
  assert.deepEqual(decodeState(encodeState(state)).diff, { run: null, tag: null, step: null });
});

test("malformed values fall back to the defaults", () => {
  const state = decodeState("p=nowhere&step=abc&rtol=-1&atol=x&dstep=3");
  assert.equal(state.panel, "capture");
  assert.equal(state.step, null);
  assert.equal(state.rtol, DEFAULT_STATE.rtol);
  assert.equal(state.atol, DEFAULT_STATE.atol);
  assert.equal(state.diff, null);
  assert.equal(decodeState("step=-3").step, -3);
});

test("the store tells listeners the new and previous state", () => {
  const store = createStore({ a: 1, b: 2 });
  const seen = [];
  store.subscribe((state, previous) => seen.push([previous.a, state.a]));
  store.set({ a: 5 });
  store.set({ b: 2 });
  assert.deepEqual(seen, [[1, 5], [5, 5]]);
  assert.deepEqual(store.get(), { a: 5, b: 2 });
});
