"""Database URIs to SQLAlchemy engines: drivers, pool options, per-dialect connection set-up.

URIs are SQLAlchemy's ``<dialect>[+<driver>]://<user>:<password>@<host>:<port>/<database>``
(``sqlite:///relative.db``, ``sqlite:////absolute.db``). A bare dialect is given a driver
that is installed, in the order of :data:`DRIVERS` (SQLAlchemy 2.1 maps a bare
``postgresql://`` to psycopg 3 and ``mysql://`` to mysqlclient, which users often lack); a
missing driver is a clear error naming the extra to install.

Pool options come from MLflow's variables (mlflow-spec §3):

=======================================  ===================  ======================
variable                                 ``create_engine``    values
=======================================  ===================  ======================
``MLFLOW_SQLALCHEMYSTORE_POOL_SIZE``     ``pool_size``        integer >= 0
``MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW``  ``max_overflow``     integer >= -1
``MLFLOW_SQLALCHEMYSTORE_POOL_RECYCLE``  ``pool_recycle``     seconds, integer >= -1
``MLFLOW_SQLALCHEMYSTORE_ECHO``          ``echo``             true/false/1/0
``MLFLOW_SQLALCHEMYSTORE_POOLCLASS``     ``poolclass``        a class of ``sqlalchemy.pool``
=======================================  ===================  ======================

Unlike MLflow, a ``0`` is applied, not ignored (``MAX_OVERFLOW=0`` means no overflow), and a
bad value is an error naming the variable. ``MLFLOW_MYSQL_SSL_CA``/``_CERT``/``_KEY`` go to
the MySQL driver's ``ssl`` options.

Stale connections (a restarted server, an idle timeout) are caught as MLflow's
``pool_pre_ping`` catches them, but a connection is pinged only when it comes out of the pool
after sitting idle for :data:`PING_AFTER` seconds: a training loop logging point after point
does not pay a round trip per call for it. A failed ping discards the connection (and the
pool's other idle ones) and the pool hands out a fresh one.

SQLite connections get ``journal_mode=WAL`` (readers never block the writer, and a commit
costs an append to the log), ``synchronous=NORMAL`` (``FULL`` with ``TRACKSTORE_FSYNC=1``: a
power loss may lose the last commits, a killed process never), ``foreign_keys=ON`` and a
20-second ``busy_timeout``. Transactions are begun explicitly: ``BEGIN IMMEDIATE`` for writes
(:func:`write_transaction`), so two processes never both hold a read snapshot they then fail
to upgrade.
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, pool
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError

from ...exceptions import INVALID_PARAMETER_VALUE, TrackstoreError

#: Dialects and, for each, the drivers tried (module to import, SQLAlchemy driver name) when
#: the URI names none, with the extra that installs the first.
DRIVERS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "sqlite": ("", [("sqlite3", "pysqlite")]),
    "postgresql": ("postgres", [("psycopg2", "psycopg2"), ("psycopg", "psycopg"),
                                ("pg8000", "pg8000")]),
    "mysql": ("mysql", [("pymysql", "pymysql"), ("MySQLdb", "mysqldb"),
                        ("mysql.connector", "mysqlconnector")]),
    "mssql": ("mssql", [("pymssql", "pymssql"), ("pyodbc", "pyodbc")]),
}
SCHEMES = tuple(DRIVERS)

POOL_CLASSES = ("AssertionPool", "AsyncAdaptedQueuePool", "FallbackAsyncAdaptedQueuePool",
                "NullPool", "QueuePool", "SingletonThreadPool", "StaticPool")

_ENV_PREFIX = "MLFLOW_SQLALCHEMYSTORE_"
_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _invalid(message: str) -> TrackstoreError:
    return TrackstoreError(message, INVALID_PARAMETER_VALUE)


def is_sql_uri(uri: str) -> bool:
    scheme = uri.split(":", 1)[0].lower()
    return scheme.split("+", 1)[0] in DRIVERS and "://" in uri


def resolve_url(uri: str) -> URL:
    """The SQLAlchemy URL for *uri*, with an installed driver chosen for a bare dialect."""
    scheme = uri.split("://", 1)[0]
    if scheme.count("+") > 1:
        raise _invalid(f"Invalid database URI {uri!r}: at most one '+' may separate the "
                       "dialect from the driver (e.g. 'postgresql+psycopg2://...')")
    try:
        url = make_url(uri)
    except ArgumentError as exc:
        raise _invalid(f"Invalid database URI {uri!r}: {exc}") from None
    dialect = url.get_backend_name()
    if dialect == "mariadb":
        dialect = "mysql"
    if dialect not in DRIVERS:
        raise _invalid(f"Unsupported database {url.get_backend_name()!r} in {uri!r}: "
                       f"expected one of {', '.join(SCHEMES)}")
    extra, candidates = DRIVERS[dialect]
    if "+" in scheme:
        return url
    for module, driver in candidates:
        if _importable(module):
            return url.set(drivername=f"{url.get_backend_name()}+{driver}")
    hint = f"pip install 'trackstore[{extra}]'" if extra else "a Python built with sqlite3"
    raise _invalid(f"No driver for {dialect} is installed (tried "
                   f"{', '.join(m for m, _ in candidates)}): {hint}")


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _env_int(name: str, minimum: int) -> int | None:
    raw = os.environ.get(_ENV_PREFIX + name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise _invalid(f"Invalid value {raw!r} for {_ENV_PREFIX}{name}: expected an integer "
                       f">= {minimum}")
    return value


def pool_options() -> dict[str, Any]:
    """``create_engine`` keyword arguments from the ``MLFLOW_SQLALCHEMYSTORE_*`` variables."""
    options: dict[str, Any] = {}
    for name, keyword, minimum in (("POOL_SIZE", "pool_size", 0),
                                   ("MAX_OVERFLOW", "max_overflow", -1),
                                   ("POOL_RECYCLE", "pool_recycle", -1)):
        value = _env_int(name, minimum)
        if value is not None:
            options[keyword] = value
    echo = os.environ.get(_ENV_PREFIX + "ECHO", "").strip()
    if echo:
        if echo.lower() not in ("true", "false", "1", "0"):
            raise _invalid(f"Invalid value {echo!r} for {_ENV_PREFIX}ECHO: expected true, "
                           "false, 1 or 0")
        options["echo"] = echo.lower() in ("true", "1")
    poolclass = os.environ.get(_ENV_PREFIX + "POOLCLASS", "").strip()
    if poolclass:
        cls = getattr(pool, poolclass, None) if poolclass in POOL_CLASSES else None
        if cls is None:
            known = ", ".join(n for n in POOL_CLASSES if hasattr(pool, n))
            raise _invalid(f"Invalid value {poolclass!r} for {_ENV_PREFIX}POOLCLASS: expected "
                           f"one of {known}")
        options["poolclass"] = cls
    return options


def _check_pool_options(options: dict[str, Any]) -> None:
    cls = options.get("poolclass")
    sizing = [k for k in ("pool_size", "max_overflow") if k in options]
    if cls is not None and sizing and not issubclass(cls, pool.QueuePool):
        raise _invalid(f"{_ENV_PREFIX}POOL_SIZE and MAX_OVERFLOW apply only to a QueuePool; "
                       f"{_ENV_PREFIX}POOLCLASS is {cls.__name__}")


def _mysql_ssl() -> dict[str, str]:
    ssl = {}
    for name in ("CA", "CERT", "KEY"):
        value = os.environ.get(f"MLFLOW_MYSQL_SSL_{name}")
        if value:
            ssl[name.lower()] = value
    return ssl


def create_engine(uri: str) -> Engine:
    """A new engine for *uri* (see the module doc); prefer :func:`engine_for` (shared)."""
    url = resolve_url(uri)
    dialect = url.get_backend_name()
    options = pool_options()
    _check_pool_options(options)
    kwargs: dict[str, Any] = {**options}
    if dialect == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            raise _invalid(f"Unsupported SQLite URI {uri!r}: an in-memory database would "
                           "vanish with its connection; give a file path, e.g. "
                           "sqlite:///mlflow.db")
        parent = os.path.dirname(os.path.abspath(database))
        os.makedirs(parent, exist_ok=True)
    elif dialect in ("mysql", "mariadb"):
        ssl = _mysql_ssl()
        if ssl:
            kwargs["connect_args"] = {"ssl": ssl}
        kwargs.setdefault("isolation_level", "READ COMMITTED")  # (PostgreSQL's default)
    try:
        engine = sa.create_engine(url, **kwargs)
    except (TypeError, ArgumentError) as exc:
        raise _invalid(f"Cannot create an engine for {uri!r}: {exc}") from None
    if engine.dialect.name == "sqlite":
        _set_up_sqlite(engine)
    else:
        _ping_when_idle(engine)
    return engine


def engine_for(uri: str) -> Engine:
    """The process-wide engine of *uri* (created on first use; shared by every store)."""
    engine = _engines.get(uri)
    if engine is None:
        with _engines_lock:
            engine = _engines.get(uri)
            if engine is None:
                engine = _engines[uri] = create_engine(uri)
    return engine


def dispose_engines() -> None:
    """Close every pooled connection of every shared engine (tests, forked children)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


#: Seconds a pooled connection may sit unused before it is pinged on its way out of the pool.
PING_AFTER = 1.0


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["trackstore_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("trackstore_idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
            dbapi_connection.rollback()  # end the transaction the ping may have begun
        except Exception as exc:  # the server went away: a fresh connection instead
            raise DisconnectionError(f"stale pooled connection: {exc}") from exc


class DedicatedConnections:
    """Driver connections kept apart from the engine's pool for one hot statement.

    A pool checkout and return cost a ``log_metric`` call on PostgreSQL about a seventh of
    the server's CPU for it (py-spy, GIL-holding samples): the pool's bookkeeping, its event
    hooks and the reset on return. The single-point write instead takes a connection from a
    stack of its own: a ``pop`` and an ``append``. Each connection is made by the engine
    (its connect hooks and options) and then detached from the pool, so these never count
    against the pool's size; at most *keep* idle ones are kept, one more is closed on
    return. *setup* runs once on each new connection (autocommit, a ``PREPARE``). As in the
    pool, a connection idle for :data:`PING_AFTER` seconds is pinged before use and replaced
    if the server is gone; one that met an error is closed, not returned. A forked child
    never uses its parent's connections (it opens its own).
    """

    def __init__(self, engine: Engine, setup: Any, keep: int = 5) -> None:
        self._engine = engine
        self._setup = setup
        self._keep = keep
        self._idle: list[tuple[Any, float]] = []  # (driver connection, idle since)
        self._pid = os.getpid()

    def connection(self) -> _Lease:
        """A connection for one ``with`` block: ``with points.connection() as conn: ...``
        (a small object, not a generator: this is on every single-point write)."""
        return _Lease(self)

    def _take(self) -> Any:
        if self._pid != os.getpid():
            self._idle, self._pid = [], os.getpid()  # the parent's stay open for the parent
        while self._idle:
            conn, idle_since = self._idle.pop()
            if time.monotonic() - idle_since < PING_AFTER:
                return conn
            try:
                self._engine.dialect.do_ping(conn)
                return conn
            except Exception:  # the server went away: a fresh connection instead
                conn.close()
        fairy = self._engine.raw_connection()
        fairy.detach()
        fresh: Any = fairy.dbapi_connection
        try:
            self._setup(fresh)
        except BaseException:
            fresh.close()
            raise
        return fresh

    def _give(self, conn: Any) -> None:
        if len(self._idle) < self._keep and self._pid == os.getpid():
            self._idle.append((conn, time.monotonic()))
        else:
            conn.close()

    def close(self) -> None:
        """Close the idle connections (a connection in use is closed when it comes back)."""
        idle, self._idle = self._idle, []
        if self._pid == os.getpid():
            for conn, _ in idle:
                conn.close()


class _Lease:
    """One use of a :class:`DedicatedConnections` connection: returned after the block,
    closed if the block raised."""

    __slots__ = ("_conn", "_owner")

    def __init__(self, owner: DedicatedConnections) -> None:
        self._owner = owner
        self._conn: Any = None

    def __enter__(self) -> Any:
        self._conn = self._owner._take()
        return self._conn

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if kind is None:
            self._owner._give(self._conn)
        else:
            self._conn.close()


#: SQLite: how long a connection waits for another's lock before "database is locked".
BUSY_SECONDS = 20


def _wal_mode(cursor: Any) -> str:
    """Put the database in WAL mode (it stays so: the mode is in the file), and say its mode.

    Only the first connection to a new database switches it; the others find it in WAL mode
    already, without the exclusive lock a switch takes. A switch that meets another
    connection's lock fails at once with "database is locked" (SQLite does not wait for it,
    whatever the busy timeout), as it does when several processes open a new database at the
    same moment; it is retried, with a growing pause, for up to :data:`BUSY_SECONDS`.
    """
    row = cursor.execute("PRAGMA journal_mode").fetchone()
    if row is not None and str(row[0]).lower() == "wal":
        return "wal"
    deadline = time.monotonic() + BUSY_SECONDS
    pause = 0.001
    while True:
        try:
            row = cursor.execute("PRAGMA journal_mode = WAL").fetchone()
            return "" if row is None else str(row[0]).lower()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _set_up_sqlite(engine: Engine) -> None:
    synchronous = "FULL" if os.environ.get("TRACKSTORE_FSYNC") == "1" else "NORMAL"

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_SECONDS * 1000}")
        mode = _wal_mode(cursor)
        if mode != "wal":
            raise TrackstoreError(f"Cannot put the SQLite database in WAL mode (got {mode!r})",
                                  INVALID_PARAMETER_VALUE)
        cursor.execute(f"PRAGMA synchronous = {synchronous}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("trackstore_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction, committed on success, rolled back on error."""
    with engine.connect().execution_options(trackstore_write=True) as connection, \
            connection.begin():
        yield connection
