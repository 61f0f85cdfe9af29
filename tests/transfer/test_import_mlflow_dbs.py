"""MLflow SQL databases written by nine MLflow releases (2.0.1 to 3.17.2) import losslessly.

Each fixture (``tests/fixtures/mlflow-dbs``, made by ``make_mlflow_db.py`` with that release)
comes with a manifest of its content as the MLflow client read it back; the import, read
through trackstore's API, must give exactly that: ids, names, times, statuses, lifecycle
stages, params, tags, dataset inputs and every metric point.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from trackstore.entities import ViewType
from trackstore.transfer import run_import

from .conftest import FIXTURES, open_store

DBS = sorted((FIXTURES / "mlflow-dbs").glob("mlflow-*.db"),
             key=lambda p: tuple(int(x) for x in p.stem.split("-")[1].split(".")))


def _number(value: Any) -> float:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(value, value)


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize("db", DBS, ids=[p.stem for p in DBS])
def test_mlflow_database_imports_losslessly(db: Path, tmp_path: Path) -> None:
    manifest = json.loads(db.with_suffix(".json").read_text())
    source = tmp_path / db.name
    shutil.copyfile(db, source)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    dest_uri = f"sqlite:///{tmp_path / 'dest.db'}"

    summary, result = run_import(f"sqlite:///{source}", dest_uri, check=True)

    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest  # only read
    assert result is not None and result.ok, result.differences
    counts = manifest["counts"]
    assert summary.problems == []
    assert summary.runs_imported == summary.runs_total == counts["runs"]
    assert summary.points == counts["metric_points"]
    # (The model registry is carried into a database: test_registry_import.py checks it.)
    expected_uncarried = {what: counts.get(key, 0) for key, what in (
        ("traces", "traces"), ("logged_models", "logged models"))}
    outputs = sum(len(r.get("model_outputs", [])) for r in manifest["runs"])
    if outputs:
        expected_uncarried["logged model outputs of runs"] = outputs
    assert summary.uncarried == {k: v for k, v in expected_uncarried.items() if v}

    store = open_store(dest_uri)
    try:
        experiments = {e.experiment_id: e for e in
                       store.search_experiments(view_type=ViewType.ALL, max_results=1000)}
        assert sorted(experiments) == sorted(e["experiment_id"] for e in manifest["experiments"])
        for want in manifest["experiments"]:
            got = experiments[want["experiment_id"]]
            assert (got.name, got.lifecycle_stage, got.artifact_location, got.creation_time,
                    got.last_update_time, got.tags) == (
                want["name"], want["lifecycle_stage"], want["artifact_location"],
                want["creation_time"], want["last_update_time"], want["tags"])
        for want in manifest["runs"]:
            run = store.get_run(want["run_id"])
            info = run.info
            assert (info.experiment_id, info.run_name, info.user_id, info.status,
                    info.start_time, info.end_time, info.lifecycle_stage, info.artifact_uri) == (
                want["experiment_id"], want["run_name"], want["user_id"], want["status"],
                want["start_time"], want["end_time"], want["lifecycle_stage"],
                want["artifact_uri"])
            assert run.data.params == want["params"]
            assert run.data.tags == want["tags"]
            assert sorted(run.data.metrics) == sorted(want["metrics"])
            for key, points in want["metrics"].items():
                history = store.get_metric_history(want["run_id"], key)
                assert [(m.timestamp, m.step) for m in history] == \
                    [(ts, step) for ts, step, _ in points], key
                assert all(_same(m.value, _number(v))
                           for m, (_, _, v) in zip(history, points, strict=True)), key
            inputs = sorted((d.dataset.name, d.dataset.digest, d.dataset.source_type,
                             d.dataset.source, d.dataset.schema, d.dataset.profile,
                             {t.key: t.value for t in d.tags} == want_tags)
                            for d in run.inputs.dataset_inputs
                            for want_tags in [next((i["tags"] for i in want.get(
                                "dataset_inputs", []) if i["name"] == d.dataset.name), None)])
            assert inputs == sorted((i["name"], i["digest"], i["source_type"], i["source"],
                                     i["schema"], i["profile"], True)
                                    for i in want.get("dataset_inputs", []))
    finally:
        store.close()
