"""The SQL schema's migrations, ``ensure_schema`` and ``check``, on every database at hand.

SQLite always; PostgreSQL and MariaDB when ``tests/_databases.py`` finds their servers. SQL
Server cannot run here: its DDL is rendered by alembic's offline mode and inspected.
"""

from __future__ import annotations

import math
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.engine import Engine

from tests._databases import fresh_database
from trackstore.exceptions import INVALID_STATE, TrackstoreError
from trackstore.store.sql import migrate, schema
from trackstore.store.sql.engine import create_engine

HEAD = "0004"


@pytest.fixture
def engine(kind: str, tmp_path: Path) -> Iterator[Engine]:
    with fresh_database(kind, tmp_path) as uri:
        engine = create_engine(uri)
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture
def second_engine(kind: str, tmp_path: Path) -> Iterator[Engine]:
    """Another empty database of the same kind, to compare two ways of building a schema."""
    (tmp_path / "second").mkdir()
    with fresh_database(kind, tmp_path / "second") as uri:
        engine = create_engine(uri)
        try:
            yield engine
        finally:
            engine.dispose()


def _reflection(engine: Engine) -> dict[str, Any]:
    """Everything reflection tells about every table but the version table."""
    inspector = sa.inspect(engine)
    found: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        if table == migrate.VERSION_TABLE:
            continue
        columns = [(c["name"], c["type"].compile(engine.dialect), c["nullable"],
                    c.get("autoincrement"), repr(c.get("identity")), c.get("default"))
                   for c in inspector.get_columns(table)]
        found[table] = {"columns": columns, "pk": inspector.get_pk_constraint(table)}
        for what in ("foreign_keys", "indexes", "unique_constraints", "check_constraints"):
            try:
                items = getattr(inspector, f"get_{what}")(table)
            except NotImplementedError:  # SQL Server's dialect reflects no uniques nor checks
                continue
            found[table][what] = sorted(items, key=lambda item: str(item["name"]))
    return found


def _tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


# -- revisions ---------------------------------------------------------------------------------

def test_revisions_are_a_line_ending_at_head() -> None:
    assert migrate.revisions() == ("0001", "0002", "0003", "0004")
    assert migrate.head_revision() == HEAD
    assert migrate.MIGRATIONS.is_dir()
    assert (migrate.MIGRATIONS / "env.py").is_file()


# -- ensure_schema -----------------------------------------------------------------------------

def test_an_empty_database_is_created_at_head(engine: Engine) -> None:
    assert migrate.status(engine).state == "empty"
    assert migrate.current_revision(engine) is None
    migrate.ensure_schema(engine)
    assert migrate.current_revision(engine) == HEAD
    assert migrate.check(engine) == []
    assert _tables(engine) == set(schema.metadata.tables) | {migrate.VERSION_TABLE}
    migrate.ensure_schema(engine)  # at head: nothing to do
    assert migrate.check(engine) == []


def test_at_head_ensure_schema_is_one_query(engine: Engine) -> None:
    migrate.ensure_schema(engine)
    migrate.head_revision()  # the revision scripts are read once per process
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute",
                    lambda _c, _cur, statement, *_: statements.append(statement))
    migrate.ensure_schema(engine)
    queries = [s for s in statements if not s.upper().startswith("BEGIN")]
    assert len(queries) == 1, statements
    assert migrate.VERSION_TABLE in queries[0]


def test_migrations_build_the_schema_create_all_builds(engine: Engine,
                                                       second_engine: Engine) -> None:
    migrate.ensure_schema(engine)
    schema.metadata.create_all(second_engine)
    assert _reflection(engine) == _reflection(second_engine)
    # check() judges the create_all() database by its revision alone
    problems = migrate.check(second_engine)
    assert len(problems) == 1 and "not a trackstore database" in problems[0]


def test_an_out_of_date_database_is_refused_untouched(engine: Engine) -> None:
    migrate.upgrade(engine, "0001")
    with pytest.raises(TrackstoreError) as raised:
        migrate.ensure_schema(engine)
    error = raised.value
    where = migrate.display_url(engine.url)
    assert "+" not in where.split("://")[0]  # as the user wrote it, the default driver left out
    assert error.error_code == INVALID_STATE
    assert "found revision 0001, but this trackstore needs 0004" in error.message
    assert "Take a backup" in error.message
    assert f"run 'trackstore db upgrade {where}'" in error.message
    if engine.url.password:
        assert ":***@" in error.message and f":{engine.url.password}@" not in error.message
    assert migrate.current_revision(engine) == "0001"


def test_a_newer_database_is_refused(engine: Engine) -> None:
    migrate.ensure_schema(engine)
    with engine.begin() as connection:
        connection.execute(sa.text(f"UPDATE {migrate.VERSION_TABLE} SET version_num = '0099'"))
    for attempt in (migrate.ensure_schema, migrate.upgrade):
        with pytest.raises(TrackstoreError, match="written by a newer trackstore") as raised:
            attempt(engine)
        assert raised.value.error_code == INVALID_STATE
        assert "0099" in raised.value.message
    assert migrate.status(engine).state == "newer"
    assert migrate.check(engine) == [
        "revision 0099, expected 0004 (unknown: newer than this trackstore)"]


def _mlflow_lookalike(engine: Engine) -> None:
    """The tables of an MLflow database that matter here: its own, and alembic_version."""
    metadata = sa.MetaData()
    sa.Table("alembic_version", metadata, sa.Column("version_num", sa.String(32),
                                                    primary_key=True))
    sa.Table("experiments", metadata, sa.Column("experiment_id", sa.Integer, primary_key=True),
             sa.Column("name", sa.String(256)))
    sa.Table("runs", metadata, sa.Column("run_uuid", sa.String(32), primary_key=True))
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO alembic_version VALUES ('f4a9b2c7d1e6')"))


def _assert_refused_as_foreign(engine: Engine, mlflow: bool) -> None:
    before = _reflection(engine)
    for attempt in (migrate.ensure_schema, migrate.upgrade):
        with pytest.raises(TrackstoreError, match="is not a trackstore database") as raised:
            attempt(engine)
        assert raised.value.error_code == INVALID_STATE
        assert ("MLflow" in raised.value.message) is mlflow
        assert "has not touched" in raised.value.message
    assert migrate.VERSION_TABLE not in _tables(engine)
    assert _reflection(engine) == before
    assert migrate.current_revision(engine) is None
    assert migrate.status(engine).state == "not_trackstore"


def test_an_mlflow_like_database_is_refused_untouched(engine: Engine) -> None:
    _mlflow_lookalike(engine)
    _assert_refused_as_foreign(engine, mlflow=True)


def test_other_tables_are_refused_untouched(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE notes (id INTEGER PRIMARY KEY)"))
    _assert_refused_as_foreign(engine, mlflow=False)


def test_an_unfinished_creation_is_named(engine: Engine) -> None:
    migrate.ensure_schema(engine)
    with engine.begin() as connection:  # as a MySQL creation killed half-way leaves it
        connection.execute(sa.text(f"DELETE FROM {migrate.VERSION_TABLE}"))
        connection.execute(sa.text("DROP TABLE run_model_inputs"))
    with pytest.raises(TrackstoreError, match="creating its schema did not finish"):
        migrate.ensure_schema(engine)
    assert migrate.status(engine).state == "not_trackstore"


@pytest.mark.mlflow
@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SADeprecationWarning")  # MLflow's
def test_a_real_mlflow_database_is_refused_untouched(tmp_path: Path) -> None:
    from tests.compat._oracle import require_mlflow

    require_mlflow()
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    SqlAlchemyStore(uri, str(tmp_path / "artifacts")).engine.dispose()
    engine = create_engine(uri)
    try:
        assert {"alembic_version", "experiments", "runs"} <= _tables(engine)
        _assert_refused_as_foreign(engine, mlflow=True)
    finally:
        engine.dispose()


# -- upgrades and downgrades with data ---------------------------------------------------------

def _fill(connection: sa.Connection) -> None:
    """Rows in every table, written at revision 0001, with the awkward values each may hold."""
    long_value = "é∑" * 4000  # 8,000 characters, beyond any indexable string
    connection.execute(schema.id_counters.insert(), [{"name": "experiment", "next_value": 7}])
    connection.execute(schema.experiments.insert(), [
        {"experiment_id": 0, "name": "Default", "artifact_location": "file:///m/0",
         "lifecycle_stage": "active", "creation_time": 1, "last_update_time": 2},
        {"experiment_id": 123456789012345678, "name": "DEFAULT", "artifact_location": None,
         "lifecycle_stage": "deleted", "creation_time": None, "last_update_time": None},
        {"experiment_id": 5, "name": "实验 ✓", "artifact_location": "s3://b/ü",
         "lifecycle_stage": "active", "creation_time": 3, "last_update_time": 4},
    ])
    connection.execute(schema.experiment_tags.insert(), [
        {"experiment_id": 0, "key": "note", "value": long_value},
        {"experiment_id": 0, "key": "Note", "value": ""},
    ])
    connection.execute(schema.runs.insert(), [
        {"run_uuid": f"{i:032x}", "experiment_id": 0 if i < 2 else 5, "user_id": "ü" if i else None,
         "status": ("RUNNING", "FINISHED", "KILLED")[i], "start_time": 10 + i if i else None,
         "end_time": None, "lifecycle_stage": "deleted" if i == 2 else "active",
         "deleted_time": 99 if i == 2 else None, "artifact_uri": f"file:///m/{i}"}
        for i in range(3)])
    keys = dict(connection.execute(
        sa.select(schema.runs.c.run_uuid, schema.runs.c.run_key)).all())
    run0, run1 = keys[f"{0:032x}"], keys[f"{1:032x}"]
    for table in (schema.run_params, schema.run_tags):
        connection.execute(table.insert(), [
            {"run_key": run0, "key": "lr", "value": "0.1"},
            {"run_key": run0, "key": "LR", "value": long_value},
            {"run_key": run1, "key": "lr", "value": ""}])
    connection.execute(schema.metric_keys.insert(), [{"key": "loss"}, {"key": "Loss"}])
    connection.execute(schema.metric_datasets.insert(), [{"name": "train", "digest": "d" * 36}])
    key_ids = dict(connection.execute(
        sa.select(schema.metric_keys.c.key, schema.metric_keys.c.key_id)).all())
    dataset_id = connection.execute(sa.select(schema.metric_datasets.c.dataset_id)).scalar_one()
    points = [(0, 1, 2.5, schema.KIND_FINITE, None), (1, 1, 0.0, schema.KIND_NAN, dataset_id),
              (1, 2, 0.0, schema.KIND_NEG_INF, None), (2, 2, 0.0, schema.KIND_POS_INF, None),
              (3, 2, -1.5e308, schema.KIND_FINITE, dataset_id), (3, 2, 5e-324,
                                                                 schema.KIND_FINITE, None)]
    rows = [{"run_key": run0, "key_id": key_ids[key], "step": step, "timestamp": ts,
             "value": value, "kind": kind, "dataset_id": ds}
            for key in ("loss", "Loss") for step, ts, value, kind, ds in points]
    connection.execute(schema.metrics.insert(), rows)
    connection.execute(schema.latest_metrics.insert(), [
        r for r in rows if (r["step"], r["value"]) == (3, 5e-324)])
    connection.execute(schema.datasets.insert(), [
        {"experiment_id": 0, "name": "ds", "digest": "abc", "source_type": "local",
         "source": long_value, "schema": None, "profile": '{"rows": 3}'}])
    dataset_key = connection.execute(sa.select(schema.datasets.c.dataset_key)).scalar_one()
    connection.execute(schema.run_inputs.insert(), [
        {"run_key": run0, "dataset_key": dataset_key, "position": 0}])
    connection.execute(schema.run_input_tags.insert(), [
        {"run_key": run0, "dataset_key": dataset_key, "key": "mlflow.data.context",
         "value": "train"}])
    connection.execute(schema.run_model_inputs.insert(), [
        {"run_key": run1, "model_id": "m-0123", "position": 0}])


def _rows(engine: Engine, like: dict[str, Any] | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of every table of the schema that the database has (or of *like*'s)."""
    present = set(like) if like is not None else set(sa.inspect(engine).get_table_names())
    with engine.connect() as connection:
        return {table.name: sorted(
            (tuple(row) for row in connection.execute(sa.select(table))),
            key=lambda row: tuple((v is None, "" if v is None else str(v)) for v in row))
            for table in schema.metadata.sorted_tables if table.name in present}


def test_an_upgrade_keeps_every_row(engine: Engine) -> None:
    assert migrate.upgrade(engine, "0001") == (None, "0001")
    with engine.begin() as connection:
        _fill(connection)
    before = _rows(engine)
    assert all(before.values()), [t for t, rows in before.items() if not rows]
    assert migrate.upgrade(engine) == ("0001", HEAD)
    assert migrate.check(engine) == []
    assert _rows(engine, before) == before
    values = [row[4] for row in before["metrics"]]
    assert 5e-324 in values and -1.5e308 in values and not any(map(math.isnan, values))
    with engine.begin() as connection:  # identities go on from where they were
        last = connection.execute(sa.select(sa.func.max(schema.runs.c.run_key))).scalar_one()
        new = connection.execute(schema.runs.insert().values(
            run_uuid="f" * 32, experiment_id=0, status="RUNNING", lifecycle_stage="active"),
        ).inserted_primary_key[0]
    assert new > last


def test_downgrade_to_0001_and_up_again(engine: Engine, second_engine: Engine) -> None:
    migrate.upgrade(engine, "0001")
    with engine.begin() as connection:
        _fill(connection)
    rows = _rows(engine)
    migrate.upgrade(engine)
    migrate.upgrade(second_engine, "0001")
    assert migrate.downgrade(engine, "0001") == (HEAD, "0001")
    assert _reflection(engine) == _reflection(second_engine)  # as 0001 made it
    assert _rows(engine) == rows
    assert migrate.check(engine) == [
        "revision 0001, expected 0004",
        "import_sources: missing table", "import_experiments: missing table",
        "import_runs: missing table", "import_offsets: missing table",
        "registered_models: missing table", "registered_model_tags: missing table",
        "model_versions: missing table", "model_version_tags: missing table",
        "registered_model_aliases: missing table",
        "latest_metrics: missing index ix_latest_metrics_key (key_id, kind, value)",
        "runs: missing index ix_runs_deleted (lifecycle_stage, deleted_time)",
        "runs: missing index ix_runs_search (experiment_id, lifecycle_stage, start_time, "
        "run_uuid)"]
    assert migrate.upgrade(engine) == ("0001", HEAD)
    assert migrate.check(engine) == []
    assert _rows(engine, rows) == rows


def test_downgrade_to_base_leaves_an_empty_database(engine: Engine) -> None:
    migrate.ensure_schema(engine)
    assert migrate.downgrade(engine, "base") == (HEAD, None)
    assert _tables(engine) == {migrate.VERSION_TABLE}
    assert migrate.status(engine).state == "empty"
    migrate.ensure_schema(engine)
    assert migrate.check(engine) == []


def test_an_unknown_target_revision_is_a_clear_error(engine: Engine) -> None:
    with pytest.raises(TrackstoreError, match="Cannot migrate the database to revision 'nope'"):
        migrate.upgrade(engine, "nope")


# -- check -------------------------------------------------------------------------------------

def test_check_reports_what_differs(engine: Engine) -> None:
    migrate.ensure_schema(engine)
    with engine.begin() as connection:
        op = Operations(MigrationContext.configure(connection))
        op.drop_index("ix_runs_deleted", table_name="runs")
        op.drop_index("ix_latest_metrics_key", table_name="latest_metrics")
        op.create_index("ix_latest_metrics_key", "latest_metrics", ["key_id"])
        op.create_index("ix_extra", "runs", ["user_id"])
        op.add_column("runs", sa.Column("note", sa.Integer()))
        op.drop_column("run_model_inputs", "position")
        op.create_table("scratch", sa.Column("id", sa.Integer, primary_key=True))
    assert migrate.check(engine) == [
        "scratch: table not in the schema",
        "latest_metrics: index ix_latest_metrics_key is (key_id), expected "
        "(key_id, kind, value)",
        "runs.note: column not in the schema",
        "runs: index ix_extra (user_id) not in the schema",
        "runs: missing index ix_runs_deleted (lifecycle_stage, deleted_time)",
        "run_model_inputs.position: missing column",
    ]


_OTHER_COLLATION = {
    "postgresql": ('ALTER TABLE experiments ALTER COLUMN name TYPE VARCHAR(500) '
                   'COLLATE "default"', "default", "C"),
    "mysql": ("ALTER TABLE experiments MODIFY name VARCHAR(500) CHARACTER SET utf8mb4 "
              "COLLATE utf8mb4_general_ci NOT NULL", "utf8mb4_general_ci", None),
}


def test_check_reports_types_nullability_uniques_and_collations(engine: Engine) -> None:
    migrate.ensure_schema(engine)
    problems = []
    with engine.begin() as connection:
        if engine.dialect.name in _OTHER_COLLATION:
            statement, found, expected = _OTHER_COLLATION[engine.dialect.name]
            # MySQL/MariaDB: the server's binary no-pad collation (see schema.string)
            expected = expected or schema.mysql_binary_collation(engine.dialect)
            connection.execute(sa.text(statement))
            problems.append(f"experiments.name: collation {found}, expected {expected}")
        # metric_keys again, with a shorter nullable key and no unique constraint
        connection.execute(sa.text("DROP TABLE metric_keys"))
        sa.Table("metric_keys", sa.MetaData(),
                 sa.Column("key_id", sa.Integer, sa.Identity(start=1)),
                 sa.Column("key", schema.string(100), nullable=True),
                 sa.PrimaryKeyConstraint("key_id", name="pk_metric_keys")).create(connection)
    assert migrate.check(engine) == [*problems,
        "metric_keys.key: type VARCHAR(100), expected VARCHAR(250)",
        "metric_keys.key: NULL, expected NOT NULL",
        "metric_keys: missing unique constraint uq_metric_keys_key (key)",
    ]


# -- several processes starting at once --------------------------------------------------------


def test_a_start_during_a_migration_waits_for_it(engine: Engine) -> None:
    """A store opened while another first start is midway through creating the schema (its
    version table already at 0001, as MySQL shows it: DDL is not transactional there) waits
    for the schema lock and then finds the schema current; it does not refuse the database
    as out of date. (CI once caught the refusal on MariaDB, four processes starting at once.)
    """
    from alembic import command

    migrate.upgrade(engine, "0001")
    other = create_engine(engine.url.render_as_string(hide_password=False))
    outcome: list[str] = []

    def start() -> None:
        try:
            migrate.ensure_schema(other)
            outcome.append("ok")
        except TrackstoreError as exc:
            outcome.append(exc.message)

    try:
        with migrate.schema_lock(engine) as connection:  # the migrating first start
            thread = threading.Thread(target=start)
            thread.start()
            thread.join(1.0)
            assert outcome == []  # waiting for the lock
            migrate._alembic(command.upgrade, connection, "head")
        thread.join(60)
    finally:
        other.dispose()
    assert outcome == ["ok"]
    assert migrate.current_revision(engine) == migrate.head_revision()


_START = """
import sys
from trackstore.store.sql import migrate
from trackstore.store.sql.engine import create_engine

engine = create_engine(sys.argv[1])
migrate.head_revision()
print("ready", flush=True)
sys.stdin.readline()
try:
    migrate.ensure_schema(engine)
    print("ok", flush=True)
except Exception as exc:
    print(f"{type(exc).__name__}: {exc}", flush=True)
"""


def test_concurrent_first_starts_make_one_schema(engine: Engine) -> None:
    uri = engine.url.render_as_string(hide_password=False)
    processes = [subprocess.Popen([sys.executable, "-c", _START, uri], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True) for _ in range(4)]
    try:
        for process in processes:  # every one imported and connected: now all at once
            assert process.stdout is not None and process.stdout.readline() == "ready\n"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outcomes = [process.communicate(timeout=120)[0].strip() for process in processes]
    finally:
        for process in processes:
            process.kill()
    assert outcomes == ["ok"] * 4
    assert migrate.check(engine) == []
    with engine.connect() as connection:
        assert connection.execute(sa.text(
            f"SELECT COUNT(*) FROM {migrate.VERSION_TABLE}")).scalar() == 1


# -- SQL rendered without a database (SQL Server, and the others too) --------------------------

@pytest.mark.parametrize("dialect", ["mssql", "postgresql", "mysql", "sqlite"])
def test_every_migration_renders_as_sql(dialect: str) -> None:
    up = migrate.sql_script(dialect, "head")
    for table in schema.metadata.tables:
        assert f"CREATE TABLE {table} (" in up or f"CREATE TABLE `{table}` (" in up, table
    for index in ("ix_runs_search", "ix_runs_deleted", "ix_latest_metrics_key"):
        assert f"CREATE INDEX {index}" in up
    assert "-> 0001" in up and "0001 -> 0002" in up
    down = migrate.sql_script(dialect, f"{HEAD}:base", downgrade=True)
    for index in ("ix_runs_search", "ix_runs_deleted", "ix_latest_metrics_key"):
        assert f"DROP INDEX {index}" in down
    for table in schema.metadata.tables:
        assert f"DROP TABLE {table}" in down or f"DROP TABLE `{table}`" in down
    section = lambda sql: sql[sql.index("0001 -> 0002"):sql.index("version_num='0002'")]  # noqa: E731
    assert section(migrate.sql_script(dialect, "0001:0002")) == section(up)


def _create_table(ddl: str, table: str) -> str:
    start = ddl.index(f"CREATE TABLE {table} (")
    return ddl[start:ddl.index("\n)", start)]


def test_sql_server_ddl() -> None:
    ddl = migrate.sql_script("mssql", "head")
    for table, column, length in [("experiments", "name", 500), ("runs", "run_uuid", 256),
                                  ("metric_keys", "[key]", 250), ("run_params", "[key]", 250),
                                  ("metric_datasets", "digest", 36),
                                  ("run_input_tags", "[key]", 255)]:
        assert (f"{column} NVARCHAR({length}) COLLATE Latin1_General_100_BIN2 NOT NULL"
                in _create_table(ddl, table)), (table, column)
    assert ("value NVARCHAR(max) COLLATE Latin1_General_100_BIN2 NOT NULL"
            in _create_table(ddl, "run_tags"))
    for table, column, type_ in [("runs", "run_key", "BIGINT"),
                                 ("metric_keys", "key_id", "INTEGER"),
                                 ("metric_datasets", "dataset_id", "INTEGER"),
                                 ("datasets", "dataset_key", "BIGINT")]:
        assert f"{column} {type_} NOT NULL IDENTITY(1,1)" in _create_table(ddl, table)
    assert "source_id INTEGER NOT NULL IDENTITY(1,1)" in _create_table(ddl, "import_sources")
    assert "model_key BIGINT NOT NULL IDENTITY(1,1)" in _create_table(ddl, "registered_models")
    assert ddl.count("IDENTITY(") == 6
    metrics = _create_table(ddl, "metrics")
    assert ("CONSTRAINT uq_metrics_point UNIQUE CLUSTERED "
            "(run_key, key_id, step, timestamp, kind, value)") in metrics
    assert "PRIMARY KEY" not in metrics and "value FLOAT(53) NOT NULL" in metrics
    assert "CREATE TABLE trackstore_alembic_version" in ddl
    assert "BEGIN TRANSACTION;" in ddl and ddl.rstrip().endswith("GO")


def test_mysql_downgrade_gives_innodb_its_foreign_key_index_back() -> None:
    down = migrate.sql_script("mysql", "0002:0001", downgrade=True)
    drop_key = down.index("ALTER TABLE runs DROP FOREIGN KEY fk_runs_experiment_id_experiments")
    drop_index = down.index("DROP INDEX ix_runs_search ON runs")
    add_key = down.index("ALTER TABLE runs ADD CONSTRAINT fk_runs_experiment_id_experiments "
                         "FOREIGN KEY(experiment_id) REFERENCES experiments (experiment_id)")
    assert drop_key < drop_index < add_key
    assert "FOREIGN KEY" not in migrate.sql_script("postgresql", "0002:0001", downgrade=True)


def test_postgresql_and_mysql_ddl() -> None:
    pg = migrate.sql_script("postgresql", "head")
    assert 'run_uuid VARCHAR(256) COLLATE "C" NOT NULL' in _create_table(pg, "runs")
    assert "run_key BIGINT GENERATED BY DEFAULT AS IDENTITY (START WITH 1)" in pg
    my = migrate.sql_script("mysql", "head")
    assert ("run_uuid VARCHAR(256) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL"
            in _create_table(my, "runs"))
    assert "value MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL" in my
    assert "run_key BIGINT NOT NULL AUTO_INCREMENT" in my
