"""Tracking servers as subprocesses: ``mlflow server`` (the oracle) or ``trackstore server``.

Each server runs from this virtualenv on a free port of 127.0.0.1, with its own backend store
URI and artifact root, and its own process group (so that nothing it forks can outlive it).
Starting is split from waiting, so that several servers (of one test) start at once::

    with running_servers([ServerSpec("mlflow", uri_a, root_a),
                          ServerSpec("trackstore", uri_b, root_b)]) as (oracle, candidate):
        ...  # oracle.url, candidate.url

A server is *ready* when ``GET /health`` answers ``200 OK``. On the way out each one gets
SIGTERM and must exit with status 0, leaving no process of its group behind; a server that
does not is killed and the test fails, with the tail of the server's stderr in the message.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SERVER_KINDS = ("mlflow", "trackstore")
HOST = "127.0.0.1"
# `mlflow server` imports MLflow twice (its CLI, then the uvicorn worker): ~10 s on an idle
# 2-core machine, several times that on a loaded one.
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
# The environment every server gets, on top of the caller's:
SERVER_ENV = {
    # MLflow >= 3.13 refuses a file store (`mlruns`) unless told otherwise.
    "MLFLOW_ALLOW_FILE_STORE": "true",
    # MLflow's job runner (a huey consumer per job kind: seven more processes, each importing
    # MLflow) serves GenAI jobs, nothing of tracking; without it the server starts in half
    # the time.
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "PYTHONUNBUFFERED": "1",
}
# Variables of the test process that must not leak into a server.
UNSET_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME",
             "MLFLOW_RUN_ID", "MLFLOW_REGISTRY_URI")


class ServerError(AssertionError):
    """A server that did not start, did not answer, or did not stop cleanly."""


@dataclass(frozen=True)
class ServerSpec:
    """What to run: a server *kind* with a backend store URI and a default artifact root."""

    kind: str
    backend_uri: str
    artifact_root: str
    workers: int = 1
    env: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in SERVER_KINDS:
            raise ValueError(f"unknown server kind {self.kind!r}; one of {SERVER_KINDS}")


def _executable(name: str) -> list[str]:
    """This virtualenv's console script *name* (else ``python -m <name>``)."""
    script = Path(sys.executable).with_name(name)
    if script.exists():
        return [str(script)]
    found = shutil.which(name)
    return [found] if found else [sys.executable, "-m", name]


def server_command(spec: ServerSpec, port: int) -> list[str]:
    """The command line that runs *spec* on *port*: the same options for both kinds."""
    options = ["--backend-store-uri", spec.backend_uri,
               "--default-artifact-root", spec.artifact_root,
               "--host", HOST, "--port", str(port), "--workers", str(spec.workers)]
    if spec.kind == "mlflow":
        # trackstore serves no artifacts; MLflow must not either, or it would hand out
        # `mlflow-artifacts:/` locations instead of the artifact root.
        return [*_executable("mlflow"), "server", *options, "--no-serve-artifacts"]
    return [*_executable("trackstore"), "server", *options]


def trackstore_server_missing() -> str | None:
    """Why ``trackstore server`` cannot run here, or None when its ``--help`` works."""
    try:
        result = subprocess.run([*_executable("trackstore"), "server", "--help"],
                                capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`trackstore server --help` failed: {exc}"
    if result.returncode != 0:
        return (f"`trackstore server --help` exited with {result.returncode}: "
                f"{(result.stderr or result.stdout).strip()[-500:]}")
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _health(url: str) -> tuple[int, str] | None:
    """(status, body) of ``GET /health``, or None while nothing answers."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (OSError, ValueError):
        return None


class ServerProcess:
    """One server subprocess (its own session and process group); see the module doc."""

    def __init__(self, spec: ServerSpec, log_dir: Path, *, start_timeout: float = START_TIMEOUT,
                 attempts: int = 3) -> None:
        self.spec = spec
        self.log_dir = log_dir
        self.start_timeout = start_timeout
        self.ready_after: float | None = None  # seconds from the start to the first 200 OK
        self._attempts_left = attempts
        self._stopped = False
        self._launch()

    def _launch(self) -> None:
        self._attempts_left -= 1
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.command = server_command(self.spec, self.port)
        env = {k: v for k, v in os.environ.items() if k not in UNSET_ENV}
        env.update(SERVER_ENV)
        env.update(self.spec.env)
        self.stderr_path = self.log_dir / f"{self.spec.kind}-{self.port}.stderr"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{self.spec.kind}-cwd-", dir=self.log_dir))
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=stderr, stderr=subprocess.STDOUT,
                cwd=self.workdir, env=env, start_new_session=True)
        self.started_at = time.monotonic()

    def __repr__(self) -> str:
        return f"<{self.spec.kind} server {self.url} pid={self.process.pid}>"

    def stderr_tail(self, limit: int = 6000) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no stderr: {exc})"
        return text if len(text) <= limit else "..." + text[-limit:]

    def describe(self) -> str:
        return (f"{self.spec.kind} server on {self.url} ({' '.join(self.command)}), "
                f"output:\n{self.stderr_tail()}")

    def poll_ready(self) -> bool:
        """One look: whether ``GET /health`` answers ``200 OK`` yet.

        A server that answers anything else, exits, or is still not ready
        :attr:`start_timeout` seconds after it was started is killed: ServerError.
        """
        if self.ready_after is not None:
            return True
        answer = _health(self.url)
        if answer is not None:
            status, body = answer
            if status == 200 and body.strip() == "OK":
                self.ready_after = time.monotonic() - self.started_at
                return True
            self.kill()
            raise ServerError(f"GET /health answered {status} {body[:200]!r}: "
                              f"{self.describe()}")
        code = self.process.poll()
        if code is not None:
            tail = self.stderr_tail()
            if "address already in use" in tail.lower() and self._attempts_left > 0:
                self._launch()  # another process took the free port meanwhile
                return False
            self._reap_group()
            raise ServerError(f"exited with {code} before it was ready: {self.describe()}")
        if time.monotonic() - self.started_at > self.start_timeout:
            self.kill()
            raise ServerError(f"not ready {self.start_timeout:.0f} s after it was started: "
                              f"{self.describe()}")
        return False

    def wait_ready(self) -> None:
        """Poll ``GET /health`` until it answers ``200 OK`` (see :meth:`poll_ready`)."""
        while not self.poll_ready():
            time.sleep(0.1)

    def _group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # a member that changed its credentials; still there
            return True
        return True

    def _reap_group(self) -> None:
        if self._group_alive():
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """SIGKILL the whole process group (no questions asked)."""
        self._stopped = True
        self._reap_group()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM the server; it must exit with 0 and leave no process of its group behind."""
        if self._stopped:
            return
        self._stopped = True
        code = self.process.poll()
        if code is not None:
            self._reap_group()
            raise ServerError(f"exited with {code} before it was stopped: {self.describe()}")
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._reap_group()
            self.process.wait()
            raise ServerError(f"still running {timeout:.0f} s after SIGTERM (killed): "
                              f"{self.describe()}") from None
        deadline = time.monotonic() + timeout
        while self._group_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._group_alive():
            self._reap_group()
            raise ServerError(f"left processes behind {timeout:.0f} s after it exited "
                              f"(killed): {self.describe()}")
        if code != 0:
            raise ServerError(f"exited with {code} on SIGTERM (expected 0): {self.describe()}")


@contextmanager
def running_servers(specs: Sequence[ServerSpec], log_dir: Path,
                    timeout: float = START_TIMEOUT) -> Iterator[list[ServerProcess]]:
    """Start every server of *specs* at once, wait until all are ready, stop them all after.

    Stopping is checked (exit status 0, nothing left behind) only when the body succeeded;
    after a failure the servers are still stopped, and killed if need be, without hiding it.
    """
    servers: list[ServerProcess] = []
    try:
        for spec in specs:
            servers.append(ServerProcess(spec, log_dir, start_timeout=timeout))
        for server in servers:
            server.wait_ready()
    except BaseException:
        for server in servers:
            server.kill()
        raise
    try:
        yield servers
    except BaseException:
        for server in servers:
            try:
                server.stop()
            except ServerError:
                server.kill()
        raise
    errors: list[str] = []
    for server in servers:
        try:
            server.stop()
        except ServerError as exc:
            errors.append(str(exc))
    if errors:
        raise ServerError("\n\n".join(errors))


@contextmanager
def running_server(kind: str, backend_uri: str, artifact_root: str, log_dir: Path, *,
                   workers: int = 1, timeout: float = START_TIMEOUT) -> Iterator[ServerProcess]:
    """One server of *kind* (``mlflow`` or ``trackstore``); see :func:`running_servers`."""
    spec = ServerSpec(kind, backend_uri, artifact_root, workers)
    with running_servers([spec], log_dir, timeout) as (server,):
        yield server
