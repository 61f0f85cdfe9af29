"""The registry under concurrent writers: threads and processes on one database.

Each backend (SQLite, PostgreSQL, MariaDB, and each behind a live ``trackstore server``) gets
a *cluster*: worker processes (``spawn``), each with a store of its own on the same database
(or its own ``RestStore`` client of the same server), and the test process itself. A job
runs in several threads of every one of them at once, all released together, and every call's
outcome comes back to the test: what it returned, or the error it raised.

The contract: concurrent version creation for one model never hands out a number twice and
loses no create (each call returns a distinct version, which holds what that call sent, or
raises a retriable error; preferably none does); concurrent stage transitions with
``archive_existing_versions`` leave exactly one version in the stage; concurrent alias and
tag writes all succeed and leave one value.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests._databases import SQL_KINDS, fresh_database
from trackstore.exceptions import TrackstoreError
from trackstore.model_registry import ModelVersionTag, RegisteredModelTag

KINDS = [*SQL_KINDS, *(f"rest-{kind}" for kind in SQL_KINDS)]
PROCESSES = 3
THREADS = 4
WORKERS = PROCESSES + 1  # the worker processes and the test process
#: Error codes a client may retry; any other error is a failure of the call.
RETRIABLE = frozenset({"TEMPORARILY_UNAVAILABLE", "RESOURCE_EXHAUSTED", "ABORTED",
                       "DEADLINE_EXCEEDED"})
BARRIER_SECONDS = 240

Outcome = tuple[Any, ...]  # ("ok", value) | ("error", code, message) | ("crash", text)


# -- jobs: what each thread does (module level, so worker processes can run them) ---------------


def _create_versions(store: Any, args: dict[str, Any], worker: int, thread: int
                     ) -> list[Outcome]:
    out: list[Outcome] = []
    for i in range(args["count"]):
        source = f"s3://race/{worker}/{thread}/{i}"
        out.append(_attempt(lambda s=source: (store.create_model_version(
            args["name"], s, tags=[ModelVersionTag("by", s)]).version, s)))
    return out


def _create_and_delete(store: Any, args: dict[str, Any], worker: int, thread: int
                       ) -> list[Outcome]:
    """Create versions; delete every other one right away."""
    out: list[Outcome] = []
    for i in range(args["count"]):
        source = f"s3://churn/{worker}/{thread}/{i}"
        created = _attempt(lambda s=source: store.create_model_version(args["name"], s).version)
        deleted = False
        if created[0] == "ok" and i % 2 == 0:
            result = _attempt(lambda v=created[1]: store.delete_model_version(args["name"], v))
            if result[0] != "ok":
                out.append(result)
                continue
            deleted = True
        out.append(("ok", (created[1], source, deleted)) if created[0] == "ok" else created)
    return out


def _transition(store: Any, args: dict[str, Any], worker: int, thread: int) -> list[Outcome]:
    """Move this thread's own version through Production, Staging, Production, archiving
    whatever else is in the stage each time."""
    number = str(worker * args["threads"] + thread + 1)
    out: list[Outcome] = []
    for stage in ("Production", "Staging", "Production"):
        out.append(_attempt(lambda s=stage: (number, s, store.transition_model_version_stage(
            args["name"], number, s, archive_existing_versions=True).current_stage)))
    return out


def _aliases_and_tags(store: Any, args: dict[str, Any], worker: int, thread: int
                      ) -> list[Outcome]:
    """Point the shared alias at one version after another, set an alias of this thread's
    own, and write the same tag keys as every other thread."""
    name, versions = args["name"], args["versions"]
    mine = f"own-{worker}-{thread}"
    out: list[Outcome] = [_attempt(lambda: store.set_registered_model_alias(
        name, mine, str(thread % versions + 1)))]
    for i in range(args["count"]):
        target = str((worker + thread + i) % versions + 1)
        value = f"{worker}-{thread}-{i}"
        out.append(_attempt(lambda t=target: store.set_registered_model_alias(
            name, "champion", t)))
        out.append(_attempt(lambda v=value: store.set_registered_model_tag(
            name, RegisteredModelTag("shared", v))))
        out.append(_attempt(lambda v=value: store.set_model_version_tag(
            name, "1", ModelVersionTag("shared", v))))
    return out


def _updates(store: Any, args: dict[str, Any], worker: int, thread: int) -> list[Outcome]:
    """Describe the model and its version 1, again and again: each call returns what it
    wrote (whatever the others write just after)."""
    out: list[Outcome] = []
    for i in range(args["count"]):
        text = f"{worker}-{thread}-{i}"
        out.append(_attempt(lambda t=text: (t, store.update_model_version(
            args["name"], "1", t).description)))
        out.append(_attempt(lambda t=text: (t, store.update_registered_model(
            args["name"], t).description)))
    return out


def _create_model(store: Any, args: dict[str, Any], worker: int, thread: int
                  ) -> list[Outcome]:
    return [_attempt(lambda: store.create_registered_model(
        args["name"], tags=[RegisteredModelTag("by", f"{worker}-{thread}")]).name)]


def _whereabouts(store: Any, args: dict[str, Any], worker: int, thread: int
                 ) -> list[Outcome]:
    return [("ok", (os.getpid(), threading.get_ident()))]


JOBS: dict[str, Callable[[Any, dict[str, Any], int, int], list[Outcome]]] = {
    "whereabouts": _whereabouts,
    "create_versions": _create_versions,
    "create_and_delete": _create_and_delete,
    "transition": _transition,
    "aliases_and_tags": _aliases_and_tags,
    "create_model": _create_model,
    "updates": _updates,
}


def _attempt(call: Callable[[], Any]) -> Outcome:
    try:
        return ("ok", call())
    except TrackstoreError as exc:
        return ("error", exc.error_code, exc.message)
    except Exception:
        return ("crash", traceback.format_exc())


def _run_job(store: Any, job: str, args: dict[str, Any], worker: int, barrier: Any
             ) -> list[Outcome]:
    """Run *job* in ``args['threads']`` threads, started once every worker is ready."""
    results: list[list[Outcome]] = [[] for _ in range(args["threads"])]
    go = threading.Event()

    def thread_main(thread: int) -> None:
        go.wait()
        try:
            results[thread] = JOBS[job](store, args, worker, thread)
        except Exception:
            results[thread] = [("crash", traceback.format_exc())]

    threads = [threading.Thread(target=thread_main, args=(t,)) for t in range(args["threads"])]
    for t in threads:
        t.start()
    try:
        barrier.wait(BARRIER_SECONDS)
    finally:
        go.set()
        for t in threads:
            t.join()
    return [outcome for per_thread in results for outcome in per_thread]


def _open_store(spec: tuple[str, ...]) -> Any:
    if spec[0] == "rest":
        from trackstore.store.rest import RestStore

        return RestStore(spec[1])
    from trackstore.store.sql import SqlStore

    return SqlStore(spec[1], spec[2])


def _serve_jobs(spec: tuple[str, ...], worker: int, inbox: Any, outbox: Any,
                barrier: Any) -> None:
    """A worker process: its own store; runs each job it is sent, until sent ``None``."""
    store = _open_store(spec)
    try:
        while (message := inbox.get()) is not None:
            job, args = message
            try:
                outbox.put((worker, _run_job(store, job, args, worker, barrier)))
            except Exception:
                outbox.put((worker, [("crash", traceback.format_exc())]))
    finally:
        store.close()


class Cluster:
    """Worker processes with a store each, and the test process's store, on one database."""

    def __init__(self, spec: tuple[str, ...], store: Any) -> None:
        self.store = store
        ctx = multiprocessing.get_context("spawn")
        self._barrier = ctx.Barrier(WORKERS)
        self._inboxes = [ctx.Queue() for _ in range(PROCESSES)]
        self._outbox = ctx.Queue()
        self._processes = [
            ctx.Process(target=_serve_jobs, daemon=True,
                        args=(spec, w, self._inboxes[w], self._outbox, self._barrier))
            for w in range(PROCESSES)]
        for p in self._processes:
            p.start()

    def run(self, job: str, **args: Any) -> list[Outcome]:
        """Every outcome of *job* run in THREADS threads of every worker at once."""
        args.setdefault("threads", THREADS)
        for inbox in self._inboxes:
            inbox.put((job, args))
        outcomes = _run_job(self.store, job, args, PROCESSES, self._barrier)
        for _ in range(PROCESSES):
            _, theirs = self._outbox.get(timeout=BARRIER_SECONDS + 60)
            outcomes.extend(theirs)
        return outcomes

    def close(self) -> None:
        for inbox in self._inboxes:
            inbox.put(None)
        for p in self._processes:
            p.join(60)
        codes = [p.exitcode for p in self._processes]
        for p in self._processes:
            if p.is_alive():
                p.kill()
        assert codes == [0] * PROCESSES, f"worker processes ended with {codes}"


@pytest.fixture(scope="module", params=KINDS)
def cluster(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One database per backend for the module's tests (each uses models of its own)."""
    kind = str(request.param)
    tmp_path = tmp_path_factory.mktemp(f"race-{kind}")
    with contextlib.ExitStack() as stack:
        from trackstore.store.sql import SqlStore
        from trackstore.store.sql.engine import dispose_engines

        database = kind.removeprefix("rest-")
        uri = stack.enter_context(fresh_database(database, tmp_path))
        stack.callback(dispose_engines)
        artifacts = str(tmp_path / "artifacts")
        backing = SqlStore(uri, artifacts)
        stack.callback(backing.close)
        spec: tuple[str, ...] = ("sql", uri, artifacts)
        store: Any = backing
        if kind.startswith("rest-"):
            from tests._live_server import serve_in_thread
            from trackstore.store.rest import RestStore

            url = stack.enter_context(serve_in_thread(backing))
            store = RestStore(url)
            stack.callback(store.close)
            spec = ("rest", url)
        running = Cluster(spec, store)
        stack.callback(running.close)
        yield running


def _split(outcomes: list[Outcome]) -> tuple[list[Any], list[Outcome], list[Outcome]]:
    """(values of the calls that returned, TrackstoreErrors, crashes)."""
    ok = [o[1] for o in outcomes if o[0] == "ok"]
    errors = [o for o in outcomes if o[0] == "error"]
    crashes = [o for o in outcomes if o[0] == "crash"]
    return ok, errors, crashes


def _assert_only_retriable(errors: list[Outcome], crashes: list[Outcome]) -> None:
    assert not crashes, "calls raised something else than a TrackstoreError:\n" + "\n".join(
        c[1] for c in crashes[:3])
    fatal = [e for e in errors if e[1] not in RETRIABLE]
    assert not fatal, f"{len(fatal)} calls failed with a non-retriable error, e.g. {fatal[:3]}"


def _assert_no_errors(errors: list[Outcome], total: int) -> None:
    assert not errors, (f"{len(errors)} of {total} calls failed with a retriable error (the "
                        f"contract allows it, but none should): {Counter(errors).most_common(3)}")


def _stored_versions(store: Any, name: str) -> dict[str, Any]:
    found = store.search_model_versions(f"name = '{name}'", max_results=10_000)
    assert not found.token
    return {mv.version: mv for mv in found}


# -- tests ----------------------------------------------------------------------------------


def test_concurrent_creates_never_hand_out_a_number_twice(cluster: Cluster) -> None:
    name = "race-create"
    cluster.store.create_registered_model(name)
    count = 5
    outcomes = cluster.run("create_versions", name=name, count=count)
    total = WORKERS * THREADS * count
    assert len(outcomes) == total
    created, errors, crashes = _split(outcomes)
    numbers = [int(number) for number, _ in created]
    duplicates = [n for n, times in Counter(numbers).items() if times > 1]
    assert not duplicates, f"numbers handed out more than once: {sorted(duplicates)}"
    _assert_only_retriable(errors, crashes)
    # No create lost, none made up: each number holds what the call that got it sent.
    stored = _stored_versions(cluster.store, name)
    assert {v: (mv.source, mv.tags) for v, mv in stored.items()} == {
        number: (source, {"by": source}) for number, source in created}
    assert sorted(numbers) == list(range(1, len(created) + 1))
    _assert_no_errors(errors, total)
    assert cluster.store.create_model_version(name, "s3://race/after").version == str(total + 1)


def test_concurrent_creates_and_deletes_never_reuse_a_number(cluster: Cluster) -> None:
    name = "race-churn"
    cluster.store.create_registered_model(name)
    count = 4
    outcomes = cluster.run("create_and_delete", name=name, count=count)
    total = WORKERS * THREADS * count
    created, errors, crashes = _split(outcomes)
    _assert_only_retriable(errors, crashes)
    numbers = [int(number) for number, _, _ in created]
    assert len(numbers) == len(set(numbers)), "a number was handed out twice"
    stored = _stored_versions(cluster.store, name)
    assert {v: mv.source for v, mv in stored.items()} == {
        number: source for number, source, deleted in created if not deleted}
    assert sorted(numbers) == list(range(1, len(created) + 1))
    _assert_no_errors(errors, total)
    # The highest number may have been deleted: it is still not handed out again.
    assert cluster.store.create_model_version(name, "s3://race/after").version == str(total + 1)


def test_concurrent_transitions_leave_one_version_in_the_stage(cluster: Cluster) -> None:
    name = "race-stages"
    cluster.store.create_registered_model(name)
    participants = WORKERS * THREADS
    for n in range(participants):
        cluster.store.create_model_version(name, f"s3://stages/{n + 1}")
    outcomes = cluster.run("transition", name=name)
    moved, errors, crashes = _split(outcomes)
    _assert_only_retriable(errors, crashes)
    _assert_no_errors(errors, len(outcomes))
    wrong = [m for m in moved if m[1] != m[2]]
    assert not wrong, f"transitions that returned another stage (version, asked, got): {wrong}"
    stages = Counter(mv.current_stage for mv in _stored_versions(cluster.store, name).values())
    # Each thread's last move was to Production: exactly one version stays there; at most one
    # in Staging; all the others archived.
    assert stages["Production"] == 1, stages
    assert stages["Staging"] <= 1, stages
    assert stages["Archived"] == participants - stages["Production"] - stages["Staging"]
    latest = cluster.store.get_latest_versions(name, ["Production"])
    in_production = [v for v, mv in _stored_versions(cluster.store, name).items()
                     if mv.current_stage == "Production"]
    assert [mv.version for mv in latest] == in_production


def test_concurrent_alias_and_tag_writes_all_succeed(cluster: Cluster) -> None:
    name = "race-aliases"
    cluster.store.create_registered_model(name)
    versions = 4
    for n in range(versions):
        cluster.store.create_model_version(name, f"s3://aliases/{n + 1}")
    count = 4
    outcomes = cluster.run("aliases_and_tags", name=name, versions=versions, count=count)
    _, errors, crashes = _split(outcomes)
    _assert_only_retriable(errors, crashes)
    _assert_no_errors(errors, len(outcomes))
    rm = cluster.store.get_registered_model(name)
    own = {f"own-{w}-{t}": str(t % versions + 1) for w in range(WORKERS) for t in range(THREADS)}
    champion = rm.aliases.get("champion")
    assert rm.aliases == {**own, "champion": champion}
    by_alias = cluster.store.get_model_version_by_alias(name, "champion")
    assert by_alias.version == champion and "champion" in by_alias.aliases
    holders = [n for n in range(1, versions + 1)
               if "champion" in cluster.store.get_model_version(name, str(n)).aliases]
    assert holders == [int(champion)]
    written = {f"{w}-{t}-{i}" for w in range(WORKERS) for t in range(THREADS)
               for i in range(count)}
    assert set(rm.tags) == {"shared"} and rm.tags["shared"] in written
    tags = cluster.store.get_model_version(name, "1").tags
    assert set(tags) == {"shared"} and tags["shared"] in written


def test_concurrent_updates_each_return_what_they_wrote(cluster: Cluster) -> None:
    name = "race-updates"
    cluster.store.create_registered_model(name)
    cluster.store.create_model_version(name, "s3://updates/1")
    count = 3
    outcomes = cluster.run("updates", name=name, count=count)
    returned, errors, crashes = _split(outcomes)
    _assert_only_retriable(errors, crashes)
    _assert_no_errors(errors, len(outcomes))
    wrong = [(sent, got) for sent, got in returned if sent != got]
    assert not wrong, (f"{len(wrong)} of {len(returned)} updates returned another call's "
                       f"description (sent, returned): {wrong[:5]}")
    written = {sent for sent, _ in returned}
    assert cluster.store.get_registered_model(name).description in written
    assert cluster.store.get_model_version(name, "1").description in written


def test_concurrent_creates_of_one_name_make_one_model(cluster: Cluster) -> None:
    name = "race-model"
    outcomes = cluster.run("create_model", name=name)
    made, errors, crashes = _split(outcomes)
    assert not crashes, crashes[0][1]
    assert made == [name], f"{len(made)} creates of one name succeeded"
    assert {e[1:] for e in errors} == {
        ("RESOURCE_ALREADY_EXISTS", f"Registered Model (name={name}) already exists.")}
    assert len(errors) == WORKERS * THREADS - 1
    rm = cluster.store.get_registered_model(name)
    assert set(rm.tags) == {"by"}
    assert [m.name for m in cluster.store.search_registered_models(f"name = '{name}'")] == [name]


def test_the_workers_are_separate_processes_and_threads(cluster: Cluster) -> None:
    """The harness itself: a job runs in WORKERS processes, THREADS threads in each."""
    where, errors, crashes = _split(cluster.run("whereabouts"))
    assert not errors and not crashes
    pids = Counter(pid for pid, _ in where)
    assert len(pids) == WORKERS and set(pids.values()) == {THREADS}
    assert len(set(where)) == WORKERS * THREADS
