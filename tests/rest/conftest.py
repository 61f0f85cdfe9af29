"""Real HTTP(S) servers on 127.0.0.1, scripted per test, for testing RestStore's transport.

A :class:`ScriptedServer` runs ``http.server`` (HTTP/1.1, keep-alive) in a thread, records
every request it reads (:class:`Seen`, with the connection it came on) and answers with what the
test's *responder* returns (:class:`Reply`): any status, body and headers, a delay, or a dropped
connection. No mocks: the client under test talks TCP (and TLS) to it.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Seen:
    """One request as the server read it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    connection: int  # which TCP connection (numbered in accept order)
    nth: int  # index of this request on its connection (0 = first)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=dict)  # dict/list → JSON; str → text/html; bytes → raw
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    drop: bool = False  # close the connection instead of answering
    #: answer, then close the connection's sending side without saying so (as a server's idle
    #: timeout does) and ignore whatever else arrives on it
    close_after: bool = False


Responder = Callable[[Seen], Reply]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no ACK stall
    server: _Server

    def setup(self) -> None:
        super().setup()
        self._nth = 0
        with self.server.lock:
            self.server.connections += 1
            self._connection = self.server.connections

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test asserts on what was seen."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urllib.parse.urlsplit(self.path)
        seen = Seen(self.command, parts.path if not self.path.startswith("http") else self.path,
                    urllib.parse.parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()}, body, self._connection,
                    self._nth)
        self._nth += 1
        with self.server.lock:
            self.server.seen.append(seen)
        reply = self.server.responder(seen)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.drop:
            self.close_connection = True
            return
        if isinstance(reply.body, (dict, list)):
            data, kind = json.dumps(reply.body).encode(), "application/json"
        elif isinstance(reply.body, str):
            data, kind = reply.body.encode(), "text/html; charset=utf-8"
        else:
            data, kind = reply.body, "application/octet-stream"
        self.send_response(reply.status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        if reply.close_after:
            self.connection.shutdown(socket.SHUT_WR)
            while self.rfile.read1(65536):
                pass
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, responder: Responder, tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.responder = responder
        self.seen: list[Seen] = []
        self.connections = 0
        self.lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client giving up on a slow answer (a timeout test) is expected."""


class ScriptedServer:
    """A server answering with *responder*; ``url`` is its base URL."""

    def __init__(self, responder: Responder, tls: ssl.SSLContext | None = None,
                 host: str = "127.0.0.1") -> None:
        self._server = _Server(responder, tls)
        self.port = self._server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True)
        self._thread.start()

    @property
    def seen(self) -> list[Seen]:
        with self._server.lock:
            return list(self._server.seen)

    @property
    def connections(self) -> int:
        return self._server.connections

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[..., ScriptedServer]]:
    """Start scripted servers; all are stopped when the test ends."""
    servers: list[ScriptedServer] = []

    def start(responder: Responder, tls: ssl.SSLContext | None = None,
              host: str = "127.0.0.1") -> ScriptedServer:
        server = ScriptedServer(responder, tls, host)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials, proxies, CA bundles or HTTP settings from the machine running the tests;
    ``HOME`` is empty (no ``~/.mlflow/credentials``, no ``~/.databrickscfg``); no jitter, so
    backoff delays are exact."""
    for name in list(os.environ):
        if (name.startswith(("MLFLOW_", "DATABRICKS_"))
                or name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
                or name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0")


@dataclass(frozen=True)
class Certificates:
    """A self-signed server certificate for localhost/127.0.0.1, and a client certificate."""

    server_cert: Path
    server_key: Path
    client_pem: Path  # client certificate and key in one file

    def server_context(self, require_client_cert: bool = False) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server_cert, self.server_key)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.client_pem)
        return context


def _self_signed(directory: Path, name: str, subject_alt_names: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
         "-addext", f"subjectAltName={subject_alt_names}"],
        check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make test certificates")
    directory = tmp_path_factory.mktemp("tls")
    server_cert, server_key = _self_signed(directory, "localhost",
                                           "DNS:localhost,IP:127.0.0.1")
    client_cert, client_key = _self_signed(directory, "client", "DNS:client")
    client_pem = directory / "client.pem"
    client_pem.write_bytes(client_cert.read_bytes() + client_key.read_bytes())
    return Certificates(server_cert, server_key, client_pem)


def experiment_json(experiment_id: str = "1", name: str = "exp") -> dict[str, Any]:
    return {"experiment_id": experiment_id, "name": name, "artifact_location": "/a",
            "lifecycle_stage": "active", "creation_time": 1700000000000,
            "last_update_time": 1700000000000}


def run_json(run_id: str = "a" * 32, experiment_id: str = "1") -> dict[str, Any]:
    return {"info": {"run_uuid": run_id, "run_id": run_id, "experiment_id": experiment_id,
                     "user_id": "u", "status": "RUNNING", "start_time": 1700000000000,
                     "lifecycle_stage": "active", "artifact_uri": "/a", "run_name": "r"},
            "data": {}, "inputs": {}, "outputs": {}}
