"""Request size limits and rate limits of a real ``trackstore server``.

Size (``--max-request-bytes``): every endpoint whose body carries its parameters (each
``POST``/``PUT``/``PATCH``/``DELETE`` of the server's route table) refuses a body over the
limit with 413 ``REQUEST_LIMIT_EXCEEDED`` (JSON): declared by ``Content-Length``, sent chunked
without one, or declared smaller than what is sent (the excess is never taken as a body).
Artifact uploads stream to disk and are not capped by it (documented in docs/server.md).

Rate (``--rate-limit``, ``--rate-limit-burst``): a token bucket per client (its principal
when authenticated, else its address): a burst gets 429 with ``Retry-After`` and a JSON
``REQUEST_LIMIT_EXCEEDED``; another client is not affected; ``/health`` is never limited;
trackstore's REST client and the real mlflow client retry the 429s and every point they log
is stored exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._figures import record, scaled
from tests._live_server import serve_in_thread
from tests._server_process import ServerProcess, clean_env, trackstore_server
from tests.security._helpers import Credentials, Raw, basic, bearer, raw_exchange, status_of
from tests.store.conftest import make_store
from trackstore.server.handlers import routes

LIMIT = 4096
ROOT = Path(__file__).resolve().parents[2]


def body_endpoints() -> list[tuple[str, str]]:
    return [(method, path) for path, methods in routes(artifact_serving=True).items()
            for method in methods if method in ("POST", "PUT", "PATCH", "DELETE")]


@pytest.fixture(scope="module")
def sized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("sized")
    with trackstore_server(["--backend-store-uri", f"sqlite:///{base}/store.db",
                            "--artifacts-destination", str(base / "mlartifacts"),
                            "--max-request-bytes", str(LIMIT), "--workers", "1"],
                           cwd=base) as server:
        yield server


def _json_body(size: int) -> bytes:
    head = b'{"name": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


def _request(method: str, path: str, headers: list[str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _chunked(body: bytes, size: int = 1000) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
             for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def _refused_413(answer: bytes, what: str) -> None:
    assert status_of(answer) == 413, (what, answer[:300])
    payload = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert payload["error_code"] == "REQUEST_LIMIT_EXCEEDED", (what, payload)


def test_body_size_limit_on_every_body_endpoint(sized: ServerProcess) -> None:
    raw = Raw(sized.url)
    over = _json_body(LIMIT + 1)
    checked = 0
    for method, path in body_endpoints():
        _refused_413(raw_exchange(sized.port, _request(
            method, path, [f"Content-Length: {len(over)}"], over)), f"{method} {path} declared")
        _refused_413(raw_exchange(sized.port, _request(
            method, path, ["Transfer-Encoding: chunked"], _chunked(over))),
            f"{method} {path} chunked")
        _refused_413(raw_exchange(sized.port, _request(
            method, path, ["Content-Length: 99999999999999"], b"{}")),
            f"{method} {path} huge declared")
        checked += 3
        # At the limit, the body is read (and judged on its content, not its size).
        status, _, answer = raw.request(method, path, _json_body(LIMIT),
                                        {"Content-Type": "application/json"})
        assert status != 413, (method, path, answer)
        checked += 1
    record("security", "size-limit-endpoints", endpoints=len(body_endpoints()),
           requests=checked)
    raw.close()


def test_a_lying_content_length_is_not_a_bigger_body(sized: ServerProcess) -> None:
    raw = Raw(sized.url)
    path = "/api/2.0/mlflow/experiments/create"
    # Declared 20 bytes, sent a whole valid request body after them: the 20 bytes are the
    # body (malformed), the rest is no request; nothing is created.
    body = b'{"name": "lie-1"}   ' + b'{"name": "smuggled"}' + b" " * LIMIT
    answer = raw_exchange(sized.port, _request("POST", path, ["Content-Length: 20"], body))
    assert status_of(answer) in (200, 400), answer[:300]
    # Two different lengths, or a length and chunked: refused, nothing read as a body.
    for headers, payload in ((["Content-Length: 2", "Content-Length: 20"], b'{"name": "two"}'),
                             (["Content-Length: 5", "Transfer-Encoding: chunked"],
                              _chunked(b'{"name": "both"}')),
                             (["Content-Length: -1"], b'{"name": "negative"}'),
                             (["Content-Length: 12abc"], b'{"name": "junk"}')):
        answer = raw_exchange(sized.port, _request("POST", path, headers, payload))
        assert status_of(answer) in (400, 413), (headers, answer[:300])
    status, found, _ = raw.get("/api/2.0/mlflow/experiments/search", {"max_results": 1000})
    assert status == 200, found
    names = {e["name"] for e in found["experiments"]}
    assert not names & {"smuggled", "two", "both", "negative", "junk"}, names
    assert "Traceback" not in sized.stderr()
    raw.close()


def test_artifact_uploads_stream_past_the_body_limit(sized: ServerProcess) -> None:
    """Artifacts are files, not parameters: an upload streams to disk, whatever its size."""
    raw = Raw(sized.url)
    data = os.urandom(LIMIT * 8)
    status, _, answer = raw.request("PUT", "/api/2.0/mlflow-artifacts/artifacts/big.bin",
                                    data, {"Content-Type": "application/octet-stream"})
    assert status == 200, answer
    status, _, back = raw.request("GET", "/api/2.0/mlflow-artifacts/artifacts/big.bin")
    assert status == 200 and back == data
    raw.close()


# -- rate limits ------------------------------------------------------------------------------

RATE, BURST = 5, 5


@pytest.fixture(scope="module")
def creds(tmp_path_factory: pytest.TempPathFactory) -> Credentials:
    return Credentials.write(tmp_path_factory.mktemp("rate-auth"))


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory,
            creds: Credentials) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("limited")
    with trackstore_server(["--backend-store-uri", f"sqlite:///{base}/store.db",
                            "--artifacts-destination", str(base / "mlartifacts"),
                            "--auth", "basic", "--auth", "token", "--auth-file",
                            str(creds.path), "--rate-limit", f"{RATE}/s",
                            "--rate-limit-burst", str(BURST), "--workers", "1"],
                           cwd=base) as server:
        yield server


def _burst(raw: Raw, headers: dict[str, str], count: int) -> list[tuple[int, dict[str, str],
                                                                         object]]:
    answers = []
    for _ in range(count):
        status, data, _ = raw.get("/api/2.0/mlflow/experiments/search", {"max_results": 1},
                                  headers)
        answers.append((status, dict(raw.headers), data))
    return answers


def test_a_burst_gets_429_and_others_are_not_affected(limited: ServerProcess,
                                                      creds: Credentials) -> None:
    alice, bob, guesser = Raw(limited.url), Raw(limited.url), Raw(limited.url)
    answers = _burst(alice, basic(creds.user, creds.password), BURST * 4)
    statuses = [a[0] for a in answers]
    assert statuses[:BURST] == [200] * BURST, statuses  # the burst is allowed...
    refused = [a for a in answers if a[0] == 429]
    assert len(refused) >= BURST * 2, statuses  # ...and beyond it, the rate
    for _status, headers, data in refused:
        assert int(headers["retry-after"]) >= 1, headers
        assert isinstance(data, dict) and data["error_code"] == "REQUEST_LIMIT_EXCEEDED", data
    # Another principal has its own bucket, the same token bucket size.
    assert [a[0] for a in _burst(bob, basic(creds.other_user, creds.other_password),
                                 BURST)] == [200] * BURST
    assert [a[0] for a in _burst(bob, bearer(creds.token), BURST)] == [200] * BURST
    # Wrong credentials are limited too (per address: password guessing is slowed down).
    guessed = [a[0] for a in _burst(guesser, basic(creds.user, "guess"), BURST * 3)]
    assert set(guessed) == {401, 429} and guessed[:BURST] == [401] * BURST, guessed
    # Health probes are never limited.
    for _ in range(BURST * 3):
        assert guesser.request("GET", "/health")[0] == 200
    time.sleep(BURST / RATE + 0.2)  # the bucket refills
    assert _burst(alice, basic(creds.user, creds.password), 1)[0][0] == 200
    for raw in (alice, bob, guesser):
        raw.close()
    record("security", "rate-limit-burst", requests=len(answers), refused=len(refused))


def test_clients_retry_429_and_store_each_point_once(limited: ServerProcess,
                                                     creds: Credentials,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from trackstore import TrackingClient

    points = scaled(20, minimum=8)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", creds.user)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", creds.password)
    started = time.monotonic()
    client = TrackingClient(limited.url)
    run = client.create_run("0").info.run_id
    for step in range(points):
        client.log_metric(run, "m", float(step), timestamp=1000 + step, step=step,
                          synchronous=True)
    steps = sorted(m.step for m in client.get_metric_history(run, "m"))
    assert steps == list(range(points))  # every point once, although many calls got 429
    trackstore_seconds = time.monotonic() - started
    # The real mlflow client, as the token's principal (its own bucket).
    env = clean_env({"MLFLOW_TRACKING_TOKEN": creds.token, "PYTHONPATH": str(ROOT),
                     "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "10"})
    result = subprocess.run([sys.executable, "-m", "tests.security._mlflow_client",
                             limited.url, str(points)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["steps"] == list(range(points)), report
    assert report["params"] == {"p": "v"}
    raw = Raw(limited.url)
    status, _, data = raw.request(
        "GET", f"/api/2.0/mlflow-artifacts/artifacts/{report['experiment']}/{report['run']}/"
        f"artifacts/{report['artifact']}", None, bearer(creds.token))
    assert (status, data) == (200, b"artifact")
    raw.close()
    refused = limited.stderr().count(" 429 ")
    assert refused > 0, "the clients were never limited: the test proves nothing"
    record("security", "rate-limit-clients", points=points * 2, refused_429=refused,
           trackstore_client_s=round(trackstore_seconds, 2))


def test_per_address_buckets_without_auth(tmp_path: Path) -> None:
    """Without authentication, a client is its address: 127.0.0.2 is not limited by
    127.0.0.1's burst (through the ASGI interface, which passes the client address)."""
    with make_store("sqlite", tmp_path) as store, serve_in_thread(
            store, protocol="asgi", rate_limit=float(RATE), rate_limit_burst=BURST) as url:
        first, second = Raw(url), Raw(url, source="127.0.0.2")
        statuses = [a[0] for a in _burst(first, {}, BURST * 3)]
        assert 429 in statuses and statuses[:BURST] == [200] * BURST, statuses
        assert [a[0] for a in _burst(second, {}, BURST)] == [200] * BURST
        first.close()
        second.close()


def test_per_address_buckets_through_trackstore_protocol(tmp_path: Path) -> None:
    with make_store("sqlite", tmp_path) as store, serve_in_thread(
            store, rate_limit=float(RATE), rate_limit_burst=BURST) as url:
        first, second = Raw(url), Raw(url, source="127.0.0.2")
        statuses = [a[0] for a in _burst(first, {}, BURST * 3)]
        assert 429 in statuses, statuses
        assert [a[0] for a in _burst(second, {}, BURST)] == [200] * BURST
        first.close()
        second.close()
