"""A PostgreSQL and a MariaDB of the test's own, to stop and start while clients use them.

The shared test servers (``.ci/databases``, ``TRACKSTORE_TEST_*_URI``) must never be
restarted: other tests use them at the same time. :class:`PrivateServers` starts a pair with
``.ci/databases start DIR`` on free ports (the script creates the users, data directories and
admin logins, and handles running as root), then restarts each once with settings under which
a killed server keeps every commit it acknowledged: the throwaway defaults (PostgreSQL's
``synchronous_commit = off``, InnoDB's ``innodb_flush_log_at_trx_commit = 0``) let a commit
return before its log reaches the kernel, so an immediate stop loses the last ones, which
would measure the server's configuration rather than trackstore. Here PostgreSQL runs with
``synchronous_commit = on`` (``fsync`` stays off: the data survives a killed server, not a
power loss) and MariaDB with ``innodb_flush_log_at_trx_commit = 2``.

:meth:`PrivateServers.stop` stops one server, ``fast`` (PostgreSQL: ``pg_ctl -m fast``, which
ends the sessions; MariaDB: SIGTERM) or ``immediate`` (PostgreSQL: ``pg_ctl -m immediate``,
no shutdown at all, crash recovery at the next start; MariaDB: SIGKILL), and
:meth:`PrivateServers.start` starts it again on the same port and data, returning once it
accepts logins.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests._databases import databases_required
from tests._server_process import free_port

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "databases"
ADMIN = "trackstore:trackstore"
START_TIMEOUT = 120.0


def _missing_packages() -> str:
    result = subprocess.run([str(SCRIPT), "packages"], capture_output=True, text=True,
                            timeout=60, check=False)
    return result.stdout.strip() if result.returncode == 0 else "(unknown)"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _as_user(uid: int) -> list[str]:
    """The prefix that runs a command as *uid* (none when that is us)."""
    if os.getuid() == uid:
        return []
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--init-groups", "--"]


class PrivateServers:
    """``.ci/databases start DIR`` on free ports; see the module doc."""

    def __init__(self) -> None:
        missing = _missing_packages()
        if missing:
            if databases_required():
                pytest.fail(f"database server packages missing: {missing}", pytrace=False)
            pytest.skip(f"database server packages missing: {missing}")
        # Not under pytest's base directory: the servers' users must reach it (mode 700).
        self.dir = Path(tempfile.mkdtemp(prefix="ts-restart-", dir="/tmp"))
        self.dir.chmod(0o755)
        self.ports = {"postgresql": free_port(), "mysql": free_port()}
        self._env = {**os.environ, "TRACKSTORE_TEST_POSTGRES_PORT": str(self.ports["postgresql"]),
                     "TRACKSTORE_TEST_MYSQL_PORT": str(self.ports["mysql"])}
        self._mariadb_argv: list[str] = []
        self._run_script("start")
        self.stop("postgresql", "fast")
        self.start("postgresql")
        self._mariadb_argv = [a for a in self._mariadb_process_argv()
                              if not a.startswith("--innodb-flush-log-at-trx-commit")]
        self._mariadb_argv.append("--innodb-flush-log-at-trx-commit=2")
        self.stop("mysql", "fast")
        self.start("mysql")

    def _run_script(self, command: str) -> None:
        result = subprocess.run([str(SCRIPT), command, str(self.dir)], env=self._env,
                                capture_output=True, text=True, timeout=START_TIMEOUT,
                                check=False, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise AssertionError(f".ci/databases {command} {self.dir} failed: "
                                 f"{result.stdout}{result.stderr}")

    def close(self) -> None:
        """Stop both servers and delete their data."""
        try:
            self._run_script("stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def admin_uri(self, kind: str, database: str) -> str:
        port = self.ports[kind]
        if kind == "postgresql":
            return f"postgresql+psycopg2://{ADMIN}@127.0.0.1:{port}/{database}"
        return f"mysql+pymysql://{ADMIN}@127.0.0.1:{port}/{database}"

    def create_database(self, kind: str, name: str) -> str:
        """A new empty database *name*; its URI."""
        engine = sa.create_engine(self.admin_uri(kind, "postgres" if kind == "postgresql"
                                                 else "mysql"),
                                  isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            extra = " CHARACTER SET utf8mb4" if kind == "mysql" else ""
            conn.exec_driver_sql(f"CREATE DATABASE {name}{extra}")
        engine.dispose()
        return self.admin_uri(kind, name)

    # -- PostgreSQL ---------------------------------------------------------------------------

    @property
    def _pg(self) -> Path:
        return self.dir / "postgres"

    def _pg_ctl(self, *args: str) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                       key=lambda p: [int(x) for x in p.parts[-3].split(".") if x.isdigit()])
        assert found, "no pg_ctl in /usr/lib/postgresql/*/bin"
        owner = (self._pg / "data").stat().st_uid
        result = subprocess.run([*_as_user(owner), str(found[-1]), *args, "-D",
                                 str(self._pg / "data")], cwd=self._pg, capture_output=True,
                                text=True, timeout=START_TIMEOUT, check=False,
                                stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            log = (self._pg / "server.log").read_text(errors="replace")[-3000:]
            raise AssertionError(f"pg_ctl {' '.join(args)}: {result.stdout}{result.stderr}\n{log}")

    # -- MariaDB ------------------------------------------------------------------------------

    @property
    def _my(self) -> Path:
        return self.dir / "mariadb"

    def _mariadb_pid(self) -> int:
        return int((self._my / "mariadbd.pid").read_text().split()[0])

    def _mariadb_process_argv(self) -> list[str]:
        raw = Path(f"/proc/{self._mariadb_pid()}/cmdline").read_bytes()
        return [part.decode() for part in raw.split(b"\0") if part]

    # -- both ---------------------------------------------------------------------------------

    def stop(self, kind: str, mode: str) -> None:
        """Stop *kind*'s server: *mode* ``fast`` or ``immediate`` (see the module doc)."""
        if mode not in ("fast", "immediate"):
            raise ValueError(mode)
        if kind == "postgresql":
            self._pg_ctl("stop", "-m", mode, "-w", "-t", "60")
            return
        pid = self._mariadb_pid()
        os.kill(pid, signal.SIGTERM if mode == "fast" else signal.SIGKILL)
        deadline = time.monotonic() + 60
        while _alive(pid):
            assert time.monotonic() < deadline, f"MariaDB (pid {pid}) did not stop"
            time.sleep(0.02)

    def start(self, kind: str) -> None:
        """Start *kind*'s server again; return once it accepts logins."""
        if kind == "postgresql":
            self._pg_ctl("start", "-w", "-t", "60", "-l", str(self._pg / "server.log"),
                         "-o", "-c synchronous_commit=on")
        else:
            owner = (self._my / "data").stat().st_uid
            with open(self._my / "server.log", "ab") as log:
                subprocess.Popen([*_as_user(owner), *self._mariadb_argv], cwd=self._my,
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                 start_new_session=True)
        self.wait_accepting(kind)

    def wait_accepting(self, kind: str) -> None:
        engine = sa.create_engine(self.admin_uri(kind, "postgres" if kind == "postgresql"
                                                 else "mysql"), poolclass=sa.pool.NullPool)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while True:
                try:
                    with engine.connect() as conn:
                        conn.exec_driver_sql("SELECT 1")
                    return
                except sa.exc.DBAPIError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
        finally:
            engine.dispose()
