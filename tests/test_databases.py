"""The test databases themselves (``tests/_databases.py``): what the SQL store's tests stand on.

Each kind of database: brand new, empty, writable, isolated from the others, holding 4-byte
UTF-8, and gone afterwards even with connections left open. Then the rule that turns a missing
server into a skip, or into a failure where CI requires the servers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests import _databases
from tests._databases import SQL_KINDS, fresh_database

TEXT = "snake 🐍, clef 𝄞, 汉字, Ünïcødé"  # 4-byte characters need utf8mb4 on MySQL/MariaDB
THINGS = sa.Table(
    "things",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(100), nullable=False),
)


@pytest.fixture(params=SQL_KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engines() -> Iterator[list[sa.Engine]]:
    """The test's engines on the databases it made, disposed at its end."""
    made: list[sa.Engine] = []
    yield made
    for engine in made:
        engine.dispose()


@pytest.fixture
def connect(engines: list[sa.Engine]):  # a factory of engines, disposed at the end
    def connect(uri: str) -> sa.Engine:
        engine = sa.create_engine(uri)
        engines.append(engine)
        return engine

    return connect


def exists(kind: str, uri: str) -> bool:
    url = make_url(uri)
    if kind == "sqlite":
        return Path(url.database or "").exists()
    return _databases.database_exists(kind, url.database or "")


def test_fresh_database_is_empty_and_writable(kind: str, tmp_path: Path, connect) -> None:
    with fresh_database(kind, tmp_path) as uri:
        assert make_url(uri).get_backend_name() == kind
        engine = connect(uri)
        assert sa.inspect(engine).get_table_names() == []
        THINGS.create(engine)
        with engine.begin() as connection:
            connection.execute(THINGS.insert(), [{"id": 1, "name": "one"}, {"id": 2, "name": TEXT}])
        with engine.connect() as connection:
            rows = connection.execute(sa.select(THINGS).order_by(THINGS.c.id)).all()
        assert [tuple(row) for row in rows] == [(1, "one"), (2, TEXT)]


def test_fresh_databases_are_isolated(kind: str, tmp_path: Path, connect) -> None:
    with fresh_database(kind, tmp_path) as first, fresh_database(kind, tmp_path) as second:
        assert first != second
        THINGS.create(connect(first))
        assert sa.inspect(connect(second)).get_table_names() == []
        THINGS.create(connect(second))  # the same name is free there


def test_database_is_gone_afterwards(kind: str, tmp_path: Path) -> None:
    with fresh_database(kind, tmp_path) as uri:
        engine = sa.create_engine(uri)
        THINGS.create(engine)
        engine.dispose()
        assert exists(kind, uri)
    assert not exists(kind, uri)


def test_dropped_despite_connections_left_open(kind: str, tmp_path: Path, connect) -> None:
    """As a store under test may leave them: one idle in its pool, one in a transaction."""
    with ExitStack() as stack:
        with fresh_database(kind, tmp_path) as uri:
            engine = connect(uri)
            THINGS.create(engine)
            with engine.connect() as idle:  # back to the pool, still open
                idle.execute(sa.select(1))
            busy = stack.enter_context(engine.connect())
            busy.begin()
            busy.execute(THINGS.insert(), {"id": 1, "name": "locked"})  # holds row/table locks
        assert not exists(kind, uri)
        if kind == "sqlite":
            return  # a file: nothing to end (an open handle outlives the unlinked file)
        with pytest.raises(sa.exc.DBAPIError) as raised:
            busy.execute(sa.select(1))
        assert raised.value.connection_invalidated


def test_mysql_database_is_utf8mb4(tmp_path: Path, connect) -> None:
    with fresh_database("mysql", tmp_path) as uri:
        engine = connect(uri)
        with engine.connect() as connection:
            charset = connection.exec_driver_sql(
                "SELECT default_character_set_name FROM information_schema.schemata"
                " WHERE schema_name = DATABASE()"
            ).scalar()
            server = connection.exec_driver_sql("SELECT @@character_set_server").scalar()
        assert (charset, server) == ("utf8mb4", "utf8mb4")
        # A table that names no charset takes the database's: 4-byte characters round-trip.
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE plain (name VARCHAR(100))")
            connection.exec_driver_sql("INSERT INTO plain VALUES (%s)", (TEXT,))
            assert connection.exec_driver_sql("SELECT name FROM plain").scalar() == TEXT


def test_sqlite_databases_in_one_directory_are_distinct(tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path) as first, fresh_database("sqlite", tmp_path) as second:
        assert first == f"sqlite:///{tmp_path / 'store.db'}"
        assert second == f"sqlite:///{tmp_path / 'store-2.db'}"


def test_names_are_unique_and_marked() -> None:
    names = {_databases.unique_name() for _ in range(100)}
    assert len(names) == 100
    assert all(name.startswith(_databases.NAME_PREFIX) for name in names)
    with pytest.raises(ValueError, match="not a database of the tests"):
        _databases.drop_database("postgresql", "postgres")


def test_database_uri_keeps_the_login() -> None:
    uri = _databases.database_uri("mysql+pymysql://u:p%40ss@127.0.0.1:33069/mysql", "ts_1")
    assert uri == "mysql+pymysql://u:p%40ss@127.0.0.1:33069/ts_1"


# --- a missing server: skip, or fail where required


@pytest.fixture
def no_servers(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for variable in _databases.URI_VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv(_databases.REQUIRE_VARIABLE, raising=False)
    return monkeypatch


@pytest.mark.parametrize("server", ["postgresql", "mysql", "mssql"])
def test_missing_server_skips(no_servers: pytest.MonkeyPatch, server: str) -> None:
    with pytest.raises(pytest.skip.Exception, match=_databases.URI_VARIABLES[server]):
        _databases.server_uri(server)


@pytest.mark.parametrize("server", ["postgresql", "mysql"])
def test_missing_required_server_fails(no_servers: pytest.MonkeyPatch, server: str) -> None:
    no_servers.setenv(_databases.REQUIRE_VARIABLE, "1")
    with pytest.raises(pytest.fail.Exception, match=_databases.URI_VARIABLES[server]):
        _databases.server_uri(server)


def test_sql_server_is_never_required(no_servers: pytest.MonkeyPatch) -> None:
    no_servers.setenv(_databases.REQUIRE_VARIABLE, "1")
    with pytest.raises(pytest.skip.Exception):
        _databases.server_uri("mssql")


def test_required_only_by_1(no_servers: pytest.MonkeyPatch) -> None:
    no_servers.setenv(_databases.REQUIRE_VARIABLE, "0")
    with pytest.raises(pytest.skip.Exception):
        _databases.server_uri("postgresql")


def test_missing_server_skips_before_creating(no_servers: pytest.MonkeyPatch, tmp_path) -> None:
    with pytest.raises(pytest.skip.Exception), fresh_database("postgresql", tmp_path):
        pytest.fail("not reached")


def test_server_uri_from_the_environment(no_servers: pytest.MonkeyPatch) -> None:
    uri = "postgresql+psycopg2://a:b@127.0.0.1:1/postgres"
    no_servers.setenv("TRACKSTORE_TEST_POSTGRES_URI", uri)
    assert _databases.server_uri("postgresql") == uri
    with pytest.raises(ValueError, match="no database server"):
        _databases.server_uri("oracle")


def test_sql_kinds_add_sql_server_only_when_given() -> None:
    assert _databases.sql_kinds({}) == ["sqlite", "postgresql", "mysql"]
    assert _databases.sql_kinds({"TRACKSTORE_TEST_MSSQL_URI": "mssql+pymssql://x"}) == [
        "sqlite",
        "postgresql",
        "mysql",
        "mssql",
    ]
