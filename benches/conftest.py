"""Benchmark session setup. Benchmarks never import from ``tests/``."""

from __future__ import annotations

import os

import pytest

# MLflow >= 3.13 refuses its own file store unless told otherwise.
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
os.environ.pop("MLFLOW_TRACKING_URI", None)


def pytest_report_header(config: pytest.Config) -> list[str]:
    import trackstore

    lines = [f"trackstore {trackstore.__version__}: {trackstore.speedups()}"]
    try:
        import mlflow

        lines.append(f"baseline: mlflow {mlflow.__version__}")
    except ImportError:
        lines.append("baseline: mlflow not installed (MLflow rows are skipped)")
    return lines
