"""The ``trackstore server`` command as it runs in production: real processes, real HTTP.

Each test starts the command as a subprocess on a free port of 127.0.0.1 (see
:mod:`tests._server_process`) and checks what a deployment relies on: which store it serves,
that SIGTERM lets requests in flight finish and exits 0, that it refuses to start on a
database it must not touch, its request log, authentication, concurrent writers through
several workers, and the unmodified ``mlflow`` client against it. Requests go through the raw
:class:`~tests.server.conftest.Api` client; stores are read back with trackstore's own store
classes once the server has stopped.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests._databases import fresh_database
from tests._server_process import (
    ServerProcess,
    free_port,
    refuses_connections,
    run_refused,
    trackstore_server,
)
from tests.server.conftest import Api
from trackstore.entities import Metric
from trackstore.store.base import AbstractStore
from trackstore.store.file import FileStore
from trackstore.store.sql import SqlStore, migrate
from trackstore.store.sql.engine import create_engine, dispose_engines

T0 = 1_700_000_000_000


def _sql_store(uri: str, tmp_path: Path) -> SqlStore:
    return SqlStore(uri, str(tmp_path / "artifacts"))


def _close(store: AbstractStore) -> None:
    store.close()
    dispose_engines()


def _wait_for_workers(server: ServerProcess, workers: int) -> None:
    """Wait until each of the server's worker processes has started serving."""
    server.wait_for_log("Application startup complete", workers)


# -- 1. which store it serves ------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("where", ["uri", "default", "environment"])
def test_serves_the_configured_store_with_two_workers(where: str, tmp_path: Path) -> None:
    """--backend-store-uri, else MLFLOW_BACKEND_STORE_URI, else ./mlruns in the cwd."""
    db_uri = f"sqlite:///{tmp_path / 'served.db'}"
    args = ["--workers", "2"]
    env: dict[str, str] = {}
    if where == "uri":
        args += ["--backend-store-uri", db_uri]
    elif where == "environment":
        env["MLFLOW_BACKEND_STORE_URI"] = db_uri
    with trackstore_server(args, cwd=tmp_path, env=env) as server:
        _wait_for_workers(server, 2)
        api = Api(server.url)
        status, _, raw = api.request("GET", "/health")
        assert (status, raw) == (200, b"OK")
        experiment_id = api.ok("/experiments/create", {"name": f"via-{where}"})["experiment_id"]
        run_id = api.new_run(experiment_id)
        api.ok("/runs/log-metric", {"run_id": run_id, "key": "m", "value": 2.5,
                                    "timestamp": T0, "step": 3})
        api.conn.close()
    assert server.stderr().count("Application startup complete") == 2, server.describe()

    store: AbstractStore
    if where == "default":
        assert (tmp_path / "mlruns").is_dir()
        assert not (tmp_path / "served.db").exists()
        store = FileStore(str(tmp_path / "mlruns"))
    else:
        assert not (tmp_path / "mlruns").exists()
        store = _sql_store(db_uri, tmp_path)
    try:
        experiment = store.get_experiment_by_name(f"via-{where}")
        assert experiment is not None and experiment.experiment_id == experiment_id
        run = store.get_run(run_id)
        assert run.info.experiment_id == experiment_id
        assert [(m.value, m.timestamp, m.step) for m in store.get_metric_history(run_id, "m")] \
            == [(2.5, T0, 3)]
    finally:
        _close(store)


# -- 2. graceful shutdown ----------------------------------------------------------------------

HISTORY_POINTS = 200_000


@dataclass(frozen=True)
class History:
    uri: str
    run_id: str


@pytest.fixture(scope="module")
def big_history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """A SQLite store with one run holding HISTORY_POINTS points of ``loss`` (written directly)."""
    root = tmp_path_factory.mktemp("history")
    uri = f"sqlite:///{root / 'history.db'}"
    store = _sql_store(uri, root)
    try:
        run_id = store.create_run("0", "tester", T0, [], "big").info.run_id
        for start in range(0, HISTORY_POINTS, 1000):
            store.log_batch(run_id, [Metric("loss", step / 4, T0 + step, step)
                                     for step in range(start, start + 1000)])
    finally:
        _close(store)
    return History(uri, run_id)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_lets_the_request_in_flight_finish(workers: int, big_history: History,
                                                   tmp_path: Path) -> None:
    server = trackstore_server(["--backend-store-uri", big_history.uri,
                                "--workers", str(workers)], cwd=tmp_path)
    with server:
        api = Api(server.url)
        api.conn.request("GET", "/api/2.0/mlflow/metrics/get-history?"
                         f"run_id={big_history.run_id}&metric_key=loss")
        response = api.conn.getresponse()  # the status line is sent, the body is streaming
        assert response.status == 200
        server.terminate()
        # The body (~20 MB) cannot all fit in the socket buffers: until it is read here, the
        # request is still in flight when its worker begins to shut down.
        server.wait_for_log("Shutting down", workers)
        # While it drains, a new connection is refused at once (a load balancer then tries
        # another server), not accepted and left unanswered until the process exits.
        deadline = time.monotonic() + 5
        while not refuses_connections(server.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert refuses_connections(server.port), server.describe()
        raw = response.read()  # must be complete (http.client raises on a cut chunked body)
        assert server.wait_exit(timeout=30) == 0, server.describe()
        api.conn.close()
    metrics = json.loads(raw)["metrics"]
    assert len(metrics) == HISTORY_POINTS
    assert all(m["step"] == i and m["value"] == i / 4 and m["timestamp"] == T0 + i
               for i, m in enumerate(metrics))
    assert "GET /api/2.0/mlflow/metrics/get-history 200" in server.stderr()
    assert refuses_connections(server.port)


# -- 3. refusing to start ----------------------------------------------------------------------

def test_refuses_an_out_of_date_schema_untouched(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    uri = f"sqlite:///{path}"
    engine = create_engine(uri)
    try:
        migrate.upgrade(engine, "0001")
    finally:
        engine.dispose()
    before = hashlib.sha256(path.read_bytes()).hexdigest()

    refusal = run_refused(["--backend-store-uri", uri, "--workers", "2"], cwd=tmp_path)
    assert refusal.returncode != 0, refusal
    assert refusal.seconds < 20, refusal
    assert "Take a backup" in refusal.stderr, refusal
    assert f"trackstore db upgrade {uri}" in refusal.stderr, refusal
    assert "Traceback" not in refusal.stderr, refusal
    assert "Uvicorn running" not in refusal.stderr and "Started server process" \
        not in refusal.stderr, refusal

    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    engine = create_engine(uri)
    try:
        assert migrate.current_revision(engine) == "0001"
    finally:
        engine.dispose()


def test_refuses_an_unreachable_database_without_a_traceback(tmp_path: Path) -> None:
    pytest.importorskip("psycopg2")
    port = free_port()  # closed: nothing listens there
    uri = f"postgresql://trackstore:hunter2@127.0.0.1:{port}/nowhere"
    refusal = run_refused(["--backend-store-uri", uri], cwd=tmp_path)
    assert refusal.returncode != 0, refusal
    assert refusal.seconds < 20, refusal
    assert "Traceback" not in refusal.stderr, refusal
    assert f"postgresql://trackstore:***@127.0.0.1:{port}/nowhere" in refusal.stderr, refusal
    assert "Connection refused" in refusal.stderr, refusal
    assert "hunter2" not in refusal.stderr + refusal.stdout, refusal


# -- 4. request log ----------------------------------------------------------------------------

ACCESS = re.compile(r"trackstore\.server\.access INFO (\S+) ([A-Z]+) (\S+) (\d{3}) (\d+\.\d)ms$")


def _requests(api: Api) -> list[tuple[str, str, int]]:
    """A few requests of every outcome; (method, path, status) of each."""
    api.ok("/experiments/create", {"name": "logged"})
    assert api.get("/experiments/get", {"experiment_id": "424242"})[0] == 404
    assert api.post("/runs/log-metric", {"run_id": "x"})[0] == 400
    assert api.request("GET", "/no/such/path")[0] == 404
    return [("POST", "/api/2.0/mlflow/experiments/create", 200),
            ("GET", "/api/2.0/mlflow/experiments/get", 404),
            ("POST", "/api/2.0/mlflow/runs/log-metric", 400),
            ("GET", "/no/such/path", 404)]


@pytest.mark.slow
def test_each_request_is_logged_unless_no_access_log(tmp_path: Path) -> None:
    # Started together, so that their start-up times overlap.
    logged = trackstore_server(["--backend-store-uri", f"sqlite:///{tmp_path / 'logged.db'}",
                                "--workers", "1"], cwd=tmp_path)
    quiet = trackstore_server(["--backend-store-uri", f"sqlite:///{tmp_path / 'quiet.db'}",
                               "--workers", "1", "--no-access-log"], cwd=tmp_path)
    with logged, quiet:
        for server in (logged, quiet):
            api = Api(server.url)
            sent = _requests(api)
            api.conn.close()
    # Both are stopped: their whole output is written.
    lines = [ACCESS.search(line) for line in logged.stderr().splitlines()
             if "trackstore.server.access" in line]
    assert all(lines), logged.describe()
    seen = [(m[2], m[3], int(m[4])) for m in lines if m]
    for request in sent:
        assert seen.count(request) == 1, (request, logged.describe())
    assert seen.count(("GET", "/health", 200)) >= 1  # the readiness check
    assert all(m[1] == "127.0.0.1" and float(m[5]) >= 0 for m in lines if m)
    assert "access" not in logged.stdout()

    assert "trackstore.server.access" not in quiet.stderr(), quiet.describe()
    assert "/experiments/create" not in quiet.stderr() + quiet.stdout(), quiet.describe()
    assert "trackstore server: SqlStore" in quiet.stderr()  # the rest of the log is still there


# -- 5. authentication -------------------------------------------------------------------------

USER, PASSWORD, TOKEN = "alice", "correct horse battery staple", "tok-3f9c0e51d2"
AUTH_FILE = f"""# who may use this server
[users]
{USER} = {PASSWORD}
bob = another secret
[tokens]
ci-pipeline = {TOKEN}
"""


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _write_auth_file(path: Path, mode: int) -> Path:
    path.write_text(AUTH_FILE)
    path.chmod(mode)
    return path


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server requiring Basic or bearer authentication (one per module: it starts slowly)."""
    root = tmp_path_factory.mktemp("auth")
    auth_file = _write_auth_file(root / "auth.ini", 0o600)
    with trackstore_server(["--backend-store-uri", f"sqlite:///{root / 'auth.db'}",
                            "--workers", "1", "--auth", "basic", "--auth", "token",
                            "--auth-file", str(auth_file)], cwd=root) as server:
        yield server


@pytest.mark.parametrize("headers", [
    {},
    _basic(USER, "wrong"),
    _basic("mallory", PASSWORD),
    _basic(USER, ""),
    {"Authorization": "Basic !!not-base64!!"},
    {"Authorization": "Bearer tok-wrong"},
    {"Authorization": f"Bearer {PASSWORD}"},
    {"Authorization": TOKEN},
], ids=["none", "wrong-password", "unknown-user", "empty-password", "malformed", "wrong-token",
        "password-as-token", "no-scheme"])
def test_auth_refuses_missing_or_wrong_credentials(auth_server: ServerProcess,
                                                   headers: dict[str, str]) -> None:
    api = Api(auth_server.url)
    name = f"refused-{len(headers)}-{next(iter(headers.values()), '')[-6:]}"
    status, body = api.post("/experiments/create", {"name": name}, headers=headers)
    assert status == 401
    assert body["error_code"] == "UNAUTHENTICATED" and body["message"]
    assert api.headers["www-authenticate"] == 'Basic realm="trackstore"'
    assert api.headers["content-type"] == "application/json"
    status, body = api.get("/experiments/search", {"max_results": 5}, headers=headers)
    assert (status, body["error_code"]) == (401, "UNAUTHENTICATED")
    # nothing was created
    status, body = api.get("/experiments/get-by-name", {"experiment_name": name},
                           headers=_basic(USER, PASSWORD))
    assert (status, body["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    api.conn.close()


def test_auth_accepts_basic_and_bearer_credentials(auth_server: ServerProcess) -> None:
    api = Api(auth_server.url)
    status, created = api.post("/experiments/create", {"name": "with-basic"},
                               headers=_basic(USER, PASSWORD))
    assert status == 200, created
    status, found = api.get("/experiments/get", {"experiment_id": created["experiment_id"]},
                            headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and found["experiment"]["name"] == "with-basic"
    status, found = api.get("/experiments/get-by-name", {"experiment_name": "with-basic"},
                            headers=_basic("bob", "another secret"))
    assert status == 200
    api.conn.close()


def test_auth_leaves_health_open(auth_server: ServerProcess) -> None:
    api = Api(auth_server.url)
    status, _, raw = api.request("GET", "/health")
    assert (status, raw) == (200, b"OK")
    assert api.request("GET", "/version")[0] == 401
    api.conn.close()


def test_auth_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    auth_file = _write_auth_file(tmp_path / "auth.ini", 0o644)
    refusal = run_refused(["--backend-store-uri", f"sqlite:///{tmp_path / 'a.db'}",
                           "--auth", "basic", "--auth-file", str(auth_file)], cwd=tmp_path)
    assert refusal.returncode != 0, refusal
    assert f"chmod 600 {auth_file}" in refusal.stderr, refusal
    assert "Traceback" not in refusal.stderr and PASSWORD not in refusal.stderr, refusal
    assert not (tmp_path / "a.db").exists()  # refused before the store was touched


def test_auth_without_auth_file_is_refused(tmp_path: Path) -> None:
    refusal = run_refused(["--backend-store-uri", f"sqlite:///{tmp_path / 'a.db'}",
                           "--auth", "token"], cwd=tmp_path)
    assert refusal.returncode != 0, refusal
    assert "--auth-file" in refusal.stderr, refusal
    assert "Traceback" not in refusal.stderr, refusal


# -- 6. concurrent writers ---------------------------------------------------------------------

THREADS = 8
SINGLE_CALLS = 200
BATCH_CALLS = 20
BATCH_POINTS = 100


def _single(thread: int, i: int) -> tuple[int, int, float]:
    """(step, timestamp, value) of a thread's i-th log-metric call: unique across threads."""
    step = thread * 1_000 + i
    return step, T0 + i, step + 0.25


def _batch(thread: int, j: int) -> list[tuple[int, int, float]]:
    base = thread * 100_000 + j * BATCH_POINTS
    return [(base + k, T0 + j, (base + k) / 2) for k in range(BATCH_POINTS)]


def _target(i: int, shared: str, own: str) -> str:
    """Even calls go to the run every thread writes to, odd ones to the thread's own run."""
    return shared if i % 2 == 0 else own


def _writer(url: str, thread: int, shared: str, own: str, start: threading.Barrier,
            failures: list[str]) -> None:
    api = Api(url)  # its own keep-alive connection
    start.wait()
    try:
        for i in range(SINGLE_CALLS):
            step, timestamp, value = _single(thread, i)
            run_id = _target(i, shared, own)
            status, body = api.post("/runs/log-metric", {
                "run_id": run_id, "key": "single", "value": value, "timestamp": timestamp,
                "step": step})
            if status != 200:
                failures.append(f"thread {thread} log-metric {i}: {status} {body}")
            if i % (SINGLE_CALLS // BATCH_CALLS) == 0:
                j = i // (SINGLE_CALLS // BATCH_CALLS)
                status, body = api.post("/runs/log-batch", {
                    "run_id": _target(j, shared, own),
                    "metrics": [{"key": "batch", "value": v, "timestamp": t, "step": s}
                                for s, t, v in _batch(thread, j)]})
                if status != 200:
                    failures.append(f"thread {thread} log-batch {j}: {status} {body}")
    except Exception as exc:  # a broken connection: report it, do not hang the others
        failures.append(f"thread {thread}: {exc!r}")
    finally:
        api.conn.close()


def _expected(runs: list[str], shared: str) -> dict[tuple[str, str], list[tuple[int, int, float]]]:
    expected: dict[tuple[str, str], list[tuple[int, int, float]]] = {}
    for thread, own in enumerate(runs):
        for i in range(SINGLE_CALLS):
            expected.setdefault((_target(i, shared, own), "single"), []).append(
                _single(thread, i))
        for j in range(BATCH_CALLS):
            expected.setdefault((_target(j, shared, own), "batch"), []).extend(
                _batch(thread, j))
    return {where: sorted(points) for where, points in expected.items()}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_concurrent_writers_through_two_workers(kind: str, tmp_path: Path) -> None:
    with fresh_database(kind, tmp_path) as uri:
        with trackstore_server(["--backend-store-uri", uri, "--workers", "2"],
                               cwd=tmp_path) as server:
            _wait_for_workers(server, 2)
            api = Api(server.url)
            experiment_id = api.ok("/experiments/create", {"name": "busy"})["experiment_id"]
            shared = api.new_run(experiment_id)
            runs = [api.new_run(experiment_id) for _ in range(THREADS)]
            api.conn.close()
            start = threading.Barrier(THREADS)
            failures: list[str] = []
            threads = [threading.Thread(target=_writer,
                                        args=(server.url, t, shared, runs[t], start, failures))
                       for t in range(THREADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            assert not any(thread.is_alive() for thread in threads), "a writer hangs"
            assert failures == [], failures[:10]

        expected = _expected(runs, shared)
        store = _sql_store(uri, tmp_path)
        try:
            for (run_id, key), points in expected.items():
                got = sorted((m.step, m.timestamp, m.value)
                             for m in store.get_metric_history(run_id, key))
                assert got == points, (run_id, key, len(got), len(points))
            for run_id in {run_id for run_id, _ in expected}:
                latest = store.get_run(run_id).data.metrics
                assert latest == {key: max(points)[2]
                                  for (rid, key), points in expected.items() if rid == run_id}
        finally:
            _close(store)


# -- 7. the mlflow client ----------------------------------------------------------------------

MLFLOW_SCRIPT = """
import json, sys
import mlflow
from mlflow import MlflowClient

try:
    mlflow.set_experiment(sys.argv[1])
    with mlflow.start_run() as run:
        mlflow.log_param("lr", "0.1")
        for step in range(3):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    client = MlflowClient()
    got = client.get_run(run.info.run_id)
    out = {"ok": True, "run_id": run.info.run_id, "status": got.info.status,
           "params": got.data.params, "metrics": got.data.metrics,
           "history": [[m.step, m.value] for m in client.get_metric_history(run.info.run_id,
                                                                             "loss")]}
except Exception as exc:
    out = {"ok": False, "type": type(exc).__name__, "message": str(exc),
           "error_code": getattr(exc, "error_code", None)}
print(json.dumps(out))
"""

MLFLOW_CASES = {
    "basic": {"MLFLOW_TRACKING_USERNAME": USER, "MLFLOW_TRACKING_PASSWORD": PASSWORD},
    "token": {"MLFLOW_TRACKING_TOKEN": TOKEN},
    "none": {},
}


def _require_mlflow() -> None:
    if importlib.util.find_spec("mlflow") is not None:
        return
    if os.environ.get("TRACKSTORE_REQUIRE_MLFLOW") == "1":
        pytest.fail("mlflow is not installed, but TRACKSTORE_REQUIRE_MLFLOW=1", pytrace=False)
    pytest.skip("mlflow is not installed")


@pytest.fixture(scope="module")
def mlflow_results(auth_server: ServerProcess,
                   tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """What the mlflow client did against the auth server, per credentials (run at once)."""
    _require_mlflow()
    cwd = tmp_path_factory.mktemp("mlflow-client")
    processes = {}
    for case, credentials in MLFLOW_CASES.items():
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd),
               "MLFLOW_TRACKING_URI": auth_server.url, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
               "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", **credentials}
        processes[case] = subprocess.Popen(
            [sys.executable, "-c", MLFLOW_SCRIPT, f"mlflow-{case}"], cwd=cwd, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = {}
    for case, process in processes.items():
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, f"{case}: {err[-3000:]}"
        results[case] = json.loads(out.strip().splitlines()[-1])
        results[case]["stderr"] = err
    return results


@pytest.mark.mlflow
@pytest.mark.slow
@pytest.mark.parametrize("case", ["basic", "token"])
def test_mlflow_client_with_credentials(case: str, mlflow_results: dict[str, dict[str, Any]],
                                        auth_server: ServerProcess) -> None:
    result = mlflow_results[case]
    assert result["ok"], result
    assert result["status"] == "FINISHED"
    assert result["params"] == {"lr": "0.1"}
    assert result["metrics"] == {"loss": 1 / 3}
    assert result["history"] == [[0, 1.0], [1, 0.5], [2, 1 / 3]]
    api = Api(auth_server.url)  # the server holds what the client logged
    status, found = api.get("/runs/get", {"run_id": result["run_id"]},
                            headers=_basic(USER, PASSWORD))
    assert status == 200 and found["run"]["data"]["params"] == [{"key": "lr", "value": "0.1"}]
    api.conn.close()


@pytest.mark.mlflow
@pytest.mark.slow
def test_mlflow_client_without_credentials_is_refused(
        mlflow_results: dict[str, dict[str, Any]]) -> None:
    result = mlflow_results["none"]
    assert not result["ok"], result
    assert result["type"] in ("MlflowException", "RestException"), result
    assert "401" in result["message"] or "UNAUTHENTICATED" in result["message"], result
