"""The one reader of TensorCap captures: a lazy index over a logdir.

Used by `tensorcap.load()`, the TensorBoard plugin and the `tensorcap` command.
It needs only tensorboard, numpy, protobuf, ml_dtypes (bfloat16) and crc32c
(record checksums): TensorBoard runs without TensorFlow, and so must this.

`Reader` asks its questions (runs, tags, steps, captures, values,
statistics, lineage) of the index built by `logdir_index.LogdirIndex`, its
base: the index keeps offsets and small facts, values are read from disk
when asked for, statistics are computed once per capture and saved.

Repeats: several captures may share one (run, tag, step) (a step frozen in a
`tf.function`, a function called twice in one `record()` block). Every one is
kept. `info()`, `value()` and `stats()` give the last one by default, as
TensorBoard shows the last value written at a step, and the k-th (from 0)
with ``repeat=k``; `captures()` lists every capture in capture order, and
`repeats()` says how many captures of a tag repeat an earlier one's step.

Health captures (``kind == "health"``, from health mode and the flight
recorder) come from health records, one per step holding many captures'
statistics (`health_records`): they are listed like any capture, their
`stats()` are the recorded ones, and `value()` raises `StatisticsOnlyError`.

Thread-safe: the index changes under a lock that is never held while reading
values from disk.
"""

import logging
import threading
import time

import numpy as np

from tb_tensorcap import analysis, codec, event_files, health_records, notebook, stats_pass, value_cache
from tb_tensorcap.capture_info import CaptureInfo
from tb_tensorcap.capture_table import STATS_COLUMNS
from tb_tensorcap.logdir_index import DEFAULT_CACHE_DIR, LogdirIndex, NotFoundError

__all__ = ["CaptureInfo", "NotFoundError", "Reader", "StatisticsOnlyError", "load"]

logger = logging.getLogger(__name__)

_STATS_SLICE = 1 << 16  # captures whose CaptureInfo a statistics pass holds at once


class StatisticsOnlyError(NotFoundError):
    """The value of a capture made in health mode: only its statistics were kept."""


def load(logdir, cache_dir=DEFAULT_CACHE_DIR):
    """Indexes the captures under `logdir` and returns a `Reader`.

    Each directory under `logdir` holding event files is a run, named by its
    path relative to `logdir` ("." for `logdir` itself), as in TensorBoard.
    `logdir` may also be a {directory: group name} mapping (see `Reader`).
    """
    reader = Reader(logdir, cache_dir=cache_dir)
    reader.refresh()
    return reader


class Reader(LogdirIndex):
    """A lazy, refreshable index of the captures under one logdir.

    `logdir` is a directory, or a mapping {directory: group name or None} as
    TensorBoard's `--logdir_spec` gives: runs are then named "group/run" (the
    group alone for the directory itself), as in TensorBoard. `cache_dir` is
    where indexes are saved (default: `index_cache.default_directory()`;
    None: nowhere). `refresh()`, `save()`, `progress()`, `nbytes()` and
    `listing_errors()` come from `LogdirIndex`.
    """

    def __init__(self, logdir, value_cache_bytes=64 << 20, cache_dir=DEFAULT_CACHE_DIR):
        super().__init__(logdir, cache_dir)
        self._values = value_cache.ValueCache(value_cache_bytes)
        self._stats_lock = threading.Lock()  # one statistics pass at a time
        self._consumers = {}  # run -> (its row count when built, {(tag, step): [consumer]})

    def __repr__(self):
        """One line: the logdir and how many runs, tags and captures it holds."""
        return notebook.reader_line(self)

    def _repr_html_(self):
        """For Jupyter: the line and a table of runs."""
        return notebook.reader_html(self)

    # -- listing ----------------------------------------------------------

    def runs(self):
        """Names of the runs holding captures, sorted."""
        with self._index_lock:
            return sorted(self._runs)

    def tags(self, run):
        """Tags captured in `run`, sorted."""
        with self._index_lock:
            names = self._vocab.tags.values
            return sorted(names[t] for t in self._run(run).table.tag_steps().bounds)

    def steps(self, run, tag):
        """Steps captured for `tag` in `run`, ascending."""
        with self._index_lock:
            lookup, tag_id = self._tag(run, tag)
            start, end = lookup.bounds[tag_id]
            return lookup.steps[start:end][lookup.last[start:end]].tolist()

    def info(self, run, tag, step, repeat=None):
        """The `CaptureInfo` of one capture: the last at `step`, or its `repeat`-th (from 0)."""
        with self._index_lock:
            run_index, rows = self._step_rows(run, tag, step)
            if repeat is None:
                return self._infos(run_index, rows[-1:])[0]
            if type(repeat) is not int or not 0 <= repeat < len(rows):
                raise NotFoundError(
                    "no repeat %r of step %d of tag %r in run %r (it has %d: 0..%d)"
                    % (repeat, step, tag, run, len(rows), len(rows) - 1)
                )
            return self._infos(run_index, rows[repeat : repeat + 1])[0]

    def step_captures(self, run, tag, step):
        """Every capture of `tag` at `step`, in capture order (the last is `info()`'s)."""
        with self._index_lock:
            return self._infos(*self._step_rows(run, tag, step))

    def repeats(self, run, tag):
        """How many captures of `tag` repeat the step of an earlier one (0: one per step)."""
        with self._index_lock:
            lookup, tag_id = self._tag(run, tag)
            return lookup.repeats(tag_id)

    def tag_infos(self, run, tag):
        """The `CaptureInfo` of every step of `tag` (the last capture at each), by ascending step."""
        with self._index_lock:
            lookup, tag_id = self._tag(run, tag)
            return self._infos(self._runs[run], lookup.last_rows(tag_id))

    def tag_captures(self, run, tag):
        """Every capture of `tag`, repeats included, by step then capture order."""
        with self._index_lock:
            lookup, tag_id = self._tag(run, tag)
            start, end = lookup.bounds[tag_id]
            return self._infos(self._runs[run], lookup.rows[start:end])

    def captures(self, run):
        """Every capture of `run` in capture order, repeats included."""
        with self._index_lock:
            run_index = self._run(run)
            return self._infos(run_index, np.arange(len(run_index.table)))

    def count(self, run=None, numeric=False):
        """How many captures `run` (or every run) holds; with `numeric`, not counting strings."""
        with self._index_lock:
            tables = [self._run(run).table] if run is not None else [r.table for r in self._runs.values()]
            string = self._vocab.dtypes.get("string")
            if not numeric or string is None:
                return sum(len(t) for t in tables)
            return sum(int(np.count_nonzero(t.columns["dtype"] != string)) for t in tables)

    def tag_summaries(self, run):
        """{tag: facts} of `run` without a `CaptureInfo` per capture (for big indexes).

        Facts: "steps" (ascending), "captures" (repeats included), "repeats",
        "last" (`CaptureInfo` of the last capture at the last step),
        "stats_known" (captures whose statistics are known), "alerts"
        (those of them holding NaN or Inf) and "statistics_only" (steps whose
        last capture kept only statistics: health mode).
        """
        with self._index_lock:
            run_index = self._run(run)
            table, lookup, names = run_index.table, run_index.table.tag_steps(), self._vocab.tags.values
            known = table.stats_known()
            alerting = np.zeros(len(table), bool)
            alerting[table.nonfinite_rows()] = True
            health_facts = [i for i, (facts, _) in enumerate(self._vocab.facts) if facts.get("kind") == "health"]
            health = np.isin(table.columns["facts"], health_facts)
            summaries = {}
            for tag_id, (start, end) in lookup.bounds.items():
                rows, last = lookup.rows[start:end], lookup.last[start:end]
                summaries[names[tag_id]] = {
                    "steps": lookup.steps[start:end][last].tolist(),
                    "captures": end - start,
                    "repeats": lookup.repeats(tag_id),
                    "last": self._infos(run_index, rows[-1:])[0],
                    "stats_known": int(np.count_nonzero(known[rows])),
                    "alerts": int(np.count_nonzero(alerting[rows])),
                    "statistics_only": int(np.count_nonzero(health[rows[last]])),
                }
            return summaries

    def inputs(self, run, tag, step):
        """Where each input of a captured op output came from, in input order.

        Returns None when the capture carries no lineage (a `capture()` call,
        a version 1 file): its inputs are unknown. Otherwise a list with, per
        input, "index", "step" (where its capture is: `step`, or the step
        the lineage names) and either "tag" (the capture that produced it)
        or "external" (its kind: variable, input, argument, constant,
        uncaptured) with "name" / "op" and the "tag" of the value's
        own capture when there is one; "captured" tells whether that tag is
        in the index at `step`.
        """
        info = self.info(run, tag, step)
        if info.op is None:
            return None
        with self._index_lock:
            lookup, tag_ids = self._run(run).table.tag_steps(), self._vocab.tags
            entries = []
            for i, entry in enumerate(info.op["inputs"]):
                at = entry.get("step", step)
                tag_id = tag_ids.get(entry["tag"]) if "tag" in entry else None
                captured = tag_id in lookup.bounds and _nonempty(lookup.step_range(tag_id, at))
                entries.append(dict(entry, index=i, step=at, captured=captured))
            return entries

    def consumers(self, run, tag, step):
        """The captured op outputs (of `step`, or another step) that took this capture as an input.

        A list of {"tag", "step", "repeat", "index"} (index: which input of
        the consumer; repeat: which of the consumer's captures at `step`), in
        capture order, for every capture of this tag at `step`. Only captures
        with lineage are known.
        """
        self.info(run, tag, step)  # NotFoundError for an unknown capture
        with self._index_lock:
            run_index = self._run(run)
            cached = self._consumers.get(run)
            if cached is None or cached[0] != (run_index.generation, len(run_index.table)):
                cached = self._consumers[run] = (
                    (run_index.generation, len(run_index.table)),
                    self._consumer_map(run_index),
                )
            return [dict(c) for c in cached[1].get((tag, step), ())]

    def _consumer_map(self, run_index):
        """{(tag, step): [{"tag", "step", "repeat", "index"}, ...]}: lineage read backwards, in capture order."""
        facts, names, table = self._vocab.facts, self._vocab.tags.values, run_index.table
        with_inputs = [i for i, (f, _) in enumerate(facts) if (f.get("op") or {}).get("inputs")]
        rows = np.flatnonzero(np.isin(table.columns["facts"], with_inputs))
        columns = [
            table.columns["facts"][rows],
            table.columns["tag"][rows],
            table.columns["step"][rows],
            table.tag_steps().repeat[rows],
        ]
        consumers = {}
        for facts_id, tag_id, step, repeat in zip(*(c.tolist() for c in columns)):
            for index, entry in enumerate(facts[facts_id][0]["op"]["inputs"]):
                if "tag" in entry:
                    consumers.setdefault((entry["tag"], entry.get("step", step)), []).append(
                        {"tag": names[tag_id], "step": step, "repeat": repeat, "index": index}
                    )
        return consumers

    def snapshot(self):
        """{run: {tag: [CaptureInfo by step]}}: the whole index at one instant."""
        with self._index_lock:
            snapshot = {}
            for run, run_index in self._runs.items():
                lookup, names = run_index.table.tag_steps(), self._vocab.tags.values
                snapshot[run] = {names[t]: self._infos(run_index, lookup.last_rows(t)) for t in lookup.bounds}
            return snapshot

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
        return self._value(self.info(run, tag, step, repeat))

    def _value(self, info):
        if info.kind == "health":
            raise StatisticsOnlyError(health_records.statistics_only_message(info.run, info.tag, info.step))
        key = (self._runs[info.run].generation, info.order)
        cached = self._values.get(key)
        if cached is not None:
            return cached
        pieces = [_read_tensor(path, offset, info.tag) for path, offset in info.locations]
        if len(pieces) == 1:
            # reshape: a capture split into one chunk (a single element over
            # CHUNK_BYTES) is stored 1-D.
            array = pieces[0].reshape(info.shape)
        else:
            array = np.concatenate([p.reshape(-1) for p in pieces]).reshape(info.shape)
        array.flags.writeable = False
        if not event_files.is_local(info.locations[0][0]):
            self._values.put(key, array)
        return array

    def values(self, run, tag):
        """{step: value} for every step of `tag` (reads them all)."""
        return {step: self.value(run, tag, step) for step in self.steps(run, tag)}

    def stats(self, run, tag, step, repeat=None):
        """`analysis.tensor_stats` of one capture (as `value`), computed once and saved."""
        info = self.info(run, tag, step, repeat)
        if info.stats is None:
            self._store_stats(info, analysis.tensor_stats(self._value(info)))
        return info.stats

    def _store_stats(self, info, stats):
        with self._index_lock:
            run_index = self._runs.get(info.run)
            if run_index is not None and info.order < len(run_index.table):
                run_index.table.set_stats(info.order, stats)
                run_index.changed = True
        info.stats = stats

    def compute_stats(self, run=None, progress=None, strict=False, timeout=None, stop=None):
        """Computes the statistics not known yet, of `run` or of every run, and saves them.

        One pass runs at a time: a second caller waits for the first. With a
        `timeout` (seconds), the call returns when it is spent, leaving the
        rest unknown (see `progress()`); so does setting the `stop` event.
        `progress(done, total)` is called as
        captures are done, counting those known before (as `progress()`). A capture that cannot be read raises with
        `strict`, else is logged and left unknown. Returns how many
        statistics this call computed.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._stats_lock.acquire(timeout=-1 if timeout is None else max(0.0, timeout)):
            return 0
        computed = 0
        try:
            self._stats_running = True
            runs = [run] if run is not None else self.runs()
            with self._index_lock:
                tables = [self._run(r).table for r in runs]
                todo = [(r, np.flatnonzero(~t.stats_known())) for r, t in zip(runs, tables)]
                total = sum(len(t) for t in tables)
            done = total - sum(len(rows) for _, rows in todo)
            if progress:
                progress(done, total)
            for run_name, rows in todo:
                run_index = self._runs.get(run_name)
                for start in range(0, len(rows) if run_index is not None else 0, _STATS_SLICE):
                    with self._index_lock:
                        infos = self._infos(run_index, rows[start : start + _STATS_SLICE])
                    for batch in stats_pass.batches(infos):
                        for info, stats in stats_pass.compute(batch, self._value):
                            if not isinstance(stats, Exception):
                                self._store_stats(info, stats)
                            elif strict:
                                raise stats
                            else:
                                logger.warning("TensorCap: cannot read %r: %s", info, stats)
                        done += len(batch)
                        computed += len(batch)
                        if progress:
                            progress(done, total)
                        self._save(run_index)
                        if (deadline is not None and time.monotonic() > deadline) or (stop and stop.is_set()):
                            return computed
                if run_index is not None and len(rows):  # nothing computed: nothing new to save
                    self._save(run_index, force=True)
        finally:
            self._stats_running = False
            self._stats_lock.release()
        return computed

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

    def statistics_columns(self, run, every_capture=False):
        """The known statistics of the last capture at each step of `run`'s tags, as numpy columns.

        Rows sorted by (tag, step): "tag_id" (names in "tags"), "step",
        "string" (a string capture), "order" (the capture's place in capture
        order), and "known" (0: not computed yet), "min", "max", "std", "nan",
        "posinf", "neginf", "zeros", "numel" of `capture_table.STATS_COLUMNS`.
        With `every_capture`, every capture (a step's repeats too, in capture
        order within the step). Reads no values (see `tag_statistics`).
        """
        with self._index_lock:
            table = self._run(run).table
            lookup = table.tag_steps()
            rows = lookup.rows if every_capture else lookup.rows[lookup.last]
            string = self._vocab.dtypes.get("string")
            columns = {
                "tags": list(self._vocab.tags.values),
                "tag_id": table.columns["tag"][rows],
                "step": lookup.steps if every_capture else lookup.steps[lookup.last],
                "order": rows,
                "string": table.columns["dtype"][rows] == string if string is not None else np.zeros(len(rows), bool),
            }
            for name in ("known", "min", "max", "std", "nan", "posinf", "neginf", "zeros", "numel"):
                stats = table.stats
                columns[name] = stats[name][rows] if stats is not None else np.zeros(len(rows), STATS_COLUMNS[name])
            return columns

    def nonfinite(self, run):
        """`CaptureInfo` of the captures of `run` whose known statistics count NaN or Inf, in capture order."""
        with self._index_lock:
            run_index = self._run(run)
            return self._infos(run_index, run_index.table.nonfinite_rows())


def _read_tensor(path, offset, tag):
    try:
        array = codec.tensor_in_event(event_files.read_record(path, offset), tag)
    except event_files.Corruption as e:
        raise OSError(str(e)) from None
    except (ValueError, IndexError) as e:
        raise OSError("%s: record at byte %d cannot be decoded: %s" % (path, offset, e)) from None
    if array is None:
        raise OSError("%s: record at byte %d no longer holds tag %r" % (path, offset, tag))
    return array


def _nonempty(span):
    return span[0] < span[1]
