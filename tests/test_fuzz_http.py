"""Every route fuzzed with random and malformed parameters (hypothesis), through
TensorBoard's real WSGI app: no 5xx, every 4xx a JSON {"error": str}, replies
bounded in size, slices exactly numpy's, static paths never leaving frontend/.

Examples are few per test (`settings` below) so that the file stays well under
a minute on a 2-core machine.
"""

import json
import os
import string
import urllib.parse

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import SAMPLE_STEPS, WsgiTensorBoard, sample_value

from tb_tensorcap import answers, plugin

P = "/data/plugin/tensorcap"
FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
ROUTE_FUZZ = settings(FUZZ, max_examples=150)

RUNS = ["base", "changed"]
TAGS = [
    "loss",
    "layer1/out",
    "layer2/out",
    "conv/act",
    "half/bf16",
    "complex",
    "mask",
    "words",
    "<img src=x onerror=alert(1)>",
]
# Every reply of the sample logdir is small; a reply above this is unbounded.
MAX_SAMPLE_REPLY = 1 << 20


# -- strategies ---------------------------------------------------------------------

WEIRD_TEXT = [
    "",
    " ",
    "%",
    "%zz",
    "\x00",
    "..",
    "../base",
    "ünïcødé/名前",
    "<script>",
    "'",
    '"',
    "\\",
    "9" * 5000,
    "-0",
    "+1",
    "0x10",
    "1e5",
    "1.5",
    "nan",
    "inf",
    "-inf",
    "1_000",
    "٣",
    "½",
    "True",
    "null",
    "[]",
    "{}",
    "a" * 3000,
]


def names(real):
    return st.one_of(st.sampled_from(real), st.sampled_from(WEIRD_TEXT), st.text(max_size=20))


integers_as_text = st.one_of(
    st.integers(-3, SAMPLE_STEPS + 3).map(str),
    st.integers().map(str),
    st.integers(min_value=1 << 62, max_value=1 << 70).map(lambda i: str(i * (1 if i % 2 else -1))),
    st.sampled_from(WEIRD_TEXT),
    st.text(alphabet="0123456789+- _.e", max_size=12),
)

SLICE_PARTS = [
    ":",
    "::",
    "::-1",
    "...",
    "1:3",
    "-1:",
    "::2",
    "1e5",
    "",
    " ",
    "0:99999999999999999999999",
    "::-99999999999999999999999",
    "[",
    "]",
    "a",
    "1.5",
    "--1",
    "+3",
    "0x10",
    "½",
    "٣",
    "1:2:3:4",
    "::0",
    "9" * 5000,
    ": :",
    "-0",
    "3,:,::-1",
    "...,...",
    "[0]",
    "None",
]
slices = st.one_of(
    st.lists(
        st.one_of(
            st.sampled_from(SLICE_PARTS),
            st.integers(-8, 8).map(str),
            st.integers().map(str),
            st.text(alphabet=string.digits + ":-+. ", max_size=8),
        ),
        max_size=7,
    ).map(",".join),
    st.text(max_size=20),
    st.sampled_from(["3,:,::-1", "...,...", "1e5", ",".join([":"] * 40), "[1,2]", "9" * 5000]),
)
floats_as_text = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "1e400", "-0", "1e-300", "abc", "nan", "-1", "9" * 5000, "0x1p-3", "１"]),
)


def optional(strategy):
    return st.one_of(st.none(), strategy)


def query(**params):
    """A strategy of query strings over `params` (name -> strategy; None values are left out)."""
    return st.fixed_dictionaries({k: optional(v) for k, v in params.items()}).map(
        lambda d: urllib.parse.urlencode({k: v for k, v in d.items() if v is not None})
    )


ROUTES = {
    "/index": query(junk=st.text(max_size=10)),
    "/stats": query(run=names(RUNS), tag=names(TAGS), step=integers_as_text),
    "/value": query(
        run=names(RUNS),
        tag=names(TAGS),
        step=integers_as_text,
        slice=slices,
        format=st.sampled_from(["json", "binary", "", "xml", "BINARY"]),
        max_cells=integers_as_text,
    ),
    "/histogram": query(run=names(RUNS), tag=names(TAGS), step=integers_as_text, bins=integers_as_text, slice=slices),
    "/histograms": query(
        run=names(RUNS), tag=names(TAGS), bins=integers_as_text, max_steps=integers_as_text, slice=slices
    ),
    "/facets": query(
        run=names(RUNS),
        tag=names(TAGS),
        step=integers_as_text,
        slice=slices,
        axis=integers_as_text,
        **{"from": integers_as_text, "to": integers_as_text},
        max_cells=integers_as_text,
        format=st.sampled_from(["json", "binary", "x"]),
    ),
    "/tagstats": query(run=names(RUNS)),
    "/diff": query(
        run=names(RUNS),
        tag=names(TAGS),
        step=integers_as_text,
        run2=names(RUNS),
        tag2=names(TAGS),
        step2=integers_as_text,
        slice=slices,
        rtol=floats_as_text,
        atol=floats_as_text,
        format=st.sampled_from(["json", "binary", "x"]),
        max_cells=integers_as_text,
        values=st.sampled_from(["0", "1", "", "no"]),
    ),
    "/alerts": query(run=names(RUNS)),
    "/divergence": query(run=names(RUNS), run2=names(RUNS), rtol=floats_as_text, atol=floats_as_text),
    "/rootcause": query(run=names(RUNS), step=integers_as_text, inf=st.sampled_from(["0", "1", "", "true"])),
    "/lineage": query(run=names(RUNS), tag=names(TAGS), step=integers_as_text),
}


def check_reply(reply, what, max_bytes=MAX_SAMPLE_REPLY, routed=True):
    """No 5xx; a 4xx is JSON {"error": str}; a 200 is well-formed and bounded.

    `routed=False`: the path may not reach the plugin at all (TensorBoard's
    own plain-text 404 is then fine).
    """
    status, body = reply.status_code, reply.get_data()
    assert status < 500, (what, status, body[:500])
    assert len(body) <= max_bytes, (what, status, len(body))
    if status == 404 and not routed and reply.headers["Content-Type"].startswith("text/plain"):
        return {"error": body.decode()}
    if status >= 400:
        assert reply.headers["Content-Type"].startswith("application/json"), (what, reply.headers)
        error = json.loads(body)
        assert set(error) == {"error"} and isinstance(error["error"], str) and error["error"], (what, error)
        return error
    assert status == 200, (what, status)
    if not routed:  # a static file
        return None
    if reply.headers["Content-Type"].startswith("application/json"):
        return json.loads(body)
    assert reply.headers["Content-Type"] == "application/octet-stream", (what, reply.headers)
    shape = [int(n) for n in reply.headers["X-TensorCap-Shape"].split(",") if n]
    itemsize = np.dtype(reply.headers["X-TensorCap-Dtype"].replace("bfloat16", "uint16")).itemsize
    assert len(body) == int(np.prod(shape, dtype=np.int64)) * itemsize, (what, shape, len(body))
    return None


# -- every route, random parameters ----------------------------------------------------


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_route_fuzz_never_5xx(sample_app, route):
    @ROUTE_FUZZ
    @given(ROUTES[route])
    def fuzz(query_string):
        check_reply(sample_app.get(P + route + "?" + query_string), route + "?" + query_string[:300])

    fuzz()


@ROUTE_FUZZ
@given(route=st.sampled_from(sorted(ROUTES)), raw=st.text(max_size=60))
def test_raw_malformed_query_strings(sample_app, route, raw):
    # Bytes as a client might send them: bad %-escapes, bare '&' and '=', NULs.
    query_string = urllib.parse.quote(raw, safe="=&%+;")
    check_reply(sample_app.get(P + route + "?" + query_string), (route, query_string))


@pytest.mark.parametrize(
    "url",
    [
        "/value?run=base&tag=conv/act&step=0&slice=" + "9" * 5000,
        "/value?run=base&tag=conv/act&step=0&slice=0:" + "9" * 5000,
        "/value?run=base&tag=conv/act&step=0&slice=::-" + "9" * 5000,
        "/value?run=base&tag=loss&step=" + "9" * 5000,
        "/value?run=base&tag=conv/act&step=0&max_cells=" + "9" * 5000,
        "/histogram?run=base&tag=loss&step=0&bins=" + "9" * 5000,
        "/diff?run=base&tag=loss&step=0&rtol=" + "9" * 5000,
        "/value?run=base&tag=conv/act&step=0&slice=%ff",
        "/value?run=base%00&tag=loss&step=0",
        "/value?run=base&tag=loss&step=0&step=1&step=x",
        "/value?run=base&run=changed&tag=loss&step=0",
        "/value?run=base&tag=loss&step=0&slice=" + ",".join([":"] * 40),
        "/value?run=base&tag=conv/act&step=0&slice=" + ",".join(["..."] * 2),
    ],
)
def test_known_nasty_parameters(sample_app, url):
    result = check_reply(sample_app.get(P + url), url[:200])
    if "9" * 5000 in url or "%ff" in url or "%00" in url or ",..." in url or ":,:," in url:
        assert "error" in result, (url[:200], result)


# -- slices agree with numpy ------------------------------------------------------------

CONV = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
bound = st.one_of(st.none(), st.integers(-7, 7))
index_entry = st.one_of(
    st.integers(-6, 6),
    st.builds(slice, bound, bound, st.one_of(st.none(), st.integers(-3, 3).filter(bool))),
    st.just(Ellipsis),
)


def slice_text(index, spaces):
    def entry(e):
        if e is Ellipsis:
            return "..."
        if isinstance(e, int):
            return str(e)
        text = "%s:%s" % ("" if e.start is None else e.start, "" if e.stop is None else e.stop)
        return text + ("" if e.step is None else ":%d" % e.step)

    return ("," + " " * spaces).join(entry(e) for e in index)


@FUZZ
@given(
    index=st.lists(index_entry, max_size=5).map(tuple),
    spaces=st.integers(0, 2),
    fmt=st.sampled_from(["json", "binary"]),
)
def test_slices_are_exactly_numpys(sample_app, index, spaces, fmt):
    text = slice_text(index, spaces)
    url = (
        P
        + "/value?"
        + urllib.parse.urlencode({"run": "base", "tag": "conv/act", "step": 0, "slice": text, "format": fmt})
    )
    reply = sample_app.get(url)
    result = check_reply(reply, url)
    try:
        expected = CONV[index]
    except IndexError:
        expected = None
    if expected is None:
        assert reply.status_code == 400, (text, result)
        return
    assert reply.status_code == 200, (text, result)
    expected = np.asarray(expected)
    if fmt == "json":
        assert result["shape"] == list(expected.shape) and result["full_shape"] == [2, 3, 4, 5]
        np.testing.assert_array_equal(np.array(result["data"], dtype=np.float64).reshape(expected.shape), expected)
    else:
        got = np.frombuffer(reply.get_data(), np.float64)
        assert reply.headers["X-TensorCap-Shape"] == ",".join(map(str, expected.shape))
        np.testing.assert_array_equal(got.reshape(expected.shape), expected)


@FUZZ
@given(
    step=st.integers(0, 4),
    slice_index=st.sampled_from(
        [
            ("", ()),
            ("1", (1,)),
            (":, 3", (slice(None), 3)),
            ("::-1, ::2", (slice(None, None, -1), slice(None, None, 2))),
            ("-1:, 1:7:3", (slice(-1, None), slice(1, 7, 3))),
        ]
    ),
    run2=st.sampled_from(RUNS),
    step2=st.integers(0, 4),
)
def test_diff_values_are_exact(sample_app, step, slice_index, run2, step2):
    slice_, index = slice_index
    url = (
        P
        + "/diff?"
        + urllib.parse.urlencode(
            {
                "run": "base",
                "tag": "layer2/out",
                "step": step,
                "run2": run2,
                "step2": step2,
                "slice": slice_,
                "format": "binary",
            }
        )
    )
    reply = sample_app.get(url)
    check_reply(reply, url)
    assert reply.status_code == 200, reply.get_data()
    a, b = sample_value("base", step).astype(np.float64), sample_value(run2, step2).astype(np.float64)
    expected = a[index] - b[index]
    if 3 in (step, step2):  # NaN/±Inf at [0, :3] of step 3
        return
    got = np.frombuffer(reply.get_data(), np.float64).reshape(expected.shape)
    np.testing.assert_array_equal(got, expected)


# -- static files ---------------------------------------------------------------------

TRAVERSALS = [
    "../plugin.py",
    "../../setup.py",
    "../../README.md",
    "%2e%2e/setup.py",
    "%2e%2e/%2e%2e/setup.py",
    "..%2fsetup.py",
    "..%2f..%2fsetup.py",
    "%2e%2e%2fsetup.py",
    "%252e%252e/setup.py",
    "%252e%252e%252fsetup.py",
    "..%252f..%252fsetup.py",
    "//etc/passwd",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "%2F%2Fetc%2Fpasswd",
    "..\\..\\setup.py",
    "..%5c..%5csetup.py",
    "%5c%5cetc%5cpasswd",
    "....//....//setup.py",
    ".../setup.py",
    "views/../../setup.py",
    "views/%2e%2e/%2e%2e/setup.py",
    "./../setup.py",
    "%00",
    "index.js%00.png",
    "..%00/setup.py",
    "%c0%ae%c0%ae/setup.py",
    "%e0%80%ae%e0%80%ae/setup.py",
    "..;/setup.py",
    "",
    ".",
    "..",
    "views",
    "nope.js",
    "\u2025/setup.py",
    "%ef%bc%8e%ef%bc%8e/setup.py",
    "../../../../../../../../etc/passwd",
    "..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
]


def frontend_files():
    root = os.path.realpath(plugin._FRONTEND_DIR)
    return {os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs}


@pytest.mark.parametrize("attempt", TRAVERSALS)
def test_static_traversal_is_refused(sample_app, attempt):
    reply = sample_app.get(P + "/static/" + attempt)
    error = check_reply(reply, attempt, routed=False)
    assert reply.status_code == 404, (attempt, reply.status_code, reply.get_data()[:200])
    assert "error" in error
    assert b"root:" not in reply.get_data() and b"import" not in reply.get_data()


def test_static_serves_only_frontend_files(sample_app):
    files = frontend_files()
    assert "index.js" in files
    for name in sorted(files):
        reply = sample_app.get(P + "/static/" + name)
        assert reply.status_code == 200, name
        with open(os.path.join(plugin._FRONTEND_DIR, name), "rb") as f:
            assert reply.get_data() == f.read(), name


@FUZZ
@given(
    path=st.lists(
        st.sampled_from(
            [
                "..",
                ".",
                "%2e%2e",
                "%2e",
                "%252e%252e",
                "views",
                "index.js",
                "",
                "%2f",
                "%5c",
                "\\",
                "etc",
                "passwd",
                "setup.py",
                "%00",
                "名前",
                "~",
            ]
        ),
        min_size=1,
        max_size=8,
    ).map("/".join)
)
def test_static_fuzzed_paths_serve_frontend_files_or_404(sample_app, path):
    reply = sample_app.get(P + "/static/" + path)
    check_reply(reply, path, routed=False)
    assert reply.status_code in (200, 404), (path, reply.status_code)
    if reply.status_code == 200:
        # Whatever was served is byte-for-byte one of frontend/'s files.
        contents = set()
        for name in frontend_files():
            with open(os.path.join(plugin._FRONTEND_DIR, name), "rb") as f:
                contents.add(f.read())
        assert reply.get_data() in contents, path


# -- replies to huge values are bounded -------------------------------------------------

HUGE = 17_000_000  # uint8 elements: more than answers.MAX_ELEMENTS (16,777,216)


def huge_value():
    return (np.arange(HUGE, dtype=np.int64) % 251).astype(np.uint8)


@pytest.fixture(scope="module")
def huge_app(tmp_path_factory):
    import tensorflow as tf

    import tb_tensorcap as tensorcap

    logdir = tmp_path_factory.mktemp("huge")
    writer = tf.summary.create_file_writer(str(logdir / "big"))
    tensorcap.capture(huge_value(), "huge", step=0, writer=writer)
    tensorcap.capture(huge_value().reshape(1000, 17000), "huge2d", step=0, writer=writer)
    writer.close()
    app = WsgiTensorBoard(logdir)
    app.wait_complete()
    return app


def test_huge_value_without_slice_is_refused_naming_the_limit(huge_app):
    assert HUGE > answers.MAX_ELEMENTS
    for fmt in ("json", "binary"):
        for tag in ("huge", "huge2d"):
            reply = huge_app.get(P + "/value?run=big&tag=%s&step=0&format=%s" % (tag, fmt))
            error = check_reply(reply, (tag, fmt), max_bytes=4096)
            assert reply.status_code == 400
            assert str(answers.MAX_ELEMENTS) in error["error"] and "slice" in error["error"], error
    diff = huge_app.get(P + "/diff?run=big&tag=huge&step=0&format=binary")
    assert diff.status_code == 400 and str(answers.MAX_ELEMENTS) in diff.get_json()["error"]


def test_huge_value_is_pooled_small_with_max_cells(huge_app):
    value = huge_value()
    reply = huge_app.get(P + "/value?run=big&tag=huge&step=0&max_cells=1000")
    result = check_reply(reply, "pooled json", max_bytes=64 << 10)
    assert result["full_shape"] == [HUGE] and result["dtype"] == "float64"
    (factor,) = result["pooled"]
    assert len(result["data"]) == result["shape"][0] <= 1000
    assert factor == -(-HUGE // 1000)
    assert result["data"][0] == pytest.approx(value[:factor].astype(np.float64).mean())
    assert result["data"][-1] == pytest.approx(value[(len(result["data"]) - 1) * factor :].astype(np.float64).mean())

    binary = huge_app.get(P + "/value?run=big&tag=huge2d&step=0&max_cells=4096&format=binary")
    check_reply(binary, "pooled binary", max_bytes=4096 * 4)
    fy, fx = map(int, binary.headers["X-TensorCap-Pooled"].split(","))
    shape = [int(n) for n in binary.headers["X-TensorCap-Shape"].split(",")]
    assert shape[0] * shape[1] <= 4096 and binary.headers["X-TensorCap-Dtype"] == "float32"
    cells = np.frombuffer(binary.get_data(), np.float32).reshape(shape)
    block = value.reshape(1000, 17000)[:fy, :fx].astype(np.float64)
    assert cells[0, 0] == pytest.approx(block.mean(), rel=1e-6)


def test_huge_value_slices_are_exact_and_small(huge_app):
    value = huge_value()
    reply = huge_app.get(P + "/value?run=big&tag=huge&step=0&slice=16999990:&format=binary")
    check_reply(reply, "tail slice", max_bytes=10)
    assert reply.get_data() == value[16999990:].tobytes()
    reply = huge_app.get(P + "/value?run=big&tag=huge2d&step=0&slice=999,::1000")
    result = check_reply(reply, "strided row", max_bytes=4096)
    assert result["data"] == value.reshape(1000, 17000)[999, ::1000].tolist()
    # Statistics and histograms of the whole value are small replies.
    stats = check_reply(huge_app.get(P + "/stats?run=big&tag=huge&step=0"), "stats", max_bytes=4096)
    assert stats["steps"][0]["numel"] == HUGE and stats["steps"][0]["max"] == 250
    hist = check_reply(huge_app.get(P + "/histogram?run=big&tag=huge&step=0&bins=1000"), "hist", max_bytes=1 << 17)
    assert sum(b["count"] for b in hist["bins"]) == HUGE


def test_huge_diff_is_refused_before_it_is_computed(huge_app, monkeypatch):
    from tb_tensorcap import analysis

    calls = []
    real_diff = analysis.diff
    monkeypatch.setattr(analysis, "diff", lambda *a, **k: calls.append(1) or real_diff(*a, **k))
    reply = huge_app.get(P + "/diff?run=big&tag=huge&step=0&values=0")
    assert reply.status_code == 400 and str(answers.MAX_ELEMENTS) in reply.get_json()["error"]
    assert calls == [], "a diff too large to send was computed (hundreds of MB) before being refused"
    small = huge_app.get(P + "/diff?run=big&tag=huge&step=0&slice=:1000&values=0")
    assert small.status_code == 200 and small.get_json()["stats"]["allclose"] is True and calls == [1]
