"""Scanning one run directory's event files into its `CaptureTable`.

A `RunIndex` is what the reader knows of one run: its table of captures, how
far each event file was read, the damage met there, and the chunks of split
captures still waiting for their last piece. `scan_file` reads what was
appended to one file since the last scan; `to_cache` / `from_cache` turn a
RunIndex into an `index_cache` entry and back, checking the entry against the
files on disk (see index_cache's "Trust").

Interned values (tags, dtypes, shapes, parsed metadata, file paths) live in a
`Vocabulary` shared by every run of a reader.
"""

import json
import logging
import os

import numpy as np
from tensorboard.compat.proto import event_pb2

from tb_tensorcap import capture_table, codec, event_files, health_records, index_cache, metadata

logger = logging.getLogger(__name__)

REPORTS_PER_FILE = 3
_PLUGIN_NAME_BYTES = metadata.PLUGIN_NAME.encode("ascii")
_PUBLISH_ROWS = 1 << 18  # rows scanned before they are made visible, in a long file
_MAX_VALUE_KEYS = 1 << 20  # Vocabulary.value_ids remembered


class Vocabulary:
    """The reader's interned values; `facts[i]` is (parsed metadata dict, description)."""

    def __init__(self):
        self.tags = capture_table.Interner()
        self.dtypes = capture_table.Interner()
        self.shapes = capture_table.Interner()
        self.files = capture_table.Interner()
        self.facts = []
        self.fact_keys = []  # the key each facts entry was made from (saved in caches)
        self._fact_ids = {}  # key -> id, or the ValueError its metadata raised
        self._dtype_ids = {}  # DataType enum -> dtype id
        self._value_ids = {}  # see value_ids
        self._health_plans = {}  # facts id of a health record's metadata -> HealthPlan

    def facts_id(self, key):
        """The id of the facts of `key`: ("meta", content bytes, description), or
        ("health", JSON of a health row's {"source", "op"[, "origin"]})."""
        found = self._fact_ids.get(key)
        if found is None:
            try:
                if key[0] == "meta":
                    facts = (metadata.parse_plugin_metadata(key[1]), key[2])
                else:
                    facts = (dict(json.loads(key[1]), kind="health"), "")
            except ValueError as e:
                found = e
            else:
                found = len(self.facts)
                self.facts.append(facts)
                self.fact_keys.append(key)
            self._fact_ids[key] = found
        if isinstance(found, ValueError):
            raise found
        return found

    def value_ids(self, content, description, tag, dtype_enum, shape_proto):
        """(facts id, tag id, dtype id, shape id) of a summary value; the last three are None
        for a health record or a chunk, whose dtype and shape are in their metadata.

        Values of one tag repeat all of these, so one dictionary lookup per
        value finds them once the first was seen.
        """
        key = (content, description, tag, dtype_enum, shape_proto.SerializeToString())
        found = self._value_ids.get(key)
        if found is None:
            facts_id = self.facts_id(("meta", content, description))
            facts = self.facts[facts_id][0]
            if "health" in facts or "chunk" in facts:
                found = (facts_id, None, None, None)
            else:
                shape = tuple(d.size for d in shape_proto.dim)
                found = (facts_id, self.tags.id(tag), self.dtype_id(dtype_enum), self.shapes.id(shape))
            if len(self._value_ids) < _MAX_VALUE_KEYS:
                self._value_ids[key] = found
        return found

    def health_plan(self, facts_id):
        """The `HealthPlan` of the health record whose metadata has `facts_id` (made once)."""
        plan = self._health_plans.get(facts_id)
        if plan is None:
            plan = self._health_plans[facts_id] = HealthPlan(self.facts[facts_id][0]["health"], self)
        return plan

    def dtype_id(self, enum):
        found = self._dtype_ids.get(enum)
        if found is None:
            found = self._dtype_ids[enum] = self.dtypes.id(codec.dtype_name(enum))
        return found


class HealthPlan:
    """A health record's rows as index columns: decoded once per distinct record metadata.

    Each row is a capture of its own tag with its own facts (source and
    lineage; `Vocabulary.facts_id` of ("health", JSON)); only the shapes
    may change from step to step (they are recorded in the row), and are
    interned again only when they do.
    """

    def __init__(self, health, vocab):
        self.layout = layout = health_records.RecordLayout(health)
        self.tag_ids = [vocab.tags.id(tag) for tag in layout.tags]
        self.dtype_ids = [vocab.dtypes.id(dtype) for dtype in layout.dtypes]
        self.facts_ids = [
            vocab.facts_id(("health", json.dumps(dict(lineage, source=source, op=lineage.get("op")), sort_keys=True)))
            for source, lineage in zip(layout.sources, layout.lineages)
        ]
        self._dims = None
        self._shape_ids = None

    def shape_ids(self, dims, vocab):
        """The shape id of each row, from the record's dims (`RecordLayout.numbers`)."""
        if self._dims is None or not np.array_equal(dims, self._dims):
            self._dims = dims
            self._shape_ids = [vocab.shapes.id(shape) for shape in self.layout.shapes(dims)]
        return self._shape_ids


class FileState:
    """How far one event file was read, and what was wrong in it."""

    __slots__ = ("end", "broken", "problems", "reported", "fingerprint")

    def __init__(self, end=0, broken=False, problems=0, reported=(), fingerprint=None):
        self.end, self.broken, self.problems = end, broken, problems
        self.reported = list(reported)  # messages logged about this file, in order
        # (size, mtime_ns, *index_cache.fingerprint at `end`) when saved; None after a scan moved
        self.fingerprint = fingerprint


class RunIndex:
    """What one run directory holds (see the module docstring)."""

    def __init__(self, name, path, table=None):
        self.name, self.path = name, path
        self.table = table or capture_table.CaptureTable()
        self.files = {}  # event file path -> FileState, in scan order
        self.pending_chunks = {}  # (tag id, step, count) -> {index: (file id, offset)}
        self.changed = False  # since it was last saved

    # -- damage reports ---------------------------------------------------

    def report(self, path, problem):
        """Logs a bad record, at most a few per file (a damaged file can hold thousands)."""
        state = self.files[path]
        state.problems += 1
        if state.problems <= REPORTS_PER_FILE:
            self.report_once(path, "%s: %s" % (path, problem))
        if state.problems == REPORTS_PER_FILE:
            self.report_once(path, "%s: further bad records in this file are skipped without a report" % path)

    def report_once(self, path, message):
        state = self.files[path]
        if message not in state.reported:
            state.reported.append(message)
            logger.warning("%s", message)

    # -- scanning ----------------------------------------------------------

    def scan_file(self, path, vocab, publish):
        """Indexes the records appended to `path` since the last scan; returns how many captures.

        `publish(rows)` is called with each batch of new rows (a `RowBuffer`).
        """
        state = self.files.setdefault(path, FileState())
        if state.broken:
            return 0
        file_id = vocab.files.id(path)
        rows = capture_table.RowBuffer()
        added, start = 0, state.end
        try:
            for offset, end, data in event_files.scan_records(path, state.end):
                if data is None:
                    self.report(path, "record at byte %d fails its CRC; skipped" % offset)
                elif _PLUGIN_NAME_BYTES in data:  # else another plugin's record: not parsed
                    self._index_record(path, file_id, offset, data, vocab, rows)
                state.end = end
                if len(rows.rows) >= _PUBLISH_ROWS:
                    added += len(rows)
                    publish(rows)
                    rows = capture_table.RowBuffer()
        except event_files.Corruption as e:
            self.report_once(path, "%s; the rest of this file is skipped" % e)
            state.broken = True
        except OSError as e:
            self.report_once(path, "cannot read %s: %s" % (path, e))
        else:
            self._check_tail(path)
        added += len(rows)
        publish(rows)
        if state.end != start or state.broken:
            state.fingerprint = None
            self.changed = True
        return added

    def _index_record(self, path, file_id, offset, data, vocab, rows):
        try:
            event = event_pb2.Event.FromString(data)
        except Exception:  # protobuf's DecodeError; the CRC matched, so rare
            self.report(path, "record at byte %d is not an Event; skipped" % offset)
            return
        step, wall_time = event.step, event.wall_time
        tags_seen = set()
        for value in event.summary.value:  # empty for an event without a summary
            summary_metadata = value.metadata
            plugin_data = summary_metadata.plugin_data
            if plugin_data.plugin_name != metadata.PLUGIN_NAME or not value.HasField("tensor"):
                continue
            if value.tag in tags_seen:  # a value is found by (record, tag): only the first of a tag can be read
                self.report(
                    path,
                    "record at byte %d holds capture %r more than once (TensorCap before 2026-12 wrote a tag "
                    "captured twice in one record() block so); only the first is read, this one is skipped"
                    % (offset, value.tag),
                )
                continue
            tags_seen.add(value.tag)
            tensor = value.tensor
            try:
                ids = vocab.value_ids(
                    plugin_data.content,
                    summary_metadata.summary_description,
                    value.tag,
                    tensor.dtype,
                    tensor.tensor_shape,
                )
                if ids[1] is not None:  # a plain capture
                    rows.rows.append((ids[1], step, wall_time, ids[2], ids[3], ids[0], file_id, offset))
                    continue
                facts = vocab.facts[ids[0]][0]
                if "health" in facts:
                    plan = vocab.health_plan(ids[0])
                    statistics, dims = plan.layout.numbers(tensor)
                    rows.add_block(
                        plan.tag_ids,
                        step,
                        wall_time,
                        plan.dtype_ids,
                        plan.shape_ids(dims, vocab),
                        plan.facts_ids,
                        file_id,
                        offset,
                        statistics,
                    )
                else:
                    self._add_chunk(value.tag, step, wall_time, facts, ids[0], file_id, offset, vocab, rows)
            except ValueError as e:
                self.report(path, "capture %r at byte %d skipped: %s" % (value.tag, offset, e))

    def _add_chunk(self, tag, step, wall_time, facts, facts_id, file_id, offset, vocab, rows):
        """Adds a split capture once its last chunk is read."""
        chunk = facts["chunk"]
        key = (vocab.tags.id(tag), step, chunk["count"])
        pieces = self.pending_chunks.setdefault(key, {})
        pieces[chunk["index"]] = (file_id, offset)
        if len(pieces) < chunk["count"]:
            return
        del self.pending_chunks[key]
        locations = tuple(pieces[i] for i in range(chunk["count"]))
        dtype_id = vocab.dtypes.id(chunk["dtype"])
        shape_id = vocab.shapes.id(tuple(chunk["shape"]))
        rows.add(key[0], step, wall_time, dtype_id, shape_id, facts_id, *locations[0], chunk_locations=locations)

    def _check_tail(self, path):
        """Reports, once per position, a local file that ends in an incomplete record.

        The record is left for a later refresh, as its writer may still be
        writing it; a writer that was killed never completes it.
        """
        if not event_files.is_local(path):
            return
        end = self.files[path].end
        if event_files.size(path) > end:
            self.report_once(
                path,
                "%s: incomplete record at byte %d: still being written, or its "
                "writer stopped; skipped until it is complete" % (path, end),
            )

    # -- the persisted form -------------------------------------------------

    def to_cache(self, vocab):
        """(header, arrays) of an index_cache entry for this run."""
        files = list(self.files)
        for path, state in self.files.items():
            if state.fingerprint is None:
                state.fingerprint = (*event_files.stat(path), *index_cache.fingerprint(path, state.end))
        local_file = {vocab.files.id(path): i for i, path in enumerate(files)}
        table = self.table
        arrays, header = (
            {},
            {
                "files": [
                    {
                        "name": os.path.basename(p),
                        "end": s.end,
                        "broken": s.broken,
                        "problems": s.problems,
                        "reported": s.reported,
                        "fingerprint": list(s.fingerprint),
                    }
                    for p, s in self.files.items()
                ]
            },
        )
        for name, values in (
            ("tag", vocab.tags.values),
            ("dtype", vocab.dtypes.values),
            ("shape", vocab.shapes.values),
            ("facts", vocab.fact_keys),
        ):
            used, local = np.unique(table.columns[name], return_inverse=True)
            arrays[name] = local.astype(capture_table.COLUMNS[name])
            header[name] = [_key_json(name, values[i]) for i in used.tolist()]
        for name in ("step", "wall_time", "offset"):
            arrays[name] = table.columns[name]
        arrays["file"] = np.array([local_file[f] for f in table.columns["file"].tolist()], np.int32)
        if table.stats is not None:
            arrays.update({"stats." + name: column for name, column in table.stats.items()})
        header["chunks"] = [
            [row, [[local_file[f], o] for f, o in locations]] for row, locations in table.chunk_locations.items()
        ]
        header["pending"] = [
            [vocab.tags.values[tag], step, count, [[i, local_file[f], o] for i, (f, o) in pieces.items()]]
            for (tag, step, count), pieces in self.pending_chunks.items()
        ]
        return header, arrays

    @classmethod
    def from_cache(cls, name, path, event_paths, header, arrays, vocab):
        """The RunIndex saved in an entry, or None when the files on disk no longer match it.

        Raises ValueError for an entry that is inconsistent (damaged).
        """
        try:
            saved = header["files"]
            paths = [event_paths[i] if i < len(event_paths) else None for i in range(len(saved))]
            for entry, event_path in zip(saved, paths):
                if event_path is None or os.path.basename(event_path) != entry["name"]:
                    return None  # a scanned file is gone, or a new one sorts before it
                if not _unchanged_prefix(event_path, entry["end"], *entry["fingerprint"]):
                    return None
            run = cls(name, path)
            file_ids = np.array([vocab.files.id(p) for p in paths], np.int32)
            columns = {
                "tag": _remapped(arrays["tag"], [vocab.tags.id(t) for t in header["tag"]]),
                "dtype": _remapped(arrays["dtype"], [vocab.dtypes.id(d) for d in header["dtype"]]),
                "shape": _remapped(arrays["shape"], [vocab.shapes.id(tuple(s)) for s in header["shape"]]),
                "facts": _remapped(arrays["facts"], [vocab.facts_id(_key_from_json(k)) for k in header["facts"]]),
                "file": _remapped(arrays["file"], file_ids),
                "step": arrays["step"],
                "wall_time": arrays["wall_time"],
                "offset": arrays["offset"],
            }
            columns = {n: np.asarray(columns[n], dtype) for n, dtype in capture_table.COLUMNS.items()}
            stats = None
            if "stats.known" in arrays:
                stats = {
                    n: _stats_column(arrays["stats." + n], dtype) for n, dtype in capture_table.STATS_COLUMNS.items()
                }
            if len({len(c) for c in columns.values()} | ({len(s) for s in stats.values()} if stats else set())) > 1:
                raise ValueError("its columns differ in length")
            chunks = {
                int(row): tuple((int(file_ids[f]), int(o)) for f, o in locations) for row, locations in header["chunks"]
            }
            run.table = capture_table.CaptureTable(columns, chunks, stats)
            for tag, step, count, pieces in header["pending"]:
                run.pending_chunks[(vocab.tags.id(tag), step, count)] = {i: (int(file_ids[f]), o) for i, f, o in pieces}
            for entry, event_path in zip(saved, paths):
                run.files[event_path] = FileState(
                    entry["end"], entry["broken"], entry["problems"], entry["reported"], tuple(entry["fingerprint"])
                )
                for message in entry["reported"]:
                    logger.warning("%s", message)
        except (KeyError, TypeError, IndexError) as e:
            raise ValueError("its content is inconsistent (%s: %s)" % (type(e).__name__, e)) from None
        return run


def _unchanged_prefix(path, end, size, mtime_ns, head, tail):
    """Whether the first `end` bytes of `path` are still those scanned (index_cache's "Trust").

    `size` and `mtime_ns` are the file's when the entry was saved. Smaller now
    (truncated), or the same size at another time (written in place): changed.
    Otherwise the hashes of its first and last bytes before `end` decide.
    """
    try:
        now_size, now_mtime = event_files.stat(path)
        if now_size < max(end, size) or (now_size == size and now_mtime != mtime_ns):
            return False
        return list(index_cache.fingerprint(path, end)) == [head, tail]
    except OSError:
        return False


def _stats_column(saved, dtype):
    """A writable copy of a saved statistics column; ValueError unless it has `dtype`'s type and width."""
    expected = np.zeros(0, dtype)
    if saved.dtype != expected.dtype or saved.shape[1:] != expected.shape[1:]:
        raise ValueError("a statistics column has type %s%s" % (saved.dtype, list(saved.shape)))
    return np.array(saved)


def _remapped(local_ids, global_ids):
    """Column of global ids from a saved column of local ids; ValueError if out of range."""
    global_ids = np.asarray(global_ids, np.int64)
    if len(local_ids) and (local_ids.min() < 0 or local_ids.max() >= len(global_ids)):
        raise ValueError("a column refers to an unknown value")
    return global_ids[local_ids] if len(local_ids) else np.empty(0, np.int64)


def _key_json(name, value):
    if name == "facts":  # ("meta", bytes, description) or ("health", source JSON)
        return [value[0], value[1].decode("latin-1"), value[2]] if value[0] == "meta" else list(value)
    return list(value) if name == "shape" else value


def _key_from_json(key):
    if key[0] == "meta":
        return ("meta", key[1].encode("latin-1"), key[2])
    if key[0] == "health":
        return ("health", key[1])
    raise ValueError("unknown metadata key %r" % (key[0],))
