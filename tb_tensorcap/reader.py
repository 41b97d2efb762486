"""The one reader of TensorCap captures: a lazy index over a logdir.

Used by `tensorcap.load()`, the TensorBoard plugin and the `tensorcap` command.
It needs only tensorboard, numpy, protobuf, ml_dtypes (bfloat16) and crc32c
(record checksums): TensorBoard runs without TensorFlow, and so must this.

Listing never holds tensor values: `refresh()` scans the event files once,
keeping for each capture its record offsets and a few small facts (step,
dtype, shape, source, order), and values are read from disk when asked for.
Each refresh reads only the bytes appended since the last one, so it follows a
run that is still training; a truncated last record is left for the next
refresh. Statistics are computed once per capture and cached.

Health captures (``kind == "health"``, from health mode and the flight
recorder) come from health records, one per step holding many captures'
statistics (`health_records`): they are listed like any capture, their
`stats()` are the recorded ones, and `value()` raises `StatisticsOnlyError`.

Repeats: several captures may share one (run, tag, step) (a step frozen in a
`tf.function`, a function called twice in one `record()` block). Every one is
kept. `info()`, `value()` and `stats()` give the last one by default, as
TensorBoard shows the last value written at a step, and the k-th (from 0)
with ``repeat=k``; `captures()` lists every capture in capture order, and
`repeats()` says how many captures of a tag repeat an earlier one's step.

Thread-safe: the index is swapped under a lock that is never held while
reading values from disk.
"""

import collections
import collections.abc
import logging
import os
import threading

import numpy as np
from tensorboard.compat.proto import event_pb2

from tb_tensorcap import analysis, codec, event_files, health_records, metadata, notebook

__all__ = ["CaptureInfo", "NotFoundError", "Reader", "StatisticsOnlyError", "load"]

logger = logging.getLogger(__name__)


class NotFoundError(LookupError):
    """A run, tag or step that the logdir does not hold."""


class StatisticsOnlyError(NotFoundError):
    """The value of a capture made in health mode: only its statistics were kept."""


class CaptureInfo:
    """The small facts of one capture: one step of one tag in one run.

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
        "stats",
        "kind",
        "op",
        "origin",
        "repeat",
    )

    def __init__(
        self, run, tag, step, wall_time, dtype, shape, description, source, order, locations, op=None, origin=None
    ):
        self.run, self.tag, self.step, self.wall_time = run, tag, step, wall_time
        self.dtype, self.shape, self.description = dtype, shape, description
        self.source, self.order, self.locations = source, order, locations
        self.op, self.origin = op, origin
        self.repeat = 0
        self.stats = None
        self.kind = "full"

    @property
    def numel(self):
        return int(np.prod(self.shape, dtype=np.int64))

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


class _RunIndex:
    """What one run directory holds: tag -> step -> CaptureInfo."""

    def __init__(self, name, path):
        self.name = name
        self.path = path
        self.file_offsets = {}  # event file path -> offset scanned up to
        self.broken_files = set()
        self.problems = collections.Counter()  # event file path -> bad records seen
        self.reported = set()  # (event file path, problem) already logged
        self.tags = {}  # tag -> {step: CaptureInfo}: the last capture at each step
        self.earlier = {}  # (tag, step) -> [CaptureInfo]: the captures a later one repeated
        self.repeats = collections.Counter()  # tag -> captures that repeat an earlier one's step
        self.pending_chunks = {}  # (tag, step, count) -> {index: (path, offset)}
        self.next_order = 0


def load(logdir):
    """Indexes the captures under `logdir` and returns a `Reader`.

    Each directory under `logdir` holding event files is a run, named by its
    path relative to `logdir` ("." for `logdir` itself), as in TensorBoard.
    `logdir` may also be a {directory: group name} mapping (see `Reader`).
    """
    reader = Reader(logdir)
    reader.refresh()
    return reader


class Reader:
    """A lazy, refreshable index of the captures under one logdir.

    `logdir` is a directory, or a mapping {directory: group name or None} as
    TensorBoard's `--logdir_spec` gives: runs are then named "group/run" (the
    group alone for the directory itself), as in TensorBoard.
    """

    def __init__(self, logdir, value_cache_bytes=64 << 20):
        # os.fspath: a pathlib.Path logdir must not silently list nothing.
        if isinstance(logdir, collections.abc.Mapping):
            self.logdir, self._roots = logdir, {os.fspath(d): g for d, g in logdir.items()}
        else:
            self.logdir = os.fspath(logdir)
            self._roots = {self.logdir: None}
        self._runs = {}
        self._index_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._cache = _ValueCache(value_cache_bytes)
        # Runs holding no captures (yet): kept so that their files are not
        # re-read from the start, nor their damage re-reported, on each refresh.
        self._runs_without_captures = {}
        self._facts_by_content = {}  # metadata content -> parsed facts (shared)
        self._listing_errors = {}  # root -> why the last refresh could not list it
        self._consumers = {}  # run -> (its next_order when built, {(tag, step): [consumer]})

    def __repr__(self):
        """One line: the logdir and how many runs, tags and captures it holds."""
        return notebook.reader_line(self)

    def _repr_html_(self):
        """For Jupyter: the line and a table of runs."""
        return notebook.reader_html(self)

    # -- indexing ---------------------------------------------------------

    def refresh(self, progress=None):
        """Reads what was appended to the logdir since the last refresh.

        Args:
          progress: optional `progress(done_bytes, total_bytes)`, called after
            each event file, for long scans of big logdirs.

        Returns the number of new captures.
        """
        with self._refresh_lock:
            added = 0
            runs = [(run, run_dir, event_files.list_event_files(run_dir)) for run, run_dir in self._run_dirs()]
            sizes = {path: event_files.size(path) for _, _, paths in runs for path in paths} if progress else {}
            total, done = sum(sizes.values()), 0
            for run, run_dir, paths in runs:
                with self._index_lock:
                    run_index = self._runs.get(run) or self._runs_without_captures.get(run) or _RunIndex(run, run_dir)
                for path in paths:
                    added += self._scan_file(run_index, path)
                    if progress:
                        done += sizes[path]
                        progress(done, total)
                if run_index.tags:
                    with self._index_lock:
                        self._runs[run] = run_index
                    self._runs_without_captures.pop(run, None)
                else:
                    self._runs_without_captures[run] = run_index
            return added

    def _run_dirs(self):
        """Sorted (run name, directory) of every run directory under the roots."""
        found = []
        for root, group in self._roots.items():
            try:
                run_dirs = event_files.list_run_dirs(root)
            except Exception as e:  # gfile raises TF- or stub-specific errors
                message = event_files.remote_error(root, e)
                if self._listing_errors.get(root) != message:
                    logger.warning("%s", message)
                self._listing_errors[root] = message
                continue
            self._listing_errors.pop(root, None)
            for run_dir in run_dirs:
                relative = os.path.relpath(run_dir, root).replace(os.sep, "/")
                if group:
                    relative = group if relative == "." else "%s/%s" % (group, relative)
                found.append((relative, run_dir))
        return sorted(found)

    def _scan_file(self, run_index, path):
        if path in run_index.broken_files:
            return 0
        offset = run_index.file_offsets.get(path, 0)
        added = 0
        try:
            for offset, end, data in event_files.scan_records(path, offset):  # noqa: B020 - resumes at the last offset
                if data is None:
                    _report(run_index, path, "record at byte %d fails its CRC; skipped" % offset)
                else:
                    added += self._index_record(run_index, path, offset, data)
                run_index.file_offsets[path] = end
        except event_files.Corruption as e:
            logger.warning("%s; the rest of this file is skipped", e)
            run_index.broken_files.add(path)
        except OSError as e:
            _report_once(run_index, path, "cannot read %s: %s" % (path, e))
        else:
            _check_tail(run_index, path)
        return added

    def _index_record(self, run_index, path, offset, data):
        """Adds the TensorCap values of one event record; returns how many."""
        if _PLUGIN_NAME_BYTES not in data:
            return 0  # another plugin's record (an image, a scalar...): no need to parse it
        try:
            event = event_pb2.Event.FromString(data)
        except Exception:  # protobuf's DecodeError; the CRC matched, so rare
            _report(run_index, path, "record at byte %d is not an Event; skipped" % offset)
            return 0
        if not event.HasField("summary"):
            return 0
        added = 0
        for value in event.summary.value:
            plugin_data = value.metadata.plugin_data
            if plugin_data.plugin_name != metadata.PLUGIN_NAME or not value.HasField("tensor"):
                continue
            try:
                facts = self._parse_facts(plugin_data.content)
                if "health" in facts:
                    infos = _health_infos(run_index, event, value, facts["health"], (path, offset))
                else:
                    infos = [self._capture_info(run_index, event, value, facts, (path, offset))]
            except ValueError as e:
                _report(run_index, path, "capture %r at byte %d skipped: %s" % (value.tag, offset, e))
                continue
            for info in infos:
                if info is None:
                    continue
                with self._index_lock:
                    _add_capture(run_index, info)
                self._cache.discard(info.run, info.tag, info.step, info.repeat)
                added += 1
        return added

    def _parse_facts(self, content):
        """`metadata.parse_plugin_metadata`, once per distinct content.

        Captures repeat their call sites, so most events carry the same
        metadata: sharing one parsed dict saves the JSON parse and keeps the
        index small (a few hundred bytes less per capture).
        """
        facts = self._facts_by_content.get(content)
        if facts is None:
            facts = metadata.parse_plugin_metadata(content)
            if len(self._facts_by_content) >= _MAX_DISTINCT_FACTS:
                self._facts_by_content.clear()
            self._facts_by_content[content] = facts
        return facts

    def _capture_info(self, run_index, event, value, facts, location):
        """The CaptureInfo of a complete capture, or None while chunks are missing."""
        chunk = facts.get("chunk")
        if chunk is None:
            dtype = codec.dtype_name(value.tensor.dtype)
            shape = codec.proto_shape(value.tensor)
            locations = (location,)
        else:
            key = (value.tag, event.step, chunk["count"])
            pieces = run_index.pending_chunks.setdefault(key, {})
            pieces[chunk["index"]] = location
            if len(pieces) < chunk["count"]:
                return None
            del run_index.pending_chunks[key]
            dtype, shape = chunk["dtype"], tuple(chunk["shape"])
            locations = tuple(pieces[i] for i in range(chunk["count"]))
        order = run_index.next_order
        run_index.next_order += 1
        return CaptureInfo(
            run_index.name,
            value.tag,
            event.step,
            event.wall_time,
            dtype,
            tuple(shape),
            value.metadata.summary_description,
            facts.get("source"),
            order,
            locations,
            facts.get("op"),
            facts.get("origin"),
        )

    # -- listing ----------------------------------------------------------

    def listing_errors(self):
        """{logdir: message} of the logdirs the last refresh could not list (a missing
        bucket, refused credentials, ...): their runs are not listed, not absent."""
        return dict(self._listing_errors)

    def runs(self):
        """Names of the runs holding captures, sorted."""
        with self._index_lock:
            return sorted(self._runs)

    def tags(self, run):
        """Tags captured in `run`, sorted."""
        with self._index_lock:
            return sorted(self._run(run).tags)

    def steps(self, run, tag):
        """Steps captured for `tag` in `run`, ascending."""
        with self._index_lock:
            return sorted(self._tag(run, tag))

    def info(self, run, tag, step, repeat=None):
        """The `CaptureInfo` of one capture: the last at `step`, or its `repeat`-th (from 0)."""
        with self._index_lock:
            steps = self._tag(run, tag)
            try:
                last = steps[step]
            except (KeyError, TypeError):
                raise NotFoundError("no step %r for tag %r in run %r" % (step, tag, run)) from None
            if repeat is None or repeat == last.repeat:
                return last
            earlier = self._run(run).earlier.get((tag, step), ())
            if type(repeat) is not int or not 0 <= repeat < len(earlier):
                raise NotFoundError(
                    "no repeat %r of step %d of tag %r in run %r (it has %d: 0..%d)"
                    % (repeat, step, tag, run, last.repeat + 1, last.repeat)
                )
            return earlier[repeat]

    def step_captures(self, run, tag, step):
        """Every capture of `tag` at `step`, in capture order (the last is `info()`'s)."""
        last = self.info(run, tag, step)
        with self._index_lock:
            return [*self._run(run).earlier.get((tag, step), ()), last]

    def repeats(self, run, tag):
        """How many captures of `tag` repeat the step of an earlier one (0: one per step)."""
        with self._index_lock:
            self._tag(run, tag)
            return self._run(run).repeats[tag]

    def tag_infos(self, run, tag):
        """The `CaptureInfo` of every step of `tag`, by ascending step."""
        with self._index_lock:
            steps = self._tag(run, tag)
            return [steps[s] for s in sorted(steps)]

    def tag_captures(self, run, tag):
        """Every capture of `tag`, repeats included, by step then capture order."""
        with self._index_lock:
            steps = self._tag(run, tag)
            earlier = self._run(run).earlier
            return [i for s in sorted(steps) for i in (*earlier.get((tag, s), ()), steps[s])]

    def captures(self, run):
        """Every capture of `run` in capture order, repeats included."""
        with self._index_lock:
            run_index = self._run(run)
            infos = [i for steps in run_index.tags.values() for i in steps.values()]
            infos.extend(i for repeated in run_index.earlier.values() for i in repeated)
        return sorted(infos, key=lambda i: i.order)

    def inputs(self, run, tag, step):
        """Where each input of a captured op output came from, in input order.

        Returns None when the capture carries no lineage (a `capture()` call,
        a version 1 file): its inputs are unknown. Otherwise a list with, per
        input, "index" and either "tag" (the capture that produced it, at the
        same `step`) or "external" (its kind: variable, input, argument,
        constant, uncaptured) with "name" / "op" and the "tag" of the value's
        own capture when there is one; "captured" tells whether that tag is
        in the index at `step`.
        """
        info = self.info(run, tag, step)
        if info.op is None:
            return None
        with self._index_lock:
            tags = self._run(run).tags
            return [
                dict(entry, index=i, step=step, captured="tag" in entry and step in tags.get(entry["tag"], ()))
                for i, entry in enumerate(info.op["inputs"])
            ]

    def consumers(self, run, tag, step):
        """The captured op outputs of `step` that took this capture as an input.

        A list of {"tag", "step", "repeat", "index"} (index: which input of
        the consumer; repeat: which of the consumer's captures at `step`), in
        capture order, for every capture of this tag at `step`. Only captures
        with lineage are known.
        """
        self.info(run, tag, step)  # NotFoundError for an unknown capture
        with self._index_lock:
            run_index = self._run(run)
            cached = self._consumers.get(run)
            if cached is None or cached[0] != run_index.next_order:
                cached = self._consumers[run] = (run_index.next_order, _consumer_map(run_index))
            return [dict(c) for c in cached[1].get((tag, step), ())]

    def snapshot(self):
        """{run: {tag: [CaptureInfo by step]}}: the whole index at one instant."""
        with self._index_lock:
            return {
                run: {tag: [steps[s] for s in sorted(steps)] for tag, steps in r.tags.items()}
                for run, r in self._runs.items()
            }

    def _run(self, run):
        try:
            return self._runs[run]
        except (KeyError, TypeError):
            raise NotFoundError("no run %r in %s" % (run, self.logdir)) from None

    def _tag(self, run, tag):
        try:
            return self._run(run).tags[tag]
        except (KeyError, TypeError):
            raise NotFoundError("no tag %r in run %r" % (tag, run)) from None

    # -- values -----------------------------------------------------------

    def value(self, run, tag, step, repeat=None):
        """The captured value as a numpy array (read-only), read from disk.

        The last capture at `step`, or its `repeat`-th (see `info`). Strings
        come back as an object array of `bytes`.

        Raises:
          NotFoundError: no such run, tag or step.
          StatisticsOnlyError: the capture was made in health mode.
          OSError: the event file can no longer be read.
        """
        info = self.info(run, tag, step, repeat)
        if info.kind == "health":
            raise StatisticsOnlyError(health_records.statistics_only_message(run, tag, step))
        key = (run, tag, step, info.repeat)
        cached = self._cache.get(*key)
        if cached is not None:
            return cached
        pieces = [self._read_tensor(path, offset, tag) for path, offset in info.locations]
        if len(pieces) == 1:
            # reshape: a capture split into one chunk (a single element over
            # CHUNK_BYTES) is stored 1-D.
            array = pieces[0].reshape(info.shape)
        else:
            array = np.concatenate([p.reshape(-1) for p in pieces]).reshape(info.shape)
        array.flags.writeable = False
        if not event_files.is_local(info.locations[0][0]):
            self._cache.put(key, array)
        return array

    def values(self, run, tag):
        """{step: value} for every step of `tag` (reads them all)."""
        return {step: self.value(run, tag, step) for step in self.steps(run, tag)}

    def stats(self, run, tag, step, repeat=None):
        """`analysis.tensor_stats` of one capture (as `value`), computed once and cached."""
        info = self.info(run, tag, step, repeat)
        if info.stats is None:
            info.stats = analysis.tensor_stats(self.value(run, tag, step, info.repeat))
        return info.stats

    def stats_frame(self, run=None, tags=None):
        """A pandas DataFrame with one row of statistics per capture (needs pandas).

        Args:
          run: a run name, a list of them, or None for every run.
          tags: a tag, a list of them, or None for every tag.

        Columns: run, tag, step, wall_time, dtype, shape, numel, min, max,
        mean, std, nan, posinf, neginf, zeros, kind ("full", or "health" for
        a health-mode capture); rows sorted by run, tag, step.
        Reads every selected value once (statistics are cached).

        Raises:
          ImportError: pandas is not installed.
          NotFoundError: a run or tag that the logdir does not hold.
        """
        from tb_tensorcap import frames

        return frames.stats_frame(self, run, tags)

    def _read_tensor(self, path, offset, tag):
        try:
            array = codec.tensor_in_event(event_files.read_record(path, offset), tag)
        except event_files.Corruption as e:
            raise OSError(str(e)) from None
        except (ValueError, IndexError) as e:
            raise OSError("%s: record at byte %d cannot be decoded: %s" % (path, offset, e)) from None
        if array is None:
            raise OSError("%s: record at byte %d no longer holds tag %r" % (path, offset, tag))
        return array


def _health_infos(run_index, event, value, health, location):
    """A CaptureInfo per row of a health record, its statistics filled in."""
    infos = []
    for tag, dtype, shape, stats, source, op in health_records.decode(value.tensor, health):
        info = CaptureInfo(
            run_index.name,
            tag,
            event.step,
            event.wall_time,
            dtype,
            shape,
            "",
            source,
            run_index.next_order,
            (location,),
            op,
        )
        run_index.next_order += 1
        info.stats, info.kind = stats, "health"
        infos.append(info)
    return infos


def _consumer_map(run_index):
    """{(tag, step): [{"tag", "step", "repeat", "index"}, ...]}: lineage read backwards, in capture order."""
    consumers = {}
    infos = [i for steps in run_index.tags.values() for i in steps.values() if i.op is not None]
    infos.extend(i for repeated in run_index.earlier.values() for i in repeated if i.op is not None)
    for info in sorted(infos, key=lambda i: i.order):
        for index, entry in enumerate(info.op["inputs"]):
            if "tag" in entry:
                consumers.setdefault((entry["tag"], info.step), []).append(
                    {"tag": info.tag, "step": info.step, "repeat": info.repeat, "index": index}
                )
    return consumers


def _add_capture(run_index, info):
    """Indexes `info`; a capture already at its (tag, step) is kept as an earlier repeat."""
    steps = run_index.tags.setdefault(info.tag, {})
    previous = steps.get(info.step)
    if previous is not None:
        run_index.earlier.setdefault((info.tag, info.step), []).append(previous)
        run_index.repeats[info.tag] += 1
        info.repeat = previous.repeat + 1
    steps[info.step] = info


_REPORTS_PER_FILE = 3
# Every TensorCap value names the plugin in its metadata.
_PLUGIN_NAME_BYTES = metadata.PLUGIN_NAME.encode("ascii")
_MAX_DISTINCT_FACTS = 100_000  # parsed metadata kept for sharing


def _report_once(run_index, path, message):
    """Logs `message` about `path` the first time only (each refresh meets it again)."""
    if (path, message) not in run_index.reported:
        run_index.reported.add((path, message))
        logger.warning("%s", message)


def _check_tail(run_index, path):
    """Reports, once per position, a local file that ends in an incomplete record.

    The record is left for a later refresh, as its writer may still be writing
    it; a writer that was killed never completes it.
    """
    if path in run_index.broken_files or not event_files.is_local(path):
        return
    end = run_index.file_offsets.get(path, 0)
    size = event_files.size(path)
    if size > end:
        _report_once(
            run_index,
            path,
            "%s: incomplete record at byte %d: still being written, or its "
            "writer stopped; skipped until it is complete" % (path, end),
        )


def _report(run_index, path, problem):
    """Logs a bad record, once, and at most a few per file (a damaged file can hold thousands)."""
    run_index.problems[path] += 1
    count = run_index.problems[path]
    if count <= _REPORTS_PER_FILE:
        logger.warning("%s: %s", path, problem)
    if count == _REPORTS_PER_FILE:
        logger.warning("%s: further bad records in this file are skipped without a report", path)


class _ValueCache:
    """A small LRU of values read from remote storage, bounded in bytes.

    Browsing asks for the same capture several times in a row (value, then
    histogram, then a slice); this keeps those from re-reading gs:// or s3://.
    Local values need no cache: they are views of memory-mapped files.
    """

    def __init__(self, max_bytes):
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, *key):
        with self._lock:
            array = self._entries.get(key)
            if array is not None:
                self._entries.move_to_end(key)
            return array

    def put(self, key, array):
        size = array.nbytes
        if size > self._max_bytes // 2:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = array
            self._bytes += size
            while self._bytes > self._max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes

    def discard(self, *key):
        with self._lock:
            array = self._entries.pop(key, None)
            if array is not None:
                self._bytes -= array.nbytes
