"""What the crash matrix's writers do, and what the store must hold afterwards.

:func:`make_plan` draws one trial's operations (see ``_writer.py`` for their format) from a
seeded ``random.Random`` and the :class:`Model` of what the store holds. The model is what
the parent knows: every *acknowledged* operation applied to it, in order.

The store is compared with the model *field by field*. A run's fields are ``("status",)``,
``("end",)``, ``("name",)``, ``("stage",)``, ``("exp",)``, ``("inputs",)`` (the set of
``(name, digest)`` of its datasets), ``("param", key)``, ``("tag", key)`` (the tags the
writers set, ``t.*``, and ``mlflow.runName``) and ``("metric", key)``: the sorted tuple of
its points ``(timestamp, step, value)``, every value unique in the store, so that a point
stored twice shows. A field of the store must equal the model's before the operation in
flight (``before``) or after it (``after``): the one call that was killed may have taken
effect, or not. On the file store a call may take effect field by field (one file per
param, tag and metric key, then ``meta.yaml``); on a SQL store (directly or through the
server) the fields the call changes are all ``before`` or all ``after``: one transaction.
"""

from __future__ import annotations

import copy
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

Field = tuple[str, ...]
Fields = dict[Field, Any]
Point = tuple[int, int, float]  # timestamp, step, value

#: The id an operation in flight would have given what it created (unknown: it never said).
PENDING = "?"
STATUSES = ("FINISHED", "FAILED", "KILLED")
TAG_KEYS = ("t.a", "t.b", "t.c", "t.nested/d")
METRIC_KEYS = ("loss", "acc", "lr", "nested/val_loss")
BASE_TIME = 1_700_000_000_000
#: How many operations a trial plans (the kill lands among them, or after the last).
PLAN_LENGTH = 20
#: Operations after the trial's create_run, by weight.
WEIGHTS = {
    "log_metric": 30, "log_batch": 20, "set_tag": 10, "log_param": 8, "set_terminated": 5,
    "update_status": 4, "rename_run": 5, "delete_run": 4, "log_inputs": 3,
    "rename_experiment": 3, "create_run": 2, "create_experiment": 1,
}


@dataclass
class Model:
    """What the store holds: experiments (id -> name) and runs (id -> fields)."""

    experiments: dict[str, str] = field(default_factory=lambda: {"0": "Default"})
    runs: dict[str, Fields] = field(default_factory=dict)

    def copy(self) -> Model:
        return Model(dict(self.experiments), copy.deepcopy(self.runs))

    def points(self) -> int:
        return sum(len(v) for run in self.runs.values() for f, v in run.items()
                   if f[0] == "metric")


# -- plans ---------------------------------------------------------------------------------


class _Planner:
    """Draws a plan; tracks what the plan's own operations will have done (symbolically)."""

    def __init__(self, rng: random.Random, model: Model, prefix: str, trial: int,
                 keep_out: frozenset[str]) -> None:
        self.rng, self.prefix, self.trial = rng, prefix, trial
        self.ops: list[dict[str, Any]] = []
        self.counter = 0
        # Runs the plan may touch: (reference, deleted?), the trial's own ones first.
        self.mine: list[str] = []
        self.deleted: dict[str, bool] = {}
        self.experiments = [e for e in model.experiments if e != PENDING]
        self.renamable = [e for e in self.experiments if e != "0"]
        older = [r for r in model.runs if r != PENDING and r not in keep_out]
        self.older = rng.sample(older, min(2, len(older)))
        for run_id in self.older:
            self.deleted[run_id] = model.runs[run_id][("stage",)] == "deleted"

    def unique(self) -> int:
        self.counter += 1
        return self.trial * 1000 + self.counter

    def point(self, key: str) -> list[Any]:
        n = self.unique()
        return [key, n + 0.25, BASE_TIME + n, n]

    def add(self, **op: Any) -> str:
        self.ops.append(op)
        return f"${len(self.ops) - 1}"

    def create_run(self, exp: str) -> None:
        n = self.unique()
        ref = self.add(op="create_run", exp=exp, name=f"{self.prefix}-run-{n}",
                       start=BASE_TIME + n, tags={"t.a": f"init-{n}"})
        self.mine.append(ref)
        self.deleted[ref] = False

    def create_experiment(self) -> str:
        ref = self.add(op="create_experiment", name=f"{self.prefix}-exp-{self.unique()}")
        self.experiments.append(ref)
        self.renamable.append(ref)
        return ref

    def target(self) -> str:
        """The run an operation touches: mostly the trial's newest, sometimes an older one."""
        if self.older and self.rng.random() < 0.2:
            return self.rng.choice(self.older)
        if len(self.mine) > 1 and self.rng.random() < 0.3:
            return self.rng.choice(self.mine)
        return self.mine[-1]

    def step(self) -> None:
        rng = self.rng
        kind = rng.choices(list(WEIGHTS), list(WEIGHTS.values()))[0]
        if kind == "create_run":
            return self.create_run(rng.choice(self.experiments))
        if kind == "create_experiment":
            self.create_experiment()
            return None
        if kind == "rename_experiment":
            if self.renamable:
                self.add(op=kind, exp=rng.choice(self.renamable),
                         name=f"{self.prefix}-exp-{self.unique()}-renamed")
            return None
        run = self.target()
        if self.deleted[run]:  # a deleted run takes no writes: bring it back first
            self.add(op="restore_run", run=run)
            self.deleted[run] = False
            return None
        if kind == "log_metric":
            key, value, ts, step = self.point(rng.choice(METRIC_KEYS))
            self.add(op=kind, run=run, key=key, value=value, ts=ts, step=step)
        elif kind == "log_batch":
            metrics = [self.point(rng.choice(METRIC_KEYS)) for _ in range(rng.randint(0, 6))]
            params = [[f"p{self.unique()}", f"v{self.counter}"] for _ in range(rng.randint(0, 3))]
            keys = rng.sample(TAG_KEYS, rng.randint(0, 2))
            tags = [[key, f"batch-{self.unique()}"] for key in keys]
            if not (metrics or params or tags):
                metrics = [self.point("loss")]
            self.add(op=kind, run=run, metrics=metrics, params=params, tags=tags)
        elif kind == "set_tag":
            self.add(op=kind, run=run, key=rng.choice(TAG_KEYS), value=f"tag-{self.unique()}")
        elif kind == "log_param":
            n = self.unique()
            self.add(op=kind, run=run, key=f"p{n}", value=f"value {n}")
        elif kind == "set_terminated":
            self.add(op=kind, run=run, status=rng.choice(STATUSES), end=BASE_TIME + self.unique())
        elif kind == "update_status":
            self.add(op=kind, run=run, status=rng.choice(("RUNNING", *STATUSES)))
        elif kind == "rename_run":
            self.add(op=kind, run=run, name=f"{self.prefix}-run-{self.unique()}-renamed")
        elif kind == "delete_run":
            self.add(op=kind, run=run)
            self.deleted[run] = True
        elif kind == "log_inputs":
            n = self.unique()
            self.add(op=kind, run=run, datasets=[[f"ds{n}", f"{n:08x}"]])
        return None


def make_plan(rng: random.Random, model: Model, prefix: str, trial: int,
              keep_out: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """One trial's operations: maybe a new experiment, a new run in it (or in an existing
    experiment), then a seed-drawn mix on that run and a couple of older ones (in the order
    the model knows them, never those in *keep_out*)."""
    planner = _Planner(rng, model, prefix, trial, keep_out)
    experiment = (planner.create_experiment() if rng.random() < 0.25
                  else rng.choice(planner.experiments))
    planner.create_run(experiment)
    while len(planner.ops) < PLAN_LENGTH:
        planner.step()
    return planner.ops


# -- applying acknowledged operations to the model -------------------------------------------


def resolve(value: str, results: dict[int, str]) -> str:
    """A plan's run or experiment reference as an id (``PENDING``: made by the call in
    flight)."""
    return results.get(int(value[1:]), PENDING) if value.startswith("$") else value


def _add_points(run: Fields, points: list[list[Any]]) -> None:
    for key, value, ts, step in points:
        current = run.get(("metric", key), ())
        run[("metric", key)] = tuple(sorted((*current, (ts, step, value))))


def apply(model: Model, op: dict[str, Any], results: dict[int, str], result: str) -> None:
    """Apply one operation to *model*; *result* is what it created (``PENDING`` when in
    flight). Operations on a run created by the operation in flight cannot happen."""
    kind = op["op"]
    if kind == "create_experiment":
        model.experiments[result] = op["name"]
        return
    if kind == "rename_experiment":
        model.experiments[resolve(op["exp"], results)] = op["name"]
        return
    if kind == "create_run":
        tags = {("tag", k): v for k, v in op["tags"].items()}
        model.runs[result] = {("exp",): resolve(op["exp"], results), ("status",): "RUNNING",
                              ("end",): None, ("name",): op["name"], ("stage",): "active",
                              ("inputs",): frozenset(), ("tag", "mlflow.runName"): op["name"],
                              **tags}
        return
    run = model.runs[resolve(op["run"], results)]
    if kind == "log_metric":
        _add_points(run, [[op["key"], op["value"], op["ts"], op["step"]]])
    elif kind == "log_batch":
        _add_points(run, op["metrics"])
        for key, value in op["params"]:
            run[("param", key)] = value
        for key, value in op["tags"]:
            run[("tag", key)] = value
    elif kind == "set_tag":
        run[("tag", op["key"])] = op["value"]
    elif kind == "log_param":
        run[("param", op["key"])] = op["value"]
    elif kind == "set_terminated":
        run[("status",)], run[("end",)] = op["status"], op["end"]
    elif kind == "update_status":
        run[("status",)] = op["status"]
    elif kind == "rename_run":
        run[("name",)] = run[("tag", "mlflow.runName")] = op["name"]
    elif kind in ("delete_run", "restore_run"):
        run[("stage",)] = "deleted" if kind == "delete_run" else "active"
    elif kind == "log_inputs":
        run[("inputs",)] = run[("inputs",)] | {(n, d) for n, d in op["datasets"]}
    else:
        raise ValueError(f"unknown operation {kind!r}")


def touched(plan: list[dict[str, Any]], upto: int, results: dict[int, str]) -> set[str]:
    """The runs operations 0..*upto* (inclusive) named or created."""
    found = set()
    for i, op in enumerate(plan[:upto + 1]):
        if op["op"] == "create_run":
            found.add(results.get(i, PENDING))
        elif "run" in op:
            found.add(resolve(op["run"], results))
    return found


# -- comparing -------------------------------------------------------------------------------


@dataclass
class Violation:
    """One way the store differs from what may be there."""

    kind: str  # lost, duplicated, phantom, partial, wrong, unreadable, corrupt_meta_yaml
    where: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.where}: {self.detail}"


def latest(points: tuple[Point, ...]) -> Point:
    """A metric's value as a run shows it: the max by (step, timestamp, value)."""
    ts, step, value = max(points, key=lambda p: (p[1], p[0], p[2]))
    return ts, step, value


def project(run: Fields, full: bool) -> Fields:
    """The fields of *run* as an observation shows them: with whole metric histories
    (*full*), or only each metric's latest point and no inputs (what a search returns)."""
    out: Fields = {}
    for name, value in run.items():
        if name[0] == "metric":
            if full:
                out[name] = value
            else:
                out[("latest", name[1])] = latest(value)
        elif name != ("inputs",) or full:
            out[name] = value
    return out


def compare_metric(where: str, key: str, seen: tuple[Point, ...], before: tuple[Point, ...],
                   after: tuple[Point, ...]) -> list[Violation]:
    counts, sent = Counter(seen), set(after) | set(before)
    found = []
    lost = sorted(set(before) - set(counts))
    if lost:
        found.append(Violation("lost", where, f"metric {key!r}: {len(lost)} acknowledged "
                               f"point(s) missing, e.g. {lost[:5]}"))
    twice = sorted(p for p, n in counts.items() if n > 1)
    if twice:
        found.append(Violation("duplicated", where, f"metric {key!r}: stored more than once: "
                               f"{twice[:5]}"))
    never = sorted(p for p in counts if p not in sent)
    if never:
        found.append(Violation("phantom", where, f"metric {key!r}: points never sent: "
                               f"{never[:5]}"))
    if not found:
        found.append(Violation("partial", where, f"metric {key!r}: part of the in-flight "
                               f"points: {sorted(set(seen) - set(before))[:5]}"))
    return found


def compare_run(where: str, seen: Fields, before: Fields | None, after: Fields,
                atomic: bool) -> list[Violation]:
    """*seen* (one run's observed fields) against the model *before* and *after* the
    operation in flight (*before* is None for a run the operation in flight created)."""
    found = []
    old = before or {}
    changed = []
    for name in sorted(set(seen) | set(old) | set(after), key=repr):
        value, was, will = seen.get(name), old.get(name), after.get(name)
        if was != will:
            changed.append(name)
        if (value == was and before is not None) or value == will:
            continue
        label = " ".join(map(str, name))
        if name[0] == "metric":
            found += compare_metric(where, name[1], value or (), was or (), will or ())
        elif value is None:
            found.append(Violation("lost", where, f"{label}: missing, expected {was!r}"))
        elif was is None and will is None:
            found.append(Violation("phantom", where, f"{label} = {value!r}: never sent"))
        else:
            expected = f"{was!r}" + (f" or {will!r}" if will != was else "")
            found.append(Violation("wrong", where, f"{label} = {value!r}, expected {expected}"))
    if atomic and before is not None and changed and not found:
        applied = [name for name in changed if seen.get(name) == after.get(name)]
        if applied and len(applied) != len(changed):
            found.append(Violation("partial", where, f"the call in flight took effect on "
                                   f"{applied} but not on {sorted(set(changed) - set(applied))}"))
    return found


def consistent(where: str, seen: Fields) -> list[Violation]:
    """A run's name in its info and in its mlflow.runName tag agree."""
    name, tag = seen.get(("name",)), seen.get(("tag", "mlflow.runName"))
    if name != tag:
        return [Violation("partial", where, f"run name {name!r} but mlflow.runName {tag!r}")]
    return []
