"""Reading TFRecord event files by offset, CRC-checked, through gfile.

An event file is a sequence of records::

    uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)

TensorBoard reads them through `tensorboard.compat.tf.io.gfile`, which uses
TensorFlow's filesystems (gs://, s3://, hdfs://, ...) when TensorFlow is
installed and local files otherwise; so does this module, with a plain `open`
for local paths.
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
    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def is_local(path):
    """Whether `path` is on the local filesystem (read without gfile)."""
    return "://" not in path


def open_file(path):
    """Opens `path` for binary reading, locally or through gfile."""
    if is_local(path):
        return open(path, "rb")
    return tb_tf.io.gfile.GFile(path, "rb")


class Corruption(Exception):
    """A record whose framing cannot be trusted; reading the file stops here."""


def scan_records(path, offset):
    """Yields `(offset, end, data)` for each complete record from `offset` on.

    `end` is where the next record starts; `data` is None for a record whose
    data fails its CRC (the caller reports it).

    Stops silently before a truncated last record (a writer still writing or
    killed), so a later scan from the returned offsets picks it up once it is
    complete. A record whose length fails its CRC raises `Corruption`: nothing after it can
    be located.
    """
    with open_file(path) as f:
        f.seek(offset)
        while True:
            header = f.read(_HEADER.size)
            if len(header) < _HEADER.size:
                return
            length, length_crc = _HEADER.unpack(header)
            if masked_crc32c(header[:8]) != length_crc:
                raise Corruption("%s: corrupt record length at byte %d" % (path, offset))
            data = f.read(length)
            footer = f.read(_FOOTER.size)
            if len(data) < length or len(footer) < _FOOTER.size:
                return
            record_offset = offset
            offset += _HEADER.size + length + _FOOTER.size
            if masked_crc32c(data) != _FOOTER.unpack(footer)[0]:
                data = None
            yield record_offset, offset, data


def read_record(path, offset):
    """The data of the one record at `offset`, CRC-checked, as a buffer.

    A local file is memory-mapped and the result is a read-only memoryview
    of the mapping: a large value is then neither read into nor copied in
    this process's memory, only paged in from the OS cache as it is used.
    Other files are read through gfile into `bytes`.

    Raises:
      Corruption: the record is damaged or incomplete.
    """
    with open_file(path) as f:
        if is_local(path):
            size = os.fstat(f.fileno()).st_size
            buffer = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)) if size else b""
            start = offset
        else:
            f.seek(offset)
            buffer, start = f.read(_HEADER.size), 0
            if len(buffer) == _HEADER.size:
                buffer += f.read(_HEADER.unpack(buffer)[0] + _FOOTER.size)
    end_of_header = start + _HEADER.size
    if len(buffer) < end_of_header:
        raise Corruption("%s: no record at byte %d" % (path, offset))
    length, _ = _HEADER.unpack(buffer[start:end_of_header])
    data = buffer[end_of_header:end_of_header + length]
    footer = buffer[end_of_header + length:end_of_header + length + _FOOTER.size]
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


def list_run_dirs(logdir):
    """Directories under `logdir` (itself included) that hold event files.

    Local logdirs are walked with `os.walk`, so that reading a local logdir
    never imports TensorFlow; others through gfile, as TensorBoard does.
    """
    walk = os.walk if is_local(logdir) else tb_tf.io.gfile.walk
    return [
        directory
        for directory, _, files in walk(logdir)
        if any(is_event_file(f) for f in files)
    ]
