// The left column: run checkboxes, the tag filter and the tag tree.
//
// The tree (tagtree.js) is flattened into rows and drawn virtually: only the
// rows in the scrolled window exist in the DOM, so 10,000 tags cost a few
// dozen nodes, and a filter keystroke re-flattens without rebuilding them.
// Groups start open for small logdirs, closed for large ones; picking a tag
// from elsewhere (alerts, a link) opens its groups and scrolls to it.
// From the keyboard the tree is one tab stop (WAI-ARIA's tree pattern): the
// active row takes focus, ↑/↓ move, → opens a group or enters it, ← closes it
// or goes to the parent, Home/End jump, Enter or Space opens a tag.

import { h, show } from "../dom.js";
import { formatCount, formatShort } from "../format.js";
import { ancestors, buildTree, filterRegex, flatten, visibleTags } from "../tagtree.js";
import { keepTag, mergeTagStats, rankedRows, SORT_LABELS } from "../tagstats.js";
import { createTagStatsBar } from "./tagstats.js";

const ROW_HEIGHT = 26;
const OPEN_LIMIT = 200;
const OVERSCAN = 8;
const FILTER_DELAY_MS = 60;

function badge(alerts, partial) {
  if (!alerts) return null;
  if (partial) {
    return h("span", {
      className: "badge partial", title: `${alerts} captures hold NaN or Inf so far; the rest are still being checked`,
      text: `NaN/Inf ${formatCount(alerts)}+`,
    });
  }
  return h("span", { className: "badge", title: `${alerts} captured steps hold NaN or Inf`, text: `NaN/Inf ${formatCount(alerts)}` });
}

// A ranked row's statistic: "max|x| 50", "NaN/Inf 3", "Δσ 250%" ("–": not known yet).
function statText(sort, value) {
  if (value === null) return "–";
  if (sort === "maxabs") return `max|x| ${formatShort(value)}`;
  if (sort === "nonfinite") return `NaN/Inf ${formatCount(value)}`;
  return `Δσ ${value === Infinity ? "from 0" : `${formatShort(value * 100, 3)}%`}`;
}

// onPickTag(tag), onHiddenRuns(hidden); peek(tag): a promise of a tag's
// one-line summary for its row's tooltip (asked once per tag, on hover);
// onTagView(patch): the sort or statistics filter changed (tagSort, tagFilter, tagMin).
// Sorted by a statistic, the tags are listed flat, largest first, each row
// showing its value.
export function createSidebar({ onPickTag, onHiddenRuns, peek, onTagView }) {
  const runList = h("div", { className: "run-list" });
  const filter = h("input", {
    type: "search", className: "tag-filter", placeholder: "Filter tags (regex)", spellcheck: "false", "aria-label": "filter tags",
  });
  const filterError = h("div", { className: "filter-error", role: "alert" });
  const summary = h("div", { className: "tag-summary" });
  const statsBar = createTagStatsBar({
    onChange: onTagView,
    onStats: (reply) => {
      statsReply = reply;
      mergeStats();
      reflatten();
    },
  });
  const rowsBox = h("div", { className: "tag-rows" });
  const spacer = h("div", { className: "tag-spacer" }, rowsBox);
  const list = h("div", { className: "tag-list", role: "tree", "aria-label": "tags", dataset: { ownKeys: "" } }, spacer);
  const element = h("nav", { className: "sidebar" },
    h("h3", { text: "Runs" }), runList,
    h("h3", { text: "Tags" }), statsBar.element, filter, filterError, summary, list);

  let tags = new Map();
  let tree = buildTree(tags);
  let regex = null;
  let rows = [];
  let selected = "";
  const opened = new Map(); // group path -> open, where the user chose
  let drawQueued = false;
  let active = 0; // the row position the keyboard is on
  const peeked = new Map(); // tag -> its one-line summary, once known
  let hiddenRuns = [];
  let shownIndex = null;
  let tagView = { tagSort: "name", tagFilter: "", tagMin: null };
  let statsReply = null; // the last /tagstats reply while a statistic is in use
  let tagStats = new Map(); // tag -> TagStats over the visible runs

  const mergeStats = () => {
    tagStats = statsReply ? mergeTagStats(statsReply, hiddenRuns) : new Map();
  };

  const isOpen = (path) => opened.get(path) ?? tags.size <= OPEN_LIMIT;

  function reflatten() {
    const { tagSort: sort, tagFilter: statFilter, tagMin: min } = tagView;
    const ranked = sort !== "name" && statsReply;
    const result = ranked
      ? { rows: rankedRows(tags, tagStats, regex, { sort, filter: statFilter, min }) }
      : flatten(tree, regex, isOpen, statFilter && statsReply ? (tag) => keepTag(tagStats.get(tag), statFilter, min) : null);
    rows = result.rows;
    const count = result.count ?? rows.length;
    summary.textContent = regex || (statFilter && statsReply)
      ? `${formatCount(count)} of ${formatCount(tags.size)} tags match`
      : `${formatCount(tags.size)} tags`;
    if (ranked) summary.textContent += `, by ${SORT_LABELS[sort]}`;
    spacer.style.height = `${rows.length * ROW_HEIGHT}px`;
    draw();
  }

  function rowElement(row, position) {
    const common = {
      className: `row ${row.kind}${row.kind === "tag" && row.tag === selected ? " selected" : ""}`,
      role: "treeitem",
      tabIndex: position === active ? 0 : -1,
      "aria-level": String(row.depth + 1),
      dataset: { position: String(position) },
      style: { paddingLeft: `${8 + row.depth * 14}px` },
    };
    if (row.kind === "group") {
      return h("div", { ...common, "aria-expanded": String(row.open), title: row.path },
        h("span", { className: "twisty", text: row.open ? "▾" : "▸" }),
        h("span", { className: "name", text: row.name }),
        h("span", { className: "count", text: formatCount(row.count) }),
        badge(row.alerts, row.partial));
    }
    const line = peeked.get(row.tag);
    const value = row.value === undefined ? null
      : h("span", { className: "tag-stat", title: `${SORT_LABELS[tagView.tagSort]} over the steps checked`, text: statText(tagView.tagSort, row.value) });
    return h("div", { ...common, title: line ? `${row.tag}\n${line}` : row.tag, "aria-selected": String(row.tag === selected) },
      h("span", { className: "name", text: row.name }),
      value,
      h("span", { className: "count", title: "steps", text: formatCount(row.steps) }),
      badge(row.alerts, row.partial));
  }

  // Draws the rows in the scrolled window; keeps the focus on the active row
  // when the tree had it. With the active row out of the window, the first
  // drawn row is the tab stop.
  function draw() {
    drawQueued = false;
    const focused = list.contains(document.activeElement);
    active = Math.min(active, Math.max(rows.length - 1, 0));
    const first = Math.max(0, Math.floor(list.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(rows.length, Math.ceil((list.scrollTop + (list.clientHeight || 600)) / ROW_HEIGHT) + OVERSCAN);
    rowsBox.style.transform = `translateY(${first * ROW_HEIGHT}px)`;
    show(rowsBox, rows.slice(first, last).map((row, k) => rowElement(row, first + k)));
    const stop = rowsBox.querySelector('.row[tabindex="0"]') ?? rowsBox.firstChild;
    if (stop) stop.tabIndex = 0;
    if (focused) stop?.focus({ preventScroll: true });
  }

  // Scrolls row `position` into the window.
  function reveal(position) {
    const top = position * ROW_HEIGHT;
    if (top < list.scrollTop) list.scrollTop = top;
    else if (top + ROW_HEIGHT > list.scrollTop + list.clientHeight) list.scrollTop = top + ROW_HEIGHT - list.clientHeight;
  }

  function activate(position) {
    active = Math.min(Math.max(position, 0), rows.length - 1);
    reveal(active);
    draw();
    rowsBox.querySelector(`.row[data-position="${active}"]`)?.focus({ preventScroll: true });
  }

  function toggleGroup(row, open) {
    opened.set(row.path, open);
    reflatten();
  }

  function openRow(row) {
    if (row.kind === "group") toggleGroup(row, !row.open);
    else onPickTag(row.tag);
  }

  list.addEventListener("keydown", (event) => {
    const row = rows[active];
    if (!row || event.altKey || event.ctrlKey || event.metaKey) return;
    const parent = () => {
      for (let k = active - 1; k >= 0; k--) if (rows[k].depth < row.depth) return k;
      return active;
    };
    switch (event.key) {
      case "ArrowDown": activate(active + 1); break;
      case "ArrowUp": activate(active - 1); break;
      case "Home": activate(0); break;
      case "End": activate(rows.length - 1); break;
      case "ArrowRight":
        if (row.kind === "group" && !row.open) toggleGroup(row, true);
        else if (row.kind === "group") activate(active + 1);
        break;
      case "ArrowLeft":
        if (row.kind === "group" && row.open) toggleGroup(row, false);
        else activate(parent());
        break;
      case "Enter":
      case " ":
        openRow(row);
        break;
      default:
        return;
    }
    event.preventDefault();
  });

  list.addEventListener("scroll", () => {
    if (!drawQueued) {
      drawQueued = true;
      requestAnimationFrame(draw);
    }
  });
  list.addEventListener("pointerover", (event) => {
    const target = event.target.closest(".row.tag");
    const row = target && rows[Number(target.dataset.position)];
    if (!row || peeked.has(row.tag)) return;
    peeked.set(row.tag, "");
    peek(row.tag).then((line) => {
      peeked.set(row.tag, line);
      const shown = rowsBox.querySelector(`.row[data-position="${rows.indexOf(row)}"]`);
      if (shown) shown.title = `${row.tag}\n${line}`;
    }, () => peeked.delete(row.tag));
  });
  list.addEventListener("click", (event) => {
    const target = event.target.closest(".row");
    if (!target) return;
    active = Number(target.dataset.position);
    openRow(rows[active]);
  });
  let filterTimer = null;
  filter.addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      try {
        regex = filterRegex(filter.value);
        filterError.textContent = "";
      } catch (error) {
        filterError.textContent = `Not a regular expression: ${error.message}`;
        return;
      }
      list.scrollTop = 0;
      reflatten();
    }, FILTER_DELAY_MS);
  });

  let runColours = {}; // run -> TensorBoard's colour (runlist.js)
  let runsShown = null; // [index, hidden] of the run list on screen

  function renderRuns(index, hidden) {
    runsShown = [index, hidden];
    show(runList, Object.keys(index.runs).sort().map((run) => {
      const box = h("input", {
        type: "checkbox", checked: !hidden.includes(run),
        onchange: () => onHiddenRuns(box.checked ? hidden.filter((r) => r !== run) : [...hidden, run]),
      });
      const colour = runColours[run];
      return h("label", { className: "run", title: run }, box,
        h("i", { className: "run-swatch", style: { background: colour ?? "transparent" }, "aria-hidden": "true" }),
        h("span", { text: run }));
    }));
  }

  return {
    element,
    // The index, hidden runs or /alerts counts changed.
    setIndex(index, hidden, alertCounts) {
      renderRuns(index, hidden);
      if (index !== shownIndex) statsBar.refresh();
      shownIndex = index;
      hiddenRuns = hidden;
      mergeStats();
      tags = visibleTags(index, hidden, alertCounts);
      tree = buildTree(tags);
      reflatten();
    },
    // TensorBoard's colours for the runs (run -> CSS colour).
    setRunColours(colours) {
      runColours = colours;
      if (runsShown) renderRuns(...runsShown);
    },
    // How the tags are sorted and filtered by statistics (URL state).
    setTagView(view) {
      const changed = ["tagSort", "tagFilter", "tagMin"].some((key) => view[key] !== tagView[key]);
      tagView = { tagSort: view.tagSort, tagFilter: view.tagFilter, tagMin: view.tagMin };
      statsBar.set(tagView);
      if (changed) {
        list.scrollTop = 0;
        reflatten();
      }
    },
    // Marks `tag` selected, opening its groups and scrolling it into view.
    select(tag) {
      selected = tag;
      let changedGroups = false;
      for (const path of ancestors(tag)) {
        if (!isOpen(path)) {
          opened.set(path, true);
          changedGroups = true;
        }
      }
      if (changedGroups) reflatten();
      const position = rows.findIndex((row) => row.kind === "tag" && row.tag === tag);
      if (position >= 0 && !list.contains(document.activeElement)) active = position;
      const top = position * ROW_HEIGHT;
      if (position >= 0 && (top < list.scrollTop || top + ROW_HEIGHT > list.scrollTop + list.clientHeight)) {
        list.scrollTop = Math.max(0, top - list.clientHeight / 2);
      }
      draw();
    },
  };
}
