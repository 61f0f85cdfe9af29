"""Tracking servers for ``bench_server.py``, and the HTTP clients that load them.

:class:`Server` runs ``trackstore server`` or ``mlflow server`` (both from this virtualenv) as
a subprocess on a free port of 127.0.0.1, waits for ``GET /health`` and for the start-up work
of its workers to end, and stops it with SIGTERM, checking that every process it started has
exited.

:class:`ClientPool` is the load: client *processes* (so the clients' Python never shares one
GIL; measured: see ``bench_server.py``), each with one kept-alive connection to the server,
driven in rounds: the requests of a round are built and handed to the clients untimed
(:meth:`ClientPool.prepare`), then :meth:`ClientPool.go` starts them all and returns when
every client has had every answer. Both servers get the same client code:
:class:`Connection`, a lean HTTP/1.1 client on a raw socket with ``TCP_NODELAY``, each
request (line, headers and JSON body) encoded before the round and sent in one ``send()``,
so no request waits on Nagle's algorithm or a delayed ACK at the client, and the clients
take little of the CPU the servers need.
"""

from __future__ import annotations

import contextlib
import functools
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

API = "/api/2.0/mlflow"
HOST = "127.0.0.1"

#: (method, path, JSON body or None): one request, as a client sends it.
Request = tuple[str, str, bytes | None]


class ServerError(AssertionError):
    """A server that did not start, answered with an error, or did not stop."""


# -- the HTTP client -------------------------------------------------------------------------


class Connection:
    """A kept-alive HTTP/1.1 client connection on a raw socket, with ``TCP_NODELAY``.

    The load generator of the benchmarks: it must cost the 2-core machine as little CPU as it
    can, since whatever it takes is taken from the server measured (the role ``wrk`` plays
    elsewhere). Each request (line, headers and body, encoded before the round by
    :meth:`encode`) leaves in one ``send()``; the answer is read into one buffer and only its
    status line and framing headers are parsed (``Content-Length``, chunked
    ``Transfer-Encoding``, ``Connection: close``). Measured against the ``http.client``
    connection it replaces, with the same server and load: 75-130 µs of client CPU per
    ``log-metric`` request instead of 250-280 (most of what is left is the kernel's loopback
    TCP, charged to the sender). A server that closes the connection after an answer
    (``Connection: close``, as MLflow's gunicorn does) gets a new one at the next request,
    as any client would open it.
    """

    def __init__(self, host: str, port: int | None, timeout: float = 60.0) -> None:
        self.host, self.port, self.timeout = host, port or 80, timeout
        self.sock: socket.socket | None = None
        self._buffer = bytearray()

    def connect(self) -> None:
        self.close()
        sock = socket.create_connection((self.host, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self._buffer.clear()

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def encode(self, method: str, path: str, body: bytes | None = None) -> bytes:
        """The bytes of one request (JSON body if any) on this connection."""
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        return (head + "\r\n").encode("latin-1") + (body or b"")

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        return self.exchange(self.encode(method, path, body))

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send an encoded request and read its answer: (status, body)."""
        if self.sock is None:
            self.connect()
        assert self.sock is not None
        self.sock.sendall(request)
        buffer = self._buffer
        end = buffer.find(b"\r\n\r\n")
        while end < 0:
            self._fill()
            end = buffer.find(b"\r\n\r\n")
        head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
        del buffer[:end + 4]
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        if headers.get("transfer-encoding") == "chunked":
            data = self._chunked()
        else:
            length = int(headers.get("content-length", "0"))
            while len(buffer) < length:
                self._fill()
            data = bytes(buffer[:length])
            del buffer[:length]
        if headers.get("connection") == "close":
            self.close()
        return status, data

    def _fill(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(262144)
        if not chunk:
            self.close()
            raise ConnectionError("the server closed the connection before the answer")
        self._buffer += chunk

    def _chunked(self) -> bytes:
        buffer, parts = self._buffer, []
        while True:
            line_end = buffer.find(b"\r\n")
            while line_end < 0:
                self._fill()
                line_end = buffer.find(b"\r\n")
            size = int(bytes(buffer[:line_end]).split(b";", 1)[0], 16)
            while len(buffer) < line_end + 2 + size + 2:
                self._fill()
            parts.append(bytes(buffer[line_end + 2:line_end + 2 + size]))
            del buffer[:line_end + 2 + size + 2]
            if size == 0:  # (no trailers are sent by the servers measured)
                return b"".join(parts)


def call_json(url: str, method: str, path: str, payload: dict[str, Any] | None = None
              ) -> dict[str, Any]:
    """One request on a connection of its own; the decoded JSON answer (ServerError if not 200)."""
    parsed = urllib.parse.urlsplit(url)
    connection = Connection(parsed.hostname or HOST, parsed.port, timeout=60)
    try:
        body = None if payload is None else json.dumps(payload).encode()
        status, data = connection.call(method, path, body)
    finally:
        connection.close()
    if status != 200:
        raise ServerError(f"{method} {path} -> {status}: {data[:500]!r}")
    return dict(json.loads(data or b"{}"))


def metric_history(url: str, run_id: str, key: str) -> list[dict[str, Any]]:
    """Every point of *run_id*'s metric *key*, through ``GET .../metrics/get-history`` (paged)."""
    points: list[dict[str, Any]] = []
    token = ""
    while True:
        query = {"run_id": run_id, "metric_key": key, "max_results": 25000}
        if token:
            query["page_token"] = token
        page = call_json(url, "GET",
                         f"{API}/metrics/get-history?{urllib.parse.urlencode(query)}")
        points += page.get("metrics", [])
        token = page.get("next_page_token", "")
        if not token:
            return points


# -- client processes ------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one client saw in one round."""

    started: float  # time.perf_counter() (CLOCK_MONOTONIC: the same clock in every process)
    ended: float
    latencies: array[float]  # seconds, one per request, in order
    cpu: float  # the client process's CPU seconds in the round
    failures: list[tuple[int, bytes]] = field(default_factory=list)  # (status, body start)


def _client(pipe: Any) -> None:
    """A client process: ``prepare`` (address, requests) then ``go``, until ``None``."""
    connection: Connection | None = None
    requests: Sequence[Request] = ()
    encoded: list[bytes] = []
    while True:
        message = pipe.recv()
        if message is None:
            break
        if message[0] == "prepare":
            (host, port), requests = message[1], message[2]
            # A new connection, made now (untimed): no round starts on one that the server
            # may have closed after an idle timeout (uvicorn's is 5 s).
            if connection is not None:
                connection.close()
            connection = Connection(host, port, timeout=120)
            connection.connect()
            encoded = [connection.encode(*request) for request in requests]
            pipe.send("ready")
            continue
        assert connection is not None
        latencies = array("d")
        failures = []
        clock, cpu = time.perf_counter, time.process_time
        cpu_started, started = cpu(), clock()
        for request in encoded:
            sent = clock()
            try:
                status, data = connection.exchange(request)
            except (OSError, ValueError, IndexError) as exc:
                connection.close()
                status, data = -1, repr(exc).encode()
            latencies.append(clock() - sent)
            if status != 200:
                failures.append((status, data[:300]))
        ended = clock()
        pipe.send(Outcome(started, ended, latencies, cpu() - cpu_started, failures))
    if connection is not None:
        connection.close()


class ClientPool:
    """*size* client processes (spawned: they import nothing of the benchmark session)."""

    def __init__(self, size: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.size = size
        self._pipes = []
        self._processes = []
        for _ in range(size):
            ours, theirs = context.Pipe()
            process = context.Process(target=_client, args=(theirs,), daemon=True)
            process.start()
            theirs.close()
            self._pipes.append(ours)
            self._processes.append(process)

    def prepare(self, url: str, requests: Sequence[Sequence[Request]]) -> None:
        """Give client *i* the requests ``requests[i]`` of the next round (and a new connection)."""
        assert len(requests) == self.size
        parsed = urllib.parse.urlsplit(url)
        address = (parsed.hostname, parsed.port)
        for pipe, mine in zip(self._pipes, requests, strict=True):
            pipe.send(("prepare", address, list(mine)))
        for pipe in self._pipes:
            if pipe.recv() != "ready":
                raise ServerError("a client process did not get ready")

    def go(self) -> list[Outcome]:
        """Run the prepared round: every client sends its requests, one after the other."""
        for pipe in self._pipes:
            pipe.send(("go",))
        return [pipe.recv() for pipe in self._pipes]

    def close(self) -> None:
        for pipe in self._pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for process in self._processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()


# -- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _script(name: str) -> str:
    """The console script *name* of this virtualenv (next to its Python), else on PATH."""
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise ServerError(f"no `{name}` script beside {sys.executable} nor on PATH")
    return found


@functools.cache
def trackstore_server_missing() -> str | None:
    """Why ``trackstore server`` cannot run here, or None."""
    try:
        script = _script("trackstore")
    except ServerError as exc:
        return str(exc)
    done = subprocess.run([script, "server", "--help"], capture_output=True, text=True,
                          timeout=120, check=False)
    if done.returncode != 0:
        return f"`trackstore server --help` failed: {(done.stderr or done.stdout).strip()[-300:]}"
    return None


def _cpu_ticks(session: int) -> int:
    """CPU clock ticks used so far by the live processes of *session* (Linux ``/proc``)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        # fields[0] is field 3 (state): session is field 6, utime and stime fields 14 and 15
        if int(fields[3]) == session:
            total += int(fields[11]) + int(fields[12])
    return total


def _processes(session: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


@dataclass
class Server:
    """A tracking server subprocess (its own session: every process it starts is in it)."""

    lib: str  # "trackstore" or "mlflow"
    backend_store_uri: str
    workers: int
    directory: Path  # its log and artifact root
    options: tuple[str, ...] = ()  # more command-line options (MLflow's choice of server)
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    start_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log(self) -> Path:
        return self.directory / f"{self.lib}-server.log"

    def command(self) -> list[str]:
        common = ["--backend-store-uri", self.backend_store_uri,
                  "--default-artifact-root", str(self.directory / "artifacts"),
                  "--host", HOST, "--port", str(self.port), "--workers", str(self.workers)]
        if self.lib == "trackstore":
            return [_script("trackstore"), "server", *common, *self.options]
        return [_script("mlflow"), "server", *common, *self.options]

    def start(self, timeout: float = 180.0) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        started = time.perf_counter()
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env}, cwd=self.directory, start_new_session=True)
        try:
            self._wait_healthy(started + timeout)
            self._wait_quiet(started + timeout)
        except BaseException:
            self.kill()
            raise
        self.start_seconds = time.perf_counter() - started

    def _wait_healthy(self, deadline: float) -> None:
        assert self.process is not None
        while True:
            if self.process.poll() is not None:
                raise ServerError(f"{self.lib} server exited ({self.process.returncode}) "
                                  f"before it was ready:\n{self.log_tail()}")
            with contextlib.suppress(OSError, ValueError, IndexError):
                connection = Connection(HOST, self.port, timeout=5)
                try:
                    status, body = connection.call("GET", "/health")
                finally:
                    connection.close()
                if status == 200:
                    assert body.strip() == b"OK", body
                    return
            if time.perf_counter() > deadline:
                raise ServerError(f"{self.lib} server not healthy in time:\n{self.log_tail()}")
            time.sleep(0.1)

    def _wait_quiet(self, deadline: float) -> None:
        """Until the server's processes use under 5 % of a core over 0.5 s.

        ``/health`` answers as soon as one worker is up; the others may still be importing,
        and would take CPU from the first rounds (and not serve them).
        """
        assert self.process is not None
        if not Path("/proc/self/stat").exists():  # not Linux: a pause instead
            time.sleep(3)
            return
        hz = os.sysconf("SC_CLK_TCK")
        before = _cpu_ticks(self.process.pid)
        while time.perf_counter() < deadline:
            time.sleep(0.5)
            now = _cpu_ticks(self.process.pid)
            if (now - before) / hz < 0.025:
                return
            before = now

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server's live processes (0.0 where there is no /proc)."""
        if self.process is None or not Path("/proc/self/stat").exists():
            return 0.0
        return _cpu_ticks(self.process.pid) / os.sysconf("SC_CLK_TCK")

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM; return the exit status. ServerError if any of its processes outlives it."""
        assert self.process is not None
        session = self.process.pid
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ServerError(f"{self.lib} server still running {timeout:.0f} s after "
                              f"SIGTERM:\n{self.log_tail()}") from None
        deadline = time.perf_counter() + 10
        while (left := _processes(session)) and time.perf_counter() < deadline:
            time.sleep(0.1)
        if left:
            self.kill()
            raise ServerError(f"{self.lib} server exited but left processes {left} running")
        return status

    def kill(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    """*server* started, then stopped by SIGTERM (ServerError if it did not stop cleanly)."""
    server.start()
    try:
        yield server
    except BaseException:
        with contextlib.suppress(Exception):
            server.stop()
        raise
    status = server.stop()
    # 0, or killed by the SIGTERM it was sent (a server that does not handle it but exits)
    if status not in (0, -signal.SIGTERM):
        raise ServerError(f"{server.lib} server exited with {status} after SIGTERM:\n"
                          f"{server.log_tail()}")
