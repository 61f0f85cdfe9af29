"""Tracking servers (``trackstore server`` or ``mlflow server``) as subprocesses on 127.0.0.1.

Typical use::

    with trackstore_server(["--backend-store-uri", uri, "--workers", "2"], cwd=tmp_path) as server:
        Api(server.url).ok("/experiments/create", {"name": "x"})
    # here the server got SIGTERM and exited with 0; server.stderr() holds its whole log

A :class:`ServerProcess` runs a command line (see :func:`trackstore_server_command` and
:func:`mlflow_server_command`) with ``--host 127.0.0.1 --port <a free port>`` appended, in its
own session (process group), its stdout and stderr each in a file (in a ``server-logs-*``
directory of its working directory). Constructing one starts it, so that several start at once
(``a, b = trackstore_server(...), trackstore_server(...)``, then ``with a, b:``); entering waits
until ``GET /health`` answers ``200 OK`` (or :meth:`~ServerProcess.poll_ready` looks once, to
wait for several servers in one loop). Stopping sends SIGTERM to the command's process only
(as ``docker stop`` does: the command must stop its workers itself) and requires exit status 0
within the stop timeout and no process of its group left behind; a server that hangs is killed
and the test fails. Every failure message carries the server's output.

:func:`run_refused` runs ``trackstore server`` when it must not start: it has to exit by itself.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

HOST = "127.0.0.1"
# `mlflow server` imports MLflow twice (its CLI, then the uvicorn worker): ~10 s on an idle
# 2-core machine, several times that on a loaded one; two trackstore workers start in ~3 s.
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
#: Variables of the test process that must not reach a server or client (they read them as
#: options).
_LEAKY_PREFIXES = ("MLFLOW_",)
_LEAKY = frozenset({"TRACKSTORE_AUTH_FILE"})
#: What a server of a :class:`ServerSpec` gets on top of :func:`clean_env`.
SPEC_ENV = {
    # MLflow >= 3.13 refuses a file store (`mlruns`) unless told otherwise.
    "MLFLOW_ALLOW_FILE_STORE": "true",
    # MLflow's job runner (a huey consumer per job kind: seven more processes, each importing
    # MLflow) serves GenAI jobs, nothing of tracking; without it the server starts in half
    # the time.
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}


class ServerError(AssertionError):
    """A server that did not start, did not answer, or did not stop as it must."""


# -- command lines and small checks ------------------------------------------------------------


def _console_script(name: str, *fallback: str) -> list[str]:
    """This virtualenv's console script *name*, else one on the PATH, else *fallback*."""
    script = Path(sys.executable).with_name(name)
    if script.exists():
        return [str(script)]
    found = shutil.which(name)
    return [found] if found else [sys.executable, *fallback]


def trackstore_server_command(*args: str) -> list[str]:
    """``trackstore server ARGS`` (without ``--host`` and ``--port``)."""
    cli = "import sys; from trackstore.cli import main; sys.exit(main())"
    return [*_console_script("trackstore", "-c", cli), "server", *args]


def mlflow_server_command(*args: str) -> list[str]:
    """``mlflow server ARGS`` (without ``--host`` and ``--port``)."""
    return [*_console_script("mlflow", "-m", "mlflow"), "server", *args]


def trackstore_server_missing() -> str | None:
    """Why ``trackstore server`` cannot run here, or None when its ``--help`` works."""
    try:
        result = subprocess.run(trackstore_server_command("--help"), capture_output=True,
                                text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`trackstore server --help` failed: {exc}"
    if result.returncode != 0:
        return (f"`trackstore server --help` exited with {result.returncode}: "
                f"{(result.stderr or result.stdout).strip()[-500:]}")
    return None


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without what would configure a server, plus *extra*."""
    env = {k: v for k, v in os.environ.items()
           if k not in _LEAKY and not k.startswith(_LEAKY_PREFIXES)}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def free_port() -> int:
    """A port nothing listens on right now (another process may take it: callers retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def refuses_connections(port: int) -> bool:
    """Whether a TCP connection to *port* is refused (nothing listens there)."""
    try:
        with socket.create_connection((HOST, port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


def health(port: int, timeout: float = 2.0) -> tuple[int, bytes] | None:
    """(status, body) of ``GET /health``, or None while nothing answers."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", "/health")
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError as exc:
        return f"(unreadable: {exc})"


# -- the server process ------------------------------------------------------------------------


class ServerProcess:
    """One server subprocess; see the module doc."""

    def __init__(self, command: Sequence[str], *, cwd: Path,
                 env: Mapping[str, str] | None = None, start_timeout: float = START_TIMEOUT,
                 attempts: int = 3) -> None:
        self.base_command = list(command)
        self.cwd = cwd
        self.env = clean_env(env)
        self.start_timeout = start_timeout
        self.ready_after: float | None = None  # seconds from the start to the first 200 OK
        self.returncode: int | None = None
        self._attempts_left = attempts
        self._log_dir = Path(tempfile.mkdtemp(prefix="server-logs-", dir=cwd))
        self._launch()

    def _launch(self) -> None:
        self._attempts_left -= 1
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.command = [*self.base_command, "--host", HOST, "--port", str(self.port)]
        self.stderr_path = self._log_dir / f"server-{self.port}.stderr"
        self.stdout_path = self._log_dir / f"server-{self.port}.stdout"
        with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
            self.process = subprocess.Popen(
                self.command, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=err, start_new_session=True)
        self.started_at = time.monotonic()

    def stderr(self) -> str:
        """Everything the server wrote to stderr so far."""
        return _read(self.stderr_path)

    def stdout(self) -> str:
        return _read(self.stdout_path)

    def describe(self) -> str:
        text = self.stderr()
        tail = text if len(text) <= 8000 else "..." + text[-8000:]
        return (f"`{' '.join(self.command)}` (cwd {self.cwd}), stdout:\n{self.stdout()[-2000:]}"
                f"\nstderr:\n{tail}")

    # -- starting --------------------------------------------------------------------------

    def poll_ready(self) -> bool:
        """One look: whether ``GET /health`` answers ``200 OK`` yet.

        A server that answers anything else, exits, or is still not ready
        :attr:`start_timeout` seconds after it was started is killed: ServerError.
        """
        if self.ready_after is not None:
            return True
        answer = health(self.port)
        if answer is not None:
            if answer[0] == 200 and answer[1].strip() == b"OK":
                self.ready_after = time.monotonic() - self.started_at
                return True
            self.kill()
            raise ServerError(f"GET /health answered {answer!r}: {self.describe()}")
        code = self.process.poll()
        if code is not None:
            output = (self.stderr() + self.stdout()).lower()
            if "address already in use" in output and self._attempts_left > 0:
                self.kill()
                self._launch()  # another process took the free port meanwhile
                return False
            self.kill()
            raise ServerError(f"exited with {code} before it served: {self.describe()}")
        if time.monotonic() - self.started_at > self.start_timeout:
            self.kill()
            raise ServerError(f"not ready {self.start_timeout:.0f} s after it was started: "
                              f"{self.describe()}")
        return False

    def wait_ready(self) -> None:
        """Poll ``GET /health`` until it answers ``200 OK`` (see :meth:`poll_ready`)."""
        while not self.poll_ready():
            time.sleep(0.05)

    def wait_for_log(self, text: str, count: int = 1, timeout: float = 30.0) -> None:
        """Wait until *text* occurs *count* times in the server's stderr; fail otherwise."""
        deadline = time.monotonic() + timeout
        while self.stderr().count(text) < count:
            if time.monotonic() > deadline:
                raise ServerError(f"{text!r} not {count} time(s) in the log after "
                                  f"{timeout:.0f} s: {self.describe()}")
            time.sleep(0.05)

    # -- stopping --------------------------------------------------------------------------

    def _group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # a member that changed its credentials; still there
            return True
        return True

    def _reap_group(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL the server and every process of its group."""
        self._reap_group()
        try:
            self.returncode = self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass

    def terminate(self) -> None:
        """Send SIGTERM to the command's process (not its workers: it must stop them)."""
        self.process.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int:
        """Wait for the process to exit; its status. A process that hangs is killed (fails),
        and so is any process of its group still there *timeout* seconds after it exited."""
        try:
            self.returncode = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ServerError(f"still running {timeout:.0f} s after SIGTERM (killed): "
                              f"{self.describe()}") from None
        deadline = time.monotonic() + timeout
        while self._group_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._group_alive():
            self._reap_group()
            raise ServerError(f"left processes behind {timeout:.0f} s after it exited "
                              f"(killed): {self.describe()}")
        return self.returncode

    def stop(self) -> None:
        """SIGTERM, then require exit status 0 (once stopped, a no-op)."""
        if self.returncode is None:
            if self.process.poll() is not None:
                self._reap_group()
                raise ServerError(f"exited with {self.process.returncode} before it was "
                                  f"stopped: {self.describe()}")
            self.terminate()
            self.wait_exit()
        if self.returncode != 0:
            raise ServerError(f"exited with {self.returncode} on SIGTERM (expected 0): "
                              f"{self.describe()}")

    # -- context manager -------------------------------------------------------------------

    def __enter__(self) -> ServerProcess:
        self.wait_ready()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.stop()
            return
        try:  # the test failed already: stop anyway, without hiding its error
            self.stop()
        except ServerError:
            self.kill()


def trackstore_server(args: Sequence[str], *, cwd: Path,
                      env: Mapping[str, str] | None = None) -> ServerProcess:
    """``trackstore server ARGS`` started in *cwd*; see :class:`ServerProcess`."""
    return ServerProcess(trackstore_server_command(*args), cwd=cwd, env=env)


@dataclass(frozen=True)
class ServerSpec:
    """A server *kind* (``mlflow`` or ``trackstore``) with a backend store URI and a default
    artifact root: the same options for both kinds."""

    kind: str
    backend_uri: str
    artifact_root: str
    workers: int = 1
    env: Mapping[str, str] = field(default_factory=dict)

    def command(self) -> list[str]:
        options = ["--backend-store-uri", self.backend_uri,
                   "--default-artifact-root", self.artifact_root, "--workers", str(self.workers)]
        if self.kind == "mlflow":
            # The scenarios log no artifacts: MLflow's proxy stays off (trackstore's default
            # one is tested in tests/compat/test_mlflow_artifact_proxy.py); with the artifact
            # root given, both servers hand out the same locations either way.
            return mlflow_server_command(*options, "--no-serve-artifacts")
        if self.kind == "trackstore":
            return trackstore_server_command(*options)
        raise ValueError(f"unknown server kind {self.kind!r}; mlflow or trackstore")

    def start(self, root: Path) -> ServerProcess:
        """The server started in a new working directory under *root*."""
        cwd = Path(tempfile.mkdtemp(prefix=f"{self.kind}-cwd-", dir=root))
        return ServerProcess(self.command(), cwd=cwd, env={**SPEC_ENV, **self.env})


@dataclass(frozen=True)
class Refusal:
    """How ``trackstore server`` ended when it had to refuse to start."""

    returncode: int
    stderr: str
    stdout: str
    seconds: float


def run_refused(args: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None,
                timeout: float = 30.0) -> Refusal:
    """Run ``trackstore server ARGS`` where it must refuse to start.

    The command must exit by itself within *timeout* (else it is killed and this fails), and
    must never have answered ``GET /health`` on its port meanwhile.
    """
    server = ServerProcess(trackstore_server_command(*args), cwd=cwd, env=env, attempts=1)
    served = False
    while server.process.poll() is None and time.monotonic() - server.started_at < timeout:
        served = served or health(server.port, timeout=0.2) is not None
        time.sleep(0.05)
    running = server.process.poll() is None
    server.kill()  # the process group: whatever the command left behind
    if running:
        raise ServerError(f"still running after {timeout:.0f} s (killed): {server.describe()}")
    assert server.returncode is not None
    refusal = Refusal(server.returncode, server.stderr(), server.stdout(),
                      time.monotonic() - server.started_at)
    assert not served, f"served /health before exiting: {refusal}, {server.describe()}"
    return refusal
