"""The `tensorcap` command's arguments: subcommands, help texts, argument types.

`cli.py` runs the subcommands; this module only says what they accept.
"""

import argparse
import math
import textwrap

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


def build(subcommands):
    """The `tensorcap` parser; `subcommands` maps each subcommand's name to the function that runs it."""
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

    def command(name, help, epilog, *positionals, description=None):
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
        sub.set_defaults(func=subcommands[name])
        return sub

    run, tag = ("RUN", "run name, as `tensorcap ls` prints it"), ("TAG", "exact tag name")
    step_help = "the step (default: %s)"
    slice_help = "numpy-style index such as '3, :, ::2' or '..., 0' (missing trailing axes are ':')"

    sub = command(
        "ls",
        "list runs, tags, step ranges, dtypes and shapes (reads no values)",
        "  tensorcap ls runs/\n  tensorcap ls runs/ --run healthy --tag '^dense/'",
    )
    sub.add_argument("--run", help="only this run")
    sub.add_argument("--tag", metavar="REGEX", help="only tags where REGEX matches (re.search)")
    sub.add_argument("--long", action="store_true", help="show each source file's full path")

    sub = command(
        "stats",
        "statistics of a tag per step: numel, min, max, mean, std (over finite "
        "elements), NaN/+Inf/-Inf and zero counts",
        "  tensorcap stats runs/ healthy dense/out --step 3",
        run,
        tag,
    )
    sub.add_argument("--step", type=int, help=step_help % "every step")

    sub = command(
        "show",
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
        "find where RUN2 first parts from RUN, walking RUN by step and capture order; exit status 1 if it does",
        "  tensorcap divergence runs/ healthy changed --atol 1e-6",
        run,
        ("RUN2", "the run compared with RUN"),
    )
    _tolerances(sub)

    sub = command(
        "alerts",
        "list every capture holding NaN or Inf; exit status 1 if any",
        "  tensorcap alerts runs/ --run nan_run",
    )
    sub.add_argument("--run", help="only this run")

    sub = command(
        "rootcause",
        "find the op that made the first NaN: walk back from it through "
        "inputs holding NaN/Inf to the op whose inputs were finite (needs the lineage record() "
        "stores); exit status 1 if found, 0 if the run is clean",
        "  tensorcap rootcause runs/ broken\n  tensorcap rootcause runs/ broken --step 173 --inf --json\n"
        "  tensorcap rootcause runs/ job      # workers job/worker_0, job/worker_1, ...\n"
        "  tensorcap rootcause runs/train     # a logdir holding one run needs no RUN",
    )
    sub.add_argument(
        "run",
        metavar="RUN",
        nargs="?",
        help="run name, or a group whose worker runs (RUN/worker_0, ...) are compared; "
        "may be left out when LOGDIR holds one run",
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
