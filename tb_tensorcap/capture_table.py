"""One run's captures as numpy columns: the reader's compact index.

A logdir can hold millions of captures (health mode writes statistics for
every op at every step), so the reader keeps no Python object per capture.
Each run is a `CaptureTable`: one row per capture in capture order (the row
number is the capture's `order`), with small integer ids into the reader's
`Interner` tables for what repeats (tags, dtypes, shapes, metadata):

    tag int32 | step int64 | wall_time float64 | dtype int8 | shape int32 |
    facts int32 | file int32 | offset int64                     (41 bytes)

and, once statistics are known, `STATS_COLUMNS` (89 bytes more). A capture
split into chunks keeps its first record in file/offset and every record in
`chunk_locations`. `CaptureInfo` objects are built from rows only when asked for.

Lookups by (tag, step) go through a `TagSteps` view, rebuilt when rows are
added: rows sorted by (tag, step, when written), from which steps, repeats (several
captures of one tag at one step) and the last capture at each step are
slices, never per-capture dictionaries.
"""

import numpy as np

from tb_tensorcap import metadata

COLUMNS = {
    "tag": np.int32,
    "step": np.int64,
    "wall_time": np.float64,
    "dtype": np.int8,
    "shape": np.int32,
    "facts": np.int32,
    "file": np.int32,
    "offset": np.int64,
}
# The statistics of `analysis.tensor_stats`, one column each. A None statistic
# (min of a value with no finite element) is stored as NaN, which a finite
# statistic never is; `digest` is 16 raw bytes; `known` is 0 (not computed
# yet), KNOWN, or KNOWN_WITHOUT_DIGEST (statistics recorded in health mode).
STATS_COLUMNS = {
    "numel": np.int64,
    "min": np.float64,
    "max": np.float64,
    "mean": np.float64,
    "std": np.float64,
    "nan": np.int64,
    "posinf": np.int64,
    "neginf": np.int64,
    "zeros": np.int64,
    "digest": np.dtype((np.uint8, 16)),
    "known": np.int8,
}
KNOWN, KNOWN_WITHOUT_DIGEST = 1, 2
_OPTIONAL_STATS = ("min", "max", "mean", "std")
_COUNT_STATS = ("numel", "nan", "posinf", "neginf", "zeros")


class Interner:
    """Small integer ids for repeated values (tag names, shapes, ...), and back."""

    def __init__(self, values=()):
        self.values = []
        self._ids = {}
        for value in values:
            self.id(value)

    def id(self, value):
        found = self._ids.get(value)
        if found is None:
            found = self._ids[value] = len(self.values)
            self.values.append(value)
        return found

    def get(self, value):
        """The id of `value`, or None if it was never interned."""
        return self._ids.get(value)

    def __len__(self):
        return len(self.values)


class RowBuffer:
    """Rows being scanned, kept as tuples (one append per capture) until published."""

    def __init__(self):
        self.rows = []  # (tag, step, wall_time, dtype, shape, facts, file, offset)
        self.chunk_locations = {}  # row within this buffer -> ((file, offset), ...)
        self.stats_blocks = []  # (first row within this buffer, float64 [rows, HEALTH_FIELDS]) recorded with them

    def add(self, tag, step, wall_time, dtype, shape, facts, file, offset, chunk_locations=None):
        if chunk_locations is not None:
            self.chunk_locations[len(self.rows)] = chunk_locations
        self.rows.append((tag, step, wall_time, dtype, shape, facts, file, offset))

    def add_block(self, tags, step, wall_time, dtypes, shapes, facts, file, offset, statistics):
        """Rows of one health record (lists of tag, dtype, shape and facts ids) with their statistics.

        `statistics`: float64 [rows, 9], `metadata.HEALTH_FIELDS` in order (NaN for a missing moment).
        """
        self.stats_blocks.append((len(self.rows), statistics))
        count = len(tags)
        self.rows.extend(
            zip(tags, [step] * count, [wall_time] * count, dtypes, shapes, facts, [file] * count, [offset] * count)
        )

    def columns(self):
        """{name: numpy column} of the rows."""
        return {name: np.array(values, dtype) for (name, dtype), values in zip(COLUMNS.items(), zip(*self.rows))}

    def __len__(self):
        return len(self.rows)


class CaptureTable:
    """The captures of one run, in capture order (see the module docstring)."""

    def __init__(self, columns=None, chunk_locations=None, stats=None):
        self.columns = columns or {name: np.empty(0, dtype) for name, dtype in COLUMNS.items()}
        self.chunk_locations = chunk_locations or {}
        self.stats = stats  # None until a statistic is stored
        self._tag_steps = None

    def __len__(self):
        return len(self.columns["step"])

    def extend(self, rows):
        """Appends the rows of a `RowBuffer`."""
        if not len(rows):
            return
        start = len(self)
        for name, added in rows.columns().items():
            self.columns[name] = np.concatenate([self.columns[name], added])
        for row, locations in rows.chunk_locations.items():
            self.chunk_locations[start + row] = locations
        if self.stats is not None:
            self.stats = _grown(self.stats, len(self))
        for first, statistics in rows.stats_blocks:
            self.set_stats_block(start + first, statistics)
        self._tag_steps = None

    def locations(self, row):
        """((file id, offset), ...) of the records holding row's value."""
        found = self.chunk_locations.get(row)
        if found is not None:
            return found
        return ((int(self.columns["file"][row]), int(self.columns["offset"][row])),)

    def tag_steps(self):
        """The `TagSteps` view of the current rows (built once per change)."""
        if self._tag_steps is None:
            columns = self.columns
            self._tag_steps = TagSteps(columns["tag"], columns["step"], columns["wall_time"], columns["file"])
        return self._tag_steps

    # -- statistics --------------------------------------------------------

    def stats_known(self):
        """Boolean mask of the rows whose statistics are stored."""
        if self.stats is None:
            return np.zeros(len(self), bool)
        return self.stats["known"] != 0

    def stats_of(self, row):
        """The statistics dict of `row` (as `analysis.tensor_stats`), or None if unknown."""
        if self.stats is None or not self.stats["known"][row]:
            return None
        stats = {name: int(self.stats[name][row]) for name in _COUNT_STATS}
        for name in _OPTIONAL_STATS:
            value = float(self.stats[name][row])
            stats[name] = None if value != value else value
        known = self.stats["known"][row]
        stats["digest"] = self.stats["digest"][row].tobytes().hex() if known == KNOWN else None
        return stats

    def set_stats(self, row, stats):
        if self.stats is None:
            self.stats = _grown(None, len(self))
        for name in _COUNT_STATS:
            self.stats[name][row] = stats[name]
        for name in _OPTIONAL_STATS:
            self.stats[name][row] = np.nan if stats[name] is None else stats[name]
        if stats["digest"] is None:
            self.stats["known"][row] = KNOWN_WITHOUT_DIGEST
        else:
            self.stats["digest"][row] = np.frombuffer(bytes.fromhex(stats["digest"]), np.uint8)
            self.stats["known"][row] = KNOWN

    def set_stats_block(self, first, statistics):
        """Stores recorded (health) statistics, [rows, HEALTH_FIELDS] float64, for rows `first`... on."""
        if self.stats is None:
            self.stats = _grown(None, len(self))
        end = first + len(statistics)
        for i, name in enumerate(metadata.HEALTH_FIELDS):
            self.stats[name][first:end] = statistics[:, i]
        self.stats["known"][first:end] = KNOWN_WITHOUT_DIGEST

    def nonfinite_rows(self):
        """Rows whose known statistics count a NaN or an infinity, ascending."""
        if self.stats is None:
            return np.empty(0, np.int64)
        s = self.stats
        return np.flatnonzero((s["known"] != 0) & ((s["nan"] > 0) | (s["posinf"] > 0) | (s["neginf"] > 0)))

    def nbytes(self):
        """Bytes held by the columns (the index's memory, without Python overhead)."""
        total = sum(c.nbytes for c in self.columns.values())
        if self.stats is not None:
            total += sum(c.nbytes for c in self.stats.values())
        if self._tag_steps is not None:
            total += self._tag_steps.nbytes()
        return total


def _written_order(positions, wall_times, files):
    """Sort keys (least significant first) that put rows in the order they were written.

    In one event file that is the file's order. A run can have several
    files written at once (`direct_writer`'s beside ``tf.summary``'s), which
    the reader scans one after the other, so across files rows go by wall
    time, made non-decreasing within each file so that a file's own order
    is never undone (and a clock stepping back cannot reorder it).
    """
    present = np.flatnonzero(np.bincount(files)) if len(files) else ()
    if len(present) < 2:
        return (positions,)
    written = np.empty(len(wall_times), np.float64)
    for file in present:
        rows = np.flatnonzero(files == file)
        written[rows] = np.maximum.accumulate(wall_times[rows])
    return (positions, written)


def _grown(stats, rows):
    """Statistics columns for `rows` rows: the known ones kept, new rows unknown."""
    grown = {name: np.zeros(rows, dtype) for name, dtype in STATS_COLUMNS.items()}
    if stats is not None:
        kept = len(stats["known"])
        for name in STATS_COLUMNS:
            grown[name][:kept] = stats[name]
    return grown


class TagSteps:
    """Rows sorted by (tag, step, when written), and what follows from that order.

    For each tag, `bounds[tag] = (start, end)` delimits its rows in `rows`;
    within them `steps` ascends, and captures sharing a step are contiguous in
    the order they were written (`_written_order`). `last[i]` marks the last
    capture at its step (the one TensorBoard shows); `repeat[row]` is how many
    earlier captures of the run share row's tag and step.
    """

    def __init__(self, tags, steps, wall_times, files):
        count = len(steps)
        positions = np.arange(count)
        self.rows = np.lexsort(_written_order(positions, wall_times, files) + (steps, tags)).astype(np.int32)
        sorted_tags, self.steps = tags[self.rows], steps[self.rows]
        new_tag = np.ones(count, bool)
        new_tag[1:] = sorted_tags[1:] != sorted_tags[:-1]
        new_step = new_tag.copy()
        new_step[1:] |= self.steps[1:] != self.steps[:-1]
        self.last = np.ones(count, bool)
        self.last[:-1] = new_step[1:]
        group_start = np.maximum.accumulate(np.where(new_step, positions, 0))
        self.repeat = np.empty(count, np.int32)
        self.repeat[self.rows] = positions - group_start
        starts = np.flatnonzero(new_tag)
        ends = np.append(starts[1:], count)
        self.bounds = dict(zip(sorted_tags[starts].tolist(), zip(starts.tolist(), ends.tolist())))

    def step_range(self, tag, step):
        """(start, end) in `rows` of the captures of `tag` at `step` (empty if none)."""
        start, end = self.bounds[tag]
        steps = self.steps[start:end]
        return (start + int(np.searchsorted(steps, step, "left")), start + int(np.searchsorted(steps, step, "right")))

    def last_rows(self, tag):
        """The last capture at each step of `tag`, by ascending step."""
        start, end = self.bounds[tag]
        return self.rows[start:end][self.last[start:end]]

    def repeats(self, tag):
        """How many captures of `tag` repeat an earlier capture's step."""
        start, end = self.bounds[tag]
        return (end - start) - int(np.count_nonzero(self.last[start:end]))

    def nbytes(self):
        return self.rows.nbytes + self.steps.nbytes + self.last.nbytes + self.repeat.nbytes
