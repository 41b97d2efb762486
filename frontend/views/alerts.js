// The alerts panel: every capture holding NaN or Inf (from /alerts), in
// capture order per run, the first of each run highlighted. Clicking a row
// opens that capture; "Root cause" opens the root-cause panel for the run.

import { h, message, show } from "../dom.js";
import { formatCount } from "../format.js";

const MAX_ROWS = 2000;

// onOpen({run, tag, step}); onRefresh(): fetch /alerts again; onRootCause(run).
export function createAlertsPanel({ onOpen, onRefresh, onRootCause }) {
  const runFilter = h("select", { "aria-label": "run", onchange: () => render() });
  const body = h("div", { className: "alerts-body" });
  const element = h("section", { className: "panel alerts-panel" },
    h("div", { className: "toolbar" }, h("h2", { text: "NaN / Inf alerts" }),
      h("label", null, "run ", runFilter), h("button", { text: "Refresh", onclick: () => onRefresh() })),
    body);
  let alerts = null;

  function render() {
    const runs = [...new Set(alerts.map((a) => a.run))];
    const chosen = runs.includes(runFilter.value) ? runFilter.value : "";
    show(runFilter, h("option", { value: "", text: "all runs" }),
      runs.map((run) => h("option", { value: run, text: run, selected: run === chosen })));
    const rows = alerts.filter((a) => !chosen || a.run === chosen);
    if (!rows.length) {
      show(body, message("No capture holds NaN or Inf.", "good"));
      return;
    }
    const first = rows.find((a) => a.first);
    show(body,
      h("p", { className: "summary" },
        `${formatCount(rows.length)} captures hold NaN or Inf. First: `,
        h("button", { className: "link first-alert", text: `${first.tag} at step ${first.step} (${first.run})`, onclick: () => onOpen(first) }),
        " ", h("button", { className: "root-cause", text: `Root cause in ${first.run}`, onclick: () => onRootCause(first.run) })),
      h("table", { className: "alerts-table clickable" },
        h("thead", null, h("tr", null, ["run", "tag", "step", "NaN", "+Inf", "-Inf", ""].map((t) => h("th", { text: t })))),
        h("tbody", null, rows.slice(0, MAX_ROWS).map((a) => h("tr", {
          className: a.first ? "first" : null, tabIndex: 0,
          onclick: () => onOpen(a),
          onkeydown: (event) => { if (event.key === "Enter") onOpen(a); },
        }, h("td", { text: a.run }), h("td", { text: a.tag }), h("td", { text: String(a.step) }),
        h("td", { text: formatCount(a.nan) }), h("td", { text: formatCount(a.posinf) }),
        h("td", { text: formatCount(a.neginf) }), h("td", { text: a.first ? "first in run" : "" }))))),
      rows.length > MAX_ROWS ? message(`… and ${formatCount(rows.length - MAX_ROWS)} more.`) : null);
  }

  return {
    element,
    loading: () => show(body, message("Looking for NaN and Inf…")),
    failed: (error) => show(body, message(error.message, "error")),
    show(reply) {
      alerts = reply.alerts;
      render();
      const statistics = reply.progress?.statistics;
      if (reply.complete === false && statistics) {
        body.prepend(message(`Still checking: ${formatCount(statistics.done)} of ${formatCount(statistics.total)} captures so far; this list grows as the rest are checked.`));
      }
    },
  };
}
