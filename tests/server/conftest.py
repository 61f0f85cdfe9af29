"""Fixtures of the server tests: a live server on a fresh store, and a raw HTTP client."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._live_server import serve_in_thread
from tests.store.conftest import make_store


class Api:
    """A minimal keep-alive HTTP client: status, headers and decoded body of each call."""

    def __init__(self, url: str) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.url = url
        self.conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port,
                                               timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
        self.conn.request(method, path, body, headers or {})
        response = self.conn.getresponse()
        raw = response.read()
        self.headers = dict(response.getheaders())
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        return response.status, data, raw

    def post(self, endpoint: str, body: dict[str, Any] | None = None, *,
             prefix: str = "/api/2.0/mlflow", method: str = "POST",
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        status, data, _ = self.request(
            method, prefix + endpoint, json.dumps(body or {}).encode(),
            {"Content-Type": "application/json", **(headers or {})})
        return status, data

    def get(self, endpoint: str, params: Any = None, *, prefix: str = "/api/2.0/mlflow",
            headers: dict[str, str] | None = None) -> tuple[int, Any]:
        query = "?" + urllib.parse.urlencode(params, doseq=True) if params else ""
        status, data, _ = self.request("GET", prefix + endpoint + query, None, headers)
        return status, data

    def ok(self, endpoint: str, body: dict[str, Any] | None = None) -> Any:
        status, data = self.post(endpoint, body)
        assert status == 200, (endpoint, status, data)
        return data

    def new_run(self, experiment_id: str = "0", **fields: Any) -> str:
        run = self.ok("/runs/create", {"experiment_id": experiment_id, "start_time": 1, **fields})
        return str(run["run"]["info"]["run_id"])


@pytest.fixture(params=[("sqlite", "trackstore"), ("file", "trackstore"), ("sqlite", "asgi")],
                ids=["sqlite", "file", "sqlite-asgi"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """A live server (in this process) on a fresh store of each kind, and a client of it:
    through trackstore's HTTP protocol, and on SQLite also through the ASGI interface."""
    kind, protocol = request.param
    with make_store(kind, tmp_path) as store, serve_in_thread(store, protocol) as url:
        client = Api(url)
        yield client
        client.conn.close()
