"""A database server restarted under load: clients see success or TEMPORARILY_UNAVAILABLE.

On a PostgreSQL and a MariaDB of the test's own (``_private_servers.py``: the shared test
servers are never restarted), eight writer processes log to four shared runs:

* four on :class:`~trackstore.store.sql.SqlStore` directly, two of which repeat a failed call
  (same points, same timestamp) until it succeeds, as a careful client would, and two of
  which move on (the failed call's points are then *uncertain*: stored whole or not at all);
* four through ``trackstore server --workers 2`` on the same database, with the REST client's
  own retries (MLflow's policy: a 503 is retried after 0, 4, 8 ... seconds).

:data:`RESTART_EVERY` seconds after they start, the database server is stopped ``fast``
(PostgreSQL ends the sessions; MariaDB shuts down on SIGTERM), left down for :data:`DOWN`
seconds and started again; as long after, it is stopped ``immediate`` (PostgreSQL without a
shutdown, crash recovery at the start; MariaDB SIGKILLed) and started again. Below half the
reliability scale only the immediate restart is made. The clients and the tracking server
keep running throughout. Then:

* every failed call failed with ``TEMPORARILY_UNAVAILABLE``: never ``INTERNAL_ERROR``, never a
  raw driver or SQLAlchemy exception; the server answered no 5xx but 503 and logged no
  request failure of its own (``trackstore.server ERROR``: an exception it had to classify);
* the pools recovered: every writer had calls acknowledged after each restart, and none
  failed later than :data:`RECOVERY_LIMIT` seconds after the database accepted logins again;
  after the writers, a new client's write through the same server succeeds;
* in the database, read directly: every acknowledged point stored exactly once (a retried
  call stored nothing twice), nothing stored that was never sent, no call stored in part
  (points, params and tags of a ``log_batch`` are one transaction), ``latest_metrics``
  consistent with the histories.

Figures (``record("db_restart", dialect, ...)``): the errors by code, the acknowledged points,
lost (0), partial calls (0), duplicates (0), the uncertain calls found stored (commits whose
acknowledgement the restart cut off: the reason a careful client repeats a failed call, which
the store's duplicate rule makes safe), and per restart the seconds the database was
unreachable and the seconds until every writer had succeeded again after it came back.
"""

from __future__ import annotations

import re
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._figures import record, scale
from tests._server_process import trackstore_server
from tests.load._harness import Writers, check_database, expected_points
from tests.load._private_servers import PrivateServers
from trackstore import TrackingClient
from trackstore.exceptions import TEMPORARILY_UNAVAILABLE

#: The database is stopped this many seconds after the writers start, and again as long
#: after it came back; it stays down :data:`DOWN` seconds each time. Not scaled: a REST
#: client's second retry comes 4-5 s after its first failure (MLflow's backoff), and every
#: writer must have succeeded again before the next stop.
RESTART_EVERY = 6.0
DOWN = 1.0
#: Seconds of logging after the last restart.
TAIL = 3.0
#: After the database accepts logins again, every writer must be through with failures
#: within this many seconds.
RECOVERY_LIMIT = 8.0
GRACE = 90.0
RUNS = 4
DIRECT, THROUGH_SERVER = 4, 4
_ACCESS = re.compile(r" trackstore\.server\.access INFO \S+ \S+ \S+ (\d{3}) ")


@pytest.fixture(scope="module")
def servers() -> Iterator[PrivateServers]:
    pair = PrivateServers()
    try:
        yield pair
    finally:
        pair.close()


def stop_modes() -> tuple[str, ...]:
    """Both ways to stop at full scale; the harsher one alone below half of it."""
    return ("fast", "immediate") if scale() >= 0.5 else ("immediate",)


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_database_restart_under_load(servers: PrivateServers, kind: str,
                                     tmp_path: Path) -> None:
    uri = servers.create_database(kind, f"ts_restart_{secrets.token_hex(4)}")
    modes = stop_modes()
    # Each restart takes DOWN plus the server's start (1-3 s), then RESTART_EVERY to settle.
    seconds = len(modes) * (RESTART_EVERY + DOWN + 3.0) + TAIL
    args = ["--backend-store-uri", uri, "--default-artifact-root", str(tmp_path / "artifacts"),
            "--workers", "2"]
    with trackstore_server(args, cwd=tmp_path) as server:
        client = TrackingClient(server.url)
        experiment = client.create_experiment("restart")
        runs = [client.create_run(experiment).info.run_id for _ in range(RUNS)]
        assignment = [[runs[w % RUNS], runs[(w + 1) % RUNS]]
                      for w in range(DIRECT + THROUGH_SERVER)]
        direct = Writers(uri, assignment[:DIRECT // 2], seconds, tmp_path / "retrying",
                         retry_failed=True)
        moving_on = Writers(uri, assignment[DIRECT // 2:DIRECT], seconds, tmp_path / "direct",
                            first_index=DIRECT // 2)
        rest = Writers(server.url, assignment[DIRECT:], seconds, tmp_path / "rest",
                       first_index=DIRECT)
        groups = (direct, moving_on, rest)
        restarts: list[tuple[str, float, float]] = []  # (mode, stopped at, back at)
        try:
            for group in groups:
                group.start()
            for mode in modes:
                time.sleep(RESTART_EVERY)
                stopped_at = time.monotonic()
                servers.stop(kind, mode)
                time.sleep(DOWN)
                servers.start(kind)
                restarts.append((mode, stopped_at, time.monotonic()))
            for group in groups:
                group.finish(GRACE)
        finally:
            for group in groups:
                group.kill()
        assert server.process.poll() is None, f"the server exited: {server.describe()}"
        # The server's pool recovered: a new client's write succeeds without a restart.
        client.log_param(runs[0], "after", "restart")
    log = server.stderr()

    reports = [r for group in groups for r in group.reports]
    errors = Counter[str]()
    for report in reports:
        errors.update(report["errors"])
    others = {code: n for code, n in errors.items() if code != TEMPORARILY_UNAVAILABLE}
    assert not others, (f"errors other than {TEMPORARILY_UNAVAILABLE}: {others}; e.g. "
                        f"{[m for r in reports for m in r['messages']][:8]}")
    statuses = Counter(int(s) for s in _ACCESS.findall(log))
    assert not {s for s in statuses if s >= 500 and s != 503}, statuses
    failures = [line for line in log.splitlines() if "trackstore.server ERROR" in line]
    assert not failures, f"the server had to classify raw errors: {failures[:3]}"
    recovery: dict[str, float] = {}
    for n, (mode, stopped_at, back_at) in enumerate(restarts):
        until = restarts[n + 1][1] if n + 1 < len(restarts) else float("inf")
        for index, report in enumerate(reports):
            after = [c["at"] for c in report["acked"] if back_at < c["at"] < until]
            assert after, (f"writer {index} had nothing acknowledged after the {mode} restart: "
                           f"{report['messages']}")
            late = [c["at"] - back_at for c in report["failed"]
                    if back_at + RECOVERY_LIMIT < c["at"] < until]
            assert not late, (f"writer {index} still failing {max(late):.1f} s after the "
                              f"{mode} restart")
            first = min(c["at"] for c in report["acked"] if c["at"] > stopped_at)
            recovery[mode] = max(recovery.get(mode, 0.0), first - back_at)

    expected = expected_points(reports)
    verdict = check_database(uri, runs, expected, ("w", "shared"))
    uncertain_calls = [c for r in moving_on.reports for c in r["failed"]]
    record("db_restart", kind, stops="+".join(modes), writers=len(reports),
           errors_temporarily_unavailable=errors[TEMPORARILY_UNAVAILABLE],
           errors_other=sum(others.values()), acked_points=len(expected.points),
           lost=0, partial_batches=0, duplicates=0, status_503=statuses[503],
           client_retries=sum(r["retries"] for r in rest.reports),
           uncertain_calls=len(uncertain_calls),
           uncertain_calls_stored=verdict.uncertain_calls_stored,
           **{f"down_s_{mode}": round(back - stopped, 2) for mode, stopped, back in restarts},
           **{f"recovery_s_{mode}": round(max(0.0, value), 2)
              for mode, value in recovery.items()})
