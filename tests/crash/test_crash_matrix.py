"""The SIGKILL crash matrix (design §7): writers killed at random moments lose nothing they
were told was stored, and leave every store readable.

Eight backends: the file store, SQLite, PostgreSQL and MariaDB, directly and through
``trackstore server`` (``http-file``, ``http-sqlite``, ``http-postgresql``, ``http-mysql``);
125 trials each at scale 1 (``TRACKSTORE_RELIABILITY_SCALE`` scales them), one class per
backend so that ``pytest -n 2 --dist loadscope`` spreads them.

A trial: a writer process (forked by a pre-imported zygote, ``_writer.py``) applies a
seed-drawn plan (``_model.make_plan``): maybe a new experiment, a new run, then a mix of
``log_metric``, ``log_batch`` (metrics, params and tags), ``set_tag`` (overwriting),
``log_param``, ``set_terminated``, status updates, run renames, ``delete_run`` /
``restore_run``, ``log_inputs``, experiment renames and creations, on the new run and on
runs of earlier trials. It acknowledges each operation on a pipe once the call returned.
After a drawn number of acknowledgements plus a drawn delay (0 to 4 ms) it is SIGKILLed;
through the server, one trial in five SIGKILLs the server's process group instead (mid-
request), then the writer, and a spare server started beforehand on the same store takes
over.

Then the store, opened afresh in this process, must hold every acknowledged operation, the
one in flight applied or not (on SQL stores all of it or none of it, see ``_model``), and
nothing that was never sent: each acknowledged metric point exactly once. The check is
cumulative: one store per backend, each trial's plan touching runs of earlier trials, and
every run and experiment read back after every trial (latest metrics by search; whole
histories of the runs the trial touched; all histories at the end). Below the API: every
``meta.yaml`` of a file store is non-empty and parses with both YAML twins, metric files hold
whole lines (or a torn tail, which the store ignores), the file store reports no damage,
SQLite passes ``PRAGMA integrity_check``, the server still serves (and agrees with the store),
and the store takes a new write after every trial.

Reproducing: ``TRACKSTORE_CRASH_SEED`` (default :data:`DEFAULT_SEED`) seeds every draw: each
trial's plan, kill point and server-or-client choice come from ``random.Random(f"{seed}:
{backend}:{trial}")``. Every failure names the seed, backend, trial and kill point.
``TRACKSTORE_CRASH_TRIALS`` runs only some trials (``17``, ``10-20``, ``0-17,40``) on a fresh
store, e.g. ``TRACKSTORE_CRASH_SEED=S TRACKSTORE_CRASH_TRIALS=0-17 pytest tests/crash -k
sqlite``: the same draws, on a store that went through the same earlier trials. What a kill
interrupts exactly is a matter of microseconds, so a replay aims at the same moment, not
the same instruction.
"""

from __future__ import annotations

import os
import random
import re
import signal
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests._databases import admin_engine, fresh_database
from tests._figures import record, scaled
from trackstore import TrackingClient
from trackstore.store import registry
from trackstore.store.file import FileStore
from trackstore.store.sql.engine import dispose_engines

from . import _model
from ._harness import (
    FileTreeChecks,
    Servers,
    Zygote,
    full_fields,
    read_all,
    run_fields,
    sqlite_integrity,
)
from ._model import PENDING, Fields, Model, Violation

DEFAULT_SEED = 20260517
SEED = int(os.environ.get("TRACKSTORE_CRASH_SEED") or DEFAULT_SEED)
TRIALS = 125  # per backend at scale 1: 1,000 in all
SERVER_KILLS = 0.2  # the share of trials through a server that kill the server
MAX_DELAY = 0.004  # seconds between the drawn acknowledgement and the kill, at most
#: Seconds a database may take to end the sessions of a killed writer or server.
QUIET_TIMEOUT = 30.0


def selected_trials() -> list[int]:
    """``TRACKSTORE_CRASH_TRIALS`` (``17``, ``10-20``, ``0-17,40``), else all of them."""
    raw = os.environ.get("TRACKSTORE_CRASH_TRIALS", "").strip()
    if not raw:
        return list(range(scaled(TRIALS)))
    chosen: set[int] = set()
    for part in raw.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if match is None:
            raise ValueError(f"TRACKSTORE_CRASH_TRIALS={raw!r}: expected e.g. 17, 10-20, 0-17,40")
        first = int(match[1])
        chosen.update(range(first, int(match[2] or first) + 1))
    return sorted(chosen)


def wait_quiet(kind: str, uri: str, busy_only: bool) -> None:
    """Wait until the database of *uri* has no session but ours (*busy_only*: none at work):
    a killed writer's last statement may still be committing there."""
    database = sa.engine.make_url(uri).database
    if kind == "postgresql":
        query = ("SELECT count(*) FROM pg_stat_activity WHERE datname = :db"
                 " AND pid <> pg_backend_pid()" + (" AND state <> 'idle'" if busy_only else ""))
    else:
        query = ("SELECT count(*) FROM information_schema.processlist WHERE db = :db"
                 " AND id <> CONNECTION_ID()" + (" AND command <> 'Sleep'" if busy_only else ""))
    deadline = time.monotonic() + QUIET_TIMEOUT
    with admin_engine(kind).connect() as connection:
        while connection.execute(sa.text(query), {"db": database}).scalar():
            if time.monotonic() > deadline:
                raise AssertionError(f"sessions still open on {database} after "
                                     f"{QUIET_TIMEOUT:.0f} s")
            time.sleep(0.005)


class Matrix:
    """One backend's store, writers and checks; :meth:`trial` runs one trial."""

    def __init__(self, backend: str, tmp: Path, stack: ExitStack) -> None:
        self.backend = backend
        self.kind = backend.removeprefix("http-")
        self.tmp = tmp
        self.atomic = self.kind != "file"
        self.file_root: Path | None = None
        self.sqlite_path: Path | None = None
        if self.kind == "file":
            self.file_root = tmp / "mlruns"
            self.store_uri = self.file_root.as_uri()
        else:
            self.store_uri = stack.enter_context(fresh_database(self.kind, tmp))
            if self.kind == "sqlite":
                self.sqlite_path = Path(self.store_uri[len("sqlite:///"):])
        TrackingClient(self.store_uri).get_experiment("0")  # the store, before anyone races
        self._reopen()
        stack.callback(self._reopen)
        self.servers: Servers | None = None
        if backend.startswith("http-"):
            self.servers = Servers(self.store_uri, tmp)
            stack.callback(self.servers.close)
        self.zygote = Zygote(self.uri, tmp)
        stack.callback(self.zygote.close)
        self.tree = FileTreeChecks(self.file_root) if self.file_root else None
        self.model = Model()
        self.tally: Counter[str] = Counter()
        self.violations: Counter[str] = Counter()
        self.unreadable_trials = 0
        self.last: tuple[list[dict[str, Any]], Any] | None = None
        probe = {"op": "create_run", "exp": "0", "name": "probe", "start": _model.BASE_TIME,
                 "tags": {"t.a": "probe"}}
        self.probe_run = TrackingClient(self.uri).create_run(
            "0", start_time=probe["start"], tags=probe["tags"], run_name="probe").info.run_id
        _model.apply(self.model, probe, {}, self.probe_run)
        self._reopen()

    @property
    def uri(self) -> str:
        """Where writers write: the serving server, or the store itself."""
        return self.servers.active.url if self.servers else self.store_uri

    @staticmethod
    def _reopen() -> None:
        """Forget every store this process opened: the next read opens them afresh."""
        registry.clear_cache()
        dispose_engines()

    # -- one trial ---------------------------------------------------------------------------

    def trial(self, trial: int) -> None:
        rng = random.Random(f"{SEED}:{self.backend}:{trial}")
        plan = _model.make_plan(rng, self.model, "crash", trial, frozenset({self.probe_run}))
        target = rng.randint(0, len(plan))
        delay = rng.choice((0.0, rng.uniform(0, 0.001), rng.uniform(0.001, MAX_DELAY)))
        kill_server = self.servers is not None and rng.random() < SERVER_KILLS
        about = (f"seed {SEED}, backend {self.backend}, trial {trial}: SIGKILL the "
                 f"{'server' if kill_server else 'writer'} after {target} acknowledged "
                 f"operation(s) + {delay * 1000:.2f} ms")
        before_kill = self.servers.kill_active if kill_server and self.servers else None
        outcome = self.zygote.run(self.uri, plan, target, delay, before_kill)
        self.last = (plan, outcome)
        where = f"{about}; acknowledged {len(outcome.acks)}"
        assert sorted(outcome.acks) == list(range(len(outcome.acks))), f"{where}: {outcome}"
        assert outcome.status == -signal.SIGKILL, \
            f"{where}: the writer exited with {outcome.status}; stderr:\n{self.zygote.stderr()}"
        if outcome.error is not None and not kill_server:
            raise AssertionError(f"{where}: operation {outcome.error[0]} "
                                 f"({plan[outcome.error[0]]}) failed: {outcome.error[1]}")
        in_flight = None if len(outcome.acks) == len(plan) else len(outcome.acks)
        where += f", in flight: {plan[in_flight] if in_flight is not None else 'nothing'}"
        self.tally["trials"] += 1
        self.tally["server_kills" if kill_server else "client_kills"] += 1
        self.tally["acknowledged_ops"] += len(outcome.acks)
        self.tally["acknowledged_points"] += sum(
            1 if plan[i]["op"] == "log_metric" else len(plan[i].get("metrics", ()))
            for i in outcome.acks)
        if kill_server and self.servers is not None:
            self.servers.replace()
        self._settle(kill_server)
        results = {i: r for i, r in outcome.acks.items() if r != "-"}
        before = self.model.copy()
        for i in sorted(outcome.acks):
            _model.apply(before, plan[i], results, results.get(i, "-"))
        after = before.copy()
        if in_flight is not None:
            _model.apply(after, plan[in_flight], results, PENDING)
        upto = len(plan) - 1 if in_flight is None else in_flight
        touched = _model.touched(plan, upto, results)  # the probe checks the probe run
        self.check(where, trial, before, after, touched)

    def _settle(self, kill_server: bool) -> None:
        """Wait until nothing the killed process started can still change the store."""
        if self.kind in ("postgresql", "mysql"):
            if self.servers is None:
                wait_quiet(self.kind, self.store_uri, busy_only=False)
            elif kill_server:
                time.sleep(0.05)  # the dead server's sockets reach the database
                wait_quiet(self.kind, self.store_uri, busy_only=True)

    # -- the checks --------------------------------------------------------------------------

    def probe(self, trial: int, where: str, sides: tuple[Model, ...]) -> list[Violation]:
        """One more point to the probe run (which no plan touches), through the writers'
        URI: the store (and the server) still take writes and read them back. Through the
        server, the answer also means that the request the killed writer left in flight
        there is finished (a worker handles writes one at a time, in order)."""
        point = {"op": "log_metric", "run": self.probe_run, "key": "probe",
                 "value": trial + 0.5, "ts": _model.BASE_TIME + trial, "step": trial}
        try:
            client = TrackingClient(self.uri)
            client.log_metric(self.probe_run, "probe", point["value"], timestamp=point["ts"],
                              step=point["step"])
            history = tuple(sorted((m.timestamp, m.step, m.value)
                                   for m in client.get_metric_history(self.probe_run, "probe")))
        except Exception as exc:
            return [Violation("unwritable", where, f"the probe write failed: {exc!r}")]
        for side in sides:  # acknowledged: on both sides of the operation in flight
            _model.apply(side, point, {}, "-")
        expected = sides[0].runs[self.probe_run][("metric", "probe")]
        if history != expected:
            return [Violation("lost", where, f"the probe history is {history[-5:]} (last 5 of "
                              f"{len(history)}), expected {expected[-5:]} ({len(expected)})")]
        return []

    def check(self, where: str, trial: int, before: Model, after: Model,
              touched: set[str]) -> None:
        """Compare the store, opened afresh, with *before* / *after* the operation in flight;
        adopt what it holds; fail with every violation found."""
        self._reopen()  # nothing cached in this process from before the kill
        found = self.probe(trial, where, (before, after))
        client = TrackingClient(self.store_uri)
        try:
            seen_experiments, seen_runs, full = self.read(client, before, after, touched)
        except Exception:
            self.unreadable_trials += 1
            found.append(Violation("unreadable", where, traceback.format_exc(limit=8)))
            self.fail(where, found)
        found += self.compare(where, before, after, seen_experiments, seen_runs, full)
        found += self.below_api(where, client, full)
        if self.servers is not None:
            found += self.servers.check_serving(where)
            found += self.via_server(where, full)
        self._reopen()
        if found:
            self.fail(where, found)
        self.adopt(after, seen_experiments, full)

    def read(self, client: TrackingClient, before: Model, after: Model, touched: set[str]
             ) -> tuple[dict[str, str], dict[str, Fields], dict[str, Fields]]:
        """Every experiment and run, and the touched runs (and a run the operation in flight
        created) in full."""
        experiments, runs = read_all(client)
        wanted = {r for r in touched if r != PENDING and r in runs}
        wanted |= {r for r in runs if r not in before.runs}  # new: the one in flight made it
        full = {}
        for run_id in sorted(wanted):
            model = after.runs.get(run_id) or after.runs.get(PENDING) or {}
            keys = [name[1] for name in (*model, *before.runs.get(run_id, {}))
                    if name[0] == "metric"]
            full[run_id] = full_fields(client, run_id, keys)
        return experiments, runs, full

    def compare(self, where: str, before: Model, after: Model, experiments: dict[str, str],
                runs: dict[str, Fields], full: dict[str, Fields]
                ) -> list[Violation]:
        found = []
        for experiment_id, name in before.experiments.items():
            seen = experiments.get(experiment_id)
            allowed = {name, after.experiments.get(experiment_id)}
            if seen is None:
                found.append(Violation("lost", where, f"experiment {experiment_id} ({name!r}) "
                                       "is gone"))
            elif seen not in allowed:
                found.append(Violation("wrong", where, f"experiment {experiment_id} is named "
                                       f"{seen!r}, expected one of {sorted(map(str, allowed))}"))
        pending = after.experiments.get(PENDING)
        for experiment_id, name in experiments.items():
            if experiment_id not in before.experiments and name != pending:
                found.append(Violation("phantom", where, f"experiment {experiment_id} "
                                       f"({name!r}) was never created"))
        for run_id, model in before.runs.items():
            if run_id not in runs:
                found.append(Violation("lost", where, f"run {run_id} "
                                       f"({model[('name',)]!r}) is gone"))
                continue
            is_full = run_id in full
            seen = full[run_id] if is_full else runs[run_id]
            found += _model.compare_run(f"run {run_id}", seen, _model.project(model, is_full),
                                        _model.project(after.runs[run_id], is_full), self.atomic)
        created = after.runs.get(PENDING)
        for run_id, fields in runs.items():
            if run_id in before.runs:
                continue
            if created is None or fields.get(("name",)) != created[("name",)]:
                found.append(Violation("phantom", where, f"run {run_id} "
                                       f"({fields.get(('name',))!r}) was never created"))
                continue
            expected = dict(created)
            if expected[("exp",)] == PENDING:  # impossible: one operation is in flight
                found.append(Violation("wrong", where, f"run {run_id} in an unknown experiment"))
                continue
            found += _model.compare_run(f"run {run_id} (created in flight)", full[run_id], None,
                                        _model.project(expected, True), self.atomic)
        for run_id, seen in runs.items():  # a rename is seen whole, even half-written
            found += _model.consistent(f"run {run_id}", seen)
        return found

    def below_api(self, where: str, client: TrackingClient, full: dict[str, Fields]
                  ) -> list[Violation]:
        found = []
        if self.tree is not None and self.file_root is not None:
            found += self.tree.meta_yaml(where)
            dirs = [self.file_root / str(fields[("exp",)]) / run_id
                    for run_id, fields in full.items()]
            found += self.tree.metric_files(dirs, where)
            store = client.store  # it has just read every experiment and run
            assert isinstance(store, FileStore)
            found += [Violation("damaged", where, f"the file store skipped {path}: {problem}")
                      for path, problem in store.problems()]
        if self.sqlite_path is not None:
            found += sqlite_integrity(self.sqlite_path, where)
        return found

    def via_server(self, where: str, full: dict[str, Fields]) -> list[Violation]:
        """The server shows the touched runs as the store does."""
        found = []
        client = TrackingClient(self.uri)
        for run_id, fields in full.items():
            try:
                served = run_fields(client.get_run(run_id))
            except Exception as exc:
                found.append(Violation("unreadable", where, f"the server's get_run({run_id}) "
                                       f"failed: {exc!r}"))
                continue
            expected = _model.project({k: v for k, v in fields.items() if k != ("inputs",)},
                                      False)
            if served != expected:
                found.append(Violation("wrong", where, f"the server shows run {run_id} as "
                                       f"{served}, the store as {expected}"))
        return found

    def adopt(self, after: Model, experiments: dict[str, str], full: dict[str, Fields]) -> None:
        """The store passed: it is the model now (the operation in flight resolved)."""
        model = after.copy()
        pending_name = model.experiments.pop(PENDING, None)
        model.runs.pop(PENDING, None)
        for experiment_id, name in experiments.items():
            if experiment_id in model.experiments or name == pending_name:
                model.experiments[experiment_id] = name
        for run_id, fields in full.items():
            model.runs[run_id] = dict(fields)
        self.model = model

    def fail(self, where: str, found: list[Violation]) -> None:
        for violation in found:
            self.violations[violation.kind] += 1
        self.record()
        shown = "\n".join(map(str, found[:30]))
        if self.last is not None:
            plan, outcome = self.last
            shown += "\nthe plan (acknowledged: result):\n" + "\n".join(
                f"  {i}: {op}" + (f" -> {outcome.acks[i]}" if i in outcome.acks else "")
                for i, op in enumerate(plan))
        raise AssertionError(f"{where}\n{len(found)} violation(s):\n{shown}\n(server logs and "
                             f"writers' stderr in {self.tmp}; the writers' stderr:\n"
                             f"{self.zygote.stderr()})")

    def final_check(self) -> None:
        """Every run in full, every metric history, after the last trial."""
        where = f"seed {SEED}, backend {self.backend}, after the last trial"
        self.check(where, len(self.model.runs) + 10**6, self.model.copy(), self.model.copy(),
                   set(self.model.runs))

    def record(self) -> None:
        record("crash", self.backend, seed=SEED, **dict(self.tally),
               lost=self.violations["lost"], duplicated=self.violations["duplicated"],
               unreadable_stores=self.unreadable_trials + self.violations["unwritable"],
               corrupt_meta_yaml=self.violations["corrupt_meta_yaml"],
               meta_yaml_parsed=self.tree.meta_files if self.tree else 0)


# -- the tests: one class per backend, for --dist loadscope ----------------------------------


@contextmanager
def matrix(backend: str, tmp: Path) -> Iterator[Matrix]:
    with ExitStack() as stack:
        yield Matrix(backend, tmp, stack)


class _CrashMatrix:
    backend = ""

    def test_sigkill_matrix(self, tmp_path: Path) -> None:
        started = time.monotonic()
        with matrix(self.backend, tmp_path) as m:
            for trial in selected_trials():
                m.trial(trial)
            m.final_check()
            m.tally["seconds"] = round(time.monotonic() - started)
            m.record()
        assert m.tally["trials"] == len(selected_trials())
        assert sum(m.violations.values()) == 0


class TestFile(_CrashMatrix):
    backend = "file"


class TestSqlite(_CrashMatrix):
    backend = "sqlite"


class TestPostgresql(_CrashMatrix):
    backend = "postgresql"


class TestMysql(_CrashMatrix):
    backend = "mysql"


class TestHttpFile(_CrashMatrix):
    backend = "http-file"


class TestHttpSqlite(_CrashMatrix):
    backend = "http-sqlite"


class TestHttpPostgresql(_CrashMatrix):
    backend = "http-postgresql"


class TestHttpMysql(_CrashMatrix):
    backend = "http-mysql"
