// The slicing control for values with more axes than the view draws.
//
// Shows the numpy expression being drawn (`x[3, :, :, 0]`) in an editable
// field, a choice of the displayed axes, and a slider per fixed axis. Every
// change is reported as slice text to `onChange`. The controls are rebuilt
// only when the shape or the displayed axes change, so a slider keeps focus
// and its drag while the view follows it.

import { h, show } from "../dom.js";
import { axisLabel, displayedAxes, formatSlice, sliceShowing, withIndex } from "../slicing.js";

const AXIS_NAMES = { 1: ["axis"], 2: ["rows", "cols"] };

export function createSlicer(onChange) {
  const input = h("input", { className: "slice-input", spellcheck: "false", "aria-label": "slice expression" });
  const error = h("span", { className: "slice-error", role: "alert" });
  const controls = h("div", { className: "slice-controls" });
  const element = h("div", { className: "slicer" },
    h("label", { className: "expression" }, h("span", { text: "x[" }), input, h("span", { text: "]" })), error, controls);
  let entries = [];
  let shape = [];
  let structure = "";
  let names = null; // the capture's axis names, or null
  const sliders = new Map();
  let editing = false; // the field holds text not yet submitted

  const submit = () => {
    editing = false;
    onChange(input.value);
  };
  input.addEventListener("input", () => {
    editing = true;
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") submit();
    if (event.key === "Escape") {
      editing = false;
      input.value = formatSlice(entries);
    }
  });
  input.addEventListener("change", () => {
    if (editing) submit();
  });

  function axisChoice(axes, k, fixed) {
    const select = h("select", {
      disabled: fixed,
      onchange: () => {
        const chosen = Number(select.value);
        const others = axes.filter((_, j) => j !== k);
        const next = others.includes(chosen) ? axes : [...others, chosen].sort((a, b) => a - b);
        onChange(formatSlice(sliceShowing(shape, next, entries)));
      },
    }, shape.map((size, axis) => h("option", { value: axis, text: `${axisLabel(names, axis)} (${size})`, selected: axis === axes[k] })));
    return h("label", null, `${AXIS_NAMES[axes.length]?.[k] ?? `axis ${k + 1}`} `, select);
  }

  function slider(axis) {
    const value = h("output");
    const range = h("input", {
      type: "range", min: 0, max: shape[axis] - 1, step: 1, "aria-label": `index on axis ${axis}`,
      oninput: () => onChange(formatSlice(withIndex(entries, axis, Number(range.value)))),
    });
    sliders.set(axis, { range, value });
    return h("div", { className: "axis-slider" }, h("span", { text: `${axisLabel(names, axis)} (${shape[axis]})` }), range, value);
  }

  function rebuild(fixedAxes) {
    const axes = displayedAxes(entries);
    sliders.clear();
    show(controls,
      h("div", { className: "axis-choice" }, axes.map((_, k) => axisChoice(axes, k, fixedAxes))),
      shape.map((_, axis) => (axes.includes(axis) ? null : slider(axis))),
    );
  }

  return {
    element,
    // Shows expanded `entries` of a value of `shape`; `fixedAxes` when the
    // view dictates its axes (an image's last three); `problem` explains a
    // slice text that could not be used; `axisNames` the capture's names for its axes.
    update(nextShape, nextEntries, { fixedAxes = false, problem = null, axisNames = null } = {}) {
      shape = nextShape;
      entries = nextEntries;
      names = axisNames;
      const key = JSON.stringify([shape, displayedAxes(entries), fixedAxes, names]);
      if (key !== structure) {
        structure = key;
        rebuild(fixedAxes);
      }
      for (const [axis, { range, value }] of sliders) {
        range.value = String(entries[axis].index);
        value.textContent = String(entries[axis].index);
      }
      // A slice that could not be used stays in the field beside its error.
      if (!editing && !problem) input.value = formatSlice(entries);
      error.textContent = problem ?? "";
    },
  };
}
