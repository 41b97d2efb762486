// Pinned cards: which captures are pinned, their form in the URL, the cards
// they expand to, the steps the shared slider walks and the shared colour
// range.
//
// A pin is a tag in one run ({tag, run}) or a tag in every selected run
// ({tag, run: null}: a card per run ticked in the sidebar that holds it).
// In the URL the pins are one JSON list, as TensorBoard keeps its own pinned
// cards (`pinnedCards=[{"plugin":...,"tag":...}]`).
//
// Pure (no DOM).

/** @typedef {{tag: string, run: string|null}} Pin */

/**
 * The pins as URL text ("" for none).
 * @param {Pin[]} pins
 */
export function encodePins(pins) {
  return pins.length ? JSON.stringify(pins.map(({ tag, run }) => (run === null ? { tag } : { tag, run }))) : "";
}

/**
 * URL text -> pins; anything malformed is left out (a hand-edited URL never breaks the tab).
 * @param {string|null} text
 * @returns {Pin[]}
 */
export function decodePins(text) {
  if (!text) return [];
  let list;
  try {
    list = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(list)) return [];
  const pins = [];
  for (const item of list) {
    if (!item || typeof item.tag !== "string" || !item.tag) continue;
    const run = typeof item.run === "string" ? item.run : null;
    if (!pins.some((p) => samePin(p, { tag: item.tag, run }))) pins.push({ tag: item.tag, run });
  }
  return pins;
}

export function samePin(a, b) {
  return a.tag === b.tag && a.run === b.run;
}

/**
 * `pins` with `pin` added, or taken out if it was there.
 * @param {Pin[]} pins
 * @param {Pin} pin
 */
export function togglePin(pins, pin) {
  return pins.some((p) => samePin(p, pin)) ? pins.filter((p) => !samePin(p, pin)) : [...pins, pin];
}

/**
 * The cards the pins show: a tag in a run as it is (even when the run no
 * longer holds it: the card says so); a tag in every selected run holding
 * it, in sorted run order: one card overlaying them all when
 * `overlaid(tag)` (charts: scalars, 1-D values), else a card per run. A
 * capture pinned twice is shown once.
 * @param {Pin[]} pins
 * @param {import("./api.js").Index} index
 * @param {string[]} hidden runs unticked in the sidebar
 * @param {(tag: string) => boolean} [overlaid]
 * @returns {Array<{runs: string[], tag: string, pin: Pin}>}
 */
export function expandPins(pins, index, hidden, overlaid = () => false) {
  const cards = [];
  const seen = new Set();
  const add = (runs, tag, pin) => {
    const key = JSON.stringify([runs, tag]);
    if (!seen.has(key)) {
      seen.add(key);
      cards.push({ runs, tag, pin });
    }
  };
  for (const pin of pins) {
    if (pin.run !== null) {
      add([pin.run], pin.tag, pin);
      continue;
    }
    const runs = Object.keys(index.runs).sort().filter((run) => !hidden.includes(run) && index.runs[run][pin.tag]);
    if (overlaid(pin.tag) && runs.length) add(runs, pin.tag, pin);
    else for (const run of runs) add([run], pin.tag, pin);
  }
  return cards;
}

/**
 * Every step any of the cards holds, ascending: what the shared slider walks.
 * @param {Array<{steps: number[]}|null>} factsList
 */
export function stepUnion(factsList) {
  const steps = new Set();
  for (const facts of factsList) for (const step of facts?.steps ?? []) steps.add(step);
  return [...steps].sort((a, b) => a - b);
}

/**
 * The finite range of several captures over all their steps (from their
 * /stats rows): one colour range for every pinned heatmap. Null when no row
 * holds a finite value.
 * @param {Array<import("./api.js").StatsRow[]>} rowsLists
 * @returns {{lo: number, hi: number}|null}
 */
export function sharedExtent(rowsLists) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const rows of rowsLists) {
    for (const row of rows) {
      if (row.dtype === "string" || !(row.numel > 0)) continue;
      if (typeof row.min === "number" && Number.isFinite(row.min)) lo = Math.min(lo, row.min);
      if (typeof row.max === "number" && Number.isFinite(row.max)) hi = Math.max(hi, row.max);
    }
  }
  return lo <= hi ? { lo, hi } : null;
}
