// The divergence panel: pick two runs and see where they part (from
// /divergence): the first capture outside tolerance, and per tag how many
// steps differ. Clicking the first capture or a row opens that capture in
// diff mode against the other run.

import { fetchDivergence, isAbort } from "../api.js";
import { h, message, show } from "../dom.js";
import { formatCount, formatShape, formatShort } from "../format.js";

const MAX_NAMES = 50;

// onOpen({run, tag, step, run2}); onRuns({divRun, divRun2});
// onTolerance({divRtol, divAtol}): the panel's own tolerances (not the diff's).
export function createDivergencePanel({ onOpen, onRuns, onTolerance }) {
  const runA = h("select", { "aria-label": "first run" });
  const runB = h("select", { "aria-label": "second run" });
  const tolerance = (label) => h("input", {
    type: "number", min: 0, step: "any", className: label, "aria-label": `divergence ${label}`,
    onchange: () => {
      const [rtol, atol] = [Number(rtolInput.value), Number(atolInput.value)];
      if (rtolInput.value !== "" && atolInput.value !== "" && rtol >= 0 && atol >= 0) onTolerance({ divRtol: rtol, divAtol: atol });
    },
  });
  const rtolInput = tolerance("rtol");
  const atolInput = tolerance("atol");
  const body = h("div", { className: "divergence-body" });
  const element = h("section", { className: "panel divergence-panel" },
    h("div", { className: "toolbar" }, h("h2", { text: "Where do two runs part?" }),
      h("label", null, "run ", runA), h("label", null, "against ", runB),
      h("label", null, "rtol ", rtolInput), h("label", null, "atol ", atolInput)),
    body);
  runA.addEventListener("change", () => onRuns({ divRun: runA.value, divRun2: runB.value }));
  runB.addEventListener("change", () => onRuns({ divRun: runA.value, divRun2: runB.value }));
  let shownKey = "";
  let shownIndex = null;
  let controller = null;

  function render(reply) {
    const open = (tag, step) => onOpen({ run: reply.run, tag, step, run2: reply.run2 });
    const first = reply.first;
    const headline = first
      ? h("p", { className: "summary first-divergence" }, "First parting: ",
        h("button", { className: "link", text: `${first.tag} at step ${first.step}`, onclick: () => open(first.tag, first.step) }),
        ` (capture #${first.order}${first.repeat ? `, repeat ${first.repeat}` : ""}, ${first.reason}: ` +
          `${partingDetail(first)})`)
      : message(`The runs agree on all ${formatCount(reply.compared)} captures compared.`, "good");
    const only = (label, names) => (names.length
      ? h("p", { className: "only" }, `${label} (${formatCount(names.length)}): `, names.slice(0, MAX_NAMES).join(", "),
        names.length > MAX_NAMES ? ", …" : "") : null);
    show(body,
      headline,
      h("p", { className: "note", text: `${formatCount(reply.compared)} captures compared, rtol ${reply.rtol}, atol ${reply.atol}.` +
        (reply.unpaired ? ` ${formatCount(reply.unpaired)} without a partner (same tag, step and repeat) in the other run.` : "") }),
      h("table", { className: "divergence-table clickable" },
        h("thead", null, h("tr", null, ["tag", "steps compared", "steps outside", "first step outside", "NaN/Inf differ", "max |A−B|",
          "max rel.", "why"]
          .map((t) => h("th", { text: t })))),
        h("tbody", null, reply.tags.map((row) => h("tr", {
          className: row.steps_outside ? "parted" : null, tabIndex: 0,
          onclick: () => open(row.tag, row.first_step_outside),
          onkeydown: (event) => { if (event.key === "Enter") open(row.tag, row.first_step_outside); },
        }, h("td", { text: row.tag }), h("td", { text: formatCount(row.steps_compared) }),
        h("td", { text: formatCount(row.steps_outside) }),
        h("td", { text: row.first_step_outside ?? "–" }),
        h("td", { className: row.nonfinite_mismatch ? "bad" : null, text: formatCount(row.nonfinite_mismatch ?? 0) }),
        h("td", { text: formatShort(row.max_abs) }), h("td", { text: formatShort(row.max_rel) }),
        h("td", { text: (row.reasons ?? []).join(", ") || "–" }))))),
      only(`Only in ${reply.run}`, reply.only_in_run),
      only(`Only in ${reply.run2}`, reply.only_in_run2));
  }

  return {
    element,
    // Shows the comparison of the chosen runs (by default the first two
    // runs not hidden in the sidebar).
    update({ index, divRun, divRun2, divRtol: rtol, divAtol: atol, hidden }) {
      if (document.activeElement !== rtolInput) rtolInput.value = String(rtol);
      if (document.activeElement !== atolInput) atolInput.value = String(atol);
      const runs = Object.keys(index.runs).sort();
      const shown = runs.filter((r) => !hidden.includes(r));
      const a = runs.includes(divRun) ? divRun : shown[0];
      const b = runs.includes(divRun2) ? divRun2 : shown.find((r) => r !== a);
      const options = (chosen) => runs.map((r) => h("option", { value: r, text: r, selected: r === chosen }));
      show(runA, options(a));
      show(runB, options(b));
      if (!a || !b || a === b) {
        shownKey = "";
        show(body, message("Pick two different runs."));
        return;
      }
      const key = JSON.stringify([a, b, rtol, atol]);
      if (key === shownKey && index === shownIndex) return;
      shownKey = key;
      shownIndex = index;
      controller?.abort();
      controller = new AbortController();
      show(body, message("Comparing…"));
      fetchDivergence({ run: a, run2: b, rtol, atol }, controller.signal).then(render, (error) => {
        if (!isAbort(error)) show(body, message(error.message, "error"));
      });
    },
  };
}

/**
 * What differs at the first parting, in words: element counts for values, statistic counts when one side
 * kept only statistics (health mode: `compared` is "statistics"), both shapes for a shape or dtype mismatch.
 * @param {{reason: string, compared?: string, nonfinite_mismatch: number, max_abs: ?number, outside: number,
 *   shape?: number[], shape2?: number[]}} first
 * @returns {string}
 */
export function partingDetail(first) {
  if (first.reason === "shape" || first.reason === "dtype") {
    return `${formatShape(first.shape ?? [])} vs ${formatShape(first.shape2 ?? [])}`;
  }
  if (first.compared === "statistics") {
    return `NaN/Inf counts differ by ${formatCount(first.nonfinite_mismatch)}, max |A−B| ${formatShort(first.max_abs)} ` +
      `over finite statistics, ${formatCount(first.outside)} statistic${first.outside === 1 ? "" : "s"} outside tolerance`;
  }
  return `${formatCount(first.nonfinite_mismatch)} NaN/Inf differ, max |A−B| ${formatShort(first.max_abs)} ` +
    `over finite pairs, ${formatCount(first.outside)} element${first.outside === 1 ? "" : "s"} outside tolerance`;
}
