"""The real ``trackstore server`` command as a subprocess, on a free port of 127.0.0.1.

Typical use::

    with TrackstoreServer(["--backend-store-uri", uri, "--workers", "2"], cwd=tmp_path) as server:
        Api(server.url).ok("/experiments/create", {"name": "x"})
    # here the server got SIGTERM and exited with 0; server.stderr() holds its whole log

Each server runs in its own session (process group), its stderr and stdout each in a file
(in a ``server-logs-*`` directory of its working directory). Constructing one starts it, so
that several start at once (``a, b = TrackstoreServer(...), TrackstoreServer(...)``, then
``with a, b:``); entering waits until ``GET /health`` answers ``200 OK``. Leaving sends SIGTERM
to the command's process only (as ``docker stop`` does: the command must stop its workers
itself) and requires exit status 0 within the stop timeout and no process of its group left
behind; a server that hangs is killed and the test fails. Every failure message carries the
server's output.

:func:`run_refused` runs the command when it must not start: it has to exit by itself.
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
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

HOST = "127.0.0.1"
START_TIMEOUT = 60.0  # two workers start in ~3 s on an idle 2-core machine
STOP_TIMEOUT = 30.0
#: Variables of the test process that must not reach a server (it reads them as options).
_LEAKY_PREFIXES = ("MLFLOW_",)
_LEAKY = frozenset({"TRACKSTORE_AUTH_FILE"})


def trackstore_command() -> list[str]:
    """This virtualenv's ``trackstore`` console script (else the CLI through this Python)."""
    script = Path(sys.executable).with_name("trackstore")
    if script.exists():
        return [str(script)]
    found = shutil.which("trackstore")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from trackstore.cli import main; sys.exit(main())"]


def server_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
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


def health(url_port: int, timeout: float = 2.0) -> tuple[int, bytes] | None:
    """(status, body) of ``GET /health``, or None while nothing answers."""
    conn = http.client.HTTPConnection(HOST, url_port, timeout=timeout)
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


class ServerFailed(AssertionError):
    """The server did not start, did not answer, or did not stop as it must."""


class TrackstoreServer:
    """One ``trackstore server`` subprocess; see the module doc."""

    def __init__(self, args: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None,
                 start_timeout: float = START_TIMEOUT, stop_timeout: float = STOP_TIMEOUT,
                 attempts: int = 3) -> None:
        self.args = list(args)
        self.cwd = cwd
        self.env = server_env(env)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._attempts_left = attempts
        self.returncode: int | None = None
        self._log_dir = Path(tempfile.mkdtemp(prefix="server-logs-", dir=cwd))
        self._launch()

    def _launch(self) -> None:
        self._attempts_left -= 1
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.command = [*trackstore_command(), "server", *self.args,
                        "--host", HOST, "--port", str(self.port)]
        self.stderr_path = self._log_dir / f"server-{self.port}.stderr"
        self.stdout_path = self._log_dir / f"server-{self.port}.stdout"
        with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
            self.process = subprocess.Popen(
                self.command, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=err, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

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

    def wait_ready(self) -> None:
        """Poll ``GET /health`` until it answers ``200 OK``; kill and fail otherwise."""
        deadline = time.monotonic() + self.start_timeout
        while True:
            answer = health(self.port)
            if answer is not None:
                if answer == (200, b"OK"):
                    return
                self.kill()
                raise ServerFailed(f"GET /health answered {answer!r}: {self.describe()}")
            code = self.process.poll()
            if code is not None:
                if "address already in use" in self.stderr().lower() and self._attempts_left:
                    self._reap_group()
                    self._launch()  # another process took the free port meanwhile
                    continue
                self.kill()
                raise ServerFailed(f"exited with {code} before it served: {self.describe()}")
            if time.monotonic() > deadline:
                self.kill()
                raise ServerFailed(f"not ready after {self.start_timeout:.0f} s: "
                                   f"{self.describe()}")
            time.sleep(0.05)

    def wait_for_log(self, text: str, count: int = 1, timeout: float = 30.0) -> None:
        """Wait until *text* occurs *count* times in the server's stderr; fail otherwise."""
        deadline = time.monotonic() + timeout
        while self.stderr().count(text) < count:
            if time.monotonic() > deadline:
                raise ServerFailed(f"{text!r} not {count} time(s) in the log after "
                                   f"{timeout:.0f} s: {self.describe()}")
            time.sleep(0.05)

    # -- stopping --------------------------------------------------------------------------

    def _group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
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

    def wait_exit(self, timeout: float | None = None) -> int:
        """Wait for the process to exit; its status. A process that hangs is killed (fails)."""
        timeout = self.stop_timeout if timeout is None else timeout
        try:
            self.returncode = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ServerFailed(f"still running {timeout:.0f} s after SIGTERM (killed): "
                               f"{self.describe()}") from None
        deadline = time.monotonic() + timeout
        while self._group_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._group_alive():
            self._reap_group()
            raise ServerFailed(f"left processes behind after it exited (killed): "
                               f"{self.describe()}")
        return self.returncode

    def stop(self) -> None:
        """SIGTERM, then require exit status 0 (once stopped, a no-op)."""
        if self.returncode is None:
            if self.process.poll() is not None:
                self._reap_group()
                raise ServerFailed(f"exited with {self.process.returncode} before it was "
                                   f"stopped: {self.describe()}")
            self.terminate()
            self.wait_exit()
        if self.returncode != 0:
            raise ServerFailed(f"exited with {self.returncode} on SIGTERM (expected 0): "
                               f"{self.describe()}")

    # -- context manager -------------------------------------------------------------------

    def __enter__(self) -> TrackstoreServer:
        self.wait_ready()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.stop()
            return
        try:  # the test failed already: stop anyway, without hiding its error
            self.stop()
        except ServerFailed:
            self.kill()


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
    port = free_port()
    command = [*trackstore_command(), "server", *args, "--host", HOST, "--port", str(port)]
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=cwd, env=server_env(env), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    served = False
    while process.poll() is None and time.monotonic() - started < timeout:
        served = served or health(port, timeout=0.2) is not None
        time.sleep(0.05)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        _, err = process.communicate()
        raise ServerFailed(f"`{' '.join(command)}` still running after {timeout:.0f} s "
                           f"(killed); stderr:\n{err.decode(errors='replace')}")
    out, err = process.communicate()
    refusal = Refusal(process.returncode, err.decode(errors="replace"),
                      out.decode(errors="replace"), time.monotonic() - started)
    assert not served, f"`{' '.join(command)}` served /health before exiting: {refusal}"
    return refusal
