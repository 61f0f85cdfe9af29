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


def server_bench(name: str, median: float, points: int,
                 latency: tuple[float, float, float] | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {"points_per_call": points}
    if latency:
        info.update(zip(("latency_ms_median", "latency_ms_p99", "latency_ms_max"), latency,
                        strict=True))
    return {"name": name, "fullname": f"benches/bench_server.py::{name}",
            "stats": {"median": median}, "extra_info": info}


SERVER_RUN = [
    # a round of 4 clients x 50 log-metric calls, on each server
    server_bench("test_log_metric_calls[sqlite-trackstore]", 0.1, 200, (1.5, 12.0, 40.0)),
    server_bench("test_log_metric_calls[sqlite-mlflow]", 2.0, 200, (90.0, 600.0, 1900.0)),
    # a round of 4 clients x 2 batches of 1000 points
    server_bench("test_log_batch_1000_points[postgresql-trackstore]", 0.08, 8000,
                 (30.0, 140.0, 180.0)),
    server_bench("test_log_batch_1000_points[postgresql-mlflow]", 1.2, 8000,
                 (600.0, 2000.0, 2200.0)),
    server_bench("test_mlflow_client_log_metric[sqlite-trackstore]", 0.005, 1),
    server_bench("test_mlflow_client_log_metric[sqlite-mlflow]", 0.012, 1),
]


def test_server_benchmarks_pair_by_server(report: ModuleType) -> None:
    text = report.render({"benchmarks": [*SERVER_RUN, *SQL_RUN], "sources": []}, "tox -e bench")
    sql, server = text.split("## Through the server")
    assert "bench_server" not in sql and "test_log_metric_calls" not in sql
    assert "Compiled twins" not in text  # not twins of a compiled topic either
    # trackstore vs MLflow on the same kind of database: the ratio and the throughput of ours
    assert "| `test_log_metric_calls[sqlite]` | 100 ms | 2 s | 20× | 2.0 k/s | ≥ 10× MLflow | " \
           "yes |" in server
    assert "| `test_log_batch_1000_points[postgresql]` | 80 ms | 1.2 s | 15× | 100.0 k/s | " \
           "≥ 20× MLflow | **no** |" in server
    assert "| `test_mlflow_client_log_metric[sqlite]` | 5 ms | 12 ms | 2.40× | 0.2 k/s |  |  |" \
        in server
    # the latency of the concurrent clients' requests, both servers side by side
    assert "| `test_log_metric_calls[sqlite]` | 1.5 ms / 12 ms / 40 ms | " \
           "90 ms / 600 ms / 1.9 s |" in server
    assert "test_mlflow_client_log_metric" not in server.split("Latency of the requests")[1]


def async_bench(name: str, median: float, points: int) -> dict[str, Any]:
    return {"name": name, "fullname": f"benches/bench_async.py::{name}",
            "stats": {"median": median}, "extra_info": {"points_per_call": points}}


ASYNC_RUN = [
    # rounds of 10,000 calls (1.5 µs each) against MLflow's 20 (700 µs each)
    async_bench("test_async_log_metric_caller_cost[trackstore]", 0.015, 10_000),
    async_bench("test_async_log_metric_caller_cost[mlflow]", 0.014, 20),
    async_bench("test_async_log_metrics_caller_cost[trackstore]", 0.025, 10_000),
    async_bench("test_async_log_metrics_caller_cost[mlflow]", 0.02, 100),
    async_bench("test_async_sustained_file_store[trackstore-log_batch_1000]", 0.08, 100_000),
    async_bench("test_async_sustained_file_store[mlflow-log_batch_1000]", 1.6, 4000),
    async_bench("test_async_sustained[postgresql-trackstore]", 0.1, 20_000),
    async_bench("test_async_sustained[postgresql-mlflow]", 0.75, 3000),
]


def test_ratio_is_per_point_when_the_rounds_differ(report: ModuleType) -> None:
    # 100 points in 10 ms against 10 points in 20 ms: 0.1 ms a point against 2 ms
    assert report.Row("x", 0.01, 0.02, 100, 10).ratio == pytest.approx(20)
    assert report.Row("x", 0.01, 0.02, 100, 100).ratio == pytest.approx(2)
    assert report.Row("x", 0.01, 0.02, None, None).ratio == pytest.approx(2)  # no counts
    assert report.Row("x", 0.01, 0.02, 100).ratio == pytest.approx(2)  # MLflow's unknown


def test_async_benchmarks_are_compared_per_point(report: ModuleType) -> None:
    text = report.render({"benchmarks": ASYNC_RUN, "sources": []}, "tox -e bench")
    assert "Compiled twins" not in text and "## File store" not in text
    section = text.split("## Asynchronous logging (`synchronous=False`)")[1]
    # per point: 1.5 µs against 700 µs, whatever the rounds held; points/s of each
    assert "| `test_async_log_metric_caller_cost` | 1.5 µs | 700 µs | 467× | 666.7 k/s | " \
           "1.4 k/s | ≤ 2 µs per point | yes |" in section
    assert "| `test_async_log_metrics_caller_cost` | 2.5 µs | 200 µs | 80× | 400.0 k/s | " \
           "5.0 k/s | ≤ 2 µs per point | **no** |" in section
    assert "| `test_async_sustained_file_store[log_batch_1000]` | 800 ns | 400 µs | 500× | " \
           "1.25 M/s | 2.5 k/s | ≥ 1M points/s | yes |" in section
    assert "| `test_async_sustained[postgresql]` | 5 µs | 250 µs | 50× | 200.0 k/s | 4.0 k/s | " \
           " |  |" in section


def test_gc_benchmarks_have_their_section(report: ModuleType) -> None:
    runs = [{"name": f"test_gc_{what}[{lib}]", "fullname": f"benches/bench_gc.py::test_gc_{what}",
             "stats": {"median": median}, "extra_info": {"runs_per_call": 10_000}}
            for what, lib, median in (("sqlite", "trackstore", 0.5), ("sqlite", "mlflow", 60.0),
                                      ("file_store", "trackstore", 2.0),
                                      ("file_store", "mlflow", 30.0))]
    text = report.render({"benchmarks": runs, "sources": []}, "tox -e bench")
    gc = text.split("## Garbage collection (`trackstore gc`)")[1]
    assert "| `test_gc_sqlite` | 500 ms | 60 s | 120× | 20.0 k/s |  |  |" in gc
    assert "| `test_gc_file_store` | 2 s | 30 s | 15× | 5.0 k/s |  |  |" in gc
    assert "Compiled twins" not in text
