// The scalar view: a rank-0 capture's exact value at this step, and its
// line over every step (from the per-step statistics the card loaded).

import { fetchValue } from "../api.js";
import { h, show } from "../dom.js";
import { formatExact } from "../format.js";
import { lineChart } from "./line.js";

// A scalar's value from its statistics row (non-finite values have no mean).
export function scalarOf(row) {
  if (row.nan) return NaN;
  if (row.posinf) return Infinity;
  if (row.neginf) return -Infinity;
  return row.mean ?? NaN;
}

export function createScalarView() {
  const element = h("div", { className: "scalar-view" });
  return {
    element,
    async update({ run, tag, step, dtype, stats, pickStep, signal }) {
      const tensor = await fetchValue({ run, tag, step, dtype }, signal);
      const rows = dtype === "string" ? [] : stats.filter((row) => row.numel === 1);
      show(element,
        h("div", { className: "scalar-value", text: tensor.text(0) }),
        rows.length > 1 ? lineChart({
          xs: rows.map((row) => row.step),
          series: [{ label: tag, ys: rows.map(scalarOf), className: "s-value" }],
          describe: (i) => `step ${rows[i].step}: ${formatExact(scalarOf(rows[i]), rows[i].dtype)}`,
          marker: step,
          onPick: pickStep,
          width: element.clientWidth,
        }) : null,
      );
    },
  };
}
