// The tag tree of the sidebar as data: tags grouped by name scope
// (`block1/z` under `block1`), filtered by a regex and flattened into the
// rows that are open, so the sidebar draws only the rows on screen.
//
// Pure (no DOM). Building and flattening are linear in the number of tags;
// a keystroke in the filter costs one flatten, never a DOM rebuild of every tag.

// Tags of the visible runs: Map tag -> {runs, steps, alerts[, partial]}, `steps` the most
// steps any run has, `alerts` the alert steps summed over runs. `alertCounts`
// (Map "run\u0000tag" -> count, from /alerts) raises the index's counts,
// which may still be incomplete.
export function visibleTags(index, hidden, alertCounts = new Map()) {
  const tags = new Map();
  for (const [run, runTags] of Object.entries(index.runs)) {
    if (hidden.includes(run)) continue;
    for (const [tag, facts] of Object.entries(runTags)) {
      const entry = tags.get(tag) ?? { runs: [], steps: 0, alerts: 0 };
      entry.runs.push(run);
      entry.steps = Math.max(entry.steps, facts.steps.length);
      entry.alerts += Math.max(facts.alerts ?? 0, alertCounts.get(`${run}\u0000${tag}`) ?? 0);
      // Statistics of some captures not checked yet: the count is a lower bound.
      if (facts.checked !== undefined && facts.checked < facts.captures) entry.partial = true;
      tags.set(tag, entry);
    }
  }
  return tags;
}

function newGroup(name, path) {
  return { name, path, groups: new Map(), tags: [] };
}

// The tree of `tags` (a Map from visibleTags): groups by "/" scope.
export function buildTree(tags) {
  const root = newGroup("", "");
  for (const tag of [...tags.keys()].sort()) {
    const parts = tag.split("/").filter((part) => part !== "");
    let node = root;
    for (let depth = 0; depth < parts.length - 1; depth++) {
      const path = parts.slice(0, depth + 1).join("/");
      if (!node.groups.has(parts[depth])) node.groups.set(parts[depth], newGroup(parts[depth], path));
      node = node.groups.get(parts[depth]);
    }
    node.tags.push({ tag, name: parts[parts.length - 1] ?? tag, ...tags.get(tag) });
  }
  return root;
}

// The filter's regex (case-insensitive), null for none; throws SyntaxError.
export function filterRegex(text) {
  return text.trim() ? new RegExp(text.trim(), "i") : null;
}

// Rows to draw: {kind: "group", path, name, depth, count, alerts, partial, open}
// and {kind: "tag", tag, name, depth, steps, alerts, partial} (partial: some
// statistics not checked yet, `alerts` is a lower bound). `isOpen(path)` says
// whether a group is open; with a filter, groups holding matches open.
// `keep(tag)`, if given, filters tags further (by their statistics).
export function flatten(root, regex, isOpen, keep = null) {
  function visit(node, depth) {
    const rows = [];
    let count = 0;
    let alerts = 0;
    let partial = false;
    for (const group of [...node.groups.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const inner = visit(group, depth + 1);
      if (!inner.count) continue;
      const open = regex || keep ? true : isOpen(group.path);
      rows.push({ kind: "group", path: group.path, name: group.name, depth, count: inner.count, alerts: inner.alerts, partial: inner.partial, open });
      if (open) for (const row of inner.rows) rows.push(row);
      count += inner.count;
      alerts += inner.alerts;
      partial ||= inner.partial;
    }
    for (const leaf of node.tags) {
      if ((regex && !regex.test(leaf.tag)) || (keep && !keep(leaf.tag))) continue;
      rows.push({ kind: "tag", tag: leaf.tag, name: leaf.name, depth, steps: leaf.steps, alerts: leaf.alerts, partial: Boolean(leaf.partial) });
      count++;
      alerts += leaf.alerts;
      partial ||= Boolean(leaf.partial);
    }
    return { rows, count, alerts, partial };
  }
  return visit(root, 0);
}

// The group paths that hold `tag`, outermost first.
export function ancestors(tag) {
  const parts = tag.split("/").filter((part) => part !== "");
  return parts.slice(0, -1).map((_, k) => parts.slice(0, k + 1).join("/"));
}
