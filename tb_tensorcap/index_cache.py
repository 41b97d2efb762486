"""The reader's index and statistics, persisted between processes.

Scanning a big logdir and computing the statistics of every capture takes
minutes; a new `tensorcap` command or a restarted TensorBoard should not pay
that again for files that did not change. Each run directory's index (its
`CaptureTable`, statistics included, and how far each event file was read)
is saved in one file of a cache directory outside the logdir (a logdir may be
read-only, or remote):

    $TENSORCAP_CACHE_DIR, else $XDG_CACHE_HOME/tensorcap, else ~/.cache/tensorcap

named by a hash of the run directory's path. `TENSORCAP_CACHE_DIR=off`
disables it. Deleting the directory is always safe.

Trust: an entry is used only for the event files it describes, and only if
each one still holds, at the same place, the bytes that were scanned: its size
is at least the scanned length and hashes of the first and the last
`FINGERPRINT_BYTES` of the scanned part match. A file that grew is read on
from where the entry stops; a replaced, truncated or deleted file (or a new
file sorting before a scanned one) discards the whole entry. The entry itself
carries a hash of its content: a damaged or foreign entry is ignored with a
warning. Entries never hold Python pickles, only JSON and raw numeric arrays.

Format: MAGIC, the JSON header's length (uint64), the JSON header, the arrays'
bytes (each 8-byte aligned, described in the header), a BLAKE2b digest of all
that.
"""

import hashlib
import json
import logging
import os
import struct
import tempfile
import time

import numpy as np

from tb_tensorcap import event_files

logger = logging.getLogger(__name__)

MAGIC = b"TCAPIDX\x01"
FORMAT_VERSION = 2  # 2: an event holding a tag twice indexes only its first value (run_index)
FINGERPRINT_BYTES = 4096
_DIGEST_BYTES = 32
_UNUSED_DAYS = 30  # entries not used for this long are removed


def default_directory():
    """The cache directory from the environment, or None when disabled."""
    chosen = os.environ.get("TENSORCAP_CACHE_DIR")
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "0", "off", "none") else chosen
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tensorcap")


def fingerprint(path, end):
    """(head, tail) hashes of the first and last FINGERPRINT_BYTES before `end`."""
    with event_files.open_file(path) as f:
        head = f.read(min(end, FINGERPRINT_BYTES))
        tail_start = max(0, end - FINGERPRINT_BYTES)
        f.seek(tail_start)
        tail = f.read(end - tail_start)
    if len(tail) != end - tail_start:
        raise OSError("%s is shorter than %d bytes" % (path, end))
    return _hash(head), _hash(tail)


def _hash(data):
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class IndexCache:
    """Saved run indexes in one directory (see the module docstring)."""

    def __init__(self, directory):
        self.directory = directory
        self._pruned = False

    def entry_path(self, run_dir):
        key = hashlib.blake2b(run_dir.encode("utf-8", "surrogateescape"), digest_size=20).hexdigest()
        return os.path.join(self.directory, "index", key[:2], key + ".tcidx")

    def load(self, run_dir):
        """(header, arrays) saved for `run_dir`, or None if there is none or it is damaged."""
        path = self.entry_path(run_dir)
        try:
            with open(path, "rb") as f:
                blob = f.read()
        except FileNotFoundError:
            return None
        except OSError as e:
            logger.warning("TensorCap: cannot read index cache %s (%s): ignored", path, e)
            return None
        try:
            header, arrays = _decode(blob)
            if header.get("run_dir") != run_dir:
                raise ValueError("it belongs to %r" % header.get("run_dir"))
        except ValueError as e:
            logger.warning("TensorCap: index cache %s for %s is damaged (%s): ignored, rescanning", path, run_dir, e)
            return None
        try:
            os.utime(path)  # marks it used, for pruning
        except OSError:
            pass
        return header, arrays

    def save(self, run_dir, header, arrays):
        """Writes the entry of `run_dir` atomically; a failure only logs a warning."""
        path = self.entry_path(run_dir)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            blob = _encode(dict(header, run_dir=run_dir), arrays)
            descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
            try:
                with os.fdopen(descriptor, "wb") as f:
                    f.write(blob)
                os.replace(temporary, path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as e:
            logger.warning("TensorCap: cannot write index cache %s (%s); the next start rescans", path, e)
            return
        self._prune_once()

    def _prune_once(self):
        """Removes entries unused for _UNUSED_DAYS (their logdirs are likely gone), once per process."""
        if self._pruned:
            return
        self._pruned = True
        limit = time.time() - _UNUSED_DAYS * 86400
        for directory, _, names in os.walk(os.path.join(self.directory, "index")):
            for name in names:
                path = os.path.join(directory, name)
                try:
                    if os.path.getmtime(path) < limit:
                        os.unlink(path)
                except OSError:
                    pass


def _encode(header, arrays):
    layout, parts, position = [], [], 0
    for name, array in arrays.items():
        array = np.ascontiguousarray(array)
        layout.append([name, array.dtype.str, list(array.shape), position])
        data = array.tobytes()
        padding = -len(data) % 8
        parts.append(data + b"\0" * padding)
        position += len(data) + padding
    header = dict(header, format=FORMAT_VERSION, arrays=layout)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)
    body = b"".join([MAGIC, struct.pack("<Q", len(header_bytes)), header_bytes, *parts])
    return body + hashlib.blake2b(body, digest_size=_DIGEST_BYTES).digest()


def _decode(blob):
    """(header, {name: read-only array}) of an encoded entry; ValueError if it is not one."""
    if len(blob) < len(MAGIC) + 8 + _DIGEST_BYTES or not blob.startswith(MAGIC):
        raise ValueError("not a TensorCap index cache")
    body = memoryview(blob)[:-_DIGEST_BYTES]
    if hashlib.blake2b(body, digest_size=_DIGEST_BYTES).digest() != blob[-_DIGEST_BYTES:]:
        raise ValueError("its checksum does not match")
    (header_length,) = struct.unpack_from("<Q", blob, len(MAGIC))
    start = len(MAGIC) + 8
    try:
        header = json.loads(bytes(body[start : start + header_length]).decode("utf-8"))
        if header.get("format") != FORMAT_VERSION:
            raise ValueError("format %r, not %d" % (header.get("format"), FORMAT_VERSION))
        arrays = {}
        data_start = start + header_length
        for name, dtype, shape, position in header["arrays"]:
            dtype = np.dtype(dtype)
            if dtype.hasobject:
                raise ValueError("array %r has an object dtype" % name)
            count = int(np.prod(shape, dtype=np.int64))
            offset = data_start + position
            if offset + count * dtype.itemsize > len(body):
                raise ValueError("array %r runs past the end" % name)
            arrays[name] = np.frombuffer(body, dtype, count, offset).reshape(shape)
    except (KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError("its header cannot be read: %s" % e) from None
    return header, arrays
