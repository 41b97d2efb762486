"""How the `tensorcap` command prints: tables, numbers, shapes and sources for people, JSON for programs.

JSON goes through TensorBoard's `json_util.Cleanse` (NaN and Inf as the HTTP
routes give them); a progress bar is drawn on stderr only when it is a
terminal, so pipes and files get the answer alone.
"""

import json
import os
import sys
import time

from tensorboard.backend import json_util

from tb_tensorcap import capture_info


def progress(items, label):
    """Yields `items`, drawing a progress bar on stderr when it is a terminal."""
    items = list(items)
    with ProgressBar(label) as bar:
        for done, item in enumerate(items):
            bar(done, len(items))
            yield item


class ProgressBar:
    """`bar(done, total)` draws a progress bar on stderr, only if it is a terminal."""

    def __init__(self, label):
        self._label = label
        self._enabled = sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, done, total):
        if not self._enabled or not total or time.monotonic() - self._last < 0.1:
            return
        self._last = time.monotonic()
        filled = 30 * done // total
        sys.stderr.write("\r%s [%s%s] %d/%d" % (self._label, "#" * filled, "." * (30 - filled), done, total))
        sys.stderr.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self._enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
        return False


# Why two captures are not allclose, in words (the `reason` of answers.diff and answers.divergence).
DIFF_REASONS = {
    "values": "values differ",
    "nonfinite": "NaN/Inf differ",
    "shape": "shapes differ",
    "dtype": "dtypes differ",
    "statistics": "statistics differ",
}


def decoded(data):
    """A string as text when it is UTF-8, else as the bytes it is."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def source_cell(source, long):
    """A capture's source for a table: "file:line", the file's base name unless `long`."""
    if source and not long:
        source = dict(source, file=os.path.basename(source.get("file", "?")))
    return capture_info.source_text(source)


def print_json(obj):
    """Prints `obj` as one line of strict JSON (NaN/Inf as the routes write them); exit status 0."""
    print(json.dumps(json_util.Cleanse(obj), allow_nan=False))
    return 0


def print_table(header, rows):
    """Prints rows under `header` in left-aligned columns."""
    rows = [[str(c) for c in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def number(value):
    """A table cell for a number: 6 significant digits, "-" for None."""
    if value is None:
        return "-"
    return "%.6g" % value if isinstance(value, float) else str(value)


def shape_text(shape):
    """[2, 3] for a shape."""
    return "[%s]" % ", ".join(map(str, shape))


def capture_name(capture):
    """RUN:TAG:STEP of a (run, tag, step), empty where a part is None."""
    return ":".join("" if part is None else str(part) for part in capture)
