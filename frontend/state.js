// The tab's state, a small store, and the state's form in the URL.
//
// Pure (no DOM at import). The URL state lives in the hash of the tab's own
// iframe page (`data/plugin_entry.html?name=tensorcap#run=...&tag=...`),
// written with history.replaceState so it adds no history entries and never
// touches TensorBoard's own URL. A shared link is that iframe URL: opened
// directly, it shows the same run, tag, step, view, slice, diff target,
// tolerances, hidden runs and divergence pair. TensorBoard's own URL
// (`/#tensorcap`) only opens the tab; "Copy link" in the card gives the
// iframe URL.
//
// Keys: p (panel), run, tag, step, view, slice, diff=1 with drun / dtag /
// dstep (omitted = same as the shown capture), rtol, atol, r1, r2
// (divergence runs), vrtol, vatol (divergence tolerances), hide (repeated, one per hidden run), crange / cmap /
// cscale / clo / chi (heatmap colours), smooth / logy (the min/mean/max chart), hmode (histograms over steps:
// offset or overlay), facet (small multiples: an axis number or "steps"), tsort / tfilter / tmin (the tag
// tree sorted and filtered by statistics), pins (pinned cards, JSON as TensorBoard keeps its own: pins.js),
// pstep (their shared step), pown=1 (each pinned heatmap in its own colour range).

import { decodePins, encodePins } from "./pins.js";
import { smoothingWeight } from "./smoothing.js";
import { TAG_FILTERS, TAG_SORTS } from "./tagstats.js";

export const DEFAULT_RTOL = 1e-5;
export const DEFAULT_ATOL = 1e-8;
export const PANELS = ["capture", "alerts", "divergence", "rootcause", "health", "pinned"];

/**
 * The capture a diff compares against; null parts are "same as shown".
 * @typedef {{run: string|null, tag: string|null, step: number|null}} DiffTarget
 */

/**
 * The tab's whole state.
 * @typedef {object} State
 * @property {string} panel one of PANELS
 * @property {string} run
 * @property {string} tag
 * @property {number|null} step null: the latest step, following new ones
 * @property {string} view "": the default view for the capture's rank
 * @property {string} slice "": the default slice for the view
 * @property {DiffTarget|null} diff
 * @property {number} rtol
 * @property {number} atol
 * @property {string} divRun
 * @property {string} divRun2
 * @property {number} divRtol the divergence panel's rtol (the diff has its own)
 * @property {number} divAtol
 * @property {string[]} hidden runs unticked in the sidebar
 * @property {import("./ranges.js").ColourSettings} colour how heatmaps choose their colours
 * @property {number} smoothing the min/mean/max chart's smoothing weight, 0 to 0.999
 * @property {boolean} logY the min/mean/max chart on a log y axis
 * @property {"offset"|"overlay"} histogramMode how histograms over steps are stacked
 * @property {string} facet small multiples along an axis ("3") or over steps ("steps"); "" = default
 * @property {string} tagSort "name", or a statistic the tag tree is sorted by (tagstats.js)
 * @property {string} tagFilter "", or a statistic the tag tree is filtered by (tagstats.js)
 * @property {number|null} tagMin the bound of a "max |x| >" filter
 * @property {import("./pins.js").Pin[]} pins pinned cards
 * @property {number|null} pinStep the pinned cards' shared step (null: the latest)
 * @property {boolean} pinOwnRange each pinned heatmap in its own colour range (false: one shared range)
 * @property {import("./api.js").Index|null} index the last /index reply (not in the URL)
 * @property {string|null} indexError why the last /index request failed (not in the URL)
 * @property {Object<string, string>} runColours run -> TensorBoard's CSS colour for it (not in the URL)
 */

/** @type {Readonly<State>} */
/** @type {Readonly<import("./ranges.js").ColourSettings>} */
export const DEFAULT_COLOUR = Object.freeze({ range: "steps", lo: null, hi: null, map: "auto", scale: "linear" });
const COLOUR_CHOICES = { range: ["steps", "step", "clip", "manual"], map: ["auto", "sequential", "diverging"], scale: ["linear", "log"] };

export const DEFAULT_STATE = Object.freeze({
  panel: "capture",
  run: "",
  tag: "",
  step: null, // null: the latest step, following new ones
  view: "", // "": the default view for the capture's rank
  slice: "", // "": the default slice for the view
  diff: null, // null, or {run, tag, step}, each null for "same as shown"
  rtol: DEFAULT_RTOL,
  atol: DEFAULT_ATOL,
  divRun: "",
  divRun2: "",
  divRtol: DEFAULT_RTOL, // divergence's own tolerances, apart from the diff's
  divAtol: DEFAULT_ATOL,
  hidden: [],
  colour: DEFAULT_COLOUR,
  smoothing: 0,
  logY: false,
  histogramMode: "offset",
  facet: "",
  tagSort: "name",
  tagFilter: "",
  tagMin: null,
  pins: [],
  pinStep: null, // null: the latest step of any pinned card
  pinOwnRange: false, // false: one colour range shared by the pinned heatmaps
  index: null, // the last /index reply (not in the URL)
  indexError: null, // why the last /index request failed, or null (not in the URL)
  runColours: {}, // run -> TensorBoard's colour for it (runlist.js; not in the URL)
});

// State -> hash text (without "#"); only what differs from the defaults.
export function encodeState(state) {
  const params = new URLSearchParams();
  const put = (key, value) => {
    if (value !== null && value !== "" && value !== undefined) params.append(key, String(value));
  };
  if (state.panel !== "capture") put("p", state.panel);
  put("run", state.run);
  put("tag", state.tag);
  put("step", state.step);
  put("view", state.view);
  put("slice", state.slice);
  if (state.diff) {
    params.append("diff", "1");
    put("drun", state.diff.run);
    put("dtag", state.diff.tag);
    put("dstep", state.diff.step);
  }
  if (state.rtol !== DEFAULT_RTOL) put("rtol", state.rtol);
  if (state.atol !== DEFAULT_ATOL) put("atol", state.atol);
  put("r1", state.divRun);
  put("r2", state.divRun2);
  if (state.divRtol !== DEFAULT_RTOL) put("vrtol", state.divRtol);
  if (state.divAtol !== DEFAULT_ATOL) put("vatol", state.divAtol);
  for (const run of state.hidden) params.append("hide", run);
  for (const key of ["range", "map", "scale"]) {
    if (state.colour[key] !== DEFAULT_COLOUR[key]) put(`c${key}`, state.colour[key]);
  }
  put("clo", state.colour.lo);
  put("chi", state.colour.hi);
  if (state.smoothing) put("smooth", state.smoothing);
  if (state.logY) put("logy", 1);
  if (state.histogramMode !== "offset") put("hmode", state.histogramMode);
  put("facet", state.facet);
  if (state.tagSort !== "name") put("tsort", state.tagSort);
  put("tfilter", state.tagFilter);
  put("tmin", state.tagMin);
  put("pins", encodePins(state.pins));
  put("pstep", state.pinStep);
  if (state.pinOwnRange) put("pown", 1);
  return params.toString();
}

function integerOrNull(text) {
  return text !== null && /^-?\d+$/.test(text) ? Number(text) : null;
}

function tolerance(text, fallback) {
  const value = text === null ? NaN : Number(text);
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}

function finiteOrNull(text) {
  const value = text === null || text === "" ? NaN : Number(text);
  return Number.isFinite(value) ? value : null;
}

// The colour settings in URL parameters (cr, cmap, cscale, clo, chi).
function decodeColour(params) {
  const pick = (key) => {
    const value = params.get(`c${key}`);
    return COLOUR_CHOICES[key].includes(value) ? value : DEFAULT_COLOUR[key];
  };
  return { range: pick("range"), map: pick("map"), scale: pick("scale"), lo: finiteOrNull(params.get("clo")), hi: finiteOrNull(params.get("chi")) };
}

// Hash text (with or without "#") -> state; unknown or malformed values
// fall back to the defaults.
export function decodeState(hash) {
  const params = new URLSearchParams(hash.startsWith("#") ? hash.slice(1) : hash);
  const text = (key) => params.get(key) ?? "";
  const panel = params.get("p");
  return {
    ...DEFAULT_STATE,
    panel: PANELS.includes(panel) ? panel : "capture",
    run: text("run"),
    tag: text("tag"),
    step: integerOrNull(params.get("step")),
    view: text("view"),
    slice: text("slice"),
    diff: params.get("diff") === "1"
      ? { run: params.get("drun"), tag: params.get("dtag"), step: integerOrNull(params.get("dstep")) }
      : null,
    rtol: tolerance(params.get("rtol"), DEFAULT_RTOL),
    atol: tolerance(params.get("atol"), DEFAULT_ATOL),
    divRun: text("r1"),
    divRun2: text("r2"),
    divRtol: tolerance(params.get("vrtol"), DEFAULT_RTOL),
    divAtol: tolerance(params.get("vatol"), DEFAULT_ATOL),
    hidden: params.getAll("hide"),
    colour: decodeColour(params),
    smoothing: smoothingWeight(params.get("smooth")),
    logY: params.get("logy") === "1",
    histogramMode: params.get("hmode") === "overlay" ? "overlay" : "offset",
    facet: /^(\d+|steps)$/.test(text("facet")) ? text("facet") : "",
    tagSort: TAG_SORTS.includes(params.get("tsort")) ? params.get("tsort") : "name",
    tagFilter: TAG_FILTERS.includes(params.get("tfilter")) ? params.get("tfilter") : "",
    tagMin: finiteOrNull(params.get("tmin")),
    pins: decodePins(params.get("pins")),
    pinStep: integerOrNull(params.get("pstep")),
    pinOwnRange: params.get("pown") === "1",
  };
}

// A store: get() the state, set(patch) to change it, subscribe(listener)
// to hear of changes as listener(state, previous). Listeners run in order.
export function createStore(initial) {
  let state = { ...initial };
  const listeners = [];
  return {
    get: () => state,
    set(patch) {
      const previous = state;
      state = { ...state, ...patch };
      for (const listener of listeners) listener(state, previous);
    },
    subscribe(listener) {
      listeners.push(listener);
    },
  };
}

