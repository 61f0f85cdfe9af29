"""benches/report.py: how saved benchmark runs become benches/RESULTS.md."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPORT = Path(__file__).resolve().parents[1] / "benches" / "report.py"


@pytest.fixture(scope="module")
def report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", REPORT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_report"] = module  # (dataclasses look their module up)
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["bench_report"]
    return module


def bench(name: str, median: float, points: int | None = None) -> dict[str, Any]:
    return {"name": name, "fullname": f"benches/bench_sql_store.py::{name}",
            "stats": {"median": median}, "extra_info": {"points_per_call": points}}


SQL_RUN = [
    bench("test_log_batch_1000_points[sqlite-trackstore]", 0.004, 1000),
    bench("test_log_batch_1000_points[sqlite-mlflow]", 0.1, 1000),
    bench("test_floor_log_batch_1000_points[sqlite]", 0.0025, 1000),
    bench("test_log_metric_one_point_per_call[postgresql-trackstore]", 350e-6, 1),
    bench("test_log_metric_one_point_per_call[postgresql-mlflow]", 4e-3, 1),
    bench("test_floor_log_metric_one_point_per_call[postgresql]", 250e-6, 1),
]


def test_floors_have_a_table_of_their_own(report: ModuleType) -> None:
    text = report.render({"benchmarks": SQL_RUN, "sources": []}, "tox -e bench")
    store, floors = text.split("## SQL store: the database alone (floors)")
    assert "test_floor_" not in store  # not rows of the end-to-end table
    assert "| `test_log_batch_1000_points[sqlite]` | 4 ms | 100 ms | 25× | 250.0 k/s | " \
           "≥ 500k points/s | **no** |" in store
    # Each floor beside the benchmark it bounds: MLflow ÷ floor, and trackstore's ratio.
    assert "| `test_log_batch_1000_points[sqlite]` | 2.5 ms | 4 ms | 100 ms | 40× | 25× | " \
           "≥ 500k points/s |" in floors
    assert "| `test_log_metric_one_point_per_call[postgresql]` | 250 µs | 350 µs | 4 ms | 16× | " \
           "11× | ≥ 20× MLflow |" in floors


def test_no_floor_no_floor_table(report: ModuleType) -> None:
    runs = [b for b in SQL_RUN if "floor" not in b["name"]]
    text = report.render({"benchmarks": runs, "sources": []}, "tox -e bench")
    assert "floors" not in text
    assert "test_log_batch_1000_points[sqlite]" in text
