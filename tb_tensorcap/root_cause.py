"""The root cause of a NaN: the op whose inputs were finite and whose output was not.

`root_cause(reader, run)` answers "which op made my loss NaN, at which step,
from which inputs, on which line?" in data-flow order, from the lineage that
`record()` stores with each captured op output (metadata.py, "Lineage"):

1. Start at the first capture, by (step, capture order), holding NaN (with
   ``inf``: NaN or +-Inf) whose non-finite values are not absorbed
   downstream. A value is absorbed when it has captured consumers and every
   path of non-finite consumers from it ends in finite outputs: a ``-inf``
   attention mask that softmax turns finite is intentional, never a start.
2. Walk back through the inputs holding NaN or Inf (at the same step).
3. Stop at the op(s) whose inputs were all finite while the output was not:
   the culprit (origin "op"). A walk that ends at a tensor from outside the
   block (data, a variable, a constant, a function argument) has origin
   "external"; one that ends at a capture without lineage (a `capture()`
   call, a version 1 file) has origin "unknown": TensorCap says it cannot
   tell rather than guess. An input that was not captured is named in
   "notes", as it may hold the NaN itself.

Under ``tf.distribute`` the replicas of a run (tags ``replica_<k>/...``) are
walked separately, and the answer is the replica that went bad first (step,
then capture order); the workers of MultiWorkerMirroredStrategy are runs
(``worker_<k>``) and are compared by step, then wall time. Within a step,
one whose own op made the NaN goes before those whose walk ends outside
the block: an all-reduce hands one replica's NaN to all the others at the
same step, through an op that runs outside the block (`_received`). The reply shape is
documented in http_api.md (``/rootcause``); the plugin, the CLI and
`tb_tensorcap.rootcause()` share it. Pure Python over `reader.Reader`.
"""

import re

from tb_tensorcap import analysis, root_cause_report
from tb_tensorcap.reader import NotFoundError

_REPLICA = re.compile(r"^replica_(\d+)/")
_TASK_RUN = re.compile(r"^(?:(.*)/)?((?:worker|chief|master)_\d+)$")
_MAX_LISTED = 20  # absorbed captures and other culprits listed in a reply
_GRAPH_DEPTH = 2  # levels of inputs and of consumers drawn around the culprit
_GRAPH_NODES = 40  # at most this many captures in the reply's graph


def rootcause(logdir, run, step=None, inf=False):
    """The root cause of the first NaN in `run` of `logdir` (a path or a `Reader`).

        import tb_tensorcap as tensorcap
        answer = tensorcap.rootcause("runs", "broken")
        print(answer)                  # a few lines: op, step, file:line, inputs
        answer["culprit"]["op"]        # "Log"; the reply of http_api.md /rootcause

    Returns a `RootCause`, the reply dict (http_api.md) whose `str()` is the
    text form; `answer.found` is False for a clean run.
    """
    from tb_tensorcap.reader import Reader, load

    reader = logdir if isinstance(logdir, Reader) else load(logdir)
    return RootCause(root_cause(reader, run, step, inf))


class RootCause(dict):
    """A root-cause reply: a dict (http_api.md, /rootcause) printed as text."""

    @property
    def found(self):
        return self["origin"] is not None

    def __str__(self):
        return root_cause_report.describe(self)


def root_cause(reader, run, step=None, inf=False):
    """The root cause of the first NaN (or, with `inf`, NaN/Inf) in `run`.

    `run` is a run, or a group of worker runs: RUN when RUN/worker_0,
    RUN/worker_1, ... are runs ("." for workers at the top of the logdir).
    `step` limits the search to one step. Returns the reply documented in
    http_api.md; "origin" is None when nothing non-finite reaches an output.

    Raises:
      NotFoundError: no such run, or no capture at `step`.
    """
    runs = _runs_of(reader, run)
    answers = [_run_root_cause(reader, r, step, inf) for r in runs]
    if len(runs) == 1:
        return dict(answers[0], worker=None, workers=None)
    bad = [a for a in answers if a["origin"] is not None]
    first = (
        min(bad, key=lambda a: (a["start"]["step"], _received(a["origin"]), a["start"]["wall_time"])) if bad else None
    )
    notes = _worker_notes(first, bad) if bad else []
    workers = [
        {
            "worker": a["run"],
            "step": a["start"]["step"] if a["start"] else None,
            "tag": a["start"]["tag"] if a["start"] else None,
            "wall_time": a["start"]["wall_time"] if a["start"] else None,
        }
        for a in answers
    ]
    if first is None:
        return dict(answers[0], run=run, worker=None, workers=workers)
    return dict(first, run=run, worker=first["run"], workers=workers, notes=first["notes"] + notes)


def _received(origin):
    """0 for a NaN an op of the block made, 1 for one that came from outside the block (or unknown).

    Under tf.distribute an all-reduce hands one worker's (or replica's) NaN
    to every other at the same step; the op that receives it runs outside
    the block, so the others' walks end at an outside input. The one whose
    own op made the NaN goes first.
    """
    return 0 if origin == "op" else 1


def _worker_notes(first, bad):
    """What the answer cannot tell about the other workers bad at the first worker's step."""
    same_step = [a for a in bad if a is not first and a["start"]["step"] == first["start"]["step"]]
    if not same_step:
        return []
    names = ", ".join(a["run"] for a in same_step)
    if first["origin"] == "op":
        return [
            "%s also went bad at step %d, through inputs from outside the block (as what an all-reduce "
            "receives from %s): not an op of its own" % (names, first["start"]["step"], first["run"])
        ]
    return [
        "%s also went bad at step %d through inputs from outside the block: one worker's own data and what "
        "an all-reduce handed on from it cannot be told apart; the earliest written is shown, check each "
        "worker's answer (run=%s)" % (names, first["start"]["step"], same_step[0]["run"])
    ]


def _runs_of(reader, run):
    """[run], or the worker runs of a group (sorted), or NotFoundError."""
    runs = reader.runs()
    if run in runs:
        return [run]
    group = [r for r in runs if (m := _TASK_RUN.match(r)) and (m.group(1) or ".") == run]
    if not group:
        reader.tags(run)  # raises NotFoundError naming the run
    return group


def _run_root_cause(reader, run, step, inf):
    graph = _Graph(reader, run)
    captures = [i for i in reader.captures(run) if i.dtype != "string" and (step is None or i.step == step)]
    if step is not None and not captures:
        raise NotFoundError("no numeric capture at step %d in run %r" % (step, run))
    captures.sort(key=lambda i: (i.step, i.order))
    starts, absorbed, first_step = {}, [], None
    for info in captures:
        if first_step is not None and info.step > first_step:
            break  # replicas are compared within the first bad step
        replica = _replica(info.tag)
        if replica in starts or not graph.starts(info, inf):
            continue
        if graph.reaches_an_output(info):
            starts[replica] = info
            first_step = info.step
        elif len(absorbed) < _MAX_LISTED:
            absorbed.append({"tag": info.tag, "step": info.step})
    reply = {
        "run": run,
        "step": step,
        "inf": bool(inf),
        "origin": None,
        "culprit": None,
        "chain": [],
        "others": [],
        "notes": [],
        "absorbed": absorbed,
        "replica": None,
        "replicas": None,
        "start": None,
        "graph": None,
    }
    if not starts:
        return reply
    walks = {replica: graph.walk_back(info) for replica, info in starts.items()}
    replica = min(starts, key=lambda r: (_received(graph.origin_of(walks[r][0][0])), starts[r].order))
    start = starts[replica]
    culprits, parents = walks[replica]
    culprit = culprits[0]
    chain, node = [], culprit
    while node is not None:
        chain.append({"tag": node.tag, "op": node.op["type"] if node.op else None, "step": node.step})
        node = parents[_key(node)]
    reply.update(
        step=start.step,
        origin=graph.origin_of(culprit),
        culprit=root_cause_report.culprit_reply(graph, culprit),
        chain=chain,
        others=[
            {"tag": c.tag, "step": c.step, "op": c.op["type"] if c.op else None, "origin": graph.origin_of(c)}
            for c in culprits[1 : _MAX_LISTED + 1]
        ],
        notes=root_cause_report.culprit_notes(graph, culprit),
        graph=graph.around(culprit, chain),
        start={"tag": start.tag, "step": start.step, "order": start.order, "wall_time": start.wall_time},
    )
    if _replica(start.tag) is not None:
        reply["replica"] = _replica(start.tag)
        reply["replicas"] = [
            {"replica": k, "tag": s.tag, "step": s.step, "order": s.order}
            for k, s in sorted(starts.items(), key=lambda kv: kv[1].order)
        ]
    return reply


def _replica(tag):
    match = _REPLICA.match(tag)
    return int(match.group(1)) if match else None


def _key(info):
    return info.order  # unique in a run, repeats of a (tag, step) included


class _Graph:
    """One run's captures seen as a data-flow graph, per step, with their statistics."""

    def __init__(self, reader, run):
        self._reader = reader
        self._run = run

    def stats(self, info):
        return self._reader.stats(info.run, info.tag, info.step, info.repeat)

    def nonfinite(self, info):
        return info.dtype != "string" and analysis.has_nonfinite(self.stats(info))

    def starts(self, info, inf):
        stats = self.stats(info)
        return bool(stats["nan"] or (inf and (stats["posinf"] or stats["neginf"])))

    def info(self, tag, step, before=None):
        """The capture of `tag` at `step` that a consumer captured at order `before` read, or None.

        With repeats (a function called twice in one block), the last one
        made before the consumer; else the last one.
        """
        try:
            captures = self._reader.step_captures(self._run, tag, step)
        except NotFoundError:
            return None
        earlier = [i for i in captures if before is not None and i.order < before]
        return earlier[-1] if earlier else captures[-1]

    def consumers(self, info):
        """The captures whose input `info` was (repeats told apart by capture order)."""
        found = []
        for c in self._reader.consumers(self._run, info.tag, info.step):
            consumer = self._reader.info(self._run, c["tag"], c["step"], c["repeat"])
            read = self.info(info.tag, info.step, consumer.order)
            if read is not None and read.order == info.order:
                found.append(consumer)
        return found

    def reaches_an_output(self, info):
        """Whether a path of non-finite consumers from `info` ends without consumers.

        A capture without known consumers (the loss, or a value whose
        consumers were not captured) counts as reaching an output: only
        values seen to be made finite again are absorbed.
        """
        seen, stack = {_key(info)}, [info]
        while stack:
            node = stack.pop()
            consumers = self.consumers(node)
            if not consumers:
                return True
            for consumer in consumers:
                if _key(consumer) not in seen and self.nonfinite(consumer):
                    seen.add(_key(consumer))
                    stack.append(consumer)
        return False

    def walk_back(self, start):
        """(culprits in capture order, {key: the node each was reached from})."""
        parents = {_key(start): None}
        queue, culprits = [start], []
        while queue:
            node = queue.pop(0)
            bad_inputs = [i for i in self.input_infos(node) if i is not None and self.nonfinite(i)]
            if node.op is None or not bad_inputs:
                culprits.append(node)
            for found in bad_inputs:
                if _key(found) not in parents:
                    parents[_key(found)] = node
                    queue.append(found)
        return sorted(culprits, key=lambda i: i.order), parents

    def input_infos(self, node):
        """The CaptureInfo of each input of `node` (None where not captured)."""
        if node.op is None:
            return []
        return [
            self.info(entry["tag"], entry.get("step", node.step), node.order) if "tag" in entry else None
            for entry in node.op["inputs"]
        ]

    def around(self, culprit, chain):
        """The step's captured ops near the culprit: {"nodes", "edges"} for the tab's graph.

        Nodes are the culprit (level 0), its inputs and theirs (levels -1,
        -2), its consumers and theirs (1, 2) and the chain to the start
        (level = position in the chain), each with its NaN/Inf counts; edges
        are [input tag, consumer tag] pairs among them.
        """
        levels, steps = {culprit.tag: 0}, {culprit.tag: culprit.step}
        for position, link in enumerate(chain):
            levels.setdefault(link["tag"], position)
            steps.setdefault(link["tag"], link["step"])
        frontier = [culprit]
        for depth in range(1, _GRAPH_DEPTH + 1):
            frontier = [i for node in frontier for i in self.input_infos(node) if i is not None]
            for info in frontier:
                levels.setdefault(info.tag, -depth)
                steps.setdefault(info.tag, info.step)
        frontier = [culprit]
        for depth in range(1, _GRAPH_DEPTH + 1):
            frontier = [c for node in frontier for c in self.consumers(node)]
            for info in frontier:
                levels.setdefault(info.tag, depth)
                steps.setdefault(info.tag, info.step)
        tags = sorted(levels, key=lambda t: (abs(levels[t]), t))[:_GRAPH_NODES]
        nodes, edges = [], []
        for tag in tags:
            info = self.info(tag, steps[tag])
            stats = self.stats(info)
            nodes.append(
                {
                    "tag": tag,
                    "step": info.step,
                    "level": levels[tag],
                    "op": info.op["type"] if info.op else None,
                    "external": info.origin,
                    "nan": stats["nan"],
                    "posinf": stats["posinf"],
                    "neginf": stats["neginf"],
                }
            )
            edges.extend(
                [entry["tag"], tag]
                for entry in (info.op["inputs"] if info.op else ())
                if entry.get("tag") in levels and entry["tag"] in tags
            )
        return {"nodes": nodes, "edges": edges}

    def origin_of(self, culprit):
        if culprit.origin is not None:
            return "external"
        return "op" if culprit.op is not None else "unknown"
