"""Brand-new empty databases for the SQL store's tests, one per test.

SQLite needs nothing. The database servers are named by admin URIs in the environment (CI and
``eval "$(.ci/databases env)"`` set them)::

    TRACKSTORE_TEST_POSTGRES_URI  postgresql+psycopg2://trackstore:trackstore@127.0.0.1:54329/postgres
    TRACKSTORE_TEST_MYSQL_URI     mysql+pymysql://trackstore:trackstore@127.0.0.1:33069/mysql
    TRACKSTORE_TEST_MSSQL_URI     mssql+pymssql://sa:...@127.0.0.1:1433/master  (optional)

A server whose URI is unset skips its tests, unless ``TRACKSTORE_REQUIRE_DATABASES=1`` (CI): then
PostgreSQL and MySQL fail instead, so that CI cannot pass without them. SQL Server is never
required (no CI machine has one).

Typical use::

    @pytest.fixture(params=SQL_KINDS)
    def db_uri(request, tmp_path):
        with fresh_database(request.param, tmp_path) as uri:
            yield uri
"""

from __future__ import annotations

import atexit
import itertools
import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url

URI_VARIABLES = {
    "postgresql": "TRACKSTORE_TEST_POSTGRES_URI",
    "mysql": "TRACKSTORE_TEST_MYSQL_URI",
    "mssql": "TRACKSTORE_TEST_MSSQL_URI",
}
REQUIRE_VARIABLE = "TRACKSTORE_REQUIRE_DATABASES"
OPTIONAL_SERVERS = frozenset({"mssql"})
# Every name this module creates starts so; nothing else is ever dropped.
NAME_PREFIX = "ts_"
# A DROP DATABASE that waits longer than this on a lock fails instead of hanging the suite.
LOCK_TIMEOUT_SECONDS = 20


def sql_kinds(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The kinds of SQL database to run the SQL store's tests against."""
    kinds = ["sqlite", "postgresql", "mysql"]
    if environ.get(URI_VARIABLES["mssql"]):
        kinds.append("mssql")
    return kinds


SQL_KINDS = sql_kinds()


def databases_required(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get(REQUIRE_VARIABLE, "").strip() == "1"


def server_uri(kind: str) -> str:
    """The admin URI of the *kind* server; skips (or, where required, fails) the test without."""
    try:
        variable = URI_VARIABLES[kind]
    except KeyError:
        raise ValueError(f"no database server of kind {kind!r}") from None
    uri = os.environ.get(variable, "").strip()
    if uri:
        return uri
    if databases_required() and kind not in OPTIONAL_SERVERS:
        pytest.fail(
            f"{variable} is unset but {REQUIRE_VARIABLE}=1: start the servers with "
            f'`.ci/databases start` and `eval "$(.ci/databases env)"`',
            pytrace=False,
        )
    pytest.skip(f"no {kind} server: {variable} is unset (see .ci/databases)")


_counter = itertools.count(1)


def unique_name() -> str:
    """A database name no other test, process or earlier run uses: ``ts_<pid>_<n>_<random>``."""
    return f"{NAME_PREFIX}{os.getpid()}_{next(_counter)}_{secrets.token_hex(4)}"


def database_uri(admin_uri: str, name: str) -> str:
    """*admin_uri* with its database replaced by *name* (password kept, for a store to use)."""
    return make_url(admin_uri).set(database=name).render_as_string(hide_password=False)


# One admin engine per server and process, its connection kept between tests: a new connection
# costs a login and SQLAlchemy's dialect set-up (tens of ms, more than a CREATE DATABASE).
_admin_engines: dict[tuple[int, str], sa.Engine] = {}
_CONNECT_TIMEOUTS = {
    "postgresql": "connect_timeout",
    "mysql": "connect_timeout",
    "mssql": "login_timeout",
}


def admin_engine(kind: str) -> sa.Engine:
    """The engine of the *kind* server's admin URI, in autocommit (CREATE/DROP DATABASE)."""
    uri = server_uri(kind)
    key = (os.getpid(), uri)  # a forked child makes its own connections
    engine = _admin_engines.get(key)
    if engine is None:
        engine = sa.create_engine(
            uri,
            isolation_level="AUTOCOMMIT",
            pool_size=1,
            pool_pre_ping=True,  # the server may have been restarted between two tests
            connect_args={_CONNECT_TIMEOUTS[kind]: 10},
        )
        _admin_engines[key] = engine
    return engine


@atexit.register
def dispose_admin_engines() -> None:
    """Close the admin connections (at exit; a test may call it to check what it left)."""
    while _admin_engines:
        _, engine = _admin_engines.popitem()
        engine.dispose()


def _quote(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote_identifier(name)


def create_database(kind: str, name: str) -> str:
    """Create the empty database *name* on the *kind* server and return its URI."""
    engine = admin_engine(kind)
    with engine.connect() as connection:
        quoted = _quote(connection, name)
        if kind == "mysql":  # the collation stays the server's default (a case-insensitive one)
            connection.exec_driver_sql(f"CREATE DATABASE {quoted} CHARACTER SET utf8mb4")
        else:
            connection.exec_driver_sql(f"CREATE DATABASE {quoted}")
    return database_uri(engine.url.render_as_string(hide_password=False), name)


def drop_database(kind: str, name: str) -> None:
    """Drop *name* from the *kind* server, cutting off the connections still open to it."""
    if not name.startswith(NAME_PREFIX):
        raise ValueError(f"refusing to drop {name!r}: not a database of the tests")
    with admin_engine(kind).connect() as connection:
        quoted = _quote(connection, name)
        if kind == "postgresql":
            _drop_postgresql(connection, name, quoted)
        elif kind == "mysql":
            _drop_mysql(connection, name, quoted)
        else:
            _drop_mssql(connection, name, quoted)


def _drop_postgresql(connection: Connection, name: str, quoted: str) -> None:
    connection.exec_driver_sql(f"SET lock_timeout = '{LOCK_TIMEOUT_SECONDS}s'")
    version = connection.dialect.server_version_info or (0,)
    if version >= (13,):
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        return
    # Before 13: forbid new connections, end the open ones, then drop.
    found = connection.execute(
        sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
    ).first()
    if found is None:
        return
    connection.exec_driver_sql(f"ALTER DATABASE {quoted} ALLOW_CONNECTIONS false")
    connection.execute(
        sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = :name AND pid <> pg_backend_pid()"
        ),
        {"name": name},
    )
    connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}")


def _drop_mysql(connection: Connection, name: str, quoted: str) -> None:
    connection.exec_driver_sql(f"SET SESSION lock_wait_timeout = {LOCK_TIMEOUT_SECONDS}")
    ids = (
        connection.execute(
            sa.text(
                "SELECT id FROM information_schema.processlist"
                " WHERE db = :name AND id <> CONNECTION_ID()"
            ),
            {"name": name},
        )
        .scalars()
        .all()
    )
    for thread_id in ids:
        try:
            connection.exec_driver_sql(f"KILL CONNECTION {int(thread_id)}")
        except sa.exc.DBAPIError as exc:
            if "Unknown thread id" not in str(exc):  # it ended meanwhile
                raise
    connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}")


def _drop_mssql(connection: Connection, name: str, quoted: str) -> None:
    exists = connection.execute(sa.text("SELECT DB_ID(:name)"), {"name": name}).scalar()
    if exists is None:
        return
    connection.exec_driver_sql(f"ALTER DATABASE {quoted} SET SINGLE_USER WITH ROLLBACK IMMEDIATE")
    connection.exec_driver_sql(f"DROP DATABASE {quoted}")


def database_exists(kind: str, name: str) -> bool:
    """Whether the *kind* server has a database *name* (for the tests of this module)."""
    queries = {
        "postgresql": "SELECT 1 FROM pg_database WHERE datname = :name",
        "mysql": "SELECT 1 FROM information_schema.schemata WHERE schema_name = :name",
        "mssql": "SELECT 1 FROM sys.databases WHERE name = :name",
    }
    with admin_engine(kind).connect() as connection:
        return connection.execute(sa.text(queries[kind]), {"name": name}).first() is not None


# The SQLite files handed out and not yet dropped (a store creates its file on first use only).
_sqlite_paths: set[Path] = set()


def _sqlite_path(tmp_path: Path) -> Path:
    path = tmp_path / "store.db"
    for n in itertools.count(2):
        if path not in _sqlite_paths and not path.exists():
            _sqlite_paths.add(path)
            return path
        path = tmp_path / f"store-{n}.db"
    raise AssertionError("unreachable")


@contextmanager
def fresh_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URI of a brand-new empty database of *kind*, dropped on the way out.

    SQLite: a file in *tmp_path* (``store.db``; ``store-2.db``... when that one is taken),
    deleted afterwards. A server: a database of a unique name created through the admin URI
    (``CHARACTER SET utf8mb4`` on MySQL/MariaDB) and dropped afterwards, even with connections
    still open to it (the store under test may keep a pool): they are ended first.
    """
    if kind == "sqlite":
        path = _sqlite_path(tmp_path)
        try:
            yield f"sqlite:///{path}"
        finally:
            for leftover in (path, *(Path(f"{path}{end}") for end in ("-wal", "-shm", "-journal"))):
                leftover.unlink(missing_ok=True)
            _sqlite_paths.discard(path)
        return
    name = unique_name()
    uri = create_database(kind, name)
    try:
        yield uri
    finally:
        drop_database(kind, name)
