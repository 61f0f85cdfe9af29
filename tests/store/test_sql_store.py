"""What only the SQL store does: its encodings, transactions, dialect rules and engines.

Runs on SQLite always and on PostgreSQL and MariaDB when ``tests/_databases.py`` finds them
(``.ci/run`` starts both and requires them).
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests._databases import SQL_KINDS, fresh_database
from trackstore.entities import ExperimentTag, Metric, Param, RunTag, ViewType
from trackstore.exceptions import TrackstoreError
from trackstore.store import registry
from trackstore.store.sql import SqlStore
from trackstore.store.sql import engine as engine_module
from trackstore.store.sql import schema as s_schema
from trackstore.store.sql.engine import dispose_engines

T0 = 1_700_000_000_000


@pytest.fixture
def uri(kind: str, tmp_path: Path) -> Iterator[str]:
    with fresh_database(kind, tmp_path) as database_uri:
        yield database_uri
        dispose_engines()


@pytest.fixture
def store(uri: str, tmp_path: Path) -> SqlStore:
    return SqlStore(uri, str(tmp_path / "artifacts"))


def count(store: SqlStore, table: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def new_run(store: SqlStore, experiment_id: str = "0") -> str:
    return store.create_run(experiment_id, "u", T0, [], None).info.run_id


# -- values ------------------------------------------------------------------------------------


def test_special_values_round_trip_exactly(store: SqlStore) -> None:
    rid = new_run(store)
    values = [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 0.1]
    store.log_batch(rid, metrics=[Metric("m", v, T0 + i, i) for i, v in enumerate(values)])
    history = store.get_metric_history(rid, "m")
    got = [m.value for m in history]
    assert [math.isnan(v) for v in got] == [True] + [False] * 6
    assert got[1:] == values[1:]
    assert math.copysign(1.0, got[3]) in (-1.0, 1.0)  # -0.0 is stored as a zero
    columns = store.get_metric_history_columns(rid, "m")
    assert list(columns.steps) == list(range(7))
    assert columns.values[1:].tolist() == values[1:]
    assert store.get_run(rid).data.metrics["m"] == 0.1  # the highest step


def test_latest_value_orders_nan_below_every_number_at_equal_step_and_time(
        store: SqlStore) -> None:
    rid = new_run(store)
    for value in (math.nan, -math.inf, 3.0, math.inf, 2.0):
        store.log_metric(rid, Metric("m", value, T0, 1))
    assert store.get_run(rid).data.metrics["m"] == math.inf
    store.log_metric(rid, Metric("m", math.nan, T0 + 1, 1))  # later timestamp wins
    assert math.isnan(store.get_run(rid).data.metrics["m"])
    store.log_metric(rid, Metric("m", -5.0, T0, 2))  # higher step wins
    assert store.get_run(rid).data.metrics["m"] == -5.0


def test_exact_duplicate_points_are_stored_once(store: SqlStore) -> None:
    rid = new_run(store)
    batch = [Metric("m", float(i), T0 + i, i) for i in range(100)]
    batch += [Metric("m", math.nan, T0, 0), Metric("m", math.nan, T0, 0)]
    store.log_batch(rid, metrics=batch)
    store.log_batch(rid, metrics=batch)  # a retry
    assert count(store, "metrics") == 101
    store.log_metric(rid, Metric("m", 0.0, T0, 0))  # the same point again
    store.log_metric(rid, Metric("m", 0.5, T0, 0))  # not the same: another value
    assert count(store, "metrics") == 102
    assert len(store.get_metric_history(rid, "m")) == 102


@pytest.mark.parametrize("size", [2, 255, 256, 257, 999, 1000])
def test_batches_of_any_size_store_each_point_once(store: SqlStore, size: int) -> None:
    """Sizes around the multi-row insert's chunks (SQLite), a retry that overlaps stored points
    (PostgreSQL's COPY falls back to its staged insert), datasets on some points only."""
    rid = new_run(store)
    points = [Metric("m", i / 7, T0 + i, i, None, *(("train", "d1") if i % 3 == 0 else
                                                    (None, None))) for i in range(size)]
    store.log_batch(rid, metrics=points[::2])
    store.log_batch(rid, metrics=points)  # half of it stored already
    store.log_batch(rid, metrics=points[1::2][::-1])  # all of it stored already
    history = store.get_metric_history(rid, "m")
    assert [(m.step, m.timestamp, m.value, m.dataset_name, m.dataset_digest)
            for m in history] == [(m.step, m.timestamp, m.value, m.dataset_name,
                                   m.dataset_digest) for m in points]
    assert count(store, "metrics") == size
    assert store.get_run(rid).data.metrics == {"m": (size - 1) / 7}


def test_sqlite_inserts_fewer_rows_per_statement_on_old_libraries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from trackstore.store.sql import statements as statements_module

    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))  # 999 parameters at most
    statements_module.sqlite_rows_per_insert.cache_clear()
    try:
        assert statements_module.sqlite_rows_per_insert() == 128
        sql_store = SqlStore(f"sqlite:///{tmp_path / 'old.db'}", str(tmp_path / "artifacts"))
        rid = new_run(sql_store)
        sql_store.log_batch(rid, metrics=[Metric("m", 1.0, T0, i, None, "d", "x")
                                          for i in range(1000)])
        assert count(sql_store, "metrics") == 1000
    finally:
        monkeypatch.undo()
        statements_module.sqlite_rows_per_insert.cache_clear()
        dispose_engines()
    assert statements_module.sqlite_rows_per_insert() == 256


def test_history_pages_in_step_order(store: SqlStore) -> None:
    rid = new_run(store)
    store.log_batch(rid, metrics=[Metric("m", float(s), T0, s) for s in (5, 1, 4, 2, 3)])
    first = store.get_metric_history(rid, "m", max_results=2)
    second = store.get_metric_history(rid, "m", max_results=2, page_token=first.token)
    third = store.get_metric_history(rid, "m", max_results=2, page_token=second.token)
    assert [m.step for m in (*first, *second, *third)] == [1, 2, 3, 4, 5]
    assert third.token is None
    assert {m.run_id for m in first} == {rid}


def test_single_points_with_and_without_a_dataset(store: SqlStore) -> None:
    rid = new_run(store)
    store.log_metric(rid, Metric("m", 1.0, T0, 0, None, "train", "d1"))
    store.log_metric(rid, Metric("m", 2.0, T0, 1))
    store.log_metric(rid, Metric("m", 2.0, T0, 1))  # the same point again
    store.log_metric(rid, Metric("m", 3.0, T0, 2, None, "eval", "d2"))
    history = store.get_metric_history(rid, "m")
    assert [(m.value, m.dataset_name, m.dataset_digest) for m in history] == [
        (1.0, "train", "d1"), (2.0, None, None), (3.0, "eval", "d2")]
    with store.engine.connect() as conn:  # the latest row follows the latest point's dataset
        latest = conn.execute(sa.select(s_schema.latest_metrics.c.value,
                                        s_schema.latest_metrics.c.dataset_id)).all()
    assert [value for value, _ in latest] == [3.0] and latest[0][1] is not None
    store.log_metric(rid, Metric("m", 4.0, T0, 3))
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(s_schema.latest_metrics.c.value,
                                      s_schema.latest_metrics.c.dataset_id)).all() == [(4.0, None)]


def test_metric_datasets_round_trip(store: SqlStore) -> None:
    rid = new_run(store)
    store.log_batch(rid, metrics=[Metric("m", 1.0, T0, 0, None, "train", "d1"),
                                  Metric("m", 2.0, T0, 1)])
    history = store.get_metric_history(rid, "m")
    assert [(m.dataset_name, m.dataset_digest) for m in history] == [("train", "d1"),
                                                                     (None, None)]


# -- transactions ------------------------------------------------------------------------------


def test_a_failing_batch_stores_nothing(store: SqlStore, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    rid = new_run(store)

    write_plan = store._write_metric_plan

    def fail(cur: Any, plan: list[Any]) -> None:
        write_plan(cur, plan[:-1])
        raise RuntimeError("the database went away between two statements")

    # The latest-value upsert is the batch's last statement: params, tags and points are
    # already written in the transaction when it fails.
    monkeypatch.setattr(store, "_write_metric_plan", fail)
    with pytest.raises(RuntimeError):
        store.log_batch(rid, metrics=[Metric("m", 1.0, T0, 0)], params=[Param("p", "1")],
                        tags=[RunTag("t", "1")])
    monkeypatch.undo()
    run = store.get_run(rid)
    assert (run.data.metrics, run.data.params) == ({}, {})
    assert "t" not in run.data.tags
    assert count(store, "metrics") == 0


def test_a_param_conflict_changes_nothing(store: SqlStore) -> None:
    rid = new_run(store)
    store.log_param(rid, Param("p", "1"))
    with pytest.raises(TrackstoreError) as e:
        store.log_batch(rid, metrics=[Metric("m", 1.0, T0, 0)],
                        params=[Param("q", "2"), Param("p", "2")], tags=[RunTag("t", "x")])
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    run = store.get_run(rid)
    assert run.data.params == {"p": "1"} and run.data.metrics == {}
    assert "t" not in run.data.tags


# -- dialect rules -----------------------------------------------------------------------------


def test_unicode_and_long_values_are_stored_whole(store: SqlStore) -> None:
    rid = new_run(store)
    emoji = "🚀 données 実験 " * 10
    store.log_batch(rid, params=[Param("p", "x" * 6000), Param("u", emoji)],
                    tags=[RunTag("t", "y" * 8000), RunTag("données_実験", emoji)])
    run = store.get_run(rid)
    assert run.data.params == {"p": "x" * 6000, "u": emoji}
    assert run.data.tags["t"] == "y" * 8000 and run.data.tags["données_実験"] == emoji
    exp = store.create_experiment("🚀" * 100, tags=[ExperimentTag("k", "v" * 5000)])
    assert store.get_experiment(exp).name == "🚀" * 100


def test_experiment_ids_count_up_and_are_never_reused(store: SqlStore) -> None:
    first = store.create_experiment("a")
    store.delete_experiment(first)
    store.hard_delete_experiment(first)
    second = store.create_experiment("b")
    assert int(second) == int(first) + 1
    with pytest.raises(TrackstoreError) as e:
        store.get_experiment(first)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_hard_delete_removes_every_row(store: SqlStore) -> None:
    rid = new_run(store)
    store.log_batch(rid, metrics=[Metric("m", 1.0, T0, 0)], params=[Param("p", "1")])
    store.delete_run(rid)
    assert store.deleted_run_ids() == [rid]
    store.hard_delete_run(rid)
    for table in ("runs", "metrics", "latest_metrics", "run_params", "run_tags"):
        assert count(store, table) == 0, table


def test_store_is_picked_by_the_tracking_uri(uri: str) -> None:
    store = registry.get_store(uri)
    try:
        assert isinstance(store, SqlStore)
        assert store.get_experiment("0").name == "Default"
    finally:
        registry.clear_cache()


# -- engines -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("installed", "uri", "driver"), [
    ({"psycopg2", "psycopg", "pymysql", "pymssql"}, "postgresql://u:p@h/db",
     "postgresql+psycopg2"),
    ({"psycopg", "pg8000"}, "postgresql://u:p@h/db", "postgresql+psycopg"),
    ({"pymysql"}, "mysql://u:p@h/db", "mysql+pymysql"),
    ({"MySQLdb"}, "mysql://u:p@h/db", "mysql+mysqldb"),
    ({"pyodbc"}, "mssql://u:p@h/db", "mssql+pyodbc"),
    ({"sqlite3"}, "sqlite:///x.db", "sqlite+pysqlite"),
    (set(), "mysql+mysqldb://u@h/d", "mysql+mysqldb"),  # a named driver is kept
])
def test_bare_dialects_get_an_installed_driver(monkeypatch: pytest.MonkeyPatch,
                                               installed: set[str], uri: str,
                                               driver: str) -> None:
    # Which drivers exist is the machine's business: pretend each set is what is installed.
    monkeypatch.setattr(engine_module, "_importable", lambda module: module in installed)
    assert engine_module.resolve_url(uri).drivername == driver


def test_a_missing_driver_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "_importable", lambda module: False)
    with pytest.raises(TrackstoreError) as e:
        engine_module.resolve_url("postgresql://u:p@h/db")
    assert "No driver for postgresql is installed" in e.value.message
    assert "pip install 'trackstore[postgres]'" in e.value.message


@pytest.mark.parametrize(("uri", "message"), [
    ("oracle://u@h/db", "Unsupported database 'oracle'"),
    ("postgresql+a+b://u@h/db", "at most one '+'"),
    ("sqlite://", "in-memory database"),
    ("sqlite:///:memory:", "in-memory database"),
])
def test_bad_database_uris_are_clear_errors(uri: str, message: str) -> None:
    with pytest.raises(TrackstoreError) as e:
        engine_module.create_engine(uri)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE" and message in e.value.message


def test_pool_options_come_from_mlflow_variables(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_SQLALCHEMYSTORE_POOL_SIZE", "3")
    monkeypatch.setenv("MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW", "0")
    monkeypatch.setenv("MLFLOW_SQLALCHEMYSTORE_POOL_RECYCLE", "60")
    monkeypatch.setenv("MLFLOW_SQLALCHEMYSTORE_ECHO", "TRUE")
    engine = engine_module.create_engine(f"sqlite:///{tmp_path}/a.db")
    assert isinstance(engine.pool, sa.pool.QueuePool)
    assert (engine.pool.size(), engine.pool._max_overflow, engine.pool._recycle) == (3, 0, 60)
    assert engine.echo is True
    engine.dispose()
    monkeypatch.setenv("MLFLOW_SQLALCHEMYSTORE_POOLCLASS", "NullPool")
    monkeypatch.delenv("MLFLOW_SQLALCHEMYSTORE_POOL_SIZE")
    monkeypatch.delenv("MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW")
    engine = engine_module.create_engine(f"sqlite:///{tmp_path}/a.db")
    assert isinstance(engine.pool, sa.pool.NullPool)
    engine.dispose()


@pytest.mark.parametrize(("name", "value", "message"), [
    ("POOL_SIZE", "many", "expected an integer >= 0"),
    ("POOL_SIZE", "-2", "expected an integer >= 0"),
    ("MAX_OVERFLOW", "1.5", "expected an integer >= -1"),
    ("POOL_RECYCLE", "-5", "expected an integer >= -1"),
    ("ECHO", "yes", "expected true, false, 1 or 0"),
    ("POOLCLASS", "FastPool", "expected one of"),
])
def test_bad_pool_options_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           name: str, value: str, message: str) -> None:
    monkeypatch.setenv(f"MLFLOW_SQLALCHEMYSTORE_{name}", value)
    with pytest.raises(TrackstoreError) as e:
        engine_module.create_engine(f"sqlite:///{tmp_path}/a.db")
    assert f"MLFLOW_SQLALCHEMYSTORE_{name}" in e.value.message and message in e.value.message


def test_pool_size_with_a_pool_that_has_no_size_is_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_SQLALCHEMYSTORE_POOL_SIZE", "3")
    monkeypatch.setenv("MLFLOW_SQLALCHEMYSTORE_POOLCLASS", "NullPool")
    with pytest.raises(TrackstoreError) as e:
        engine_module.create_engine(f"sqlite:///{tmp_path}/a.db")
    assert "apply only to a QueuePool" in e.value.message


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path}/w.db")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    dispose_engines()


def test_sqlite_new_database_opened_by_many_at_once(tmp_path: Path) -> None:
    """Eight connections opening a new database at the same moment: the first puts it in WAL
    mode, the others wait for it. SQLite fails a switch that meets another connection's lock
    at once, busy timeout or not: one round in five failed so before the retry."""
    failures: list[str] = []
    for round_ in range(30):
        uri = f"sqlite:///{tmp_path}/new-{round_}.db"
        barrier = threading.Barrier(8)

        def open_and_write(uri: str = uri, barrier: threading.Barrier = barrier,
                           round_: int = round_) -> None:
            engine = engine_module.create_engine(uri)
            try:
                barrier.wait()
                raw = engine.raw_connection()
                try:
                    cursor = raw.dbapi_connection.cursor()
                    cursor.execute("BEGIN IMMEDIATE")
                    cursor.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
                    cursor.execute("INSERT INTO t VALUES (1)")
                    raw.dbapi_connection.commit()
                    assert cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
                finally:
                    raw.close()
            except Exception as exc:  # (reported below, not lost in the thread)
                failures.append(f"round {round_}: {exc}")
            finally:
                engine.dispose()

        threads = [threading.Thread(target=open_and_write) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []


def _writer(store: SqlStore) -> object:
    return getattr(store._local, "writer", None)


def test_sqlite_writes_from_many_threads_on_their_own_connections(tmp_path: Path) -> None:
    """More threads than the pool holds (5 + 10 overflow), each writing on a connection of
    its own outside the pool: nothing waits for a pool slot, every point is stored once."""
    store = SqlStore(f"sqlite:///{tmp_path}/threads.db")
    rid = new_run(store)
    writers: dict[int, object] = {}
    errors: list[BaseException] = []

    def log(worker: int) -> None:
        try:
            for i in range(25):
                store.log_metric(rid, Metric(f"k{worker}", float(i), T0 + i, i))
            writers[worker] = _writer(store)
        except BaseException as exc:  # (reported below, not lost in the thread)
            errors.append(exc)

    threads = [threading.Thread(target=log, args=(w,)) for w in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # A connection per thread (this one's made the run).
    assert len({id(w) for w in [*writers.values(), _writer(store)]}) == 21
    assert count(store, "metrics") == 20 * 25
    assert len(store.get_run(rid).data.metrics) == 20
    dispose_engines()


def test_sqlite_writer_is_replaced_after_a_failure(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store = SqlStore(f"sqlite:///{tmp_path}/fail.db")
    rid = new_run(store)
    first = _writer(store)
    store.log_batch(rid, metrics=[Metric("m", 1.0, T0, 0)], params=[Param("p", "1")])
    with pytest.raises(TrackstoreError):  # trackstore's own error: the connection stays
        store.log_batch(rid, params=[Param("p", "2")])
    assert _writer(store) is first

    def fail(cur: Any, plan: list[Any]) -> None:
        cur.execute(plan[0][1], plan[0][2])  # the points are written, not yet committed
        raise RuntimeError("the database went away between two statements")

    monkeypatch.setattr(store, "_write_metric_plan", fail)
    with pytest.raises(RuntimeError):
        store.log_batch(rid, metrics=[Metric("m", 2.0, T0, 1)])
    monkeypatch.undo()
    assert _writer(store) is None  # dropped (closed): the next write opens a fresh one
    store.log_batch(rid, metrics=[Metric("m", 3.0, T0, 2)])
    assert _writer(store) not in (None, first)
    assert [m.value for m in store.get_metric_history(rid, "m")] == [1.0, 3.0]
    dispose_engines()


def _exit_status_of_forked_child(target: Any, store: SqlStore, rid: str) -> int | None:
    """Run ``target(store, rid)`` in a forked child (the store as the parent holds it)."""
    child = multiprocessing.get_context("fork").Process(target=target, args=(store, rid))
    child.start()
    child.join(60)
    return child.exitcode


def _log_in_forked_child(store: SqlStore, rid: str) -> None:
    inherited = _writer(store)
    store.log_metric(rid, Metric("child", 1.0, T0, 0))
    if inherited is None or _writer(store) is inherited:  # must not write on the parent's
        raise SystemExit(3)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_sqlite_forked_child_writes_on_a_connection_of_its_own(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path}/fork.db")
    rid = new_run(store)
    store.log_metric(rid, Metric("parent", 1.0, T0, 0))
    parents = _writer(store)
    assert _exit_status_of_forked_child(_log_in_forked_child, store, rid) == 0
    assert _writer(store) is parents  # the parent's own, untouched by the child
    store.log_metric(rid, Metric("parent", 2.0, T0, 1))
    assert set(store.get_run(rid).data.metrics) == {"parent", "child"}
    dispose_engines()


def test_sqlite_close_closes_every_threads_writer(tmp_path: Path) -> None:
    """close() leaves no connection behind (SQLite removes the -wal file with the last one),
    and the store still writes afterwards, on a new writer."""
    uri = f"sqlite:///{tmp_path}/closing.db"
    store = SqlStore(uri)
    rid = new_run(store)
    threads = [threading.Thread(target=store.log_param, args=(rid, Param(f"p{i}", "v")))
               for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store._writers) == 4  # this thread's and three others'
    store.close()
    dispose_engines()
    assert not (tmp_path / "closing.db-wal").exists()
    store.log_param(rid, Param("after", "close"))
    assert set(store.get_run(rid).data.params) == {"p0", "p1", "p2", "after"}
    store.close()
    dispose_engines()


def test_sqlite_writers_queue_on_the_write_gate(tmp_path: Path) -> None:
    """Writers wait on ``<db>.trackstore-lock`` (woken at once), not in SQLite's sleep-poll."""
    import fcntl

    store = SqlStore(f"sqlite:///{tmp_path}/gate.db")
    rid = new_run(store)
    gate = tmp_path / "gate.db.trackstore-lock"
    assert gate.exists()  # made by the first write
    with open(gate, "a") as holder:  # another writer (any thread or process) holds the gate
        fcntl.flock(holder, fcntl.LOCK_EX)
        writer = threading.Thread(target=store.log_param, args=(rid, Param("p", "v")))
        writer.start()
        writer.join(0.5)
        assert writer.is_alive()  # queued behind the holder
        assert store.get_run(rid).data.params == {}
        fcntl.flock(holder, fcntl.LOCK_UN)
        writer.join(10)
    assert not writer.is_alive()
    assert store.get_run(rid).data.params == {"p": "v"}
    dispose_engines()


# -- concurrency -------------------------------------------------------------------------------


def _log_from_process(uri: str, run_ids: list[str], worker: int, start: object) -> None:
    store = SqlStore(uri)
    start.wait()  # type: ignore[attr-defined]
    for i in range(40):
        for rid in run_ids:
            # Shared keys in opposite orders, single points and batches, params and tags:
            # everything that could make two writers wait for each other.
            keys = ["a", "b", "c"] if worker % 2 else ["c", "b", "a"]
            store.log_batch(rid, metrics=[Metric(k, float(i), T0 + i, worker * 1000 + i)
                                          for k in keys],
                            params=[Param(f"p{worker}", "x"), Param("shared", "same")],
                            tags=[RunTag("t", str(worker))])
            store.log_metric(rid, Metric("single", float(worker), T0, worker * 1000 + i))
    dispose_engines()


@pytest.mark.slow
def test_eight_processes_log_to_shared_and_own_runs(uri: str) -> None:
    store = SqlStore(uri)
    shared = new_run(store)
    own = [new_run(store) for _ in range(8)]
    dispose_engines()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(8)
    procs = [ctx.Process(target=_log_from_process, args=(uri, [shared, own[w]], w, start))
             for w in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    assert [p.exitcode for p in procs] == [0] * 8
    store = SqlStore(uri)
    for workers, rid in [(range(8), shared), *(([w], own[w]) for w in range(8))]:
        expected = sorted(w * 1000 + i for w in workers for i in range(40))
        for key in ("a", "b", "c", "single"):
            steps = [m.step for m in store.get_metric_history(rid, key)]
            assert steps == expected, (rid, key)  # each point exactly once
        run = store.get_run(rid)
        assert run.data.params == {"shared": "same", **{f"p{w}": "x" for w in workers}}
        assert run.data.metrics["a"] == 39.0
    assert len(store.search_runs(["0"], run_view_type=ViewType.ALL)) == 9


# -- every dialect's statements ------------------------------------------------------------------


def _dialect(name: str) -> sa.engine.Dialect:
    from sqlalchemy.dialects import mssql, mysql, postgresql, sqlite

    modules = {"sqlite": sqlite.pysqlite, "postgresql": postgresql.psycopg2,
               "mysql": mysql.pymysql, "mssql": mssql.pymssql}
    return modules[name].dialect()  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql", "mssql"])
def test_write_statements_render_for_every_dialect(dialect: str) -> None:
    from trackstore.store.sql.statements import METRIC_COLUMNS, Statements

    sql = Statements(_dialect(dialect))
    mark = "?" if dialect == "sqlite" else "%s"
    cols = ("run_key", "key", "value")
    statements = {
        "insert": (sql.insert("run_tags", cols), 3),
        "insert_absent": (sql.insert_absent("run_tags", cols, ("run_key", "key")), 3),
        "upsert": (sql.upsert("run_tags", cols, ("run_key", "key")), 3),
        "insert_metrics": (sql.insert_metrics(), len(METRIC_COLUMNS)),
        "upsert_latest": (sql.upsert_latest(), len(METRIC_COLUMNS)),
        "log_point": (sql.log_point(), len(sql.log_point_args(1, (1, 2, 3, 4, 0.5, 2, None)))),
    }
    for name, (text, params) in statements.items():
        assert text.count(mark) == params, (name, text)
    if dialect == "sqlite":  # a point without a dataset binds no None: NULL in the text
        assert sql.log_point(False).count(mark) == 6 and ", NULL FROM runs" in sql.log_point(False)
        assert len(sql.log_point_args(1, (1, 2, 3, 4, 0.5, 2, None), False)) == 6
        assert sql.upsert_latest(False).count(mark) == 6 and ", NULL)" in sql.upsert_latest(False)
    else:
        with pytest.raises(ValueError, match="is for SQLite"):
            sql.log_point(False)
        with pytest.raises(ValueError, match="is for SQLite"):
            sql.upsert_latest(False)
    if dialect == "sqlite":  # the run key bound once, as ?1, then numbered per row
        rows = sql.insert_metric_rows(3, False)
        assert rows.count("?1,") == 3 and "?16)" in rows and "?17" not in rows
        assert sql.insert_metric_rows(2, True).count("?") == 2 + 12
    if dialect == "mssql":
        # Reserved words quoted the SQL Server way, upserts as MERGE with a range lock.
        assert "[key]" in statements["upsert"][0]
        for name in ("insert_absent", "upsert", "insert_metrics", "upsert_latest", "log_point"):
            assert statements[name][0].startswith("MERGE ") and "WITH (HOLDLOCK)" in \
                statements[name][0], name
            assert statements[name][0].endswith(";"), name
    if dialect == "mysql":
        assert "`key`" in statements["upsert"][0]
        assert "INSERT IGNORE" not in " ".join(t for t, _ in statements.values())
        # The comparison is made once, before any column of the row changes.
        latest = sql.upsert_latest()
        assert latest.index("@trackstore_newer :=") < latest.index("timestamp = IF(")


@pytest.mark.parametrize("server", [k for k in SQL_KINDS if k != "sqlite"])
def test_connections_the_server_dropped_are_replaced(server: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with fresh_database(server, tmp_path) as database_uri:
        _log_across_dropped_connections(SqlStore(database_uri), server, monkeypatch)
        dispose_engines()


def _log_across_dropped_connections(store: SqlStore, kind: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    rid = new_run(store)
    store.log_metric(rid, Metric("m", 1.0, T0, 0))  # the pool now holds a used connection
    database = store.engine.url.database
    from tests._databases import admin_engine

    with admin_engine(kind).connect() as admin:  # the server ends every session of the store
        if kind == "postgresql":
            admin.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  f"WHERE datname = '{database}'")
        else:
            for (pid,) in admin.exec_driver_sql(
                    "SELECT id FROM information_schema.processlist "
                    f"WHERE db = '{database}'").all():
                admin.exec_driver_sql(f"KILL {int(pid)}")
    monkeypatch.setattr(engine_module, "PING_AFTER", 0.0)  # as if idle for long
    store.log_metric(rid, Metric("m", 2.0, T0, 1))
    store.log_batch(rid, metrics=[Metric("m", 3.0, T0, 2)])
    assert [m.value for m in store.get_metric_history(rid, "m")] == [1.0, 2.0, 3.0]


# -- PostgreSQL: the single-point write's own connections ------------------------------------


@pytest.fixture
def pg_store(tmp_path: Path) -> Iterator[SqlStore]:
    with fresh_database("postgresql", tmp_path) as database_uri:
        store = SqlStore(database_uri)
        try:
            yield store
        finally:
            store.close()
            dispose_engines()


def _point_idle(store: SqlStore) -> list[Any]:
    points = store._points
    return [conn for conn, _ in points._idle] if points is not None else []


def test_postgresql_single_points_reuse_a_connection_outside_the_pool(pg_store: SqlStore
                                                                      ) -> None:
    rid = new_run(pg_store)
    pg_store.log_metric(rid, Metric("m", 0.0, T0, 0))
    (first,) = _point_idle(pg_store)
    checked_in = pg_store.engine.pool.checkedin()
    for step in range(1, 20):
        pg_store.log_metric(rid, Metric("m", float(step), T0, step))
    assert _point_idle(pg_store) == [first]  # the same connection, every time
    assert pg_store.engine.pool.checkedin() == checked_in  # the pool was not used
    assert first.autocommit  # each point its own transaction
    assert [m.value for m in pg_store.get_metric_history(rid, "m")] == [float(s)
                                                                         for s in range(20)]


def test_postgresql_point_connections_are_bounded_and_closed(pg_store: SqlStore) -> None:
    rid = new_run(pg_store)
    pg_store.log_metric(rid, Metric("m", 1.0, T0, 0))
    points = pg_store._points
    assert points is not None
    keep = pg_store.engine.pool.size()
    with contextlib.ExitStack() as stack:  # more at once than are kept
        held = [stack.enter_context(points.connection()) for _ in range(keep + 2)]
        assert len(set(map(id, held))) == keep + 2
    idle = _point_idle(pg_store)
    assert len(idle) == keep
    assert all(conn.closed for conn in held if conn not in idle)  # the extra ones
    pg_store.close()
    assert _point_idle(pg_store) == [] and all(conn.closed for conn in idle)
    pg_store.log_metric(rid, Metric("m", 2.0, T0, 1))  # a new one after close()
    assert [m.value for m in pg_store.get_metric_history(rid, "m")] == [1.0, 2.0]


def test_postgresql_a_point_connection_that_failed_is_not_reused(
        pg_store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests._databases import admin_engine

    rid = new_run(pg_store)
    pg_store.log_metric(rid, Metric("m", 1.0, T0, 0))
    (first,) = _point_idle(pg_store)
    monkeypatch.setattr(engine_module, "PING_AFTER", 3600.0)  # no ping: the write meets it
    with admin_engine("postgresql").connect() as admin:
        admin.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              f"WHERE datname = '{pg_store.engine.url.database}'")
    with pytest.raises(TrackstoreError) as e:
        pg_store.log_metric(rid, Metric("m", 2.0, T0, 1))
    assert e.value.error_code == "TEMPORARILY_UNAVAILABLE"
    assert first.closed and first not in _point_idle(pg_store)
    pg_store.log_metric(rid, Metric("m", 3.0, T0, 2))  # on a fresh connection
    assert [m.value for m in pg_store.get_metric_history(rid, "m")] == [1.0, 3.0]


@pytest.mark.parametrize(("variable", "value", "kept"), [
    ("MLFLOW_SQLALCHEMYSTORE_POOLCLASS", "NullPool", 0),  # nothing left open between calls
    ("MLFLOW_SQLALCHEMYSTORE_POOL_SIZE", "0", 3),  # a pool without a size limit
])
def test_postgresql_point_connections_follow_the_pool_options(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
        kept: int) -> None:
    monkeypatch.setenv(variable, value)
    with fresh_database("postgresql", tmp_path) as database_uri:
        store = SqlStore(database_uri)
        try:
            rid = new_run(store)
            points = store._point_connections()
            with contextlib.ExitStack() as stack:
                for _ in range(3):
                    stack.enter_context(points.connection())
            assert len(_point_idle(store)) == kept
            store.log_metric(rid, Metric("m", 1.0, T0, 0))
            assert len(_point_idle(store)) == kept
            assert [m.value for m in store.get_metric_history(rid, "m")] == [1.0]
        finally:
            store.close()
            dispose_engines()


def _log_point_in_forked_child(store: SqlStore, rid: str) -> None:
    inherited = _point_idle(store)
    store.log_metric(rid, Metric("child", 1.0, T0, 0))
    if not inherited or any(conn in inherited for conn in _point_idle(store)):
        raise SystemExit(3)  # it must not have written on the parent's connection


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_postgresql_forked_child_logs_points_on_a_connection_of_its_own(pg_store: SqlStore
                                                                        ) -> None:
    rid = new_run(pg_store)
    pg_store.log_metric(rid, Metric("parent", 1.0, T0, 0))
    parents = _point_idle(pg_store)
    assert _exit_status_of_forked_child(_log_point_in_forked_child, pg_store, rid) == 0
    assert _point_idle(pg_store) == parents and not parents[0].closed
    pg_store.log_metric(rid, Metric("parent", 2.0, T0, 1))
    assert set(pg_store.get_run(rid).data.metrics) == {"parent", "child"}


def test_history_reads_leave_the_cycle_collector_as_they_found_it(store: SqlStore) -> None:
    import gc

    rid = new_run(store)
    store.log_batch(rid, metrics=[Metric("m", float(s), T0, s) for s in range(100)])
    assert gc.isenabled()
    assert len(store.get_metric_history(rid, "m")) == 100
    assert len(store.get_metric_history_columns(rid, "m")) == 100
    assert gc.isenabled()
    gc.disable()
    try:
        assert len(store.get_metric_history(rid, "m")) == 100
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_eighteen_digit_experiment_ids_fit(store: SqlStore) -> None:
    # File-store experiment ids are 18-digit numbers; an import keeps them as they are.
    big = 987654321098765432
    with store.engine.begin() as conn:
        conn.execute(sa.insert(s_schema.experiments).values(
            experiment_id=big, name="imported", artifact_location="file:///a",
            lifecycle_stage="active", creation_time=T0, last_update_time=T0))
    assert store.get_experiment(str(big)).name == "imported"
    rid = new_run(store, str(big))
    store.log_metric(rid, Metric("m", 1.0, T0, 0))
    assert store.get_run(rid).info.experiment_id == str(big)
    assert [r.info.run_id for r in store.search_runs([str(big)])] == [rid]
    assert int(store.create_experiment("next")) < big  # new ids keep counting from 1


@pytest.mark.parametrize(("first", "second"), [("Loss", "loss"), ("loss", "loss ")],
                         ids=["case", "trailing-blank"])
def test_names_and_keys_differing_only_by_case_or_trailing_blanks_stay_apart(
        store: SqlStore, first: str, second: str) -> None:
    # Binary collations: case-sensitive, and trailing blanks count (MySQL's utf8mb4_bin
    # ignores them: 'k' and 'k ' would be one key there).
    rid = new_run(store)
    store.log_batch(rid, metrics=[Metric(first, 1.0, T0, 0), Metric(second, 2.0, T0, 0)],
                    params=[Param(first, "1"), Param(second, "2")],
                    tags=[RunTag(first, "a"), RunTag(second, "b")])
    run = store.get_run(rid)
    assert run.data.metrics == {first: 1.0, second: 2.0}
    assert run.data.params == {first: "1", second: "2"}
    assert (run.data.tags[first], run.data.tags[second]) == ("a", "b")
    assert [m.value for m in store.get_metric_history(rid, second)] == [2.0]
    a, b = store.create_experiment(first), store.create_experiment(second)
    assert a != b and store.get_experiment_by_name(second).experiment_id == b
    assert store.get_experiment_by_name(first.upper()) is None
