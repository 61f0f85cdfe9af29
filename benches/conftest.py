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


@pytest.fixture(scope="session", autouse=True)
def _quiet_disk(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Start timing on a quiet disk.

    pytest deletes old temporary trees (hundreds of thousands of files from earlier benchmark
    sessions) when the first test asks for a temporary directory, and the kernel writes them
    back for seconds afterwards: that I/O would be timed as the first benchmarks' cost. Trigger
    the clean-up now and wait for the writeback.
    """
    tmp_path_factory.getbasetemp()
    os.sync()
