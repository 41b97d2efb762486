"""A small LRU of values read from remote storage, bounded in bytes.

Browsing asks for the same capture several times in a row (value, then
histogram, then a slice); this keeps those from re-reading gs:// or s3://.
Local values need no cache: they are views of memory-mapped files.
"""

import collections
import threading


class ValueCache:
    """{key: read-only array}, least recently used dropped first beyond `max_bytes`."""

    def __init__(self, max_bytes):
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
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
