"""``trackstore db upgrade | current | check``: output and exit codes, errors in one line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from tests._databases import SQL_KINDS, fresh_database
from trackstore.cli import main
from trackstore.store.sql import migrate
from trackstore.store.sql.engine import create_engine


def db(*args: str) -> Result:
    return CliRunner().invoke(main, ["db", *args], catch_exceptions=False)


@pytest.fixture(params=SQL_KINDS)
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (for SQLite, an empty file: a missing one is an error)."""
    with fresh_database(request.param, tmp_path) as uri:
        if request.param == "sqlite":
            Path(str(sa.make_url(uri).database)).touch()
        yield uri


def _shown(uri: str) -> str:
    """*uri* as the commands show it: the password masked."""
    return migrate.display_url(uri)


def _migrate_to(uri: str, revision: str) -> None:
    engine = create_engine(uri)
    try:
        migrate.upgrade(engine, revision)
    finally:
        engine.dispose()


def _execute(uri: str, *statements: str) -> None:
    engine = create_engine(uri)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(sa.text(statement))
    finally:
        engine.dispose()


def test_upgrade_creates_the_schema_then_has_nothing_to_do(uri: str) -> None:
    result = db("upgrade", uri)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Created the schema in {_shown(uri)}: (empty) -> 0004 (head)\n"
    result = db("upgrade", uri)
    assert result.exit_code == 0
    assert result.stdout == f"{_shown(uri)} is already at revision 0004 (head): nothing to do\n"
    if ":***@" in _shown(uri):
        assert ":***@" in result.stdout


def test_upgrade_from_an_older_revision(uri: str) -> None:
    _migrate_to(uri, "0001")
    result = db("upgrade", uri)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Upgraded {_shown(uri)}: 0001 -> 0004 (head)\n"
    assert db("check", uri).exit_code == 0


def test_current_in_every_state(uri: str) -> None:
    result = db("current", uri)
    assert result.exit_code == 0
    assert result.stdout.startswith("none: the database is empty; 'trackstore db upgrade ")
    _migrate_to(uri, "0001")
    result = db("current", uri)
    assert result.exit_code == 0
    assert result.stdout == (f"0001 (out of date: the head is 0004; take a backup, then run "
                             f"'trackstore db upgrade {_shown(uri)}')\n")
    _migrate_to(uri, "head")
    assert db("current", uri).stdout == "0004 (head)\n"
    _execute(uri, f"UPDATE {migrate.VERSION_TABLE} SET version_num = '0042'")
    result = db("current", uri)
    assert result.exit_code == 0
    assert result.stdout == ("0042 (unknown: written by a newer trackstore; this one knows "
                             "revisions up to 0004)\n")


def test_current_and_upgrade_on_an_mlflow_database(uri: str) -> None:
    _execute(uri, "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)",
             "CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY)")
    result = db("current", uri)
    assert result.exit_code == 0
    assert result.stdout.startswith(f"none: The database at {_shown(uri)} is not a trackstore "
                                    "database: it has MLflow's alembic_version table")
    result = db("upgrade", uri)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("Error (INVALID_STATE): The database at ")
    assert "looks like an MLflow database" in result.stderr
    assert result.stderr.count("\n") == 1
    assert db("current", uri).stdout.startswith("none: ")  # untouched


def test_check(uri: str) -> None:
    db("upgrade", uri)
    result = db("check", uri)
    assert result.exit_code == 0
    assert result.stdout == "schema OK at 0004\n"
    engine = create_engine(uri)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(
                "DROP INDEX ix_runs_deleted" + (" ON runs" if "mysql" in uri else "")))
    finally:
        engine.dispose()
    result = db("check", uri)
    assert result.exit_code == 1
    assert result.stdout == ("runs: missing index ix_runs_deleted (lifecycle_stage, "
                             "deleted_time)\n1 problem found\n")


def test_check_an_empty_database(uri: str) -> None:
    result = db("check", uri)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "no trackstore revision (expected 0004)"
    assert "runs: missing table" in lines
    assert lines[-1] == "24 problems found"


def test_a_missing_sqlite_file_is_an_error_and_stays_missing(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "x.db"
    for command in ("current", "check"):
        result = db(command, f"sqlite:///{path}")
        assert result.exit_code == 1
        assert result.stderr == f"Error (RESOURCE_DOES_NOT_EXIST): No SQLite database at {path}\n"
    assert not path.parent.exists()


@pytest.mark.parametrize("command", ["upgrade", "current", "check"])
def test_errors_are_one_line_without_the_password(command: str) -> None:
    result = db(command, "postgresql://someone:s3cret@127.0.0.1:1/nothing")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("Error (TEMPORARILY_UNAVAILABLE): Database error on "
                                    "postgresql://someone:***@127.0.0.1:1/nothing: ")
    assert result.stderr.count("\n") == 1 and "s3cret" not in result.stderr
    result = db(command, "oracle://x/y")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error (INVALID_PARAMETER_VALUE): Unsupported database")
    assert result.stderr.count("\n") == 1


def test_installed_command_prints_no_traceback(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "trackstore"
    done = subprocess.run([str(exe), "db", "check", "mysql://u:pw@127.0.0.1:1/x"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("Error (TEMPORARILY_UNAVAILABLE): Database error on ")
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    done = subprocess.run([str(exe), "db", "upgrade", uri], capture_output=True, text=True,
                          check=True)
    assert done.stdout == f"Created the schema in {uri}: (empty) -> 0004 (head)\n"
    done = subprocess.run([str(exe), "db", "check", uri], capture_output=True, text=True,
                          check=True)
    assert done.stdout == "schema OK at 0004\n"
