// The root-cause panel (from /rootcause): for one run, the op whose inputs
// were finite and whose output was not, at which step and source line; its
// inputs and output side by side, as statistics and as values in the usual
// views (rootcause_values.js); why; the chain to the first NaN; and a small
// graph of the step's captures around it. Every capture named links to its
// capture card.

import { fetchRootCause, isAbort } from "../api.js";
import { h, message, show } from "../dom.js";
import { formatCount, formatShape, formatShort } from "../format.js";
import { flowGraph } from "./flowgraph.js";
import { lineageLink } from "./lineage.js";
import { valuePanels } from "./rootcause_values.js";

const SIDE_ROWS = [
  ["min", "min", formatShort], ["max", "max", formatShort], ["nan", "NaN", formatCount],
  ["posinf", "+Inf", formatCount], ["neginf", "-Inf", formatCount], ["zeros", "zeros", formatCount],
];

let styled = false;

function addStyle() {
  if (styled) return;
  styled = true;
  document.head.append(h("link", { rel: "stylesheet", href: "./static/views/rootcause.css" }));
}

function sourceText(source) {
  return source ? `${source.file}:${source.line} (${source.function})` : "source unknown";
}

// onOpen({run, tag, step}); onRun(run): another run was picked.
export function createRootCausePanel({ onOpen, onRun }) {
  addStyle();
  const runChoice = h("select", { "aria-label": "run", onchange: () => onRun(runChoice.value) });
  const infBox = h("input", { type: "checkbox", onchange: () => load(true) });
  const body = h("div", { className: "rootcause-body" });
  const element = h("section", { className: "panel rootcause-panel" },
    h("div", { className: "toolbar" }, h("h2", { text: "Root cause" }), h("label", null, "run ", runChoice),
      h("label", { title: "start from the first NaN or ±Inf, not only NaN" }, infBox, " NaN or ±Inf")),
    body);
  let run = "";
  const step = null; // the first step holding NaN
  let key = "";
  let controller = null;

  function sidesOf(reply) {
    const culprit = reply.culprit;
    const open = (tag, at) => onOpen({ run: reply.worker ?? reply.run, tag, step: at });
    // Each side's title: a link to its capture (made per use: a node has one parent).
    const inputTitle = (input, i) => () => [`input ${i}: `,
      lineageLink(input, culprit.step, ({ tag, step: at }) => open(tag, at))];
    const outputTitle = () => h("button", {
      className: "link", text: `output ${culprit.tag}`, onclick: () => open(culprit.tag, culprit.step) });
    return culprit.inputs.map((input, i) => ({
      title: inputTitle(input, i), tag: input.tag, step: input.step ?? culprit.step, stats: input,
    })).concat([{ title: outputTitle, tag: culprit.tag, step: culprit.step, stats: culprit.output }]);
  }

  function comparison(reply) {
    const sides = sidesOf(reply);
    return h("table", { className: "rootcause-sides" },
      h("thead", null, h("tr", null, h("th"), sides.map((s) => h("th", null, s.title())))),
      h("tbody", null,
        h("tr", null, h("th", { text: "dtype" }), sides.map((s) => h("td", {
          text: s.stats.captured === false ? "not captured" : `${s.stats.dtype} ${formatShape(s.stats.shape ?? [])}` }))),
        SIDE_ROWS.map(([key, label, format]) => h("tr", null, h("th", { text: label }), sides.map((s) => h("td", {
          className: ["nan", "posinf", "neginf"].includes(key) && s.stats[key] ? "bad" : null,
          text: s.stats[key] === null || s.stats[key] === undefined ? "–" : format(s.stats[key]),
        }))))));
  }

  // Non-finite values made finite again downstream (a -inf mask before softmax): listed, never blamed.
  function absorbedNote(reply) {
    return h("p", { className: "note absorbed" }, "Absorbed downstream (intentional?): ",
      reply.absorbed.map((a, i) => [i ? ", " : "",
        lineageLink(a, a.step, ({ tag }) => onOpen({ run: reply.worker ?? reply.run, tag, step: a.step }))]));
  }

  function render(reply) {
    const where = [reply.worker, reply.replica !== null ? `replica ${reply.replica}` : null].filter(Boolean).join(", ");
    if (reply.origin === null) {
      show(body, message(`No ${reply.inf ? "NaN or Inf" : "NaN"} reaches an output in ${reply.run}` +
        `${reply.step !== null ? ` at step ${reply.step}` : ""}.`, "good"),
      reply.absorbed.length ? absorbedNote(reply) : null);
      return;
    }
    const culprit = reply.culprit;
    const what = reply.origin === "external"
      ? `${culprit.external.kind} ${culprit.external.name ?? culprit.tag} from outside the block`
      : reply.origin === "unknown" ? `${culprit.tag} (lineage unknown)` : `${culprit.op} op`;
    const openIn = (tag, at) => onOpen({ run: reply.worker ?? reply.run, tag, step: at });
    show(body,
      h("p", { className: "rootcause-headline" }, h("strong", { text: what }), ` at step ${culprit.step}`,
        where ? ` (${where})` : "", " · ", h("span", { className: "source", text: sourceText(culprit.source) })),
      h("p", { className: "rootcause-tag" }, "capture ",
        h("button", { className: "link culprit-link", text: culprit.tag, onclick: () => openIn(culprit.tag, culprit.step) })),
      h("ul", { className: "rootcause-reasons" }, culprit.reasons.map((r) => h("li", { text: r }))),
      reply.notes.length ? h("ul", { className: "rootcause-notes" }, reply.notes.map((n) => h("li", { text: n }))) : null,
      culprit.inputs.length || culprit.output ? comparison(reply) : null,
      valuePanels(reply.worker ?? reply.run, sidesOf(reply), controller.signal),
      reply.absorbed.length ? absorbedNote(reply) : null,
      h("p", { className: "rootcause-chain" }, "Chain to the first non-finite capture: ",
        reply.chain.map((c, i) => [i ? " → " : "", h("button", {
          className: "link", text: `${c.tag}${c.op ? ` (${c.op})` : ""}`, onclick: () => openIn(c.tag, c.step) })])),
      reply.replicas && reply.replicas.length > 1 ? h("p", { className: "note", text: "Replicas bad at this step: " +
        reply.replicas.map((r) => `${r.replica} (${r.tag})`).join(", ") }) : null,
      reply.workers ? h("p", { className: "note", text: "Workers: " +
        reply.workers.map((w) => `${w.worker} (${w.step === null ? "clean" : `step ${w.step}`})`).join(", ") }) : null,
      reply.graph ? h("div", { className: "rootcause-graph" }, h("h3", { text: `Captured ops around it, step ${culprit.step}` }),
        flowGraph(reply.graph, ({ tag, step: at }) => openIn(tag, at))) : null);
  }

  function load(force = false) {
    const next = JSON.stringify([run, step, infBox.checked]);
    if (!run || (next === key && !force)) return;
    key = next;
    controller?.abort();
    controller = new AbortController();
    show(body, message("Walking back from the first NaN…"));
    fetchRootCause({ run, step, inf: infBox.checked }, controller.signal).then(render, (error) => {
      if (!isAbort(error)) show(body, message(error.message, "error"));
    });
  }

  return {
    element,
    // The state's run (and the runs of the index); the panel follows them.
    update(state) {
      const runs = Object.keys(state.index?.runs ?? {});
      run = runs.includes(state.run) ? state.run : runs[0] ?? "";
      show(runChoice, runs.map((r) => h("option", { value: r, text: r, selected: r === run })));
      load();
    },
  };
}
