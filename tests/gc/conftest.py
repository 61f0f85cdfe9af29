"""The ``world`` fixture of the gc tests: a store on each backend, runs to keep and to collect,
and what the store and its artifact folders hold, as plain data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from tests._databases import SQL_KINDS, fresh_database
from trackstore.artifacts import LocalArtifactRepository
from trackstore.cli import main
from trackstore.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
from trackstore.exceptions import TrackstoreError
from trackstore.store.base import AbstractStore
from trackstore.store.file import FileStore
from trackstore.store.sql import SqlStore
from trackstore.store.sql import schema as s

BACKENDS = ["file", *SQL_KINDS]
T0 = 1_700_000_000_000


@dataclass
class World:
    """A store, its URI for the command line, and where its artifacts live."""

    kind: str
    uri: str
    store: AbstractStore
    tmp: Path
    artifacts: Path
    keep: list[str] = field(default_factory=list)
    collect: list[str] = field(default_factory=list)
    experiments: dict[str, str] = field(default_factory=dict)

    def gc(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["gc", "--backend-store-uri", self.uri, "-q", *args])


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    kind = str(request.param)
    artifacts = tmp_path / "artifacts"
    if kind == "file":
        root = tmp_path / "mlruns"
        store: AbstractStore = FileStore(str(root))
        yield World(kind, str(root), store, tmp_path, root)
        store.close()
        return
    from trackstore.store.sql.engine import dispose_engines

    with fresh_database(kind, tmp_path) as uri:
        store = SqlStore(uri, str(artifacts))
        try:
            yield World(kind, uri, store, tmp_path, artifacts)
        finally:
            store.close()
            dispose_engines()


def add_run(w: World, experiment_id: str, n: int) -> str:
    """A run with a param, a tag, two metrics, a dataset input and two artifact files."""
    store = w.store
    run_id = store.create_run(experiment_id, "u", T0 + n, [], f"run-{n}").info.run_id
    store.log_batch(run_id, metrics=[Metric("loss", 1.0 / (s + 1), T0 + s, s) for s in range(5)]
                    + [Metric("acc", 0.5, T0, 0)],
                    params=[Param("lr", str(n))], tags=[RunTag("note", f"n{n}")])
    store.log_inputs(run_id, [DatasetInput(
        Dataset(f"ds-{experiment_id}", "d1", "local", "/data", None, None),
        [InputTag("mlflow.data.context", "train")])])
    source = w.tmp / "upload" / run_id
    (source / "sub").mkdir(parents=True)
    (source / "model.bin").write_bytes(os.urandom(64))
    (source / "sub" / "plot.txt").write_text(run_id)
    LocalArtifactRepository(store.get_run(run_id).info.artifact_uri).log_artifacts(str(source))
    return run_id


def build(w: World) -> None:
    """Experiment A: a kept run, a run deleted then restored (kept), a run deleted, restored
    and deleted again (collected). Experiment B: deleted, restored, deleted again (both its
    runs collected). Experiment C: untouched."""
    store = w.store
    a, b, c = (store.create_experiment(name) for name in ("A", "B", "C"))
    w.experiments = {"A": a, "B": b, "C": c}
    kept, restored, doomed = (add_run(w, a, n) for n in range(3))
    b1, b2 = add_run(w, b, 3), add_run(w, b, 4)
    c1 = add_run(w, c, 5)
    store.delete_run(restored)
    store.restore_run(restored)
    store.delete_run(doomed)
    store.delete_experiment(b)
    store.restore_run(doomed)
    store.restore_experiment(b)
    store.delete_run(doomed)
    store.delete_run(b1)  # on its own, before its experiment
    store.delete_experiment(b)
    w.keep = [kept, restored, c1]
    w.collect = [doomed, b1, b2]


# -- what the store holds, as plain data --------------------------------------------------------


def tables(uri: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every trackstore table, sorted."""
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return {t.name: sorted((tuple(row) for row in conn.execute(sa.select(t))), key=repr)
                    for t in s.metadata.sorted_tables}
    finally:
        engine.dispose()


def files(root: Path) -> dict[str, bytes]:
    """Every file under *root* (relative path -> content), and every directory (-> b"/")."""
    out: dict[str, bytes] = {}
    if not root.exists():
        return out
    for folder, dirs, names in os.walk(root):
        for d in dirs:
            out[os.path.relpath(os.path.join(folder, d), root) + "/"] = b"/"
        for name in names:
            path = os.path.join(folder, name)
            out[os.path.relpath(path, root)] = Path(path).read_bytes()
    return out


def state(w: World) -> dict[str, Any]:
    # the file store's side files (run index, search summaries) are caches, not the tree
    data: dict[str, Any] = {"files": {k: v for k, v in files(w.artifacts).items()
                                      if not k.startswith(".trackstore-")}}
    if w.kind != "file":
        data["tables"] = tables(w.uri)
    return data


def without(data: dict[str, Any], w: World) -> dict[str, Any]:
    """*data* with every trace of the runs and experiment gc was to collect removed: what the
    store must hold after gc."""
    gone = set(w.collect) | {w.experiments["B"]}
    out: dict[str, Any] = {"files": {
        k: v for k, v in data["files"].items()
        if not any(part in gone for part in Path(k).parts)}}
    if "tables" in data:
        named = {name: [dict(zip([c.name for c in s.metadata.tables[name].columns], row,
                                 strict=True)) for row in rows]
                 for name, rows in data["tables"].items()}
        run_keys = {r["run_key"] for r in named["runs"] if r["run_uuid"] in w.collect}
        b = int(w.experiments["B"])
        dataset_keys = {r["dataset_key"] for r in named["datasets"] if r["experiment_id"] == b}
        out["tables"] = {
            name: [row for row, values in zip(data["tables"][name], named[name], strict=True)
                   if values.get("run_key") not in run_keys
                   and values.get("experiment_id") != b
                   and values.get("dataset_key") not in dataset_keys]
            for name in data["tables"]}
    return out


def assert_no_trace(w: World) -> None:
    """No file name, file content or table cell anywhere names a collected run."""
    for path, content in files(w.artifacts).items():
        for run_id in w.collect:
            assert run_id not in path and run_id.encode() not in content, (path, run_id)
    if w.kind != "file":
        for name, rows in tables(w.uri).items():
            for row in rows:
                assert not set(map(str, row)) & set(w.collect), (name, row)
    for run_id in w.collect:
        with pytest.raises(TrackstoreError) as e:
            w.store.get_run(run_id)
        assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
