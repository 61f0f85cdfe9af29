"""Fresh databases for the SQL benchmarks: a SQLite file, or a database created on a server.

The servers are the throwaway PostgreSQL and MariaDB of ``.ci/databases`` (``start`` them,
then ``eval "$(.ci/databases env)"``). Their admin URIs are read from the variables that
script exports, with its defaults when unset:

* ``TRACKSTORE_TEST_POSTGRES_URI`` (``postgresql+psycopg2://trackstore:trackstore@127.0.0.1:54329/postgres``)
* ``TRACKSTORE_TEST_MYSQL_URI`` (``mysql+pymysql://trackstore:trackstore@127.0.0.1:33069/mysql``)

A dialect whose server does not answer is skipped, with the reason. Each benchmark gets a
database of its own, created before and dropped after; both libraries are given the same kind
of URI (with its driver named: MLflow needs ``mysql+pymysql://`` for MySQL/MariaDB).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

DIALECTS = ["sqlite", "postgresql", "mysql"]
SERVERS = {
    "postgresql": ("TRACKSTORE_TEST_POSTGRES_URI",
                   "postgresql+psycopg2://trackstore:trackstore@127.0.0.1:54329/postgres"),
    "mysql": ("TRACKSTORE_TEST_MYSQL_URI",
              "mysql+pymysql://trackstore:trackstore@127.0.0.1:33069/mysql"),
}


def admin_uri(dialect: str) -> str:
    variable, default = SERVERS[dialect]
    return os.environ.get(variable) or default


def _admin_engine(dialect: str) -> Engine:
    import sqlalchemy as sa

    connect_args = {"connect_timeout": 5}
    # CREATE/DROP DATABASE cannot run in a transaction on PostgreSQL.
    return sa.create_engine(admin_uri(dialect), isolation_level="AUTOCOMMIT",
                            poolclass=sa.pool.NullPool, connect_args=connect_args)


@cache
def unreachable(dialect: str) -> str | None:
    """Why *dialect*'s server cannot be used, or None (SQLite is always there)."""
    if dialect == "sqlite":
        return None
    variable, _ = SERVERS[dialect]
    try:
        engine = _admin_engine(dialect)
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        engine.dispose()
    except Exception as exc:  # any failure to connect: a missing driver, no server, a login
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (f"{dialect} server unreachable at {admin_uri(dialect).split('@')[-1]} "
                f"({first_line[:160]}); start it with `.ci/databases start` and "
                f"`eval \"$(.ci/databases env)\"`, or set {variable}")
    return None


@cache
def server_version(dialect: str) -> str:
    """``PostgreSQL 15.x`` / ``MariaDB 10.x``, or ``SQLite 3.x`` (for the results' notes)."""
    if dialect == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    engine = _admin_engine(dialect)
    with engine.connect() as connection:
        query = "SHOW server_version" if dialect == "postgresql" else "SELECT VERSION()"
        version = str(connection.exec_driver_sql(query).scalar())
    engine.dispose()
    if dialect == "postgresql":
        return f"PostgreSQL {version.split(maxsplit=1)[0]}"
    return f"MariaDB {version.split('-', maxsplit=1)[0]}" if "mariadb" in version.lower() else \
        f"MySQL {version}"


def skip_unreachable(dialect: str) -> None:
    """Skip for an unreachable server; fail instead with ``TRACKSTORE_REQUIRE_DATABASES=1`` (CI)."""
    reason = unreachable(dialect)
    if reason:
        if os.environ.get("TRACKSTORE_REQUIRE_DATABASES", "").strip() == "1":
            pytest.fail(f"{reason} (TRACKSTORE_REQUIRE_DATABASES=1)", pytrace=False)
        pytest.skip(reason)


def _create(dialect: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    engine = _admin_engine(dialect)
    with engine.connect() as connection:
        if dialect == "mysql":
            connection.exec_driver_sql(
                f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        else:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    url = make_url(admin_uri(dialect)).set(database=name)
    return url.render_as_string(hide_password=False)


def _drop(dialect: str, name: str) -> None:
    engine = _admin_engine(dialect)
    with engine.connect() as connection:
        if dialect == "mysql":
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        else:  # FORCE: a pooled connection left open must not keep the database alive
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


_templates: dict[str, Path] = {}


def _sqlite_template(library: str, create_schema: Callable[[str], None]) -> Path:
    """A SQLite file holding only the schema *library* creates on first use (once a session)."""
    template = _templates.get(library)
    if template is None:
        template = Path(tempfile.mkdtemp(prefix="trackstore-bench-template-")) / "empty.db"
        uri = f"sqlite:///{template}"
        create_schema(uri)
        release(uri)
        for suffix in ("-wal", "-shm", "-journal"):
            if Path(f"{template}{suffix}").exists():
                raise AssertionError(f"{template}{suffix} left behind: the copy would lack it")
        _templates[library] = template
        atexit.register(shutil.rmtree, template.parent, True)
    return template


@contextmanager
def fresh_database(dialect: str, tmp_path: Path, label: str,
                   create_schema: Callable[[str], None] | None = None) -> Iterator[str]:
    """The URI of an empty database of *dialect*, dropped afterwards (skips if unreachable).

    SQLite, given *create_schema* (which opens the database with one library): a copy of a
    file where that library created its schema, made once per session and per *label*; the
    library finds its schema there as in a database it created itself, and the benchmarks do
    not wait for MLflow's ~50 schema migrations (seconds each time, on a disk) every time.
    """
    skip_unreachable(dialect)
    if dialect == "sqlite":
        tmp_path.mkdir(parents=True, exist_ok=True)
        path = tmp_path / f"{label}.db"
        if create_schema is not None:
            shutil.copyfile(_sqlite_template(label, create_schema), path)
        uri = f"sqlite:///{path}"
        try:
            yield uri
        finally:
            release(uri)
        return
    name = f"bench_{label}_{uuid.uuid4().hex[:10]}"
    uri = _create(dialect, name)
    try:
        yield uri
    finally:
        release(uri)
        _drop(dialect, name)


def release(uri: str) -> None:
    """Close the pooled connections that trackstore and MLflow hold to *uri*."""
    from trackstore.store import registry
    from trackstore.store.sql import engine

    registry.clear_cache()
    with engine._engines_lock:
        found = engine._engines.pop(uri, None)
    if found is not None:
        found.dispose()
    try:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    except ImportError:
        return
    # MLflow keeps one engine per URI for the process (and its client registry a store).
    with SqlAlchemyStore._engine_map_lock:
        found = SqlAlchemyStore._engine_map.pop(uri, None)
    if found is not None:
        found.dispose()


def analyze(uri: str) -> None:
    """Refresh the server's planner statistics of *uri*'s database after a bulk build.

    What autovacuum (PostgreSQL) or InnoDB's automatic recalculation (MariaDB) does in the
    background some time after a bulk load: done now, so the plans do not depend on when the
    benchmark runs. SQLite keeps no statistics unless asked (neither library asks): nothing.
    """
    import sqlalchemy as sa

    if uri.startswith("sqlite"):
        return
    engine = sa.create_engine(uri, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        if uri.startswith("postgresql"):
            connection.exec_driver_sql("ANALYZE")
        else:
            tables = [row[0] for row in connection.exec_driver_sql("SHOW TABLES")]
            if tables:
                connection.exec_driver_sql(
                    "ANALYZE TABLE " + ", ".join(f"`{t}`" for t in tables)).all()
    engine.dispose()
