// The left column: run checkboxes, the tag filter and the tag tree.
//
// The tree (tagtree.js) is flattened into rows and drawn virtually: only the
// rows in the scrolled window exist in the DOM, so 10,000 tags cost a few
// dozen nodes, and a filter keystroke re-flattens without rebuilding them.
// Groups start open for small logdirs, closed for large ones; picking a tag
// from elsewhere (alerts, a link) opens its groups and scrolls to it.

import { h, show } from "../dom.js";
import { formatCount } from "../format.js";
import { ancestors, buildTree, filterRegex, flatten, visibleTags } from "../tagtree.js";

const ROW_HEIGHT = 26;
const OPEN_LIMIT = 200;
const OVERSCAN = 8;
const FILTER_DELAY_MS = 60;

function badge(alerts) {
  if (!alerts) return null;
  return h("span", { className: "badge", title: `${alerts} captured steps hold NaN or Inf`, text: `NaN/Inf ${formatCount(alerts)}` });
}

// onPickTag(tag), onHiddenRuns(hidden).
export function createSidebar({ onPickTag, onHiddenRuns }) {
  const runList = h("div", { className: "run-list" });
  const filter = h("input", {
    type: "search", className: "tag-filter", placeholder: "Filter tags (regex)", spellcheck: "false", "aria-label": "filter tags",
  });
  const filterError = h("div", { className: "filter-error", role: "alert" });
  const summary = h("div", { className: "tag-summary" });
  const rowsBox = h("div", { className: "tag-rows" });
  const spacer = h("div", { className: "tag-spacer" }, rowsBox);
  const list = h("div", { className: "tag-list", role: "tree" }, spacer);
  const element = h("nav", { className: "sidebar" },
    h("h3", { text: "Runs" }), runList,
    h("h3", { text: "Tags" }), filter, filterError, summary, list);

  let tags = new Map();
  let tree = buildTree(tags);
  let regex = null;
  let rows = [];
  let selected = "";
  const opened = new Map(); // group path -> open, where the user chose
  let drawQueued = false;

  const isOpen = (path) => opened.get(path) ?? tags.size <= OPEN_LIMIT;

  function reflatten() {
    const result = flatten(tree, regex, isOpen);
    rows = result.rows;
    summary.textContent = regex
      ? `${formatCount(result.count)} of ${formatCount(tags.size)} tags match`
      : `${formatCount(tags.size)} tags`;
    spacer.style.height = `${rows.length * ROW_HEIGHT}px`;
    draw();
  }

  function rowElement(row, position) {
    const common = {
      className: `row ${row.kind}${row.kind === "tag" && row.tag === selected ? " selected" : ""}`,
      role: "treeitem",
      dataset: { position: String(position) },
      style: { paddingLeft: `${8 + row.depth * 14}px` },
    };
    if (row.kind === "group") {
      return h("div", { ...common, "aria-expanded": String(row.open), title: row.path },
        h("span", { className: "twisty", text: row.open ? "▾" : "▸" }),
        h("span", { className: "name", text: row.name }),
        h("span", { className: "count", text: formatCount(row.count) }),
        badge(row.alerts));
    }
    return h("div", { ...common, title: row.tag, "aria-selected": String(row.tag === selected) },
      h("span", { className: "name", text: row.name }),
      h("span", { className: "count", title: "steps", text: formatCount(row.steps) }),
      badge(row.alerts));
  }

  function draw() {
    drawQueued = false;
    const first = Math.max(0, Math.floor(list.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(rows.length, Math.ceil((list.scrollTop + (list.clientHeight || 600)) / ROW_HEIGHT) + OVERSCAN);
    rowsBox.style.transform = `translateY(${first * ROW_HEIGHT}px)`;
    show(rowsBox, rows.slice(first, last).map((row, k) => rowElement(row, first + k)));
  }

  list.addEventListener("scroll", () => {
    if (!drawQueued) {
      drawQueued = true;
      requestAnimationFrame(draw);
    }
  });
  list.addEventListener("click", (event) => {
    const target = event.target.closest(".row");
    if (!target) return;
    const row = rows[Number(target.dataset.position)];
    if (row.kind === "group") {
      opened.set(row.path, !row.open);
      reflatten();
    } else {
      onPickTag(row.tag);
    }
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

  function renderRuns(index, hidden) {
    show(runList, Object.keys(index.runs).sort().map((run) => {
      const box = h("input", {
        type: "checkbox", checked: !hidden.includes(run),
        onchange: () => onHiddenRuns(box.checked ? hidden.filter((r) => r !== run) : [...hidden, run]),
      });
      return h("label", { className: "run", title: run }, box, h("span", { text: run }));
    }));
  }

  return {
    element,
    // The index, hidden runs or /alerts counts changed.
    setIndex(index, hidden, alertCounts) {
      renderRuns(index, hidden);
      tags = visibleTags(index, hidden, alertCounts);
      tree = buildTree(tags);
      reflatten();
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
      const top = position * ROW_HEIGHT;
      if (position >= 0 && (top < list.scrollTop || top + ROW_HEIGHT > list.scrollTop + list.clientHeight)) {
        list.scrollTop = Math.max(0, top - list.clientHeight / 2);
      }
      draw();
    },
  };
}
