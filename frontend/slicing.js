// Numpy slice expressions (`3, :, ::2, ...`): parse, format, apply to shapes.
//
// Pure (no DOM). The slicer shows the expression a view is drawing and lets
// the user edit it; the server parses the same grammar (tb_tensorcap/slicing.py),
// so the text sent is exactly what is shown. Both sides run the cases of
// tests/slicing_cases.json and give the same messages, counting entries from 1.
// An expression is an optional `name[...]` or `[...]` wrapper around
// comma-separated entries; an entry is
//   {kind: "index", index}                 an integer, negative counts from the end
//   {kind: "range", start, stop, step}     null for an omitted part
//   {kind: "ellipsis"}                     "...", at most once
// A view's slice keeps `count` axes as ranges (the displayed axes) and fixes
// every other axis with an index (one slider each).

/**
 * @typedef {{kind: "index", index: number}
 *   | {kind: "range", start: number|null, stop: number|null, step: number|null}
 *   | {kind: "ellipsis"}} SliceEntry
 */

export const MAX_AXES = 32;
const INT = "[+-]?[0-9]+";
const INT_ONLY = new RegExp(`^${INT}$`);
const RANGE = new RegExp(`^(${INT})?\\s*:\\s*(${INT})?(?:\\s*:\\s*(${INT})?)?$`);
const WRAPPED = /^\s*(?:[A-Za-z_][A-Za-z0-9_]*\s*)?\[(.*)\]\s*$/s;
const SHOWN_CHARS = 40;
const FULL = Object.freeze({ kind: "range", start: null, stop: null, step: null });

export class SliceError extends Error {}

/**
 * Text -> entries. Accepts an optional `x[...]` or `[...]` wrapper.
 * @param {string} text
 * @returns {SliceEntry[]}
 */
export function parseSlice(text) {
  let body = text ?? "";
  const wrapped = WRAPPED.exec(body);
  if (wrapped) body = wrapped[1];
  if (body.trim() === "") return [];
  const entries = body.split(",").map((raw, position) => parseEntry(raw.trim(), position + 1));
  if (entries.filter((e) => e.kind === "ellipsis").length > 1) {
    throw new SliceError("only one '...' is allowed");
  }
  if (entries.length > MAX_AXES) throw new SliceError(`at most ${MAX_AXES} entries`);
  return entries;
}

// An integer entry part; refuses magnitudes a JavaScript number cannot hold exactly.
function integer(digits, number) {
  const magnitude = digits.replace(/^[+-]/, "");
  if (magnitude.length > 16 || BigInt(magnitude) > 2n ** 53n) {
    throw new SliceError(`entry ${number}: an integer over 2^53 in magnitude is out of range`);
  }
  return Number(digits);
}

function parseEntry(part, number) {
  if (part === "...") return { kind: "ellipsis" };
  if (part === "") throw new SliceError(`entry ${number} is empty`);
  if (INT_ONLY.test(part)) return { kind: "index", index: integer(part, number) };
  const range = RANGE.exec(part);
  if (!range) {
    const shown = part.length <= SHOWN_CHARS ? part : `${part.slice(0, SHOWN_CHARS)}\u2026`;
    throw new SliceError(
      `entry ${number} (${JSON.stringify(shown)}) is not an integer, a start:stop:step range or '...'`,
    );
  }
  const [start, stop, step] = range.slice(1).map((v) => (v === undefined ? null : integer(v, number)));
  if (step === 0) throw new SliceError(`entry ${number}: the step cannot be zero`);
  return { kind: "range", start, stop, step };
}

// Entries -> text, as the server writes it: "3, :, 10:20, ::2"; "..." for none.
export function formatSlice(entries) {
  if (entries.length === 0) return "...";
  return entries.map(formatEntry).join(", ");
}

function formatEntry(entry) {
  if (entry.kind === "ellipsis") return "...";
  if (entry.kind === "index") return String(entry.index);
  const part = (v) => (v === null ? "" : String(v));
  const text = `${part(entry.start)}:${part(entry.stop)}`;
  return entry.step === null ? text : `${text}:${entry.step}`;
}

// One entry per axis of `shape`: "..." expanded, missing trailing axes ":",
// negative indices made non-negative. Throws SliceError naming the axis at fault.
export function expandSlice(entries, shape) {
  const explicit = entries.filter((e) => e.kind !== "ellipsis").length;
  if (explicit > shape.length) {
    throw new SliceError(`too many entries (${explicit}) for a value with ${shape.length} axes (shape [${shape.join(", ")}])`);
  }
  const expanded = [];
  for (const entry of entries) {
    if (entry.kind === "ellipsis") {
      for (let k = explicit; k < shape.length; k++) expanded.push(FULL);
    } else {
      expanded.push(entry);
    }
  }
  while (expanded.length < shape.length) expanded.push(FULL);
  return expanded.map((entry, axis) => {
    if (entry.kind !== "index") return entry;
    const size = shape[axis];
    if (entry.index < -size || entry.index >= size) {
      throw new SliceError(`index ${entry.index} is out of range for axis ${axis} of size ${size}`);
    }
    return { kind: "index", index: entry.index < 0 ? entry.index + size : entry.index };
  });
}

// Python's slice.indices(size) for a range entry: [start, stop, step].
export function rangeBounds(entry, size) {
  const step = entry.step ?? 1;
  const clamp = (v, low, high) => Math.min(Math.max(v, low), high);
  const resolve = (v, fallback, low, high) => {
    if (v === null) return fallback;
    return clamp(v < 0 ? v + size : v, low, high);
  };
  if (step > 0) return [resolve(entry.start, 0, 0, size), resolve(entry.stop, size, 0, size), step];
  return [resolve(entry.start, size - 1, -1, size - 1), resolve(entry.stop, -1, -1, size - 1), step];
}

// The length a range entry keeps of an axis of `size`.
export function rangeLength(entry, size) {
  const [start, stop, step] = rangeBounds(entry, size);
  const length = step > 0 ? Math.ceil((stop - start) / step) : Math.ceil((start - stop) / -step);
  return Math.max(0, length);
}

// The shape of the result of expanded `entries` applied to `shape`.
export function resultShape(entries, shape) {
  const out = [];
  entries.forEach((entry, axis) => {
    if (entry.kind === "range") out.push(rangeLength(entry, shape[axis]));
  });
  return out;
}

// The axes an expanded slice keeps (its range entries).
export function displayedAxes(entries) {
  return entries.flatMap((entry, axis) => (entry.kind === "range" ? [axis] : []));
}

const AXIS_WORDS = { N: "batch", B: "batch", H: "height", W: "width", C: "channel", T: "time", L: "length", D: "depth" };

/**
 * How a slider or caption names `axis`: its capture's name for it (a letter
 * of "NHWC" spelled out: "channel"), else "axis k".
 * @param {string[]|null} names the capture's axis names, or null
 */
export function axisLabel(names, axis) {
  const name = names?.[axis];
  if (!name) return `axis ${axis}`;
  return AXIS_WORDS[name] ?? name;
}

/**
 * The axes a view of `count` axes shows by default: the axes named H and W
 * where the capture names its axes; else H x W of a rank-4 value (TensorFlow's
 * N x H x W x C layout); else trailing axes, except that a small last axis
 * (channels, <= 4) is left to a slider: an H x W x 3 value shows H x W.
 * @param {string[]|null} [names]
 */
export function defaultAxes(shape, count, names = null) {
  const rank = shape.length;
  if (count >= rank) return shape.map((_, axis) => axis);
  if (count === 2 && names?.length === rank) {
    const height = names.findIndex((n) => /^(h|height)$/i.test(n));
    const width = names.findIndex((n) => /^(w|width)$/i.test(n));
    if (height >= 0 && width >= 0) return [height, width].sort((a, b) => a - b);
  }
  if (count === 2 && rank === 4) return [1, 2];
  const skipLast = rank > count && count < 3 && shape[rank - 1] <= 4 ? 1 : 0;
  const end = rank - skipLast;
  return Array.from({ length: count }, (_, k) => end - count + k);
}

// An expanded slice keeping `axes` (with the range they had in `previous`,
// expanded entries or null, else in full) and fixing every other axis at the
// index it had in `previous`, else 0.
export function sliceShowing(shape, axes, previous = null) {
  return shape.map((_, axis) => {
    const before = previous?.[axis];
    if (axes.includes(axis)) return before?.kind === "range" ? before : FULL;
    return { kind: "index", index: before?.kind === "index" ? before.index : 0 };
  });
}

// The slice a view of `count` axes draws: `text` when it parses, fits `shape`
// and keeps exactly `count` axes, else a default that keeps what it can of
// it. Returns {entries, error}; `error` explains why `text` was not used.
export function sliceForView(shape, count, text, names = null) {
  const axes = defaultAxes(shape, count, names);
  if (!text) return { entries: sliceShowing(shape, axes), error: null };
  let entries;
  try {
    entries = expandSlice(parseSlice(text), shape);
  } catch (error) {
    if (!(error instanceof SliceError)) throw error;
    return { entries: sliceShowing(shape, axes), error: error.message };
  }
  const shown = displayedAxes(entries);
  if (shown.length === count) return { entries, error: null };
  const kept = shown.length > count ? shown.slice(0, count) : axes;
  return { entries: sliceShowing(shape, kept, entries), error: null };
}

// Expanded entries with axis `axis` fixed at `index`.
export function withIndex(entries, axis, index) {
  return entries.map((entry, k) => (k === axis ? { kind: "index", index } : entry));
}

// The index in the full value of element `position` of the sliced result
// (one coordinate per displayed axis).
export function fullIndex(entries, shape, position) {
  let k = 0;
  return entries.map((entry, axis) => {
    if (entry.kind === "index") return entry.index;
    const [start, , step] = rangeBounds(entry, shape[axis]);
    return start + step * position[k++];
  });
}

// The full-value expression of a block of result positions [from, to) per
// displayed axis: how a pooled cell is described ("x[3, 8:16, 0:4, 0]").
export function blockSlice(entries, shape, from, to) {
  let k = 0;
  return entries.map((entry, axis) => {
    if (entry.kind === "index") return entry;
    const [start, , step] = rangeBounds(entry, shape[axis]);
    const first = start + step * from[k];
    const last = start + step * (to[k] - 1);
    k++;
    if (first === last) return { kind: "index", index: first };
    const stop = last + (step > 0 ? 1 : -1);
    return { kind: "range", start: first, stop: stop < 0 ? null : stop, step: step === 1 ? null : step };
  });
}
