"""Notebook summaries (`notebook.py`): `describe`, and the reprs of Reader and CaptureInfo."""

import base64
import re
import struct
import zlib

import ml_dtypes
import numpy as np

import tb_tensorcap as tensorcap
from tb_tensorcap import notebook


def test_describe_line_gives_shape_dtype_range_moments_and_nonfinite_counts():
    values = np.array([[1.0, 2.0, 3.0], [4.0, np.nan, np.inf]], dtype=np.float32)
    line = repr(tensorcap.describe(values))
    assert line.startswith("array[2, 3] f32 n=6 ")
    assert "[1.000, 2.000, 3.000, 4.000, nan, inf]" in line
    assert "x∈[1.000, 4.000] μ=2.500 σ=1.118" in line  # over the finite elements
    assert line.endswith("NaN×1 +Inf×1")

    big = repr(tensorcap.describe(np.full((100, 50), -2e-5, np.float64)))
    assert big == "array[100, 50] f64 n=5000 x∈[-2.000e-05, -2.000e-05] μ=-2.000e-05 σ=0.000"
    assert repr(tensorcap.describe(np.zeros(20, np.int8))).endswith("all zeros")
    assert repr(tensorcap.describe(np.array([0.5], ml_dtypes.bfloat16))) == (
        "array[1] bf16 n=1 [0.500] x∈[0.500, 0.500] μ=0.500 σ=0.000"
    )
    assert repr(tensorcap.describe(["ab", ""])) == "array[2] str n=2 [b'ab', b'']"
    assert repr(tensorcap.describe(3)) == "array[] i64 n=1 [3] x∈[3.000, 3.000] μ=3.000 σ=0.000"


def _png(html):
    (data,) = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    return base64.b64decode(data)


def _decode_png(png):
    """(width, height, rows of RGB bytes) of the unfiltered RGB PNGs `png_bytes` writes."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, {}
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind, data = png[position + 4 : position + 8], png[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", png[position + 8 + length : position + 12 + length])
        assert zlib.crc32(kind + data) == crc
        chunks[kind] = data
        position += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, color) == (8, 2) and b"IEND" in chunks
    raw = zlib.decompress(chunks[b"IDAT"])
    rows = [raw[i * (1 + 3 * width) : (i + 1) * (1 + 3 * width)] for i in range(height)]
    assert all(row[0] == 0 for row in rows)
    return width, height, [row[1:] for row in rows]


def test_html_has_a_histogram_and_a_heatmap_in_the_tabs_colours():
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    values[1, 1], values[2, 3] = np.nan, -np.inf
    html = tensorcap.describe(values)._repr_html_()
    assert "array[3, 4] f32" in html
    bars = re.findall(r'<rect [^>]*height="([\d.]+)"', html)
    assert len(bars) == 32 and max(float(b) for b in bars) == 64.0  # the tallest bin fills the plot
    width, height, rows = _decode_png(_png(html))
    assert (width, height) == (4, 3)
    pixel = lambda r, c: tuple(rows[r][3 * c : 3 * c + 3])  # noqa: E731
    assert pixel(0, 0) == (68, 1, 84)  # the smallest finite value: viridis' first colour
    assert pixel(2, 2) == (253, 231, 37)  # the largest: its last
    assert pixel(1, 1) == (255, 0, 255) and pixel(2, 3) == (0, 0, 0)  # NaN magenta, -Inf black


def test_heatmap_of_a_large_value_is_pooled_and_strings_have_no_pictures():
    html = tensorcap.describe(np.random.default_rng(0).normal(size=(1000, 300)))._repr_html_()
    width, height, _ = _decode_png(_png(html))
    assert width * height <= 64 * 64 and height > width
    assert "<img" not in tensorcap.describe(["a", "b"])._repr_html_()
    assert "&lt;script&gt;" in notebook.value_html("<script>", np.zeros(0))


def test_reader_and_capture_info_reprs(tmp_path, writer_at):
    writer = writer_at(tmp_path / "train")
    for step in range(3):
        tensorcap.capture(np.full((2, 3), step, np.float32), "layer/out", step=step, writer=writer)
    tensorcap.capture(np.array([np.nan, 1.0]), "loss", step=0, writer=writer)
    writer.flush()
    reader = tensorcap.load(tmp_path)
    assert repr(reader) == "tensorcap.Reader(%r): 1 run, 2 tags, 4 captures" % str(tmp_path)
    table = reader._repr_html_()
    assert "<td>train</td><td>2</td><td>4</td><td>0–2</td>" in table

    info = reader.info("train", "layer/out", 2)
    line = repr(info)
    assert line.startswith("layer/out[2, 3] f32 run='train' step=2 source=%s:" % __file__)
    assert " n=" not in line  # statistics are not read for a repr
    reader.stats("train", "layer/out", 2)
    assert repr(info).endswith("n=6 x∈[2.000, 2.000] μ=2.000 σ=0.000")
    html = reader.info("train", "loss", 0)._repr_html_()
    assert "loss[2] f64" in html and "NaN×1" in html and "<svg" in html
