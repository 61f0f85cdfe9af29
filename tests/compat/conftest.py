"""Compatibility tests against the real ``mlflow`` package (the oracle); see ``_oracle``."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _allow_mlflow_file_store(monkeypatch: pytest.MonkeyPatch) -> None:
    # MLflow >= 3.13 refuses the file store unless told otherwise.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
