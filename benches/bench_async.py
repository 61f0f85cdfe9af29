"""Asynchronous logging (``synchronous=False``): trackstore against MLflow in the same run.

What the caller pays per point, and how many points per second reach the store end to end
(the final flush included), on the file store, the SQL stores and through the server. Each
benchmark is parametrized ``[trackstore]`` / ``[mlflow]`` (with the shape or the dialect in
the name: ``[sqlite-trackstore]``), so ``--benchmark-group-by=func`` puts the pairs side by
side and ``benches/report.py`` pairs them by name with the library dropped. The two sides
log different numbers of points per timed round (MLflow's calls cost a thousand times
more): ``extra_info["points_per_call"]`` is the points of a round, and the report compares
the libraries per point.

    .ci/databases start; eval "$(.ci/databases env)"   # the PostgreSQL and MariaDB rows
    python -m pytest benches/bench_async.py --benchmark-only \
        --benchmark-group-by=func --benchmark-autosave --benchmark-storage=benches/results

**Caller cost** (``test_async_log_metric_caller_cost``, ``test_async_log_metrics_caller_cost``):
the fluent API on an active run in a fresh file store, a timed round being many calls in a
loop (trackstore 10,000 ``log_metric`` or 1,000 ``log_metrics`` of 10 keys; MLflow 20 and
10). Each library's background thread runs while the caller is timed (nothing holds it
back: no ``MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS``), so on this 2-core machine the caller
shares the GIL with the thread that stores its points, as in a training loop; the round
ends when the last call returns. Between rounds, untimed, everything queued is stored.

**Sustained** (``test_async_sustained*``): a timed round is a number of asynchronous calls
and then the wait until every point is stored. ``log_batch_1000``: ``log_batch`` of 1000
prebuilt ``Metric`` objects (10 keys, new steps each call) through the client;
``log_metrics_100`` (file store only): the fluent ``log_metrics`` of 100 keys per call.
trackstore waits with its ``flush()``; MLflow with ``RunOperations.wait()`` on every call's
handle: its ``flush_async_logging()`` stops and restarts its logging thread, which sits in a
``queue.get(timeout=1)``, and would add up to a second of idling to a round.

* SQL stores (``test_async_sustained[<dialect>-log_batch_1000]``): each library in an empty
  database of its own (``benches/_databases.py``; a dialect whose server is unreachable is
  skipped), as in ``bench_sql_store.py``.
* Server (``test_async_sustained_server[log_batch_1000]``): each library's client to its own
  server, ``trackstore server`` / ``mlflow server`` with 2 workers on a SQLite database of its
  own, MLflow's in the configuration ``bench_server.py`` uses (gunicorn, job runner off).

Untimed (``--benchmark-disable``, as CI runs the benchmarks) each benchmark runs one small
round, and every benchmark checks that each point it logged is stored, once.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from _data import T0, points
from _databases import DIALECTS, fresh_database, server_version
from _servers import Server, metric_history, running, trackstore_server_missing
from bench_server import MLFLOW_ENV, WORKERS, mlflow_server_options

LIBS = ["trackstore", "mlflow"]
#: Environment that would change what is measured: async logging's defaults are measured.
ASYNC_ENV = ("MLFLOW_ENABLE_ASYNC_LOGGING", "MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS",
             "MLFLOW_ASYNC_LOGGING_THREADPOOL_SIZE", "TRACKSTORE_ASYNC_LOGGING_MAX_QUEUE",
             "TRACKSTORE_ASYNC_LOGGING_PUT_TIMEOUT")


@pytest.fixture(autouse=True)
def _async_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ASYNC_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=LIBS)
def lib(request: pytest.FixtureRequest) -> str:
    if request.param == "mlflow":
        pytest.importorskip("mlflow")
    return str(request.param)


def library(lib: str) -> ModuleType:
    """The ``trackstore`` or ``mlflow`` package (fluent API, ``entities``)."""
    if lib == "trackstore":
        import trackstore

        return trackstore
    mlflow: ModuleType = pytest.importorskip("mlflow")
    return mlflow


def client_of(lib: str, uri: str) -> Any:
    if lib == "trackstore":
        import trackstore

        return trackstore.TrackingClient(uri)
    return pytest.importorskip("mlflow").MlflowClient(uri)


def settle(lib: str, client: Any, handles: list[Any]) -> None:
    """Until everything logged asynchronously through *client* is stored (raise what failed).

    trackstore: its ``flush()``. MLflow: ``wait()`` on each call's ``RunOperations`` (see the
    module's docstring for why not its ``flush_async_logging()``).
    """
    if lib == "trackstore":
        client.flush()
    else:
        for handle in handles:
            handle.wait()
    handles.clear()


def stop_async_logging(lib: str, client: Any) -> None:
    """Stop the library's logging threads once the benchmark is over.

    trackstore's thread stops with its store (``registry.clear_cache()``, which
    ``_databases.release`` also calls). MLflow keeps its store, its logging thread (awake
    every second) and its two pools of 10 threads for the life of the process: shut down, so
    they do not run during the benchmarks that follow.
    """
    if lib == "trackstore":
        from trackstore.store import registry

        registry.clear_cache()
    else:
        client._tracking_client.store.shut_down_async_logging()


def logged_steps(lib: str, uri: str, run_id: str, key: str) -> list[int]:
    """The steps of *key*'s stored points, sorted (a fresh client, after the flush).

    Sorted: neither library promises the order in which asynchronously logged points of a
    metric are stored (only that each is stored once).
    """
    if lib == "trackstore":
        return sorted(client_of(lib, uri).get_metric_history_columns(run_id, key).steps)
    return sorted(m.step for m in client_of(lib, uri).get_metric_history(run_id, key))


def metric_batch(entities: ModuleType, number: int) -> list[Any]:
    """Batch *number* of a run: 1000 points over keys m0..m9, 100 new steps of each."""
    first = number * 100
    return [entities.Metric(f"m{i % 10}", value, T0 + first * 10 + i, first + i // 10)
            for i, (_, value, _) in enumerate(points(1000, seed=first))]


# -- the fluent API on an active run ----------------------------------------------------------


@contextlib.contextmanager
def fluent_run(lib: str, root: Path) -> Iterator[tuple[ModuleType, str]]:
    """*lib*'s fluent API pointed at a fresh file store, with an active run: (module, run id).

    The tracking URI (and ``MLFLOW_TRACKING_URI``, which both libraries set) is unset again
    afterwards, and the library's logging threads stopped.
    """
    module = library(lib)
    uri = root.as_uri()
    module.set_tracking_uri(uri)
    try:
        run = module.start_run()
        try:
            yield module, run.info.run_id
        finally:
            module.end_run()
            stop_async_logging(lib, client_of(lib, uri))
    finally:
        module.set_tracking_uri("" if lib == "trackstore" else None)


def _caller_cost(benchmark: Any, lib: str, root: Path, calls: dict[str, int],
                 keys: int) -> None:
    """Time *calls[lib]* fluent calls in a loop (``log_metric`` if *keys* is 0, else
    ``log_metrics`` of *keys* keys), the library's thread storing them meanwhile."""
    timed = not benchmark.disabled
    n = calls[lib] if timed else 5
    steps = itertools.count()
    handles: list[Any] = []
    with fluent_run(lib, root) as (module, run_id):
        log_metric, log_metrics = module.log_metric, module.log_metrics
        values = {f"m{k}": 0.5 for k in range(keys)}

        def setup() -> None:  # untimed: the previous round stored
            settle(lib, module, handles)

        if lib == "trackstore" and keys == 0:
            def round_() -> None:
                first = next(steps) * n
                for step in range(first, first + n):
                    log_metric("loss", 0.5, step=step, synchronous=False)
        elif lib == "trackstore":
            def round_() -> None:
                first = next(steps) * n
                for step in range(first, first + n):
                    log_metrics(values, step=step, synchronous=False)
        elif keys == 0:  # MLflow: the handles are kept to wait on them between rounds
            def round_() -> None:
                first = next(steps) * n
                keep = handles.append
                for step in range(first, first + n):
                    keep(log_metric("loss", 0.5, step=step, synchronous=False))
        else:
            def round_() -> None:
                first = next(steps) * n
                keep = handles.append
                for step in range(first, first + n):
                    keep(log_metrics(values, step=step, synchronous=False))

        benchmark.extra_info["calls_per_round"] = n
        benchmark.extra_info["points_per_call"] = n * max(keys, 1)  # per timed round
        benchmark.extra_info["store"] = "file store"
        rounds = (30 if lib == "trackstore" else 6) if timed else 1
        benchmark.pedantic(round_, setup=setup, rounds=rounds, iterations=1,
                           warmup_rounds=(2 if lib == "trackstore" else 1) if timed else 0)
        settle(lib, module, handles)
        made = next(steps) * n
        for key in ["loss"] if keys == 0 else ["m0", f"m{keys - 1}"]:
            assert logged_steps(lib, root.as_uri(), run_id, key) == list(range(made)), key


def test_async_log_metric_caller_cost(benchmark: Any, lib: str, tmp_path: Path) -> None:
    """``log_metric(key, value, step=i, synchronous=False)``: the caller's time per point."""
    _caller_cost(benchmark, lib, tmp_path / "mlruns", {"trackstore": 10_000, "mlflow": 20},
                 keys=0)


def test_async_log_metrics_caller_cost(benchmark: Any, lib: str, tmp_path: Path) -> None:
    """``log_metrics({10 keys}, step=i, synchronous=False)``: the caller's time per point."""
    _caller_cost(benchmark, lib, tmp_path / "mlruns", {"trackstore": 1_000, "mlflow": 10},
                 keys=10)


# -- sustained: asynchronous calls, then the flush --------------------------------------------


def _sustained_log_batch(benchmark: Any, lib: str, uri: str, calls: int, rounds: int,
                         verify: Callable[[str, str], list[int]] | None = None) -> None:
    """Rounds of *calls* ``log_batch(1000 prebuilt points, synchronous=False)`` then the wait
    until they are stored; every point is then checked, once (through *verify* if given)."""
    timed = not benchmark.disabled
    if not timed:
        calls, rounds = 2, 1
    client = client_of(lib, uri)
    entities = library(lib).entities
    run_id = client.create_run(client.create_experiment("async")).info.run_id
    made = itertools.count()
    handles: list[Any] = []

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:  # untimed: the round's points
        return ([metric_batch(entities, next(made)) for _ in range(calls)],), {}

    def round_(batches: list[list[Any]]) -> None:
        keep = handles.append
        for batch in batches:
            keep(client.log_batch(run_id, metrics=batch, synchronous=False))
        settle(lib, client, handles)

    benchmark.extra_info["calls_per_round"] = calls
    benchmark.extra_info["points_per_call"] = calls * 1000  # per timed round
    try:
        benchmark.pedantic(round_, setup=setup, rounds=rounds, iterations=1,
                           warmup_rounds=1 if timed else 0)
        batches = next(made)
        for key in ("m0", "m9"):
            steps = verify(run_id, key) if verify else logged_steps(lib, uri, run_id, key)
            assert steps == list(range(batches * 100)), key  # each point once
    finally:
        stop_async_logging(lib, client)


def _sustained_log_metrics(benchmark: Any, lib: str, root: Path, calls: int,
                           rounds: int) -> None:
    """Rounds of *calls* fluent ``log_metrics`` of 100 keys, then the wait until stored."""
    timed = not benchmark.disabled
    if not timed:
        calls, rounds = 5, 1
    keys = [f"k{k}" for k in range(100)]
    steps = itertools.count()
    handles: list[Any] = []
    with fluent_run(lib, root) as (module, run_id):
        log_metrics = module.log_metrics

        def round_() -> None:
            first = next(steps) * calls
            for step in range(first, first + calls):
                handles.append(log_metrics(dict.fromkeys(keys, 1.0 / (step + 1)), step=step,
                                           synchronous=False))
            settle(lib, module, handles)

        benchmark.extra_info["calls_per_round"] = calls
        benchmark.extra_info["points_per_call"] = calls * len(keys)  # per timed round
        benchmark.pedantic(round_, rounds=rounds, iterations=1, warmup_rounds=1 if timed else 0)
        made = next(steps) * calls
        for key in ("k0", "k99"):
            assert logged_steps(lib, root.as_uri(), run_id, key) == list(range(made)), key


@pytest.mark.parametrize("shape", ["log_batch_1000", "log_metrics_100"])
def test_async_sustained_file_store(benchmark: Any, lib: str, shape: str,
                                    tmp_path: Path) -> None:
    """Points per second into the file store, end to end (the final flush included)."""
    root = tmp_path / "mlruns"
    benchmark.extra_info["store"] = "file store"
    if shape == "log_batch_1000":
        calls, rounds = (100, 10) if lib == "trackstore" else (4, 3)
        _sustained_log_batch(benchmark, lib, root.as_uri(), calls, rounds)
    else:
        calls, rounds = (1000, 10) if lib == "trackstore" else (10, 3)
        _sustained_log_metrics(benchmark, lib, root, calls, rounds)


# -- SQL stores and the server ----------------------------------------------------------------


def create_schema(lib: str) -> Callable[[str], None]:
    """What makes *lib* create its schema in an empty database: opening it with a client."""
    def create(uri: str) -> None:
        client_of(lib, uri).search_experiments()
        if lib == "trackstore":
            from trackstore.store import registry

            # SQLite: the writer connection closed now folds the -wal file into the database
            # (which is copied whole as the template of fresh ones).
            registry.clear_cache()
            gc.collect()

    return create


def _note_sqlite(benchmark: Any, lib: str) -> None:
    benchmark.extra_info["sqlite_commit"] = (
        "WAL, synchronous=NORMAL (no fsync per commit)" if lib == "trackstore" else
        "rollback journal, synchronous=FULL (MLflow's default)")


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


#: The shape of the calls of the SQL and server benchmarks, in their names as in the file
#: store's: ``log_batch`` of 1000 prebuilt points.
LOG_BATCH_1000 = pytest.mark.parametrize("shape", ["log_batch_1000"])


@LOG_BATCH_1000
def test_async_sustained(benchmark: Any, dialect: str, lib: str, shape: str,
                         tmp_path: Path) -> None:
    """Points per second into a SQL store: ``log_batch`` of 1000 points, asynchronously."""
    with fresh_database(dialect, tmp_path, lib, create_schema(lib)) as uri:
        benchmark.extra_info["database"] = server_version(dialect)
        if dialect == "sqlite":
            _note_sqlite(benchmark, lib)
        calls, rounds = (20, 8) if lib == "trackstore" else (3, 3)
        _sustained_log_batch(benchmark, lib, uri, calls, rounds)


@pytest.fixture
def served(lib: str, tmp_path: Path) -> Iterator[Server]:
    """*lib*'s server (2 workers) on a fresh SQLite database of its own."""
    if lib == "trackstore":
        missing = trackstore_server_missing()
        if missing:
            pytest.skip(missing)
    with fresh_database("sqlite", tmp_path, lib, create_schema(lib)) as uri:
        if lib == "trackstore":
            server = Server(lib, uri, WORKERS, tmp_path)
        else:
            options, _ = mlflow_server_options()
            server = Server(lib, uri, WORKERS, tmp_path, options, MLFLOW_ENV)
        with running(server):
            yield server


@LOG_BATCH_1000
def test_async_sustained_server(benchmark: Any, lib: str, shape: str, served: Server) -> None:
    """Points per second through the server (SQLite behind it): ``log_batch`` of 1000 points,
    asynchronously, from one client in this process."""
    benchmark.extra_info["server"] = (
        f"trackstore server, {WORKERS} workers" if lib == "trackstore" else
        f"mlflow server, {mlflow_server_options()[1]}")
    benchmark.extra_info["database"] = server_version("sqlite")
    _note_sqlite(benchmark, lib)
    calls, rounds = (10, 8) if lib == "trackstore" else (3, 3)

    def verify(run_id: str, key: str) -> list[int]:  # through the REST API
        return sorted(m["step"] for m in metric_history(served.url, run_id, key))

    _sustained_log_batch(benchmark, lib, served.url, calls, rounds, verify)
