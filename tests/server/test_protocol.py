"""trackstore's HTTP/1.1 protocol (``trackstore.server.protocol``), byte by byte on a socket.

The API itself is tested through both protocols in ``test_api.py``; here is what only the
connection layer decides: keep-alive and closing, pipelining behind a request answered on a
thread, chunked bodies both ways, ``Expect: 100-continue``, the limits, requests that do not
parse, ``HEAD``, idle timeouts and the access log's client behind a proxy.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests._live_server import serve_in_thread
from tests.store.conftest import make_store
from trackstore.server import handlers, protocol
from trackstore.server.protocol import MAX_HEAD_BYTES

API = "/api/2.0/mlflow"


class Raw:
    """A socket to the server, and a reader of its answers (length or chunked bodies)."""

    def __init__(self, url: str) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((parsed.hostname, parsed.port), timeout=20)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError("closed before a line ended")
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._fill():
                raise ConnectionError("closed before the body ended")
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def answer(self, head_only: bool = False) -> tuple[int, dict[str, str], bytes]:
        status = int(self._line().split(b" ", 2)[1])
        headers: dict[str, str] = {}
        while line := self._line():
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if head_only or status in (100, 204, 304):
            return status, headers, b""
        if headers.get("transfer-encoding") == "chunked":
            parts = []
            while size := int(self._line(), 16):
                parts.append(self._take(size))
                assert self._take(2) == b"\r\n"
            assert self._line() == b""
            return status, headers, b"".join(parts)
        return status, headers, self._take(int(headers["content-length"]))

    def closed(self) -> bool:
        """Whether the server closed the connection (after what was read)."""
        try:
            return not self.buffer and not self._fill()
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


def post(path: str, payload: Any, extra: str = "", version: str = "1.1") -> bytes:
    body = json.dumps(payload).encode()
    return (f"POST {API}{path} HTTP/{version}\r\nHost: t\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body


def get(path: str, extra: str = "", method: str = "GET", version: str = "1.1") -> bytes:
    return f"{method} {path} HTTP/{version}\r\nHost: t\r\n{extra}\r\n".encode()


@contextmanager
def server(tmp_path: Path, **options: Any) -> Iterator[str]:
    with make_store("sqlite", tmp_path) as store, serve_in_thread(store, **options) as url:
        yield url


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with server(tmp_path) as base:
        yield base


def new_run(url: str) -> str:
    raw = Raw(url)
    raw.send(post("/runs/create", {"experiment_id": "0", "start_time": 1}))
    status, _, body = raw.answer()
    raw.close()
    assert status == 200, body
    return str(json.loads(body)["run"]["info"]["run_id"])


def history(url: str, run_id: str, key: str = "m") -> list[float]:
    raw = Raw(url)
    raw.send(get(f"{API}/metrics/get-history?run_id={run_id}&metric_key={key}"))
    status, _, body = raw.answer()
    raw.close()
    assert status == 200, body
    return [m["value"] for m in json.loads(body).get("metrics", [])]


def point(run_id: str, step: int, value: float | None = None) -> dict[str, Any]:
    return {"run_id": run_id, "key": "m", "value": float(step) if value is None else value,
            "timestamp": 1, "step": step}


def test_keep_alive_answers_with_length_and_date(url: str) -> None:
    run_id = new_run(url)
    raw = Raw(url)
    for step in range(3):
        raw.send(post("/runs/log-metric", point(run_id, step)))
        status, headers, body = raw.answer()
        assert (status, body) == (200, b"{}")
        assert headers["content-type"] == "application/json"
        assert headers["content-length"] == "2" and "connection" not in headers
        assert headers["date"].endswith(" GMT")
    raw.close()
    assert history(url, run_id) == [0.0, 1.0, 2.0]


@pytest.mark.parametrize(("version", "extra", "closes"), [
    ("1.1", "Connection: close\r\n", True),
    ("1.0", "", True),
    ("1.0", "Connection: keep-alive\r\n", False),
])
def test_connection_close_and_http_1_0(url: str, version: str, extra: str,
                                       closes: bool) -> None:
    raw = Raw(url)
    raw.send(get("/health", extra, version=version))
    status, headers, body = raw.answer()
    assert (status, body) == (200, b"OK")
    assert (headers.get("connection") == "close") is closes
    if closes:
        assert raw.closed()
    else:
        raw.send(get("/version", extra, version=version))
        assert raw.answer()[0] == 200
    raw.close()


def test_pipelined_requests_are_answered_in_order_behind_a_threaded_one(url: str) -> None:
    run_id = new_run(url)
    assert handlers.get_metric_history in handlers.SCANS  # answered on a thread
    raw = Raw(url)
    raw.send(post("/runs/log-metric", point(run_id, 0))
             + get(f"{API}/metrics/get-history?run_id={run_id}&metric_key=m")
             + post("/runs/log-metric", point(run_id, 1))
             + get(f"{API}/metrics/get-history?run_id={run_id}&metric_key=m")
             + get("/version"))
    answers = [raw.answer() for _ in range(5)]
    assert [a[0] for a in answers] == [200] * 5
    assert answers[0][2] == answers[2][2] == b"{}"
    assert [m["value"] for m in json.loads(answers[1][2])["metrics"]] == [0.0]
    assert [m["value"] for m in json.loads(answers[3][2])["metrics"]] == [0.0, 1.0]
    assert answers[4][1]["content-type"].startswith("text/plain")
    raw.close()


def test_a_chunked_request_body(url: str) -> None:
    run_id = new_run(url)
    body = json.dumps(point(run_id, 7)).encode()
    first, second = body[:10], body[10:]
    raw = Raw(url)
    raw.send(f"POST {API}/runs/log-metric HTTP/1.1\r\nHost: t\r\nContent-Type: "
             "application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
             + b"%x\r\n%s\r\n" % (len(first), first))
    time.sleep(0.05)  # the rest in another segment
    raw.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(second), second))
    assert raw.answer()[:3:2] == (200, b"{}")
    raw.close()
    assert history(url, run_id) == [7.0]


def test_expect_100_continue(url: str) -> None:
    run_id = new_run(url)
    body = json.dumps(point(run_id, 3)).encode()
    raw = Raw(url)
    raw.send(f"POST {API}/runs/log-metric HTTP/1.1\r\nHost: t\r\nContent-Type: "
             f"application/json\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n"
             "\r\n".encode())
    assert raw.answer()[0] == 100  # before the body is sent
    raw.send(body)
    assert raw.answer()[:3:2] == (200, b"{}")
    raw.close()
    assert history(url, run_id) == [3.0]


def test_expect_100_continue_without_a_body_is_just_answered(url: str) -> None:
    raw = Raw(url)
    raw.send(get("/health", "Expect: 100-continue\r\n") + get("/version"))
    status, headers, body = raw.answer()
    assert (status, body) == (200, b"OK") and "connection" not in headers
    assert raw.answer()[0] == 200
    raw.close()


def test_expect_100_continue_refused_before_the_body(url: str) -> None:
    raw = Raw(url)
    raw.send(f"POST {API}/runs/log-metric HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
             "Content-Length: 100\r\nExpect: 100-continue\r\n\r\n".encode())
    status, headers, body = raw.answer()
    assert status == 400 and json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE"
    assert headers["connection"] == "close" and raw.closed()
    raw.close()


def test_bodies_over_the_limit_are_refused_and_the_connection_closed(tmp_path: Path) -> None:
    with server(tmp_path, max_request_bytes=1000) as url:
        run_id = new_run(url)
        big = point(run_id, 1) | {"key": "k" * 2000}
        raw = Raw(url)  # declared: refused before the body is read
        raw.send(post("/runs/log-metric", big))
        status, headers, body = raw.answer()
        assert status == 413 and json.loads(body)["error_code"] == "REQUEST_LIMIT_EXCEEDED"
        assert headers["connection"] == "close" and raw.closed()
        raw.close()
        raw = Raw(url)  # sent chunked: refused once the limit is passed
        data = json.dumps(big).encode()
        raw.send(f"POST {API}/runs/log-metric HTTP/1.1\r\nHost: t\r\nContent-Type: "
                 "application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
                 + b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))
        status, headers, body = raw.answer()
        assert status == 413 and headers["connection"] == "close" and raw.closed()
        raw.close()
        raw = Raw(url)  # a body the API does not read (GET) is ignored, within the limit
        raw.send(b"GET /health HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        assert raw.answer()[:3:2] == (200, b"OK")
        raw.close()
        assert history(url, run_id) == []


def test_headers_over_the_limit_get_431(url: str) -> None:
    raw = Raw(url)
    raw.send(get("/health", "X-Big: " + "a" * MAX_HEAD_BYTES + "\r\n"))
    status, headers, _ = raw.answer()
    assert status == 431 and headers["connection"] == "close"
    raw.close()


@pytest.mark.parametrize("garbage", [b"NOT HTTP AT ALL\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                                     b"POST /x HTTP/1.1\r\nContent-Length: x\r\n\r\n"])
def test_a_request_that_does_not_parse_gets_400_and_a_close(url: str, garbage: bytes) -> None:
    raw = Raw(url)
    raw.send(garbage)
    status, headers, body = raw.answer()
    assert status == 400 and headers["connection"] == "close"
    assert b"Traceback" not in body
    raw.close()
    raw = Raw(url)  # the server goes on
    raw.send(get("/health"))
    assert raw.answer()[0] == 200
    raw.close()


def test_head_gets_the_headers_only(url: str) -> None:
    raw = Raw(url)
    raw.send(get("/health", method="HEAD") + get("/version"))
    status, headers, _ = raw.answer(head_only=True)
    assert status == 200 and headers["content-length"] == "2"
    status, _, body = raw.answer()  # the next answer starts right after the headers
    assert status == 200 and body
    raw.close()


def test_a_streamed_history_is_a_chunked_body(url: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = new_run(url)
    monkeypatch.setattr(handlers, "HISTORY_PAGE", 3)
    raw = Raw(url)
    metrics = [{"key": "m", "value": float(s), "timestamp": 1, "step": s} for s in range(10)]
    raw.send(post("/runs/log-batch", {"run_id": run_id, "metrics": metrics}))
    assert raw.answer()[0] == 200
    raw.send(get(f"{API}/metrics/get-history?run_id={run_id}&metric_key=m")
             + get("/version"))
    status, headers, body = raw.answer()
    assert status == 200 and headers["transfer-encoding"] == "chunked"
    assert [m["step"] for m in json.loads(body)["metrics"]] == list(range(10))
    assert raw.answer()[0] == 200  # the connection goes on after the last chunk
    raw.close()


def test_an_idle_connection_is_closed_after_the_keep_alive_timeout(tmp_path: Path) -> None:
    with server(tmp_path, uvicorn_options={"timeout_keep_alive": 1}) as url:
        raw = Raw(url)
        raw.send(get("/health"))
        assert raw.answer()[0] == 200
        started = time.monotonic()
        assert raw.closed()  # (blocks until the server closes it)
        assert 0.5 < time.monotonic() - started < 10
        raw.close()


def test_the_access_log_names_the_client_behind_a_trusted_proxy(
        tmp_path: Path, capfd: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="trackstore")
    with server(tmp_path, access_log=True, uvicorn_options={
            "forwarded_allow_ips": "127.0.0.1"}) as url:
        raw = Raw(url)
        raw.send(get("/health", "X-Forwarded-For: 203.0.113.9, 127.0.0.1\r\n"))
        assert raw.answer()[0] == 200
        raw.close()
        time.sleep(0.3)  # the access log is written in batches, every 0.1 s
    err = capfd.readouterr().err
    assert "203.0.113.9 GET /health 200" in err


def test_a_request_that_stalls_half_sent_gets_408_and_a_close(
        url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(protocol, "REQUEST_READ_SECONDS", 0.5)
    raw = Raw(url)
    raw.send(b"POST /api/2.0/mlflow/runs/log-metric HTTP/1.1\r\nHost: t\r\n")  # and no more
    started = time.monotonic()
    status, headers, _ = raw.answer()
    assert status == 408 and headers["connection"] == "close" and raw.closed()
    assert 0.3 < time.monotonic() - started < 10
    raw.close()
    raw = Raw(url)  # a request sent in parts within the time is served
    raw.send(b"GET /hea")
    time.sleep(0.2)
    raw.send(b"lth HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(0.5)  # longer than the limit since the first part, after the answer
    raw.send(get("/version"))
    assert raw.answer()[:3:2] == (200, b"OK") and raw.answer()[0] == 200
    raw.close()


def test_pages_that_fail_before_the_first_byte_get_one_error_answer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    def failing(*args: Any) -> Iterator[bytes]:
        raise RuntimeError("the database went away")
        yield b""  # (a generator: it fails at its first page)

    monkeypatch.setattr(handlers, "_stream_history", failing)
    caplog.set_level("INFO", logger="trackstore")
    with server(tmp_path, access_log=True) as url:
        run_id = new_run(url)
        raw = Raw(url)
        raw.send(get(f"{API}/metrics/get-history?run_id={run_id}&metric_key=m")
                 + get("/version"))
        status, headers, body = raw.answer()
        assert status == 500 and json.loads(body)["error_code"] == "INTERNAL_ERROR"
        assert headers["content-length"] == str(len(body))
        assert raw.answer()[0] == 200  # the connection goes on
        raw.close()
        time.sleep(0.3)  # the access log is written in batches, every 0.1 s
    err = capfd.readouterr().err
    assert err.count("GET /api/2.0/mlflow/metrics/get-history ") == 1  # answered once
    assert "GET /api/2.0/mlflow/metrics/get-history 500" in err
