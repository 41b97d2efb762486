// The sidebar's tag tree: grouping by scope, filtering, counts, 10k tags.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ancestors, buildTree, filterRegex, flatten, visibleTags } from "../../frontend/tagtree.js";

const facts = (steps, alerts = 0) => ({ steps: Array.from({ length: steps }, (_, i) => i), alerts });
const index = {
  runs: {
    a: { "block1/z": facts(3), "block1/inner/w": facts(2, 1), loss: facts(10) },
    b: { "block1/z": facts(5, 2), other: facts(1) },
  },
};

test("tags of the visible runs: most steps, summed alerts", () => {
  const tags = visibleTags(index, []);
  assert.deepEqual(tags.get("block1/z"), { runs: ["a", "b"], steps: 5, alerts: 2 });
  assert.ok(!visibleTags(index, ["b"]).has("other"));
  const raised = visibleTags(index, [], new Map([["a\u0000block1/z", 3]]));
  assert.equal(raised.get("block1/z").alerts, 5);
});

test("groups by name scope and flattens open groups only", () => {
  const tree = buildTree(visibleTags(index, []));
  const open = flatten(tree, null, () => true);
  assert.deepEqual(open.rows.map((r) => `${r.depth}:${r.kind}:${r.name}`), [
    "0:group:block1", "1:group:inner", "2:tag:w", "1:tag:z", "0:tag:loss", "0:tag:other",
  ]);
  assert.equal(open.rows[0].count, 2);
  assert.equal(open.rows[0].alerts, 3);
  const closed = flatten(tree, null, () => false);
  assert.deepEqual(closed.rows.map((r) => r.name), ["block1", "loss", "other"]);
  assert.equal(closed.count, 4);
});

test("a filter opens the groups holding matches and hides the rest", () => {
  const tree = buildTree(visibleTags(index, []));
  const result = flatten(tree, filterRegex("Z$"), () => false);
  assert.deepEqual(result.rows.map((r) => r.name), ["block1", "z"]);
  assert.equal(result.count, 1);
  assert.equal(filterRegex("  "), null);
  assert.throws(() => filterRegex("("), SyntaxError);
});

test("ancestors are the enclosing scopes, outermost first", () => {
  assert.deepEqual(ancestors("a/b/c"), ["a", "a/b"]);
  assert.deepEqual(ancestors("top"), []);
});

test("10,000 tags flatten in a few milliseconds", () => {
  const runs = { many: {} };
  for (let i = 0; i < 10000; i++) runs.many[`g${Math.floor(i / 100)}/t${i}`] = facts(1);
  const tree = buildTree(visibleTags({ runs }, []));
  const started = performance.now();
  const result = flatten(tree, filterRegex("t99"), () => false);
  const elapsed = performance.now() - started;
  assert.equal(result.count, 111);
  assert.ok(elapsed < 100, `${elapsed} ms`);
});

test("a tag whose statistics are not all checked has a partial count, up to its groups", () => {
  const partialIndex = {
    runs: {
      a: { "block1/z": { ...facts(3, 1), checked: 2, captures: 3 }, loss: { ...facts(2), checked: 2, captures: 2 } },
    },
  };
  const tags = visibleTags(partialIndex, []);
  assert.equal(tags.get("block1/z").partial, true);
  assert.equal(tags.get("loss").partial, undefined);
  const rows = flatten(buildTree(tags), null, () => true).rows;
  assert.deepEqual(rows.map((r) => [r.name, r.partial]), [["block1", true], ["z", true], ["loss", false]]);
});
