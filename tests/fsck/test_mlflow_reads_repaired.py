"""The real MLflow FileStore fails on the damaged trees and reads the repaired ones, exactly
as trackstore reads them (skipped without mlflow unless TRACKSTORE_REQUIRE_MLFLOW=1)."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.compat._oracle import require_mlflow
from tests.fsck.conftest import TREE_KINDS
from tests.fsck.test_damage import Planted, plant

mlflow = require_mlflow()

from mlflow.store.tracking.file_store import FileStore as MlflowFileStore  # noqa: E402

from trackstore import fsck  # noqa: E402
from trackstore.entities import ViewType  # noqa: E402
from trackstore.store.file import FileStore  # noqa: E402

pytestmark = pytest.mark.mlflow


@pytest.fixture(autouse=True)
def _allow_file_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


def _num(value: float) -> Any:
    return "nan" if math.isnan(value) else value


def snapshot(store: Any) -> dict[str, Any]:
    """Everything both stores let a user read, through each store's own lookups."""
    experiments = store.search_experiments(view_type=ViewType.ALL, max_results=50000)
    out: dict[str, Any] = {"experiments": {e.experiment_id: (
        e.name, e.artifact_location, e.lifecycle_stage, dict(e.tags)) for e in experiments}}
    runs = store.search_runs([e.experiment_id for e in experiments], "", ViewType.ALL, 50000)
    out["runs"] = {}
    for listed in runs:
        run = store.get_run(listed.info.run_id)  # MLflow's lookup by id (structure checked)
        info = run.info
        out["runs"][info.run_id] = {
            "info": tuple(getattr(info, k) for k in (
                "experiment_id", "user_id", "status", "start_time", "end_time",
                "lifecycle_stage", "artifact_uri", "run_name")),
            "params": dict(run.data.params), "tags": dict(run.data.tags),
            "metrics": {k: _num(v) for k, v in run.data.metrics.items()},
            "history": {k: [(_num(m.value), m.timestamp, m.step)
                            for m in store.get_metric_history(info.run_id, k)]
                        for k in run.data.metrics}}
    return out


def _keep_only_repairable(planted: Planted) -> None:
    """Undo the planted damage only a person can fix, so a repair leaves a clean tree."""
    root = planted.root
    for kind, rel, repairable in planted.expected:
        path = root / rel
        if repairable or kind.startswith("duplicate-"):
            continue
        if path.is_dir():
            shutil.rmtree(path)
        elif kind == "yaml-invalid":
            shutil.rmtree(path.parent.parent)  # the inputs/ folder the plant made
        else:
            path.unlink()
    shutil.rmtree(root / planted.names["A"] / planted.names["b1"])  # the duplicated run
    meta = root / planted.names["B"] / "meta.yaml"  # give experiment B its own name back
    meta.write_bytes(b"\n".join(b"name: renamed by hand" if line.startswith(b"name: ")
                                 else line for line in meta.read_bytes().split(b"\n")))


@pytest.mark.parametrize("kind", TREE_KINDS)
def test_mlflow_reads_the_repaired_tree(kind: str, make_tree: Callable[[str], Path]) -> None:
    root = make_tree(kind)
    planted = plant(root)
    _keep_only_repairable(planted)
    report = fsck.check(str(root))
    assert report.findings and all(f.repairable for f in report.findings), [
        f for f in report.findings if not f.repairable]
    with pytest.raises(Exception):  # noqa: B017 - MLflow fails in many ways; any is the point
        snapshot(MlflowFileStore(str(root)))

    repaired = fsck.repair(str(root))
    assert repaired.clean, repaired.text()
    ours = FileStore(str(root))
    try:
        theirs = snapshot(MlflowFileStore(str(root)))
        assert theirs == snapshot(ours)
        assert ours.problems() == []
    finally:
        ours.close()
    assert len(theirs["runs"]) >= 25


def test_a_quarantine_directory_would_break_mlflow(make_tree: Callable[[str], Path]) -> None:
    """Why the quarantine is a file: MLflow takes every directory at the root (but .trash
    and models) for an experiment, and its listing fails on a name like ``.fsck``."""
    root = make_tree("mlflow-3.17")
    (root / ".fsck").mkdir()
    with pytest.raises(mlflow.exceptions.MlflowException, match="Invalid experiment ID"):
        MlflowFileStore(str(root)).search_experiments(view_type=ViewType.ALL)
    assert {f.kind for f in fsck.check(str(root)).findings} == {"stray-dir"}
