"""The TensorCap event format: plugin name, versioned metadata, create/parse.

A capture is one ordinary TensorBoard summary event (or several, see
"Chunks"), written with ``tf.summary.write``:

* ``Event.step`` is the capture's step and ``Event.wall_time`` its time.
* ``Summary.Value.tag`` is the capture name, including any ``Capturer`` or
  ``record()`` prefix (``block1/z``).
* ``Summary.Value.tensor`` is the captured value as a plain ``TensorProto`` of
  its own dtype and shape, so TensorBoard's ``EventAccumulator`` and
  ``tensor_util.make_ndarray`` read it back unchanged.
* ``Summary.Value.metadata`` is a ``SummaryMetadata`` with
  ``plugin_data.plugin_name == "tensorcap"``,
  ``data_class == DATA_CLASS_TENSOR`` (without it TensorBoard's data providers
  do not list the tag), ``summary_description`` set from ``description``, and
  ``plugin_data.content`` a UTF-8 JSON object::

      {"version": 2,
       "source": {"file": "train.py", "line": 42, "function": "step"},
       "chunk": {"index": 0, "count": 3, "dtype": "float32", "shape": [..]},
       "op": {"type": "Log", "inputs": [{"tag": "step/Softmax"}]},
       "origin": {"kind": "variable", "name": "dense/kernel"}}

  ``source`` is where the capture was made in user code. ``chunk`` is present
  only on split captures. ``op`` and ``origin`` (version 2) are the lineage,
  below; a capture has at most one of them.

Lineage (version 2). ``record()`` writes, with each op output it captures,
``op``: the op's type and where each of its inputs came from, in input order.
An input is one of:

* ``{"tag": T}``: the output of another capture of the same run and step
  (T is its full tag, replica prefix included); ``{"tag": T, "step": S}``
  when that capture is at another step S (what an earlier call of a
  `tf.function` in the same block made, or an enclosing block's capture);
* ``{"external": KIND, "name": N, "tag": T}``: a tensor from outside the
  block, with KIND ``"variable"`` (N: the variable's name), ``"input"`` (an
  eager tensor made before the block or from a Python value; N: the user's
  local variable name when one holds it), ``"argument"`` (an argument of a
  ``tf.function``; N: its name) or ``"constant"`` (a constant inside a
  ``tf.function``). ``tag`` names the capture of its value at the same step
  (at ``step`` when given) when there is one (absent for values that cannot hold NaN/Inf, such as
  integers, and for resource handles); ``dtype`` is the tensor's dtype;
* ``{"external": "uncaptured", "op": TYPE}``: the output of an op of the block
  that TensorCap did not capture (filtered out by ``ops=``/``dtypes=``, past
  ``max_captures``, or an op kind it never instruments); its values are
  unknown.

The captures of those external tensors carry ``origin``: ``{"kind": KIND,
"name": N}``. Captures without ``op`` (``capture()`` calls, version 1 files)
have unknown lineage, which is not the same as having no inputs.

Health records (version 2): health mode keeps only statistics. One event
value then holds the statistics of many captures at one step: its tensor is a
1-D float64 vector of rows, one per capture, each the ``HEALTH_FIELDS`` in
order followed by the capture's dimensions; the content names the rows::

      {"version": 2,
       "health": {"fields": ["numel", "nan", ...],
                  "rows": [["block/MatMul", "float32", 2, 0, 1], ...],
                  "sources": [{"file": ..., "line": ..., "function": ...}],
                  "ops": [{"type": "MatMul", "inputs": [...]}],
                  "origins": [{"kind": "input", "name": "x"}]}}

  Each row is [tag, dtype, rank, index into "sources" or -1, index into
  "ops" or -1, index into "origins" or -1] (the last one or two may be
  absent: -1); "ops" and "origins" hold lineage as a capture's "op" and
  "origin" do (above), so a root cause can be found from statistics alone. The value's own
  tag (``<prefix>/_health``) only groups the rows; the reader lists each row
  as a capture of its own tag, whose value is not available.

TensorFlow writes the metadata on *every* event, but TensorBoard's readers keep
only the first one per tag. Per-capture facts therefore live in the metadata of
each event and are read by TensorCap's own reader (``reader.py``), which reads
every event; TensorBoard itself only needs the plugin name and data class.

Chunks: protobuf cannot serialise a message over 2 GB, and TensorFlow silently
drops such an event. A capture whose value is larger than ``CHUNK_BYTES`` is
therefore written as ``count`` consecutive events with the same tag and step,
each holding a 1-D piece of the flattened (C order) value; ``chunk`` names the
whole value's dtype and shape. The reader concatenates the pieces in index
order. A capture whose chunks are not all present (a writer killed mid-way) is
skipped.

Capture order: events are appended in the order captures were made, so the
order of records in a run's event files (files sorted by name, then offset) is
the capture order used by the divergence search.

Versions: 1 is the format without lineage; 2 adds ``op`` and ``origin``.
Readers accept every ``version`` up to ``PROTO_VERSION`` and refuse newer
ones with a clear error rather than misreading them; fields a version does
not define are ignored.
"""

import json

import numpy as np
from tensorboard.compat.proto import summary_pb2

PLUGIN_NAME = "tensorcap"

# The most recent value of the `version` field in the plugin content.
# 2: health records (and lineage, issue 12).
PROTO_VERSION = 2

# The statistics of one capture in a health record, in row order.
HEALTH_FIELDS = ("numel", "nan", "posinf", "neginf", "zeros", "min", "max", "mean", "std")

# The kinds of tensors from outside a record() block (see "Lineage").
EXTERNAL_KINDS = ("variable", "input", "argument", "constant", "uncaptured")

# Values larger than this many bytes are split into chunks (see above).
# Far enough below protobuf's 2 GiB limit to leave room for the event framing.
CHUNK_BYTES = 1 << 30


def chunk_bounds(sizes):
    """The flat (start, stop) of each chunk of a value, or None if it fits one event.

    `sizes` holds each element's size in bytes (a string's length plus 8 for
    its framing), in C order. Chunks are as large as `CHUNK_BYTES` allows; an
    element larger than that is a chunk of its own.
    """
    ends = np.cumsum(sizes, dtype=np.int64)
    if not ends.size or ends[-1] <= CHUNK_BYTES:
        return None
    bounds, start = [], 0
    while start < ends.size:
        # The last element whose cumulative size stays within one more chunk.
        base = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, base + CHUNK_BYTES, side="right")), start + 1)
        bounds.append((start, stop))
        start = stop
    return bounds


def check_axes(axes, rank, tag):
    """The axis names of a capture as a list (one per axis), or None.

    `axes` is a string of one letter per axis ("NHWC") or a sequence of names
    ("batch", "height", ...); the tab labels its sliders with them and shows
    the H x W axes of an image-like capture by default.

    Raises:
      ValueError: not one non-empty name (at most 40 characters) per axis.
    """
    if axes is None:
        return None
    names = list(axes) if isinstance(axes, (str, list, tuple)) else None
    if names is None or not all(isinstance(n, str) and 0 < len(n) <= 40 for n in names):
        raise ValueError("axes of %r must be a string of letters (\"NHWC\") or a list of names, got %r" % (tag, axes))
    if rank is not None and len(names) != rank:
        raise ValueError("axes %r of %r name %d axes, but the value has %d" % (axes, tag, len(names), rank))
    return names


def create_summary_metadata(source=None, description=None, chunk=None, op=None, origin=None, axes=None):
    """Returns a `SummaryMetadata` proto for one TensorCap capture event.

    Args:
      source: optional dict with "file", "line" and "function" of the capture
        site in user code.
      description: optional free text, shown with the capture.
      chunk: optional dict with "index", "count", "dtype" and "shape" for one
        piece of a split capture.
      op: optional lineage of an op output: {"type": op type, "inputs": [input
        origin, ...]} (see "Lineage").
      origin: optional {"kind", "name"} of a tensor from outside the block.
      axes: optional list of axis names, one per axis (see `check_axes`).
    """
    content = {"version": PROTO_VERSION}
    if source is not None:
        content["source"] = source
    if chunk is not None:
        content["chunk"] = chunk
    if op is not None:
        content["op"] = op
    if origin is not None:
        content["origin"] = origin
    if axes is not None:
        content["axes"] = list(axes)
    return summary_pb2.SummaryMetadata(
        summary_description=description or "",
        plugin_data=summary_pb2.SummaryMetadata.PluginData(
            plugin_name=PLUGIN_NAME,
            content=json.dumps(content, separators=(",", ":")).encode("utf-8"),
        ),
        data_class=summary_pb2.DATA_CLASS_TENSOR,
    )


def create_health_metadata(rows, sources, ops=(), origins=()):
    """Returns the `SummaryMetadata` of one health record (module docstring).

    Args:
      rows: [(tag, dtype name, rank, source index or -1, op index or -1,
        origin index or -1)], in value order.
      sources: the source dicts the rows point into.
      ops: the lineage dicts ({"type", "inputs"}) the rows point into.
      origins: the origin dicts ({"kind", "name"}) the rows point into.
    """
    content = {
        "version": PROTO_VERSION,
        "health": {
            "fields": list(HEALTH_FIELDS),
            "rows": [list(r) for r in rows],
            "sources": list(sources),
            "ops": list(ops),
            "origins": list(origins),
        },
    }
    return summary_pb2.SummaryMetadata(
        summary_description="TensorCap health statistics of %d captures" % len(rows),
        plugin_data=summary_pb2.SummaryMetadata.PluginData(
            plugin_name=PLUGIN_NAME,
            content=json.dumps(content, separators=(",", ":")).encode("utf-8"),
        ),
        data_class=summary_pb2.DATA_CLASS_TENSOR,
    )


def parse_plugin_metadata(content):
    """Parses the `plugin_data.content` of a TensorCap event into a dict.

    Returns a dict with at least "version"; "source", "chunk", "op" and
    "origin" when present. Empty content (as written by other tools) parses
    as version 0 with no facts.

    Raises:
      ValueError: the content is not TensorCap JSON, or is from a newer
        TensorCap than this one.
    """
    if not isinstance(content, bytes):
        raise TypeError("content must be bytes, not %s" % type(content).__name__)
    if not content:
        return {"version": 0}
    try:
        parsed = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError("TensorCap metadata is not valid JSON: %s" % e) from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("version"), int):
        raise ValueError("TensorCap metadata has no integer 'version': %r" % parsed)
    if parsed["version"] > PROTO_VERSION:
        raise ValueError(
            "TensorCap metadata version %d is newer than this TensorCap "
            "understands (%d): upgrade tb_tensorcap" % (parsed["version"], PROTO_VERSION)
        )
    if "health" in parsed:
        _check_health(parsed["health"])
    if parsed["version"] >= 2:
        _check_lineage(parsed)
    else:
        parsed.pop("op", None), parsed.pop("origin", None)  # not defined before version 2
    return parsed


def _check_health(health):
    """Raises ValueError unless `health` is a well-formed health description."""
    if not isinstance(health, dict) or list(health.get("fields") or ()) != list(HEALTH_FIELDS):
        raise ValueError("TensorCap health record has unknown fields: %r" % (health,)[:200])
    rows, sources = health.get("rows"), health.get("sources")
    ops, origins = health.setdefault("ops", []), health.setdefault("origins", [])
    if not all(isinstance(x, list) for x in (rows, sources, ops, origins)):
        raise ValueError("TensorCap health record has no rows, sources, ops or origins")
    for op in ops:
        _check_lineage({"op": op})
    for origin in origins:
        _check_lineage({"origin": origin})
    for row in rows:
        if not (
            isinstance(row, list)
            and len(row) in (4, 5, 6)
            and isinstance(row[0], str)
            and isinstance(row[1], str)
            and isinstance(row[2], int)
            and row[2] >= 0
            and all(_index_into(index, items) for index, items in zip(row[3:], (sources, ops, origins)))
        ):
            raise ValueError("TensorCap health record has a malformed row: %r" % (row,))


def _index_into(index, items):
    """Whether `index` is -1 or an index into `items` (a health row's reference)."""
    return isinstance(index, int) and not isinstance(index, bool) and -1 <= index < len(items)


def _check_lineage(parsed):
    """Refuses malformed "op" / "origin" fields, which would mislead a root cause."""
    op = parsed.get("op")
    if op is not None:
        if not isinstance(op, dict) or not isinstance(op.get("type"), str) or not isinstance(op.get("inputs"), list):
            raise ValueError("TensorCap metadata 'op' must be {\"type\": str, \"inputs\": [...]}: %r" % (op,))
        for entry in op["inputs"]:
            if not isinstance(entry, dict) or not (
                isinstance(entry.get("tag"), str) or entry.get("external") in EXTERNAL_KINDS
            ):
                raise ValueError("TensorCap metadata has a bad op input %r" % (entry,))
            if "step" in entry and (not isinstance(entry["step"], int) or isinstance(entry["step"], bool)):
                raise ValueError("TensorCap metadata has an op input with a bad step %r" % (entry,))
    origin = parsed.get("origin")
    if origin is not None and (not isinstance(origin, dict) or origin.get("kind") not in EXTERNAL_KINDS):
        raise ValueError("TensorCap metadata has a bad 'origin' %r" % (origin,))
