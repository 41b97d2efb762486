// Sorting and filtering tags by their statistics over steps (from /tagstats):
// max |x|, NaN / Inf, and the largest change of the standard deviation
// between two steps, merged over the visible runs.
//
// Pure (no DOM). Sorting by a statistic lists the tags flat, largest first
// (a ranking, not a tree); tags whose statistic is not known yet go last.

export const TAG_SORTS = ["name", "maxabs", "nonfinite", "stdchange"];
export const TAG_FILTERS = ["", "nan", "nonfinite", "maxabs"];
export const SORT_LABELS = { name: "name", maxabs: "max |x|", nonfinite: "NaN/Inf count", stdchange: "std change" };
export const FILTER_LABELS = { "": "all tags", nan: "has NaN", nonfinite: "has NaN or Inf", maxabs: "max |x| >" };

/**
 * A tag's statistics merged over runs.
 * @typedef {object} TagStats
 * @property {number|null} maxAbs the largest finite |x| of any checked step
 * @property {number} nan NaN elements over the checked steps
 * @property {number} inf ±Inf elements over the checked steps
 * @property {number} nanSteps checked steps holding NaN
 * @property {number} infSteps checked steps holding ±Inf
 * @property {number|null} stdChange largest |σ_k − σ_(k−1)| / σ_(k−1) (Infinity: from 0)
 * @property {number|null} stdChangeStep where it happened
 * @property {string|null} stdChangeRun in which run
 * @property {boolean} partial some steps not checked yet
 */

const numberOrNull = (v) => (v === null || v === undefined ? null : v === "Infinity" ? Infinity : Number(v));

/**
 * Map tag -> TagStats from a /tagstats reply, over the runs not hidden.
 * @param {{runs: Object<string, object>}} reply
 * @param {string[]} hidden
 * @returns {Map<string, TagStats>}
 */
export function mergeTagStats(reply, hidden = []) {
  const merged = new Map();
  for (const [run, columns] of Object.entries(reply.runs)) {
    if (hidden.includes(run)) continue;
    columns.tags.forEach((tag, i) => {
      const entry = merged.get(tag) ?? {
        maxAbs: null, nan: 0, inf: 0, nanSteps: 0, infSteps: 0, stdChange: null, stdChangeStep: null, stdChangeRun: null, partial: false,
      };
      const maxAbs = numberOrNull(columns.max_abs[i]);
      if (maxAbs !== null && (entry.maxAbs === null || maxAbs > entry.maxAbs)) entry.maxAbs = maxAbs;
      entry.nan += columns.nan[i];
      entry.inf += columns.inf[i];
      entry.nanSteps += columns.nan_steps[i];
      entry.infSteps += columns.inf_steps[i];
      const change = numberOrNull(columns.std_change[i]);
      if (change !== null && (entry.stdChange === null || change > entry.stdChange)) {
        Object.assign(entry, { stdChange: change, stdChangeStep: columns.std_change_step[i], stdChangeRun: run });
      }
      entry.partial ||= columns.checked[i] < columns.steps[i];
      merged.set(tag, entry);
    });
  }
  return merged;
}

/**
 * The number a tag sorts by (larger first); null when it is not known.
 * @param {TagStats|undefined} stats
 * @param {string} sort one of TAG_SORTS other than "name"
 */
export function sortKey(stats, sort) {
  if (!stats) return null;
  if (sort === "maxabs") return stats.maxAbs;
  if (sort === "nonfinite") return stats.nan + stats.inf;
  if (sort === "stdchange") return stats.stdChange;
  return null;
}

/**
 * Whether a tag passes the statistics filter (`min`: the bound of "max |x| >").
 * A tag without statistics passes only the empty filter.
 * @param {TagStats|undefined} stats
 */
export function keepTag(stats, filter, min) {
  if (!filter) return true;
  if (!stats) return false;
  if (filter === "nan") return stats.nanSteps > 0;
  if (filter === "nonfinite") return stats.nanSteps + stats.infSteps > 0;
  if (filter === "maxabs") return stats.maxAbs !== null && (min === null || stats.maxAbs > min);
  return true;
}

/**
 * The flat rows of a ranking: the tags of `tags` (tagtree.visibleTags) that
 * match `regex` and pass the filter, largest `sort` key first, unknown keys
 * last, ties by name. Rows have the shape of tagtree.flatten's tag rows plus
 * `value` (the key).
 * @param {Map<string, object>} tags
 * @param {Map<string, TagStats>} stats
 */
export function rankedRows(tags, stats, regex, { sort, filter, min }) {
  const rows = [];
  for (const [tag, facts] of tags) {
    if (regex && !regex.test(tag)) continue;
    const entry = stats.get(tag);
    if (!keepTag(entry, filter, min)) continue;
    rows.push({
      kind: "tag", tag, name: tag, depth: 0, steps: facts.steps, alerts: facts.alerts,
      partial: Boolean(facts.partial), value: sortKey(entry, sort),
    });
  }
  rows.sort((a, b) => {
    if (a.value === b.value) return a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0;
    if (a.value === null) return 1;
    if (b.value === null) return -1;
    return b.value - a.value;
  });
  return rows;
}
