"""The artifact proxy (``mlflow-artifacts`` endpoints) of ``trackstore server``, on a live
server through trackstore's HTTP protocol and through the ASGI interface.

Files go up and come back byte for byte, streamed (a body far above ``--max-request-bytes``
round-trips), listings and errors are MLflow's, no path leaves the destination, an upload cut
short leaves nothing, and the proxy answers only behind the configured prefix and
credentials. MLflow's own client against a ``trackstore server`` process is in
``tests/compat/test_mlflow_artifact_proxy.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests._live_server import serve_in_thread
from tests.server.conftest import Api
from tests.server.test_auth import AUTH, _auth_file, basic
from tests.store.conftest import make_store
from trackstore.artifacts import LocalArtifactRepository
from trackstore.server.app import ServerConfig
from trackstore.server.artifacts import HIGH_WATER, Upload

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
LIMIT = 64 << 10  # --max-request-bytes of these servers: far below the uploads


class Proxy(Api):
    """A client of the proxy (and of the rest of the API) on one keep-alive connection."""

    def __init__(self, url: str, destination: Path) -> None:
        super().__init__(url)
        self.destination = destination

    def put(self, path: str, body: Any, headers: dict[str, str] | None = None,
            prefix: str = ARTIFACTS) -> tuple[int, Any]:
        status, data, _ = self.request("PUT", f"{prefix}/{path}", body, {
            "Content-Type": "application/octet-stream", **(headers or {})})
        return status, data

    def fetch(self, path: str, method: str = "GET") -> tuple[int, Any, bytes]:
        return self.request(method, f"{ARTIFACTS}/{path}")

    def listing(self, path: str | None = None) -> tuple[int, Any]:
        return self.get("", {"path": path} if path is not None else None, prefix=ARTIFACTS)

    def delete(self, path: str) -> tuple[int, Any]:
        status, data, _ = self.request("DELETE", f"{ARTIFACTS}/{path}")
        return status, data


@pytest.fixture(params=["trackstore", "asgi"])
def proxy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Proxy]:
    destination = tmp_path / "destination"
    with make_store("sqlite", tmp_path) as store, serve_in_thread(
            store, request.param, artifacts_destination=str(destination),
            max_request_bytes=LIMIT) as url:
        client = Proxy(url, destination)
        yield client
        client.conn.close()


def _tree(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
            for p in root.rglob("*")}


def test_upload_download_list_delete(proxy: Proxy) -> None:
    assert proxy.put("0/run/artifacts/notes/readme.md", b"# hello \xce\xbb") == (200, {})
    assert proxy.put("0/run/artifacts/model.bin", bytes(range(256)) * 40) == (200, {})
    assert proxy.put("0/run/artifacts/empty", b"") == (200, {})
    assert proxy.put("0/run/artifacts/model.bin", b"v2") == (200, {})  # replaced whole
    root = proxy.destination / "0" / "run" / "artifacts"
    assert _tree(root) == {"notes": None, "notes/readme.md": b"# hello \xce\xbb",
                           "model.bin": b"v2", "empty": b""}

    status, _, body = proxy.fetch("0/run/artifacts/notes/readme.md")
    assert (status, body) == (200, b"# hello \xce\xbb")
    assert proxy.headers["content-type"] == "text/plain"  # MLflow's type for text files
    assert proxy.headers["content-length"] == "10"
    assert proxy.headers["content-disposition"] == 'attachment; filename="readme.md"'
    assert proxy.headers["x-content-type-options"] == "nosniff"
    status, _, body = proxy.fetch("0/run/artifacts/model.bin", "HEAD")
    assert (status, body, proxy.headers["content-length"]) == (200, b"", "2")
    assert proxy.headers["content-type"] == "application/octet-stream"
    assert proxy.fetch("0/run/artifacts/empty")[::2] == (200, b"")

    # Names in the listed directory; no size for a directory or an empty file (as MLflow).
    assert proxy.listing("0/run/artifacts") == (200, {"files": [
        {"path": "empty", "is_dir": False},
        {"path": "model.bin", "is_dir": False, "file_size": 2},
        {"path": "notes", "is_dir": True}]})
    assert proxy.listing("0/run/artifacts/notes") == (200, {"files": [
        {"path": "readme.md", "is_dir": False, "file_size": 10}]})
    assert proxy.listing() == (200, {"files": [{"path": "0", "is_dir": True}]})
    for nothing in ("0/run/missing", "0/run/artifacts/model.bin"):
        assert proxy.listing(nothing) == (200, {})

    status, error, _ = proxy.fetch("0/run/artifacts/absent.txt")
    assert status == 404 and error == {"error_code": "RESOURCE_DOES_NOT_EXIST",
                                       "message": "No such artifact: '0/run/artifacts/absent.txt'"}
    status, error, _ = proxy.fetch("0/run/artifacts/notes")
    assert status == 400 and error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "refers to a directory" in error["message"]

    assert proxy.delete("0/run/artifacts/notes") == (200, {})
    assert proxy.delete("0/run/artifacts/model.bin") == (200, {})
    assert proxy.delete("0/run/artifacts/never-there") == (200, {})
    assert _tree(root) == {"empty": b""}
    status, error = proxy.delete("")
    assert status == 400 and "whole artifact destination" in error["message"]
    assert proxy.destination.is_dir()
    # The connection served every answer in turn: the rest of the API goes on on it.
    assert proxy.get("/experiments/get", {"experiment_id": "0"})[0] == 200


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_large_upload_streams_past_the_json_limit(proxy: Proxy) -> None:
    data = os.urandom(50 << 20)

    def pieces(size: int = 1 << 20, total: int = len(data)) -> Iterator[bytes]:
        for start in range(0, total, size):
            yield data[start:min(start + size, total)]

    # Declared length, then chunked transfer encoding (no length known in advance).
    assert proxy.put("big/weights.bin", pieces(), {"Content-Length": str(len(data))}) \
        == (200, {})
    assert proxy.put("big/chunked.bin", pieces(1 << 20, 9 << 20)) == (200, {})
    for name, size in (("weights.bin", len(data)), ("chunked.bin", 9 << 20)):
        status, _, body = proxy.fetch(f"big/{name}")
        assert status == 200 and _sha256(body) == _sha256(data[:size])
        assert proxy.headers["content-length"] == str(size)
    assert sorted(os.listdir(proxy.destination / "big")) == ["chunked.bin", "weights.bin"]
    # The JSON endpoints keep their limit, and keep-alive still holds after the transfers.
    status, error = proxy.post("/experiments/create", {"name": "x" * LIMIT})
    assert status == 413 and error["error_code"] == "REQUEST_LIMIT_EXCEEDED"


ESCAPES = [
    "../outside.txt",
    "a/../../outside.txt",
    "%2e%2e/outside.txt",
    "a/%2E%2E/%2e%2e/outside.txt",
    "%252e%252e/outside.txt",  # what a second decoding would make of it
    "/tmp/outside.txt",  # absolute (artifacts//tmp/...)
    "a%5coutside.txt",  # backslash
    "a%00outside.txt",  # NUL
    "link/outside.txt",  # a link inside the destination to a directory outside it
]


def test_no_path_leaves_the_destination(proxy: Proxy, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "outside.txt").write_bytes(b"keep")
    proxy.destination.mkdir()
    (proxy.destination / "link").symlink_to(outside)
    before = _tree(tmp_path)
    for bad in ESCAPES:
        refusals = [proxy.put(bad, b"overwritten"), proxy.fetch(bad)[:2], proxy.delete(bad),
                    proxy.listing(urllib.parse.unquote(bad))]
        for status, error in refusals:
            assert status == 400, (bad, refusals)
            assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert _tree(tmp_path) == before
    assert proxy.get("/experiments/get", {"experiment_id": "0"})[0] == 200


def test_refused_uploads_write_nothing(proxy: Proxy) -> None:
    assert proxy.put("dir/file.txt", b"x") == (200, {})
    for path, message in [("dir", "it is a directory"),
                          ("dir/file.txt/below", "a parent of it is a file"),
                          ("dir/.artifact.uploading.x", "are reserved"), ("", "needs a file")]:
        status, error = proxy.put(path, b"y" * 1000)
        assert status == 400 and message in error["message"], (path, error)
    assert _tree(proxy.destination) == {"dir": None, "dir/file.txt": b"x"}


def test_multipart_and_presigned_are_refused_as_mlflow_refuses_them(proxy: Proxy) -> None:
    for stage in ("create", "complete", "abort"):
        status, error = proxy.post(f"/mpu/{stage}/0/run/artifacts/model.bin",
                                   {"path": "model.bin", "num_parts": 2},
                                   prefix="/api/2.0/mlflow-artifacts")
        assert (status, error) == (501, {"error_code": "NOT_IMPLEMENTED", "message": (
            "Multipart upload is not supported for the current artifact repository")})
    status, error = proxy.get("/presigned/0/run/artifacts/model.bin",
                              prefix="/api/2.0/mlflow-artifacts")
    assert status == 501 and error["message"].startswith("Multipart download is not supported")
    status, info = proxy.get("/server-info", prefix="/api/3.0/mlflow")
    assert info["artifact_serving_enabled"] is True
    assert info["multipart_uploads_enabled"] is info["multipart_downloads_enabled"] is False
    status, error = proxy.post("/artifacts/x", {}, prefix="/api/2.0/mlflow-artifacts")
    assert status == 405 and proxy.headers["allow"] == "DELETE, GET, HEAD, PUT"
    assert proxy.get("/elsewhere/x", prefix="/api/2.0/mlflow-artifacts")[0] == 404
    # The UI's prefix serves the same endpoints.
    assert proxy.put("ui.txt", b"ui", prefix="/ajax-api/2.0/mlflow-artifacts/artifacts") \
        == (200, {})
    assert (proxy.destination / "ui.txt").read_bytes() == b"ui"


def test_not_served_with_no_serve_artifacts(tmp_path: Path) -> None:
    with make_store("sqlite", tmp_path) as store, serve_in_thread(store) as url:
        api = Api(url)
        status, error, _ = api.request("PUT", f"{ARTIFACTS}/x.txt", b"x")
        assert status == 404 and error["error_code"] == "ENDPOINT_NOT_FOUND"
        assert "--no-serve-artifacts" in error["message"]
        assert api.get("", {"path": ""}, prefix=ARTIFACTS)[0] == 404
        assert api.get("/server-info", prefix="/api/3.0/mlflow")[1][
            "artifact_serving_enabled"] is False


def test_prefix_and_credentials_guard_the_proxy(tmp_path: Path) -> None:
    destination = tmp_path / "destination"
    with make_store("sqlite", tmp_path) as store, serve_in_thread(
            store, static_prefix="/mlflow", auth=("basic",),
            auth_file=_auth_file(tmp_path, AUTH), artifacts_destination=str(destination),
            max_request_bytes=LIMIT) as url:
        proxy = Proxy(url, destination)
        alice = basic("alice", "s3cret: with colon")
        assert proxy.put("a.txt", b"x", alice, prefix="/mlflow" + ARTIFACTS) == (200, {})
        assert proxy.put("b.txt", b"x", alice)[0] == 404  # not without the prefix
        status, error = proxy.put("b.txt", b"x", prefix="/mlflow" + ARTIFACTS)
        assert status == 401 and error["error_code"] == "UNAUTHENTICATED"
        status, _, _ = proxy.request("GET", f"/mlflow{ARTIFACTS}/a.txt")
        assert status == 401
        status, _, body = proxy.request("GET", f"/mlflow{ARTIFACTS}/a.txt", headers=alice)
        assert (status, body) == (200, b"x")
        # A refused upload above the JSON limit is answered before its body, never stored.
        raw = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=20)
        raw.sendall(f"PUT /mlflow{ARTIFACTS}/c.txt HTTP/1.1\r\nHost: x\r\nContent-Length: "
                    f"{10 * LIMIT}\r\nExpect: 100-continue\r\n\r\n".encode())
        assert raw.recv(65536).startswith(b"HTTP/1.1 401 ")
        raw.close()
    assert _tree(destination) == {"a.txt": b"x"}


def _no_staging_left(destination: Path, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(p.is_file() for p in destination.rglob("*")):
            return True
        time.sleep(0.02)
    return False


def test_an_aborted_upload_leaves_no_file(proxy: Proxy) -> None:
    parsed = urllib.parse.urlsplit(proxy.url)
    sock = socket.create_connection((parsed.hostname, parsed.port), timeout=20)
    sock.sendall(f"PUT {ARTIFACTS}/cut/short.bin HTTP/1.1\r\nHost: x\r\n"
                 f"Content-Length: {20 << 20}\r\n\r\n".encode())
    sock.sendall(os.urandom(3 << 20))
    deadline = time.monotonic() + 10
    while not list((proxy.destination / "cut").glob(".artifact.uploading.*")):
        assert time.monotonic() < deadline, "the upload never reached the disk"
        time.sleep(0.01)
    assert proxy.listing("cut") == (200, {})  # a staging file is never listed
    sock.close()  # the client goes away 3 MiB into 20
    assert _no_staging_left(proxy.destination)
    assert proxy.fetch("cut/short.bin")[0] == 404


def test_a_download_follows_a_slow_reader(proxy: Proxy) -> None:
    data = os.urandom(24 << 20)
    assert proxy.put("slow.bin", data) == (200, {})
    parsed = urllib.parse.urlsplit(proxy.url)
    conn = http.client.HTTPConnection(parsed.hostname or "", parsed.port, timeout=20)
    conn.request("GET", f"{ARTIFACTS}/slow.bin")
    response = conn.getresponse()
    received = response.read(1 << 20)
    time.sleep(0.3)  # the server stops at its flow control, and goes on when read again
    received += response.read()
    assert _sha256(received) == _sha256(data)
    conn.request("GET", f"{ARTIFACTS}/slow.bin", headers={"Connection": "close"})
    response = conn.getresponse()
    response.read(4 << 20)
    conn.close()  # gone mid-body: the server stops sending, and serves the next client
    assert proxy.listing() == (200, {"files": [
        {"path": "slow.bin", "is_dir": False, "file_size": len(data)}]})
    assert proxy.request("GET", "/health")[::2] == (200, b"OK")


def test_an_upload_stops_reading_while_the_disk_lags(tmp_path: Path) -> None:
    piece = os.urandom(1 << 20)

    async def scenario() -> list[bool]:
        gate = threading.Event()
        with ThreadPoolExecutor(1) as pool:
            pool.submit(gate.wait)  # the disk lags: its only thread is busy
            backlog: list[bool] = []
            upload = Upload(LocalArtifactRepository(str(tmp_path)), "w/x.bin",
                            asyncio.get_running_loop(), pool, backlog.append)
            for _ in range(HIGH_WATER // len(piece) + 4):
                upload.feed(piece)
            assert backlog == [True]  # the connection would stop reading here...
            gate.set()
            await upload.finish()
        return backlog  # ... and read again once the disk had caught up

    assert asyncio.run(scenario()) == [True, False]
    assert (tmp_path / "w" / "x.bin").read_bytes() == piece * (HIGH_WATER // len(piece) + 4)
    assert os.listdir(tmp_path / "w") == ["x.bin"]


def test_the_command_line_configures_the_proxy_as_mlflow(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from trackstore.cli import main
    from trackstore.server import run

    configs: list[ServerConfig] = []
    monkeypatch.setattr(run, "serve", lambda config, *args: configs.append(config))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_ARTIFACTS_DESTINATION", raising=False)
    monkeypatch.delenv("MLFLOW_SERVE_ARTIFACTS", raising=False)
    store = ["server", "--backend-store-uri", f"sqlite:///{tmp_path / 'db.sqlite'}"]
    runner = CliRunner()
    for extra in ([], ["--no-serve-artifacts"], ["--artifacts-destination", "/srv/mlartifacts"],
                  ["--default-artifact-root", "/srv/a", "--artifacts-destination", "kept"]):
        result = runner.invoke(main, [*store, *extra])
        assert result.exit_code == 0, result.output
    result = runner.invoke(main, store, env={"MLFLOW_ARTIFACTS_DESTINATION": "file:///srv/p"})
    assert result.exit_code == 0, result.output
    assert [(c.default_artifact_root, c.artifacts_destination) for c in configs] == [
        ("mlflow-artifacts:/", str(tmp_path / "mlartifacts")),  # MLflow's defaults
        (None, None),  # not served: new experiments' artifacts go next to the store
        ("mlflow-artifacts:/", "/srv/mlartifacts"),  # (the command in docs/server.md)
        ("/srv/a", str(tmp_path / "kept")),
        ("mlflow-artifacts:/", "/srv/p")]
    (tmp_path / "a-file").write_text("")
    for destination, message in (("s3://bucket/x", "local directory"),
                                 (str(tmp_path / "a-file"), "is not a directory")):
        result = runner.invoke(main, [*store, "--artifacts-destination", destination])
        assert result.exit_code == 2 and message in result.output, result.output
