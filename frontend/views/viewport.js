// A zoomable, pannable canvas showing a grid of cells (heatmaps, images).
//
// The caller renders its cells once into a source canvas, one pixel per
// cell; the viewport scales it to the screen without smoothing, zooms with
// the wheel around the pointer, pans by dragging, fits again on double-click
// and shows the caller's description of the cell under the pointer. The current geometry is kept in
// the canvas's data attributes (scale, ox, oy in CSS pixels; rows, cols), so
// tests and tooltips can find a cell on screen.

import { h } from "../dom.js";

const MAX_HEIGHT = 520;
const MIN_HEIGHT = 48;
const MAX_SCALE = 256;

// describe({row, col}): the tooltip text of a cell.
export function createViewport(describe) {
  const canvas = h("canvas", { className: "viewport-canvas" });
  const tooltip = h("div", { className: "tooltip", hidden: true });
  const element = h("div", { className: "viewport" }, canvas, tooltip);
  let source = null;
  let rows = 0;
  let cols = 0;
  let view = null; // {scale, ox, oy}, CSS pixels; null: fit
  let drag = null;

  function size() {
    const width = Math.max(element.clientWidth || 0, 200);
    const height = Math.round(Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, (width * rows) / cols)));
    return { width, height };
  }

  function fit({ width, height }) {
    const scale = Math.min(width / cols, height / rows);
    return { scale, ox: (width - cols * scale) / 2, oy: (height - rows * scale) / 2 };
  }

  function redraw() {
    if (!source) return;
    const { width, height } = size();
    const ratio = globalThis.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
      canvas.style.height = `${height}px`;
    }
    const { scale, ox, oy } = view ?? fit({ width, height });
    const context = canvas.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    context.imageSmoothingEnabled = false;
    context.drawImage(source, ox, oy, cols * scale, rows * scale);
    Object.assign(canvas.dataset, { scale, ox, oy, rows, cols });
  }

  function current() {
    return view ?? fit(size());
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

  canvas.addEventListener(
    "wheel",
    (event) => {
      if (!source) return;
      event.preventDefault();
      const { x, y } = pointer(event);
      const { scale, ox, oy } = current();
      const least = fit(size()).scale / 4;
      const next = Math.min(MAX_SCALE, Math.max(least, scale * Math.exp(-event.deltaY * 0.0015)));
      view = { scale: next, ox: x - ((x - ox) * next) / scale, oy: y - ((y - oy) * next) / scale };
      redraw();
    },
    { passive: false },
  );
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
    const cell = source ? cellAt(at) : null;
    tooltip.hidden = !cell;
    if (cell) {
      tooltip.textContent = describe(cell);
      tooltip.style.left = `${at.x + 14}px`;
      tooltip.style.top = `${at.y + 14}px`;
    }
  });
  canvas.addEventListener("pointerup", () => {
    drag = null;
  });
  canvas.addEventListener("pointerleave", () => {
    tooltip.hidden = true;
  });
  canvas.addEventListener("dblclick", () => {
    view = null;
    redraw();
  });
  new ResizeObserver(() => redraw()).observe(element);

  return {
    element,
    canvas,
    // Shows `image` (a canvas of cols x rows pixels). The zoom is kept when
    // the grid keeps its size (stepping through a tag), else refitted.
    setImage(image, imageCols, imageRows) {
      if (imageCols !== cols || imageRows !== rows) view = null;
      source = image;
      cols = imageCols;
      rows = imageRows;
      redraw();
    },
  };
}
