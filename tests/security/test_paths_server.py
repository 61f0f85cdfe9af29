"""Keys, ids and artifact paths never reach outside their directory through a real
``trackstore server`` (file store, artifact proxy): raw requests with every form of escape
(``../``, ``..\\``, absolute, percent-encoded once, twice and thrice, NUL, overlong names, links
planted in the artifact destination and in the store), on the ``/api`` and ``/ajax-api``
routes; and the Python API's artifact calls through the server's proxy.

Each refusal must be a JSON error (400 ``INVALID_PARAMETER_VALUE``, or 404 for what does not
exist), never a stack trace; the secret outside must never come back, and nothing outside the
store and the destination may change.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._figures import record
from tests._server_process import ServerProcess, trackstore_server
from tests.security._helpers import Outside, Raw
from trackstore import TrackingClient
from trackstore.exceptions import TrackstoreError

API = "/api/2.0/mlflow"
AJAX = "/ajax-api/2.0/mlflow"
PROXY = ("/api/2.0/mlflow-artifacts/artifacts", "/ajax-api/2.0/mlflow-artifacts/artifacts")

#: Artifact paths as sent on the wire (the request target's text, percent-encoding as is).
WIRE_PATHS = [
    "../outside/secret.txt", "../../outside/secret.txt", "..%2foutside%2fsecret.txt",
    "%2e%2e/outside/secret.txt", "%2e%2e%2foutside%2fsecret.txt", "%2E%2E%2Foutside",
    "%252e%252e%252foutside%252fsecret.txt", "%25252e%25252e%25252foutside",
    "..%5coutside%5csecret.txt", "..\\outside\\secret.txt", "x/..%2f..%2foutside",
    "/{outside}/secret.txt", "%2f{outside}%2fsecret.txt", "a%00b", "..%00/x", "x" * 300,
    "linked-dir/secret.txt", "linked-dir", "linked.txt", "linked-dir/sub/meta.yaml",
]


@dataclass
class Served:
    server: ServerProcess
    outside: Outside
    destination: Path
    root: Path
    raw: Raw
    experiment: str
    run: str
    run_dir: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("paths-server")
    root, destination = base / "mlruns", base / "mlartifacts"
    destination.mkdir()
    outside = Outside.make(base, root, destination)
    (destination / "real.txt").write_text("mine")
    os.symlink(outside.directory, destination / "linked-dir")
    os.symlink(outside.directory / "secret.txt", destination / "linked.txt")
    with trackstore_server(["--backend-store-uri", root.as_uri(), "--artifacts-destination",
                            str(destination), "--workers", "1"], cwd=base) as server:
        raw = Raw(server.url)
        status, created, _ = raw.post(API + "/experiments/create", {"name": "e"})
        assert status == 200, created
        experiment = created["experiment_id"]
        status, made, _ = raw.post(API + "/runs/create", {"experiment_id": experiment})
        assert status == 200, made
        run = made["run"]["info"]["run_id"]
        run_dir = root / experiment / run
        os.symlink(outside.directory, run_dir / "tags" / "linked")
        os.symlink(outside.directory / "secret.txt", run_dir / "metrics" / "linked")
        os.symlink(outside.directory / "secret.txt", run_dir / "params" / "linked")
        (root / experiment / "tags").mkdir(exist_ok=True)
        os.symlink(outside.directory, root / experiment / "tags" / "linked")
        outside.before = outside.snapshot()
        yield Served(server, outside, destination, root, raw, experiment, run, run_dir)
        raw.close()
    assert "Traceback" not in server.stderr(), server.stderr()


def _refused(status: int, body: object, raw: bytes, outside: Outside, what: str) -> None:
    assert status in (400, 404), (what, status, raw[:300])
    assert isinstance(body, dict) and body.get("error_code") in (
        "INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "ENDPOINT_NOT_FOUND"), (what, raw)
    assert not outside.leaked(raw), what
    assert b"Traceback" not in raw, what


def test_artifact_proxy_paths(served: Served) -> None:
    raw, outside = served.raw, served.outside
    tried = 0
    for template in WIRE_PATHS:
        path = template.format(outside=urllib.parse.quote(str(outside.directory).lstrip("/")))
        for prefix in PROXY:
            target = f"{prefix}/{path}"
            for method, body in (("GET", None), ("HEAD", None), ("DELETE", None),
                                 ("PUT", b"planted " + outside.secret.encode())):
                status, data, answer = raw.request(method, target, body,
                                                   {"Content-Type": "text/plain"})
                tried += 1
                if method == "HEAD":  # (no body: the status says it)
                    assert status in (400, 404), (method, target, status)
                    continue
                _refused(status, data, answer, outside, f"{method} {target}")
            status, data, answer = raw.request(
                "GET", f"{prefix}?path={urllib.parse.quote(path, safe='%')}")
            tried += 1
            _refused(status, data, answer, outside, f"list {path}")
    # The destination itself is served: the planted links are not listed, the file is.
    status, data, _ = raw.request("GET", PROXY[0])
    assert status == 200 and data == {"files": [{"path": "real.txt", "is_dir": False,
                                                 "file_size": 4}]}, data
    status, _, answer = raw.request("GET", PROXY[0] + "/real.txt")
    assert (status, answer) == (200, b"mine")
    outside.assert_untouched("artifact proxy")
    assert sorted(os.listdir(served.destination)) == ["linked-dir", "linked.txt", "real.txt"]
    record("security", "paths-server-proxy", attacks=tried)


def test_get_artifact_endpoints_are_not_served(served: Served) -> None:
    """MLflow's ``get-artifact`` endpoints (a run's or a model version's file by path) do not
    exist on trackstore's server: every form is 404, nothing read."""
    raw, outside = served.raw, served.outside
    for prefix in ("", "/ajax-api/2.0/mlflow", API):
        for endpoint in ("/get-artifact", "/model-versions/get-artifact",
                         "/artifacts/list"):
            status, data, answer = raw.get(prefix + endpoint, {
                "run_id": served.run, "path": "../../../outside/secret.txt",
                "name": "m", "version": "1"})
            assert status == 404 and data["error_code"] == "ENDPOINT_NOT_FOUND", answer
            assert not outside.leaked(answer)


def test_keys_and_ids_through_the_api(served: Served) -> None:
    raw, outside, run = served.raw, served.outside, served.run
    tried = 0
    keys = ["../../../outside/x", "..\\x", "/abs", "a/../../x", "%2e%2e%2fx", "a\x00b",
            "x" * 251, "\u00e9" * 200, "linked", "linked/secret.txt", "linked/new"]
    for key in keys:
        for prefix in (API, AJAX):
            for endpoint, payload in (
                    ("/runs/log-metric", {"run_id": run, "key": key, "value": 1.0,
                                          "timestamp": 1, "step": 0}),
                    ("/runs/log-parameter", {"run_id": run, "key": key, "value": "v"}),
                    ("/runs/set-tag", {"run_id": run, "key": key, "value": "v"}),
                    ("/runs/delete-tag", {"run_id": run, "key": key}),
                    ("/runs/log-batch", {"run_id": run, "tags": [{"key": key, "value": "v"}]}),
                    ("/experiments/set-experiment-tag", {"experiment_id": served.experiment,
                                                         "key": key, "value": "v"})):
                status, data, answer = raw.post(prefix + endpoint, payload)
                tried += 1
                assert status in (400, 404, 500), (endpoint, key, answer)
                assert data["error_code"] in ("INVALID_PARAMETER_VALUE", "INVALID_STATE",
                                              "RESOURCE_DOES_NOT_EXIST"), (endpoint, key, data)
                assert not outside.leaked(answer) and b"Traceback" not in answer
            status, data, answer = raw.get(prefix + "/metrics/get-history",
                                           {"run_id": run, "metric_key": key})
            tried += 1
            assert not outside.leaked(answer), key
            assert status in (200, 400, 500), answer
            assert status != 200 or not data.get("metrics"), (key, answer)
    ids = ["../outside/sub", str(outside.directory / "sub"), "..", "a\x00b", "%2e%2e%2f",
           f"{served.experiment}/../../outside/sub", "x" * 300]
    for bad in ids:
        for prefix in (API, AJAX):
            for method, endpoint, payload in (
                    ("GET", "/experiments/get", {"experiment_id": bad}),
                    ("GET", "/runs/get", {"run_id": bad}),
                    ("POST", "/runs/create", {"experiment_id": bad}),
                    ("POST", "/runs/log-metric", {"run_id": bad, "key": "m", "value": 1,
                                                  "timestamp": 1}),
                    ("POST", "/experiments/delete", {"experiment_id": bad}),
                    ("POST", "/runs/delete", {"run_id": bad})):
                status, data, answer = (raw.get(prefix + endpoint, payload) if method == "GET"
                                        else raw.post(prefix + endpoint, payload))
                tried += 1
                _refused(status, data, answer, outside, f"{endpoint} {bad!r}")
    status, data, answer = raw.get(API + "/runs/get", {"run_id": run})
    assert status == 200 and not outside.leaked(answer)
    assert data["run"]["data"].get("tags", []) == [] or all(
        not t["key"].startswith("linked") for t in data["run"]["data"]["tags"])
    assert "metrics" not in data["run"]["data"] or all(
        m["key"] != "linked" for m in data["run"]["data"]["metrics"])
    outside.assert_untouched("keys and ids")
    record("security", "paths-server-api", attacks=tried)


def test_python_api_artifacts_through_the_server(served: Served, tmp_path: Path) -> None:
    """trackstore's client on the server: its artifact calls go to the proxy, and a path that
    would escape is refused (by the client before sending, or by the server)."""
    client = TrackingClient(served.server.url)
    source = tmp_path / "f.txt"
    source.write_text("payload")
    downloads = tmp_path / "dl"
    downloads.mkdir()
    served.outside.before = served.outside.snapshot()
    run = client.create_run(served.experiment).info.run_id
    client.log_artifact(run, str(source), "ok")
    for path in ("../x", "../../../../outside", "%2e%2e%2fx", "%252e%252e%252fx", "..\\x",
                 "a\x00b", "/abs"):
        for attack in (lambda p=path: client.log_artifact(run, str(source), p),
                       lambda p=path: client.list_artifacts(run, p),
                       lambda p=path: client.download_artifacts(run, p, str(downloads))):
            with pytest.raises(TrackstoreError) as caught:
                attack()
            assert caught.value.error_code == "INVALID_PARAMETER_VALUE", (path, caught.value)
    assert [f.path for f in client.list_artifacts(run)] == ["ok"]
    assert os.listdir(downloads) == []
    served.outside.assert_untouched("client through the server")
