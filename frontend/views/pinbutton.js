// The capture card's pin buttons: pin the shown tag in this run, or the tag
// in every selected run, to the Pinned panel (views/pinned.js); pressed
// again, they unpin.

import { h } from "../dom.js";
import { togglePin } from "../pins.js";

/**
 * @param {{get: () => import("../state.js").State, set: (patch: object) => void}} store
 */
export function createPinButtons(store) {
  const toggle = (run) => {
    const { pins, tag } = store.get();
    store.set({ pins: togglePin(pins, { tag, run }) });
  };
  const inRun = h("button", { className: "pin pin-run", onclick: () => toggle(store.get().run) });
  const allRuns = h("button", { className: "pin pin-tag", onclick: () => toggle(null) });
  return {
    element: h("span", { className: "pin-buttons" }, inRun, allRuns),
    // Says whether the shown capture (and its tag) are pinned.
    sync({ pins, run, tag }) {
      const pinned = (r) => pins.some((p) => p.tag === tag && p.run === r);
      inRun.textContent = pinned(run) ? "Pinned ✓" : "Pin";
      inRun.title = pinned(run) ? `unpin ${tag} in ${run}` : `pin ${tag} in ${run} to the Pinned panel`;
      inRun.classList.toggle("selected", pinned(run));
      allRuns.textContent = pinned(null) ? "Pinned, all runs ✓" : "Pin, all runs";
      allRuns.title = pinned(null) ? `unpin ${tag} in every selected run`
        : `pin ${tag} in every selected run (a card per run) to the Pinned panel`;
      allRuns.classList.toggle("selected", pinned(null));
    },
  };
}
