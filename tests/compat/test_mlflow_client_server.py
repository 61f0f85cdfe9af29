"""The unmodified ``mlflow`` client gets the same answers from ``trackstore server`` as from
``mlflow server``.

One scenario (``_client_script.py``: experiments, fluent and ``MlflowClient`` runs, metrics,
params, tags, batches, datasets, histories, searches, paging, deletion, errors) runs in a
process of its own against each server, both on the same kind of backend store, each with a
brand-new store of its own: SQLite and an ``mlruns`` directory always, PostgreSQL and MariaDB
when their servers are configured (``tests/_databases.py``). The two normalized records must be
equal, step by step, except where trackstore's *documented* behaviour differs from MLflow's
store: those differences are listed in :data:`ALLOWED`, each with its reason and an exact check
of what trackstore must answer instead, and every one that shows up is reported as a warning
(never silently). Key facts are also asserted on each record directly, so that both servers
breaking the same way fails too.

All servers (two per backend kind) start at once and all scenarios run at once: ``mlflow
server`` alone takes 10-15 s to start on a 2-core machine.

``TRACKSTORE_COMPAT_CANDIDATE=mlflow`` runs ``mlflow server`` in trackstore's place: a check of
the harness itself (the scenario must be deterministic, so the two records are then equal with
no allowance used).
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests._databases import URI_VARIABLES, fresh_database, server_uri
from tests._server_process import (
    ServerError,
    ServerProcess,
    ServerSpec,
    clean_env,
    trackstore_server_missing,
)
from tests.compat._client_script import RECORD_VERSION, T
from tests.compat._oracle import require_mlflow

require_mlflow()

pytestmark = [pytest.mark.mlflow, pytest.mark.slow]

SCRIPT = Path(__file__).with_name("_client_script.py")
CANDIDATE = os.environ.get("TRACKSTORE_COMPAT_CANDIDATE", "trackstore").strip() or "trackstore"
BACKENDS = ["sqlite", "file", "postgresql", "mysql"]
SQL_BACKENDS = frozenset({"sqlite", "postgresql", "mysql"})
SCRIPT_TIMEOUT = 300.0
MAX = "1.7976931348623157e+308"
CLIENT_ENV = {
    # A 500 is recorded at once (by default the client retries it seven times, backing off).
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "PYTHONWARNINGS": "ignore",
}


class AllowedDifference(UserWarning):
    """A difference from MLflow that trackstore documents (see :data:`ALLOWED`)."""


# -- the runs ----------------------------------------------------------------------------------


@dataclass(eq=False)
class Side:
    """One server and the scenario run against it."""

    role: str  # "oracle" or "candidate"
    spec: ServerSpec
    server: ServerProcess | None = None
    script: subprocess.Popen[bytes] | None = None
    out: Path | None = None
    log: Path | None = None
    result: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)
    scenario_started: float = 0.0
    scenario_seconds: float | None = None

    def timing(self) -> str:
        ready = self.server.ready_after if self.server else None
        fmt = lambda x: "-" if x is None else f"{x:.1f} s"  # noqa: E731
        return (f"{self.spec.kind} server ready after {fmt(ready)}, "
                f"scenario {fmt(self.scenario_seconds)}")

    def server_output(self) -> str:
        return self.server.describe() if self.server else "(not started)"

    def script_output(self) -> str:
        if self.log is None or not self.log.exists():
            return "(no output)"
        text = self.log.read_text(errors="replace")
        return text[-6000:]


@dataclass
class Outcome:
    kind: str
    root: Path
    oracle: Side
    candidate: Side

    @property
    def sides(self) -> tuple[Side, Side]:
        return self.oracle, self.candidate

    def failure(self) -> str | None:
        problems = [f"{side.role} ({side.spec.kind} server): {error}"
                    for side in self.sides for error in side.errors]
        return "\n\n".join(problems) if problems else None


def _configured(kind: str) -> bool:
    return kind in ("sqlite", "file") or bool(os.environ.get(URI_VARIABLES[kind], "").strip())


def _backend_uris(kind: str, root: Path, stack: ExitStack) -> tuple[str, str]:
    if kind == "sqlite":
        return f"sqlite:///{root / 'oracle.db'}", f"sqlite:///{root / 'candidate.db'}"
    if kind == "file":
        return str(root / "oracle-mlruns"), str(root / "candidate-mlruns")
    return (stack.enter_context(fresh_database(kind, root)),
            stack.enter_context(fresh_database(kind, root)))


def _start_script(side: Side, root: Path, script: Path = SCRIPT) -> None:
    assert side.server is not None
    side.out = root / f"{side.role}.json"
    side.log = root / f"{side.role}-script.log"
    env = clean_env(CLIENT_ENV)
    env["MLFLOW_TRACKING_URI"] = side.server.url
    workdir = root / f"{side.role}-cwd"
    workdir.mkdir()
    side.scenario_started = time.monotonic()
    with open(side.log, "wb") as log:
        side.script = subprocess.Popen(
            [sys.executable, str(script), str(side.out), side.spec.artifact_root],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
            env=env)


def _finish_script(side: Side, deadline: float) -> None:
    if side.script is None:
        return
    try:
        code = side.script.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        side.script.kill()
        side.script.wait()
        side.errors.append(f"the scenario did not finish in {SCRIPT_TIMEOUT:.0f} s; "
                           f"its output:\n{side.script_output()}\n\n{side.server_output()}")
        return
    side.scenario_seconds = time.monotonic() - side.scenario_started
    if code != 0 or side.out is None or not side.out.exists():
        side.errors.append(f"the scenario exited with {code}; its output:\n"
                           f"{side.script_output()}\n\n{side.server_output()}")
        return
    side.result = json.loads(side.out.read_text(encoding="utf-8"))


def _selected(request: pytest.FixtureRequest) -> set[str]:
    """The backend kinds of the tests of this module that the session will run (``-k``)."""
    kinds = set()
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and item.module is request.module:
            kinds.add(callspec.params.get("outcome"))
    return kinds


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[dict[str, Outcome]]:
    """Every configured backend kind selected: both servers started, the scenario run on each,
    the servers stopped (all kinds at once). A kind whose run failed carries its errors."""
    selected = _selected(request)
    kinds = [kind for kind in BACKENDS if _configured(kind) and kind in selected]
    with run_scenarios(kinds, tmp_path_factory) as results:
        yield results


@contextmanager
def run_scenarios(kinds: list[str], tmp_path_factory: pytest.TempPathFactory,
                  script: Path = SCRIPT) -> Iterator[dict[str, Outcome]]:
    """For each backend kind of *kinds*: both servers started, *script* run against each, the
    servers stopped (all kinds at once); the outcomes by kind, their databases kept until the
    end of the ``with``. A kind whose run failed carries its errors."""
    missing = trackstore_server_missing() if CANDIDATE == "trackstore" else None
    with ExitStack() as stack:
        results: dict[str, Outcome] = {}
        for kind in kinds:
            root = tmp_path_factory.mktemp(f"server-{kind}")
            try:
                oracle_uri, candidate_uri = _backend_uris(kind, root, stack)
            except Exception as exc:  # this kind fails; the others still run
                oracle_uri = candidate_uri = ""
                missing_database = f"no fresh {kind} database: {exc!r}"
            else:
                missing_database = ""
            results[kind] = Outcome(kind, root, Side("oracle", ServerSpec(
                "mlflow", oracle_uri, str(root / "oracle-artifacts"))), Side(
                "candidate", ServerSpec(CANDIDATE, candidate_uri,
                                        str(root / "candidate-artifacts"))))
            if missing_database:
                results[kind].oracle.errors.append(missing_database)
        # mlflow servers first: they take longest to start
        sides = sorted(((kind, side) for kind, o in results.items() for side in o.sides),
                       key=lambda pair: pair[1].spec.kind != "mlflow")
        try:
            for _, side in sides:
                if side.spec.kind == "trackstore" and missing:
                    side.errors.append(missing)
            for kind, side in sides:
                if not results[kind].failure():
                    side.server = side.spec.start(results[kind].root)
            # Each scenario starts as soon as its own server is ready.
            waiting = [(kind, side) for kind, side in sides if side.server is not None]
            while waiting:
                for kind, side in list(waiting):
                    assert side.server is not None
                    try:
                        ready = side.server.poll_ready()
                    except ServerError as exc:
                        side.errors.append(str(exc))
                        side.server = None
                        ready = False
                        waiting.remove((kind, side))
                    if ready:
                        _start_script(side, results[kind].root, script)
                        waiting.remove((kind, side))
                time.sleep(0.05)
            deadline = time.monotonic() + SCRIPT_TIMEOUT
            for _, side in sides:
                _finish_script(side, deadline)
        finally:
            for _, side in sides:
                if side.script is not None and side.script.poll() is None:
                    side.script.kill()
                    side.script.wait()
                if side.server is not None:
                    try:
                        side.server.stop()
                    except ServerError as exc:
                        side.errors.append(f"on stopping: {exc}")
        yield results


@pytest.fixture(params=BACKENDS)
def outcome(request: pytest.FixtureRequest, outcomes: dict[str, Outcome]) -> Outcome:
    kind = request.param
    if kind not in outcomes:
        server_uri(kind)  # skips, or fails where the database servers are required
        pytest.skip(f"no {kind} server")
    found = outcomes[kind]
    failure = found.failure()
    if failure:
        pytest.fail(f"{kind}: the scenario could not run to its end:\n{failure}", pytrace=False)
    return found


# -- allowed differences -----------------------------------------------------------------------


@dataclass(frozen=True)
class Allowed:
    """A known difference: where it may show, why, and exactly what trackstore answers instead.

    *steps* are ``fnmatch`` patterns of step names, *backends* the kinds of store on which
    MLflow behaves so. ``fix(step, mlflow_value, mlflow_record)`` is what trackstore must have
    recorded instead: the difference is allowed only when that is exactly trackstore's value.
    """

    name: str
    steps: tuple[str, ...]
    backends: frozenset[str]
    why: str
    fix: Callable[[str, Any, dict[str, Any]], Any]

    def allows(self, kind: str, step: str, record: dict[str, Any], got: Any) -> bool:
        return (kind in self.backends
                and any(fnmatch.fnmatchcase(step, p) for p in self.steps)
                and self.fix(step, record[step], record) == got)


INF_KEYS = frozenset({"inf_m", "ninf_m", "batch/special"})  # the metrics logged as ±inf


def _exact_infinities(value: Any) -> Any:
    """Undo MLflow's SQL clamping of ±inf to ±max double, for the keys logged as ±inf."""
    clamp = {MAX: "inf", "-" + MAX: "-inf"}
    if isinstance(value, dict):
        return {k: (clamp.get(v, v) if k in INF_KEYS and isinstance(v, str)
                    else _exact_infinities(v)) for k, v in value.items()}
    if isinstance(value, list):
        if (len(value) >= 4 and isinstance(value[0], str) and value[0] in INF_KEYS
                and isinstance(value[1], str)):
            return [value[0], clamp.get(value[1], value[1]), *value[2:]]
        return [_exact_infinities(v) for v in value]
    return value


def _point_key(point: list[Any]) -> tuple[Any, ...]:
    value = float(point[1])
    ts = point[2] if isinstance(point[2], int) else math.inf  # "<now>": later than T + ...
    return (point[3], ts, -math.inf if math.isnan(value) else value)


def _by_step(value: Any) -> Any:
    """A history (``{"items": [...]}``) sorted by (step, timestamp, value), NaN lowest."""
    if isinstance(value, dict) and isinstance(value.get("items"), list):
        return {**value, "items": sorted(value["items"], key=_point_key)}
    return value


def _without_p150(value: Any) -> Any:
    """MLflow's file store wrote ``p150`` of the conflicting batch before it met ``p000``."""
    if isinstance(value, dict):
        return {k: _without_p150(v) for k, v in value.items()
                if not (k == "p150" and v == "new")}
    if isinstance(value, list):
        return [_without_p150(v) for v in value]
    return value


def _with_dataset(value: Any, record: dict[str, Any]) -> Any:
    """The point of ``data_acc``, logged with ``dataset=train-df``, names that dataset."""
    dataset = {"dataset_name": "train-df", "dataset_digest": record["datasets.log"]["train"]}
    items = [[*p[:4], dataset] if p[0] == "data_acc" and len(p) == 4 else p
             for p in value["items"]]
    return {**value, "items": items}


def _error(code: str) -> Callable[[str, Any, dict[str, Any]], Any]:
    return lambda step, value, record: {"error": code}

def _code_point_order(step: str, value: Any, record: dict[str, Any]) -> Any:
    """Experiments ordered by name as Python orders the names (by code point)."""
    names = {label: name for label, name, _ in record["life.exp.final"]}
    if step == "search.exp.paged":  # pages of 2, ascending
        flat = sorted((label for page in value for label in page), key=names.__getitem__)
        return [flat[i:i + 2] for i in range(0, len(flat), 2)]
    return {**value, "ids": sorted(value["ids"], key=names.__getitem__,
                                   reverse=step.endswith("desc"))}


# What the letter-case steps record where names and keys are case-sensitive.
CASE_SENSITIVE = {
    "case.exp.create": "exp:COMPAT-A",
    "case.exp.by_name": [["exp:COMPAT-A", "COMPAT-A"], ["exp:a", "compat-a"]],
    "case.param": "0.5", "case.tag": None, "case.metric": None,
    "case.run": {"params": {"lr": "0.01", "LR": "0.5"}, "tags": {"team": "vision",
                                                                 "TEAM": "upper"},
                 "metrics": {"loss": "0.2", "LOSS": "9.0"}},
    "case.search.param": ["run:parent"],
    "case.search.name": ["exp:COMPAT-A"],
}
DEFAULT_KEPT = {"life.exp.default.delete": {"error": "INVALID_PARAMETER_VALUE"},
                "life.exp.default.get": "active",
                "life.exp.default.restore": {"error": "RESOURCE_DOES_NOT_EXIST"}}
ALL_BACKENDS = frozenset(BACKENDS)

# Each entry says where trackstore's choice is written down. Where MLflow's own two stores
# disagree, trackstore answers the same on every backend, as one of them does.
ALLOWED: list[Allowed] = [
    Allowed("exact infinities", ("*",), SQL_BACKENDS,
            "docs/sql-store.md: NaN, +inf and -inf round-trip exactly on every dialect, "
            "where MLflow's SQL store turns infinities into ±1.7976931348623157e308",
            lambda step, value, record: _exact_infinities(value)),
    Allowed("history order", ("history.*", "*.history"), SQL_BACKENDS,
            "docs/sql-store.md: a history comes back ordered by (step, timestamp, value); "
            "MLflow's SQL store orders it by (timestamp, step, value) (its file store keeps "
            "the order of logging, as trackstore's file store does)",
            lambda step, value, record: _by_step(_exact_infinities(value))),
    Allowed("metric points keep their dataset", ("datasets.metric_history",), SQL_BACKENDS,
            "src/trackstore/store/sql/schema.py (metric_datasets): a point logged with a "
            "dataset keeps its dataset_name and dataset_digest, as in MLflow's file store; "
            "MLflow's SQL store drops them",
            lambda step, value, record: _with_dataset(value, record)),
    Allowed("a conflicting log_batch changes nothing", (
        "batch.conflicting_param", "batch.conflicting_param.effects", "search.runs.full"),
            frozenset({"file"}),
            "README (deliberate differences from MLflow's file store): log_batch checks every "
            "param before writing anything and reports INVALID_PARAMETER_VALUE; MLflow's file "
            "store writes the params before the conflicting one, then fails with "
            "INTERNAL_ERROR (as MLflow's SQL store does not)",
            lambda step, value, record: {"error": "INVALID_PARAMETER_VALUE"}
            if step == "batch.conflicting_param" else _without_p150(value)),
    Allowed("names and keys are case-sensitive", (
        "search.exp.order.name_*", "search.exp.paged", *CASE_SENSITIVE), frozenset({"mysql"}),
            "docs/sql-store.md: every text column has a binary collation, so names and keys "
            "are case-sensitive and sort by code point on every dialect; MLflow's MySQL "
            "tables keep the server's case-insensitive collation (its filters add BINARY, "
            "but ORDER BY and the unique keys of names, params, tags and metrics ignore case)",
            lambda step, value, record: CASE_SENSITIVE[step] if step in CASE_SENSITIVE
            else _code_point_order(step, value, record)),
    Allowed("the default experiment cannot be deleted", tuple(DEFAULT_KEPT), ALL_BACKENDS,
            "tests/store/test_contract.py: experiment 0 cannot be deleted, on every backend "
            "(INVALID_PARAMETER_VALUE); MLflow's file store refuses too but without an error "
            "code (500 INTERNAL_ERROR), MLflow's SQL store deletes it",
            lambda step, value, record: DEFAULT_KEPT[step]),
    Allowed("a run in a deleted experiment", ("run.client.create.deleted_experiment",),
            frozenset({"file"}),
            "MLflow's file store refuses without an error code (so 500 INTERNAL_ERROR); its "
            "SQL store and trackstore say INVALID_PARAMETER_VALUE",
            _error("INVALID_PARAMETER_VALUE")),
    Allowed("renaming to a taken name", ("exp.rename.to_existing",), SQL_BACKENDS,
            "MLflow's SQL store lets the database's IntegrityError through as BAD_REQUEST "
            "(with the SQL statement in the message); its file store and trackstore say "
            "RESOURCE_ALREADY_EXISTS, as for creating an experiment of a taken name",
            _error("RESOURCE_ALREADY_EXISTS")),
    Allowed("the history of a missing run", ("history.missing_run",), SQL_BACKENDS,
            "MLflow's SQL store answers an empty history for a run that does not exist; its "
            "file store and trackstore say RESOURCE_DOES_NOT_EXIST, as get_run does",
            _error("RESOURCE_DOES_NOT_EXIST")),
    Allowed("experiments/search without max_results", (
        "raw.search_experiments.no_max_results",), ALL_BACKENDS,
            "src/trackstore/server/handlers.py: a missing max_results gets the default (MLflow "
            "refuses it: proto2 default 0); the mlflow client always sends it",
            lambda step, value, record: {"status": 200, "json": True}),
    Allowed("JSON errors for unknown endpoints", ("raw.unknown_path", "raw.wrong_method"),
            ALL_BACKENDS,
            "src/trackstore/server/app.py: every error is MLflow's JSON error body "
            "(ENDPOINT_NOT_FOUND, with MLflow's 404 and 405 statuses); MLflow's Flask answers "
            "an HTML page there",
            lambda step, value, record: {**value, "json": True,
                                         "error_code": "ENDPOINT_NOT_FOUND"}),
]


# -- comparing -----------------------------------------------------------------------------


def _differences(a: Any, b: Any, path: str = "") -> Iterator[str]:
    """Where *a* and *b* differ, leaf by leaf (a few per step are enough to read)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if key not in b:
                yield f"{path}[{key!r}]: only in mlflow: {_short(a[key])}"
            elif key not in a:
                yield f"{path}[{key!r}]: only in {CANDIDATE}: {_short(b[key])}"
            elif a[key] != b[key]:
                yield from _differences(a[key], b[key], f"{path}[{key!r}]")
        return
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                yield from _differences(x, y, f"{path}[{i}]")
        return
    yield f"{path}: mlflow {_short(a)} != {CANDIDATE} {_short(b)}"


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."


def compare(kind: str, oracle: dict[str, Any], candidate: dict[str, Any],
            messages: tuple[dict[str, str], dict[str, str]] = ({}, {}),
            allowances: list[Allowed] | None = None) -> tuple[list[str], list[str]]:
    """(unexplained differences, allowed ones) between the records of one backend kind.

    *allowances* default to :data:`ALLOWED` when the candidate is trackstore, else none.
    """
    if allowances is None:
        allowances = ALLOWED if CANDIDATE == "trackstore" else []
    unexplained, allowed = [], []
    for step in list(oracle) + [k for k in candidate if k not in oracle]:
        if step not in oracle or step not in candidate:
            where = "mlflow" if step in oracle else CANDIDATE
            unexplained.append(f"{step}: recorded by {where} only")
            continue
        want, got = oracle[step], candidate[step]
        if want == got:
            continue
        rule = next((r for r in allowances if r.allows(kind, step, oracle, got)), None)
        if rule is not None:
            allowed.append(f"{step}: {rule.name}")
            continue
        detail = "\n    ".join(list(_differences(want, got))[:8])
        notes = [f"{who} said: {m[step]!r}" for who, m in zip(("mlflow", CANDIDATE), messages,
                                                             strict=True) if step in m]
        unexplained.append(f"{step}:\n    {detail}" + "".join(f"\n    ({n[:400]})"
                                                            for n in notes))
    return unexplained, allowed


def assert_same_answers(outcome: Outcome, allowances: list[Allowed], scenario: str,
                        script: str) -> None:
    """The two records of *outcome* agree, up to *allowances* (each one used is warned
    about, with its reason); otherwise fail listing every unexplained difference."""
    oracle, candidate = outcome.oracle.result, outcome.candidate.result
    assert oracle is not None and candidate is not None
    if CANDIDATE != "trackstore":
        allowances = []
    unexplained, allowed = compare(outcome.kind, oracle["record"], candidate["record"],
                                   (oracle["messages"], candidate["messages"]), allowances)
    print(f"{outcome.kind}: {len(oracle['record'])} steps; oracle: "
          f"{outcome.oracle.timing()}; candidate: {outcome.candidate.timing()}")
    by_rule: dict[str, list[str]] = {}
    for line in allowed:
        step, name = line.split(": ", 1)
        by_rule.setdefault(name, []).append(step)
    why = {rule.name: rule.why for rule in allowances}
    for name, steps in by_rule.items():
        warnings.warn(AllowedDifference(
            f"{outcome.kind}: {name}, in {', '.join(steps)}: {why[name]}"), stacklevel=2)
    assert not unexplained, (
        f"{len(unexplained)} step(s) of the {scenario} differ between mlflow server and "
        f"{CANDIDATE} server on {outcome.kind} (see tests/compat/{script}):\n\n"
        + "\n\n".join(unexplained))


def test_the_mlflow_client_gets_the_same_answers(outcome: Outcome) -> None:
    oracle, candidate = outcome.oracle.result, outcome.candidate.result
    assert oracle is not None and candidate is not None
    assert oracle["version"] == candidate["version"] == RECORD_VERSION
    assert_same_answers(outcome, ALLOWED, "scenario", "_client_script.py")


def test_allowances_admit_exactly_the_documented_difference() -> None:
    """An allowance never waves through more than its difference (no servers needed)."""
    # MLflow's SQL store: infinities clamped, a history by timestamp, a rename's SQL error
    oracle = {"log.metric.get": {"inf_m": MAX, "huge": MAX},
              "history.c1.ooo": {"items": [["ooo", "2.0", T + 50, 1], ["ooo", "1.0", T + 100, 0],
                                           ["inf_m", MAX, T, 2]], "has_next": False},
              "exp.rename.to_existing": {"error": "BAD_REQUEST"}}
    exact = {"log.metric.get": {"inf_m": "inf", "huge": MAX},
             "history.c1.ooo": {"items": [["ooo", "1.0", T + 100, 0], ["ooo", "2.0", T + 50, 1],
                                          ["inf_m", "inf", T, 2]], "has_next": False},
             "exp.rename.to_existing": {"error": "RESOURCE_ALREADY_EXISTS"}}
    unexplained, allowed = compare("sqlite", oracle, exact, allowances=ALLOWED)
    assert unexplained == []
    assert allowed == ["log.metric.get: exact infinities", "history.c1.ooo: history order",
                       "exp.rename.to_existing: renaming to a taken name"]
    # MLflow's file store has none of these differences; nothing allowed, nothing passes
    assert len(compare("file", oracle, exact, allowances=ALLOWED)[0]) == 3
    assert len(compare("sqlite", oracle, exact, allowances=[])[0]) == 3
    history = exact["history.c1.ooo"]["items"]
    wrong = [
        {"log.metric.get": {"inf_m": "inf", "huge": "inf"}},  # a real max double is no inf
        {"history.c1.ooo": {"items": history[:2], "has_next": False}},  # a point lost
        {"history.c1.ooo": {"items": history[::-1], "has_next": False}},  # neither order
        {"exp.rename.to_existing": {"error": "INVALID_PARAMETER_VALUE"}},
    ]
    for change in wrong:
        unexplained, _ = compare("sqlite", oracle, {**exact, **change}, allowances=ALLOWED)
        assert [line.split(":")[0] for line in unexplained] == list(change)


# -- key facts, on each record by itself ---------------------------------------------------------


def _points(history: Any) -> list[list[Any]]:
    assert isinstance(history, dict) and "items" in history, history
    return list(history["items"])


@pytest.mark.parametrize("role", ["oracle", "candidate"])
def test_key_facts(outcome: Outcome, role: str) -> None:
    """What the scenario must see from any server: the comparison cannot hide it."""
    side = outcome.oracle if role == "oracle" else outcome.candidate
    assert side.result is not None
    r = side.result["record"]
    sql = outcome.kind in SQL_BACKENDS
    exact = side.spec.kind == "trackstore" or not sql  # infinities round-trip
    # MLflow's MySQL tables ignore letter case in ORDER BY and unique keys
    case_sensitive = side.spec.kind == "trackstore" or outcome.kind != "mysql"

    # experiments
    default = r["exp.default.by_id"]
    assert (default["experiment_id"], default["name"], default["lifecycle_stage"]) == (
        "0", "Default", "active")
    assert r["exp.missing.by_name"] is None
    assert r["exp.missing.by_id"] == {"error": "RESOURCE_DOES_NOT_EXIST"}
    assert r["exp.set_experiment.new"]["name"] == "compat-a"
    assert r["exp.set_experiment.again"] == "exp:a"
    assert r["exp.create.b"]["tags"] == {"prio": "1", "team": "vision"}
    assert r["exp.create.duplicate"] == {"error": "RESOURCE_ALREADY_EXISTS"}
    assert r["exp.tag.after_delete"] == {"team": "audio"}
    assert r["exp.rename.get"]["name"] == "other-d2" and r["exp.rename.old_name"] is None
    assert r["exp.delete.get"]["lifecycle_stage"] == "deleted"
    assert r["exp.delete.search_deleted"] == ["exp:e"]
    assert r["exp.restore.get"]["lifecycle_stage"] == "active"
    assert r["search.exp.filter.name_like"]["ids"] == ["exp:located", "exp:c", "exp:b",
                                                      "exp:a"]
    assert r["search.exp.filter.tag_eq"]["ids"] == ["exp:b"]
    if case_sensitive:
        assert r["search.exp.order.name_asc"]["ids"] == [
            "0", "exp:a", "exp:b", "exp:c", "exp:located", "exp:d", "exp:unicode"]
        assert r["search.exp.paged"] == [["0", "exp:a"], ["exp:b", "exp:c"],
                                         ["exp:located", "exp:d"], ["exp:unicode"]]
        assert {step: r[step] for step in CASE_SENSITIVE} == CASE_SENSITIVE
    assert r["search.exp.error.bad_comparator"] == {"error": "INVALID_PARAMETER_VALUE"}

    # runs: fluent and client, statuses, nesting
    parent, child = r["run.fluent.parent"], r["run.fluent.child"]
    assert parent["info"]["status"] == "FINISHED" and parent["info"]["experiment_id"] == "exp:a"
    assert parent["data"]["params"] == {"epochs": "10", "lr": "0.01", "optimizer": "adam",
                                        "unicode": "ünï☃"}
    assert parent["data"]["metrics"] == {"acc": "0.4", "loss": "0.2"}
    assert child["data"]["tags"]["mlflow.parentRunId"] == "run:parent"
    assert r["run.fluent.start"]["inner"] == "run:child"
    assert r["run.fluent.start"]["after_child"] == "run:parent"
    assert [r[f"run.fluent.{s}"]["info"]["status"] for s in ("failed", "killed", "raised")] == [
        "FAILED", "KILLED", "FAILED"]
    assert r["run.fluent.resume"]["while_resumed"] == "RUNNING"
    assert r["run.fluent.generated_name"] == {"name_looks_generated": True, "name_is_tag": True,
                                              "name_was_returned": True}
    assert r["run.fluent.tags_and_description"]["mlflow.note.content"] == "hello ☃"
    assert r["run.client.create.c1"]["info"]["start_time"] == T + 1000
    assert r["run.client.update.get"]["info"]["run_name"] == "client-c2b"
    assert r["run.client.update.get"]["data"]["tags"]["mlflow.runName"] == "client-c2b"
    terminated = r["run.client.terminated.get"]
    assert [(i["status"], i["end_time"]) for i in terminated] == [
        ("FINISHED", T + 5000), ("KILLED", T + 6000), ("FINISHED", "<now>")]
    assert r["run.client.get.missing"] == {"error": "RESOURCE_DOES_NOT_EXIST"}
    assert r["raw.get_run.missing"] == {"status": 404, "json": True,
                                        "error_code": "RESOURCE_DOES_NOT_EXIST"}

    # logging
    metrics = r["log.metric.get"]
    assert metrics["m"] == "0.25" and metrics["nan_m"] == "nan"
    assert (metrics["inf_m"], metrics["ninf_m"]) == (("inf", "-inf") if exact
                                                     else (MAX, "-" + MAX))
    assert metrics["zero"] in ("-0.0", "0.0") and metrics["tiny"] == "5e-324"
    assert _points(r["history.c1.m"]) == [["m", "1.5", T + 10, 0], ["m", "2.5", T + 11, 1],
                                          ["m", "0.25", T + 12, 2]]
    assert _points(r["history.c1.nan_m"]) == [["nan_m", "nan", T + 13, 0]]
    assert _points(r["history.c1.neg_step"]) == [["neg_step", "1.0", T + 16, -5]]
    assert _points(r["history.c1.big_step"]) == [["big_step", "2.0", T + 17, 2**40]]
    assert _points(r["history.c1.auto"]) == [["auto", "4.0", "<now>", 0]]
    assert sorted(_points(r["history.c1.ooo"]), key=lambda p: p[3]) == [
        ["ooo", "1.0", T + 100, 0], ["ooo", "2.0", T + 50, 1], ["ooo", "3.0", T + 75, 2]]
    assert r["log.param.changed"] == {"error": "INVALID_PARAMETER_VALUE"}
    params = r["log.param.get"]
    assert (params["int"], params["float"], params["bool"], params["str"]) == (
        "1", "0.1", "True", "ünï ☃")
    assert len(params["long"]) == 6000
    tags = r["log.tag.get"]["data"]["tags"]
    assert tags["t1"] == "v1b" and "t2" not in tags and len(tags["long"]) == 8000
    assert r["log.tag.get"]["info"]["run_name"] == "client-c1b"

    # batches and histories
    large = r["batch.large.get"]
    assert large == {"metrics": {"batch/acc": repr(299 / 300), "batch/loss": repr(1 / 1200)},
                     "params_complete": True, "param_count": 150, "tags_complete": True,
                     "history_loss_count": 1200, "history_acc_count": 300}
    assert _points(r["history.batch.loss"]) == [
        ["batch/loss", repr(1 / (s + 1)), T + s, s] for s in range(1200)]
    assert r["batch.conflicting_param.effects"]["metric"]["items"] == []
    assert r["batch.conflicting_param.effects"]["params"].get("p000") == "v0"
    assert r["history.paged.500"] == {"sizes": [500, 500, 200], "same_as_unpaged": True}
    assert r["history.paged.1200"] == {"sizes": [1200], "same_as_unpaged": True}
    assert r["history.never_logged"]["items"] == []

    # datasets
    if r["datasets.pandas_available"]:
        inputs = r["datasets.get"]["inputs"]
        names = sorted(d["dataset"]["name"] for d in inputs)
        assert names == ["meta-ds", "meta-ds", "np-ds", "train-df"]
        train = next(d for d in inputs if d["dataset"]["name"] == "train-df")
        assert train["tags"] == [["mlflow.data.context", "training"], ["split", "train"]]
        assert train["dataset"]["digest"] == r["datasets.log"]["train"]
        assert train["dataset"]["source_type"] == "code"

    # searches
    assert r["search.runs.filter.param_eq"]["runs"] == ["run:parent"]
    assert r["search.runs.filter.metric_lt"]["runs"] == ["run:child", "run:parent"]
    assert r["search.runs.filter.tag_eq"]["runs"] == ["run:parent", "run:c1"]
    assert r["search.runs.filter.dataset_name"]["runs"] == ["run:data"]
    assert r["search.runs.filter.run_id_in"]["runs"] == ["run:c3", "run:c1"]
    assert r["search.runs.order.start_time"]["runs"][:4] == ["run:c1", "run:c2", "run:c3",
                                                            "run:c5"]
    assert r["search.runs.order.metric_asc"]["runs"][:2] == ["run:parent", "run:child"]
    paged = r["search.runs.paged"]
    assert [len(p) for p in paged] == [3, 3, 3, 3, 1]
    assert [x for p in paged for x in p] == r["search.runs.default"]["runs"]
    assert r["search.runs.error.bad_comparator"] == {"error": "INVALID_PARAMETER_VALUE"}
    assert r["search.runs.error.too_many"] == {"error": "INVALID_PARAMETER_VALUE"}

    # deletion and restoring
    assert r["life.run.deleted.get"]["lifecycle_stage"] == "deleted"
    assert r["life.run.deleted.log_metric"] == {"error": "INVALID_PARAMETER_VALUE"}
    assert r["life.run.deleted.search"] == {
        "active": ["run:c6", "run:c5", "run:c2", "run:c1"], "deleted": ["run:c3"],
        "all": ["run:c6", "run:c5", "run:c3", "run:c2", "run:c1"]}
    assert r["life.run.restored.get"]["lifecycle_stage"] == "active"
    assert r["raw.log_metric.deleted_run"][1]["status"] == 400

