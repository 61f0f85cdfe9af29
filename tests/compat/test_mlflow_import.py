"""``trackstore import`` / ``export`` judged by MLflow itself.

* mlruns trees written by MLflow 3.17 and 2.22 go into SQLite, PostgreSQL and MariaDB and come
  back out with ``trackstore export``: MLflow's own file store reads the exported tree exactly
  as it reads the original (experiments, runs, params, tags, inputs, every metric point).
* A database MLflow 3.17 made (``sqlite:///``, datasets, NaN and infinities, a deleted run and
  a deleted experiment) is imported and exported: MLflow reads the export exactly as it reads
  its own database.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._databases import SQL_KINDS, fresh_database
from trackstore.transfer import run_import

from ._oracle import require_mlflow

mlflow = require_mlflow()

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _value(v: float) -> Any:
    return "NaN" if math.isnan(v) else v


def mlflow_view(uri: str) -> dict[str, Any]:
    """What MLflow's client reads from *uri*, as plain data."""
    from mlflow.entities import ViewType

    client = mlflow.MlflowClient(tracking_uri=uri)
    out: dict[str, Any] = {}
    for e in client.search_experiments(view_type=ViewType.ALL):
        runs = {}
        for r in client.search_runs([e.experiment_id], run_view_type=ViewType.ALL,
                                    max_results=50000):
            i = r.info
            runs[i.run_id] = {
                "info": (i.experiment_id, i.user_id, i.status, i.start_time, i.end_time,
                         i.lifecycle_stage, i.artifact_uri, i.run_name),
                "params": r.data.params, "tags": r.data.tags,
                "metrics": {k: repr(_value(v)) for k, v in r.data.metrics.items()},
                "history": {k: sorted((m.step, m.timestamp, repr(_value(m.value)))
                                      for m in client.get_metric_history(i.run_id, k))
                            for k in r.data.metrics},
                "inputs": sorted((d.dataset.name, d.dataset.digest, d.dataset.source_type,
                                  d.dataset.source, d.dataset.schema, d.dataset.profile,
                                  tuple(sorted((t.key, t.value) for t in d.tags)))
                                 for d in (r.inputs.dataset_inputs if r.inputs else [])),
            }
        out[e.experiment_id] = {"experiment": (e.name, e.lifecycle_stage, e.artifact_location,
                                               e.creation_time, e.last_update_time, e.tags),
                                "runs": runs}
    return out


def _mlflow_tree(fixture: str, tmp_path: Path) -> Path:
    """A copy of a fixture tree as MLflow left it: git keeps no empty folder, so the runs'
    empty ``artifacts/`` (and ``params/`` of runs without params), without which MLflow >= 3
    does not find a run, are made again."""
    tree = tmp_path / "original"
    shutil.copytree(FIXTURES / fixture, tree)
    for meta in tree.glob("**/meta.yaml"):
        if "run_uuid:" in meta.read_text() or "run_id:" in meta.read_text():
            for folder in ("artifacts", "metrics", "params", "tags"):
                (meta.parent / folder).mkdir(exist_ok=True)
    return tree


@pytest.fixture(params=SQL_KINDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as uri:
        yield uri
    from trackstore.store.sql.engine import dispose_engines

    dispose_engines()


@pytest.mark.parametrize("fixture", ["mlruns-mlflow-3.17", "mlruns-mlflow-2.22"])
def test_mlruns_round_trip_through_each_database_reads_the_same_in_mlflow(
        fixture: str, database: str, tmp_path: Path) -> None:
    tree = _mlflow_tree(fixture, tmp_path)
    original = mlflow_view(tree.as_uri())
    assert sum(len(e["runs"]) for e in original.values()) == 27
    summary, result = run_import(str(tree), database, check=True)
    assert result is not None and result.ok, result.differences
    assert summary.runs_imported == 27
    out = tmp_path / "exported"
    summary, result = run_import(database, str(out), check=True)
    assert result is not None and result.ok, result.differences
    assert mlflow_view(out.as_uri()) == original


def test_mlflow_sqlite_database_imports_losslessly(tmp_path: Path) -> None:
    from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag

    db = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=db)
    exp = client.create_experiment("exp λ", tags={"team": "vision"})
    run = client.create_run(exp, run_name="first", start_time=1000)
    rid = run.info.run_id
    client.log_batch(rid, metrics=[Metric("loss", v, 100 + i, i) for i, v in
                                   enumerate([1.0, 0.5, math.nan, math.inf, -math.inf])],
                     params=[Param("lr", "0.1")], tags=[RunTag("note", "ü")])
    client.log_inputs(rid, [DatasetInput(Dataset("train", "d1g3st", "local", "/data",
                                                 '{"s": 1}', '{"p": 2}'),
                                         [InputTag("mlflow.data.context", "train")])])
    client.set_terminated(rid, "FINISHED", end_time=2000)
    deleted = client.create_run(exp, run_name="deleted", start_time=1500)
    client.log_metric(deleted.info.run_id, "m", 3.0, timestamp=5, step=1)
    client.delete_run(deleted.info.run_id)
    gone = client.create_experiment("gone")
    client.create_run(gone, run_name="in-gone")
    client.delete_experiment(gone)
    original = mlflow_view(db)

    dest = f"sqlite:///{tmp_path / 'trackstore.db'}"
    summary, result = run_import(db, dest, check=True)
    assert result is not None and result.ok, result.differences
    assert (summary.runs_imported, summary.points) == (3, 6)
    out = tmp_path / "exported"
    run_import(dest, str(out))
    assert mlflow_view(out.as_uri()) == original
