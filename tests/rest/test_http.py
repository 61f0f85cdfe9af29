"""RestStore's transport against real servers: keep-alive pooling, retries, timeouts, errors."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable

import pytest

from tests.rest.conftest import (
    Certificates,
    Reply,
    ScriptedServer,
    Seen,
    experiment_json,
    free_port,
    run_json,
)
from trackstore.exceptions import TrackstoreError
from trackstore.store.rest import RestStore
from trackstore.store.rest._http import HttpSettings, retry_after_seconds

Serve = Callable[..., ScriptedServer]
RUN_ID = "b" * 32
OK_RUN = Reply(body={"run": run_json(RUN_ID)})


def store_at(url: str, sleeps: list[float] | None = None) -> RestStore:
    """A store whose backoff sleeps are recorded instead of slept."""
    return RestStore(url, sleep=(sleeps if sleeps is not None else []).append)


def scripted(*replies: Reply, then: Reply = OK_RUN) -> Callable[[Seen], Reply]:
    """Answer with *replies* in turn, then with *then* for ever."""
    queue = list(replies)
    lock = threading.Lock()

    def respond(seen: Seen) -> Reply:
        with lock:
            return queue.pop(0) if queue else then
    return respond


# -- keep-alive ----------------------------------------------------------------------------------

def test_requests_reuse_one_kept_alive_connection(serve: Serve) -> None:
    server = serve(scripted())
    store = store_at(server.url)
    for _ in range(20):
        store.get_run(RUN_ID)
    assert server.connections == 1
    assert [s.nth for s in server.seen] == list(range(20))


def test_a_connection_the_server_closed_while_idle_is_replaced(serve: Serve) -> None:
    # The server closes every connection after answering, without saying so (as an idle
    # timeout does): the next request, even a create that must not be sent twice, goes out
    # once on a new connection.
    server = serve(lambda seen: Reply(body={"experiment_id": "1"}, close_after=True))
    store = store_at(server.url)
    for name in ("a", "b", "c"):
        assert store.create_experiment(name) == "1"
        time.sleep(0.05)  # let the server's FIN arrive, as it has on a really idle connection
    assert [s.json["name"] for s in server.seen] == ["a", "b", "c"]
    assert server.connections == 3


def test_a_request_lost_on_a_stale_connection_is_resent_transparently(
        serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    # The server drops the second request of each connection unanswered: the race of a
    # keep-alive connection closed just as a request goes out. A read is resent on a new
    # connection, and that is not a retry: it succeeds with retries disabled.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    server = serve(lambda seen: Reply(drop=True) if seen.nth == 1 else OK_RUN)
    sleeps: list[float] = []
    store = store_at(server.url, sleeps)
    store.get_run(RUN_ID)
    assert store.get_run(RUN_ID).info.run_id == RUN_ID
    assert [(s.connection, s.nth) for s in server.seen] == [(1, 0), (1, 1), (2, 0)]
    assert sleeps == []


def test_a_create_lost_on_a_stale_connection_is_not_resent(serve: Serve) -> None:
    # The server read the create, then closed without answering: it may have created the
    # experiment, so the client must not create it a second time.
    server = serve(lambda seen: Reply(drop=True) if seen.nth == 1 else OK_RUN)
    store = store_at(server.url)
    store.get_run(RUN_ID)
    with pytest.raises(TrackstoreError) as e:
        store.create_experiment("once")
    assert e.value.error_code == "TEMPORARILY_UNAVAILABLE"
    assert "may or may not have been carried out" in e.value.message
    assert [s.path.rsplit("/", 2)[-2:] for s in server.seen] == [["runs", "get"],
                                                                  ["experiments", "create"]]


def test_threads_never_share_a_connection(serve: Serve) -> None:
    # Each thread asks for its own experiment id and must get that experiment back: two
    # threads writing on one connection would cross or corrupt the answers.
    server = serve(lambda seen: Reply(body={"experiment": experiment_json(
        seen.query["experiment_id"][0])}))
    store = store_at(server.url)
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            for i in range(40):
                wanted = f"{thread}-{i}"
                assert store.get_experiment(wanted).experiment_id == wanted
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(server.seen) == 320
    assert server.connections <= 8 + 10  # reused, not one per request


def test_close_drops_idle_connections_and_the_store_still_works(serve: Serve) -> None:
    server = serve(scripted())
    store = store_at(server.url)
    store.get_run(RUN_ID)
    store.close()
    store.get_run(RUN_ID)
    assert server.connections == 2


# -- retries ---------------------------------------------------------------------------------------

def test_transient_statuses_are_retried_with_exponential_backoff(
        serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "3")
    server = serve(scripted(Reply(503), Reply(502, "<html>bad gateway</html>"), Reply(500),
                            Reply(429)))
    sleeps: list[float] = []
    assert store_at(server.url, sleeps).get_run(RUN_ID).info.run_id == RUN_ID
    assert len(server.seen) == 5
    # urllib3's schedule, as MLflow's client waits: none, then factor * 2**(n-1).
    assert sleeps == [0.0, 6.0, 12.0, 24.0]


def test_backoff_adds_jitter_and_is_capped() -> None:
    settings = HttpSettings(backoff_factor=2, backoff_jitter=1.0)
    delays = [settings.backoff(3) for _ in range(200)]
    assert all(8.0 <= d < 9.0 for d in delays) and len(set(delays)) > 1
    assert HttpSettings(backoff_factor=100).backoff(7) == 120.0


def test_retry_after_is_honoured(serve: Serve) -> None:
    server = serve(scripted(Reply(503, headers={"Retry-After": "7"}),
                            Reply(429, headers={"Retry-After": "1000"})))
    sleeps: list[float] = []
    store_at(server.url, sleeps).get_run(RUN_ID)
    assert sleeps == [7.0, 120.0]  # a server's hour-long ask is capped at the backoff maximum


def test_retry_after_can_be_ignored(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER", "false")
    server = serve(scripted(Reply(503, headers={"Retry-After": "7"})))
    sleeps: list[float] = []
    store_at(server.url, sleeps).get_run(RUN_ID)
    assert sleeps == [0.0]


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_seconds(" 5 ") == 5.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    soon = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 100))
    later = retry_after_seconds(soon)
    assert later is not None and 95 < later <= 100
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_retries_stop_at_the_maximum_and_report_the_server_error(
        serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    server = serve(lambda seen: Reply(503, {"error_code": "TEMPORARILY_UNAVAILABLE",
                                            "message": "database is locked"}))
    with pytest.raises(TrackstoreError) as e:
        store_at(server.url).get_run(RUN_ID)
    assert (e.value.error_code, e.value.message) == ("TEMPORARILY_UNAVAILABLE",
                                                     "database is locked")
    assert len(server.seen) == 3


def test_client_errors_are_not_retried(serve: Serve) -> None:
    server = serve(lambda seen: Reply(400, {"error_code": "INVALID_PARAMETER_VALUE",
                                            "message": "bad filter"}))
    with pytest.raises(TrackstoreError) as e:
        store_at(server.url).search_runs(["1"], "nonsense")
    assert (e.value.error_code, e.value.message) == ("INVALID_PARAMETER_VALUE", "bad filter")
    assert len(server.seen) == 1


@pytest.mark.parametrize("create", ["experiment", "run"])
def test_a_create_is_not_repeated_after_a_server_error(serve: Serve, create: str) -> None:
    server = serve(lambda seen: Reply(500, {"error_code": "INTERNAL_ERROR",
                                            "message": "disk full"}))
    store = store_at(server.url)
    with pytest.raises(TrackstoreError) as e:
        store.create_experiment("e") if create == "experiment" else store.create_run(
            "1", "u", 1, [], None)
    assert e.value.message == "disk full"
    assert len(server.seen) == 1


@pytest.mark.parametrize(("first", "repeated"), [
    (Reply(429), True),
    (Reply(408), True),
    (Reply(503, headers={"Retry-After": "2"}), True),
    (Reply(503), False),
    (Reply(502), False),
    (Reply(504), False),
])
def test_a_create_is_repeated_only_when_the_server_did_not_act(
        serve: Serve, first: Reply, repeated: bool) -> None:
    server = serve(scripted(first, then=Reply(body={"experiment_id": "5"})))
    store = store_at(server.url)
    if repeated:
        assert store.create_experiment("e") == "5"
        assert len(server.seen) == 2
    else:
        with pytest.raises(TrackstoreError):
            store.create_experiment("e")
        assert len(server.seen) == 1


@pytest.mark.parametrize("call", ["read", "create"])
def test_a_refused_connection_is_retried_then_reported(call: str) -> None:
    # Nothing was sent, so even a create may be tried again.
    url = f"http://127.0.0.1:{free_port()}"
    sleeps: list[float] = []
    store = store_at(url, sleeps)
    with pytest.raises(TrackstoreError) as e:
        store.get_run(RUN_ID) if call == "read" else store.create_experiment("e")
    assert e.value.error_code == "TEMPORARILY_UNAVAILABLE"
    assert url in e.value.message and "after 7 retries" in e.value.message
    assert "ConnectionRefusedError" in e.value.message
    assert sleeps == [0.0, 4.0, 8.0, 16.0, 32.0, 64.0, 120.0]


def test_an_unknown_host_fails_at_once() -> None:
    sleeps: list[float] = []
    with pytest.raises(TrackstoreError) as e:
        store_at("http://no-such-host.invalid:5000", sleeps).get_run(RUN_ID)
    assert e.value.error_code == "TEMPORARILY_UNAVAILABLE"
    assert "no-such-host.invalid" in e.value.message and sleeps == []


# -- timeouts --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("call", "attempts"), [("read", 2), ("create", 1)])
def test_a_server_slower_than_the_timeout(serve: Serve, monkeypatch: pytest.MonkeyPatch,
                                          call: str, attempts: int) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "0.2")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    server = serve(lambda seen: Reply(body={"experiment_id": "1"}, delay=1.0))
    store = store_at(server.url)
    started = time.monotonic()
    with pytest.raises(TrackstoreError) as e:
        store.get_run(RUN_ID) if call == "read" else store.create_experiment("slow")
    assert time.monotonic() - started < 0.2 * attempts + 0.5
    assert e.value.error_code == "DEADLINE_EXCEEDED"
    assert "timed out after 0.2 s" in e.value.message
    assert "MLFLOW_HTTP_REQUEST_TIMEOUT" in e.value.message
    assert len(server.seen) == attempts  # a create that may have happened is not repeated


# -- error responses -------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "code"), [
    (400, "BAD_REQUEST"), (401, "UNAUTHENTICATED"), (403, "PERMISSION_DENIED"),
    (404, "ENDPOINT_NOT_FOUND"), (405, "INTERNAL_ERROR"), (500, "INTERNAL_ERROR"),
    (502, "TEMPORARILY_UNAVAILABLE"), (503, "TEMPORARILY_UNAVAILABLE"),
])
def test_a_non_json_error_gets_a_code_from_its_status(
        serve: Serve, monkeypatch: pytest.MonkeyPatch, status: int, code: str) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    page = "<html>\n<head><title>Oops</title></head>\n<body>" + "x" * 1000 + "</body></html>"
    server = serve(lambda seen: Reply(status, page))
    with pytest.raises(TrackstoreError) as e:
        store_at(server.url).get_run(RUN_ID)
    assert e.value.error_code == code
    message = e.value.message
    assert f"failed with HTTP {status}" in message and f"{server.url}/api/2.0/mlflow/runs/get" \
        in message
    assert "<head><title>Oops</title></head>" in message  # an excerpt, whitespace collapsed
    assert len(message) < 600


def test_a_json_error_keeps_the_server_code_and_message(serve: Serve) -> None:
    server = serve(lambda seen: Reply(404, {"error_code": "RESOURCE_DOES_NOT_EXIST",
                                            "message": f"Run '{RUN_ID}' not found",
                                            "sqlstate": "KAM00"}))
    with pytest.raises(TrackstoreError) as e:
        store_at(server.url).get_run(RUN_ID)
    assert (e.value.error_code, e.value.message) == ("RESOURCE_DOES_NOT_EXIST",
                                                     f"Run '{RUN_ID}' not found")


def test_a_success_that_is_not_json_is_an_error(serve: Serve) -> None:
    server = serve(lambda seen: Reply(200, "<html>login page</html>"))
    with pytest.raises(TrackstoreError) as e:
        store_at(server.url).get_run(RUN_ID)
    assert e.value.error_code == "INTERNAL_ERROR" and "login page" in e.value.message


def test_an_empty_success_body_is_an_empty_answer(serve: Serve) -> None:
    server = serve(lambda seen: Reply(200, b""))
    store_at(server.url).delete_run(RUN_ID)
    assert len(server.seen) == 1


# -- redirects -------------------------------------------------------------------------------------

def test_307_redirects_a_post_with_its_body(serve: Serve) -> None:
    target = serve(lambda seen: Reply(body={}))
    origin = serve(lambda seen: Reply(307, headers={
        "Location": f"{target.url}/moved{seen.path}"}))
    store_at(origin.url).delete_run(RUN_ID)
    (moved,) = target.seen
    assert (moved.method, moved.path, moved.json) == (
        "POST", "/moved/api/2.0/mlflow/runs/delete", {"run_id": RUN_ID})


def test_a_get_follows_a_redirect_with_its_query(serve: Serve) -> None:
    server = serve(lambda seen: Reply(301, headers={"Location": "/v2" + seen.path + "?x=1"})
                   if not seen.path.startswith("/v2") else OK_RUN)
    assert store_at(server.url).get_run(RUN_ID).info.run_id == RUN_ID
    assert server.seen[1].path == "/v2/api/2.0/mlflow/runs/get"
    assert server.seen[1].query == {"x": ["1"]}


def test_a_post_is_not_turned_into_a_get_by_302(serve: Serve) -> None:
    server = serve(lambda seen: Reply(302, "moved", headers={"Location": "/elsewhere"}))
    with pytest.raises(TrackstoreError) as e:
        store_at(server.url).delete_run(RUN_ID)
    assert "HTTP 302" in e.value.message and len(server.seen) == 1


def test_credentials_are_not_sent_to_another_host(
        serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "secret")
    other = serve(lambda seen: OK_RUN, host="localhost")
    origin = serve(lambda seen: Reply(302, headers={"Location": other.url + seen.path}))
    store_at(origin.url).get_run(RUN_ID)
    assert origin.seen[0].headers["authorization"] == "Bearer secret"
    assert "authorization" not in other.seen[0].headers


def test_redirects_can_be_disallowed(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_HTTP_REDIRECTS", "false")
    server = serve(lambda seen: Reply(307, headers={"Location": "/x"}))
    with pytest.raises(TrackstoreError) as e:
        store_at(server.url).get_run(RUN_ID)
    assert "HTTP 307" in e.value.message and len(server.seen) == 1


# -- proxies and settings --------------------------------------------------------------------------

def test_an_http_proxy_from_the_environment_carries_the_requests(
        serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = serve(lambda seen: OK_RUN)
    monkeypatch.setenv("HTTP_PROXY", f"http://joe:pw@127.0.0.1:{proxy.port}")
    target = f"http://tracking.example:{free_port()}"
    store_at(target).get_run(RUN_ID)
    (seen,) = proxy.seen
    assert seen.path == f"{target}/api/2.0/mlflow/runs/get?run_id={RUN_ID}&run_uuid={RUN_ID}"
    assert seen.headers["proxy-authorization"] == "Basic am9lOnB3"
    assert seen.headers["host"] == target.removeprefix("http://")


def test_no_proxy_bypasses_the_proxy(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = serve(lambda seen: OK_RUN)
    server = serve(lambda seen: OK_RUN)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    store_at(server.url).get_run(RUN_ID)
    assert len(server.seen) == 1 and proxy.seen == []


@pytest.mark.parametrize(("name", "value"), [
    ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "lots"), ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "-1"),
    ("MLFLOW_HTTP_REQUEST_TIMEOUT", "0"), ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "nan"),
    ("MLFLOW_TRACKING_INSECURE_TLS", "maybe"),
])
def test_bad_settings_are_reported_by_name(monkeypatch: pytest.MonkeyPatch, name: str,
                                           value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(TrackstoreError) as e:
        RestStore("http://127.0.0.1:1")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert name in e.value.message and repr(value) in e.value.message


@pytest.mark.parametrize("uri", ["http://", "http://host:port", "http://h:5000/?x=1",
                                 "https://h/#frag"])
def test_bad_server_urls_are_reported(uri: str) -> None:
    with pytest.raises(TrackstoreError) as e:
        RestStore(uri)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"


def _connect_proxy(seen: list[bytes]) -> tuple[int, Callable[[], None]]:
    """A CONNECT proxy on 127.0.0.1: records each CONNECT request head, then relays bytes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def tunnel(client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += client.recv(4096)
        seen.append(head)
        host, _, port = head.split()[1].decode().rpartition(":")
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = listener.accept()
                threading.Thread(target=tunnel, args=(client,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener.getsockname()[1], listener.close


def test_https_goes_through_a_proxy_tunnel(serve: Serve, certificates: Certificates,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    server = serve(lambda seen: OK_RUN, tls=certificates.server_context(), host="localhost")
    heads: list[bytes] = []
    port, stop = _connect_proxy(heads)
    try:
        monkeypatch.setenv("HTTPS_PROXY", f"http://u:p@127.0.0.1:{port}")
        monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(certificates.server_cert))
        store = store_at(server.url)
        store.get_run(RUN_ID)
        store.get_run(RUN_ID)
    finally:
        stop()
    (head,) = heads  # one tunnel, kept alive for both requests
    assert head.startswith(f"CONNECT localhost:{server.port} HTTP/".encode())
    assert b"Proxy-Authorization: Basic dTpw" in head
    assert len(server.seen) == 2 and server.connections == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_use_the_parent_connections(serve: Serve) -> None:
    server = serve(lambda seen: OK_RUN)
    store = store_at(server.url)
    store.get_run(RUN_ID)
    pid = os.fork()
    if pid == 0:  # the child: exit status says whether its request worked
        try:
            store.get_run(RUN_ID)
        except BaseException:  # reported through the exit status
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    store.get_run(RUN_ID)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [s.connection for s in server.seen] == [1, 2, 1]
