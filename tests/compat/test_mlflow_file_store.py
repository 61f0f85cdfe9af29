"""``mlruns`` trees, both ways: what MLflow wrote, trackstore reads as MLflow does, and what
trackstore wrote, MLflow reads as trackstore does.

A tree is compared through a *snapshot*: every experiment (all lifecycle stages) and every run
with its info, params, tags, latest metrics, full metric histories and dataset inputs, read
through one store's public API. The same ``populate`` script writes a tree through
``mlflow.MlflowClient`` or through ``trackstore.TrackingClient``: their APIs are the same.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.compat._oracle import require_mlflow

mlflow = require_mlflow()

import trackstore  # noqa: E402
from trackstore.store.file import FileStore  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
T0 = 1_700_000_000_000

pytestmark = pytest.mark.mlflow


# -- snapshots ---------------------------------------------------------------------------------


def _num(value: float) -> Any:
    return "nan" if isinstance(value, float) and math.isnan(value) else value


def snapshot(store: Any, entities: ModuleType) -> dict[str, Any]:
    """Everything a user can read from *store* (an MLflow or a trackstore store)."""
    view_all = entities.ViewType.ALL
    experiments = store.search_experiments(view_type=view_all, max_results=50000)
    out: dict[str, Any] = {"experiments": {}, "runs": {}}
    for e in experiments:
        out["experiments"][e.experiment_id] = {
            "name": e.name, "artifact_location": e.artifact_location,
            "lifecycle_stage": e.lifecycle_stage, "creation_time": e.creation_time,
            "last_update_time": e.last_update_time, "tags": dict(e.tags)}
    runs = store.search_runs([e.experiment_id for e in experiments], "", view_all, 50000)
    for run in runs:
        info = run.info
        history = {}
        latest = {}
        for m in run.data._metric_objs if hasattr(run.data, "_metric_objs") else []:
            latest[m.key] = (_num(m.value), m.timestamp, m.step)
        for key in run.data.metrics:
            points = store.get_metric_history(info.run_id, key)
            history[key] = [(_num(m.value), m.timestamp, m.step) for m in points]
        inputs = sorted(
            (d.dataset.name, d.dataset.digest, d.dataset.source_type, d.dataset.source,
             d.dataset.schema, d.dataset.profile, tuple(sorted((t.key, t.value) for t in d.tags)))
            for d in run.inputs.dataset_inputs)
        out["runs"][info.run_id] = {
            "info": {k: getattr(info, k) for k in (
                "run_id", "experiment_id", "user_id", "status", "start_time", "end_time",
                "lifecycle_stage", "artifact_uri", "run_name")},
            "params": dict(run.data.params), "tags": dict(run.data.tags),
            "metrics": {k: _num(v) for k, v in run.data.metrics.items()},
            "latest": latest, "history": history, "inputs": inputs}
    return out


def mlflow_snapshot(root: Path) -> dict[str, Any]:
    from mlflow.store.tracking.file_store import FileStore as MlflowFileStore

    return snapshot(MlflowFileStore(str(root)), mlflow.entities)


def trackstore_snapshot(root: Path) -> dict[str, Any]:
    store = FileStore(str(root))
    try:
        assert store.problems() == []
        return snapshot(store, trackstore.entities)
    finally:
        store.close()


def copy_tree(src: Path, dst: Path) -> Path:
    """A writable copy, with the empty run sub-directories that git does not keep.

    MLflow >= 3.8 only finds runs (``get_run``, ``get_metric_history``) whose directory has
    ``metrics/``, ``params/`` and ``artifacts/`` sub-directories; a real tree has them.
    """
    shutil.copytree(src, dst)
    for dirpath, _, _ in os.walk(dst):
        os.chmod(dirpath, 0o755)
    for meta in [*dst.glob("*/*/meta.yaml"), *dst.glob(".trash/*/*/meta.yaml")]:
        for sub in ("metrics", "params", "artifacts"):
            (meta.parent / sub).mkdir(exist_ok=True)
    return dst


# -- one script, two writers -------------------------------------------------------------------


def populate(client: Any, ent: ModuleType) -> None:
    """Write a varied tree through an ``MlflowClient``-shaped client."""
    exp_a = client.create_experiment("vision ☃ 实验", tags={"team": "cv", "a/b": "nested"})
    exp_b = client.create_experiment("to-rename")
    client.rename_experiment(exp_b, "renamed")
    client.set_experiment_tag(exp_b, "gone", "soon")
    client.delete_experiment_tag(exp_b, "gone")
    run_ids = []
    for i in range(4):
        run = client.create_run(exp_a, start_time=T0 + i * 1000,
                                tags={"mlflow.user": "alice", "i": str(i)},
                                run_name=f"run-{i}")
        rid = run.info.run_id
        run_ids.append(rid)
        client.log_batch(rid, metrics=[
            ent.Metric("train/loss", 1.0 / (s + 1 + i), T0 + s, s) for s in range(1200)][:1000],
            params=[ent.Param("lr", str(0.1 * (i + 1))), ent.Param("opt/name", "adam")],
            tags=[ent.RunTag("note", "multi\nline ünïcode 日本語")])
        client.log_batch(rid, metrics=[
            ent.Metric("train/loss", 0.001, T0 + 5000, 1000 + s) for s in range(300)])
        for j, v in enumerate([float("nan"), float("inf"), float("-inf"), 0.5, 0.5]):
            client.log_metric(rid, "special", v, timestamp=T0 + j, step=j % 2)
        client.log_param(rid, "long", "x" * 6000)
        client.set_tag(rid, "tmp", "1")
        client.delete_tag(rid, "tmp")
    ds = ent.Dataset(name="train-set", digest="abc123", source_type="local",
                     source='{"uri": "/data/train.csv"}',
                     schema='{"mlflow_colspec": [{"type": "double", "name": "x"}]}',
                     profile='{"num_rows": 10}')
    client.log_inputs(run_ids[0], [ent.DatasetInput(ds, [ent.InputTag("mlflow.data.context",
                                                                      "training")])])
    client.set_terminated(run_ids[0], "FINISHED", T0 + 99)
    client.set_terminated(run_ids[1], "FAILED", T0 + 98)
    client.update_run(run_ids[2], name="renamed-run")
    client.delete_run(run_ids[3])
    child = client.create_run(exp_b, tags={"mlflow.parentRunId": run_ids[0]})
    client.log_metric(child.info.run_id, "m", 3.0, timestamp=T0, step=0)
    doomed = client.create_experiment("doomed")
    client.create_run(doomed, start_time=T0)
    client.delete_experiment(doomed)
    client.restore_experiment(doomed)
    client.delete_experiment(doomed)


# -- tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["mlruns-mlflow-3.17", "mlruns-mlflow-2.22"])
def test_fixture_trees_read_as_mlflow_reads_them(fixture: str, tmp_path: Path) -> None:
    root = copy_tree(FIXTURES / fixture, tmp_path / "mlruns")
    ours = trackstore_snapshot(root)
    theirs = mlflow_snapshot(root)
    assert ours == theirs
    assert len(ours["runs"]) >= 25
    assert any(r["info"]["lifecycle_stage"] == "deleted" for r in ours["runs"].values())
    assert any(e["lifecycle_stage"] == "deleted" for e in ours["experiments"].values())


@pytest.mark.parametrize("fixture", ["mlruns-mlflow-3.17", "mlruns-mlflow-2.22"])
def test_fixture_trees_are_readable_as_found(fixture: str, tmp_path: Path) -> None:
    """Trees copied from elsewhere may lack the empty artifacts/ dirs: trackstore reads them."""
    root = tmp_path / "mlruns"
    shutil.copytree(FIXTURES / fixture, root)
    store = FileStore(str(root))
    runs = store.search_runs([e.experiment_id for e in store.search_experiments(3)], "", 3)
    assert len(runs) >= 25
    special = [r for r in runs if "long_param" in r.data.params]
    assert len(special) == 1
    run = store.get_run(special[0].info.run_id)
    assert run.data.params["long_param"] == ("0123456789abcdef" * 400)[:6000]
    assert math.isnan(run.data.metrics["nan_metric"])
    assert run.data.metrics["inf_metric"] == math.inf
    assert run.data.metrics["neg_inf_metric"] == -math.inf
    assert run.data.tags["note_ünïcode"] == "naïve café ☃ 日本語"
    assert store.problems() == []


def test_tree_written_by_mlflow_reads_identically(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    populate(mlflow.MlflowClient(root.as_uri()), mlflow.entities)
    theirs = mlflow_snapshot(root)
    assert trackstore_snapshot(root) == theirs
    assert len(theirs["runs"]) == 6 and len(theirs["experiments"]) == 4


def test_tree_written_by_trackstore_reads_identically_in_mlflow(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    client = trackstore.TrackingClient(root.as_uri())
    populate(client, trackstore.entities)
    store = client.store
    assert isinstance(store, FileStore)
    for e in store.search_experiments(3):  # trackstore's side files are there too
        store.search_runs([e.experiment_id], "", 3)
        store._summaries.save(e.experiment_id, store._experiment_dir(e.experiment_id) or "")
    store.close()
    assert len(list(root.glob(".trackstore-*"))) >= 5
    ours = trackstore_snapshot(root)
    assert mlflow_snapshot(root) == ours
    assert len(ours["runs"]) == 6 and len(ours["experiments"]) == 4
    # MLflow's own lookups (get_run validates the run directory's structure) find our runs.
    mlflow_client = mlflow.MlflowClient(root.as_uri())
    for run_id, run in ours["runs"].items():
        assert mlflow_client.get_run(run_id).data.params == run["params"]


def test_both_writers_produce_the_same_tree(tmp_path: Path) -> None:
    """Same script, two writers: the trees hold the same data (ids and times aside)."""
    populate(mlflow.MlflowClient((tmp_path / "a").as_uri()), mlflow.entities)
    client = trackstore.TrackingClient((tmp_path / "b").as_uri())
    populate(client, trackstore.entities)
    client.store.close()

    def shape(snap: dict[str, Any]) -> list[Any]:
        names = {i: e["name"] for i, e in snap["experiments"].items()}
        rows = []
        for run in snap["runs"].values():
            info = run["info"]
            tags = {k: v for k, v in run["tags"].items()
                    if k not in ("mlflow.runName", "mlflow.parentRunId")}
            rows.append((names[info["experiment_id"]], info["status"], info["lifecycle_stage"],
                         info["user_id"], sorted(run["params"].items()), sorted(tags.items()),
                         sorted(run["history"].items()), run["inputs"]))
        return sorted(rows, key=repr)

    assert shape(trackstore_snapshot(tmp_path / "a")) == shape(trackstore_snapshot(tmp_path / "b"))


def test_meta_yaml_is_what_mlflow_writes(tmp_path: Path) -> None:
    """Field for field (ids and times aside), plus run_uuid for MLflow 2.x readers."""
    import yaml

    populate(mlflow.MlflowClient((tmp_path / "a").as_uri()), mlflow.entities)
    client = trackstore.TrackingClient((tmp_path / "b").as_uri())
    populate(client, trackstore.entities)
    client.store.close()

    def metas(root: Path, depth: int) -> list[dict[str, Any]]:
        found = []
        for path in root.glob("/".join(["*"] * depth) + "/meta.yaml"):
            if ".trash" in path.parts:
                continue
            with open(path, encoding="utf-8") as f:
                found.append(yaml.safe_load(f))
        return found

    ours_runs = metas(tmp_path / "b", 2)
    theirs_runs = metas(tmp_path / "a", 2)
    assert {frozenset(m) - {"run_uuid", "deleted_time"} for m in ours_runs} == {
        frozenset(m) - {"deleted_time"} for m in theirs_runs}
    assert all(m["run_uuid"] == m["run_id"] for m in ours_runs)
    assert all(isinstance(m["status"], int) and m["source_type"] == 4 for m in ours_runs)
    assert {frozenset(m) for m in metas(tmp_path / "b", 1)} == {
        frozenset(m) - {"tags"} for m in metas(tmp_path / "a", 1)}
