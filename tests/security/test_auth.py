"""Authentication is enforced on every endpoint of a real ``trackstore server --auth basic
--auth token`` (and of one with ``--static-prefix``).

The endpoints are the server's own: every path of its route table
(:func:`trackstore.server.handlers.routes`, ``/api`` and ``/ajax-api`` variants, the registry,
the imports) with each of its methods, ``/version``, and the artifact proxy's routes under
each of :data:`trackstore.server.artifacts.PREFIXES` (routed by prefix: ``artifacts``,
``artifacts/<path>``, ``mpu/{create,complete,abort}/<path>``, ``presigned/<path>``) with their
methods; plus an unknown path and a method a route does not allow. Each must answer 401 with
``WWW-Authenticate`` and a JSON ``UNAUTHENTICATED`` error without credentials and with each
kind of wrong or malformed credentials, and anything but 401 with the right Basic
credentials and the right bearer token.

Exempt from authentication is exactly ``/health`` (``<prefix>/health`` behind a static
prefix): load balancers probe it without credentials, as MLflow's basic-auth app exempts it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._figures import record
from tests._server_process import ServerProcess, trackstore_server
from tests.security._helpers import Credentials, Raw, basic, bearer
from trackstore.server.artifacts import PREFIXES
from trackstore.server.handlers import routes

#: The artifact proxy's sub-paths (under each prefix) and the methods each answers.
PROXY_ROUTES = {"artifacts": ("GET",), "artifacts/dir/file.txt": ("GET", "HEAD", "PUT", "DELETE"),
                "mpu/create/file.bin": ("POST",), "mpu/complete/file.bin": ("POST",),
                "mpu/abort/file.bin": ("POST",), "presigned/file.bin": ("GET",)}
EXEMPT = {"/health"}


def endpoints(prefix: str = "") -> list[tuple[str, str]]:
    """(method, path) of everything the server serves, from its own tables."""
    found = [(method, prefix + path) for path, methods in routes(artifact_serving=True).items()
             for method in methods]
    found += [(method, f"{prefix}{proxy}{sub}") for proxy in PREFIXES
              for sub, methods in PROXY_ROUTES.items() for method in methods]
    found += [("GET", prefix + "/version"), ("GET", prefix + "/health"),
              ("GET", prefix + "/no/such/endpoint"),  # unknown: 401, not 404, without creds
              ("DELETE", prefix + "/api/2.0/mlflow/runs/get")]  # a method not allowed
    return found


def wrong_credentials(creds: Credentials) -> dict[str, dict[str, str]]:
    def header(value: str) -> dict[str, str]:
        return {"Authorization": value}

    return {
        "wrong password": basic(creds.user, creds.password + "x"),
        "unknown user": basic("mallory", creds.password),
        "other user's password": basic(creds.user, creds.other_password),
        "empty password": basic(creds.user, ""),
        "no colon": header("Basic " + base64.b64encode(creds.user.encode()).decode()),
        "not base64": header("Basic !!!" + creds.password),
        "not utf-8": header("Basic " + base64.b64encode(b"alice:\xff\xfe").decode()),
        "basic without credentials": header("Basic"),
        "basic, empty": header("Basic "),
        "wrong token": bearer(creds.token + "x"),
        "token prefix": bearer(creds.token[:-1]),
        "password as token": bearer(creds.password),
        "empty bearer": header("Bearer "),
        "token as basic": header("Basic " + creds.token),
        "unknown scheme": header("Digest username=alice"),
        "token without scheme": header(creds.token),
    }


@pytest.fixture(scope="module")
def creds(tmp_path_factory: pytest.TempPathFactory) -> Credentials:
    return Credentials.write(tmp_path_factory.mktemp("auth"))


def _server(base: Path, creds: Credentials, *extra: str) -> ServerProcess:
    return trackstore_server(["--backend-store-uri", f"sqlite:///{base}/store.db",
                              "--artifacts-destination", str(base / "mlartifacts"),
                              "--auth", "basic", "--auth", "token", "--auth-file",
                              str(creds.path), "--workers", "1", *extra], cwd=base)


@pytest.fixture(scope="module", params=["", "/mlflow"], ids=["root", "static-prefix"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           creds: Credentials) -> Iterator[tuple[ServerProcess, str]]:
    prefix: str = request.param
    base = tmp_path_factory.mktemp("auth-server")
    extra = ("--static-prefix", prefix) if prefix else ()
    process = _server(base, creds, *extra)
    if prefix:  # (the process's readiness probe asks /health, which is 404 here)
        process.start_timeout = 120
        _wait_prefixed(process, prefix)
        try:
            yield process, prefix
        finally:
            process.stop()
        return
    with process:
        yield process, prefix


def _wait_prefixed(process: ServerProcess, prefix: str) -> None:
    import time

    deadline = time.monotonic() + process.start_timeout
    while time.monotonic() < deadline:
        try:
            raw = Raw(process.url)
            status, _, _ = raw.request("GET", prefix + "/health")
            raw.close()
            if status == 200:
                return
        except OSError:
            pass
        if process.process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"the prefixed server did not start: {process.describe()}")


def _body(method: str) -> tuple[bytes | None, dict[str, str]]:
    if method in ("POST", "PUT", "PATCH"):
        return b"{}", {"Content-Type": "application/json"}
    return None, {}


def test_every_endpoint_needs_credentials(server: tuple[ServerProcess, str],
                                          creds: Credentials) -> None:
    process, prefix = server
    raw = Raw(process.url)
    wrong = wrong_credentials(creds)
    exempt_seen: set[str] = set()
    checked = 0
    for method, path in endpoints(prefix):
        body, headers = _body(method)
        status, data, answer = raw.request(method, path, body, headers)
        if status != 401:
            exempt_seen.add(path[len(prefix):])
            assert (status, answer) == (200, b"OK"), (method, path, status, answer)
            continue
        assert raw.headers.get("www-authenticate") == 'Basic realm="trackstore"', path
        if method != "HEAD":
            assert data["error_code"] == "UNAUTHENTICATED", (method, path, answer)
        for name, bad in wrong.items():
            status, data, answer = raw.request(method, path, body, {**headers, **bad})
            checked += 1
            assert status == 401, (method, path, name, status, answer)
            assert raw.headers.get("www-authenticate"), (method, path, name)
        for name, good in (("basic", basic(creds.user, creds.password)),
                           ("other user", basic(creds.other_user, creds.other_password)),
                           ("bearer", bearer(creds.token)),
                           ("lower-case scheme", {"Authorization": "bearer " + creds.token})):
            status, data, answer = raw.request(method, path, body, {**headers, **good})
            checked += 1
            assert status != 401, (method, path, name, answer)
            assert status < 500 or path.endswith(("mpu/create/file.bin", "complete/file.bin",
                                                  "abort/file.bin", "presigned/file.bin")), (
                method, path, name, status, answer)  # (501: multipart needs a cloud store)
    assert exempt_seen == EXEMPT, exempt_seen
    if prefix:  # nothing is served outside the prefix, not even the exempt /health
        for path in ("/health", "/version", "/api/2.0/mlflow/experiments/search"):
            status, data, _ = raw.request("GET", path)
            assert status == 404 and data["error_code"] == "ENDPOINT_NOT_FOUND", path
    raw.close()
    assert "Traceback" not in process.stderr()
    record("security", f"auth-endpoints{prefix.replace('/', '-')}",
           endpoints=len(endpoints(prefix)), requests=checked)


def test_refused_requests_change_nothing(server: tuple[ServerProcess, str],
                                         creds: Credentials) -> None:
    process, prefix = server
    raw = Raw(process.url)
    api = prefix + "/api/2.0/mlflow"
    good = basic(creds.user, creds.password)
    status, created, _ = raw.post(api + "/experiments/create", {"name": "kept"}, good)
    assert status == 200, created
    for bad in wrong_credentials(creds).values():
        assert raw.post(api + "/experiments/create", {"name": "intruder"}, bad)[0] == 401
        assert raw.post(api + "/experiments/delete",
                        {"experiment_id": created["experiment_id"]}, bad)[0] == 401
        status, _, _ = raw.request("PUT", prefix + PREFIXES[0] + "artifacts/intruder.txt",
                                   b"x", bad)
        assert status == 401
    status, found, _ = raw.get(api + "/experiments/search", {"max_results": 100}, good)
    names = {e["name"] for e in found["experiments"]}
    assert "kept" in names and "intruder" not in names
    status, listing, _ = raw.get(prefix + PREFIXES[0] + "artifacts", None, good)
    assert status == 200 and "intruder.txt" not in repr(listing)
    raw.close()
