"""Through the server: ``trackstore server`` against ``mlflow server``, in the same run.

Each server runs as a subprocess of this session (``benches/_servers.py``) with
``--workers 2`` (this is a 2-core machine), on a database of its own created empty for the
module: a SQLite file on the test's disk, and a PostgreSQL and a MariaDB (``[mysql]``)
database on the servers of ``.ci/databases`` when they answer (``benches/_databases.py``: an
unreachable one is skipped with the reason). The schema is created before the server starts,
by the server's own library, so the workers do not race to migrate a new database. One server
runs at a time: all the benchmarks of ``[sqlite-trackstore]``, then of ``[sqlite-mlflow]``,
and so on. Each server is stopped with SIGTERM at the end and must exit, every process it
started with it.

Benchmarks are parametrized ``[<dialect>-trackstore]`` / ``[<dialect>-mlflow]`` (the server
measured), so ``--benchmark-group-by=func`` puts the pairs side by side and
``benches/report.py`` pairs them by name with the server dropped.

    python -m pytest benches/bench_server.py --benchmark-only --benchmark-group-by=func \
        --benchmark-autosave --benchmark-storage=benches/results

**The load** (``test_log_metric_calls``, ``test_log_batch_1000_points``): 4 client
processes (``TRACKSTORE_BENCH_CLIENTS``), each with one kept-alive connection, each logging
into a run of its own (four training jobs logging at once); a timed round is every client
sending its requests one after the other (50 ``log-metric`` calls, or 2 ``log-batch`` calls
of 1000 points: the ``[4_clients_x_50]`` and ``[4_clients_x_2]`` of their names), and ends
when the last answer is in. Both servers get the same rounds and the same client code
(:class:`_servers.Connection`: a lean HTTP/1.1 client, ``TCP_NODELAY``,
each request's line, headers and JSON body in one ``send()``; the bodies are encoded before
the round starts). Processes, not threads: against a trivial 2-process HTTP server on this
machine, 4 client threads reached 5-6k requests/s (they share one GIL) and 4 processes
9-10k, at 120-160 µs of client CPU per request (with ``http.client``; the raw-socket
client now used takes 75-130 µs per ``log-metric`` request, against 250-280 before, and
left MLflow's rows where they were, within the noise). trackstore's throughput was the same with 2,
4 and 8 clients (the server is saturated; only the latency grows). ``extra_info`` has the
calls/s, the points/s, the latency of the requests (median, p99, max) over all timed rounds,
and the CPU per request of the clients and of the server's processes (``client_cores``: how
much of the machine the clients took).

**MLflow's server** is measured in the configuration fastest for it here, with as many
workers as trackstore: ``mlflow server --workers 2 --gunicorn-opts ...`` (gunicorn, 2 sync
workers, the Flask app; it closes the connection after each answer), with
``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false`` (otherwise it also starts a job runner and a
5-worker huey consumer, nothing to do with tracking, that take CPU from the 2 cores).
Against its default, uvicorn with 2 workers, in the same session (SQLite / PostgreSQL):
``log-metric`` 127 / 226 calls/s against 124 / 184, p99 latency 81 / 31 ms against
243 / 45 ms; ``log-batch`` 9.6k / 8.1k points/s against 9.7k / 8.6k (the same, within the
noise); the ``mlflow`` client's ``log_metric`` 112 / 94 calls/s against 66 / 79 (the Nagle
stall of uvicorn's multi-worker mode, design §6, hits the ``mlflow`` client's requests; ours
send each request in one segment and did not show it). uvicorn with 1 worker was slower
with 4 clients (43-150 calls/s). ``TRACKSTORE_BENCH_MLFLOW_SERVER=uvicorn`` measures MLflow's
default server instead. MLflow's SQLite commits ``fsync`` (rollback journal,
``synchronous=FULL``) and trackstore's do not (WAL, ``synchronous=NORMAL``), as in
``bench_sql_store.py``: the SQLite rows of MLflow move with the disk's ``fsync`` time from
run to run (``log-metric`` 41 to 127 calls/s in this session); the PostgreSQL server of
``.ci/databases`` flushes nothing for either.

**The ``mlflow`` client** (``test_mlflow_client_log_metric_one_point_per_call``,
``test_mlflow_client_log_batch_1000_points``): informative, what users run: one
``mlflow.MlflowClient(tracking_uri=<server>)`` in this process, sequential calls.

Untimed (``--benchmark-disable``, as CI runs the benchmarks) each benchmark runs one round,
and every benchmark checks its points through the REST API (``metrics/get-history``): each
point stored once, nothing else; every request must have been answered 200.
"""

from __future__ import annotations

import gc
import importlib.util
import itertools
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from _data import T0, log_metric_per_call, points
from _databases import fresh_database, release, server_version
from _servers import (
    API,
    ClientPool,
    Outcome,
    Request,
    Server,
    call_json,
    metric_history,
    running,
    trackstore_server_missing,
)

LIBS = ["trackstore", "mlflow"]
DIALECTS = ["sqlite", "postgresql", "mysql"]
WORKERS = 2  # server worker processes, both servers (a 2-core machine)
CLIENTS = int(os.environ.get("TRACKSTORE_BENCH_CLIENTS", "4"))  # client processes of the load
CALLS_PER_CLIENT = 50  # log-metric calls per client per round
BATCHES_PER_CLIENT = 2  # log-batch calls (1000 points each) per client per round

MLFLOW_SERVER = os.environ.get("TRACKSTORE_BENCH_MLFLOW_SERVER", "gunicorn")
MLFLOW_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_ALLOW_FILE_STORE": "true"}


def mlflow_server_options() -> tuple[tuple[str, ...], str]:
    """``mlflow server``'s options and their description (see the module's docstring)."""
    if MLFLOW_SERVER == "uvicorn" or importlib.util.find_spec("gunicorn") is None:
        return (), f"uvicorn, {WORKERS} workers (MLflow's default server)"
    import gunicorn.config  # type: ignore[import-untyped]

    # Recent gunicorns open a control socket in ~/.gunicorn, one path for every instance.
    shared = any(s.name == "control_socket_disable" for s in gunicorn.config.KNOWN_SETTINGS)
    return (("--gunicorn-opts", "--no-control-socket" if shared else ""),
            f"gunicorn, {WORKERS} sync workers (Flask app)")


def create_schema(lib: str) -> Callable[[str], None]:
    """What makes *lib* create its schema in an empty database: opening it with a client."""
    def create(uri: str) -> None:
        if lib == "trackstore":
            import trackstore
            from trackstore.store import registry

            trackstore.TrackingClient(uri).search_experiments()
            # SqlStore's SQLite writer connection (one per thread, detached from the pool) is
            # closed by nobody but the garbage collector, once the store is forgotten: closed
            # now, SQLite folds its -wal file into the database, which is copied whole.
            registry.clear_cache()
            gc.collect()
        else:
            import mlflow

            mlflow.MlflowClient(uri).search_experiments()

    return create


@dataclass
class Served:
    """A running server of *lib* on a fresh *dialect* database, and an experiment in it."""

    lib: str
    dialect: str
    server: Server
    experiment_id: str
    description: str
    runs: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def url(self) -> str:
        return self.server.url

    def new_run(self) -> str:
        answer = call_json(self.url, "POST", f"{API}/runs/create", {
            "experiment_id": self.experiment_id, "start_time": T0,
            "run_name": f"bench-{next(self.runs)}"})
        return str(answer["run"]["info"]["run_id"])

    def note(self, benchmark: Any) -> None:
        """What the results must say about the server and its database."""
        info = benchmark.extra_info
        info["server"] = self.description
        info["workers"] = WORKERS
        info["database"] = server_version(self.dialect)
        info["server_start_seconds"] = round(self.server.start_seconds, 1)
        if self.dialect == "sqlite":
            info["sqlite_commit"] = (
                "WAL, synchronous=NORMAL (no fsync per commit)" if self.lib == "trackstore"
                else "rollback journal, synchronous=FULL (MLflow's default)")


@pytest.fixture(scope="module", params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module", params=LIBS)
def lib(request: pytest.FixtureRequest) -> str:
    if request.param == "mlflow":
        pytest.importorskip("mlflow")
    else:
        missing = trackstore_server_missing()
        if missing:
            pytest.skip(missing)
    return str(request.param)


@pytest.fixture(scope="module")
def served(dialect: str, lib: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The server of *lib* on a fresh *dialect* database, for the module (one at a time)."""
    directory = tmp_path_factory.mktemp(f"server-{dialect}-{lib}")
    with fresh_database(dialect, directory, lib, create_schema(lib)) as uri:
        if dialect != "sqlite":  # (SQLite: a copy of a file that has the schema already)
            create_schema(lib)(uri)
            release(uri)
        if lib == "trackstore":
            server = Server(lib, uri, WORKERS, directory)
            description = f"trackstore server, {WORKERS} workers"
        else:
            options, kind = mlflow_server_options()
            server = Server(lib, uri, WORKERS, directory, options, MLFLOW_ENV)
            description = f"mlflow server, {kind}"
        with running(server):
            experiment = call_json(server.url, "POST", f"{API}/experiments/create",
                                   {"name": "bench-server"})
            yield Served(lib, dialect, server, str(experiment["experiment_id"]), description)


@pytest.fixture(scope="module")
def pool() -> Iterator[ClientPool]:
    clients = ClientPool(CLIENTS)
    yield clients
    clients.close()


# -- the load: concurrent client processes ----------------------------------------------------


@dataclass
class Rounds:
    """Rounds of requests on the client pool, and what the clients saw in each."""

    pool: ClientPool
    url: str
    make: Callable[[int, int], list[Request]]  # (client, round number) -> its requests
    made: int = 0
    seconds: list[float] = field(default_factory=list)
    outcomes: list[list[Outcome]] = field(default_factory=list)

    def setup(self) -> None:
        """Untimed: the next round's requests, encoded, handed to the clients."""
        self.pool.prepare(self.url, [self.make(c, self.made) for c in range(self.pool.size)])
        self.made += 1

    def go(self) -> None:
        """Timed: the round."""
        started = time.perf_counter()
        outcomes = self.pool.go()
        self.seconds.append(time.perf_counter() - started)
        self.outcomes.append(outcomes)

    def run(self, benchmark: Any, server: Server, points_per_request: int, rounds: int) -> None:
        requests = sum(len(self.make(c, 0)) for c in range(self.pool.size))
        warmup = 0 if benchmark.disabled else 1
        server_cpu = server.cpu_seconds()
        benchmark.pedantic(self.go, setup=self.setup, rounds=rounds, warmup_rounds=warmup)
        server_cpu = server.cpu_seconds() - server_cpu  # (every round, the warm-up's too)
        failures = [f for round_ in self.outcomes for o in round_ for f in o.failures]
        assert not failures, f"{len(failures)} requests failed, the first: {failures[:3]}"
        timed = self.outcomes[warmup:]
        seconds = self.seconds[warmup:]
        latencies = sorted(x for round_ in timed for o in round_ for x in o.latencies)
        assert len(latencies) == requests * len(timed)
        median = statistics.median(seconds)
        # Round time as the clients saw it (first request sent to last answer): the pipes'
        # cost to start and collect the clients is the rest of the timed round.
        inside = statistics.median(max(o.ended for o in r) - min(o.started for o in r)
                                   for r in timed)
        cpu = sum(o.cpu for round_ in timed for o in round_)
        info = benchmark.extra_info
        info.update({
            "clients": self.pool.size,
            "requests_per_round": requests,
            "points_per_call": requests * points_per_request,  # a timed call is a round
            "calls_per_s": round(requests / median, 1),
            "points_per_s": round(requests * points_per_request / median),
            "latency_ms_median": round(1e3 * latencies[len(latencies) // 2], 2),
            "latency_ms_p99": round(1e3 * latencies[int(len(latencies) * 0.99)], 2),
            "latency_ms_max": round(1e3 * latencies[-1], 2),
            "round_overhead_ms": round(1e3 * (median - inside), 2),
            "client_cpu_us_per_request": round(1e6 * cpu / len(latencies)),
            "client_cores": round(cpu / sum(seconds), 2),
            # all the server's processes, rounds and the setups between them (10 ms ticks)
            "server_cpu_us_per_request": round(1e6 * server_cpu / (requests * self.made)),
        })


def _rounds(lib: str, timed: bool, trackstore: int, mlflow: int) -> int:
    return 1 if not timed else trackstore if lib == "trackstore" else mlflow


def per_client(requests: int) -> pytest.MarkDecorator:
    """The load of a timed round, in the benchmark's name: ``[4_clients_x_50]`` is 4 client
    processes (``TRACKSTORE_BENCH_CLIENTS``) sending 50 requests each."""
    return pytest.mark.parametrize("requests_per_client", [requests],
                                   ids=[f"{CLIENTS}_clients_x_{requests}"])


@per_client(CALLS_PER_CLIENT)
def test_log_metric_calls(benchmark: Any, served: Served, pool: ClientPool,
                          requests_per_client: int) -> None:
    """``POST runs/log-metric``, one point per call: each client 50 calls per round."""
    run_ids = [served.new_run() for _ in range(pool.size)]

    def requests(client: int, number: int) -> list[Request]:
        first = number * requests_per_client
        return [("POST", f"{API}/runs/log-metric", json.dumps({
            "run_id": run_ids[client], "key": "loss", "value": 1 / (step + 1),
            "timestamp": T0 + step, "step": step}).encode())
            for step in range(first, first + requests_per_client)]

    rounds = Rounds(pool, served.url, requests)
    served.note(benchmark)
    rounds.run(benchmark, served.server, 1, _rounds(served.lib, not benchmark.disabled, 40, 8))
    steps = rounds.made * requests_per_client
    for run_id in run_ids:  # every call's point, once
        history = metric_history(served.url, run_id, "loss")
        assert sorted((m["step"], m["timestamp"], m["value"]) for m in history) == \
            [(s, T0 + s, 1 / (s + 1)) for s in range(steps)]


def _batch(run_id: str, number: int) -> dict[str, Any]:
    """Batch *number* of a run: 1000 points over keys m0..m9, 100 new steps of each."""
    first = number * 100
    return {"run_id": run_id, "metrics": [
        {"key": f"m{i % 10}", "value": value, "timestamp": T0 + first * 10 + i,
         "step": first + i // 10} for i, (_, value, _) in enumerate(points(1000, seed=first))]}


def _check_batches(url: str, run_id: str, batches: int) -> None:
    for key in ("m0", "m9"):
        history = metric_history(url, run_id, key)
        assert sorted(m["step"] for m in history) == list(range(batches * 100)), key


@per_client(BATCHES_PER_CLIENT)
def test_log_batch_1000_points(benchmark: Any, served: Served, pool: ClientPool,
                               requests_per_client: int) -> None:
    """``POST runs/log-batch`` of 1000 points (10 keys): each client 2 calls per round."""
    run_ids = [served.new_run() for _ in range(pool.size)]

    def requests(client: int, number: int) -> list[Request]:
        return [("POST", f"{API}/runs/log-batch",
                 json.dumps(_batch(run_ids[client], number * requests_per_client + b)).encode())
                for b in range(requests_per_client)]

    rounds = Rounds(pool, served.url, requests)
    served.note(benchmark)
    benchmark.extra_info["points_per_request"] = 1000
    rounds.run(benchmark, served.server, 1000, _rounds(served.lib, not benchmark.disabled, 40, 8))
    for run_id in run_ids:
        _check_batches(served.url, run_id, rounds.made * requests_per_client)


# -- the mlflow client, as users run it -------------------------------------------------------


def test_mlflow_client_log_metric_one_point_per_call(benchmark: Any, served: Served) -> None:
    """``mlflow.MlflowClient(tracking_uri=<server>).log_metric``: one client, one point a call."""
    mlflow = pytest.importorskip("mlflow")
    client = mlflow.MlflowClient(tracking_uri=served.url)
    served.note(benchmark)
    if served.lib == "trackstore":
        log_metric_per_call(benchmark, client, rounds=100, iterations=5, warmup_rounds=2)
    else:
        log_metric_per_call(benchmark, client, rounds=20, iterations=3, warmup_rounds=1)


def test_mlflow_client_log_batch_1000_points(benchmark: Any, served: Served) -> None:
    """``MlflowClient.log_batch`` of 1000 points (10 keys): one client, new steps each call."""
    mlflow = pytest.importorskip("mlflow")
    Metric = mlflow.entities.Metric
    client = mlflow.MlflowClient(tracking_uri=served.url)
    run_id = served.new_run()
    calls = itertools.count()

    def next_batch() -> tuple[tuple[Any, ...], dict[str, Any]]:
        batch = _batch(run_id, next(calls))["metrics"]
        return (run_id, [Metric(m["key"], m["value"], m["timestamp"], m["step"])
                         for m in batch]), {}

    benchmark.extra_info["points_per_call"] = 1000
    served.note(benchmark)
    rounds = 40 if served.lib == "trackstore" else 10
    benchmark.pedantic(client.log_batch, setup=next_batch, rounds=rounds, iterations=1,
                       warmup_rounds=1)
    _check_batches(served.url, run_id, next(calls))

