// The table view: the exact values of a 0-, 1- or 2-D slice, a page at a
// time, with a button that copies them as tab-separated text.
//
// Rows and columns are labelled with their index in the full value.
// Results over TABLE_LIMIT elements are not fetched: the message asks for
// a narrower slice.

import { fetchValue } from "../api.js";
import { h, message, show } from "../dom.js";
import { formatCount } from "../format.js";
import { displayedAxes, expandSlice, fullIndex, parseSlice } from "../slicing.js";

const TABLE_LIMIT = 1 << 20;
const COPY_LIMIT = 100000;
const PAGE_ROWS = 50;
const PAGE_COLS = 12;

// Puts `text` on the clipboard; falls back to a selected textarea where the
// Clipboard API is refused.
async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch {
    const area = h("textarea", { className: "offscreen", value: text });
    document.body.append(area);
    area.select();
    const copied = document.execCommand("copy");
    area.remove();
    if (!copied) throw new Error("the browser refused to copy");
  }
}

// Rows x cols of a tensor of rank 0, 1 (a column) or 2.
function grid(shape) {
  if (shape.length === 0) return [1, 1];
  if (shape.length === 1) return [shape[0], 1];
  return shape;
}

function tsv(tensor, rowRange, colRange) {
  const [, cols] = grid(tensor.shape);
  const lines = [];
  for (let r = rowRange[0]; r < rowRange[1]; r++) {
    const cells = [];
    for (let c = colRange[0]; c < colRange[1]; c++) cells.push(tensor.text(r * cols + c));
    lines.push(cells.join("\t"));
  }
  return lines.join("\n");
}

export function createTableView() {
  const element = h("div", { className: "table-view" });
  let page = { row: 0, col: 0 };
  let shown = null; // {tensor, entries, fullShape}

  function render() {
    const { tensor, entries, fullShape } = shown;
    const [rows, cols] = grid(tensor.shape);
    const axes = displayedAxes(entries);
    const rowEnd = Math.min(page.row + PAGE_ROWS, rows);
    const colEnd = Math.min(page.col + PAGE_COLS, cols);
    const label = (position, k) => (axes.length ? String(fullIndex(entries, fullShape, position)[axes[k]]) : "");
    const header = h("tr", null, h("th"), Array.from({ length: colEnd - page.col }, (_, k) =>
      h("th", { text: tensor.shape.length === 2 ? label([0, page.col + k], 1) : "value" })));
    const body = Array.from({ length: rowEnd - page.row }, (_, k) => {
      const r = page.row + k;
      const position = tensor.shape.length === 2 ? [r, 0] : [r];
      return h("tr", null, h("th", { text: label(position, 0) }),
        Array.from({ length: colEnd - page.col }, (_, j) => {
          const i = r * cols + page.col + j;
          const bad = tensor.values && !Number.isFinite(tensor.values[i]);
          return h("td", { className: bad ? "bad" : null, text: tensor.text(i) });
        }));
    });
    const status = h("span", { className: "status" });
    const whole = tensor.size <= COPY_LIMIT;
    const copy = h("button", {
      className: "copy",
      text: whole ? "Copy all" : "Copy page",
      onclick: () => {
        const text = whole ? tsv(tensor, [0, rows], [0, cols]) : tsv(tensor, [page.row, rowEnd], [page.col, colEnd]);
        const count = whole ? tensor.size : (rowEnd - page.row) * (colEnd - page.col);
        copyText(text).then(
          () => { status.textContent = `Copied ${formatCount(count)} values.`; },
          (error) => { status.textContent = `Cannot copy: ${error.message}`; },
        );
      },
    });
    const move = (key, delta, size) => h("button", {
      text: delta < 0 ? "◀" : "▶",
      disabled: page[key] + delta < 0 || page[key] + delta >= size,
      onclick: () => {
        page = { ...page, [key]: page[key] + delta };
        render();
      },
    });
    show(element,
      h("div", { className: "toolbar" },
        move("row", -PAGE_ROWS, rows), h("span", { text: `rows ${page.row}–${rowEnd - 1} of ${formatCount(rows)}` }),
        move("row", PAGE_ROWS, rows),
        cols > 1 ? [move("col", -PAGE_COLS, cols), h("span", { text: `cols ${page.col}–${colEnd - 1} of ${formatCount(cols)}` }),
          move("col", PAGE_COLS, cols)] : null,
        copy, status),
      h("div", { className: "table-scroll" }, h("table", { className: "values" }, h("thead", null, header), h("tbody", null, body))),
    );
  }

  return {
    element,
    async update({ run, tag, step, dtype, fullShape, sliceText, sliceShape, signal }) {
      const size = sliceShape.reduce((a, b) => a * b, 1);
      if (size > TABLE_LIMIT || sliceShape.length > 2) {
        show(element, message(
          `This slice has ${formatCount(size)} elements in ${sliceShape.length} axes; the table lists at most ` +
          `${formatCount(TABLE_LIMIT)} in 2 axes: narrow the slice.`));
        return;
      }
      const tensor = await fetchValue({ run, tag, step, dtype, slice: sliceText }, signal);
      const [rows, cols] = grid(tensor.shape);
      if (page.row >= rows || page.col >= cols) page = { row: 0, col: 0 };
      shown = { tensor, entries: expandSlice(parseSlice(tensor.slice), fullShape), fullShape };
      render();
    },
  };
}
