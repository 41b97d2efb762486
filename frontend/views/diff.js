// Diff mode: the shown capture (A) minus another step, run or tag (B).
//
// B is {run, tag, step}, each null for "same as A", so a diff against
// another run follows A's step. Shows the /diff statistics under editable
// rtol / atol and the difference as a diverging heatmap of the same slice.

import { fetchDiff } from "../api.js";
import { h, show } from "../dom.js";
import { formatCount, formatShort } from "../format.js";
import { colourRange } from "../ranges.js";
import { createHeatmap, HEATMAP_CELLS } from "./heatmap.js";

// onTarget(target): B changed; onTolerance({rtol, atol}); onClose().
export function createDiffView({ onTarget, onTolerance, onClose }) {
  const runSelect = h("select", { "aria-label": "run B" });
  const tagInput = h("input", { className: "tag-b", list: "tensorcap-diff-tags", spellcheck: "false", "aria-label": "tag B" });
  const tagList = h("datalist", { id: "tensorcap-diff-tags" });
  const stepSelect = h("select", { "aria-label": "step B" });
  const rtolInput = h("input", { type: "number", min: 0, step: "any", className: "rtol", "aria-label": "rtol" });
  const atolInput = h("input", { type: "number", min: 0, step: "any", className: "atol", "aria-label": "atol" });
  const statsBox = h("dl", { className: "stats diff-stats" });
  const heatmap = createHeatmap();
  const element = h("section", { className: "diff-view" },
    h("div", { className: "toolbar diff-target" },
      h("strong", { text: "A − B, B:" }),
      h("label", null, "run ", runSelect), h("label", null, "tag ", tagInput, tagList),
      h("label", null, "step ", stepSelect),
      h("label", null, "rtol ", rtolInput), h("label", null, "atol ", atolInput),
      h("button", { text: "Close diff", onclick: () => onClose() })),
    statsBox, heatmap.element);
  let target = { run: null, tag: null, step: null };
  let listedRun = null;

  const emit = (patch) => onTarget({ ...target, ...patch });
  runSelect.addEventListener("change", () => emit({ run: runSelect.value || null }));
  tagInput.addEventListener("change", () => emit({ tag: tagInput.value.trim() || null }));
  stepSelect.addEventListener("change", () => emit({ step: stepSelect.value === "" ? null : Number(stepSelect.value) }));
  const tolerance = () => {
    const rtol = Number(rtolInput.value);
    const atol = Number(atolInput.value);
    if (rtolInput.value !== "" && atolInput.value !== "" && rtol >= 0 && atol >= 0) onTolerance({ rtol, atol });
  };
  rtolInput.addEventListener("change", tolerance);
  atolInput.addEventListener("change", tolerance);

  function updateControls({ run, tag, step, index }) {
    const runB = target.run ?? run;
    const tagB = target.tag ?? tag;
    show(runSelect, h("option", { value: "", text: `same (${run})` }),
      Object.keys(index.runs).map((r) => h("option", { value: r, text: r, selected: r === target.run })));
    if (listedRun !== runB) {
      listedRun = runB;
      show(tagList, Object.keys(index.runs[runB] ?? {}).map((t) => h("option", { value: t })));
    }
    tagInput.placeholder = `same (${tag})`;
    if (document.activeElement !== tagInput) tagInput.value = target.tag ?? "";
    const steps = index.runs[runB]?.[tagB]?.steps ?? [];
    show(stepSelect, h("option", { value: "", text: `same (${step})` }),
      steps.map((s) => h("option", { value: s, text: String(s), selected: s === target.step })));
  }

  function renderStats(stats) {
    const rows = [
      ["allclose", stats.allclose ? "yes" : "no", stats.allclose ? "good" : "bad"],
      ["outside tol.", `${formatCount(stats.outside)} of ${formatCount(stats.numel)}`, stats.outside ? "bad" : null],
      ["NaN/Inf differ", formatCount(stats.nonfinite_mismatch ?? 0), stats.nonfinite_mismatch ? "bad" : null],
      ["max |A−B|", formatShort(stats.max_abs), null],
      ["mean |A−B|", formatShort(stats.mean_abs), null],
      ["max rel.", formatShort(stats.max_rel), null],
      ["at", stats.argmax && stats.max_abs ? `[${stats.argmax.join(", ")}]` : "–", null],
      ["reason", stats.reason ?? "–", stats.reason ? "bad" : null],
    ];
    show(statsBox, rows.map(([label, text, className]) =>
      h("div", { className: "pair" }, h("dt", { text: label }), h("dd", { className, text }))));
  }

  return {
    element,
    async update({ run, tag, step, index, diff, rtol, atol, fullShape, sliceText, signal }) {
      target = diff;
      updateControls({ run, tag, step, index });
      if (document.activeElement !== rtolInput) rtolInput.value = String(rtol);
      if (document.activeElement !== atolInput) atolInput.value = String(atol);
      const b = { run: diff.run ?? run, tag: diff.tag ?? tag, step: diff.step ?? step };
      const { tensor, stats } = await fetchDiff(
        { a: { run, tag, step }, b, slice: sliceText, rtol, atol, maxCells: HEATMAP_CELLS }, signal);
      renderStats(stats);
      const range = colourRange(tensor.values, { range: "step", map: "diverging", scale: "linear" }, []);
      heatmap.draw(tensor, fullShape, { name: "(A − B)", range: { ...range, note: "range of this difference, symmetric about 0" } });
    },
  };
}
