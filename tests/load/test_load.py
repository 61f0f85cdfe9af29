"""Load: 32 writer processes through ``trackstore server --workers 4`` on PostgreSQL and MariaDB.

For a bounded time (:data:`SECONDS`, times the reliability scale), 32 processes log through
trackstore's REST client to a real ``trackstore server`` with four workers, on a fresh
database of the shared test server (``tests/_databases.py``). Four writers share each of
eight runs (each writer alternates between two), and all writers of a run log the same ten
metric keys at steps of their own, so the latest-metric upserts of concurrent transactions
contend on the same rows (where deadlocks live on InnoDB and PostgreSQL); they also log the
same shared param, overwrite a shared tag, and add params, tags and single ``log_metric``
points of their own (see ``_writer.py``).

Then, reading the database directly: every acknowledged point stored exactly once with its
timestamp and value, nothing stored that was never sent, every acknowledged param and the
writers' last tags stored, ``latest_metrics`` equal to the greatest point of every history.
No writer may fail a call or hang (all finish within the bound plus :data:`GRACE`). The
server's access log must show no 5xx but 503 (``TEMPORARILY_UNAVAILABLE``, which the client
retries), and its request count must equal the writers' calls plus the retries they counted
(no request lost or duplicated on the way); its log must hold no traceback.

Figures (``record("load", dialect, ...)``): the points acknowledged per second over the
whole window, the requests, the 503s the server sent, the client's retries, and the
deadlocks the database detected (PostgreSQL: ``pg_stat_database.deadlocks`` of the test's
database; MariaDB: the change of the server-wide ``Innodb_deadlocks``, which other tests
running at the same time may add to).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests._databases import admin_engine, fresh_database
from tests._figures import record, scale
from tests._server_process import trackstore_server
from tests.load._harness import Writers, check_database, expected_points
from trackstore import TrackingClient

WRITERS = 32
WORKERS = 4
RUNS = 8
#: Seconds of logging at scale 1.
SECONDS = 20.0
#: Seconds a writer may take past the window: its last call, and the retries of a call that
#: met back-pressure (the client's backoff: 0, 4, 8 ... seconds).
GRACE = 60.0
LOGGING_PATHS = frozenset({"/api/2.0/mlflow/runs/log-batch", "/api/2.0/mlflow/runs/log-metric"})
_ACCESS = re.compile(r" trackstore\.server\.access INFO \S+ (\S+) (\S+) (\d{3}) ")


@pytest.fixture(params=["postgresql", "mysql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    with fresh_database(request.param, tmp_path) as uri:
        yield request.param, uri


def deadlock_count(kind: str, uri: str) -> int:
    """Deadlocks the server detected: in *uri*'s database (PostgreSQL), or server-wide."""
    with admin_engine(kind).connect() as conn:
        if kind == "postgresql":
            name = sa.engine.make_url(uri).database
            conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
            return int(conn.execute(sa.text("SELECT deadlocks FROM pg_stat_database WHERE "
                                            "datname = :name"), {"name": name}).scalar() or 0)
        row = conn.exec_driver_sql("SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'").first()
        return int(row[1]) if row else 0


def test_32_writers_through_the_server(database: tuple[str, str], tmp_path: Path) -> None:
    kind, uri = database
    seconds = SECONDS * scale()
    args = ["--backend-store-uri", uri, "--default-artifact-root", str(tmp_path / "artifacts"),
            "--workers", str(WORKERS)]
    deadlocks_before = deadlock_count(kind, uri)
    with trackstore_server(args, cwd=tmp_path) as server:
        client = TrackingClient(server.url)
        experiment = client.create_experiment("load")
        runs = [client.create_run(experiment, run_name=f"shared-{i}").info.run_id
                for i in range(RUNS)]
        writers = Writers(server.url,
                          [[runs[w % RUNS], runs[(w + 1) % RUNS]] for w in range(WRITERS)],
                          seconds, tmp_path / "writers")
        try:
            writers.start()
            elapsed = writers.finish(GRACE)
        finally:
            writers.kill()
    log = server.stderr()  # complete: the access log is flushed when the server stops
    deadlocks = deadlock_count(kind, uri) - deadlocks_before

    reports = writers.reports
    errors = Counter[str]()
    for report in reports:
        errors.update(report["errors"])
    assert not errors, (f"writers' calls failed: {dict(errors)}; e.g. "
                        f"{[m for r in reports for m in r['messages']][:5]}")
    statuses = Counter[int]()
    logging_requests = 0
    for method, path, status in _ACCESS.findall(log):
        statuses[int(status)] += 1
        if method == "POST" and path in LOGGING_PATHS:
            logging_requests += 1
    server_errors = {s: n for s, n in statuses.items() if s >= 500 and s != 503}
    assert not server_errors, f"5xx other than 503: {server_errors}"
    assert "Traceback" not in log, f"the server logged a traceback: {server.describe()}"
    calls = sum(r["calls"] for r in reports)
    retries = sum(r["retries"] for r in reports)
    assert logging_requests == calls + retries, (
        f"the server logged {logging_requests} logging requests; the writers made {calls} "
        f"calls and {retries} retries")
    assert retries <= statuses[503], f"{retries} retries, {statuses[503]} 503s"

    expected = expected_points(reports)
    verdict = check_database(uri, runs, expected, ("w", "shared"))
    points = len(expected.points)
    assert verdict.stored_points == points
    assert points >= WRITERS, f"only {points} points logged in {seconds:.0f} s"
    record("load", kind, writers=WRITERS, workers=WORKERS, seconds=round(seconds, 1),
           points=points, points_per_s=round(points / seconds), requests=logging_requests,
           status_503=statuses[503], client_retries=retries, deadlocks_seen=deadlocks,
           finished_s_max=round(elapsed, 1))
