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

import logging
import math
import os
import re
import shutil
import sys

import numpy as np

from tb_tensorcap import answers, capture_info, cli_parser, codec, root_cause_report, slicing
from tb_tensorcap import reader as reader_lib
from tb_tensorcap.cli_output import (
    DIFF_REASONS,
    ProgressBar,
    capture_name,
    decoded,
    number,
    print_json,
    print_table,
    progress,
    shape_text,
    source_cell,
)


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
        return print_json({"runs": listing})
    rows = [
        (
            run,
            tag,
            len(f["steps"]),
            f["repeats"],
            "%d..%d" % (f["steps"][0], f["steps"][-1]),
            f["dtype"],
            shape_text(f["shape"]),
            source_cell(f["source"], args.long),
        )
        for run, tags in listing.items()
        for tag, f in tags.items()
    ]
    print_table(("run", "tag", "steps", "repeats", "first..last", "dtype", "shape", "source"), rows)
    if any(f["repeats"] for tags in listing.values() for f in tags.values()):
        print(
            "repeats: captures written again at a step already captured; all are kept: `show --repeat K` "
            "reads one, alerts and divergence read all (a frozen step inside tf.function is the usual cause; "
            "a flight recorder writes a kept step's full values after its health record)"
        )
    return 0


def _stats(args):
    reader = _load(args.logdir)
    with ProgressBar("statistics") as bar:
        result = answers.stats(reader, args.run, args.tag, args.step, progress=bar)
    if args.json:
        return print_json(result)
    rows = result["steps"]
    columns = ("step", "dtype", "shape", "numel", "min", "max", "mean", "std", "nan", "posinf", "neginf", "zeros")
    table = [[number(r[c]) if c != "shape" else shape_text(r[c]) for c in columns] for r in rows]
    if any(r["kind"] == "health" for r in rows):  # health mode: say which steps kept no value
        columns += ("kept",)
        for line, row in zip(table, rows):
            line.append("statistics only" if row["kind"] == "health" else "values")
    print_table(columns, table)
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
        return print_json(dict(result, data=codec.json_values(array)))
    print(
        "%s:%s:%d  %s %s%s  from %s"
        % (
            args.run,
            args.tag,
            step,
            result["dtype"],
            shape_text(result["full_shape"]),
            "" if canonical == "..." else "  [%s] -> %s" % (canonical, shape_text(array.shape)),
            capture_info.source_text(result["source"]),
        )
    )
    if repeats > 1:
        print(
            "capture %d of %d at this step (--repeat K chooses; the default is the last)"
            % (result["repeat"] + 1, repeats)
        )
    if array.dtype == object:
        array = np.vectorize(decoded, otypes=[object])(array)
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
    # A step captured several times: the last is step_N, as everywhere; an .npz also holds the
    # earlier ones, as step_N_repeat_K (K from 0), so that nothing on disk is left out.
    every = infos if single else [c for i in infos for c in reader.step_captures(i.run, i.tag, i.step)]
    last = {i.step: i for i in infos}
    arrays = {}
    for info in progress(every, "reading"):
        key = (
            "step_%d" % info.step
            if info.repeat == last[info.step].repeat
            else "step_%d_repeat_%d" % (info.step, info.repeat)
        )
        arrays[key] = codec.npy_exact(reader.value(info.run, info.tag, info.step, info.repeat))
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
        "arrays": sorted(arrays),
        "dtype": infos[-1].dtype,
        "saved_dtypes": sorted({str(a.dtype) for a in arrays.values()}),
    }
    if args.json:
        return print_json(saved)
    print("wrote %s: %d step(s) of %s:%s (%s)" % (args.output, len(steps), args.run, args.tag, infos[-1].dtype))
    repeats = len(arrays) - len(steps) if not single else len(reader.step_captures(args.run, args.tag, steps[0])) - 1
    if repeats:
        print(
            "%d capture(s) repeat a step: %s"
            % (
                repeats,
                "the .npz holds them as step_N_repeat_K"
                if not single
                else "the last is written; an .npz holds them all",
            )
        )
    if infos[-1].dtype == "bfloat16":
        print("bfloat16 is stored as its raw uint16 bits: np.load(...).view(ml_dtypes.bfloat16)")
    return 0


def _diff(args):
    a = args.a
    if None in a:
        raise CommandError("A must name RUN:TAG:STEP in full, got %r" % capture_name(a))
    reader = _load(args.logdir)
    b = tuple(mine if mine is not None else theirs for mine, theirs in zip(args.b, a))
    result = answers.diff(reader, a, b, args.slice, args.rtol, args.atol, with_values=False)
    sliced_shape = result.pop("diff")["shape"]
    stats, canonical = result["stats"], result["slice"]
    if args.json:
        print_json(result)
    else:
        for label, capture, side in (("A", a, result["a"]), ("B", b, result["b"])):
            print("%s  %s  %s %s" % (label, capture_name(capture), side["dtype"], shape_text(side["shape"])))
        if canonical != "...":
            print("slice  [%s] -> %s" % (canonical, shape_text(sliced_shape)))
        columns = ("numel", "outside", "nonfinite_mismatch", "max_abs", "mean_abs", "max_rel")
        print_table(
            columns + ("argmax",),
            [
                [number(stats[k]) for k in columns]
                + [shape_text(stats["argmax"]) if stats["argmax"] is not None else "-"]
            ],
        )
        verdict = "allclose" if stats["allclose"] else "NOT allclose: %s" % DIFF_REASONS[stats["reason"]]
        print("%s (rtol=%g, atol=%g)" % (verdict, args.rtol, args.atol))
    return 0 if stats["allclose"] else 1


def _divergence(args):
    reader = _load(args.logdir)
    with ProgressBar("comparing") as bar:
        result = answers.divergence(reader, args.run, args.run2, args.rtol, args.atol, progress=bar)
    if args.json:
        print_json(result)
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
                capture_info.source_text(first["source"]),
            )
            if first["reason"] in ("shape", "dtype"):
                detail = "%s (%s vs %s): not comparable element-wise" % (
                    DIFF_REASONS[first["reason"]],
                    shape_text(first["shape"]),
                    shape_text(first["shape2"]),
                )
            elif first.get("compared") == "statistics":  # one side kept only statistics (health mode)
                detail = "%s: %d statistics outside tolerance, NaN/Inf counts differ by %d, max_abs %s (over %s)" % (
                    DIFF_REASONS[first["reason"]],
                    first["outside"],
                    first["nonfinite_mismatch"],
                    number(first["max_abs"]),
                    "the zero count and finite min, max, mean, std",
                )
            else:
                detail = (
                    "%s: %d of %d elements outside tolerance, %d differ in finiteness, max_abs %s "
                    "(over finite pairs)"
                    % (
                        DIFF_REASONS[first["reason"]],
                        first["outside"],
                        math.prod(first["shape"]),
                        first["nonfinite_mismatch"],
                        number(first["max_abs"]),
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
        print_table(
            columns + ("reasons",),
            [[number(row[c]) for c in columns] + [",".join(row["reasons"]) or "-"] for row in result["tags"]],
        )
        for key, run in (("only_in_run", args.run), ("only_in_run2", args.run2)):
            if result[key]:
                print("only in %s: %s" % (run, ", ".join(result[key])))
    return 0 if result["first"] is None else 1


def _alerts(args):
    reader = _load(args.logdir)
    numeric = answers.numeric_capture_count(reader, args.run)
    with ProgressBar("checking") as bar:
        found = answers.alerts(reader, args.run, progress=bar)
    if args.json:
        print_json({"alerts": found})
    elif found:
        print_table(
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
                    source_cell(a["source"], False),
                ]
                for a in found
            ],
        )
    else:
        print("no NaN or Inf in %d numeric captures" % numeric)
    return 1 if found else 0


def _rootcause(args):
    reader = _load(args.logdir)
    run = args.run
    if run is None:
        runs = reader.runs()
        if len(runs) != 1:
            raise CommandError("LOGDIR holds %d runs (%s): name one as RUN" % (len(runs), ", ".join(runs)))
        run = runs[0]
    result = answers.root_cause(reader, run, args.step, args.inf)
    if args.json:
        print_json(result)
    else:
        print(root_cause_report.describe(result))
    return 0 if result["origin"] is None else 1


# -- helpers ----------------------------------------------------------------


def _load(logdir):
    """The reader of `logdir`, refusing a missing directory or one without captures."""
    if "://" not in logdir and not os.path.isdir(logdir):
        problem = "is not a directory" if os.path.exists(logdir) else "does not exist"
        raise CommandError("logdir %r %s" % (logdir, problem))
    reader = reader_lib.Reader(logdir)
    with ProgressBar("indexing") as bar:
        reader.refresh(progress=bar)
    if not reader.runs():
        errors = reader.listing_errors()
        raise CommandError("; ".join(errors.values()) if errors else "no TensorCap captures under logdir %r" % logdir)
    return reader


def main(argv=None):
    """Runs the command line `argv` (default: sys.argv[1:]); returns the exit status."""
    subcommands = {
        "ls": _ls,
        "stats": _stats,
        "show": _show,
        "export": _export,
        "diff": _diff,
        "divergence": _divergence,
        "alerts": _alerts,
        "rootcause": _rootcause,
    }
    args = cli_parser.build(subcommands).parse_args(argv)
    logging.basicConfig(format="tensorcap: warning: %(message)s")
    try:
        return args.func(args)
    except slicing.SliceError as e:
        print("tensorcap: error: bad slice: %s" % e, file=sys.stderr)
    except (CommandError, answers.InvalidQuestion, reader_lib.NotFoundError) as e:
        print("tensorcap: error: %s" % e, file=sys.stderr)
    except BrokenPipeError:  # a pager or `head` closed stdout early: exit as if killed by SIGPIPE
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as e:
        print("tensorcap: error: cannot read a capture: %s" % e, file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return 2
