// A small data-flow graph of one step's captures around a root cause (the
// /rootcause reply's "graph"): inputs upstream on the left, the culprit in
// the middle, consumers downstream on the right, one column per level.
// Nodes are coloured by what they hold (NaN, ±Inf, finite) and open their
// capture when clicked. Plain SVG, no layout library.

import { svg } from "../dom.js";

const NODE_W = 180;
const NODE_H = 34;
const GAP_X = 46;
const GAP_Y = 12;
const MAX_LABEL = 26;

function shortName(tag) {
  const text = tag.split("/").slice(-2).join("/");
  return text.length > MAX_LABEL ? `…${text.slice(-(MAX_LABEL - 1))}` : text;
}

function health(node) {
  if (node.nan) return "nan";
  if (node.posinf || node.neginf) return "inf";
  return "finite";
}

// graph: {nodes: [{tag, step, level, op, external, nan, posinf, neginf}], edges: [[from, to]]}.
// onOpen({tag, step}) opens a node's capture.
export function flowGraph(graph, onOpen) {
  const levels = [...new Set(graph.nodes.map((n) => n.level))].sort((a, b) => a - b);
  const columns = new Map(levels.map((level) => [level, graph.nodes.filter((n) => n.level === level)]));
  const rows = Math.max(...[...columns.values()].map((c) => c.length));
  const width = levels.length * (NODE_W + GAP_X) - GAP_X + 2;
  const height = rows * (NODE_H + GAP_Y) - GAP_Y + 2;
  const place = new Map();
  levels.forEach((level, column) => {
    const nodes = columns.get(level);
    const top = ((rows - nodes.length) * (NODE_H + GAP_Y)) / 2;
    nodes.forEach((node, row) => place.set(node.tag, { x: 1 + column * (NODE_W + GAP_X), y: 1 + top + row * (NODE_H + GAP_Y) }));
  });
  const edges = graph.edges.filter(([a, b]) => place.has(a) && place.has(b)).map(([a, b]) => {
    const from = place.get(a);
    const to = place.get(b);
    const x1 = from.x + NODE_W;
    const y1 = from.y + NODE_H / 2;
    const x2 = to.x;
    const y2 = to.y + NODE_H / 2;
    const bend = Math.max(Math.abs(x2 - x1) / 2, 20);
    return svg("path", { className: "flow-edge", d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}` });
  });
  const nodes = graph.nodes.map((node) => {
    const { x, y } = place.get(node.tag);
    const kind = node.external ? `${node.external.kind}${node.external.name ? ` ${node.external.name}` : ""}` : node.op ?? "capture";
    const counts = [node.nan ? `NaN ${node.nan}` : "", node.posinf ? `+Inf ${node.posinf}` : "",
      node.neginf ? `-Inf ${node.neginf}` : ""].filter(Boolean).join(", ");
    return svg("g", {
      className: `flow-node ${health(node)}${node.level === 0 ? " culprit" : ""}`, tabindex: 0, role: "button",
      dataset: { tag: node.tag },
      onclick: () => onOpen({ tag: node.tag, step: node.step }),
      onkeydown: (event) => { if (event.key === "Enter") onOpen({ tag: node.tag, step: node.step }); },
    },
    svg("title", { text: `${node.tag}\n${kind}${counts ? `\n${counts}` : "\nfinite"}` }),
    svg("rect", { x, y, width: NODE_W, height: NODE_H, rx: 4 }),
    svg("text", { x: x + 8, y: y + 14, className: "flow-op", text: kind }),
    svg("text", { x: x + 8, y: y + 28, className: "flow-tag", text: shortName(node.tag) }));
  });
  return svg("svg", {
    className: "flow-graph", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": "captured ops around the root cause",
  }, edges, nodes);
}
