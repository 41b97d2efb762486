// The health overview panel (from /health): one run as a grid of tags (rows,
// in capture order) by steps (columns), each cell coloured by log10 of the
// largest finite |x| it covers, NaN cells magenta and infinite ones marked
// with a black/white inner square. The server bins a large run to fit
// (consecutive steps or tags share a cell); hovering names what a cell
// covers, clicking opens its capture (the earliest NaN/Inf one, else the
// largest).

import { fetchHealth, isAbort } from "../api.js";
import { NAN_COLOR, NEGINF_COLOR, POSINF_COLOR, sequential } from "../colormaps.js";
import { h, message, show } from "../dom.js";
import { formatCount } from "../format.js";

// Reply flags (http_api.md, /health).
const NAN = 1;
const POSINF = 2;
const NEGINF = 4;
const ALL_ZERO = 8;
const EMPTY_COLOR = "rgba(128, 128, 128, 0.15)";
const MAX_ROWS = 1000;
const MAX_COLUMNS = 2000;

let styled = false;

function addStyle() {
  if (styled) return;
  styled = true;
  document.head.append(h("link", { rel: "stylesheet", href: "./static/views/health.css" }));
}

const rgb = ([r, g, b]) => `rgb(${r}, ${g}, ${b})`;

function swatch(color) {
  const element = h("span", { className: "health-swatch" });
  element.style.background = color;
  return element;
}

function spanText(span) {
  return span.count === 1 ? String(span.first) : `${span.first} … ${span.last} (${formatCount(span.count)})`;
}

function flagText(flags) {
  if (flags === null) return "no capture";
  const parts = [];
  if (flags & NAN) parts.push("NaN");
  if (flags & POSINF) parts.push("+Inf");
  if (flags & NEGINF) parts.push("−Inf");
  if (flags & ALL_ZERO) parts.push("all zeros");
  return parts.join(", ");
}

// onOpen({run, tag, step}); onRun(run): another run was picked.
export function createHealthPanel({ onOpen, onRun }) {
  addStyle();
  const runChoice = h("select", { "aria-label": "run", onchange: () => onRun(runChoice.value) });
  const canvas = h("canvas", { className: "health-grid", tabIndex: 0, "aria-label": "health overview" });
  const tip = h("div", { className: "health-tip", role: "status" });
  const legend = h("div", { className: "health-legend" });
  const body = h("div", { className: "health-body" });
  const element = h("section", { className: "panel health-panel" },
    h("div", { className: "toolbar" }, h("h2", { text: "Health" }), h("label", null, "run ", runChoice), legend),
    body);
  let run = "";
  let key = "";
  let reply = null;
  let cell = { width: 1, height: 1 };
  let range = { lo: 0, hi: 1 };
  let controller = null;

  function colorOf(magnitude) {
    const t = range.hi > range.lo ? (magnitude - range.lo) / (range.hi - range.lo) : 0.5;
    return rgb(sequential(Math.min(1, Math.max(0, t))));
  }

  function draw() {
    const rows = reply.rows.length;
    const columns = reply.columns.length;
    const width = Math.max(200, body.clientWidth - 16);
    cell = { width: Math.max(1, Math.floor(width / Math.max(columns, 1))), height: Math.max(2, Math.min(14, Math.floor(600 / Math.max(rows, 1)))) };
    canvas.width = cell.width * columns;
    canvas.height = cell.height * rows;
    const known = reply.magnitude.filter((m) => m !== null);
    range = known.length ? { lo: Math.min(...known), hi: Math.max(...known) } : { lo: 0, hi: 1 };
    const context = canvas.getContext("2d");
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++) {
        const i = r * columns + c;
        const flags = reply.flags[i];
        const x = c * cell.width;
        const y = r * cell.height;
        context.fillStyle = flags === null ? EMPTY_COLOR
          : flags & NAN ? rgb(NAN_COLOR) : reply.magnitude[i] === null ? EMPTY_COLOR : colorOf(reply.magnitude[i]);
        context.fillRect(x, y, cell.width, cell.height);
        if (flags & (POSINF | NEGINF) && !(flags & NAN)) {
          context.fillStyle = rgb(flags & POSINF ? POSINF_COLOR : NEGINF_COLOR);
          const inset = Math.max(1, Math.floor(Math.min(cell.width, cell.height) / 4));
          context.fillRect(x + inset, y + inset, Math.max(1, cell.width - 2 * inset), Math.max(1, cell.height - 2 * inset));
        }
      }
    }
    show(legend, swatch(colorOf(range.lo)), ` log₁₀ max|x| ${range.lo.toFixed(1)} … ${range.hi.toFixed(1)} `,
      swatch(colorOf(range.hi)), swatch(rgb(NAN_COLOR)), " NaN ", swatch(rgb(POSINF_COLOR)), " +Inf ",
      swatch(rgb(NEGINF_COLOR)), " −Inf");
    const bad = reply.flags.filter((f) => f !== null && f & (NAN | POSINF | NEGINF)).length;
    show(body,
      h("p", { className: "summary" }, `${formatCount(reply.captures)} captures, ${formatCount(reply.tags.length)} tags`
        + ` in ${rows} rows × ${columns} columns; ${bad ? `${formatCount(bad)} cells hold NaN or Inf` : "no NaN or Inf"}.`),
      canvas, tip);
  }

  function cellAt(event) {
    if (!reply) return null;
    const bounds = canvas.getBoundingClientRect();
    const c = Math.floor((event.clientX - bounds.left) / cell.width);
    const r = Math.floor((event.clientY - bounds.top) / cell.height);
    if (r < 0 || c < 0 || r >= reply.rows.length || c >= reply.columns.length) return null;
    return { r, c, i: r * reply.columns.length + c };
  }

  canvas.addEventListener("mousemove", (event) => {
    const at = cellAt(event);
    if (!at) return;
    const m = reply.magnitude[at.i];
    tip.textContent = `tag ${spanText(reply.rows[at.r])} · step ${spanText(reply.columns[at.c])} · `
      + `${m === null ? "" : `log₁₀ max|x| ${m.toFixed(2)} `}${flagText(reply.flags[at.i])}`;
  });
  canvas.addEventListener("click", (event) => {
    const at = cellAt(event);
    const target = at && reply.open[at.i];
    if (target) onOpen({ run: reply.run, tag: reply.tags[target[0]], step: target[1] });
  });

  async function load(force) {
    const columns = Math.min(MAX_COLUMNS, Math.max(10, Math.floor((body.clientWidth || 800) / 3)));
    const wanted = `${run}\u0000${columns}`;
    if (!force && wanted === key) return;
    key = wanted;
    controller?.abort();
    controller = new AbortController();
    show(body, message("Reading the run's statistics…"));
    try {
      reply = await fetchHealth({ run, maxSteps: columns, maxTags: MAX_ROWS }, controller.signal);
      draw();
    } catch (error) {
      if (!isAbort(error)) show(body, message(error.message, "error"));
    }
  }

  return {
    element,
    // Follows the state's run (the first run when it names none).
    update(state) {
      const runs = Object.keys(state.index.runs);
      run = runs.includes(state.run) ? state.run : runs[0] ?? "";
      show(runChoice, runs.map((r) => h("option", { value: r, text: r, selected: r === run })));
      if (!run) {
        show(body, message("No runs yet."));
        return;
      }
      load(false);
    },
    refresh: () => run && load(true),
  };
}
