"""The TensorCap TensorBoard plugin: routes over the lazy reader.

See `http_api.md` beside this file for every route's request and reply.

TensorBoard's own ingestion keeps only a sample of each tag's steps and holds
what it keeps in RAM. This plugin therefore serves values from TensorCap's
reader (an index of record offsets; values read from disk on demand), and its
loader lowers TensorBoard's retention of `tensorcap` data to one sample per
tag, which is all TensorBoard needs to list the tab as active.

Routes are thin `*_route` wrappers (parameters in, HTTP out) over pure
`*_impl` methods (Python values in, Python values out), as in TensorBoard's
own plugins. Imports only tensorboard, numpy and protobuf.
"""

import io
import json
import logging
import mimetypes
import os
import re
import threading

import numpy as np
from tensorboard import errors
from tensorboard.backend import http_util
from tensorboard.backend.event_processing import data_ingester
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from tb_tensorcap import analysis, codec, metadata, queries, root_cause, slicing
from tb_tensorcap.reader import NotFoundError, Reader

logger = logging.getLogger(__name__)

# An installed package has frontend/ inside it; a source checkout (editable
# install) has it beside the package.
_FRONTEND_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "frontend")
if not os.path.isdir(_FRONTEND_DIR):
    _FRONTEND_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "frontend")

MAX_ELEMENTS = 1 << 24  # elements in one value reply, before pooling
MAX_POOLED_ELEMENTS = 1 << 28  # elements a pooled reply may start from
MAX_JSON_ELEMENTS = 1 << 20  # JSON is for small values; larger use binary
DEFAULT_BINS = 30
MAX_BINS = 1000
INDEX_WAIT_SECONDS = 2.0  # /index answers "complete": false after this, and is polled
FIRST_SCAN_WAIT_SECONDS = 120.0  # other routes wait for the first scan of the logdir


class TensorCapLoader(base_plugin.TBLoader):
    """Loads the plugin and keeps TensorBoard from holding every capture in RAM."""

    def fix_flags(self, flags):
        """Retains one `tensorcap` sample per tag unless the user chose a number."""
        samples = getattr(flags, "samples_per_plugin", None)
        if isinstance(samples, dict):
            samples.setdefault(metadata.PLUGIN_NAME, 1)

    def load(self, context):
        return TensorCapPlugin(context)


class TensorCapPlugin(base_plugin.TBPlugin):
    """Serves every captured step of every tag, read lazily from disk."""

    plugin_name = metadata.PLUGIN_NAME

    def __init__(self, context):
        self._reader = Reader(_logdirs(context))
        reload_interval = getattr(context.flags, "reload_interval", 5.0) if context.flags else 5.0
        self._refresher = _Refresher(self._reader, reload_interval)
        self._refresher.start()

    def get_plugin_apps(self):
        return {
            "/index": self.index_route,
            "/stats": self.stats_route,
            "/value": self.value_route,
            "/histogram": self.histogram_route,
            "/diff": self.diff_route,
            "/alerts": self.alerts_route,
            "/divergence": self.divergence_route,
            "/rootcause": self.rootcause_route,
            "/lineage": self.lineage_route,
            "/static/*": self.static_route,
        }

    @property
    def _loaded_reader(self):
        """The reader once its first scan is done: a request that comes first waits for it."""
        self._refresher.loaded.wait(FIRST_SCAN_WAIT_SECONDS)
        return self._reader

    def is_active(self):
        return bool(self._reader.runs())

    def frontend_metadata(self):
        return base_plugin.FrontendMetadata(es_module_path="/static/index.js", tab_name="TensorCap")

    # -- pure implementations --------------------------------------------

    def index_impl(self):
        """{"complete": bool, "runs": {run: {tag: facts}}, "errors": [str]} (see http_api.md)."""
        # Give a small logdir the chance to answer complete on the first request.
        self._refresher.loaded.wait(INDEX_WAIT_SECONDS)
        runs = {}
        for run, tags in self._reader.snapshot().items():
            runs[run] = {}
            for tag, infos in tags.items():
                last = infos[-1]
                repeats = self._reader.repeats(run, tag)
                every = self._reader.tag_captures(run, tag) if repeats else infos
                runs[run][tag] = {
                    "steps": [i.step for i in infos],
                    "repeats": repeats,
                    "dtype": last.dtype,
                    "shape": list(last.shape),
                    "description": last.description,
                    "source": last.source,
                    "alerts": sum(1 for i in every if i.stats is not None and analysis.has_nonfinite(i.stats)),
                }
        errors = sorted(self._reader.listing_errors().values())
        return {"complete": self._refresher.loaded.is_set(), "runs": runs, "errors": errors}

    def stats_impl(self, run, tag, step=None):
        reader = self._loaded_reader
        infos = [reader.info(run, tag, step)] if step is not None else reader.tag_infos(run, tag)
        rows = []
        for info in infos:
            stats = dict(reader.stats(run, tag, info.step))
            del stats["digest"]
            rows.append(dict(stats, step=info.step, wall_time=info.wall_time, dtype=info.dtype, shape=list(info.shape)))
        return {"run": run, "tag": tag, "steps": rows}

    def value_impl(self, run, tag, step, slice_text="", max_cells=None):
        """The (sliced, maybe pooled) value: a dict with the array under "array"."""
        reader = self._loaded_reader
        info = reader.info(run, tag, step)
        array, canonical = slicing.apply(reader.value(run, tag, step), slice_text)
        array, pooled = _bounded(array, max_cells)
        return {
            "run": run,
            "tag": tag,
            "step": step,
            "dtype": info.dtype if pooled is None else "float64",
            "full_shape": list(info.shape),
            "slice": canonical,
            "shape": list(array.shape),
            "pooled": pooled,
            "array": array,
        }

    def histogram_impl(self, run, tag, step, bins=DEFAULT_BINS, slice_text=""):
        reader = self._loaded_reader
        array, _ = slicing.apply(reader.value(run, tag, step), slice_text)
        try:
            return dict(analysis.histogram(array, bins), run=run, tag=tag, step=step)
        except ValueError as e:
            raise errors.InvalidArgumentError(str(e)) from None

    def diff_impl(self, a, b, slice_text="", rtol=1e-5, atol=1e-8, max_cells=None):
        """A - B for a = (run, tag, step) and b likewise (see http_api.md)."""
        reader = self._loaded_reader
        info_a, info_b = reader.info(*a), reader.info(*b)
        if info_a.shape != info_b.shape:
            raise errors.InvalidArgumentError(
                "cannot diff shapes %s (%s) and %s (%s)"
                % (list(info_a.shape), "%s:%s:%s" % a, list(info_b.shape), "%s:%s:%s" % b)
            )
        value_a, canonical = slicing.apply(reader.value(*a), slice_text)
        value_b, _ = slicing.apply(reader.value(*b), slice_text)
        _check_size(value_a, max_cells)  # before computing float64 temporaries of it
        try:
            delta, stats = analysis.diff(value_a, value_b, rtol, atol)
        except ValueError as e:
            raise errors.InvalidArgumentError(str(e)) from None
        delta, pooled = _bounded(delta, max_cells)

        def side(info):
            return {"run": info.run, "tag": info.tag, "step": info.step, "dtype": info.dtype, "shape": list(info.shape)}

        return {
            "a": side(info_a),
            "b": side(info_b),
            "slice": canonical,
            "stats": stats,
            "diff": {
                "dtype": str(delta.dtype) if delta.dtype != np.int8 else "int8",
                "shape": list(delta.shape),
                "pooled": pooled,
                "array": delta,
            },
        }

    def alerts_impl(self, run=None):
        reader = self._loaded_reader
        if run is not None:
            reader.tags(run)  # NotFoundError for an unknown run
        return {"alerts": queries.alerts(reader, run)}

    def divergence_impl(self, run, run2, rtol=1e-5, atol=1e-8):
        reader = self._loaded_reader
        reader.tags(run), reader.tags(run2)  # NotFoundError naming the run
        return queries.divergence(reader, run, run2, rtol, atol)

    def rootcause_impl(self, run, step=None, inf=False):
        """The root cause of the first NaN (NaN/Inf with `inf`) in `run` (see http_api.md)."""
        return root_cause.root_cause(self._loaded_reader, run, step, inf)

    def lineage_impl(self, run, tag, step):
        """One capture's op, origin, inputs and consumers (see http_api.md)."""
        reader = self._loaded_reader
        info = reader.info(run, tag, step)
        return {
            "run": run,
            "tag": tag,
            "step": step,
            "op": info.op["type"] if info.op else None,
            "origin": info.origin,
            "inputs": reader.inputs(run, tag, step),
            "consumers": reader.consumers(run, tag, step),
        }

    # -- HTTP routes ------------------------------------------------------

    @wrappers.Request.application
    def index_route(self, request):
        return _handling_errors(request, lambda: _json(request, self.index_impl()))

    @wrappers.Request.application
    def stats_route(self, request):
        def respond():
            args = _Args(request)
            return _json(request, self.stats_impl(args.str("run"), args.str("tag"), args.int("step", None)))

        return _handling_errors(request, respond)

    @wrappers.Request.application
    def value_route(self, request):
        def respond():
            args = _Args(request)
            fmt = args.format(("json", "binary", "npy"))
            if fmt == "npy" and args.max_cells() is not None:
                raise errors.InvalidArgumentError(
                    "format=npy downloads exact values: max_cells (pooling) cannot be combined with it"
                )
            result = self.value_impl(
                args.str("run"), args.str("tag"), args.int("step"), args.str("slice", ""), args.max_cells()
            )
            if fmt == "npy":
                return _npy_reply(request, result)
            return _array_reply(request, fmt, result, result)

        return _handling_errors(request, respond)

    @wrappers.Request.application
    def histogram_route(self, request):
        def respond():
            args = _Args(request)
            bins = args.int("bins", DEFAULT_BINS, low=1, high=MAX_BINS)
            result = self.histogram_impl(
                args.str("run"), args.str("tag"), args.int("step"), bins, args.str("slice", "")
            )
            return _json(request, result)

        return _handling_errors(request, respond)

    @wrappers.Request.application
    def diff_route(self, request):
        def respond():
            args = _Args(request)
            a = (args.str("run"), args.str("tag"), args.int("step"))
            b = (args.str("run2", a[0]), args.str("tag2", a[1]), args.int("step2", a[2]))
            result = self.diff_impl(
                a,
                b,
                args.str("slice", ""),
                args.tolerance("rtol", 1e-5),
                args.tolerance("atol", 1e-8),
                args.max_cells(),
            )
            if args.str("values", "1") == "0":
                del result["diff"]
                return _json(request, result)
            return _array_reply(request, args.format(), result, result["diff"])

        return _handling_errors(request, respond)

    @wrappers.Request.application
    def alerts_route(self, request):
        return _handling_errors(request, lambda: _json(request, self.alerts_impl(_Args(request).str("run", None))))

    @wrappers.Request.application
    def divergence_route(self, request):
        def respond():
            args = _Args(request)
            return _json(
                request,
                self.divergence_impl(
                    args.str("run"), args.str("run2"), args.tolerance("rtol", 1e-5), args.tolerance("atol", 1e-8)
                ),
            )

        return _handling_errors(request, respond)

    @wrappers.Request.application
    def rootcause_route(self, request):
        def respond():
            args = _Args(request)
            inf = args.str("inf", "0")
            if inf not in ("0", "1"):
                raise errors.InvalidArgumentError("parameter 'inf' must be 0 or 1, got %r" % inf)
            return _json(request, self.rootcause_impl(args.str("run"), args.int("step", None), inf == "1"))

        return _handling_errors(request, respond)

    @wrappers.Request.application
    def lineage_route(self, request):
        def respond():
            args = _Args(request)
            return _json(request, self.lineage_impl(args.str("run"), args.str("tag"), args.int("step")))

        return _handling_errors(request, respond)

    @wrappers.Request.application
    def static_route(self, request):
        """Serves a file of frontend/, refusing any path that leaves it."""
        relative = request.path.split("/static/", 1)[-1] if "/static/" in request.path else ""
        if "\x00" in relative:  # os.path.realpath raises ValueError on NUL bytes
            return _error(request, 404, "no static file %r" % relative)
        root = os.path.realpath(_FRONTEND_DIR)
        path = os.path.realpath(os.path.join(root, relative))
        if not relative or not path.startswith(root + os.sep) or not os.path.isfile(path):
            return _error(request, 404, "no static file %r" % relative)
        mimetype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if path.endswith((".js", ".mjs")):
            mimetype = "text/javascript"
        with open(path, "rb") as f:
            return http_util.Respond(request, f.read(), mimetype)


def _logdirs(context):
    """The logdir, or TensorBoard's parse of `--logdir_spec` {path: group name}."""
    spec = getattr(context.flags, "logdir_spec", None) if context.flags else None
    if context.logdir or not spec:
        return context.logdir or ""
    return data_ingester._parse_event_files_spec(spec)


class _Refresher:
    """Keeps the reader's index current, like TensorBoard's reload loop.

    A daemon thread, started with the plugin, refreshes every
    `reload_interval` seconds (once, if it is 0; never, if it is negative, as
    TensorBoard does), then computes the statistics of new captures so that
    alerts are ready when asked for. `loaded` is set after the first scan.
    """

    def __init__(self, reader, reload_interval):
        self._reader = reader
        self._interval = reload_interval
        self._thread = None
        self.loaded = threading.Event()

    def start(self):
        if self._interval < 0:
            self.loaded.set()
            return
        self._thread = threading.Thread(target=self._run, name="tensorcap-refresh", daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            try:
                self._reader.refresh()
                self.loaded.set()
                self._warm_stats()
            except Exception:  # keep reloading after an unexpected failure
                logger.exception("TensorCap: refreshing %s failed", self._reader.logdir)
            if self._interval <= 0:
                return
            threading.Event().wait(self._interval)

    def _warm_stats(self):
        for run in self._reader.runs():
            for info in self._reader.captures(run):
                if info.stats is None:
                    try:
                        self._reader.stats(info.run, info.tag, info.step, info.repeat)
                    except (OSError, NotFoundError, ValueError) as e:
                        logger.warning("TensorCap: cannot read %r: %s", info, e)


class _Args:
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
        return self.int("max_cells", None, low=1, high=MAX_ELEMENTS)

    def format(self, allowed=("json", "binary")):
        fmt = self.str("format", "json")
        if fmt not in allowed:
            raise errors.InvalidArgumentError(
                "parameter 'format' must be %s, got %r" % (" or ".join(map(repr, allowed)), fmt)
            )
        return fmt


def _bounded(array, max_cells):
    """Pools `array` to `max_cells`, refusing results too large to send."""
    _check_size(array, max_cells)
    if max_cells is None:
        return array, None
    return slicing.pool(array, max_cells)


def _check_size(array, max_cells):
    """Refuses a result of `array`'s size that would be too large to send."""
    limit = MAX_POOLED_ELEMENTS if max_cells else MAX_ELEMENTS
    if array.size > limit:
        raise errors.InvalidArgumentError(
            "the result has %d elements (shape %s), more than %d: slice it%s"
            % (array.size, list(array.shape), limit, "" if max_cells else " or set max_cells")
        )


def _handling_errors(request, respond):
    """Runs `respond`, turning errors about the request into JSON 4xx replies."""
    try:
        return respond()
    except NotFoundError as e:
        return _error(request, 404, e.args[0])
    except errors.PublicError as e:
        return _error(request, e.http_code, e.message if hasattr(e, "message") else str(e))
    except slicing.SliceError as e:
        return _error(request, 400, str(e))
    except OSError as e:
        return _error(request, 404, "the capture cannot be read: %s" % e)


def _error(request, code, message):
    return http_util.Respond(request, {"error": message}, "application/json", code=code)


def _json(request, payload):
    return http_util.Respond(request, payload, "application/json")


def _npy_reply(request, result):
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


def _array_reply(request, fmt, payload, holder):
    """Sends `payload` with `holder["array"]` as JSON data or as the binary body."""
    array = holder.pop("array")
    if fmt == "json":
        if array.size > MAX_JSON_ELEMENTS:
            raise errors.InvalidArgumentError(
                "%d elements are too many for format=json (at most %d): use format=binary, "
                "a slice or max_cells" % (array.size, MAX_JSON_ELEMENTS)
            )
        holder["data"] = codec.json_values(array)
        return _json(request, payload)
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
    body = np.ascontiguousarray(array).view(np.uint8).tobytes()
    return http_util.Respond(request, body, "application/octet-stream", headers=headers)
