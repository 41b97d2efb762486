// Every request the tab makes, and the decoding of what comes back.
//
// Routes are relative ("./value?..."): the iframe page's <base> puts them
// under data/plugin/tensorcap/, with or without an experiment prefix. A
// failed request rejects with an ApiError carrying the server's
// {"error": ...} text (or what went wrong on the way); an aborted one with
// the AbortError of its signal, which callers ignore.
//
// Values arrive as binary (little-endian, C order) and decode to a Tensor;
// strings have no binary form and come as JSON.

import { formatComplex, formatExact } from "./format.js";

/**
 * One value, or a slice of it, as the views draw it (from /value or /diff).
 * @typedef {object} Tensor
 * @property {string} dtype the capture's dtype ("float64" once pooled)
 * @property {number[]} shape the shape of this (sliced, maybe pooled) result
 * @property {number[]} fullShape the shape of the whole capture
 * @property {string} slice the canonical slice the server applied ("..." for all)
 * @property {number[]|null} pooled block size per axis when the server pooled, else null
 * @property {number} size the number of elements of `shape`
 * @property {ArrayLike<number>|null} values the numbers to draw (|z| for complex,
 *   0/1 for bool), or null for strings
 * @property {(i: number) => string} text the exact i-th element as text
 */

/**
 * The facts /index gives of one run's tag.
 * @typedef {object} TagFacts
 * @property {number[]} steps every captured step, ascending
 * @property {string} dtype
 * @property {number[]} shape
 * @property {number} [alerts] steps holding NaN or Inf (may be incomplete)
 * @property {string} [description]
 * @property {{file: string, line: number, function: string}} [source]
 */

/**
 * What the tab holds of /index: run -> tag -> facts.
 * @typedef {{runs: Object<string, Object<string, TagFacts>>}} Index
 */

/**
 * One row of /stats: a step's statistics.
 * @typedef {object} StatsRow
 * @property {number} step
 * @property {string} dtype
 * @property {number[]} shape
 * @property {number} numel
 * @property {number|string|null} min JSON numbers: "NaN", "Infinity" or null where none
 * @property {number|string|null} max
 * @property {number|string|null} mean
 * @property {number|string|null} std
 * @property {number} nan
 * @property {number} posinf
 * @property {number} neginf
 * @property {number} zeros
 */

export class ApiError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.status = status;
  }
}

// Whether an error only means that its request was superseded.
export function isAbort(error) {
  return error?.name === "AbortError";
}

function url(route, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(key, String(value));
  }
  const text = query.toString();
  return text ? `./${route}?${text}` : `./${route}`;
}

// Where one step's exact values download as a .npy file (`format=npy`).
export function npyUrl({ run, tag, step }) {
  return url("value", { run, tag, step, format: "npy" });
}

async function request(route, params, signal) {
  let response;
  try {
    response = await fetch(url(route, params), { signal });
  } catch (error) {
    if (isAbort(error)) throw error;
    throw new ApiError(`cannot reach TensorBoard (${error.message})`);
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body && typeof body.error === "string") message = body.error;
    } catch (error) {
      if (isAbort(error)) throw error;
    }
    throw new ApiError(message, response.status);
  }
  return response;
}

async function json(route, params, signal) {
  const response = await request(route, params, signal);
  try {
    return await response.json();
  } catch (error) {
    if (isAbort(error)) throw error;
    throw new ApiError(`/${route} sent a reply that is not JSON`);
  }
}

// Every run, tag and step: {runs: {run: {tag: facts}}}.
export const fetchIndex = (signal) => json("index", {}, signal);

// Per-step statistics of one tag.
export const fetchStats = (run, tag, signal) => json("stats", { run, tag }, signal);

export const fetchHistogram = ({ run, tag, step, bins, slice }, signal) =>
  json("histogram", { run, tag, step, bins, slice }, signal);

// A tag's histograms over (at most maxSteps of) its steps, on common bin edges.
export const fetchHistograms = ({ run, tag, bins, maxSteps, slice }, signal) =>
  json("histograms", { run, tag, bins, max_steps: maxSteps, slice }, signal);

// Per-tag statistics over steps of every run (max |x|, NaN/Inf, std change), columnar.
export const fetchTagStats = (signal) => json("tagstats", {}, signal);

// Small multiples: a slice along `axis` at `step`, or over the steps `from`..`to`,
// pooled to `maxCells` over all panels. The panels' facts come in a header.
export async function fetchFacets({ run, tag, step, slice, axis, from, to, maxCells }, signal) {
  const params = { run, tag, step, slice, axis, from, to, max_cells: maxCells, format: "binary" };
  const response = await request("facets", params, signal);
  const facts = JSON.parse(response.headers.get("X-TensorCap-Facets") || "{}");
  return { facts, tensor: decodeBinary(await response.arrayBuffer(), response.headers) };
}

export const fetchAlerts = (signal) => json("alerts", {}, signal);

export const fetchDivergence = ({ run, run2, rtol, atol }, signal) =>
  json("divergence", { run, run2, rtol, atol }, signal);

export const fetchRootCause = ({ run, step, inf }, signal) =>
  json("rootcause", { run, step, inf: inf ? 1 : null }, signal);

export const fetchLineage = ({ run, tag, step }, signal) => json("lineage", { run, tag, step }, signal);

// A run's health overview, binned by the server to at most maxSteps x maxTags cells.
export const fetchHealth = ({ run, maxSteps, maxTags }, signal) =>
  json("health", { run, max_steps: maxSteps, max_tags: maxTags }, signal);

// One value (or a slice of it) as a Tensor. Numeric values come as binary;
// `maxCells` lets the server pool 1-D and 2-D results.
/** @returns {Promise<Tensor>} */
export async function fetchValue({ run, tag, step, slice, maxCells, dtype }, signal) {
  const params = { run, tag, step, slice, max_cells: maxCells };
  if (dtype === "string") {
    return stringTensor(await json("value", { ...params, format: "json" }, signal));
  }
  const response = await request("value", { ...params, format: "binary" }, signal);
  return decodeBinary(await response.arrayBuffer(), response.headers);
}

// A - B as {tensor, stats}; B's run, tag and step default to A's.
/** @returns {Promise<{tensor: Tensor, stats: object}>} */
export async function fetchDiff({ a, b, slice, rtol, atol, maxCells }, signal) {
  const params = {
    run: a.run, tag: a.tag, step: a.step, run2: b.run, tag2: b.tag, step2: b.step,
    slice, rtol, atol, max_cells: maxCells, format: "binary",
  };
  const response = await request("diff", params, signal);
  const stats = JSON.parse(response.headers.get("X-TensorCap-Diff-Stats") || "{}");
  return { tensor: decodeBinary(await response.arrayBuffer(), response.headers), stats };
}

// --- decoding -------------------------------------------------------------

const TYPED_ARRAYS = {
  float64: Float64Array, float32: Float32Array, float16: Uint16Array, bfloat16: Uint16Array,
  int8: Int8Array, int16: Int16Array, int32: Int32Array, int64: BigInt64Array,
  uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, uint64: BigUint64Array,
  bool: Uint8Array, complex64: Float32Array, complex128: Float64Array,
};

function parseShape(text) {
  return text ? text.split(",").map(Number) : [];
}

const product = (shape) => shape.reduce((a, b) => a * b, 1);

let halfTable = null;

// The float32 value of every float16 bit pattern, built on first use.
function halfToFloat(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

// float16 bit patterns -> Float32Array.
export function decodeFloat16(bits) {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) halfTable[i] = halfToFloat(i);
  }
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfTable[bits[i]];
  return out;
}

// bfloat16 bit patterns (the top half of a float32) -> Float32Array.
export function decodeBfloat16(bits) {
  const words = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) words[i] = bits[i] << 16;
  return new Float32Array(words.buffer);
}

// The numbers to draw and the exact text of each element of a raw typed array.
function numbersAndText(dtype, raw, size) {
  if (dtype === "float16" || dtype === "bfloat16") {
    const values = dtype === "float16" ? decodeFloat16(raw) : decodeBfloat16(raw);
    return { values, text: (i) => formatExact(values[i], dtype) };
  }
  if (dtype === "complex64" || dtype === "complex128") {
    const values = new Float64Array(size);
    for (let i = 0; i < size; i++) values[i] = Math.hypot(raw[2 * i], raw[2 * i + 1]);
    return { values, text: (i) => formatComplex(raw[2 * i], raw[2 * i + 1], dtype) };
  }
  if (dtype === "int64" || dtype === "uint64") {
    const values = Float64Array.from(raw, Number);
    return { values, text: (i) => raw[i].toString() };
  }
  return { values: raw, text: (i) => formatExact(raw[i], dtype) };
}

/**
 * A binary /value or /diff body and its headers -> Tensor.
 * @param {ArrayBuffer} buffer
 * @param {Headers} headers
 * @returns {Tensor}
 */
export function decodeBinary(buffer, headers) {
  const dtype = headers.get("X-TensorCap-Dtype");
  const Typed = TYPED_ARRAYS[dtype];
  if (!Typed) throw new ApiError(`unknown dtype ${JSON.stringify(dtype)} in a binary reply`);
  const shape = parseShape(headers.get("X-TensorCap-Shape"));
  const size = product(shape);
  const perElement = dtype.startsWith("complex") ? 2 : 1;
  if (buffer.byteLength !== size * perElement * Typed.BYTES_PER_ELEMENT) {
    throw new ApiError(`a binary reply of ${buffer.byteLength} bytes does not hold ${dtype} of shape [${shape}]`);
  }
  const pooled = headers.get("X-TensorCap-Pooled");
  return {
    dtype,
    shape,
    fullShape: parseShape(headers.get("X-TensorCap-Full-Shape") ?? headers.get("X-TensorCap-Shape")),
    slice: headers.get("X-TensorCap-Slice") ?? "...",
    pooled: pooled ? parseShape(pooled) : null,
    size,
    ...numbersAndText(dtype, new Typed(buffer), size),
  };
}

/**
 * A JSON /value reply of strings -> Tensor.
 * @returns {Tensor}
 */
export function stringTensor(reply) {
  const leaves = [reply.data].flat(reply.shape.length);
  return {
    dtype: reply.dtype, shape: reply.shape, fullShape: reply.full_shape, slice: reply.slice,
    pooled: null, size: leaves.length, values: null, text: (i) => leaves[i],
  };
}

// TensorBoard's own run list (`data/runs`, every run, by start time then
// name): the order its run colours follow when no TensorBoard frames the tab.
export const fetchTensorBoardRuns = (signal) => json("../../runs", {}, signal);
