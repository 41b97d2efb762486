// The tag tree's statistics bar: sort tags by max |x|, NaN/Inf count or std
// change between steps, and filter them ("has NaN", "max |x| > v"), from
// /tagstats (the statistics the server keeps; no value is fetched). While
// the server is still computing statistics the bar says so and asks again.

import { fetchTagStats, isAbort } from "../api.js";
import { h } from "../dom.js";
import { formatCount } from "../format.js";
import { FILTER_LABELS, SORT_LABELS, TAG_FILTERS, TAG_SORTS } from "../tagstats.js";
import { useStylesheet } from "./stylesheet.js";

const RETRY_MS = 2000;

/**
 * @param {object} options
 * @param {(patch: {tagSort?: string, tagFilter?: string, tagMin?: number|null}) => void} options.onChange
 * @param {(reply: object|null) => void} options.onStats a /tagstats reply arrived (null: none wanted)
 */
export function createTagStatsBar({ onChange, onStats }) {
  useStylesheet("./static/views/statistics.css");
  const sort = h("select", { className: "tag-sort", "aria-label": "sort tags by", onchange: () => onChange({ tagSort: sort.value }) },
    TAG_SORTS.map((key) => h("option", { value: key, text: SORT_LABELS[key] })));
  const filter = h("select", { className: "tag-stat-filter", "aria-label": "show tags", onchange: () => onChange({ tagFilter: filter.value }) },
    TAG_FILTERS.map((key) => h("option", { value: key, text: FILTER_LABELS[key] })));
  const bound = h("input", {
    type: "number", step: "any", className: "tag-min", "aria-label": "max |x| above", placeholder: "v",
    onchange: () => {
      const value = bound.value === "" ? null : Number(bound.value);
      if (value === null || Number.isFinite(value)) onChange({ tagMin: value });
    },
  });
  const note = h("div", { className: "tag-stats-note", role: "status" });
  const element = h("div", null,
    h("div", { className: "tag-stats-bar" }, h("label", null, "sort ", sort), h("label", null, "show ", filter), bound),
    note);

  let wanted = false;
  let controller = null;
  let timer = null;

  function load() {
    clearTimeout(timer);
    controller?.abort();
    controller = new AbortController();
    note.textContent = "Loading statistics…";
    fetchTagStats(controller.signal).then((reply) => {
      note.classList.remove("bad");
      const pending = Object.values(reply.runs).reduce(
        (sum, run) => sum + run.checked.filter((checked, i) => checked < run.steps[i]).length, 0);
      note.textContent = reply.complete ? "" : `Statistics of ${formatCount(pending)} tags are still being computed: the order and filter may change.`;
      if (!reply.complete) timer = setTimeout(load, RETRY_MS);
      onStats(reply);
    }, (error) => {
      if (isAbort(error)) return;
      note.textContent = `Statistics unavailable: ${error.message} (trying again)`;
      note.classList.add("bad");
      timer = setTimeout(load, RETRY_MS * 3);
    });
  }

  return {
    element,
    // The sort and filter of the URL state; fetches statistics once they are needed.
    set({ tagSort, tagFilter, tagMin }) {
      sort.value = tagSort;
      filter.value = tagFilter;
      bound.hidden = tagFilter !== "maxabs";
      if (document.activeElement !== bound) bound.value = tagMin === null ? "" : String(tagMin);
      const need = tagSort !== "name" || tagFilter !== "";
      if (need && !wanted) load();
      if (!need && wanted) {
        clearTimeout(timer);
        controller?.abort();
        note.textContent = "";
        onStats(null);
      }
      wanted = need;
    },
    // The index changed (new steps or tags): fetch the statistics again if they are in use.
    refresh() {
      if (wanted) load();
    },
  };
}
