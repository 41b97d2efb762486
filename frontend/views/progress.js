// Progress of the server's work on a big logdir: the first scan of its event
// files and the statistics pass that finds NaN/Inf (the `progress` field of
// /index and /alerts). Hidden when both are done; while statistics are being
// checked, NaN/Inf counts (sidebar badges, alerts) are partial and say so.

import { h, show } from "../dom.js";
import { formatCount } from "../format.js";

// [{label, done, total}] of the work not finished, from a `progress` reply field.
export function unfinished(progress) {
  const lines = [];
  const index = progress?.index;
  if (index && (index.running || index.done < index.total)) {
    const mb = (bytes) => (bytes / 2 ** 20).toFixed(bytes < 10 * 2 ** 20 ? 1 : 0);
    lines.push({ label: `Indexing event files: ${mb(index.done)} of ${mb(index.total)} MB`, done: index.done, total: index.total });
  }
  const statistics = progress?.statistics;
  if (statistics && statistics.done < statistics.total) {
    lines.push({
      label: `Checking for NaN/Inf: ${formatCount(statistics.done)} of ${formatCount(statistics.total)} captures (counts so far are partial)`,
      done: statistics.done, total: statistics.total,
    });
  }
  return lines;
}

export function createProgress() {
  const element = h("div", { className: "work-progress", role: "status", hidden: true });
  return {
    element,
    // Returns whether work is still under way.
    update(progress) {
      const lines = unfinished(progress);
      element.hidden = !lines.length;
      show(element, lines.map(({ label, done, total }) => h("div", { className: "work-progress-line" },
        h("progress", { value: String(done), max: String(Math.max(total, 1)), "aria-label": label }),
        h("span", { text: label }))));
      return lines.length > 0;
    },
  };
}
