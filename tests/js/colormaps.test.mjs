// Colour maps: endpoints, special colours, the diverging centre, lookup tables.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  CENTER_SLOT, diverging, lookupTable, NAN_COLOR, NAN_SLOT, NEGINF_COLOR, NEGINF_SLOT, pack, POSINF_COLOR,
  POSINF_SLOT, scaling, sequential, slotOf, unpack,
} from "../../frontend/colormaps.js";

const slot = (value, { offset, scale }) => slotOf(value, offset, scale);

test("the sequential map runs from viridis's dark purple to its yellow", () => {
  assert.deepEqual(sequential(0), [68, 1, 84]);
  assert.deepEqual(sequential(1), [253, 231, 37]);
  assert.deepEqual(sequential(-3), sequential(0));
  assert.deepEqual(sequential(7), sequential(1));
  const brightness = (t) => sequential(t).reduce((a, b) => a + b);
  for (let t = 0.1; t <= 1; t += 0.1) assert.ok(brightness(t) > brightness(t - 0.1), `brighter at ${t}`);
});

test("the diverging map is blue below, grey at zero, red above", () => {
  assert.deepEqual(diverging(0.5), [221, 221, 221]);
  const [r0, , b0] = diverging(0);
  const [r1, , b1] = diverging(1);
  assert.ok(b0 > r0 && r1 > b1);
  const table = lookupTable("diverging");
  assert.deepEqual(unpack(table[CENTER_SLOT]), [221, 221, 221]);
  assert.equal(slot(0, scaling("diverging", -2, 5)), CENTER_SLOT);
  assert.equal(slot(-5, scaling("diverging", -2, 5)), 1);
  assert.equal(slot(5, scaling("diverging", -2, 5)), 255);
  assert.equal(slot(0, scaling("diverging", 0, 0)), CENTER_SLOT);
});

test("NaN, +Inf and -Inf have their own colours, in no map", () => {
  for (const kind of ["sequential", "diverging"]) {
    const table = lookupTable(kind);
    assert.deepEqual(unpack(table[NAN_SLOT]), NAN_COLOR);
    assert.deepEqual(unpack(table[POSINF_SLOT]), POSINF_COLOR);
    assert.deepEqual(unpack(table[NEGINF_SLOT]), NEGINF_COLOR);
    const colours = new Set(Array.from(table.subarray(0, 256)));
    for (const special of [NAN_COLOR, POSINF_COLOR, NEGINF_COLOR]) assert.ok(!colours.has(pack(special)), kind);
  }
  const scale = scaling("sequential", 0, 1);
  assert.equal(slot(NaN, scale), NAN_SLOT);
  assert.equal(slot(Infinity, scale), POSINF_SLOT);
  assert.equal(slot(-Infinity, scale), NEGINF_SLOT);
});

test("the sequential scaling maps min and max to the table's ends", () => {
  const scale = scaling("sequential", -3, 5);
  assert.equal(slot(-3, scale), 0);
  assert.equal(slot(5, scale), 255);
  assert.equal(slot(1, scale), 128);
  assert.equal(slot(99, scale), 255);
  const table = lookupTable("sequential");
  assert.deepEqual(unpack(table[0]), sequential(0));
  assert.deepEqual(unpack(table[255]), sequential(1));
  assert.equal(slot(4, scaling("sequential", 4, 4)), CENTER_SLOT);
});

test("colours pack as ImageData's little-endian RGBA words", () => {
  const word = pack([1, 2, 3]);
  const bytes = new Uint8Array(new Uint32Array([word]).buffer);
  assert.deepEqual(Array.from(bytes), [1, 2, 3, 255]);
  assert.deepEqual(unpack(word), [1, 2, 3]);
});
