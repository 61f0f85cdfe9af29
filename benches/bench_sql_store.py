"""The SQL store end to end: trackstore's ``SqlStore`` against MLflow's ``SqlAlchemyStore``.

Both through their clients (``trackstore.TrackingClient(uri)`` / ``mlflow.MlflowClient(uri)``),
each library in a database of its own, created empty for the benchmark (each library creates
its schema on first use): a SQLite file, or a database on the PostgreSQL / MariaDB servers of
``.ci/databases`` (``benches/_databases.py``; a dialect whose server is unreachable is
skipped, with the reason). Benchmarks are parametrized ``[<dialect>-trackstore]`` /
``[<dialect>-mlflow]`` (``mysql`` is MariaDB), so ``--benchmark-group-by=func`` puts the pairs
side by side and ``benches/report.py`` pairs them by name with the library dropped.

    .ci/databases start; eval "$(.ci/databases env)"   # the PostgreSQL and MariaDB rows
    python -m pytest benches/bench_sql_store.py --benchmark-only \
        --benchmark-group-by=func --benchmark-autosave --benchmark-storage=benches/results

Where the data lives: the write benchmarks (``log_metric``, ``log_batch``, run creation) use
a SQLite file on the test's disk (``tmp_path``), so a commit costs what it costs there (the
file is a copy of one where the library created its schema earlier in the session). The
read benchmarks (``search_runs``, ``get_metric_history``) build their data once per session
in a SQLite file on ``/dev/shm`` when there is one (tmpfs): it is read from memory either way,
and MLflow builds 5,000 runs 4× faster there (its SQLite commits ``fsync`` each time).

Untimed (``--benchmark-disable``, as CI runs the benchmarks) every benchmark runs once, as a
test of its assertions, on smaller data: the parameters are chosen by ``pytest_generate_tests``
below, so the untimed runs have other names (search: ``[150-...]`` runs instead of ``[5000-...]``;
history: ``[2000-...]`` points instead of ``[100000-...]``; ``test_search_runs_first_page_big``:
``[300-...]`` runs instead of ``[100000-...]``, the 100,000-run experiment is never built) and
on a server one database per library serves the whole session (MLflow's schema migrations
take 5-20 s per database there).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from _data import T0, log_metric_per_call, points, timed
from _databases import DIALECTS, analyze, fresh_database, server_version, skip_unreachable

LIBS = ["trackstore", "mlflow"]
SEARCH_FILTER = "metrics.m > 0.5 and params.p = 'x'"
SEARCH_ORDER = ["metrics.m DESC"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Data sizes: the real ones when timed, small ones when run as tests (see the module doc)."""
    full = timed(metafunc.config)
    if "runs" in metafunc.fixturenames:
        metafunc.parametrize("runs", [5000] if full else [150], scope="session")
    if "big_runs" in metafunc.fixturenames:
        metafunc.parametrize("big_runs", [100_000] if full else [300], scope="session")
    if "history_size" in metafunc.fixturenames:
        metafunc.parametrize("history_size", [100_000] if full else [2000], scope="session")


def client_and_entities(lib: str, uri: str) -> tuple[Any, ModuleType]:
    if lib == "trackstore":
        import trackstore

        return trackstore.TrackingClient(uri), trackstore.entities
    mlflow = pytest.importorskip("mlflow")
    return mlflow.MlflowClient(uri), mlflow.entities


def create_schema(lib: str) -> Callable[[str], None]:
    """What makes *lib* create its schema in an empty database: opening it with a client."""
    def create(uri: str) -> None:
        client, _ = client_and_entities(lib, uri)
        client.search_experiments()

    return create


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=LIBS)
def lib(request: pytest.FixtureRequest) -> str:
    if request.param == "mlflow":
        pytest.importorskip("mlflow")
    return str(request.param)


@pytest.fixture(scope="session")
def session_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExitStack]:
    """Holds the databases made once per session; drops them (and the /dev/shm files) at the end."""
    with ExitStack() as stack:
        yield stack
    for path in Path("/dev/shm").glob(f"trackstore-bench-*-{os.getpid()}-*"):
        shutil.rmtree(path, ignore_errors=True)


_untimed_databases: dict[tuple[str, str], str] = {}


@pytest.fixture
def db(request: pytest.FixtureRequest, dialect: str, lib: str, tmp_path: Path,
       session_databases: ExitStack) -> Iterator[str]:
    """An empty database of *dialect* for *lib* alone (dropped afterwards).

    Untimed, on a server, one database per library serves the whole session: MLflow's ~50
    schema migrations take 5-20 s per database there (the benchmarks keep to runs and
    experiments of their own, so they do not see each other's).
    """
    if timed(request.config) or dialect == "sqlite":
        with fresh_database(dialect, tmp_path, lib, create_schema(lib)) as uri:
            yield uri
    else:
        yield untimed_server_database(session_databases, dialect, lib, tmp_path)


def untimed_server_database(stack: ExitStack, dialect: str, lib: str, tmp_path: Path) -> str:
    key = (dialect, lib)
    if key not in _untimed_databases:
        _untimed_databases[key] = stack.enter_context(
            fresh_database(dialect, tmp_path, lib, create_schema(lib)))
    return _untimed_databases[key]


def _note_database(benchmark: Any, dialect: str, lib: str) -> None:
    """What the results must say about the database: its version and (SQLite) commit mode."""
    benchmark.extra_info["database"] = server_version(dialect)
    if dialect == "sqlite":
        benchmark.extra_info["sqlite_commit"] = (
            "WAL, synchronous=NORMAL (no fsync per commit)" if lib == "trackstore" and
            os.environ.get("TRACKSTORE_FSYNC") != "1" else
            "WAL, synchronous=FULL (fsync per commit)" if lib == "trackstore" else
            "rollback journal, synchronous=FULL (MLflow's default)")


# -- writes -----------------------------------------------------------------------------------


def _log_metric_one_point_per_call(benchmark: Any, lib: str, uri: str, fast: bool = True) -> None:
    client, _ = client_and_entities(lib, uri)
    if lib == "trackstore" and fast:
        log_metric_per_call(benchmark, client, rounds=200, iterations=5, warmup_rounds=2)
    else:
        log_metric_per_call(benchmark, client, rounds=30, iterations=3, warmup_rounds=1)


def test_log_metric_one_point_per_call(benchmark: Any, dialect: str, lib: str, db: str) -> None:
    """One point per call, each call its own committed transaction."""
    _note_database(benchmark, dialect, lib)
    _log_metric_one_point_per_call(benchmark, lib, db)


def test_log_metric_one_point_per_call_fsync(benchmark: Any, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """trackstore on SQLite with ``TRACKSTORE_FSYNC=1``: an ``fsync`` per commit, as MLflow's.

    Compare with ``test_log_metric_one_point_per_call[sqlite-mlflow]``: the same durability.
    """
    monkeypatch.setenv("TRACKSTORE_FSYNC", "1")
    with fresh_database("sqlite", tmp_path, "trackstore", create_schema("trackstore")) as uri:
        _note_database(benchmark, "sqlite", "trackstore")
        _log_metric_one_point_per_call(benchmark, "trackstore", uri, fast=False)


def test_log_batch_1000_points(benchmark: Any, dialect: str, lib: str, db: str) -> None:
    """1000 points over 10 keys per call; every call's points are new (steps go on)."""
    client, ent = client_and_entities(lib, db)
    run_id = client.create_run("0").info.run_id
    calls = itertools.count()

    def next_batch() -> tuple[tuple[Any, ...], dict[str, Any]]:
        first = next(calls) * 100  # 100 steps of each of the 10 keys per call
        batch = [ent.Metric(f"m{i % 10}", value, T0 + first * 10 + i, first + i // 10)
                 for i, (_, value, _) in enumerate(points(1000, seed=first))]
        return (run_id, batch), {}

    benchmark.extra_info["points_per_call"] = 1000
    _note_database(benchmark, dialect, lib)
    rounds = 100 if lib == "trackstore" else 8
    benchmark.pedantic(client.log_batch, setup=next_batch, rounds=rounds, iterations=1,
                       warmup_rounds=1)
    made = next(calls)
    for key in ("m0", "m9"):
        history = client.get_metric_history(run_id, key)
        assert [m.step for m in history] == list(range(made * 100)), key  # each point once


def test_create_runs_one_per_call(benchmark: Any, dialect: str, lib: str, db: str) -> None:
    """One run per timed call: create_run + log_batch (10 metrics, 10 params, 5 tags) +
    set_terminated."""
    client, ent = client_and_entities(lib, db)
    experiment_id = client.create_experiment("runs")
    batch = [ent.Metric(f"m{i}", 0.5 + i, T0, 0) for i in range(10)]
    params = [ent.Param(f"p{i}", str(i)) for i in range(10)]
    tags = [ent.RunTag(f"t{i}", "x") for i in range(5)]
    made: list[str] = []

    def one_run() -> None:
        run_id = client.create_run(experiment_id).info.run_id
        client.log_batch(run_id, metrics=batch, params=params, tags=tags)
        client.set_terminated(run_id)
        made.append(run_id)

    benchmark.extra_info["runs_per_call"] = 1
    _note_database(benchmark, dialect, lib)
    benchmark.pedantic(one_run, rounds=100 if lib == "trackstore" else 20, iterations=1,
                       warmup_rounds=2)
    found = client.search_runs([experiment_id], max_results=1000)
    assert sorted(r.info.run_id for r in found) == sorted(made)
    for run in found:
        assert run.info.status == "FINISHED"
        assert len(run.data.params) == 10 and len(run.data.metrics) == 10
        assert {k for k in run.data.tags if not k.startswith("mlflow.")} == \
            {f"t{i}" for i in range(5)}


# -- floors: the database alone ---------------------------------------------------------------
#
# What the same writes cost with nothing but the database and its driver: rows already built,
# no validation, no run check, no latest-value upsert, straight into trackstore's ``metrics``
# table (its dedup unique key included) on a raw connection of trackstore's engine (same
# session settings). MLflow's time divided by a floor is the largest ratio any library could
# reach on this machine with this schema; benches/report.py puts them side by side.


@dataclass
class RawMetrics:
    """A raw DBAPI connection of trackstore's engine to a fresh trackstore database."""

    raw: Any
    sql: Any  # the dialect's trackstore.store.sql.statements.Statements
    run_key: int  # a run's surrogate key
    key_ids: dict[str, int]  # metric keys m0..m9, registered

    def count_points(self) -> int:
        cur = self.raw.cursor()
        cur.execute(f"SELECT COUNT(*) FROM metrics WHERE run_key = {self.run_key} AND step >= 0")
        found = int(cur.fetchone()[0])
        self.raw.commit()
        return found


@contextlib.contextmanager
def _raw_metrics(dialect: str, tmp_path: Path) -> Iterator[RawMetrics]:
    import sqlalchemy as sa

    import trackstore
    from trackstore.store.sql.engine import engine_for
    from trackstore.store.sql.schema import metric_keys, runs
    from trackstore.store.sql.statements import Statements

    with fresh_database(dialect, tmp_path, "trackstore", create_schema("trackstore")) as uri:
        client = trackstore.TrackingClient(uri)
        run_id = client.create_run("0").info.run_id
        client.log_batch(run_id, [trackstore.entities.Metric(f"m{k}", 0.0, T0 - 1, -1)
                                  for k in range(10)])
        engine = engine_for(uri)
        with engine.connect() as conn:
            run_key = conn.execute(sa.select(runs.c.run_key)
                                   .where(runs.c.run_uuid == run_id)).scalar_one()
            key_ids = {k: int(i) for i, k in conn.execute(
                sa.select(metric_keys.c.key_id, metric_keys.c.key))}
        raw = engine.raw_connection()
        try:
            yield RawMetrics(raw, Statements(engine.dialect), int(run_key), key_ids)
        finally:
            raw.close()


def test_floor_log_metric_one_point_per_call(benchmark: Any, dialect: str,
                                             tmp_path: Path) -> None:
    """One row per call, inserted and committed: the least a committed ``log_metric`` costs."""
    with _raw_metrics(dialect, tmp_path) as db:
        raw, run_key, key_id, sql = db.raw, db.run_key, db.key_ids["m0"], db.sql.insert_metrics()
        driver = raw.driver_connection
        steps = itertools.count()
        cur = raw.cursor()

        def insert() -> None:
            step = next(steps)
            cur.execute(sql, (run_key, key_id, step, T0 + step, 0.5, 2, None))
            raw.commit()

        benchmark.extra_info["points_per_call"] = 1
        _note_database(benchmark, dialect, "trackstore")
        if dialect == "postgresql":
            driver.autocommit = True  # one round trip a call, as trackstore's log_metric
        benchmark.pedantic(insert, rounds=200, iterations=5, warmup_rounds=2)
        if dialect == "postgresql":
            driver.autocommit = False
        assert db.count_points() == next(steps)


def test_floor_log_batch_1000_points(benchmark: Any, dialect: str, tmp_path: Path) -> None:
    """The 1000 rows of a ``log_batch`` call, sent as trackstore sends new points (PostgreSQL
    ``COPY``, SQLite multi-row inserts, MariaDB one multi-row ``VALUES``), then committed."""
    from trackstore import _sqlbatch

    with _raw_metrics(dialect, tmp_path) as db:
        raw, run_key, key_ids, sql = db.raw, db.run_key, db.key_ids, db.sql
        cur = raw.cursor()
        calls = itertools.count()

        def rows() -> list[tuple[Any, ...]]:
            first = next(calls) * 100
            return [(run_key, key_ids[f"m{i % 10}"], first + i // 10, T0 + first * 10 + i,
                     value, 2, None) for i, (_, value, _) in enumerate(points(1000, seed=first))]

        def prepared() -> tuple[tuple[Any, ...], dict[str, Any]]:
            batch = rows()
            if dialect == "postgresql":
                return (("copy", _sqlbatch.copy_binary(batch)),), {}
            if dialect == "mysql":
                return (("sql", "INSERT INTO metrics VALUES " + _sqlbatch.values_sql(batch)),), {}
            return (("chunks", sql.metric_row_inserts(batch)),), {}

        def insert(work: tuple[str, Any]) -> None:
            how, data = work
            if how == "copy":
                cur.copy_expert("COPY metrics (run_key, key_id, step, \"timestamp\", value, kind, "
                                "dataset_id) FROM STDIN (FORMAT binary)", io.BytesIO(data))
            elif how == "sql":
                cur.execute(data)
            else:
                for statement, params in data:
                    cur.execute(statement, params)
            raw.commit()

        benchmark.extra_info["points_per_call"] = 1000
        _note_database(benchmark, dialect, "trackstore")
        benchmark.pedantic(insert, setup=prepared, rounds=100, iterations=1, warmup_rounds=1)
        assert db.count_points() == next(calls) * 1000


# -- search -----------------------------------------------------------------------------------


@dataclass
class SearchData:
    """An experiment of runs (2 params, 2 tags, 3 metrics each) and what searches must return."""

    uri: str
    experiment_id: str
    m: dict[str, float] = field(default_factory=dict)  # run id -> metrics.m
    p: dict[str, str] = field(default_factory=dict)  # run id -> params.p
    build_seconds: float = 0.0

    def expected(self, filtered: bool, limit: int = 100) -> list[str]:
        ids = [r for r in self.m if not filtered or (self.m[r] > 0.5 and self.p[r] == "x")]
        return sorted(ids, key=lambda r: -self.m[r])[:limit]


def run_content(rng: random.Random, r: int, ent: ModuleType
                ) -> tuple[dict[str, str], list[Any], list[Any]]:
    """Tags, params and metrics of run number *r*."""
    tags = {"t0": f"v{r % 4}", "t1": "bench"}
    params = [ent.Param("p", rng.choice("xyz")), ent.Param("q", str(r % 10))]
    metrics = [ent.Metric(key, rng.random(), T0 + r, 0) for key in ("m", "m2", "m3")]
    return tags, params, metrics


def build_search_data(lib: str, uri: str, runs: int) -> SearchData:
    """*runs* runs through *lib*'s API: create_run (with the tags), then one log_batch."""
    started = time.perf_counter()
    client, ent = client_and_entities(lib, uri)
    data = SearchData(uri, client.create_experiment("search"))
    rng = random.Random(0)
    for r in range(runs):
        tags, params, metrics = run_content(rng, r, ent)
        run_id = client.create_run(data.experiment_id, start_time=T0 + r, tags=tags).info.run_id
        client.log_batch(run_id, metrics=metrics, params=params)
        data.m[run_id], data.p[run_id] = metrics[0].value, params[0].value
    analyze(uri)
    data.build_seconds = time.perf_counter() - started
    assert len(set(data.m.values())) == runs  # no ties: the expected order is unique
    return data


def _read_dir(tmp_path_factory: pytest.TempPathFactory, label: str) -> Path:
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        return Path(tempfile.mkdtemp(prefix=f"trackstore-bench-{label}-", dir="/dev/shm"))
    return tmp_path_factory.mktemp(label)


_search_cache: dict[tuple[str, str, int], SearchData] = {}


@pytest.fixture
def search_data(request: pytest.FixtureRequest, dialect: str, lib: str, runs: int,
                session_databases: ExitStack,
                tmp_path_factory: pytest.TempPathFactory) -> SearchData:
    """The search experiment of (*dialect*, *lib*), built once per session."""
    skip_unreachable(dialect)
    key = (dialect, lib, runs)
    if key not in _search_cache:
        directory = _read_dir(tmp_path_factory, f"search-{os.getpid()}")
        if timed(request.config) or dialect == "sqlite":
            uri = session_databases.enter_context(fresh_database(dialect, directory, lib,
                                                                 create_schema(lib)))
        else:
            uri = untimed_server_database(session_databases, dialect, lib, directory)
        _search_cache[key] = build_search_data(lib, uri, runs)
    return _search_cache[key]


@pytest.mark.parametrize("query", ["order_by_metric", "filter_and_order"])
def test_search_runs_first_page(benchmark: Any, dialect: str, lib: str, runs: int, query: str,
                                search_data: SearchData) -> None:
    """First page of 100 runs of one experiment ordered by ``metrics.m DESC``.

    ``filter_and_order`` adds ``metrics.m > 0.5 and params.p = 'x'`` (about a sixth of the
    runs match). The same client searches every round (a dashboard, a server).
    """
    client, _ = client_and_entities(lib, search_data.uri)
    filtered = query == "filter_and_order"

    def search() -> Any:
        return client.search_runs([search_data.experiment_id],
                                  SEARCH_FILTER if filtered else "", order_by=SEARCH_ORDER,
                                  max_results=100)

    benchmark.extra_info["runs"] = runs
    _note_database(benchmark, dialect, lib)
    benchmark.extra_info["build_seconds"] = round(search_data.build_seconds, 1)
    search()  # connections opened, caches warm
    page = benchmark.pedantic(search, rounds=20 if lib == "trackstore" else 5, iterations=1)
    assert [r.info.run_id for r in page] == search_data.expected(filtered)
    first = page[0]
    assert first.data.metrics["m"] == search_data.m[first.info.run_id]
    assert first.data.params["p"] == search_data.p[first.info.run_id]
    assert first.data.tags["t1"] == "bench" and len(first.data.metrics) == 3


# -- a 100,000-run experiment, trackstore only ------------------------------------------------


_big_cache: dict[tuple[str, int], SearchData] = {}


@pytest.mark.parametrize("big_dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize("query", ["order_by_metric", "filter_and_order"])
def test_search_runs_first_page_big(benchmark: Any, big_dialect: str, query: str,
                                    big_runs: int, session_databases: ExitStack,
                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    """trackstore only: the first page of 100 of 100,000 runs (MLflow would take hours to build).

    The same queries as ``test_search_runs_first_page``, on data built by the fixture's
    shortcut (:func:`build_big_search_data`). Untimed (CI) the experiment has 300 runs: the
    100,000-run case exists only when timed.
    """
    skip_unreachable(big_dialect)
    key = (big_dialect, big_runs)
    if key not in _big_cache:
        directory = _read_dir(tmp_path_factory, f"big-{os.getpid()}")
        uri = session_databases.enter_context(fresh_database(big_dialect, directory, "trackstore",
                                                          create_schema("trackstore")))
        _big_cache[key] = build_big_search_data(uri, big_runs)
    data = _big_cache[key]
    client, _ = client_and_entities("trackstore", data.uri)
    filtered = query == "filter_and_order"

    def search() -> Any:
        return client.search_runs([data.experiment_id], SEARCH_FILTER if filtered else "",
                                  order_by=SEARCH_ORDER, max_results=100)

    benchmark.extra_info["runs"] = big_runs
    _note_database(benchmark, big_dialect, "trackstore")
    benchmark.extra_info["build_seconds"] = round(data.build_seconds, 1)
    search()
    page = benchmark.pedantic(search, rounds=10, iterations=1)
    assert [r.info.run_id for r in page] == data.expected(filtered)


def build_big_search_data(uri: str, runs: int) -> SearchData:
    """The shortcut: rows written in bulk into trackstore's schema, not through its API.

    Through the API (``create_run`` + ``log_batch`` per run, as ``build_search_data`` does)
    100,000 runs take 1.5 to 5 minutes on SQLite (0.9-2.9 ms a run, with the load of the
    2-core benchmark VM) and about 15 on PostgreSQL (8.7 ms a run); this takes about 30 s and
    80 s. So only the first run is made through the API (it registers the metric keys and its
    rows are the model); the others are inserted with SQLAlchemy Core into the tables of
    :mod:`trackstore.store.sql.schema`, 2,000 runs per transaction, their metric rows made by
    the store's own encoder (:mod:`trackstore._sqlbatch`): the rows the API would write, with
    the same content per run as ``run_content`` (the run names are ``run-<n>`` instead of
    random ones). Runs from the first and the last transaction are then read back through
    the API and compared with the first run, and the searches' results with the data: a change
    of the schema breaks this fixture loudly, not silently.
    """
    import sqlalchemy as sa

    from trackstore import _sqlbatch
    from trackstore.store.sql import schema as s
    from trackstore.store.sql.engine import write_transaction
    from trackstore.store.sql.statements import METRIC_COLUMNS

    started = time.perf_counter()
    client, ent = client_and_entities("trackstore", uri)
    data = SearchData(uri, client.create_experiment("search"))
    rng = random.Random(0)
    tags, params, metrics = run_content(rng, 0, ent)
    model = client.create_run(data.experiment_id, start_time=T0, tags=tags).info.run_id
    client.log_batch(model, metrics=metrics, params=params)
    data.m[model], data.p[model] = metrics[0].value, params[0].value
    location = client.get_experiment(data.experiment_id).artifact_location
    engine = client.store.engine
    with engine.connect() as conn:
        key_ids = {k: int(i) for k, i in conn.execute(
            sa.select(s.metric_keys.c.key, s.metric_keys.c.key_id))}
    for first in range(1, runs, 2000):
        numbers = range(first, min(first + 2000, runs))
        made = {}
        for r in numbers:
            run_id = uuid.UUID(int=rng.getrandbits(128), version=4).hex
            made[run_id] = (r, *run_content(rng, r, ent))
        with write_transaction(engine) as conn:
            conn.execute(s.runs.insert(), [
                {"run_uuid": run_id, "experiment_id": int(data.experiment_id),
                 "user_id": "unknown", "status": "RUNNING", "start_time": T0 + r,
                 "lifecycle_stage": "active",
                 "artifact_uri": f"{location}/{run_id}/artifacts"}
                for run_id, (r, *_) in made.items()])
            keys: dict[str, int] = {}
            ids = list(made)
            for i in range(0, len(ids), 500):
                keys.update((u, int(k)) for u, k in conn.execute(
                    sa.select(s.runs.c.run_uuid, s.runs.c.run_key)
                    .where(s.runs.c.run_uuid.in_(ids[i:i + 500]))))
            tag_rows, param_rows, metric_rows, latest_rows = [], [], [], []
            for run_id, (r, tags, params, metrics) in made.items():
                run_key = keys[run_id]
                tag_rows += [{"run_key": run_key, "key": k, "value": v}
                             for k, v in {**tags, "mlflow.runName": f"run-{r}"}.items()]
                param_rows += [{"run_key": run_key, "key": p.key, "value": p.value}
                               for p in params]
                rows = _sqlbatch.metric_rows(run_key, metrics, key_ids, {})
                metric_rows += [dict(zip(METRIC_COLUMNS, row, strict=True)) for row in rows]
                latest_rows += [dict(zip(METRIC_COLUMNS, row, strict=True))
                                for row in _sqlbatch.latest_rows(rows)]
                data.m[run_id], data.p[run_id] = metrics[0].value, params[0].value
            conn.execute(s.run_tags.insert(), tag_rows)
            conn.execute(s.run_params.insert(), param_rows)
            conn.execute(s.metrics.insert(), metric_rows)
            conn.execute(s.latest_metrics.insert(), latest_rows)
    analyze(uri)
    data.build_seconds = time.perf_counter() - started
    assert len(set(data.m.values())) == runs
    # The bulk rows read back through the API as the API's own run does.
    shape = _shape(client.get_run(model))
    for run_id in [*list(data.m)[1:4], *list(data.m)[-3:]]:
        run = client.get_run(run_id)
        assert _shape(run) == shape
        assert run.data.metrics["m"] == data.m[run_id] and run.data.params["p"] == data.p[run_id]
    return data


def _shape(run: Any) -> tuple[Any, ...]:
    return (run.info.experiment_id, run.info.status, run.info.lifecycle_stage,
            run.info.user_id, sorted(run.data.tags), sorted(run.data.params),
            sorted(run.data.metrics), run.info.artifact_uri.rsplit("/", 2)[0])


# -- metric history ---------------------------------------------------------------------------


_history_cache: dict[tuple[str, int], tuple[str, str]] = {}


@pytest.fixture
def history_run(lib: str, history_size: int, session_databases: ExitStack,
                tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(URI, run id) of a SQLite database of *lib* whose run has *history_size* ``loss`` points.

    Logged through *lib*'s API, 1000 points per ``log_batch``; built once per session.
    """
    key = (lib, history_size)
    if key not in _history_cache:
        directory = _read_dir(tmp_path_factory, f"history-{os.getpid()}")
        uri = session_databases.enter_context(fresh_database("sqlite", directory, lib,
                                                          create_schema(lib)))
        client, ent = client_and_entities(lib, uri)
        run_id = client.create_run("0").info.run_id
        all_points = points(history_size)
        for start in range(0, history_size, 1000):
            client.log_batch(run_id, [ent.Metric("loss", value, ts, step)
                                      for ts, value, step in all_points[start:start + 1000]])
        _history_cache[key] = (uri, run_id)
    return _history_cache[key]


def _read_history(benchmark: Any, lib: str, history_size: int, history_run: tuple[str, str],
                  method: str, rounds: int) -> Any:
    uri, run_id = history_run
    client, _ = client_and_entities(lib, uri)
    benchmark.extra_info["points_per_call"] = history_size
    _note_database(benchmark, "sqlite", lib)
    return benchmark.pedantic(getattr(client, method), args=(run_id, "loss"), rounds=rounds,
                              iterations=1, warmup_rounds=1)


def test_get_metric_history(benchmark: Any, lib: str, history_size: int,
                            history_run: tuple[str, str]) -> None:
    """SQLite: every point of one metric, as ``Metric`` objects."""
    result = _read_history(benchmark, lib, history_size, history_run, "get_metric_history",
                           rounds=10 if lib == "trackstore" else 3)
    assert [m.step for m in result] == list(range(history_size))
    expected = points(history_size)
    assert all(m.value == expected[m.step][1] and m.timestamp == expected[m.step][0]
               for m in result)


@pytest.mark.parametrize("lib", ["trackstore"])
def test_get_metric_history_columns(benchmark: Any, lib: str, history_size: int,
                                    history_run: tuple[str, str]) -> None:
    """SQLite, trackstore only: the columnar read (compare with test_get_metric_history[mlflow])."""
    result = _read_history(benchmark, lib, history_size, history_run,
                           "get_metric_history_columns", rounds=20)
    assert list(result.steps) == list(range(history_size))
    assert list(result.timestamps) == [ts for ts, _, _ in points(history_size)]
    assert list(result.values) == [v for _, v, _ in points(history_size)]
