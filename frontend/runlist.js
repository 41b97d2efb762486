// Keeps `runColours` in the tab's state: TensorBoard's colour for each run
// of the index (runcolors.js), in TensorBoard's theme.
//
// The run order comes from TensorBoard itself: its run list over the plugin
// channel where TensorBoard frames the tab (the very list its colours are
// given from; its `data/runs` when no answer comes within 3 s), else its
// `data/runs` route, asked again when the index holds a run not seen yet. A
// run TensorBoard has not listed yet is grey (as in TensorBoard) until it is.

import { fetchTensorBoardRuns, isAbort } from "./api.js";
import { h } from "./dom.js";
import { followRunList } from "./host.js";
import { createColourIds, runColourMap } from "./runcolors.js";

const RUN_LIST_WAIT_MS = 3000;

/**
 * @param {Window|null} host TensorBoard's window, or null
 * @param {{get: () => object, set: (patch: object) => void, subscribe: Function}} store
 */
export function followRunColours(host, store) {
  document.head.append(h("link", { rel: "stylesheet", href: "./static/views/runs.css" }));
  const ids = createColourIds();
  const dark = () => document.documentElement.dataset.theme === "dark";
  let asked = new Set(); // index runs data/runs was fetched for (standalone)

  function update() {
    const { index, runColours } = store.get();
    if (!index) return;
    const colours = runColourMap(Object.keys(index.runs), ids, dark());
    if (JSON.stringify(colours) !== JSON.stringify(runColours)) store.set({ runColours: colours });
  }

  function seen(runs) {
    ids.see(runs);
    update();
  }

  // Standalone: TensorBoard's data/runs, once per new set of index runs.
  function askTensorBoard(index) {
    const unseen = Object.keys(index.runs).filter((run) => ids.id(run) === undefined && !asked.has(run));
    if (!unseen.length) return;
    asked = new Set([...asked, ...unseen]);
    fetchTensorBoardRuns().then(seen, (error) => {
      if (isAbort(error)) return;
      // Without TensorBoard's list: the tab's own run order (sorted names).
      seen(Object.keys(index.runs).sort());
    });
  }

  if (host) {
    // A TensorBoard that does not answer GetRuns (an older one): its data/runs instead.
    const fallback = () => {
      if (!ids.known() && store.get().index) askTensorBoard(store.get().index);
    };
    followRunList(host, seen).catch(fallback);
    setTimeout(fallback, RUN_LIST_WAIT_MS);
  }
  new MutationObserver(update).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  store.subscribe((state, previous) => {
    if (!state.index) return;
    if (state.index !== previous.index && !host) askTensorBoard(state.index);
    // A state decoded from the URL (history, an edited hash) comes without colours.
    if (state.index !== previous.index || state.runColours !== previous.runColours) update();
  });
}
