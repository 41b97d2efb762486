"""What a root-cause reply says about its culprit, and the reply as text.

`root_cause` finds the culprit by walking the lineage; this module words the
answer: the culprit's inputs' and output's statistics, the reasons an op of
that type turns such inputs non-finite (an exact zero into `Log`, a negative
value into `Sqrt`, ...), what TensorCap cannot know about it (inputs that
were not captured), and `describe(reply)`, the few lines the command and
`print(tensorcap.rootcause(...))` show.
"""

from tb_tensorcap import codec

# Ops that turn an exact zero, or a negative value, of an input into NaN/Inf.
_ZERO_SENSITIVE = {
    "Log": (0,),
    "Rsqrt": (0,),
    "Reciprocal": (0,),
    "Inv": (0,),
    "Xlogy": (1,),
    "RealDiv": (1,),
    "Div": (1,),
    "FloorDiv": (1,),
    "FloorMod": (1,),
    "Xdivy": (1,),
    "Pow": (0,),
    "Digamma": (0,),
    "Lgamma": (0,),
}
# Inputs of these dtypes cannot be NaN/Inf (handles, strings, booleans, integers): not capturing them hides nothing.
_NO_NONFINITE_DTYPES = frozenset(["resource", "variant", "string"]) | {
    name for name in codec.SUPPORTED_DTYPES if name != "string" and codec.numpy_dtype(name).kind in "biu"
}
_NEGATIVE_SENSITIVE = {"Log": (0,), "Sqrt": (0,), "Rsqrt": (0,), "Pow": (0,), "Xlogy": (1,)}


def culprit_reply(graph, culprit):
    """The reply's "culprit": the op, its source line, its inputs' and output's statistics.

    `graph` is the walk's `root_cause._Graph` (statistics and inputs of a capture).
    """
    inputs = []
    for entry, info in zip(culprit.op["inputs"] if culprit.op else (), graph.input_infos(culprit)):
        side = (
            {"tag": entry["tag"]}
            if "external" not in entry
            else {"external": entry["external"], "name": entry.get("name"), "tag": entry.get("tag")}
        )
        if entry.get("op"):
            side["op"] = entry["op"]
        side.update(_stat_fields(info, graph.stats(info) if info is not None else None))
        inputs.append(side)
    output = dict(graph.stats(culprit), dtype=culprit.dtype, shape=list(culprit.shape), kind=culprit.kind)
    del output["digest"]
    return {
        "tag": culprit.tag,
        "step": culprit.step,
        "repeat": culprit.repeat,
        "op": culprit.op["type"] if culprit.op else None,
        "external": culprit.origin,
        "source": culprit.source,
        "inputs": inputs,
        "output": output,
        "reasons": _reasons(culprit, inputs, output),
    }


def culprit_notes(graph, culprit):
    """What TensorCap cannot know about this answer, in words."""
    if culprit.origin is not None:
        return []
    if culprit.op is None:
        return [
            "%s carries no lineage (a capture() call or a file written before lineage): its "
            "inputs are unknown, so it is only the first non-finite capture, perhaps a symptom" % culprit.tag
        ]
    notes = []
    for index, (entry, info) in enumerate(zip(culprit.op["inputs"], graph.input_infos(culprit))):
        if info is None and entry.get("dtype", "float") not in _NO_NONFINITE_DTYPES:
            what = (
                ("the output of an uncaptured %s op" % entry.get("op", ""))
                if entry.get("external") == "uncaptured"
                else ("%s %s" % (entry.get("external", "capture"), entry.get("name") or entry.get("tag") or ""))
            )
            notes.append("input %d (%s) was not captured: it may have held the NaN/Inf itself" % (index, what.strip()))
    return notes


def _stat_fields(info, stats):
    if info is None:
        return {
            "captured": False,
            "dtype": None,
            "shape": None,
            "nan": None,
            "posinf": None,
            "neginf": None,
            "zeros": None,
            "min": None,
            "max": None,
        }
    fields = {k: stats[k] for k in ("nan", "posinf", "neginf", "zeros", "min", "max")}
    return dict(fields, captured=True, dtype=info.dtype, shape=list(info.shape), step=info.step, kind=info.kind)


def _reasons(culprit, inputs, output):
    """Short sentences on why this op's output went non-finite."""
    if culprit.origin is not None:
        return [
            "%s %s from outside the block holds %s"
            % (culprit.origin["kind"], culprit.origin.get("name") or culprit.tag, _nonfinite_words(output))
        ]
    if culprit.op is None:
        return ["holds %s; its inputs are unknown" % _nonfinite_words(output)]
    op = culprit.op["type"]
    reasons = []
    for index, side in enumerate(inputs):
        if not side["captured"]:
            continue
        if index in _ZERO_SENSITIVE.get(op, ()) and side["zeros"]:
            reasons.append("input %d has %d exact zero%s" % (index, side["zeros"], "s" if side["zeros"] > 1 else ""))
        if index in _NEGATIVE_SENSITIVE.get(op, ()) and side["min"] is not None and side["min"] < 0:
            reasons.append("input %d has negative values (min %.6g)" % (index, side["min"]))
    if all(side["captured"] for side in inputs):
        reasons.append("inputs finite, output %s" % _nonfinite_words(output))
    else:
        reasons.append("captured inputs finite, output %s" % _nonfinite_words(output))
    return reasons


def _nonfinite_words(stats):
    parts = [(stats["nan"], "NaN"), (stats["posinf"], "+inf"), (stats["neginf"], "-inf")]
    words = [name if count == stats["numel"] else "%d %s" % (count, name) for count, name in parts if count]
    return ", ".join(words) or "finite"


def describe(reply):
    """The reply as a few lines of text, for a person to read at a glance."""
    where = "run %s" % reply["run"]
    if reply.get("worker"):
        where += ", %s" % reply["worker"]
    if reply["replica"] is not None:
        where += ", replica %d" % reply["replica"]
    what = "NaN or Inf" if reply["inf"] else "NaN"
    if reply["origin"] is None:
        scope = "" if reply["step"] is None else " at step %d" % reply["step"]
        lines = ["no %s reaches an output in %s%s" % (what, where, scope)]
        if reply["absorbed"]:
            lines.append(
                "absorbed downstream (intentional?): %s"
                % ", ".join("%s@%d" % (a["tag"], a["step"]) for a in reply["absorbed"])
            )
        return "\n".join(lines)
    culprit = reply["culprit"]
    source = culprit["source"]
    line = " at %s:%s (%s)" % (source["file"], source["line"], source["function"]) if source else ""
    if reply["origin"] == "external":
        head = "root cause: %s %r from outside the block, step %d (%s)" % (
            culprit["external"]["kind"],
            culprit["external"].get("name") or culprit["tag"],
            culprit["step"],
            where,
        )
    elif reply["origin"] == "unknown":
        head = "first %s: %s, step %d (%s): lineage unknown" % (what, culprit["tag"], culprit["step"], where)
    else:
        head = "root cause: %s op, step %d%s (%s)" % (culprit["op"], culprit["step"], line, where)
    lines = [head, "  capture   %s" % culprit["tag"]]
    for index, side in enumerate(culprit["inputs"]):
        name = side["tag"] if "external" not in side else "%s %s" % (side["external"], side.get("name") or "")
        lines.append("  input %d   %s  %s" % (index, name.strip(), _stats_words(side)))
    lines.append("  output    %s" % _stats_words(culprit["output"]))
    lines.extend("  because   %s" % r for r in culprit["reasons"])
    lines.extend("  note      %s" % n for n in reply["notes"])
    if reply["replicas"] and len(reply["replicas"]) > 1:
        lines.append("  replicas  %s" % ", ".join("%d (%s)" % (r["replica"], r["tag"]) for r in reply["replicas"]))
    if reply.get("workers"):
        lines.append("  workers   %s" % ", ".join("%s (step %s)" % (w["worker"], w["step"]) for w in reply["workers"]))
    lines.append("  chain     %s" % " -> ".join("%s@%d" % (c["tag"], c["step"]) for c in reply["chain"]))
    return "\n".join(lines)


def _stats_words(side):
    if not side.get("captured", True):
        return "(not captured)"
    shape = "[%s]" % ", ".join(map(str, side["shape"]))
    counts = ", ".join("%s %d" % (k, side[k]) for k in ("nan", "posinf", "neginf", "zeros") if side[k])
    bounds = "min %s max %s" % tuple("-" if side[k] is None else "%.6g" % side[k] for k in ("min", "max"))
    return "%s%s  %s%s" % (side["dtype"], shape, bounds, "  " + counts if counts else "")
