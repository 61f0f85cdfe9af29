"""A deadlock victim: its ``log_batch`` is rolled back whole, reported as retryable, and its
retry stores every point once.

trackstore's writers take their row locks in one order (``latest_metrics`` rows by key id),
so they do not deadlock each other (``test_load.py`` measures it). Another program can: here
a transaction of the test's own locks the ``latest_metrics`` row of key ``b`` while a
``log_batch`` of keys ``a`` and ``b`` (which locks ``a``, then waits for ``b``) is in flight,
then asks for ``a``. The database breaks the cycle by aborting one of the two; the test makes
it abort trackstore's (PostgreSQL: the test's transaction waits 10 s before it looks for a
deadlock, trackstore's 1 s; InnoDB aborts the transaction that changed fewer rows, so the
test's inserts a thousand rows first). Then:

* through ``trackstore server``: the request gets 503 ``TEMPORARILY_UNAVAILABLE`` (the only
  5xx in the access log), the REST client retries it once, and the retry succeeds;
* on ``SqlStore`` directly: ``log_batch`` raises ``TEMPORARILY_UNAVAILABLE`` and none of its
  points is stored; repeating the call stores them;

and either way each point of the batch is stored exactly once and ``latest_metrics`` holds
the batch's points, and the database counted the deadlock.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests._databases import fresh_database
from tests._server_process import trackstore_server
from tests.load._writer import CountingSleep
from trackstore import TrackingClient
from trackstore.entities import Metric
from trackstore.exceptions import TEMPORARILY_UNAVAILABLE, TrackstoreError
from trackstore.store.base import AbstractStore
from trackstore.store.rest import RestStore
from trackstore.store.sql import SqlStore
from trackstore.store.sql.engine import dispose_engines

WAIT_TIMEOUT = 30.0
_ACCESS = re.compile(r" trackstore\.server\.access INFO \S+ (\S+) (\S+) (\d{3}) ")


@pytest.fixture(params=["postgresql", "mysql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    with fresh_database(request.param, tmp_path) as uri:
        try:
            yield request.param, uri
        finally:
            dispose_engines()


def _blocked(conn: sa.Connection, kind: str) -> int:
    """Transactions of this database waiting for a row lock."""
    if kind == "postgresql":
        sql = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
               "AND wait_event_type = 'Lock'")
    else:
        # InnoDB lists the waiting transaction as LOCK WAIT, but not always: MariaDB 10.11 may
        # show the statement waiting (its session's state "Update" for a second and more) with
        # no row in innodb_trx for it. Either one says the batch is stuck behind the lock.
        sql = ("SELECT (SELECT count(*) FROM information_schema.innodb_trx "
               "WHERE trx_state = 'LOCK WAIT') + (SELECT count(*) FROM "
               "information_schema.processlist WHERE db = database() AND time >= 1 "
               "AND info LIKE 'INSERT INTO latest_metrics%%')")
    return int(conn.exec_driver_sql(sql).scalar() or 0)


def _deadlocks(conn: sa.Connection, kind: str) -> int:
    if kind == "postgresql":
        conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
        return int(conn.exec_driver_sql("SELECT deadlocks FROM pg_stat_database WHERE "
                                        "datname = current_database()").scalar() or 0)
    row = conn.exec_driver_sql("SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'").first()
    return int(row[1]) if row else 0


def _key_ids(conn: sa.Connection, run_id: str) -> tuple[int, int, int]:
    run_key = conn.execute(sa.text("SELECT run_key FROM runs WHERE run_uuid = :r"),
                           {"r": run_id}).scalar_one()
    ids = dict(conn.execute(sa.text("SELECT k.key, k.key_id FROM metric_keys k")).all())
    assert ids["a"] < ids["b"], ids  # registered in sorted order: trackstore locks a first
    return int(run_key), int(ids["a"]), int(ids["b"])


def _stored(uri: str, run_id: str) -> list[tuple[str, int, float]]:
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return sorted((k, int(s), float(v)) for k, s, v in conn.execute(sa.text(
                "SELECT k.key, m.step, m.value FROM metrics m JOIN metric_keys k ON "
                "k.key_id = m.key_id JOIN runs r ON r.run_key = m.run_key "
                "WHERE r.run_uuid = :r"), {"r": run_id}))
    finally:
        engine.dispose()


def _batch(step: int) -> list[Metric]:
    return [Metric(key, float(step), 1_700_000_000_000 + step, step) for key in ("b", "a")]


def _deadlock_with(uri: str, kind: str, run_id: str, store: AbstractStore) -> BaseException | None:
    """Log a batch on *store* while a transaction of the test's own makes a deadlock with it;
    the batch call's exception (None: it returned)."""
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    outcome: list[BaseException | None] = []

    def log() -> None:
        try:
            store.log_batch(run_id, _batch(1))
            outcome.append(None)
        except BaseException as exc:  # handed to the test
            outcome.append(exc)

    try:
        with engine.connect() as watcher, engine.connect() as other:
            watcher.execution_options(isolation_level="AUTOCOMMIT")
            before = _deadlocks(watcher, kind)
            run_key, a, b = _key_ids(watcher, run_id)
            lock = ("SELECT value FROM latest_metrics WHERE run_key = :r AND key_id = :k "
                    "FOR UPDATE")
            if kind == "postgresql":
                other.exec_driver_sql("SET deadlock_timeout = '10s'")
            else:  # heavier than the batch's transaction: InnoDB aborts the lighter one
                other.exec_driver_sql("CREATE TEMPORARY TABLE ballast (i INTEGER)")
                other.execute(sa.text("INSERT INTO ballast VALUES (:i)"),
                              [{"i": i} for i in range(1000)])
            other.execute(sa.text(lock), {"r": run_key, "k": b})
            thread = threading.Thread(target=log, daemon=True)
            thread.start()
            deadline = time.monotonic() + WAIT_TIMEOUT
            while _blocked(watcher, kind) == 0:
                assert thread.is_alive() and time.monotonic() < deadline, \
                    f"the batch never waited for the lock: {outcome}"
                time.sleep(0.01)
            other.execute(sa.text(lock), {"r": run_key, "k": a})  # the cycle: one is aborted
            other.commit()
            thread.join(WAIT_TIMEOUT)
            assert not thread.is_alive(), "the batch hung after the deadlock"
            assert _deadlocks(watcher, kind) > before, "the database counted no deadlock"
    finally:
        engine.dispose()
    return outcome[0]


def test_deadlock_victim_through_the_server(database: tuple[str, str], tmp_path: Path) -> None:
    kind, uri = database
    args = ["--backend-store-uri", uri, "--default-artifact-root", str(tmp_path / "artifacts"),
            "--workers", "1"]
    with trackstore_server(args, cwd=tmp_path) as server:
        run_id = TrackingClient(server.url).create_run("0").info.run_id
        sleep = CountingSleep()
        store = RestStore(server.url, sleep=sleep)
        store.log_batch(run_id, _batch(0))  # the latest_metrics rows to lock
        error = _deadlock_with(uri, kind, run_id, store)
        assert error is None, f"the retried batch failed: {error!r}"
        assert sleep.retries == 1, sleep.retries
        assert store.get_run(run_id).data.metrics == {"a": 1.0, "b": 1.0}
        store.close()
    statuses = [(path.rsplit("/", 1)[1], int(status))
                for method, path, status in _ACCESS.findall(server.stderr())
                if path.endswith("/log-batch")]
    assert statuses == [("log-batch", 200), ("log-batch", 503), ("log-batch", 200)], statuses
    assert _stored(uri, run_id) == [("a", 0, 0.0), ("a", 1, 1.0), ("b", 0, 0.0), ("b", 1, 1.0)]


def test_deadlock_victim_on_the_store(database: tuple[str, str]) -> None:
    kind, uri = database
    store = SqlStore(uri)
    run_id = store.create_run("0", "someone", 0, [], None).info.run_id
    store.log_batch(run_id, _batch(0))
    error = _deadlock_with(uri, kind, run_id, store)
    assert isinstance(error, TrackstoreError), repr(error)
    assert error.error_code == TEMPORARILY_UNAVAILABLE, error
    assert _stored(uri, run_id) == [("a", 0, 0.0), ("b", 0, 0.0)]  # rolled back whole
    store.log_batch(run_id, _batch(1))
    assert _stored(uri, run_id) == [("a", 0, 0.0), ("a", 1, 1.0), ("b", 0, 0.0), ("b", 1, 1.0)]
    assert store.get_run(run_id).data.metrics == {"a": 1.0, "b": 1.0}
    store.close()
