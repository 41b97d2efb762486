"""Notebook summaries: one line per value for `repr`, a small picture for Jupyter.

`tensorcap.describe(x)` summarises any value TensorCap can capture, in the
style of lovely-tensors::

    array[64, 10] f32 n=640 x∈[-3.121, 4.008] μ=0.013 σ=1.002 NaN×2

(shape, dtype, element count, finite range, mean, standard deviation, then
NaN / +Inf / -Inf counts; the values themselves when there are a few). Its
`_repr_html_`, which Jupyter shows, adds a histogram of the finite values
(SVG) and a heatmap (PNG, in the tab's colours: viridis, NaN magenta, +Inf
white, -Inf black), both made here without matplotlib. `Reader` and
`CaptureInfo` use the same line and picture for their reprs.

Statistics are `analysis.tensor_stats`, so a notebook, the tab and the
`tensorcap` command agree.
"""

import base64
import html
import struct
import zlib

import numpy as np

from tb_tensorcap import analysis, arrays, codec, event_files, slicing

# Values with at most this many elements are shown in full on the line.
_SHOWN_ELEMENTS = 8
_HISTOGRAM_BINS = 32
_HEATMAP_CELLS = 64 * 64
_SHORT_DTYPES = {
    "float16": "f16",
    "bfloat16": "bf16",
    "float32": "f32",
    "float64": "f64",
    "int8": "i8",
    "int16": "i16",
    "int32": "i32",
    "int64": "i64",
    "uint8": "u8",
    "uint16": "u16",
    "uint32": "u32",
    "uint64": "u64",
    "bool": "bool",
    "complex64": "c64",
    "complex128": "c128",
    "string": "str",
}


def describe(value):
    """A `Description` of `value` (anything `tensorcap.capture` accepts).

    In a notebook, the last expression ``tensorcap.describe(x)`` shows the
    summary line and its histogram and heatmap; ``print`` gives the line.
    """
    return Description(arrays.to_numpy(value, "describe"))


class Description:
    """The summary of one value: `line` for `repr`, `_repr_html_` for Jupyter."""

    def __init__(self, array, title="array"):
        self.array = array
        self.title = title
        self.stats = analysis.tensor_stats(array)
        self.line = summary_line(array, self.stats, title)

    def __repr__(self):
        return self.line

    def _repr_html_(self):
        return value_html(self.line, self.array)


def summary_line(array, stats, title="array"):
    """`title[shape] dtype n=… x∈[min, max] μ=… σ=…` and the non-finite counts."""
    dtype = "string" if array.dtype == object else array.dtype.name
    return "%s %s" % (facts_text(title, dtype, array.shape), stats_text(stats, array))


def facts_text(title, dtype, shape):
    """`title[2, 3] f32`: what a value is, without reading it."""
    return "%s[%s] %s" % (title, ", ".join(str(n) for n in shape), _SHORT_DTYPES.get(dtype, dtype))


def stats_text(stats, array=None):
    """The statistics part of a summary line (and the values of a small `array`)."""
    parts = ["n=%d" % stats["numel"]]
    if array is not None and 0 < array.size <= _SHOWN_ELEMENTS:
        parts.append(_values_text(array))
    if stats["min"] is not None:
        parts.append("x∈[%s, %s]" % (_number(stats["min"]), _number(stats["max"])))
        parts.append("μ=%s σ=%s" % (_number(stats["mean"]), _number(stats["std"])))
    for key, label in (("nan", "NaN"), ("posinf", "+Inf"), ("neginf", "-Inf")):
        if stats[key]:
            parts.append("%s×%d" % (label, stats[key]))
    if stats["numel"] and stats["zeros"] == stats["numel"]:
        parts.append("all empty" if array is not None and array.dtype == object else "all zeros")
    return " ".join(parts)


def _values_text(array):
    flat = array.reshape(-1)
    if array.dtype == object:
        return "[%s]" % ", ".join(repr(v) for v in flat)
    if array.dtype.kind == "f" or array.dtype.name == "bfloat16":
        return "[%s]" % ", ".join(_number(float(v)) for v in flat)
    return "[%s]" % ", ".join(str(v) for v in flat.tolist())


def _number(x):
    if x != x or x in (float("inf"), float("-inf")):
        return str(x)
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return "%.3e" % x
    return "%.3f" % x


def value_html(line, array):
    """The summary line, a histogram and a heatmap of `array`, as an HTML fragment."""
    pictures = ""
    if array.dtype != object and array.size:
        pictures = '<div style="display:flex;gap:12px;align-items:flex-end">%s%s</div>' % (
            histogram_svg(array),
            heatmap_img(array),
        )
    return '<div class="tensorcap-describe"><pre style="margin:0 0 4px 0">%s</pre>%s</div>' % (
        html.escape(line),
        pictures,
    )


def histogram_svg(array, width=240, height=64):
    """An inline SVG histogram of the finite values (empty when there are none)."""
    result = analysis.histogram(array, _HISTOGRAM_BINS)
    bins = result["bins"]
    if not bins:
        return ""
    tallest = max(b["count"] for b in bins) or 1
    bar = width / len(bins)
    rects = "".join(
        '<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#1976d2"><title>[%s, %s]: %d</title></rect>'
        % (
            i * bar,
            height - height * b["count"] / tallest,
            max(bar - 1, 1),
            height * b["count"] / tallest,
            _number(b["left"]),
            _number(b["right"]),
            b["count"],
        )
        for i, b in enumerate(bins)
    )
    axis = (
        '<text x="0" y="%d" font-size="10">%s</text><text x="%d" y="%d" font-size="10" text-anchor="end">%s</text>'
        % (height + 12, _number(bins[0]["left"]), width, height + 12, _number(bins[-1]["right"]))
    )
    return '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img">%s%s</svg>' % (
        width,
        height + 14,
        rects,
        axis,
    )


def heatmap_img(array, size=128):
    """An inline PNG heatmap of `array` seen as 2-D (rows × last axis), pooled to 64×64 at most."""
    grid = array.reshape(1, -1) if array.ndim < 2 else array.reshape(-1, array.shape[-1])
    if np.iscomplexobj(grid):
        grid = np.abs(grid)
    pooled, _ = slicing.pool(grid, _HEATMAP_CELLS)
    pooled = np.asarray(pooled, dtype=np.float64)
    rgb = _colors(pooled)
    h, w = pooled.shape
    scale = max(1, size // max(h, w))
    return (
        '<img alt="heatmap" src="data:image/png;base64,%s" width="%d" height="%d" '
        'style="image-rendering:pixelated;border:1px solid #ccc">'
        % (base64.b64encode(png_bytes(rgb)).decode("ascii"), w * scale, h * scale)
    )


# The tab's colours (frontend/colormaps.js): viridis at 11 stops, NaN, +Inf, -Inf.
_VIRIDIS = np.array(
    [
        [68, 1, 84],
        [72, 36, 117],
        [65, 68, 135],
        [53, 95, 141],
        [42, 120, 142],
        [33, 145, 140],
        [34, 168, 132],
        [68, 191, 112],
        [122, 209, 81],
        [189, 223, 38],
        [253, 231, 37],
    ],
    dtype=np.float64,
)
_NAN, _POSINF, _NEGINF = (255, 0, 255), (255, 255, 255), (0, 0, 0)


def _colors(values):
    """(h, w, 3) uint8 colours of a float64 grid: viridis over its finite range."""
    finite = np.isfinite(values)
    lo, hi = (values[finite].min(), values[finite].max()) if finite.any() else (0.0, 0.0)
    t = np.zeros(values.shape) if hi == lo else (np.where(finite, values, lo) - lo) / (hi - lo)
    x = np.clip(t, 0, 1) * (len(_VIRIDIS) - 1)
    i = np.minimum(x.astype(int), len(_VIRIDIS) - 2)
    f = (x - i)[..., None]
    rgb = np.rint(_VIRIDIS[i] + (_VIRIDIS[i + 1] - _VIRIDIS[i]) * f).astype(np.uint8)
    rgb[np.isnan(values)] = _NAN
    rgb[values == np.inf] = _POSINF
    rgb[values == -np.inf] = _NEGINF
    return rgb


def png_bytes(rgb):
    """A minimal PNG (8-bit RGB, no filtering) of an (h, w, 3) uint8 array."""
    h, w, _ = rgb.shape
    rows = np.concatenate([np.zeros((h, 1), np.uint8), rgb.reshape(h, w * 3)], axis=1)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes()))
        + chunk(b"IEND", b"")
    )


# -- captures and logdirs ---------------------------------------------------------


def capture_line(info):
    """One line about a capture, from the index alone (statistics once computed)::

    logits[64, 10] f32 run='a' step=3 source=train.py:42 n=640 x∈[…] μ=… σ=…
    """
    source = info.source
    where = " source=%s:%s" % (source.get("file", "?"), source.get("line", "?")) if source else ""
    health = " health (statistics only)" if info.kind == "health" else ""
    repeat = " repeat=%d" % info.repeat if info.repeat else ""
    line = "%s run=%r step=%d%s%s%s" % (
        facts_text(info.tag, info.dtype, info.shape),
        info.run,
        info.step,
        repeat,
        health,
        where,
    )
    return line + (" " + stats_text(info.stats) if info.stats is not None else "")


def capture_html(info):
    """A capture's line, histogram and heatmap; its value is read from the event file.

    A health capture kept only statistics: its line is all there is to show.
    """
    if info.kind == "health":
        return value_html(capture_line(info), np.zeros(0))
    pieces = []
    for path, offset in info.locations:
        piece = codec.tensor_in_event(event_files.read_record(path, offset), info.tag)
        if piece is None:
            raise OSError("%s: record at byte %d no longer holds tag %r" % (path, offset, info.tag))
        pieces.append(piece.reshape(-1))
    array = np.concatenate(pieces).reshape(info.shape)
    if info.stats is None:
        info.stats = analysis.tensor_stats(array)
    return value_html(capture_line(info), array)


def reader_line(reader):
    """`tensorcap.Reader('runs'): 2 runs, 14 tags, 2800 captures`."""
    snapshot = reader.snapshot()
    tags = sum(len(run) for run in snapshot.values())
    captures = sum(len(reader.captures(run)) for run in snapshot)  # repeats at a step included
    return "tensorcap.Reader(%r): %d run%s, %d tag%s, %d capture%s" % (
        reader.logdir,
        len(snapshot),
        "" if len(snapshot) == 1 else "s",
        tags,
        "" if tags == 1 else "s",
        captures,
        "" if captures == 1 else "s",
    )


def reader_html(reader):
    """The reader's line and a table: per run, its tags, captures and step range."""
    rows = []
    for run, tags in sorted(reader.snapshot().items()):
        steps = [info.step for infos in tags.values() for info in infos]
        rows.append(
            "<tr><td>%s</td><td>%d</td><td>%d</td><td>%d–%d</td></tr>"
            % (html.escape(run), len(tags), len(steps), min(steps), max(steps))
        )
    return (
        '<div class="tensorcap-reader"><pre style="margin:0 0 4px 0">%s</pre><table><thead><tr><th>run</th>'
        "<th>tags</th><th>captures</th><th>steps</th></tr></thead><tbody>%s</tbody></table></div>"
        % (html.escape(reader_line(reader)), "".join(rows))
    )
