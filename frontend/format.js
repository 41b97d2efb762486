// Number and shape formatting for every view.
//
// Pure functions (no DOM), shared by the card, the tooltips, the table and
// the charts, so a value reads the same everywhere. formatShort also takes
// the strings JSON replies use for non-finite numbers. Non-finite values are
// written NaN, +Inf and -Inf; exact values use the shortest decimal that
// reads back to the same number in the value's own precision.

const FLOAT32_LIKE = new Set(["float32", "float16", "bfloat16", "complex64"]);

// "NaN", "+Inf" or "-Inf" for a non-finite number, else null.
function nonFinite(value) {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return null;
}

// The shortest decimal that rounds back to `value` as a float32.
function shortestFloat32(value) {
  for (let digits = 1; digits < 9; digits++) {
    const text = value.toPrecision(digits);
    if (Math.fround(Number(text)) === value) return String(Number(text));
  }
  return String(Number(value.toPrecision(9)));
}

// The exact value of one element, as written in a tooltip or the table.
// `value` is a number (bigint for 64-bit integers); `dtype` the capture's.
export function formatExact(value, dtype = "float64") {
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "boolean") return value ? "true" : "false";
  const special = nonFinite(value);
  if (special) return special;
  if (dtype === "bool") return value ? "true" : "false";
  if (FLOAT32_LIKE.has(dtype)) return shortestFloat32(value);
  return String(value);
}

// A compact number for stats, axes and labels: about `digits` significant
// digits, exponent notation for very large or small magnitudes.
export function formatShort(json, digits = 4) {
  if (json === null || json === undefined) return "–";
  const value = fromJsonNumber(json);
  const special = nonFinite(value);
  if (special) return special;
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  if (magnitude >= 1e5 || magnitude < 1e-3) {
    const [mantissa, exponent] = value.toExponential(digits - 1).split("e");
    return `${String(Number(mantissa))}e${Number(exponent)}`;
  }
  return String(Number(value.toPrecision(digits)));
}

// An integer count with thousands separators: 12345 -> "12,345".
export function formatCount(count) {
  const sign = count < 0 ? "-" : "";
  return sign + String(Math.abs(Math.trunc(count))).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

// A shape as numpy writes it: [] -> "()", [3] -> "(3,)", [2, 3] -> "(2, 3)".
export function formatShape(shape) {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(", ")})`;
}

// One complex element: "1.5+2j", "0-1j", "NaN+0j".
export function formatComplex(re, im, dtype = "complex128") {
  const part = dtype === "complex64" ? "float32" : "float64";
  const magnitude = Math.abs(im);
  const imText = Number.isFinite(magnitude) ? formatExact(magnitude, part) : Number.isNaN(im) ? "NaN" : "Inf";
  const sign = im < 0 || Object.is(im, -0) ? "-" : "+";
  return `${formatExact(re, part)}${sign}${imText}j`;
}

// A number from a JSON reply: the strings "NaN", "Infinity" and "-Infinity"
// stand for non-finite floats; null stays null.
export function fromJsonNumber(value) {
  if (value === "NaN") return NaN;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  return value;
}

const SHORT_DTYPES = {
  float16: "f16", bfloat16: "bf16", float32: "f32", float64: "f64", int8: "i8", int16: "i16", int32: "i32",
  int64: "i64", uint8: "u8", uint16: "u16", uint32: "u32", uint64: "u64", bool: "bool", complex64: "c64",
  complex128: "c128", string: "str",
};

/**
 * A capture at one step in one line, as lovely-tensors writes a tensor:
 * "f32[32,4] n=128 x∈[-0.6812, 0.6346] μ=0.0123 σ=0.261 NaN! +Inf!" (the range at
 * 4 significant digits, mean and std at 3).
 * @param {import("./api.js").StatsRow} row
 */
export function summaryLine(row) {
  const parts = [`${SHORT_DTYPES[row.dtype] ?? row.dtype}[${row.shape.join(",")}]`, `n=${formatCount(row.numel)}`];
  if (row.dtype !== "string" && row.numel > 0) {
    if (row.min !== null && row.max !== null) parts.push(`x∈[${formatShort(row.min)}, ${formatShort(row.max)}]`);
    if (row.mean !== null) parts.push(`μ=${formatShort(row.mean, 3)}`);
    if (row.std !== null && row.numel > 1) parts.push(`σ=${formatShort(row.std, 3)}`);
    if (row.zeros === row.numel) parts.push("all zeros");
  }
  if (row.nan) parts.push("NaN!");
  if (row.posinf) parts.push("+Inf!");
  if (row.neginf) parts.push("-Inf!");
  return parts.join(" ");
}

// What a capture card says at a step that kept only statistics (a "health"
// row), naming the nearest steps (at most three each side) whose values were kept.
export function statisticsOnlyText(step, rows) {
  const full = rows.filter((row) => row.kind !== "health").map((row) => row.step);
  const near = [...full.filter((s) => s < step).slice(-3), ...full.filter((s) => s > step).slice(0, 3)];
  return `Step ${step} kept only statistics (health mode or a flight recorder), not its value; they are shown above. `
    + (near.length ? `Steps with values nearby: ${near.join(", ")}.` : "No step of this tag kept its value.");
}
