"""The HTTP side of the plugin's routes: typed query parameters in, JSON or binary replies out.

`Args` reads a request's query parameters, each refused with a 400 naming
it; `handling_errors` turns the errors of a question (unknown run or tag, bad
slice, a question that cannot be answered) into JSON 4xx replies, never a
5xx; `array_reply` and `npy_reply` send a value as JSON, as binary with its
facts in `X-TensorCap-*` headers, or as a .npy download (http_api.md).
"""

import io
import json
import re

import numpy as np
from tensorboard import errors
from tensorboard.backend import http_util

from tb_tensorcap import answers, codec, slicing
from tb_tensorcap.reader import NotFoundError


class Args:
    """Typed access to query parameters, raising 400s that name the parameter."""

    def __init__(self, request):
        self._args = request.args

    _REQUIRED = object()

    def str(self, name, default=_REQUIRED):
        value = self._args.get(name)
        if value is None:
            if default is self._REQUIRED:
                raise errors.InvalidArgumentError("missing parameter %r" % name)
            return default
        return value

    def int(self, name, default=_REQUIRED, low=None, high=None):
        text = self.str(name, None)
        if text is None:
            if default is self._REQUIRED:
                raise errors.InvalidArgumentError("missing parameter %r" % name)
            return default
        try:
            value = int(text.strip())
        except ValueError:
            raise errors.InvalidArgumentError("parameter %r must be an integer, got %r" % (name, text)) from None
        if (low is not None and value < low) or (high is not None and value > high) or abs(value) >= 1 << 63:
            raise errors.InvalidArgumentError(
                "parameter %r must be between %s and %s, got %d" % (name, low, high, value)
            )
        return value

    def tolerance(self, name, default):
        text = self.str(name, None)
        if text is None:
            return default
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not np.isfinite(value) or value < 0:
            raise errors.InvalidArgumentError("parameter %r must be a non-negative number, got %r" % (name, text))
        return value

    def max_cells(self):
        return self.int("max_cells", None, low=1, high=answers.MAX_ELEMENTS)

    def format(self, allowed=("json", "binary")):
        fmt = self.str("format", "json")
        if fmt not in allowed:
            raise errors.InvalidArgumentError(
                "parameter 'format' must be %s, got %r" % (" or ".join(map(repr, allowed)), fmt)
            )
        return fmt


def handling_errors(request, respond):
    """Runs `respond`, turning errors about the request into JSON 4xx replies."""
    try:
        return respond()
    except NotFoundError as e:
        return error_reply(request, 404, e.args[0])
    except errors.PublicError as e:
        return error_reply(request, e.http_code, e.message if hasattr(e, "message") else str(e))
    except slicing.SliceError as e:
        return error_reply(request, 400, "bad slice: %s" % e)
    except answers.InvalidQuestion as e:
        return error_reply(request, 400, str(e))
    except OSError as e:
        return error_reply(request, 404, "the capture cannot be read: %s" % e)


def error_reply(request, code, message):
    return http_util.Respond(request, {"error": message}, "application/json", code=code)


def json_reply(request, payload):
    return http_util.Respond(request, payload, "application/json")


def npy_reply(request, result):
    """The (sliced) value as a .npy file download, exact (see `codec.npy_exact`)."""
    array = codec.npy_exact(result["array"])
    if array.dtype == object:
        raise errors.InvalidArgumentError(
            "these strings end in NUL bytes, which only a pickled .npy holds: use `tensorcap export` to save them"
        )
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", "%s_%s_step%d" % (result["run"], result["tag"], result["step"]))
    return http_util.Respond(
        request,
        buffer.getvalue(),
        "application/octet-stream",
        headers=[
            ("Content-Disposition", 'attachment; filename="%s.npy"' % name.strip("_")[:200]),
            ("X-TensorCap-Dtype", result["dtype"]),
        ],
    )


def array_reply(request, fmt, payload, holder):
    """Sends `payload` with `holder["array"]` as JSON data or as the binary body."""
    array = holder.pop("array")
    if fmt == "json":
        if array.size > answers.MAX_JSON_ELEMENTS:
            raise errors.InvalidArgumentError(
                "%d elements are too many for format=json (at most %d): use format=binary, "
                "a slice or max_cells" % (array.size, answers.MAX_JSON_ELEMENTS)
            )
        holder["data"] = codec.json_values(array)
        return json_reply(request, payload)
    if array.dtype == object:
        raise errors.InvalidArgumentError("string values have no binary form: use format=json")
    if holder.get("pooled"):
        array = array.astype(np.float32)
    headers = [
        ("X-TensorCap-Dtype", "bfloat16" if array.dtype.name == "bfloat16" else array.dtype.name),
        ("X-TensorCap-Shape", ",".join(map(str, array.shape))),
        ("X-TensorCap-Pooled", ",".join(map(str, holder.get("pooled") or ()))),
        ("X-TensorCap-Slice", payload["slice"]),
    ]
    if "full_shape" in payload:
        headers.append(("X-TensorCap-Full-Shape", ",".join(map(str, payload["full_shape"]))))
    if "stats" in payload:
        headers.append(("X-TensorCap-Diff-Stats", json.dumps(payload["stats"])))
    if "panels" in payload:
        facts = ("facet", "axis", "labels", "total", "sampled", "panels", "pooled", "dtype")
        headers.append(("X-TensorCap-Facets", json.dumps({key: payload[key] for key in facts})))
    body = np.ascontiguousarray(array).view(np.uint8).tobytes()
    return http_util.Respond(request, body, "application/octet-stream", headers=headers)
