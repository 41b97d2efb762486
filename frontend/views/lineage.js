// A capture's place in the data flow (from /lineage): the op that made it,
// where each of its inputs came from and which captured ops consumed it,
// each a link that opens that capture at the same step. Shown under the
// capture card; captures without lineage (capture() calls, old files) say so.

import { fetchLineage, isAbort } from "../api.js";
import { h, show } from "../dom.js";

// One input or consumer as a link (a capture) or as text (nothing captured);
// it opens the capture at the entry's own step when it names one (an earlier
// call of a function in the block, an enclosing block), else at `step`.
export function lineageLink(entry, cardStep, onOpen) {
  const step = entry.step ?? cardStep;
  const label = entry.external
    ? `${entry.external}${entry.name ? ` ${entry.name}` : ""}${entry.op ? ` (${entry.op})` : ""}`
    : entry.tag;
  if (!entry.tag || entry.captured === false) {
    return h("span", { className: "lineage-missing", title: "not captured", text: label });
  }
  return h("button", {
    className: "link lineage-link", text: label, title: `open ${entry.tag} at step ${step}`,
    onclick: () => onOpen({ tag: entry.tag, step }),
  });
}

// onOpen({tag, step}): open another capture of the same run.
export function createLineageLinks({ onOpen }) {
  const element = h("div", { className: "lineage" });
  let key = "";
  let controller = null;

  function render(reply) {
    const list = (items, step) => (items.length
      ? items.map((entry, i) => [i ? ", " : "", lineageLink(entry, step, onOpen)]) : "none captured");
    if (reply.inputs === null && !reply.origin) {
      show(element, h("span", { className: "lineage-none", text: "Lineage: unknown (not captured by record())" }),
        reply.consumers.length ? [" · consumers: ", list(reply.consumers, reply.step)] : null);
      return;
    }
    show(element,
      reply.op ? h("span", { className: "lineage-op", text: `op ${reply.op}` }) : null,
      reply.origin ? h("span", { className: "lineage-op", text: `from outside the block: ${reply.origin.kind}` +
        (reply.origin.name ? ` ${reply.origin.name}` : "") }) : null,
      reply.inputs ? [" · inputs: ", list(reply.inputs, reply.step)] : null,
      " · consumers: ", list(reply.consumers, reply.step));
  }

  return {
    element,
    update({ run, tag, step }) {
      const next = JSON.stringify([run, tag, step]);
      if (next === key) return;
      key = next;
      controller?.abort();
      controller = new AbortController();
      show(element);
      fetchLineage({ run, tag, step }, controller.signal).then(render, (error) => {
        if (!isAbort(error)) show(element, h("span", { className: "lineage-none", text: `Lineage: ${error.message}` }));
      });
    },
  };
}
