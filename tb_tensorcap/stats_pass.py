"""The reader's statistics pass: the statistics of many captures, batched.

Alerts over a big logdir need the statistics of every capture, and a logdir
of health-mode or per-op captures holds millions of small ones. Computed one
by one, each costs a file open and two dozen numpy calls; here the small
numeric captures of one event file, dtype and shape are read from one memory
map and reduced together (`analysis.batch_stats`, identical results). Other
captures (large, split, strings, remote files) are computed one at a time.
"""

import numpy as np
from tensorboard.compat.proto import event_pb2

from tb_tensorcap import analysis, codec, event_files

SMALL_ELEMENTS = 1 << 14  # captures up to this size are batched
BATCH_CAPTURES = 2048  # captures reduced together


def batches(infos):
    """Yields lists of `CaptureInfo`s to compute together (a list of one: alone)."""
    groups = {}
    for info in infos:
        path = info.locations[0][0]
        if (
            info.kind == "full"
            and len(info.locations) == 1
            and info.dtype != "string"
            and 0 < info.numel <= SMALL_ELEMENTS
            and event_files.is_local(path)
        ):
            group = groups.setdefault((path, info.dtype, info.shape), [])
            group.append(info)
            if len(group) == BATCH_CAPTURES:
                yield groups.pop((path, info.dtype, info.shape))
        else:
            yield [info]
    yield from groups.values()


def compute(batch, read_value):
    """[(info, stats dict or the OSError/ValueError met)] for one batch.

    `read_value(info)` reads a capture's value (a batch of one is computed from it).
    """
    if len(batch) == 1:
        info = batch[0]
        try:
            return [(info, analysis.tensor_stats(read_value(info)))]
        except (OSError, ValueError) as e:
            return [(info, e)]
    path, shape = batch[0].locations[0][0], batch[0].shape
    try:
        buffer = event_files.map_file(path)
    except OSError as e:
        return [(info, e) for info in batch]
    results, read, values = [], [], []
    for info in batch:
        offset = info.locations[0][1]
        try:
            array = _tensor(event_files.record_at(buffer, path, offset), info.tag)
            if array is None:
                raise OSError("%s: record at byte %d no longer holds tag %r" % (path, offset, info.tag))
            values.append(array.reshape(shape))
            read.append(info)
        except event_files.Corruption as e:
            results.append((info, OSError(str(e))))
        except (ValueError, IndexError) as e:
            results.append((info, OSError("%s: record at byte %d cannot be decoded: %s" % (path, offset, e))))
        except OSError as e:
            results.append((info, e))
    if values:
        stacked = np.stack(values).reshape(len(values), -1)
        results.extend(zip(read, analysis.batch_stats(stacked, shape)))
    return results


def _tensor(data, tag):
    """The value of summary value `tag` in a serialized Event, or None.

    Parses the Event with protobuf, faster than `codec.tensor_in_event`'s
    zero-copy walk for small values (which are copied here, once).
    """
    for value in event_pb2.Event.FromString(data).summary.value:
        if value.tag == tag and value.HasField("tensor"):
            return codec.to_ndarray(value.tensor)
    return None
