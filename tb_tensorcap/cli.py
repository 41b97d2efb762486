"""The `tensorcap` command: TensorCap captures from the terminal.

    tensorcap ls runs/                         # runs, tags, steps, dtypes, shapes
    tensorcap stats runs/ healthy dense/out    # the tab's statistics table
    tensorcap show runs/ healthy dense/out --step 3 --slice '0, :5'
    tensorcap export runs/ healthy dense/out -o out.npz
    tensorcap diff runs/ healthy:dense/out:3 changed::
    tensorcap divergence runs/ healthy changed  # exit 1 if they part
    tensorcap alerts runs/                      # exit 1 on NaN / Inf
    tensorcap rootcause runs/ broken            # the op that made the NaN

Every answer comes from the same answers layer (`answers.py`) as the
TensorBoard tab, and `--json` prints the field names of its HTTP routes
(http_api.md). Imports neither TensorFlow nor the TensorBoard server.
"""

import argparse
import json
import logging
import math
import os
import re
import shutil
import sys
import textwrap
import time

import numpy as np
from tensorboard.backend import json_util

from tb_tensorcap import answers, codec, root_cause, slicing
from tb_tensorcap import reader as reader_lib

_EXAMPLES = """\
examples:
  tensorcap ls runs/ --tag 'dense.*'
  tensorcap stats runs/ healthy dense/out --step 3
  tensorcap show runs/ healthy conv/out --step 3 --slice '0, :, :, 0'
  tensorcap export runs/ healthy conv/out -o conv.npz
  tensorcap diff runs/ healthy:dense/out:3 changed:: --atol 1e-6
  tensorcap divergence runs/ healthy changed --json | jq .first
  tensorcap alerts runs/ || echo "NaN or Inf captured"
  tensorcap rootcause runs/ broken --inf

exit status: 0 ok (no difference, no alert); 1 a difference or an alert was
found (diff, divergence, alerts, rootcause); 2 a usage error, an unknown logdir, run, tag
or step, or an unreadable capture."""


class CommandError(Exception):
    """A problem with what the user asked for: reported in one line, exit 2."""


# -- subcommands ------------------------------------------------------------


def _ls(args):
    reader = _load(args.logdir)
    runs = [args.run] if args.run is not None else reader.runs()
    try:
        pattern = re.compile(args.tag or "")
    except re.error as e:
        raise CommandError("--tag %r is not a regular expression: %s" % (args.tag, e)) from None
    listing = {}
    for run in runs:
        tags = [t for t in reader.tags(run) if pattern.search(t)]
        listing[run] = {tag: answers.tag_facts(reader, run, tag) for tag in tags}
    if not any(listing.values()):
        raise CommandError("no tag matches --tag %r" % args.tag)
    if args.json:
        return _print_json({"runs": listing})
    rows = [
        (
            run,
            tag,
            len(f["steps"]),
            f["repeats"],
            "%d..%d" % (f["steps"][0], f["steps"][-1]),
            f["dtype"],
            _shape(f["shape"]),
            _source(f["source"], args.long),
        )
        for run, tags in listing.items()
        for tag, f in tags.items()
    ]
    _print_table(("run", "tag", "steps", "repeats", "first..last", "dtype", "shape", "source"), rows)
    if any(f["repeats"] for tags in listing.values() for f in tags.values()):
        print(
            "repeats: captures written again at a step already captured; all are kept: `show --repeat K` "
            "reads one, alerts and divergence read all (a frozen step inside tf.function is the usual cause)"
        )
    return 0


def _stats(args):
    reader = _load(args.logdir)
    with _ProgressBar("statistics") as bar:
        result = answers.stats(reader, args.run, args.tag, args.step, progress=bar)
    if args.json:
        return _print_json(result)
    rows = result["steps"]
    columns = ("step", "dtype", "shape", "numel", "min", "max", "mean", "std", "nan", "posinf", "neginf", "zeros")
    _print_table(columns, [[_number(r[c]) if c != "shape" else _shape(r[c]) for c in columns] for r in rows])
    return 0


def _show(args):
    reader = _load(args.logdir)
    step = args.step if args.step is not None else reader.steps(args.run, args.tag)[-1]
    result = answers.value(reader, args.run, args.tag, step, args.slice, repeat=args.repeat)
    array, canonical, repeats = result.pop("array"), result["slice"], result["captures_at_step"]
    if args.json:
        if array.size > answers.MAX_JSON_ELEMENTS:
            raise CommandError(
                "%d elements are too many for --json (at most %d): use --slice or export"
                % (array.size, answers.MAX_JSON_ELEMENTS)
            )
        return _print_json(dict(result, data=codec.json_values(array)))
    print(
        "%s:%s:%d  %s %s%s  from %s"
        % (
            args.run,
            args.tag,
            step,
            result["dtype"],
            _shape(result["full_shape"]),
            "" if canonical == "..." else "  [%s] -> %s" % (canonical, _shape(array.shape)),
            reader_lib.source_text(result["source"]),
        )
    )
    if repeats > 1:
        print(
            "capture %d of %d at this step (--repeat K chooses; the default is the last)"
            % (result["repeat"] + 1, repeats)
        )
    if array.dtype == object:
        array = np.vectorize(_decoded, otypes=[object])(array)
    elif result["dtype"] == "bfloat16":
        array = array.astype(np.float32)  # exact, and printed with its decimals
    threshold = sys.maxsize if args.full else 1000
    with np.printoptions(threshold=threshold, edgeitems=4, linewidth=shutil.get_terminal_size().columns):
        print(np.array2string(array))
    return 0


def _export(args):
    reader = _load(args.logdir)
    steps = [args.step] if args.step is not None else reader.steps(args.run, args.tag)
    infos = [reader.info(args.run, args.tag, s) for s in steps]
    single = args.output.endswith(".npy")
    if not single and not args.output.endswith(".npz"):
        raise CommandError("-o %r must end in .npy (one step) or .npz (steps as step_N)" % args.output)
    if single and len(infos) > 1:
        raise CommandError(
            "%s:%s has %d steps: choose one with --step, or write an .npz" % (args.run, args.tag, len(infos))
        )
    arrays = {
        "step_%d" % i.step: codec.npy_exact(reader.value(i.run, i.tag, i.step)) for i in _progress(infos, "reading")
    }
    try:
        if single:
            np.save(args.output, arrays["step_%d" % steps[0]])
        else:
            np.savez(args.output, **arrays)
    except OSError as e:
        raise CommandError("cannot write %r: %s" % (args.output, e.strerror or e)) from None
    saved = {
        "path": args.output,
        "run": args.run,
        "tag": args.tag,
        "steps": steps,
        "dtype": infos[-1].dtype,
        "saved_dtypes": sorted({str(a.dtype) for a in arrays.values()}),
    }
    if args.json:
        return _print_json(saved)
    print("wrote %s: %d step(s) of %s:%s (%s)" % (args.output, len(steps), args.run, args.tag, infos[-1].dtype))
    if infos[-1].dtype == "bfloat16":
        print("bfloat16 is stored as its raw uint16 bits: np.load(...).view(ml_dtypes.bfloat16)")
    return 0


def _diff(args):
    a = args.a
    if None in a:
        raise CommandError("A must name RUN:TAG:STEP in full, got %r" % _name(a))
    reader = _load(args.logdir)
    b = tuple(mine if mine is not None else theirs for mine, theirs in zip(args.b, a))
    result = answers.diff(reader, a, b, args.slice, args.rtol, args.atol, with_values=False)
    sliced_shape = result.pop("diff")["shape"]
    stats, canonical = result["stats"], result["slice"]
    if args.json:
        _print_json(result)
    else:
        for label, capture, side in (("A", a, result["a"]), ("B", b, result["b"])):
            print("%s  %s  %s %s" % (label, _name(capture), side["dtype"], _shape(side["shape"])))
        if canonical != "...":
            print("slice  [%s] -> %s" % (canonical, _shape(sliced_shape)))
        columns = ("numel", "outside", "nonfinite_mismatch", "max_abs", "mean_abs", "max_rel")
        _print_table(
            columns + ("argmax",),
            [[_number(stats[k]) for k in columns] + [_shape(stats["argmax"]) if stats["argmax"] is not None else "-"]],
        )
        verdict = "allclose" if stats["allclose"] else "NOT allclose: %s" % _REASONS[stats["reason"]]
        print("%s (rtol=%g, atol=%g)" % (verdict, args.rtol, args.atol))
    return 0 if stats["allclose"] else 1


def _divergence(args):
    reader = _load(args.logdir)
    with _ProgressBar("comparing") as bar:
        result = answers.divergence(reader, args.run, args.run2, args.rtol, args.atol, progress=bar)
    if args.json:
        _print_json(result)
    else:
        first = result["first"]
        print(
            "%s vs %s (rtol=%g, atol=%g): %d captures compared%s"
            % (
                args.run,
                args.run2,
                args.rtol,
                args.atol,
                result["compared"],
                ", %d without a partner at the same tag, step and repeat" % result["unpaired"]
                if result["unpaired"]
                else "",
            )
        )
        if first is None:
            print("no divergence")
        else:
            where = "%s at step %d%s (capture #%d, %s)" % (
                first["tag"],
                first["step"],
                " repeat %d" % first["repeat"] if first["repeat"] else "",
                first["order"],
                reader_lib.source_text(first["source"]),
            )
            if first["reason"] in ("shape", "dtype"):
                detail = "%s (%s vs %s): not comparable element-wise" % (
                    _REASONS[first["reason"]],
                    _shape(first["shape"]),
                    _shape(first["shape2"]),
                )
            else:
                detail = (
                    "%s: %d of %d elements outside tolerance, %d differ in finiteness, max_abs %s "
                    "(over finite pairs)"
                    % (
                        _REASONS[first["reason"]],
                        first["outside"],
                        math.prod(first["shape"]),
                        first["nonfinite_mismatch"],
                        _number(first["max_abs"]),
                    )
                )
            print("first divergence: %s: %s" % (where, detail))
        columns = (
            "tag",
            "steps_compared",
            "steps_outside",
            "first_step_outside",
            "nonfinite_mismatch",
            "max_abs",
            "max_rel",
            "unpaired",
        )
        _print_table(
            columns + ("reasons",),
            [[_number(row[c]) for c in columns] + [",".join(row["reasons"]) or "-"] for row in result["tags"]],
        )
        for key, run in (("only_in_run", args.run), ("only_in_run2", args.run2)):
            if result[key]:
                print("only in %s: %s" % (run, ", ".join(result[key])))
    return 0 if result["first"] is None else 1


def _alerts(args):
    reader = _load(args.logdir)
    numeric = answers.numeric_capture_count(reader, args.run)
    with _ProgressBar("checking") as bar:
        found = answers.alerts(reader, args.run, progress=bar)
    if args.json:
        _print_json({"alerts": found})
    elif found:
        _print_table(
            ("run", "tag", "step", "repeat", "order", "nan", "posinf", "neginf", "first", "source"),
            [
                [
                    a["run"],
                    a["tag"],
                    a["step"],
                    a["repeat"],
                    a["order"],
                    a["nan"],
                    a["posinf"],
                    a["neginf"],
                    "first" if a["first"] else "",
                    _source(a["source"], False),
                ]
                for a in found
            ],
        )
    else:
        print("no NaN or Inf in %d numeric captures" % numeric)
    return 1 if found else 0


def _rootcause(args):
    reader = _load(args.logdir)
    result = answers.root_cause(reader, args.run, args.step, args.inf)
    if args.json:
        _print_json(result)
    else:
        print(root_cause.describe(result))
    return 0 if result["origin"] is None else 1


# -- helpers ----------------------------------------------------------------


def _load(logdir):
    """The reader of `logdir`, refusing a missing directory or one without captures."""
    if "://" not in logdir and not os.path.isdir(logdir):
        problem = "is not a directory" if os.path.exists(logdir) else "does not exist"
        raise CommandError("logdir %r %s" % (logdir, problem))
    reader = reader_lib.Reader(logdir)
    with _ProgressBar("indexing") as bar:
        reader.refresh(progress=bar)
    if not reader.runs():
        errors = reader.listing_errors()
        raise CommandError("; ".join(errors.values()) if errors else "no TensorCap captures under logdir %r" % logdir)
    return reader


def _progress(items, label):
    """Yields `items`, drawing a progress bar on stderr when it is a terminal."""
    items = list(items)
    with _ProgressBar(label) as bar:
        for done, item in enumerate(items):
            bar(done, len(items))
            yield item


class _ProgressBar:
    """`bar(done, total)` draws a progress bar on stderr, only if it is a terminal."""

    def __init__(self, label):
        self._label = label
        self._enabled = sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, done, total):
        if not self._enabled or not total or time.monotonic() - self._last < 0.1:
            return
        self._last = time.monotonic()
        filled = 30 * done // total
        sys.stderr.write("\r%s [%s%s] %d/%d" % (self._label, "#" * filled, "." * (30 - filled), done, total))
        sys.stderr.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self._enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
        return False


_REASONS = {
    "values": "values differ",
    "nonfinite": "NaN/Inf differ",
    "shape": "shapes differ",
    "dtype": "dtypes differ",
}


def _decoded(data):
    """A string as text when it is UTF-8, else as the bytes it is."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def _source(source, long):
    """A capture's source for a table: "file:line", the file's base name unless `long`."""
    if source and not long:
        source = dict(source, file=os.path.basename(source.get("file", "?")))
    return reader_lib.source_text(source)


def _print_json(obj):
    print(json.dumps(json_util.Cleanse(obj), allow_nan=False))
    return 0


def _print_table(header, rows):
    rows = [[str(c) for c in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def _number(value):
    if value is None:
        return "-"
    return "%.6g" % value if isinstance(value, float) else str(value)


def _shape(shape):
    return "[%s]" % ", ".join(map(str, shape))


def _name(capture):
    return ":".join("" if part is None else str(part) for part in capture)


# -- arguments --------------------------------------------------------------


def _capture(text):
    """RUN:TAG:STEP, split at the first and the last colon (tags may hold colons)."""
    run, _, rest = text.partition(":")
    tag, colon, step = rest.rpartition(":")
    if not colon:
        raise argparse.ArgumentTypeError("%r is not RUN:TAG:STEP" % text)
    try:
        step = int(step) if step.strip() else None
    except ValueError:
        raise argparse.ArgumentTypeError("step %r of %r is not an integer" % (step, text)) from None
    return run or None, tag or None, step


def _tolerance(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError("must be a non-negative number, got %r" % text)
    return value


def _parser():
    parser = argparse.ArgumentParser(
        prog="tensorcap",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_EXAMPLES,
        description=textwrap.fill(
            "Read TensorCap captures from a TensorBoard logdir: list, print, export and "
            "compare them, and find NaN/Inf and where two runs part. Needs no TensorFlow."
        ),
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name, func, help, epilog, *positionals, description=None):
        sub = commands.add_parser(
            name,
            help=help,
            description=textwrap.fill(description or help),
            epilog="examples:\n" + epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument(
            "logdir",
            metavar="LOGDIR",
            help="the TensorBoard logdir (each directory holding event "
            "files is a run, named by its path inside LOGDIR)",
        )
        for metavar, text in positionals:
            sub.add_argument(metavar.lower(), metavar=metavar, help=text)
        sub.add_argument(
            "--json",
            action="store_true",
            help="print one JSON object instead, with the field names of the plugin's HTTP "
            "routes (NaN/Inf as \"NaN\", \"Infinity\", \"-Infinity\")",
        )
        sub.set_defaults(func=func)
        return sub

    run, tag = ("RUN", "run name, as `tensorcap ls` prints it"), ("TAG", "exact tag name")
    step_help = "the step (default: %s)"
    slice_help = "numpy-style index such as '3, :, ::2' or '..., 0' (missing trailing axes are ':')"

    sub = command(
        "ls",
        _ls,
        "list runs, tags, step ranges, dtypes and shapes (reads no values)",
        "  tensorcap ls runs/\n  tensorcap ls runs/ --run healthy --tag '^dense/'",
    )
    sub.add_argument("--run", help="only this run")
    sub.add_argument("--tag", metavar="REGEX", help="only tags where REGEX matches (re.search)")
    sub.add_argument("--long", action="store_true", help="show each source file's full path")

    sub = command(
        "stats",
        _stats,
        "statistics of a tag per step: numel, min, max, mean, std (over finite "
        "elements), NaN/+Inf/-Inf and zero counts",
        "  tensorcap stats runs/ healthy dense/out --step 3",
        run,
        tag,
    )
    sub.add_argument("--step", type=int, help=step_help % "every step")

    sub = command(
        "show",
        _show,
        "print a captured value, numpy-style (large values elided with '...')",
        "  tensorcap show runs/ healthy conv/out --step 3 --slice '0, :, :, 0' --full",
        run,
        tag,
    )
    sub.add_argument("--step", type=int, help=step_help % "the last step")
    sub.add_argument(
        "--repeat",
        type=int,
        help="which capture at the step, from 0, when it was captured "
        "several times (default: the last, as TensorBoard shows)",
    )
    sub.add_argument("--slice", default="", help=slice_help)
    sub.add_argument("--full", action="store_true", help="print every element")

    sub = command(
        "export",
        _export,
        "write exact values to .npy or .npz files (bfloat16 as its uint16 bits)",
        "  tensorcap export runs/ healthy dense/out --step 3 -o out.npy\n"
        "  tensorcap export runs/ healthy dense/out -o all.npz\n"
        "  python -c \"import numpy as np; print(np.load('all.npz')['step_3'])\"\n"
        "  bits = np.load('bf16.npy')                  # bfloat16 back from its bits:\n"
        "  bits.view(ml_dtypes.bfloat16)               # exact, with ml_dtypes\n"
        "  (bits.astype(np.uint32) << 16).view(np.float32)  # exact, with numpy only",
        run,
        tag,
        description="write exact values to a numpy file: one step to .npy, every step (or "
        "--step) to .npz with keys step_N. bfloat16 is saved as its raw uint16 bits; strings as "
        "fixed-width bytes (dtype S), or as an object array of bytes (np.load(..., allow_pickle=True)) "
        "when a string ends in a NUL byte, which dtype S would drop.",
    )
    sub.add_argument("--step", type=int, help=step_help % "every step, for .npz")
    sub.add_argument("-o", "--output", required=True, metavar="FILE", help="FILE.npy or FILE.npz")

    compare_help = (
        "the capture, as RUN:TAG:STEP: the run ends at the first ':' and the step follows the last, "
        "so tags may contain ':' (runs may not)"
    )
    sub = command(
        "diff",
        _diff,
        "compare two captures element-wise (A - B); exit status 1 unless allclose",
        "  tensorcap diff runs/ healthy:dense/out:3 changed:dense/out:3\n"
        "  tensorcap diff runs/ healthy:dense/out:3 changed::      # same tag and step in changed\n"
        "  tensorcap diff runs/ healthy:dense/out:3 ::4 --slice '0, :'  # step 4 of the same tag",
    )
    sub.add_argument("a", metavar="A", type=_capture, help=compare_help)
    sub.add_argument("b", metavar="B", type=_capture, help="the other capture, RUN:TAG:STEP; an empty field takes A's")
    sub.add_argument("--slice", default="", help=slice_help + "; applies to both")
    _tolerances(sub)

    sub = command(
        "divergence",
        _divergence,
        "find where RUN2 first parts from RUN, walking RUN by step and capture order; exit status 1 if it does",
        "  tensorcap divergence runs/ healthy changed --atol 1e-6",
        run,
        ("RUN2", "the run compared with RUN"),
    )
    _tolerances(sub)

    sub = command(
        "alerts",
        _alerts,
        "list every capture holding NaN or Inf; exit status 1 if any",
        "  tensorcap alerts runs/ --run nan_run",
    )
    sub.add_argument("--run", help="only this run")

    sub = command(
        "rootcause",
        _rootcause,
        "find the op that made the first NaN: walk back from it through "
        "inputs holding NaN/Inf to the op whose inputs were finite (needs the lineage record() "
        "stores); exit status 1 if found, 0 if the run is clean",
        "  tensorcap rootcause runs/ broken\n  tensorcap rootcause runs/ broken --step 173 --inf --json\n"
        "  tensorcap rootcause runs/ job      # workers job/worker_0, job/worker_1, ...",
        ("RUN", "run name, or a group whose worker runs (RUN/worker_0, ...) are compared"),
    )
    sub.add_argument("--step", type=int, help=step_help % "the first step holding NaN")
    sub.add_argument("--inf", action="store_true", help="start from NaN or +-Inf, not only NaN")
    return parser


def _tolerances(parser):
    parser.add_argument("--rtol", type=_tolerance, default=1e-5, help="relative tolerance (default 1e-5)")
    parser.add_argument(
        "--atol",
        type=_tolerance,
        default=1e-8,
        help="absolute tolerance (default 1e-8): close means |A - B| <= atol + rtol * |B|, NaN matching NaN",
    )


def main(argv=None):
    """Runs the command line `argv` (default: sys.argv[1:]); returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(format="tensorcap: warning: %(message)s")
    try:
        return args.func(args)
    except (CommandError, answers.InvalidQuestion, reader_lib.NotFoundError, slicing.SliceError) as e:
        print("tensorcap: error: %s" % e, file=sys.stderr)
    except BrokenPipeError:  # a pager or `head` closed stdout early: exit as if killed by SIGPIPE
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as e:
        print("tensorcap: error: cannot read a capture: %s" % e, file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return 2
