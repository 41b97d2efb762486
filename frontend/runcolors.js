// Run colours, TensorBoard's way.
//
// TensorBoard (2.x, its Angular app: Time Series, Scalars and the runs
// table) colours runs from the palette in its settings ("Default": Slate,
// Cyan, Pink, Yellow, Purple, Light Green, Orange; each with a light- and a
// dark-theme shade). Grouped by run (its default), a run's colour id is the
// number of runs TensorBoard had seen before it, in the order of its run
// list (`data/runs`: by start time, then name), and ids are never given
// again while the page lives: colour = palette[id % 7]. The ids live only in
// TensorBoard's private store, so the tab repeats the assignment from the
// same run list (TensorBoard's plugin channel or `data/runs`, see
// channel.js); a colour the user picked by hand in TensorBoard's runs table,
// or grouping by regex or experiment, cannot be read and is not followed.
//
// Pure (no DOM).

/** TensorBoard's default run palette (tensorboard/webapp/settings: colorPalette "default"). */
export const TENSORBOARD_PALETTE = Object.freeze([
  { name: "Slate", light: "#425066", dark: "#8e98a3" },
  { name: "Cyan", light: "#12b5cb", dark: "#12b5cb" },
  { name: "Pink", light: "#e52592", dark: "#e52592" },
  { name: "Yellow", light: "#f9ab00", dark: "#f9ab00" },
  { name: "Purple", light: "#9334e6", dark: "#9334e6" },
  { name: "Light Green", light: "#7cb342", dark: "#7cb342" },
  { name: "Orange", light: "#e8710a", dark: "#e8710a" },
]);

/** TensorBoard's colour for a run it has no colour id for ("inactive"). */
export const INACTIVE = Object.freeze({ name: "Gray", light: "#e0e0e0", dark: "#3b3b3b" });

/**
 * Colour ids given in the order runs are first seen, never given again:
 * TensorBoard's groupKeyToColorId for grouping by run.
 */
export function createColourIds() {
  const ids = new Map();
  return {
    /**
     * Gives ids to the runs of `runList` not seen before, in its order.
     * @param {string[]} runList TensorBoard's run list, in its order
     */
    see(runList) {
      for (const run of runList) if (!ids.has(run)) ids.set(run, ids.size);
    },
    /** @returns {number|undefined} */
    id: (run) => ids.get(run),
    /** Whether any run was seen. */
    known: () => ids.size > 0,
  };
}

/**
 * The CSS colour of colour id `id` (undefined: TensorBoard's inactive grey).
 * @param {number|undefined} id
 * @param {boolean} dark TensorBoard's dark mode
 */
export function paletteColour(id, dark) {
  const entry = id === undefined || id < 0 ? INACTIVE : TENSORBOARD_PALETTE[id % TENSORBOARD_PALETTE.length];
  return dark ? entry.dark : entry.light;
}

/**
 * Run -> CSS colour for `runs` (the tab's runs) from colour ids.
 * @param {string[]} runs
 * @param {{id: (run: string) => number|undefined}} ids
 * @param {boolean} dark
 * @returns {Object<string, string>}
 */
export function runColourMap(runs, ids, dark) {
  return Object.fromEntries(runs.map((run) => [run, paletteColour(ids.id(run), dark)]));
}
