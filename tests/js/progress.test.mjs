// The progress of a first scan and statistics pass, as the tab words it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { unfinished } from "../../frontend/views/progress.js";

test("only unfinished work is shown, with done of total", () => {
  const done = { index: { done: 10, total: 10, running: false }, statistics: { done: 5, total: 5, running: false } };
  assert.deepEqual(unfinished(done), []);
  assert.deepEqual(unfinished(undefined), []);
  const scanning = { index: { done: 3 * 2 ** 20, total: 30 * 2 ** 20, running: true }, statistics: { done: 0, total: 0 } };
  assert.deepEqual(unfinished(scanning).map((l) => [l.label, l.done, l.total]),
    [["Indexing event files: 3.0 of 30 MB", 3 * 2 ** 20, 30 * 2 ** 20]]);
  const checking = { index: { done: 1, total: 1, running: false }, statistics: { done: 1234, total: 1000000, running: true } };
  const [line] = unfinished(checking);
  assert.match(line.label, /^Checking for NaN\/Inf: 1,234 of 1,000,000 captures/);
  assert.equal(line.done, 1234);
});
