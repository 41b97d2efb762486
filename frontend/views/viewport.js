// A zoomable, pannable canvas showing a grid of cells (heatmaps, images).
//
// The caller renders its cells once into a source canvas, one pixel per
// cell; the viewport scales it to the screen without smoothing. The canvas is
// only as large as the fitted cells (no blank margins). A plain wheel scrolls
// the page as everywhere else; Ctrl/⌘+wheel (a trackpad pinch) or the +, −
// and fit buttons zoom, dragging pans, double-click fits. From the keyboard
// the canvas takes focus: arrows move a cell cursor, + and − zoom, 0 fits.
// The cell under the pointer (or the cursor) is described in a tooltip kept
// on screen. Tick labels along the top and left follow the zoom, and marked
// cells (NaN, ±Inf) carry a glyph once cells are large enough to hold one,
// so they read without colour. The geometry is kept in the canvas's data
// attributes (scale, ox, oy in CSS pixels; rows, cols), so tests and
// tooltips can find a cell.

import { h } from "../dom.js";

const MAX_HEIGHT = 520;
const MAX_CELL = 32;
const MAX_SCALE = 256;
const ZOOM_STEP = 1.5;
const TOOLTIP_GAP = 14;
const GLYPH_MIN_SCALE = 7;
const TICK_SPACING = { cols: 44, rows: 22 };
const TICK_STEPS = [1, 2, 5];

/**
 * A cell drawn with a glyph: "nan" (X), "posinf" (I) or "neginf" (−I).
 * @typedef {{row: number, col: number, kind: "nan"|"posinf"|"neginf"}} Mark
 */

/**
 * Tick labels: the text for row i and column j of the grid (null: no ticks
 * on that edge) and a caption naming the axes.
 * @typedef {{rowLabel: ((i: number) => string)|null, colLabel: ((j: number) => string)|null, caption: string}} Axes
 */

// Glyph strokes of each mark, in cell units, and the colour that stands out
// on that value's own colour (white on magenta and black, black on white).
const GLYPHS = {
  nan: { colour: "#ffffff", lines: [[0.28, 0.28, 0.72, 0.72], [0.72, 0.28, 0.28, 0.72]] },
  posinf: { colour: "#000000", lines: [[0.5, 0.24, 0.5, 0.76], [0.38, 0.24, 0.62, 0.24], [0.38, 0.76, 0.62, 0.76]] },
  neginf: { colour: "#ffffff", lines: [[0.2, 0.5, 0.42, 0.5], [0.64, 0.24, 0.64, 0.76], [0.54, 0.24, 0.74, 0.24], [0.54, 0.76, 0.74, 0.76]] },
};

// The smallest of 1, 2, 5, 10, 20, ... cells that keeps ticks `spacing` px apart.
function tickStep(scale, spacing) {
  for (let power = 1; ; power *= 10) {
    for (const m of TICK_STEPS) if (m * power * scale >= spacing) return m * power;
  }
}

// describe({row, col}): the tooltip text of a cell.
// `reserve`: px of the parent's width kept free beside the canvas (a colour bar).
export function createViewport(describe, { reserve = 0 } = {}) {
  const canvas = h("canvas", {
    className: "viewport-canvas", tabIndex: 0, role: "img", dataset: { ownKeys: "" },
    "aria-label": "cells: arrows move, + and − zoom, 0 fits",
  });
  const tooltip = h("div", { className: "tooltip", role: "status", hidden: true });
  const button = (text, title, action) => h("button", { text, title, "aria-label": title, onclick: action });
  const controls = h("div", { className: "zoom-controls" },
    button("+", "zoom in (Ctrl+wheel, +)", () => zoomBy(ZOOM_STEP)),
    button("−", "zoom out (Ctrl+wheel, −)", () => zoomBy(1 / ZOOM_STEP)),
    button("fit", "fit the whole picture (double-click, 0)", () => fitAgain()));
  const caption = h("div", { className: "axes-caption" });
  const topTicks = h("div", { className: "ticks ticks-top", "aria-hidden": "true" });
  const leftTicks = h("div", { className: "ticks ticks-left", "aria-hidden": "true" });
  const element = h("div", { className: "viewport" }, controls, caption,
    h("div", { className: "viewport-frame" }, topTicks, leftTicks, canvas, tooltip));
  let source = null;
  let rows = 0;
  let cols = 0;
  let view = null; // {scale, ox, oy}, CSS pixels; null: fit
  let drag = null;
  let cursor = null; // {row, col} chosen from the keyboard
  /** @type {Mark[]} */
  let marks = [];
  /** @type {Axes} */
  let axes = { rowLabel: null, colLabel: null, caption: "" };

  // The canvas size: the cells at the largest scale that fits the width and MAX_HEIGHT.
  function size() {
    const available = Math.max((element.parentElement?.clientWidth || element.clientWidth || 0) - reserve - 48, 200);
    const scale = Math.min(available / cols, MAX_HEIGHT / rows, MAX_CELL);
    return { width: Math.max(1, Math.round(cols * scale)), height: Math.max(1, Math.round(rows * scale)) };
  }

  function fit({ width, height }) {
    const scale = Math.min(width / cols, height / rows);
    return { scale, ox: (width - cols * scale) / 2, oy: (height - rows * scale) / 2 };
  }

  function current() {
    return view ?? fit(size());
  }

  function redraw() {
    if (!source) return;
    const { width, height } = size();
    const ratio = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
    }
    const { scale, ox, oy } = current();
    const context = canvas.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    context.imageSmoothingEnabled = false;
    context.drawImage(source, ox, oy, cols * scale, rows * scale);
    drawGlyphs(context, scale, ox, oy, width, height);
    drawTicks(scale, ox, oy, width, height);
    if (cursor) {
      context.lineWidth = 2;
      context.strokeStyle = getComputedStyle(element).getPropertyValue("--fg") || "#000";
      context.strokeRect(ox + cursor.col * scale - 1, oy + cursor.row * scale - 1, scale + 2, scale + 2);
    }
    Object.assign(canvas.dataset, { scale, ox, oy, rows, cols });
  }

  function drawGlyphs(context, scale, ox, oy, width, height) {
    if (scale < GLYPH_MIN_SCALE || !marks.length) return;
    context.lineCap = "square";
    context.lineWidth = Math.max(1.5, Math.min(scale / 9, 3));
    for (const { row, col, kind } of marks) {
      const x = ox + col * scale;
      const y = oy + row * scale;
      if (x + scale < 0 || y + scale < 0 || x > width || y > height) continue;
      const glyph = GLYPHS[kind];
      context.strokeStyle = glyph.colour;
      context.beginPath();
      for (const [x0, y0, x1, y1] of glyph.lines) {
        context.moveTo(x + x0 * scale, y + y0 * scale);
        context.lineTo(x + x1 * scale, y + y1 * scale);
      }
      context.stroke();
    }
  }

  // Tick labels at every tickStep-th visible cell, centred on it.
  function drawTicks(scale, ox, oy, width, height) {
    const place = (box, count, label, origin, extent, spacing, vertical) => {
      if (!label || count <= 1) {
        box.replaceChildren();
        return;
      }
      const step = tickStep(scale, spacing);
      const first = Math.max(0, Math.ceil(-origin / scale - 0.5));
      const last = Math.min(count - 1, Math.floor((extent - origin) / scale - 0.5));
      const labels = [];
      for (let i = Math.ceil(first / step) * step; i <= last; i += step) {
        const at = origin + (i + 0.5) * scale;
        labels.push(h("span", { text: label(i), style: vertical ? { top: `${at}px` } : { left: `${at}px` } }));
      }
      box.replaceChildren(...labels);
    };
    place(topTicks, cols, axes.colLabel, ox, width, TICK_SPACING.cols, false);
    place(leftTicks, rows, axes.rowLabel, oy, height, TICK_SPACING.rows, true);
    caption.textContent = axes.caption;
  }

  function pointer(event) {
    const box = canvas.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top };
  }

  function cellAt({ x, y }) {
    const { scale, ox, oy } = current();
    const row = Math.floor((y - oy) / scale);
    const col = Math.floor((x - ox) / scale);
    return row >= 0 && row < rows && col >= 0 && col < cols ? { row, col } : null;
  }

  // Zooms by `factor` keeping the point (x, y) of the canvas where it is.
  function zoomBy(factor, at = null) {
    if (!source) return;
    const { width, height } = size();
    const { x, y } = at ?? { x: width / 2, y: height / 2 };
    const { scale, ox, oy } = current();
    const least = fit({ width, height }).scale / 4;
    const next = Math.min(MAX_SCALE, Math.max(least, scale * factor));
    view = { scale: next, ox: x - ((x - ox) * next) / scale, oy: y - ((y - oy) * next) / scale };
    redraw();
  }

  function fitAgain() {
    view = null;
    redraw();
  }

  // Shows the tooltip for `cell` near canvas point (x, y), flipped to stay on screen.
  function showTooltip(cell, { x, y }) {
    tooltip.hidden = !cell;
    if (!cell) return;
    tooltip.textContent = describe(cell);
    const box = canvas.getBoundingClientRect();
    const width = tooltip.offsetWidth;
    const height = tooltip.offsetHeight;
    const left = box.left + x + TOOLTIP_GAP + width > window.innerWidth ? x - TOOLTIP_GAP - width : x + TOOLTIP_GAP;
    const top = box.top + y + TOOLTIP_GAP + height > window.innerHeight ? y - TOOLTIP_GAP - height : y + TOOLTIP_GAP;
    tooltip.style.left = `${Math.max(left, -box.left)}px`;
    tooltip.style.top = `${Math.max(top, -box.top)}px`;
  }

  canvas.addEventListener("wheel", (event) => {
    if (!source || !(event.ctrlKey || event.metaKey)) return; // a plain wheel scrolls the page
    event.preventDefault();
    zoomBy(Math.exp(-event.deltaY * 0.0015), pointer(event));
  }, { passive: false });
  canvas.addEventListener("pointerdown", (event) => {
    if (!source || event.button !== 0) return;
    canvas.setPointerCapture(event.pointerId);
    drag = { start: pointer(event), from: current() };
  });
  canvas.addEventListener("pointermove", (event) => {
    const at = pointer(event);
    if (drag) {
      const { scale, ox, oy } = drag.from;
      view = { scale, ox: ox + at.x - drag.start.x, oy: oy + at.y - drag.start.y };
      redraw();
      return;
    }
    showTooltip(source ? cellAt(at) : null, at);
  });
  canvas.addEventListener("pointerup", () => {
    drag = null;
  });
  canvas.addEventListener("pointerleave", () => {
    tooltip.hidden = true;
  });
  canvas.addEventListener("dblclick", fitAgain);
  canvas.addEventListener("blur", () => {
    cursor = null;
    tooltip.hidden = true;
    redraw();
  });
  const MOVES = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
  canvas.addEventListener("keydown", (event) => {
    if (!source || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key in MOVES) {
      const [dr, dc] = MOVES[event.key];
      cursor = cursor
        ? { row: Math.min(Math.max(cursor.row + dr, 0), rows - 1), col: Math.min(Math.max(cursor.col + dc, 0), cols - 1) }
        : { row: 0, col: 0 };
    } else if (event.key === "+" || event.key === "=") {
      zoomBy(ZOOM_STEP, cursor ? cellCentre(cursor) : null);
    } else if (event.key === "-") {
      zoomBy(1 / ZOOM_STEP, cursor ? cellCentre(cursor) : null);
    } else if (event.key === "0") {
      fitAgain();
    } else {
      return;
    }
    event.preventDefault();
    redraw();
    if (cursor) showTooltip(cursor, cellCentre(cursor));
  });

  function cellCentre({ row, col }) {
    const { scale, ox, oy } = current();
    return { x: ox + (col + 0.5) * scale, y: oy + (row + 0.5) * scale };
  }

  new ResizeObserver(() => redraw()).observe(element);

  return {
    element,
    canvas,
    // Shows `image` (a canvas of cols x rows pixels), `marked` cells with
    // glyphs and `axisLabels` on its edges. The zoom is kept when the grid
    // keeps its size (stepping through a tag), else refitted.
    setImage(image, imageCols, imageRows, marked = [], axisLabels = { rowLabel: null, colLabel: null, caption: "" }) {
      marks = marked;
      axes = axisLabels;
      if (imageCols !== cols || imageRows !== rows) {
        view = null;
        cursor = null;
      }
      source = image;
      cols = imageCols;
      rows = imageRows;
      redraw();
      if (cursor && document.activeElement === canvas) showTooltip(cursor, cellCentre(cursor));
    },
  };
}
