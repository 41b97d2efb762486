"""The index of a logdir: its runs, their capture tables, scanning and saving.

Listing never holds tensor values: `refresh()` scans the event files once,
keeping for each capture its record offsets and a few small facts (step,
dtype, shape, source, order) in numpy columns (`capture_table`: about 60
bytes a capture, 150 with statistics), and values are read from disk when
asked for. Each refresh reads only the bytes appended since the last one, so
it follows a run that is still training; a truncated last record is left for
the next refresh.

The index and the statistics are saved in a cache directory outside the
logdir (`index_cache`), so a new process reopens an unchanged logdir without
rescanning it, and never computes a capture's statistics twice.

`LogdirIndex` is the base of `reader.Reader`, which asks its questions of
these tables; rows become `CaptureInfo` here (`_infos`). The index changes
under `_index_lock`, which is never held while reading values from disk.
"""

import collections.abc
import functools
import itertools
import logging
import os
import threading
import time

import numpy as np

from tb_tensorcap import event_files, index_cache
from tb_tensorcap.capture_info import CaptureInfo
from tb_tensorcap.run_index import RunIndex, Vocabulary

logger = logging.getLogger(__name__)

SAVE_INTERVAL_SECONDS = 30.0  # a changing run's index is saved at most this often
DEFAULT_CACHE_DIR = object()  # cache_dir not given: index_cache.default_directory()
_generations = itertools.count()  # tells values of a rebuilt run from the old ones


class NotFoundError(LookupError):
    """A run, tag or step that the logdir does not hold."""


class LogdirIndex:
    """The runs under one logdir (or a {directory: group} mapping) and their capture tables.

    See `reader.Reader` for the arguments; this class scans, saves and
    reports progress, and turns table rows into `CaptureInfo`.
    """

    def __init__(self, logdir, cache_dir=DEFAULT_CACHE_DIR):
        # os.fspath: a pathlib.Path logdir must not silently list nothing.
        if isinstance(logdir, collections.abc.Mapping):
            self.logdir, self._roots = logdir, {os.fspath(d): g for d, g in logdir.items()}
        else:
            self.logdir = os.fspath(logdir)
            self._roots = {self.logdir: None}
        self._runs = {}
        # Runs holding no captures (yet): kept so that their files are not
        # re-read from the start, nor their damage re-reported, on each refresh.
        self._runs_without_captures = {}
        self._index_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._vocab = Vocabulary()
        directory = index_cache.default_directory() if cache_dir is DEFAULT_CACHE_DIR else cache_dir
        self._index_cache = index_cache.IndexCache(directory) if directory else None
        self._saved_at = {}  # run name -> time.monotonic() of its last save
        self._scan_progress = (0, 0, False)  # bytes done, bytes in all, scan under way
        self._stats_running = False  # a statistics pass (reader.Reader.compute_stats) is under way
        self._listing_errors = {}  # root -> why the last refresh could not list it

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
            sizes = {path: event_files.size(path) for _, _, paths in runs for path in paths}
            total, done = sum(sizes.values()), 0
            self._scan_progress = (0, total, True)
            try:
                for run, run_dir, paths in runs:
                    run_index = self._runs.get(run) or self._runs_without_captures.get(run)
                    if run_index is None or any(sizes[p] < s.end for p, s in run_index.files.items() if p in sizes):
                        run_index = self._open_run(run, run_dir, paths)  # new, or a file shrank: start over
                    for path in paths:
                        added += run_index.scan_file(path, self._vocab, functools.partial(self._publish, run_index))
                        done += sizes[path]
                        self._scan_progress = (done, total, True)
                        if progress:
                            progress(done, total)
                    with self._index_lock:
                        if len(run_index.table):
                            self._runs[run] = run_index
                            self._runs_without_captures.pop(run, None)
                        else:
                            self._runs.pop(run, None)
                            self._runs_without_captures[run] = run_index
                    self._save(run_index)
            finally:
                self._scan_progress = (total, total, False)
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

    def _open_run(self, run, run_dir, paths):
        """The saved index of a run directory when it still matches its files, else an empty one."""
        run_index = None
        if self._index_cache is not None:
            saved = self._index_cache.load(_cache_key(run_dir))
            if saved is not None:
                try:
                    run_index = RunIndex.from_cache(run, run_dir, paths, *saved, self._vocab)
                except ValueError as e:
                    logger.warning("TensorCap: the saved index of %s is damaged (%s): ignored, rescanning", run_dir, e)
                if run_index is None:
                    logger.info("TensorCap: event files of %s changed since its index was saved: rescanning", run_dir)
        run_index = run_index or RunIndex(run, run_dir)
        run_index.generation = next(_generations)
        self._saved_at.pop(run, None)
        return run_index

    def _publish(self, run_index, rows):
        with self._index_lock:
            run_index.table.extend(rows)

    def _save(self, run_index, force=False):
        """Saves a changed run's index, at most every SAVE_INTERVAL_SECONDS unless `force`."""
        if self._index_cache is None or not run_index.changed:
            return
        last = self._saved_at.get(run_index.name)
        if not force and last is not None and time.monotonic() - last < SAVE_INTERVAL_SECONDS:
            return
        try:
            with self._index_lock:
                run_index.changed = False
                header, arrays = run_index.to_cache(self._vocab)
        except OSError as e:  # an event file vanished under us: the next refresh sees it
            logger.warning("TensorCap: cannot save the index of %s: %s", run_index.path, e)
            return
        self._index_cache.save(_cache_key(run_index.path), header, arrays)
        self._saved_at[run_index.name] = time.monotonic()

    def save(self):
        """Saves every run's index and statistics changed since last saved."""
        with self._index_lock:
            runs = list(self._runs.values()) + list(self._runs_without_captures.values())
        for run_index in runs:
            self._save(run_index, force=True)

    def progress(self):
        """How far the index scan and the statistics are: see http_api.md ("progress")."""
        done, total, running = self._scan_progress
        with self._index_lock:
            captures = sum(len(r.table) for r in self._runs.values())
            known = sum(int(np.count_nonzero(r.table.stats_known())) for r in self._runs.values())
        return {
            "index": {"done": done, "total": total, "unit": "bytes", "running": running},
            "statistics": {"done": known, "total": captures, "unit": "captures", "running": self._stats_running},
        }

    def nbytes(self):
        """Bytes held by the index's columns (Python's own overhead aside)."""
        with self._index_lock:
            return sum(r.table.nbytes() for r in self._runs.values())

    def listing_errors(self):
        """{logdir: message} of the logdirs the last refresh could not list (a missing
        bucket, refused credentials, ...): their runs are not listed, not absent."""
        return dict(self._listing_errors)

    # -- rows -------------------------------------------------------------

    def _run(self, run):
        try:
            return self._runs[run]
        except (KeyError, TypeError):
            raise NotFoundError("no run %r in %s" % (run, self.logdir)) from None

    def _tag(self, run, tag):
        """(TagSteps of the run, tag id); NotFoundError for an unknown run or tag."""
        lookup = self._run(run).table.tag_steps()
        tag_id = self._vocab.tags.get(tag) if isinstance(tag, str) else None
        if tag_id not in lookup.bounds:
            raise NotFoundError("no tag %r in run %r" % (tag, run))
        return lookup, tag_id

    def _step_rows(self, run, tag, step):
        """(RunIndex, rows of the captures of `tag` at `step` in capture order); NotFoundError if none."""
        lookup, tag_id = self._tag(run, tag)
        start, end = lookup.step_range(tag_id, step) if _is_int(step) else (0, 0)
        if start == end:
            raise NotFoundError("no step %r for tag %r in run %r" % (step, tag, run))
        return self._runs[run], lookup.rows[start:end]

    def _infos(self, run_index, rows):
        """CaptureInfo of each row (under the index lock)."""
        table, vocab = run_index.table, self._vocab
        rows = np.asarray(rows, np.int64)
        columns = [
            table.columns[name][rows].tolist()
            for name in ("tag", "step", "wall_time", "dtype", "shape", "facts", "file", "offset")
        ]
        repeats = table.tag_steps().repeat[rows].tolist()
        files, infos = vocab.files.values, []
        for i, (row, tag, step, wall_time, dtype, shape, facts_id, file, offset) in enumerate(
            zip(rows.tolist(), *columns)
        ):
            facts, description = vocab.facts[facts_id]
            chunks = table.chunk_locations.get(row)
            locations = tuple((files[f], o) for f, o in chunks) if chunks else ((files[file], offset),)
            info = CaptureInfo(
                run_index.name,
                vocab.tags.values[tag],
                step,
                wall_time,
                vocab.dtypes.values[dtype],
                vocab.shapes.values[shape],
                description,
                facts.get("source"),
                row,
                locations,
                facts.get("op"),
                facts.get("origin"),
                repeat=repeats[i],
                kind=facts.get("kind", "full"),
                table=table,
                axes=facts.get("axes"),
            )
            infos.append(info)
        return infos


def _cache_key(run_dir):
    return os.path.abspath(run_dir) if event_files.is_local(run_dir) else run_dir


def _is_int(step):
    return isinstance(step, (int, np.integer)) and not isinstance(step, bool)
