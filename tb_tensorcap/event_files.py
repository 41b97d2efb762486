"""Reading TFRecord event files by offset, CRC-checked, through gfile.

An event file is a sequence of records::

    uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)

TensorBoard reads them through `tensorboard.compat.tf.io.gfile`, which uses
TensorFlow's filesystems when TensorFlow is installed, and otherwise
TensorBoard's own stub (local files, ``s3://`` through boto3, fsspec URLs);
so does this module, with a plain `open` for local paths. The stub's files
cannot seek, so remote files are read here by byte ranges (`_RangeReader`).

``s3://`` differs by installation (`remote_error` says so when it fails):
without TensorFlow, TensorBoard's stub reads it with boto3 (credentials and
region from the usual AWS variables, a non-AWS endpoint from
``S3_ENDPOINT``); with TensorFlow, only TensorFlow's filesystems are used, and
TensorFlow (since 2.6) has S3 only once the tensorflow-io package is imported
(TensorBoard imports it when its logdir needs it).
"""

import mmap
import os
import struct

import crc32c
from tensorboard.compat import tf as tb_tf

_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")
_MASK_DELTA = 0xA282EAD8


def masked_crc32c(data):
    """TFRecord's masked CRC-32C of `data`."""
    return _mask(crc32c.crc32c(data))


def _mask(crc):
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame_record(data):
    """`data` framed as one TFRecord (the format above), ready to append to an event file."""
    header = struct.pack("<Q", len(data))
    return b"".join((header, struct.pack("<I", masked_crc32c(header)), data, struct.pack("<I", masked_crc32c(data))))


def framed_pieces(pieces, length):
    """Bytes-like `pieces` (`length` bytes in all) framed as one TFRecord, as a list of buffers to write in order.

    The same bytes as `frame_record` of their concatenation, without joining
    them: the data's CRC is computed piece by piece (the C `crc32c` releases
    the GIL on large buffers).
    """
    header = struct.pack("<Q", length)
    crc = 0
    for piece in pieces:
        crc = crc32c.crc32c(piece, crc)
    return [header, struct.pack("<I", masked_crc32c(header)), *pieces, struct.pack("<I", _mask(crc))]


def is_local(path):
    """Whether `path` is on the local filesystem (read without gfile)."""
    return "://" not in path


def open_file(path):
    """Opens `path` for binary reading (`read`, `seek`), locally or through gfile."""
    if is_local(path):
        return open(path, "rb")
    if hasattr(tb_tf.io.gfile, "get_filesystem"):  # TensorBoard's stub: no seek
        return _RangeReader(path)
    return tb_tf.io.gfile.GFile(path, "rb")


class _RangeReader:
    """A seekable, buffered reader of a remote file over TensorBoard's gfile stub.

    Each refill is one ranged read (for S3, one GET with a Range header) of at
    least `_BLOCK` bytes from the current position, so scanning records costs
    a request per block, not per record.
    """

    _BLOCK = 4 << 20

    def __init__(self, path):
        self._path = path
        self._filesystem = tb_tf.io.gfile.get_filesystem(path)
        self._position = 0
        self._buffer, self._buffer_start = b"", 0

    def seek(self, offset):
        self._position = offset

    def read(self, size):
        start = self._position - self._buffer_start
        if start < 0 or start + size > len(self._buffer):
            try:
                self._buffer, _ = self._filesystem.read(
                    self._path,
                    binary_mode=True,
                    size=max(size, self._BLOCK),
                    continue_from={"byte_offset": self._position},
                )
            except Exception as e:  # boto3's and the stub's own errors
                raise OSError(remote_error(self._path, e)) from None
            self._buffer_start, start = self._position, 0
        data = self._buffer[start : start + size]
        self._position += len(data)
        return data

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._buffer = b""
        return False


def remote_error(path, error):
    """A message for a failure to read `path` that says what to do about it.

    Names a missing bucket, refused credentials and unreachable endpoints
    (boto3's errors, as TensorBoard's stub raises them), and a filesystem
    that TensorFlow does not implement (``s3://`` without tensorflow-io).
    """
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    code = getattr(error, "response", {}).get("Error", {}).get("Code", "") if hasattr(error, "response") else ""
    scheme = path.split("://", 1)[0] if "://" in path else ""
    if code in ("NoSuchBucket",):
        hint = "the bucket does not exist"
    elif code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "ExpiredToken"):
        hint = "access denied: check the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE)"
    elif type(error).__name__ == "NoCredentialsError":
        hint = "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
    elif type(error).__name__ in ("EndpointConnectionError", "ConnectTimeoutError"):
        hint = "cannot reach the storage endpoint (S3_ENDPOINT=%s)" % os.environ.get("S3_ENDPOINT", "unset")
    elif "not implemented" in text and scheme:
        hint = (
            "TensorFlow is installed, so %s:// is read through TensorFlow's filesystems, which do not implement "
            "it: install tensorflow-io (TensorBoard imports it for such a logdir; elsewhere `import tensorflow_io` "
            "first)%s"
            % (
                scheme,
                ", or read where TensorFlow is not installed (TensorBoard then reads s3:// with boto3)"
                if scheme == "s3"
                else "",
            )
        )
    else:
        return "cannot read %s: %s" % (path, text)
    return "cannot read %s: %s (%s)" % (path, hint, text.splitlines()[0] if text else type(error).__name__)


class Corruption(Exception):
    """A record whose framing cannot be trusted; reading the file stops here."""


def scan_records(path, offset):
    """Yields `(offset, end, data)` for each complete record from `offset` on.

    `end` is where the next record starts; `data` is None for a record whose
    data fails its CRC (the caller reports it).

    Stops silently before a truncated last record (a writer still writing or
    killed), so a later scan from the returned offsets picks it up once it is
    complete. A record whose length fails its CRC raises `Corruption`: nothing after it can
    be located. The file is read in blocks of `_SCAN_BLOCK` bytes (or one
    record, if larger), not record by record.
    """
    with open_file(path) as f:
        f.seek(offset)
        buffer, position = b"", 0  # buffer[position] is the byte at `offset`
        while True:
            available = len(buffer) - position
            if available >= _HEADER.size:
                length, length_crc = _HEADER.unpack_from(buffer, position)
                needed = _HEADER.size + length + _FOOTER.size
                if available >= needed:
                    if masked_crc32c(buffer[position : position + 8]) != length_crc:
                        raise Corruption("%s: corrupt record length at byte %d" % (path, offset))
                    start = position + _HEADER.size
                    data = buffer[start : start + length]
                    if masked_crc32c(data) != _FOOTER.unpack_from(buffer, start + length)[0]:
                        data = None
                    yield offset, offset + needed, data
                    position += needed
                    offset += needed
                    continue
                if masked_crc32c(buffer[position : position + 8]) != length_crc:
                    raise Corruption("%s: corrupt record length at byte %d" % (path, offset))
                if needed > _SCAN_BLOCK:  # a big value: read into place, copied once
                    record = _read_big_record(f, buffer[position:], needed)
                    if record is None:
                        return
                    with memoryview(record) as view:
                        intact = (
                            masked_crc32c(view[_HEADER.size : -_FOOTER.size])
                            == _FOOTER.unpack_from(record, _HEADER.size + length)[0]
                        )
                    del record[-_FOOTER.size :], record[: _HEADER.size]  # in place: no copy
                    yield offset, offset + needed, record if intact else None
                    buffer, position, offset = b"", 0, offset + needed
                    continue
                wanted = _SCAN_BLOCK
            else:
                wanted = _SCAN_BLOCK
            more = f.read(wanted)
            if not more:
                return
            buffer, position = buffer[position:] + more, 0


_SCAN_BLOCK = 1 << 22


def _read_big_record(f, start, size):
    """The `size` bytes of a record beginning with `start`, or None if the file ends first."""
    record = bytearray(size)
    record[: len(start)] = start
    filled = len(start)
    with memoryview(record) as view:
        while filled < size:
            if hasattr(f, "readinto"):
                count = f.readinto(view[filled:])
            else:  # a remote file: no readinto
                piece = f.read(min(size - filled, _SCAN_BLOCK))
                count = len(piece)
                view[filled : filled + count] = piece
            if not count:
                return None
            filled += count
    return record


def read_record(path, offset):
    """The data of the one record at `offset`, CRC-checked, as a buffer.

    A local file is memory-mapped and the result is a read-only memoryview
    of the mapping: a large value is then neither read into nor copied in
    this process's memory, only paged in from the OS cache as it is used.
    Other files are read through gfile into `bytes`.

    Raises:
      Corruption: the record is damaged or incomplete.
    """
    if is_local(path):
        return record_at(map_file(path), path, offset)
    with open_file(path) as f:
        f.seek(offset)
        buffer = f.read(_HEADER.size)
        if len(buffer) == _HEADER.size:
            buffer += f.read(_HEADER.unpack(buffer)[0] + _FOOTER.size)
    return record_at(buffer, path, 0, offset)


def map_file(path):
    """A read-only memoryview of a whole local file, memory-mapped (for `record_at`)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        return memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)) if size else memoryview(b"")


def record_at(buffer, path, start, offset=None):
    """The CRC-checked data of the record at `start` of `buffer` (`offset` in `path`, for messages)."""
    offset = start if offset is None else offset
    end_of_header = start + _HEADER.size
    if len(buffer) < end_of_header:
        raise Corruption("%s: no record at byte %d" % (path, offset))
    length, _ = _HEADER.unpack(buffer[start:end_of_header])
    data = buffer[end_of_header : end_of_header + length]
    footer = buffer[end_of_header + length : end_of_header + length + _FOOTER.size]
    if len(data) < length or len(footer) < _FOOTER.size:
        raise Corruption("%s: record at byte %d is incomplete" % (path, offset))
    if masked_crc32c(data) != _FOOTER.unpack(footer)[0]:
        raise Corruption("%s: record at byte %d fails its CRC" % (path, offset))
    return data


def is_event_file(name):
    """TensorBoard ingests only files whose names contain "tfevents"."""
    return "tfevents" in os.path.basename(name)


def list_event_files(run_dir):
    """The event files of one run directory, sorted by name (creation order)."""
    try:
        names = os.listdir(run_dir) if is_local(run_dir) else tb_tf.io.gfile.listdir(run_dir)
    except Exception:  # gone since it was listed; gfile raises its own errors
        return []
    return sorted(os.path.join(run_dir, name) for name in names if is_event_file(name))


def size(path):
    """The size of a file in bytes (0 if it cannot be read)."""
    try:
        return os.path.getsize(path) if is_local(path) else tb_tf.io.gfile.stat(path).length
    except Exception:  # gone since it was listed; gfile raises its own errors
        return 0


def stat(path):
    """(size in bytes, modification time in ns) of a file; OSError if it cannot be read."""
    if is_local(path):
        result = os.stat(path)
        return result.st_size, result.st_mtime_ns
    try:
        result = tb_tf.io.gfile.stat(path)
    except Exception as e:  # gfile raises its own errors
        raise OSError("cannot stat %s: %s" % (path, e)) from None
    return result.length, getattr(result, "mtime_nsec", 0)


def list_run_dirs(logdir):
    """Directories under `logdir` (itself included) that hold event files.

    Local logdirs are walked with `os.walk`, so that reading a local logdir
    never imports TensorFlow; others through gfile, as TensorBoard does.
    Symlinked directories are followed, as TensorBoard's walk follows them
    (a logdir of links to runs lists those runs), each real directory once
    (a link to an ancestor does not loop).

    Raises:
      Exception: gfile's or boto3's error when a remote logdir cannot be read.
    """
    if is_local(logdir):
        walk = _walk_following_links
    else:
        # gfile's walk swallows errors (TensorFlow's yields nothing for an
        # unimplemented filesystem); `exists` raises them: a missing bucket,
        # refused credentials, no s3:// in TensorFlow.
        if not tb_tf.io.gfile.exists(logdir):
            return []
        walk = tb_tf.io.gfile.walk
    return [directory for directory, _, files in walk(logdir) if any(is_event_file(f) for f in files)]


def _walk_following_links(top):
    """`os.walk` that follows directory links, visiting each real directory once."""
    seen = set()
    for directory, subdirectories, files in os.walk(top, followlinks=True):
        real = os.path.realpath(directory)
        if real in seen:
            subdirectories[:] = []
            continue
        seen.add(real)
        yield directory, subdirectories, files
