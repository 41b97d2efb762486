// Colour maps for heatmaps: a perceptual sequential map for values, a
// diverging map for differences, and colours for NaN, +Inf and -Inf that
// appear in neither map.
//
// Pure (no DOM). A map is precomputed into a lookup table of 256 colours
// plus the three special colours, packed as 32-bit RGBA words in the byte order of
// ImageData (little-endian), so a heatmap writes one word per cell.

// viridis (matplotlib), sampled at 11 evenly spaced points.
const VIRIDIS = [
  [68, 1, 84], [72, 36, 117], [65, 68, 135], [53, 95, 141], [42, 120, 142], [33, 145, 140],
  [34, 168, 132], [68, 191, 112], [122, 209, 81], [189, 223, 38], [253, 231, 37],
];
// cool-warm (Moreland): blue, grey centre, red; evenly spaced.
const COOLWARM = [[59, 76, 192], [141, 176, 254], [221, 221, 221], [244, 154, 123], [180, 4, 38]];

export const NAN_COLOR = [255, 0, 255];
export const POSINF_COLOR = [255, 255, 255];
export const NEGINF_COLOR = [0, 0, 0];

// Lookup table slots after the 256 colours.
export const NAN_SLOT = 256;
export const POSINF_SLOT = 257;
export const NEGINF_SLOT = 258;
export const CENTER_SLOT = 128;

// The colour at t in [0, 1] of a map given by evenly spaced stops.
function interpolate(stops, t) {
  const x = Math.min(Math.max(t, 0), 1) * (stops.length - 1);
  const i = Math.min(Math.floor(x), stops.length - 2);
  const f = x - i;
  return stops[i].map((c, k) => Math.round(c + (stops[i + 1][k] - c) * f));
}

export const sequential = (t) => interpolate(VIRIDIS, t);
export const diverging = (t) => interpolate(COOLWARM, t);

// A colour packed as ImageData's 32-bit little-endian word (opaque).
export function pack([r, g, b]) {
  return ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

export function unpack(word) {
  return [word & 255, (word >>> 8) & 255, (word >>> 16) & 255];
}

// Slot k of a diverging table is t = (k - 128) / 127 scaled to [0, 1], so
// that slot 128 is exactly the centre and slots 1 and 255 the ends.
function slotPosition(kind, slot) {
  if (kind === "sequential") return slot / 255;
  return Math.max(0, 0.5 + (slot - CENTER_SLOT) / 254);
}

const tables = new Map();

// The 259-word lookup table of "sequential" or "diverging".
export function lookupTable(kind) {
  let table = tables.get(kind);
  if (!table) {
    const map = kind === "diverging" ? diverging : sequential;
    table = new Uint32Array(259);
    for (let slot = 0; slot < 256; slot++) table[slot] = pack(map(slotPosition(kind, slot)));
    table[NAN_SLOT] = pack(NAN_COLOR);
    table[POSINF_SLOT] = pack(POSINF_COLOR);
    table[NEGINF_SLOT] = pack(NEGINF_COLOR);
    tables.set(kind, table);
  }
  return table;
}

// How finite values map to slots: slot = round(offset + value * scale),
// clamped to [0, 255]. Sequential maps [lo, hi] onto slots 0..255;
// diverging maps [-m, m] onto 1..255 with 0 at the centre slot, m = max(|lo|, |hi|).
// A constant value (or all zeros) lands on the centre slot.
export function scaling(kind, lo, hi) {
  if (kind === "diverging") {
    const m = Math.max(Math.abs(lo), Math.abs(hi));
    return { offset: CENTER_SLOT, scale: m > 0 ? 127 / m : 0 };
  }
  if (!(hi > lo)) return { offset: CENTER_SLOT, scale: 0 };
  return { offset: (-lo * 255) / (hi - lo), scale: 255 / (hi - lo) };
}

// The lookup-table slot of one value, for {offset, scale} from scaling().
export function slotOf(value, offset, scale) {
  if (value - value === 0) {
    const slot = (offset + value * scale + 0.5) | 0;
    return slot < 0 ? 0 : slot > 255 ? 255 : slot;
  }
  if (Number.isNaN(value)) return NAN_SLOT;
  return value > 0 ? POSINF_SLOT : NEGINF_SLOT;
}

// A CSS colour for a slot of a table, for legends.
export function cssColor(table, slot) {
  const [r, g, b] = unpack(table[slot]);
  return `rgb(${r}, ${g}, ${b})`;
}
