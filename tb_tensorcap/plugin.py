"""The TensorCap TensorBoard plugin: routes over the lazy reader.

See `http_api.md` beside this file for every route's request and reply.

TensorBoard's own ingestion keeps only a sample of each tag's steps and holds
what it keeps in RAM. This plugin therefore serves values from TensorCap's
reader (an index of record offsets; values read from disk on demand), and its
loader lowers TensorBoard's retention of `tensorcap` data to one sample per
tag, which is all TensorBoard needs to list the tab as active.

Routes are thin `*_route` wrappers (parameters in, HTTP out) over pure
`*_impl` methods (Python values in, Python values out), as in TensorBoard's
own plugins. Needs only TensorCap's reading dependencies (tensorboard, numpy,
protobuf, ml_dtypes, crc32c), never TensorFlow.
"""

import functools
import logging
import mimetypes
import os
import threading

from tensorboard import errors
from tensorboard.backend import http_util
from tensorboard.backend.event_processing import data_ingester
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from tb_tensorcap import answers, frontend, http_replies, metadata
from tb_tensorcap.reader import Reader

logger = logging.getLogger(__name__)

# The package tb_tensorcap.frontend: frontend/ of the source tree (installed
# inside tb_tensorcap, or mapped there by an editable install).
_FRONTEND_DIR = os.path.dirname(os.path.abspath(frontend.__file__))

INDEX_WAIT_SECONDS = 2.0  # /index answers "complete": false after this, and is polled
FIRST_SCAN_WAIT_SECONDS = 120.0  # other routes wait for the first scan of the logdir
ALERTS_WAIT_SECONDS = 5.0  # /alerts answers "complete": false after this, and is polled


def _route(method):
    """Makes `method(self, request, args)` a WSGI route.

    `args` gives typed query parameters (`http_replies.Args`). The method returns a JSON
    payload (a dict) or a whole response; errors about the request become
    JSON 4xx replies (`http_replies.handling_errors`).
    """

    @functools.wraps(method)
    @wrappers.Request.application
    def route(self, request):
        def respond():
            reply = method(self, request, http_replies.Args(request))
            return reply if isinstance(reply, wrappers.Response) else http_replies.json_reply(request, reply)

        return http_replies.handling_errors(request, respond)

    return route


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
            "/histograms": self.histograms_route,
            "/facets": self.facets_route,
            "/tagstats": self.tagstats_route,
            "/diff": self.diff_route,
            "/alerts": self.alerts_route,
            "/divergence": self.divergence_route,
            "/rootcause": self.rootcause_route,
            "/lineage": self.lineage_route,
            "/health": self.health_route,
            "/static/*": self.static_route,
        }

    def is_active(self):
        return bool(self._reader.runs())

    def frontend_metadata(self):
        return base_plugin.FrontendMetadata(es_module_path="/static/index.js", tab_name="TensorCap")

    def stop(self):
        """Stops refreshing the index in the background (TensorBoard never does; tests do)."""
        self._refresher.stop()

    def _scanned_reader(self):
        """The reader once its first scan is done: a request that comes first waits for it."""
        self._refresher.wait_first_scan(FIRST_SCAN_WAIT_SECONDS)
        return self._reader

    # -- pure implementations: the answers layer, once the logdir is scanned --

    def index_impl(self):
        """{"complete": bool, "progress": {...}, "runs": {run: {tag: facts}}, "errors": [str]} (see http_api.md)."""
        # Give a small logdir the chance to answer complete on the first request.
        complete = self._refresher.wait_first_scan(INDEX_WAIT_SECONDS)
        runs = answers.index(self._reader)
        return {
            "complete": complete,
            "progress": self._reader.progress(),
            "runs": runs,
            "errors": sorted(self._reader.listing_errors().values()),
        }

    def stats_impl(self, run, tag, step=None):
        return answers.stats(self._scanned_reader(), run, tag, step)

    def value_impl(self, run, tag, step, slice_text="", max_cells=None):
        """The (sliced, maybe pooled) value: a dict with the array under "array"."""
        return answers.value(self._scanned_reader(), run, tag, step, slice_text, max_cells)

    def histogram_impl(self, run, tag, step, bins=answers.DEFAULT_BINS, slice_text=""):
        return answers.histogram(self._scanned_reader(), run, tag, step, bins, slice_text)

    def histograms_impl(
        self, run, tag, bins=answers.DEFAULT_BINS, max_steps=answers.DEFAULT_HISTOGRAM_STEPS, slice_text=""
    ):
        """A tag's histograms over its steps on common edges (see http_api.md)."""
        return answers.histograms(self._scanned_reader(), run, tag, bins, max_steps, slice_text)

    def facets_impl(self, run, tag, step, slice_text, axis=None, steps=None, max_cells=answers.DEFAULT_FACET_CELLS):
        """Small multiples: panels of a slice along `axis` or over `steps` (see http_api.md)."""
        return answers.facets(self._scanned_reader(), run, tag, step, slice_text, axis, steps, max_cells)

    def tagstats_impl(self, run=None):
        """Per-tag statistics over steps from the known statistics (see http_api.md)."""
        return answers.tag_stats(self._scanned_reader(), run)

    def diff_impl(self, a, b, slice_text="", rtol=answers.DEFAULT_RTOL, atol=answers.DEFAULT_ATOL, max_cells=None):
        """A - B for a = (run, tag, step) and b likewise (see http_api.md)."""
        return answers.diff(self._scanned_reader(), a, b, slice_text, rtol, atol, max_cells)

    def alerts_impl(self, run=None):
        """{"alerts", "complete", "progress"}: what the statistics known within ALERTS_WAIT_SECONDS say."""
        reader = self._scanned_reader()
        if run is not None:
            reader.tags(run)  # NotFoundError for an unknown run
        found = answers.alerts(reader, run, timeout=ALERTS_WAIT_SECONDS)
        progress = reader.progress()
        statistics = progress["statistics"]
        return {"alerts": found, "complete": statistics["done"] == statistics["total"], "progress": progress}

    def divergence_impl(self, run, run2, rtol=answers.DEFAULT_RTOL, atol=answers.DEFAULT_ATOL):
        return answers.divergence(self._scanned_reader(), run, run2, rtol, atol)

    def rootcause_impl(self, run, step=None, inf=False):
        """The root cause of the first NaN (NaN/Inf with `inf`) in `run` (see http_api.md)."""
        return answers.root_cause(self._scanned_reader(), run, step, inf)

    def lineage_impl(self, run, tag, step):
        """One capture's op, origin, inputs and consumers (see http_api.md)."""
        return answers.lineage(self._scanned_reader(), run, tag, step)

    def health_impl(self, run, max_steps=answers.DEFAULT_HEALTH_STEPS, max_tags=answers.DEFAULT_HEALTH_TAGS):
        """The run's health overview, tags x steps, binned (see http_api.md)."""
        return answers.health(self._scanned_reader(), run, max_steps, max_tags)

    # -- HTTP routes: parameters in, a JSON payload (or a whole response) out --

    @_route
    def index_route(self, request, args):
        return self.index_impl()

    @_route
    def stats_route(self, request, args):
        return self.stats_impl(args.str("run"), args.str("tag"), args.int("step", None))

    @_route
    def value_route(self, request, args):
        fmt = args.format(("json", "binary", "npy"))
        if fmt == "npy" and args.max_cells() is not None:
            raise errors.InvalidArgumentError(
                "format=npy downloads exact values: max_cells (pooling) cannot be combined with it"
            )
        result = self.value_impl(
            args.str("run"), args.str("tag"), args.int("step"), args.str("slice", ""), args.max_cells()
        )
        if fmt == "npy":
            return http_replies.npy_reply(request, result)
        return http_replies.array_reply(request, fmt, result, result)

    @_route
    def histogram_route(self, request, args):
        bins = args.int("bins", answers.DEFAULT_BINS, low=1, high=answers.MAX_BINS)
        return self.histogram_impl(args.str("run"), args.str("tag"), args.int("step"), bins, args.str("slice", ""))

    @_route
    def histograms_route(self, request, args):
        return self.histograms_impl(
            args.str("run"),
            args.str("tag"),
            args.int("bins", answers.DEFAULT_BINS, low=1, high=answers.MAX_BINS),
            args.int("max_steps", answers.DEFAULT_HISTOGRAM_STEPS, low=1, high=answers.MAX_HISTOGRAM_STEPS),
            args.str("slice", ""),
        )

    @_route
    def facets_route(self, request, args):
        axis, first, last = args.int("axis", None, low=0, high=64), args.int("from", None), args.int("to", None)
        steps = None if first is None and last is None else (first, last)
        if steps is not None and (first is None or last is None or first > last):
            raise errors.InvalidArgumentError("parameters 'from' and 'to' must both be given, from <= to")
        result = self.facets_impl(
            args.str("run"),
            args.str("tag"),
            args.int("step", None),
            args.str("slice", ""),
            axis,
            steps,
            args.int("max_cells", answers.DEFAULT_FACET_CELLS, low=1, high=answers.MAX_ELEMENTS),
        )
        return http_replies.array_reply(request, args.format(), result, result)

    @_route
    def tagstats_route(self, request, args):
        return self.tagstats_impl(args.str("run", None))

    @_route
    def diff_route(self, request, args):
        a = (args.str("run"), args.str("tag"), args.int("step"))
        b = (args.str("run2", a[0]), args.str("tag2", a[1]), args.int("step2", a[2]))
        result = self.diff_impl(
            a,
            b,
            args.str("slice", ""),
            args.tolerance("rtol", answers.DEFAULT_RTOL),
            args.tolerance("atol", answers.DEFAULT_ATOL),
            args.max_cells(),
        )
        if args.str("values", "1") == "0":
            del result["diff"]
            return result
        return http_replies.array_reply(request, args.format(), result, result["diff"])

    @_route
    def alerts_route(self, request, args):
        return self.alerts_impl(args.str("run", None))

    @_route
    def divergence_route(self, request, args):
        return self.divergence_impl(
            args.str("run"),
            args.str("run2"),
            args.tolerance("rtol", answers.DEFAULT_RTOL),
            args.tolerance("atol", answers.DEFAULT_ATOL),
        )

    @_route
    def rootcause_route(self, request, args):
        inf = args.str("inf", "0")
        if inf not in ("0", "1"):
            raise errors.InvalidArgumentError("parameter 'inf' must be 0 or 1, got %r" % inf)
        return self.rootcause_impl(args.str("run"), args.int("step", None), inf == "1")

    @_route
    def health_route(self, request, args):
        limit = answers.MAX_HEALTH_CELLS
        return self.health_impl(
            args.str("run"),
            args.int("max_steps", answers.DEFAULT_HEALTH_STEPS, low=1, high=limit),
            args.int("max_tags", answers.DEFAULT_HEALTH_TAGS, low=1, high=limit),
        )

    @_route
    def lineage_route(self, request, args):
        return self.lineage_impl(args.str("run"), args.str("tag"), args.int("step"))

    @wrappers.Request.application
    def static_route(self, request):
        """Serves a file of frontend/, refusing any path that leaves it."""
        relative = request.path.split("/static/", 1)[-1] if "/static/" in request.path else ""
        if "\x00" in relative:  # os.path.realpath raises ValueError on NUL bytes
            return http_replies.error_reply(request, 404, "no static file %r" % relative)
        root = os.path.realpath(_FRONTEND_DIR)
        path = os.path.realpath(os.path.join(root, relative))
        if not relative or not path.startswith(root + os.sep) or not os.path.isfile(path):
            return http_replies.error_reply(request, 404, "no static file %r" % relative)
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
    alerts are ready when asked for. `stop()` ends it between two refreshes
    (the interruptible wait of TensorBoard's debugger_v2 multiplexer).
    """

    def __init__(self, reader, reload_interval):
        self._reader = reader
        self._interval = reload_interval
        self._thread = None
        self._first_scan_done = threading.Event()
        self._stopping = threading.Event()

    def start(self):
        if self._interval < 0:
            self._first_scan_done.set()
            return
        self._thread = threading.Thread(target=self._run, name="tensorcap-refresh", daemon=True)
        self._thread.start()

    def stop(self, timeout=None):
        """Stops refreshing; waits up to `timeout` seconds for a refresh under way to end."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_first_scan(self, timeout):
        """Waits up to `timeout` seconds for the first scan of the logdir; whether it is done."""
        return self._first_scan_done.wait(timeout)

    def _run(self):
        while not self._stopping.is_set():
            try:
                self._reader.refresh()
                self._first_scan_done.set()
                self._warm_stats()
            except Exception:  # keep reloading after an unexpected failure
                logger.exception("TensorCap: refreshing %s failed", self._reader.logdir)
            if self._interval <= 0 or self._stopping.wait(self._interval):
                return

    def _warm_stats(self):
        self._reader.compute_stats(stop=self._stopping)
