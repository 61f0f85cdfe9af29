"""Schema revisions of a trackstore database: read, create, upgrade and check them.

The migrations are alembic's, shipped in :mod:`.migrations` and driven from here: the alembic
configuration is built in code (no ``alembic.ini``), and the revision lives in the table
``trackstore_alembic_version``, so a trackstore database is never mistaken for an MLflow one
(MLflow's is ``alembic_version``) nor the other way round.

:func:`ensure_schema` is what a store runs when it starts:

======================================================  =======================================
the database                                            what happens
======================================================  =======================================
at the head revision                                    nothing (one query: the revision)
empty (no tables)                                       the migrations run up to head, under a
                                                        lock, so concurrent starts make one
                                                        schema
at an older trackstore revision                         ``INVALID_STATE``: back up, then run
                                                        ``trackstore db upgrade <uri>``
at a revision this trackstore does not know             ``INVALID_STATE``: written by a newer
                                                        trackstore
tables but no trackstore revision (e.g. MLflow's)       ``INVALID_STATE``: not a trackstore
                                                        database; it is not touched
======================================================  =======================================

The error code is ``INVALID_STATE``: the request and the URI are fine, the database is in a
state the store cannot work with until an operator acts (upgrade it, upgrade trackstore, or
point at another database); retrying does not help (not ``TEMPORARILY_UNAVAILABLE``) and it is
no bug (not ``INTERNAL_ERROR``).

The lock that makes concurrent first starts safe: ``pg_advisory_xact_lock`` on PostgreSQL (DDL
is transactional there, so the whole creation is one transaction), ``GET_LOCK`` on
MySQL/MariaDB (per database name), ``sp_getapplock`` on SQL Server, and ``BEGIN IMMEDIATE`` on
SQLite (engines from :mod:`.engine` issue it for write transactions). The state is read again
inside the lock.

:func:`check` compares the reflected database with :data:`.schema.metadata`, per dialect:
tables, columns (type, collation, nullability, identity), primary, unique and foreign keys,
check constraints (by name) and indexes, and the revision.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, NoReturn, TextIO

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import URL, Connection, Engine

from ...exceptions import (
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    TEMPORARILY_UNAVAILABLE,
    TrackstoreError,
)
from . import schema
from .engine import resolve_url

VERSION_TABLE = "trackstore_alembic_version"
MLFLOW_VERSION_TABLE = "alembic_version"
MIGRATIONS = Path(__file__).with_name("migrations")

#: How long a process waits for another one that is changing the schema (MySQL, SQL Server;
#: SQLite waits its ``busy_timeout``, PostgreSQL as long as it takes).
LOCK_SECONDS = 120
_PG_LOCK_KEY = int.from_bytes(hashlib.sha256(b"trackstore.schema").digest()[:8], "big",
                              signed=True)
_VERSIONS = sa.table(VERSION_TABLE, sa.column("version_num", sa.String(32)))

State = Literal["empty", "current", "out_of_date", "newer", "not_trackstore"]


@dataclass(frozen=True)
class SchemaStatus:
    """What a database holds: its revision, its tables (not the version table), their state."""

    state: State
    revision: str | None
    tables: tuple[str, ...]
    versioned: bool = False  # it has trackstore's version table (maybe empty)


# -- revisions ---------------------------------------------------------------------------------

def _config(connection: Connection | None = None, dialect: str | None = None,
            output: TextIO | None = None) -> Config:
    config = Config(output_buffer=output)
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    config.attributes["dialect_name"] = dialect
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


@cache
def revisions() -> tuple[str, ...]:
    """Every revision this trackstore knows, oldest first."""
    return tuple(reversed([script.revision for script in _scripts().walk_revisions()]))


def head_revision() -> str:
    """The newest revision: the one :data:`.schema.metadata` describes."""
    return revisions()[-1]


def _read_revision(connection: Connection) -> str | None:
    found = connection.execute(sa.select(_VERSIONS.c.version_num)).scalars().all()
    if len(found) > 1:
        raise TrackstoreError(f"The database holds several trackstore revisions "
                              f"({', '.join(found)}) in {VERSION_TABLE}; expected one",
                              INVALID_STATE)
    return found[0] if found else None


@contextmanager
def _connected(bind: Connection | Engine) -> Iterator[Connection]:
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.connect() as connection:
            yield connection


def current_revision(bind: Connection | Engine) -> str | None:
    """The database's trackstore revision; None when it has none (empty, or not trackstore's)."""
    with _connected(bind) as connection:
        if not sa.inspect(connection).has_table(VERSION_TABLE):
            return None
        return _read_revision(connection)


def _state(revision: str | None, has_tables: bool) -> State:
    if revision is None:
        return "not_trackstore" if has_tables else "empty"
    if revision == head_revision():
        return "current"
    return "out_of_date" if revision in revisions() else "newer"


def _status(connection: Connection) -> SchemaStatus:
    tables = set(sa.inspect(connection).get_table_names())
    revision = _read_revision(connection) if VERSION_TABLE in tables else None
    versioned = VERSION_TABLE in tables
    tables.discard(VERSION_TABLE)
    return SchemaStatus(_state(revision, bool(tables)), revision, tuple(sorted(tables)),
                        versioned)


def status(bind: Connection | Engine) -> SchemaStatus:
    """The state of the database behind *bind* (see :data:`State`)."""
    with _connected(bind) as connection:
        return _status(connection)


# -- refusals ----------------------------------------------------------------------------------

def display_url(url: URL | str) -> str:
    """*url* as it may be shown: the password masked, the driver left out if it is the default.

    (The default: the one :func:`.engine.resolve_url` picks for the bare dialect, so the URI
    shown works as the user probably wrote it.)
    """
    url = sa.make_url(url)
    bare = url.set(drivername=url.get_backend_name())
    try:
        if resolve_url(bare.render_as_string(hide_password=False)).drivername == url.drivername:
            url = bare
    except TrackstoreError:
        pass
    return url.render_as_string(hide_password=True)


def _listing(tables: tuple[str, ...], most: int = 6) -> str:
    shown = ", ".join(tables[:most])
    return shown + (f" and {len(tables) - most} more" if len(tables) > most else "")


def refusal(found: SchemaStatus, url: URL | str) -> TrackstoreError | None:
    """Why a store cannot start on a database in state *found*; None if it can."""
    where = display_url(url)
    head = head_revision()
    if found.state == "out_of_date":
        return TrackstoreError(
            f"Detected an out-of-date database schema at {where} (found revision "
            f"{found.revision}, but this trackstore needs {head}). Take a backup of your "
            f"database, then run 'trackstore db upgrade {where}' to migrate it to the latest "
            "schema.", INVALID_STATE)
    if found.state == "newer":
        return TrackstoreError(
            f"The database at {where} has schema revision {found.revision}, which this "
            f"trackstore does not know (it knows up to {head}): it was written by a newer "
            "trackstore. Upgrade trackstore to use it.", INVALID_STATE)
    if found.state == "not_trackstore":
        if MLFLOW_VERSION_TABLE in found.tables:
            what = (f"it has MLflow's {MLFLOW_VERSION_TABLE} table and tables "
                    f"{_listing(found.tables)}: it looks like an MLflow database")
        elif found.versioned and set(found.tables) <= set(schema.metadata.tables):
            return TrackstoreError(
                f"The database at {where} holds some of trackstore's tables "
                f"({_listing(found.tables)}) but no revision: creating its schema did not "
                "finish (MySQL cannot roll back a CREATE TABLE). Drop those tables, then start "
                f"again or run 'trackstore db upgrade {where}'.", INVALID_STATE)
        else:
            what = f"it holds tables ({_listing(found.tables)}) but no trackstore revision"
        return TrackstoreError(
            f"The database at {where} is not a trackstore database: {what}. trackstore keeps "
            "its own schema and has not touched this database; give it a new, empty database.",
            INVALID_STATE)
    return None


def _refuse(found: SchemaStatus, url: URL) -> NoReturn:
    error = refusal(found, url)
    assert error is not None, found
    raise error


# -- locking and migrating ---------------------------------------------------------------------

def _timed_out(url: URL) -> TrackstoreError:
    return TrackstoreError(f"Timed out after {LOCK_SECONDS} s waiting for another process to "
                           f"finish creating or upgrading the schema of {display_url(url)}",
                           TEMPORARILY_UNAVAILABLE)


@contextmanager
def _mysql_lock(connection: Connection) -> Iterator[None]:
    name = "CONCAT('trackstore:', SHA1(DATABASE()))"  # GET_LOCK names are server-wide
    got = connection.execute(sa.text(f"SELECT GET_LOCK({name}, :seconds)"),
                             {"seconds": LOCK_SECONDS}).scalar()
    connection.commit()
    if got != 1:
        raise _timed_out(connection.engine.url)
    try:
        yield
    finally:
        try:
            connection.execute(sa.text(f"SELECT RELEASE_LOCK({name})"))
            connection.commit()
        except sa.exc.DBAPIError:
            connection.invalidate()  # never return a connection that may hold the lock


@contextmanager
def schema_lock(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction, holding trackstore's schema lock on *engine*'s database.

    The transaction commits when the block ends without an error. On SQLite the engine must
    come from :mod:`.engine` (whose write transactions begin with ``BEGIN IMMEDIATE``).
    """
    dialect = engine.dialect.name
    with engine.connect() as connection:
        if dialect in ("mysql", "mariadb"):
            with _mysql_lock(connection), connection.begin():
                yield connection
            return
        if dialect == "sqlite":
            connection.execution_options(trackstore_write=True)
        with connection.begin():
            if dialect == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": _PG_LOCK_KEY})
            elif dialect == "mssql":
                got = connection.execute(sa.text(
                    "SET NOCOUNT ON; DECLARE @got INT; EXEC @got = sp_getapplock "
                    "@Resource = 'trackstore.schema', @LockMode = 'Exclusive', "
                    "@LockOwner = 'Transaction', @LockTimeout = :ms; SELECT @got"),
                    {"ms": LOCK_SECONDS * 1000}).scalar()
                if got is None or got < 0:
                    raise _timed_out(engine.url)
            yield connection


def _alembic(run: Callable[[Config, str], Any], connection: Connection, revision: str) -> None:
    try:
        run(_config(connection), revision)
    except CommandError as exc:
        raise TrackstoreError(f"Cannot migrate the database to revision {revision!r}: {exc}",
                              INVALID_PARAMETER_VALUE) from None


def _migrate(run: Callable[[Config, str], Any], engine: Engine,
             revision: str) -> tuple[str | None, str | None]:
    with schema_lock(engine) as connection:
        found = _status(connection)
        if found.state in ("newer", "not_trackstore"):
            _refuse(found, engine.url)
        _alembic(run, connection, revision)
        return found.revision, _read_revision(connection)


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate the database up to *revision*; returns the revisions (before, after).

    An empty database is created by running every migration; a database that is not
    trackstore's, or is newer than this trackstore, is refused untouched.
    """
    return _migrate(command.upgrade, engine, revision)


def downgrade(engine: Engine, revision: str) -> tuple[str | None, str | None]:
    """Migrate the database down to *revision* (``"base"``: no tables); returns (before, after)."""
    return _migrate(command.downgrade, engine, revision)


def ensure_schema(engine: Engine) -> None:
    """Make sure the database is at the head revision, creating the schema if it is empty.

    Raises :class:`TrackstoreError` (``INVALID_STATE``) for a database at an older or unknown
    revision or one that is not trackstore's (see the module doc); never changes those.
    """
    try:
        with engine.connect() as connection:
            revision = _read_revision(connection)
    except sa.exc.DBAPIError:
        revision = None  # no version table (or no connection): look again under the lock
    if revision == head_revision():
        return
    # Anything else is decided under the lock: a first start elsewhere may be midway through
    # creating the schema, and where DDL is not transactional (MySQL/MariaDB) its version
    # table shows the revisions it has applied so far. The lock waits for it to finish.
    with schema_lock(engine) as connection:
        found = _status(connection)
        if found.state == "empty":
            _alembic(command.upgrade, connection, "head")
        elif found.state != "current":
            _refuse(found, engine.url)


def sql_script(dialect: str, span: str, *, downgrade: bool = False) -> str:
    """The SQL that migrating over *span* (``"0001:0002"``, ``"head"``) runs on *dialect*.

    Rendered by alembic's offline mode, without a database: for reviewing a migration, or for a
    DBA who applies it by hand.
    """
    output = io.StringIO()
    run = command.downgrade if downgrade else command.upgrade
    run(_config(dialect=dialect, output=output), span, sql=True)
    return output.getvalue()


# -- checking ----------------------------------------------------------------------------------

_FLOAT53 = {"postgresql": "DOUBLE PRECISION", "mysql": "DOUBLE", "mariadb": "DOUBLE",
            "mssql": "FLOAT"}
_INT_WIDTH = re.compile(r"\b((?:TINY|SMALL|MEDIUM|BIG)?INT(?:EGER)?)\(\d+\)")
_COLLATE = re.compile(r"\s+COLLATE\s+(\S+)", re.IGNORECASE)
_CHARSET = re.compile(r"\s+CHARACTER SET\s+\S+", re.IGNORECASE)


def _type(type_: sa.types.TypeEngine[Any], dialect: sa.Dialect) -> tuple[str, str | None]:
    """(type as the dialect spells it, without display widths or collation; collation)."""
    text = type_.compile(dialect=dialect)
    match = _COLLATE.search(text)
    collation = match.group(1).strip('"`[]') if match else None
    text = _CHARSET.sub("", _COLLATE.sub("", text)).strip().upper()
    if dialect.name in ("mysql", "mariadb"):
        text = _INT_WIDTH.sub(r"\1", text)
    if text == "FLOAT(53)":
        text = _FLOAT53.get(dialect.name, text)
    return text, collation


def _has_identity(column: Mapping[str, object], dialect: str) -> bool | None:
    if dialect in ("postgresql", "mssql"):
        return bool(column.get("identity"))
    if dialect in ("mysql", "mariadb"):
        return column.get("autoincrement") is True
    return None  # SQLite: an INTEGER primary key is the rowid (the type check covers it)


def _mysql_collations(connection: Connection) -> dict[tuple[str, str], str]:
    # SHOW CREATE TABLE (what reflection reads) omits a collation equal to the table's default
    rows = connection.execute(sa.text(
        "SELECT TABLE_NAME, COLUMN_NAME, COLLATION_NAME FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND COLLATION_NAME IS NOT NULL"))
    return {(table, column): collation for table, column, collation in rows}


def _column_problems(inspector: sa.Inspector, table: sa.Table, dialect: sa.Dialect,
                     collations: dict[tuple[str, str], str]) -> list[str]:
    problems = []
    found = {c["name"]: c for c in inspector.get_columns(table.name)}
    for column in table.columns:
        where = f"{table.name}.{column.name}"
        got = found.pop(column.name, None)
        if got is None:
            problems.append(f"{where}: missing column")
            continue
        (want_type, want_collation) = _type(column.type, dialect)
        (got_type, got_collation) = _type(got["type"], dialect)
        got_collation = collations.get((table.name, column.name), got_collation)
        if got_type != want_type:
            problems.append(f"{where}: type {got_type}, expected {want_type}")
        if want_collation and got_collation != want_collation:
            problems.append(f"{where}: collation {got_collation or 'default'}, expected "
                            f"{want_collation}")
        if bool(got["nullable"]) != bool(column.nullable):
            problems.append(f"{where}: {'NULL' if got['nullable'] else 'NOT NULL'}, expected "
                            f"{'NULL' if column.nullable else 'NOT NULL'}")
        identity = _has_identity(got, dialect.name)
        if identity is not None and identity != (column.identity is not None):
            problems.append(f"{where}: {'an' if identity else 'not an'} identity column, "
                            f"expected {'one' if column.identity is not None else 'none'}")
    problems += [f"{table.name}.{name}: column not in the schema" for name in found]
    return problems


def _compare(what: str, table: str, want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    problems = []
    for name in sorted(want.keys() | got.keys()):
        if name not in got:
            problems.append(f"{table}: missing {what} {name} {want[name]}")
        elif name not in want:
            problems.append(f"{table}: {what} {name} {got[name]} not in the schema")
        elif want[name] != got[name]:
            problems.append(f"{table}: {what} {name} is {got[name]}, expected {want[name]}")
    return problems


def _columns(names: Any) -> str:
    return f"({', '.join(names)})"


def _foreign_key(columns: Any, referred_table: str, referred: Any, ondelete: str | None) -> str:
    rule = (ondelete or "NO ACTION").upper()
    return (f"{_columns(columns)} -> {referred_table}{_columns(referred)}"
            + ("" if rule == "NO ACTION" else f" ON DELETE {rule}"))


def _constraint_problems(inspector: sa.Inspector, table: sa.Table,
                         dialect: str) -> list[str]:
    name = table.name
    problems = []
    want_pk = [c.name for c in table.primary_key.columns]
    got_pk = inspector.get_pk_constraint(name)
    if got_pk["constrained_columns"] != want_pk:
        problems.append(f"{name}: primary key {_columns(got_pk['constrained_columns'])}, "
                        f"expected {_columns(want_pk)}")
    elif want_pk and got_pk.get("name") and got_pk["name"] != table.primary_key.name:
        problems.append(f"{name}: primary key named {got_pk['name']}, expected "
                        f"{table.primary_key.name}")

    want_fks = {str(fk.name): _foreign_key(fk.column_keys, fk.referred_table.name,
                                           [e.column.name for e in fk.elements], fk.ondelete)
                for fk in table.foreign_key_constraints}
    reflected_fks = inspector.get_foreign_keys(name)
    got_fks = {str(fk["name"]): _foreign_key(fk["constrained_columns"], fk["referred_table"],
                                             fk["referred_columns"],
                                             (fk.get("options") or {}).get("ondelete"))
               for fk in reflected_fks}
    problems += _compare("foreign key", name, want_fks, got_fks)

    want_uqs = {str(c.name): _columns(c.columns.keys()) for c in table.constraints
                if isinstance(c, sa.UniqueConstraint)}
    indexes = inspector.get_indexes(name)
    try:
        got_uqs = {str(u["name"]): _columns(u["column_names"])
                   for u in inspector.get_unique_constraints(name)}
    except NotImplementedError:  # SQL Server: unique constraints show as unique indexes
        got_uqs = {str(i["name"]): _columns(i["column_names"]) for i in indexes
                   if i["unique"] and i["name"] in want_uqs}
    problems += _compare("unique constraint", name, want_uqs, got_uqs)

    # InnoDB indexes a foreign key's columns itself, naming the index after the key
    implicit = ({(str(fk["name"]), tuple(fk["constrained_columns"])) for fk in reflected_fks}
                if dialect in ("mysql", "mariadb") else set())
    want_ix = {str(i.name): ("UNIQUE " if i.unique else "")
               + _columns(str(getattr(e, "name", e)) for e in i.expressions)
               for i in table.indexes}
    got_ix = {str(i["name"]): ("UNIQUE " if i["unique"] else "") + _columns(i["column_names"])
              for i in indexes
              if not i.get("duplicates_constraint") and i["name"] not in got_uqs
              and (i["name"], tuple(i["column_names"])) not in implicit}
    problems += _compare("index", name, want_ix, got_ix)

    try:
        got_cks = {str(c["name"]) for c in inspector.get_check_constraints(name)}
    except NotImplementedError:  # SQL Server's dialect does not reflect them
        return problems
    want_cks = {str(c.name) for c in table.constraints if isinstance(c, sa.CheckConstraint)}
    problems += [f"{name}: missing check constraint {c}" for c in sorted(want_cks - got_cks)]
    problems += [f"{name}: check constraint {c} not in the schema"
                 for c in sorted(got_cks - want_cks)]
    return problems


def check(bind: Connection | Engine) -> list[str]:
    """What differs between the database and the head schema; empty when nothing does."""
    with _connected(bind) as connection:
        found = _status(connection)
        head = head_revision()
        problems = []
        if found.state == "not_trackstore":
            problems.append(str(refusal(found, connection.engine.url)))
        elif found.revision is None:
            problems.append(f"no trackstore revision (expected {head})")
        elif found.revision != head:
            problems.append(f"revision {found.revision}, expected {head}"
                            + (" (unknown: newer than this trackstore)"
                               if found.state == "newer" else ""))
        tables = set(found.tables)
        problems += [f"{t}: missing table" for t in schema.metadata.tables if t not in tables]
        problems += [f"{t}: table not in the schema" for t in sorted(tables)
                     if t not in schema.metadata.tables]
        dialect = connection.dialect
        inspector = sa.inspect(connection)
        collations = (_mysql_collations(connection) if dialect.name in ("mysql", "mariadb")
                      else {})
        for table in schema.metadata.sorted_tables:
            if table.name in tables:
                problems += _column_problems(inspector, table, dialect, collations)
                problems += _constraint_problems(inspector, table, dialect.name)
        return problems
