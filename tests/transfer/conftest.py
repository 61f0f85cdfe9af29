"""Helpers of the import/export tests: store snapshots, trees to import."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trackstore.entities import ViewType
from trackstore.store.base import AbstractStore
from trackstore.store.registry import factory_for

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MLRUNS_317 = FIXTURES / "mlruns-mlflow-3.17"
MLRUNS_222 = FIXTURES / "mlruns-mlflow-2.22"


def _value(v: float) -> Any:
    return "NaN" if math.isnan(v) else v


def snapshot(store: AbstractStore, experiment_ids: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything a store holds, as plain data: experiments (by name) with their runs, each
    run's info, params, tags, inputs and every metric's history as a sorted list."""
    out: dict[str, Any] = {}
    for e in store.search_experiments(view_type=ViewType.ALL, max_results=50000):
        runs = {}
        token = None
        while True:
            page = store.search_runs([e.experiment_id], "", ViewType.ALL, 1000, None, token)
            for r in page:
                i = r.info
                history = {k: sorted((m.step, m.timestamp, repr(_value(m.value)),
                                      m.dataset_name or "", m.dataset_digest or "")
                                     for m in store.get_metric_history(i.run_id, k))
                           for k in r.data.metrics}
                runs[i.run_id] = {
                    "info": (i.user_id, i.status, i.start_time, i.end_time, i.lifecycle_stage,
                             i.artifact_uri, i.run_name),
                    "params": dict(r.data.params), "tags": dict(r.data.tags),
                    "inputs": sorted((d.dataset.name, d.dataset.digest, d.dataset.source,
                                      d.dataset.source_type, d.dataset.schema or "",
                                      d.dataset.profile or "",
                                      tuple(sorted((t.key, t.value) for t in d.tags)))
                                     for d in r.inputs.dataset_inputs),
                    "history": history,
                }
            token = page.token
            if not token:
                break
        out[e.name] = {"id": e.experiment_id, "stage": e.lifecycle_stage,
                       "location": e.artifact_location, "tags": dict(e.tags),
                       "times": (e.creation_time, e.last_update_time), "runs": runs}
    return out


def open_store(uri: str) -> AbstractStore:
    return factory_for(uri)(uri, None)


def snapshot_of(uri: str) -> dict[str, Any]:
    store = open_store(uri)
    try:
        return snapshot(store)
    finally:
        store.close()


@pytest.fixture
def tree_317(tmp_path: Path) -> Path:
    """A writable copy of the MLflow 3.17 fixture tree."""
    dest = tmp_path / "src-mlruns"
    shutil.copytree(MLRUNS_317, dest)
    return dest


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'dest.db'}"
    from trackstore.store.sql.engine import dispose_engines

    dispose_engines()
