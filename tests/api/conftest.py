"""Isolation for the client, fluent and CLI tests: a fresh ./mlruns and no inherited state."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from trackstore import fluent, tracking_uri
from trackstore.store import registry

ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID",
       "MLFLOW_RUN_CONTEXT", "MLFLOW_TRACKING_DIR", "MLFLOW_TRACKING_USERNAME")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    saved = {var: os.environ.pop(var, None) for var in ENV}
    monkeypatch.chdir(tmp_path)
    tracking_uri._reset()
    fluent._reset()
    registry.clear_cache()
    yield tmp_path
    fluent._reset()
    tracking_uri._reset()
    registry.clear_cache()
    for var, value in saved.items():  # trackstore exports some of these itself, like MLflow
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value
