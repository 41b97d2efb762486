"""What the reader knows of one capture without reading its value: `CaptureInfo`.

A `CaptureInfo` is made on demand from a row of the index's columns
(`logdir_index`), so two of them for one capture are equal but not the same
object; its statistics come from the table once they are computed.
TensorFlow-free, like the reader.
"""

import math

from tb_tensorcap import codec, notebook


class CaptureInfo:
    """The small facts of one capture, built from the index's columns when asked for.

    Attributes:
      run, tag, step, wall_time: where and when it was captured.
      dtype: TensorCap dtype name ("float32", "bfloat16", "string", ...).
      shape: tuple of ints.
      description: the capture's description, or "".
      source: dict with "file", "line", "function", or None.
      order: position in the run's capture order (0, 1, 2, ...).
      repeat: how many earlier captures of the run had the same tag and step
        (0 for the first capture at a step; see `Reader.repeats`).
      locations: ((path, offset), ...) of the records holding the value
        (for a health capture: its health record).
      kind: "full" (the value was kept) or "health" (only its statistics).
      op: for an op output captured by ``record()``, {"type": op type,
        "inputs": [input origin, ...]} (metadata.py, "Lineage"); else None
        (lineage unknown).
      origin: for the capture of a tensor from outside a ``record()`` block,
        {"kind", "name"}; else None.
      axes: the axis names given to ``capture(..., axes=)`` (a list, one per
        axis), or None.
      stats: its `analysis.tensor_stats` when known (also when computed after
        this object was made), else None.
    """

    __slots__ = (
        "run",
        "tag",
        "step",
        "wall_time",
        "dtype",
        "shape",
        "description",
        "source",
        "order",
        "locations",
        "kind",
        "op",
        "origin",
        "repeat",
        "_stats",
        "_table",
        "axes",
    )

    def __init__(
        self,
        run,
        tag,
        step,
        wall_time,
        dtype,
        shape,
        description,
        source,
        order,
        locations,
        op=None,
        origin=None,
        repeat=0,
        kind="full",
        table=None,
        axes=None,
    ):
        self.run, self.tag, self.step, self.wall_time = run, tag, step, wall_time
        self.dtype, self.shape, self.description = dtype, shape, description
        self.source, self.order, self.locations = source, order, locations
        self.op, self.origin, self.repeat, self.kind = op, origin, repeat, kind
        self._stats, self._table = None, table
        self.axes = axes

    def _identity(self):
        return (self.run, self.order, self.tag, self.step, self.locations)

    def __eq__(self, other):
        """The same capture (CaptureInfo objects are made on demand: compare, don't test identity)."""
        return isinstance(other, CaptureInfo) and self._identity() == other._identity()

    def __hash__(self):
        return hash(self._identity())

    @property
    def stats(self):
        if self._stats is None and self._table is not None and self.order < len(self._table):
            self._stats = self._table.stats_of(self.order)
        return self._stats

    @stats.setter
    def stats(self, stats):
        self._stats = stats

    @property
    def numel(self):
        return math.prod(self.shape)

    @property
    def nbytes(self):
        itemsize = 8 if self.dtype == "string" else codec.numpy_dtype(self.dtype).itemsize
        return self.numel * itemsize

    def to_json(self):
        return {
            "run": self.run,
            "tag": self.tag,
            "step": self.step,
            "wall_time": self.wall_time,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "description": self.description,
            "source": self.source,
            "order": self.order,
            "repeat": self.repeat,
            "kind": self.kind,
            "op": self.op["type"] if self.op else None,
            "origin": self.origin,
            "axes": self.axes,
        }

    def __repr__(self):
        """One line: run, tag, step, dtype, shape, source, and statistics once computed."""
        return notebook.capture_line(self)

    def _repr_html_(self):
        """For Jupyter: the line, a histogram and a heatmap (reads the value)."""
        return notebook.capture_html(self)


def source_text(source):
    """ "file:line" of a capture's source (None: "-"), for people to read."""
    if not source:
        return "-"
    return "%s:%s" % (source.get("file", "?"), source.get("line", "?"))
