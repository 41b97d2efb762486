// The scalar view: a rank-0 capture's exact value at this step, and its
// line over every step (from the per-step statistics the card loaded),
// every selected run's line in its colour when several are (overlay.js).

import { fetchValue } from "../api.js";
import { h, show } from "../dom.js";
import { formatExact } from "../format.js";
import { scalarOf } from "../series.js";
import { lineChart } from "./line.js";
import { scalarOverlayChart } from "./overlay.js";

export function createScalarView() {
  const element = h("div", { className: "scalar-view" });
  return {
    element,
    async update({ run, tag, step, dtype, stats, overlay, pickStep, signal }) {
      const tensor = await fetchValue({ run, tag, step, dtype }, signal);
      const rows = dtype === "string" ? [] : stats.filter((row) => row.numel === 1);
      const pickable = rows.map((row) => row.step);
      show(element,
        h("div", { className: "scalar-value", text: tensor.text(0) }),
        overlay && dtype !== "string" ? scalarOverlayChart({
          runs: overlay, tag, marker: step, onPick: pickStep, pickable, width: element.clientWidth,
        }) : rows.length > 1 ? lineChart({
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
