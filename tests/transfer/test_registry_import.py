"""``trackstore import`` carries MLflow's model registry into a database destination.

The sources are written by the real ``mlflow`` client: an MLflow SQLite database and an
``mlruns`` tree with MLflow's file-based registry, each holding the same scenario (models with
tags and descriptions, versions in every stage, with tags, run links and ``models:/``
sources, aliases, deleted versions -- the highest number of a model among them -- a model whose
versions are all deleted, one without versions). They go into SQLite, PostgreSQL and MariaDB
destinations, and what trackstore's API reads there must equal what MLflow's own store reads
from the source: every model, version, field, tag, alias and time. The next version created
gets the number after the highest the source used, deleted versions included; a second import
writes nothing; a change at the source is carried by a third; a model created otherwise in the
destination is a conflict, left alone; a file-store destination counts the registry as not
carried. Databases written by nine MLflow releases (2.0.1 to 3.17.2, with and without the
aliases table, ``storage_location`` and ``workspace`` columns) import as their manifests say.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests._databases import SQL_KINDS, fresh_database
from tests.compat._oracle import require_mlflow
from trackstore.model_registry import ModelVersionTag, RegisteredModelTag
from trackstore.transfer import format_summary, run_import

from .conftest import FIXTURES, open_store

mlflow = require_mlflow()

pytestmark = [pytest.mark.mlflow, pytest.mark.filterwarnings("ignore::FutureWarning")]

RUN = "0123456789abcdef0123456789abcdef"
FRAUD = "fraud-détecteur"
#: The next version number of each model of the scenario: past every number used, deleted
#: versions included.
NEXT = {"churn": 7, FRAUD: 4, "retired": 3, "empty": 1}
REGISTRY_TABLES = ("registered_models", "registered_model_tags", "model_versions",
                   "model_version_tags", "registered_model_aliases")


# -- sources written by MLflow -------------------------------------------------------------------


def _client(uri: str) -> Any:
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def _write_scenario(c: Any) -> None:
    c.create_registered_model("churn", tags={"team": "growth", "nested/key": "ü ✓"},
                              description="weekly churn model")
    for i in range(1, 7):
        c.create_model_version("churn", f"/art/churn/{i}", run_id=RUN,
                               run_link=f"http://ui/runs/{i}", tags={"i": str(i)},
                               description=f"version {i}",
                               model_id="m-0123" if i == 5 else None)
    c.transition_model_version_stage("churn", 1, "Archived")
    c.transition_model_version_stage("churn", 2, "Production")
    c.transition_model_version_stage("churn", 3, "Staging")
    c.set_model_version_tag("churn", 3, "validated", "yes")
    c.delete_model_version_tag("churn", 1, "i")
    c.set_registered_model_alias("churn", "champion", 2)
    c.set_registered_model_alias("churn", "challenger", 3)
    c.set_registered_model_alias("churn", "old", 4)
    c.delete_model_version("churn", 4)  # its alias goes with it
    c.delete_model_version("churn", 6)  # the highest number is a deleted version's

    c.create_registered_model(FRAUD, description="multi\nline ✓")
    c.create_model_version(FRAUD, "/art/fraud/1", run_id=RUN)
    c.create_model_version(FRAUD, f"models:/{FRAUD}/1")  # stored where version 1 is
    c.create_model_version(FRAUD, "/art/fraud/3")
    c.delete_model_version(FRAUD, 3)
    c.set_registered_model_alias(FRAUD, "prod", 2)

    c.create_registered_model("retired", tags={"why": "replaced"})
    c.create_model_version("retired", "/art/retired/1")
    c.create_model_version("retired", "/art/retired/2")
    c.delete_model_version("retired", 1)
    c.delete_model_version("retired", 2)

    c.create_registered_model("empty")


def _change_scenario(c: Any) -> None:
    """What happens at the source between the second and the third import."""
    c.set_registered_model_tag("churn", "team", "core")
    c.delete_registered_model_tag("churn", "nested/key")
    c.update_registered_model("churn", description="daily churn model")
    c.transition_model_version_stage("churn", 3, "Production", archive_existing_versions=True)
    c.create_model_version("churn", "/art/churn/7", run_id=RUN, tags={"i": "7"})
    c.set_registered_model_alias("churn", "champion", 7)
    c.delete_model_version("churn", 1)
    c.update_model_version(FRAUD, 1, description="now described")
    c.delete_registered_model("empty")
    c.create_registered_model("added", tags={"new": "yes"})
    c.create_model_version("added", "/art/added/1")


@pytest.fixture(scope="module")
def made_sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The scenario written by MLflow once into a SQLite database and once into an mlruns
    tree (copied for each test)."""
    root = tmp_path_factory.mktemp("mlflow-sources")
    db = root / "mlflow.db"
    tree = root / "mlruns"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # anything MLflow writes by default lands here
        for uri in (f"sqlite:///{db}", tree.as_uri()):
            mp.setenv("MLFLOW_TRACKING_URI", uri)
            _write_scenario(_client(uri))
    return {"sql": db, "mlruns": tree}


@pytest.fixture(params=["sql", "mlruns"])
def source(request: pytest.FixtureRequest, made_sources: dict[str, Path],
           tmp_path: Path) -> Iterator[str]:
    """A writable copy of a source MLflow wrote: its URI (a SQLite URI or a directory)."""
    made = made_sources[request.param]
    if request.param == "sql":
        copy = tmp_path / "source.db"
        shutil.copyfile(made, copy)
        yield f"sqlite:///{copy}"
    else:
        copy = tmp_path / "source-mlruns"
        shutil.copytree(made, copy)
        yield str(copy)


@pytest.fixture(params=SQL_KINDS)
def dest(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as uri:
        yield uri
    from trackstore.store.sql.engine import dispose_engines

    dispose_engines()


@pytest.fixture
def sqlite_dest(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'dest.db'}"
    from trackstore.store.sql.engine import dispose_engines

    dispose_engines()


def _mlflow_uri(source: str) -> str:
    return source if source.startswith("sqlite:") else Path(source).as_uri()


# -- the two views ----------------------------------------------------------------------------


def _version_view(v: Any, download_uri: str) -> dict[str, Any]:
    return {"creation": v.creation_timestamp, "updated": v.last_updated_timestamp,
            "description": v.description, "user_id": v.user_id, "stage": v.current_stage,
            "source": v.source, "run_id": v.run_id, "run_link": v.run_link,
            "status": str(v.status), "status_message": v.status_message,
            "tags": dict(v.tags), "aliases": sorted(v.aliases), "model_id": v.model_id,
            "download_uri": download_uri}


def _model_view(m: Any) -> dict[str, Any]:
    return {"creation": m.creation_timestamp, "updated": m.last_updated_timestamp,
            "description": m.description, "tags": dict(m.tags),
            "aliases": {k: str(v) for k, v in m.aliases.items()},
            "latest": sorted((v.current_stage, int(v.version)) for v in m.latest_versions)}


def mlflow_view(source: str) -> dict[str, Any]:
    """What MLflow's own store reads from the source: the oracle."""
    uri = _mlflow_uri(source)
    out: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as mp:
        # The file registry looks a version's model_id up through the default tracking URI.
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        c = _client(uri)
        for m in c.search_registered_models(max_results=1000):
            model = c.get_registered_model(m.name)
            versions = {}
            for v in c.search_model_versions(f"name='{m.name}'", max_results=10_000):
                if v.current_stage == "Deleted_Internal":  # the file store lists them
                    continue
                got = c.get_model_version(m.name, v.version)
                versions[int(got.version)] = _version_view(
                    got, c.get_model_version_download_uri(m.name, got.version))
            out[m.name] = {"model": _model_view(model), "versions": versions}
    return out


def trackstore_view(uri: str) -> dict[str, Any]:
    """What trackstore's API reads from the destination."""
    store = open_store(uri)
    try:
        out: dict[str, Any] = {}
        for m in store.search_registered_models(max_results=1000):
            versions = {}
            for v in store.search_model_versions(f"name='{m.name}'", max_results=10_000):
                got = store.get_model_version(m.name, v.version)
                versions[int(got.version)] = _version_view(
                    got, store.get_model_version_download_uri(m.name, got.version))
            out[m.name] = {"model": _model_view(store.get_registered_model(m.name)),
                           "versions": versions}
        return out
    finally:
        store.close()


def table_rows(uri: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the destination's registry tables, sorted."""
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return {t: sorted((tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {t}"))),
                              key=repr) for t in REGISTRY_TABLES}
    finally:
        engine.dispose()


def next_versions(uri: str, names: list[str]) -> dict[str, int]:
    """The number the destination gives a version created now, per model (created there)."""
    store = open_store(uri)
    try:
        return {name: int(store.create_model_version(name, f"s3://new/{name}").version)
                for name in names}
    finally:
        store.close()


# -- the tests ----------------------------------------------------------------------------------


def test_registry_imports_equal_to_what_mlflow_reads(source: str, dest: str) -> None:
    want = mlflow_view(source)
    assert sorted(want) == sorted(NEXT)  # the scenario is what the tests think it is
    assert sorted(want["churn"]["versions"]) == [1, 2, 3, 5]
    assert want[FRAUD]["versions"][2]["download_uri"] == "/art/fraud/1"
    if not source.startswith("sqlite:"):
        assert want["churn"]["versions"][5]["model_id"] == "m-0123"

    summary, result = run_import(source, dest, check=True)

    assert summary.problems == []
    assert summary.models == {"created": 4}
    assert summary.model_versions == 6
    assert "registered models" not in summary.uncarried
    assert result is not None and result.ok, result.differences
    assert (result.models, result.model_versions) == (4, 6)
    assert trackstore_view(dest) == want
    text = format_summary(summary, result)
    assert "registry     4 registered models: 4 new, 0 updated, 0 unchanged" in text

    # Importing again writes nothing, and says so.
    before = table_rows(dest)
    again, result = run_import(source, dest, check=True)
    assert again.models == {"unchanged": 4} and again.problems == []
    assert result is not None and result.ok, result.differences
    assert table_rows(dest) == before

    # A change at the source is carried by the next import (a model deleted there stays).
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", _mlflow_uri(source))
        _change_scenario(_client(_mlflow_uri(source)))
    changed = mlflow_view(source)
    third, result = run_import(source, dest, check=True)
    assert third.problems == []
    assert third.models == {"updated": 2, "created": 1, "unchanged": 1}
    assert result is not None and result.ok, result.differences
    have = trackstore_view(dest)
    assert have.pop("empty") == want["empty"]
    assert have == changed
    assert sorted(have["churn"]["versions"]) == [2, 3, 5, 7]
    assert have["churn"]["versions"][2]["stage"] == "Archived"

    # Versions created in the destination now go on after every number the source used.
    assert next_versions(dest, ["churn", FRAUD, "retired", "empty", "added"]) == {
        "churn": 8, FRAUD: 4, "retired": 3, "empty": 1, "added": 2}


def test_next_version_follows_every_number_the_source_used(source: str,
                                                          sqlite_dest: str) -> None:
    run_import(source, sqlite_dest)
    assert next_versions(sqlite_dest, list(NEXT)) == NEXT


def test_a_model_created_otherwise_in_the_destination_is_left_alone(
        source: str, sqlite_dest: str) -> None:
    store = open_store(sqlite_dest)
    try:
        store.create_registered_model("churn", tags=[RegisteredModelTag("mine", "yes")])
        mine = store.create_model_version("churn", "s3://mine/1")
    finally:
        store.close()
    summary, result = run_import(source, sqlite_dest, check=True)
    assert summary.models == {"created": 3, "conflict": 1}
    assert [w for w, r in summary.problems if "registered model 'churn' not imported" in r]
    assert result is not None and not result.ok  # the destination's churn is not the source's
    have = trackstore_view(sqlite_dest)
    assert have["churn"]["model"]["tags"] == {"mine": "yes"}
    assert sorted(have["churn"]["versions"]) == [int(mine.version)]
    want = mlflow_view(source)
    assert {k: v for k, v in have.items() if k != "churn"} == \
        {k: v for k, v in want.items() if k != "churn"}


def test_a_copy_given_versions_in_the_destination_is_no_longer_replaced(
        source: str, sqlite_dest: str) -> None:
    run_import(source, sqlite_dest)
    store = open_store(sqlite_dest)
    try:
        mine = store.create_model_version(FRAUD, "s3://registered/here")
        store.set_model_version_tag(FRAUD, mine.version, ModelVersionTag("where", "here"))
        store.set_registered_model_tag("retired", RegisteredModelTag("edited", "here"))
    finally:
        store.close()
    before = trackstore_view(sqlite_dest)

    summary, _ = run_import(source, sqlite_dest)

    # FRAUD holds version 4, which the source never had: a conflict, left as it is. A copy
    # only edited in the destination follows the source again.
    assert summary.models == {"unchanged": 2, "conflict": 1, "updated": 1}
    assert any(f"{FRAUD!r} not imported" in r and "version(s) 4" in r
               for _, r in summary.problems)
    have = trackstore_view(sqlite_dest)
    assert have[FRAUD] == before[FRAUD]
    assert "edited" not in have["retired"]["model"]["tags"]
    assert have["retired"] == mlflow_view(source)["retired"]


def test_a_file_store_destination_counts_the_registry_as_not_carried(
        source: str, tmp_path: Path) -> None:
    out = tmp_path / "exported"
    summary, _ = run_import(source, str(out))
    assert summary.uncarried == {"registered models": 4, "model versions": 6}
    assert summary.models == {}
    text = format_summary(summary, None)
    assert ("not carried  4 registered models, 6 model versions (the model registry is carried "
            "into a database destination only") in text
    assert not (out / "models").exists()
    assert json.loads(json.dumps(summary.as_dict()))["not_carried"] == {
        "registered models": 4, "model versions": 6}


def test_a_trackstore_database_source_carries_its_registry(source: str, sqlite_dest: str,
                                                          tmp_path: Path) -> None:
    run_import(source, sqlite_dest)
    second = f"sqlite:///{tmp_path / 'second.db'}"
    summary, result = run_import(sqlite_dest, second, check=True)
    assert summary.models == {"created": 4} and summary.problems == []
    assert result is not None and result.ok, result.differences
    assert trackstore_view(second) == mlflow_view(source)
    assert next_versions(second, list(NEXT)) == NEXT


def test_unreadable_parts_of_a_file_registry_are_reported(made_sources: dict[str, Path],
                                                          tmp_path: Path,
                                                          sqlite_dest: str) -> None:
    tree = tmp_path / "mlruns"
    shutil.copytree(made_sources["mlruns"], tree)
    models = tree / "models"
    (models / "no-meta").mkdir()
    (models / "churn" / "version-5" / "meta.yaml").write_text("")  # a torn write
    (models / "churn" / "aliases" / "dangling").write_text("9")

    summary, _ = run_import(str(tree), sqlite_dest)

    reasons = sorted(r for _, r in summary.problems)
    assert any(r.startswith("registered model skipped: it") for r in reasons)
    assert any(r.startswith("model version 5 of 'churn' skipped") for r in reasons)
    assert any(r.startswith("alias 'dangling' of registered model 'churn' skipped")
               for r in reasons)
    have = trackstore_view(sqlite_dest)
    assert sorted(have["churn"]["versions"]) == [1, 2, 3]
    assert next_versions(sqlite_dest, ["churn"]) == {"churn": 7}


def test_other_workspaces_of_an_mlflow_database_are_counted(made_sources: dict[str, Path],
                                                            tmp_path: Path,
                                                            sqlite_dest: str) -> None:
    db = tmp_path / "mlflow.db"
    shutil.copyfile(made_sources["sql"], db)
    engine = sa.create_engine(f"sqlite:///{db}", poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO registered_models (name, creation_time, "
                                 "last_updated_time, workspace) VALUES ('churn', 1, 1, 'team-b')"))
    finally:
        engine.dispose()
    summary, _ = run_import(f"sqlite:///{db}", sqlite_dest)
    assert summary.models == {"created": 4}
    assert summary.uncarried == {"registered models of other workspaces than default": 1}
    assert trackstore_view(sqlite_dest)["churn"]["model"]["creation"] != 1


DBS = sorted((FIXTURES / "mlflow-dbs").glob("mlflow-*.db"),
             key=lambda p: tuple(int(x) for x in p.stem.split("-")[1].split(".")))


@pytest.mark.parametrize("db", DBS, ids=[p.stem for p in DBS])
def test_registries_of_every_mlflow_schema_import(db: Path, tmp_path: Path,
                                                  sqlite_dest: str) -> None:
    manifest = json.loads(db.with_suffix(".json").read_text())
    copy = tmp_path / db.name
    shutil.copyfile(db, copy)
    summary, result = run_import(f"sqlite:///{copy}", sqlite_dest, check=True)
    assert result is not None and result.ok, result.differences
    wanted = manifest["registered_models"]
    assert summary.models == {"created": len(wanted)}
    assert "registered models" not in summary.uncarried
    store = open_store(sqlite_dest)
    try:
        for want in wanted:
            got = store.get_registered_model(want["name"])
            assert (got.description, got.tags, got.aliases) == (
                want["description"], want["tags"], want["aliases"])
            for v in want["versions"]:
                mv = store.get_model_version(want["name"], v["version"])
                assert (mv.source, mv.run_id, mv.status, mv.current_stage, mv.description,
                        mv.tags) == (v["source"], v["run_id"], v["status"],
                                     v["current_stage"], v["description"], v["tags"])
    finally:
        store.close()
    engine = sa.create_engine(f"sqlite:///{copy}", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            times = {tuple(r) for r in conn.execute(sa.text(
                "SELECT name, creation_time, last_updated_time FROM registered_models"))}
    finally:
        engine.dispose()
    have = trackstore_view(sqlite_dest)
    assert {(name, m["model"]["creation"], m["model"]["updated"])
            for name, m in have.items()} == times


def test_no_registry_means_no_registry_line(sqlite_dest: str) -> None:
    summary, _ = run_import(str(FIXTURES / "mlruns-mlflow-3.17"), sqlite_dest)
    assert summary.models == {} and summary.uncarried.keys().isdisjoint(
        {"registered models", "model versions"})
    assert "\n  registry " not in format_summary(summary, None)
    assert summary.as_dict()["registered_models"]["total"] == 0


def test_through_a_server_the_registry_is_counted_not_carried(source: str,
                                                               tmp_path: Path) -> None:
    from tests._live_server import serve_in_thread
    from trackstore.store.sql import SqlStore

    store = SqlStore(f"sqlite:///{tmp_path / 'server.db'}")
    try:
        with serve_in_thread(store) as url:
            summary, result = run_import(source, url, check=True)
            assert result is not None and result.ok, result.differences
            assert summary.uncarried == {"registered models": 4, "model versions": 6}
            assert "import into the server's database" in format_summary(summary, None)
            assert store.search_registered_models().to_list() == []

            run_import(source, f"sqlite:///{tmp_path / 'server.db'}")  # its database has it
            back, _ = run_import(url, f"sqlite:///{tmp_path / 'back.db'}")
            assert back.uncarried == {"registered models": 4, "model versions": 6}
            assert "import from the server's database" in format_summary(back, None)
    finally:
        store.close()
