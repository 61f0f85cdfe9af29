"""benches/report.py: how saved benchmark runs become benches/RESULTS.md and its plots."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHES = Path(__file__).resolve().parents[1] / "benches"
REPORT = BENCHES / "report.py"


@pytest.fixture(scope="module")
def report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", REPORT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_report"] = module  # (dataclasses look their module up)
    sys.path.insert(0, str(BENCHES))  # its sibling _plots, as when run as a script
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["bench_report"]
        sys.path.remove(str(BENCHES))
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
    server_bench("test_log_metric_calls[sqlite-trackstore-4_clients_x_50]", 0.1, 200,
                 (1.5, 12.0, 40.0)),
    server_bench("test_log_metric_calls[sqlite-mlflow-4_clients_x_50]", 2.0, 200,
                 (90.0, 600.0, 1900.0)),
    # a round of 4 clients x 2 batches of 1000 points
    server_bench("test_log_batch_1000_points[postgresql-trackstore-4_clients_x_2]", 0.08, 8000,
                 (30.0, 140.0, 180.0)),
    server_bench("test_log_batch_1000_points[postgresql-mlflow-4_clients_x_2]", 1.2, 8000,
                 (600.0, 2000.0, 2200.0)),
    server_bench("test_mlflow_client_log_metric_one_point_per_call[sqlite-trackstore]", 0.005, 1),
    server_bench("test_mlflow_client_log_metric_one_point_per_call[sqlite-mlflow]", 0.012, 1),
]


def test_server_benchmarks_pair_by_server(report: ModuleType) -> None:
    text = report.render({"benchmarks": [*SERVER_RUN, *SQL_RUN], "sources": []}, "tox -e bench")
    sql, server = text.split("## Through the server")
    assert "bench_server" not in sql and "test_log_metric_calls" not in sql
    assert "Compiled twins" not in text  # not twins of a compiled topic either
    # trackstore vs MLflow on the same kind of database: the ratio and the throughput of ours
    assert "| `test_log_metric_calls[sqlite-4_clients_x_50]` | 100 ms | 2 s | 20× | 2.0 k/s | " \
           "≥ 10× MLflow | yes |" in server
    assert "| `test_log_batch_1000_points[postgresql-4_clients_x_2]` | 80 ms | 1.2 s | 15× | " \
           "100.0 k/s | ≥ 20× MLflow | **no** |" in server
    assert "| `test_mlflow_client_log_metric_one_point_per_call[sqlite]` | 5 ms | 12 ms | " \
           "2.40× | 0.2 k/s |  |  |" in server
    # the latency of the concurrent clients' requests, both servers side by side
    assert "| `test_log_metric_calls[sqlite-4_clients_x_50]` | 1.5 ms / 12 ms / 40 ms | " \
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
    async_bench("test_async_sustained[postgresql-trackstore-log_batch_1000]", 0.1, 20_000),
    async_bench("test_async_sustained[postgresql-mlflow-log_batch_1000]", 0.75, 3000),
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
    assert "| `test_async_sustained[postgresql-log_batch_1000]` | 5 µs | 250 µs | 50× | " \
           "200.0 k/s | 4.0 k/s |  |  |" in section


def test_gc_benchmarks_have_their_section(report: ModuleType) -> None:
    runs = [{"name": f"test_gc_{what}[10000-{lib}]",
             "fullname": f"benches/bench_gc.py::test_gc_{what}[10000-{lib}]",
             "stats": {"median": median}, "extra_info": {"runs_per_call": 10_000}}
            for what, lib, median in (("sqlite", "trackstore", 0.5), ("sqlite", "mlflow", 60.0),
                                      ("file_store", "trackstore", 2.0),
                                      ("file_store", "mlflow", 30.0))]
    text = report.render({"benchmarks": runs, "sources": []}, "tox -e bench")
    gc = text.split("## Garbage collection (`trackstore gc`)")[1]
    assert "| `test_gc_sqlite[10000]` | 500 ms | 60 s | 120× | 20.0 k/s |  |  |" in gc
    assert "| `test_gc_file_store[10000]` | 2 s | 30 s | 15× | 5.0 k/s |  |  |" in gc
    assert "Compiled twins" not in text


def module_bench(module: str, name: str, median: float, **info: Any) -> dict[str, Any]:
    return {"name": name, "fullname": f"benches/{module}.py::{name}",
            "stats": {"median": median}, "extra_info": info}


REGISTRY_RUN = [
    module_bench("bench_registry", f"test_{op}[{versions}-{dialect}-{lib}]", median,
                 versions=versions)
    for op, factor in (("get_model_version", 1.0), ("search_model_versions", 20.0))
    for versions in (100, 1000)
    for dialect in ("sqlite", "postgresql")
    for lib, median in (("trackstore", 0.001), ("mlflow", 0.004))
    for median in [median * factor * versions / 100]
] + [
    module_bench("bench_registry", f"test_create_registered_model_with_10_versions[sqlite-{lib}]",
                 median, versions_per_call=10)
    for lib, median in (("trackstore", 0.02), ("mlflow", 0.1))
]

POINTQ_RUN = [
    module_bench("bench_pointq", f"test_put[{impl}-10000]", median, points_per_call=10_000)
    for impl, median in (("py", 0.004), ("c", 0.0005))
] + [
    module_bench("bench_pointq", f"test_put_many[{impl}-10000-10_keys]", median)
    for impl, median in (("py", 0.002), ("c", 0.0004))
]


def test_registry_benchmarks_have_their_section_and_pair_by_dialect(report: ModuleType) -> None:
    text = report.render({"benchmarks": REGISTRY_RUN, "sources": []}, "tox -e bench")
    assert "Compiled twins" not in text and "## SQL store" not in text
    section = text.split("## Model registry, end to end")[1]
    assert "| `test_get_model_version[1000-sqlite]` | 10 ms | 40 ms | 4.00× | — |  |  |" \
        in section
    assert "| `test_search_model_versions[100-postgresql]` | 20 ms | 80 ms | 4.00× | — |" \
        in section
    # writes: a model and its 10 versions per call, throughput in versions/s
    assert "| `test_create_registered_model_with_10_versions[sqlite]` | 20 ms | 100 ms | 5.00× | " \
           "0.5 k/s |  |  |" in section
    assert "mlflow]" not in section and "trackstore]" not in section


def test_pointq_twins_are_compiled_twins(report: ModuleType) -> None:
    text = report.render({"benchmarks": POINTQ_RUN, "sources": []}, "tox -e bench")
    assert "## File store" not in text
    assert "| `bench_pointq::test_put[10000]` | 4 ms | 500 µs | 8.0× |" in text
    assert "| `bench_pointq::test_put_many[10000-10_keys]` | 2 ms | 400 µs | 5.0× |" in text


def test_size_families(report: ModuleType) -> None:
    runs = [*REGISTRY_RUN, *POINTQ_RUN, *SQL_RUN,
            *(module_bench("bench_sqlbatch", f"test_copy_binary[{impl}-{count}]", median)
              for impl, factor in (("py", 10.0), ("c", 1.0))
              for count, median in ((1000, 1e-4 * factor), (1_000_000, 0.05 * factor))),
            *(module_bench("bench_metrics", f"test_latest{suffix}[{count}]", median)
              for suffix, median in (("", 1e-3), ("_mlflow_baseline", 4e-3))
              for count in (100, 10_000))]
    families = {f.key: f.series for f in report.size_families(runs)}
    # at two sizes or more; the series are the libraries (and databases) or the twins
    # (not test_put[10000] nor test_search_runs_first_page[5000-...]: one size each)
    assert sorted(families) == ["bench_metrics::test_latest",
                                "bench_registry::test_get_model_version",
                                "bench_registry::test_search_model_versions",
                                "bench_sqlbatch::test_copy_binary"]
    assert families["bench_sqlbatch::test_copy_binary"] == {
        "py": {1000: pytest.approx(1e6), 1_000_000: pytest.approx(2e6)},
        "c": {1000: pytest.approx(1e7), 1_000_000: pytest.approx(2e7)}}
    assert sorted(families["bench_registry::test_search_model_versions"]) == [
        "MLflow postgresql", "MLflow sqlite", "trackstore postgresql", "trackstore sqlite"]
    assert families["bench_registry::test_search_model_versions"]["trackstore sqlite"] == {
        100: pytest.approx(100 / 0.02), 1000: pytest.approx(1000 / 0.2)}
    assert sorted(families["bench_metrics::test_latest"]) == ["MLflow", "trackstore"]


# -- the saved runs: which are read, which are deleted ----------------------------------------


def save_run(storage: Path, name: str, when: str, modules: list[str]) -> Path:
    path = storage / "Linux-CPython-3.11-64bit" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "datetime": when, "commit_info": {"id": name, "dirty": False}, "machine_info": {},
        "benchmarks": [module_bench(m, f"test_{m}[{lib}]", 0.5 if lib == "mlflow" else 0.1)
                       for m in modules for lib in ("trackstore", "mlflow")]}))
    return path


@pytest.fixture
def storage(tmp_path: Path) -> dict[str, Path]:
    """Saved runs; their file times are the reverse of when they were measured (a checkout
    sets them in any order): what counts is the time in the JSON."""
    root = tmp_path / "results"
    runs = {
        "old": save_run(root, "0001_a.json", "2026-01-01T00:00:00+00:00",
                        ["bench_gc", "bench_import"]),
        "mixed": save_run(root, "0002_b.json", "2026-01-02T00:00:00+00:00",
                          ["bench_gc", "bench_file_store"]),
        "empty": save_run(root, "0003_c.json", "2026-01-02T12:00:00+00:00", []),
        "import": save_run(root, "0004_d.json", "2026-01-03T00:00:00+00:00", ["bench_import"]),
        "gc": save_run(root, "0005_e.json", "2026-01-04T00:00:00+00:00", ["bench_gc"]),
    }
    for age, path in enumerate(runs.values()):
        os.utime(path, (1e9 - age, 1e9 - age))
    return runs


def run_report(report: ModuleType, tmp_path: Path, *args: str) -> str:
    report.main(["--output", str(tmp_path / "RESULTS.md"), "--plots", str(tmp_path / "plots"),
                 "--notes", "", "--no-plots", *args])
    return (tmp_path / "RESULTS.md").read_text()


def test_each_module_from_its_newest_run(report: ModuleType, storage: dict[str, Path]) -> None:
    data, superseded = report.select(report.read_runs(storage["old"].parents[1]))
    assert [s["modules"] for s in data["sources"]] == [
        ["bench_gc"], ["bench_import"], ["bench_file_store"]]
    assert sorted(r.path.name for r in superseded) == ["0001_a.json", "0003_c.json"]
    assert {b["fullname"].split("/")[1].split(".")[0] for b in data["benchmarks"]} == {
        "bench_gc", "bench_import", "bench_file_store"}
    assert "bench_registry" in data["missing"] and "bench_gc" not in data["missing"]


def test_superseded_runs_are_deleted(report: ModuleType, storage: dict[str, Path],
                                     tmp_path: Path) -> None:
    text = run_report(report, tmp_path, "--storage", str(tmp_path / "results"))
    # every module of the old run has a newer one; the empty run gives nothing
    assert not storage["old"].exists() and not storage["empty"].exists()
    # the mixed run still gives bench_file_store: kept, though its bench_gc is superseded
    assert storage["mixed"].exists() and storage["import"].exists() and storage["gc"].exists()
    assert "`bench_gc`: 2026-01-04 00:00:00 UTC, commit 0005_e.json" in text
    assert "`bench_file_store`: 2026-01-02 00:00:00 UTC, commit 0002_b.json" in text
    assert "* no saved results yet: " in text and "`bench_registry`" in text
    # nothing more to delete the second time
    assert run_report(report, tmp_path, "--storage", str(tmp_path / "results")) == text


def test_keep_and_json_delete_nothing(report: ModuleType, storage: dict[str, Path],
                                      tmp_path: Path) -> None:
    run_report(report, tmp_path, "--storage", str(tmp_path / "results"), "--keep")
    assert all(path.exists() for path in storage.values())
    text = run_report(report, tmp_path, "--json", str(storage["old"]), "--json",
                      str(storage["gc"]))
    assert all(path.exists() for path in storage.values())
    # --json: the first file to have a module wins
    assert "`bench_gc`, `bench_import`: 2026-01-01" in text and "2026-01-04" not in text


# -- the plots --------------------------------------------------------------------------------


PLOTTED = [*REGISTRY_RUN, *POINTQ_RUN, *SQL_RUN, *SERVER_RUN, *ASYNC_RUN,
           *(module_bench("bench_sqlbatch", f"test_copy_binary[{impl}-{count}]", median)
             for impl, factor in (("py", 10.0), ("c", 1.0))
             for count, median in ((1000, 1e-4 * factor), (1_000_000, 0.05 * factor))),
           *(module_bench("bench_file_store", f"test_{op}[{lib}-{size}]", median,
                          points_per_call=size)
             for op, lib, factor in (("get_metric_history", "trackstore", 1.0),
                                     ("get_metric_history", "mlflow", 50.0),
                                     ("log_metric_one_point_per_call", "trackstore", 1.0),
                                     ("log_metric_one_point_per_call", "mlflow", 150.0))
             for size, median in ((100_000, 0.3 * factor), (1_000_000, 2.0 * factor))
             if op.startswith("get") or size == 1)]
PLOT_KEYS = {
    "ratios-file-store", "ratios-sql-store", "ratios-registry", "ratios-server", "ratios-async",
    "speedups-bench_pointq", "speedups-bench_sqlbatch",
    "size-bench_file_store::test_get_metric_history", "size-bench_sqlbatch::test_copy_binary",
    "size-bench_registry::test_get_model_version",
    "size-bench_registry::test_search_model_versions",
}


def is_png(data: bytes) -> bool:
    return data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" \
        and data.endswith(b"IEND\xaeB`\x82")


def test_plots_one_per_section_and_size_family(report: ModuleType, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    stale = tmp_path / "plots" / "ratios-gone.png"
    stale.parent.mkdir()
    stale.write_bytes(b"a plot of a section that has no results any more")
    images = report.write_plots({"benchmarks": PLOTTED}, tmp_path / "plots", tmp_path)
    assert set(images) == PLOT_KEYS
    assert images["ratios-registry"] == "plots/ratios-registry.png"
    assert images["size-bench_registry::test_search_model_versions"] == \
        "plots/size-registry-test_search_model_versions.png"
    written = sorted((tmp_path / "plots").iterdir())
    assert sorted(tmp_path / path for path in images.values()) == written  # the stale one gone
    for path in written:
        data = path.read_bytes()
        assert is_png(data), path
        # nothing that changes from one regeneration to the next: no software, no time
        assert b"tEXtSoftware" not in data and b"tIME" not in data, path
    text = report.render({"benchmarks": PLOTTED, "sources": []}, "tox -e bench", images)
    registry = text.split("## Model registry")[1].split("\n## ")[0]
    assert "![Model registry, end to end (through TrackingClient / MlflowClient): ratios to " \
           "MLflow](plots/ratios-registry.png)" in registry
    assert "![bench_pointq: c vs py](plots/speedups-pointq.png)" in text
    sizes = text.split("## Throughput against size")[1]
    assert "`bench_sqlbatch::test_copy_binary`:\n\n![bench_sqlbatch::test_copy_binary](" \
           "plots/size-sqlbatch-test_copy_binary.png)" in sizes


def test_plots_are_byte_identical_when_regenerated(report: ModuleType, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    # a section with targets, twins, and size families of both kinds
    data = {"benchmarks": [*SQL_RUN, *REGISTRY_RUN, *POINTQ_RUN]}
    first = report.write_plots(data, tmp_path / "first", tmp_path)
    again = report.write_plots(data, tmp_path / "again", tmp_path)
    assert len(first) == 5
    assert {k: v.replace("again/", "first/") for k, v in again.items()} == first
    for path in first.values():
        assert (tmp_path / path).read_bytes() == \
            (tmp_path / path.replace("first/", "again/")).read_bytes(), path


def test_ratio_bars_carry_their_targets(report: ModuleType, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: dict[str, list[Any]] = {}
    monkeypatch.setattr(report._plots, "bar_chart",
                        lambda path, title, bars, xlabel: drawn.setdefault(path.name, bars))
    monkeypatch.setattr(report._plots, "size_chart", lambda *args: None)
    report.write_plots({"benchmarks": PLOTTED}, tmp_path / "plots", tmp_path)
    sql = {bar.label: bar for bar in drawn["ratios-sql-store.png"]}
    # a ratio target is drawn as a tick at its ratio; a throughput target only colours the bar
    assert sql["log_metric_one_point_per_call[postgresql]"].target == 20
    assert sql["log_metric_one_point_per_call[postgresql]"].state == "missed"  # 11x
    assert sql["log_batch_1000_points[sqlite]"].target is None
    assert sql["log_batch_1000_points[sqlite]"].state == "missed"  # 250k points/s, not 500k
    server = {bar.label: bar for bar in drawn["ratios-server.png"]}
    assert server["log_metric_calls[sqlite-4_clients_x_50]"].state == "met"
    assert server["mlflow_client_log_metric_one_point_per_call[sqlite]"].state == "none"
    registry = [bar.label for bar in drawn["ratios-registry.png"]]
    assert registry == sorted(registry) and "get_model_version[1000-sqlite]" in registry
    pointq = {bar.label: bar.value for bar in drawn["speedups-pointq.png"]}
    assert pointq == {"put[10000]": pytest.approx(8), "put_many[10000-10_keys]": pytest.approx(5)}


def test_one_command_writes_the_report_and_its_plots(report: ModuleType, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    results = tmp_path / "benches" / "results" / "Linux-CPython-3.11-64bit"
    results.mkdir(parents=True)
    (results / "0001_x.json").write_text(json.dumps({
        "datetime": "2026-01-01T00:00:00+00:00", "benchmarks": [*REGISTRY_RUN, *POINTQ_RUN]}))
    output, notes = tmp_path / "benches" / "RESULTS.md", tmp_path / "notes.md"
    notes.write_text("## How to read these numbers\n")
    args = ["--storage", str(results.parent), "--output", str(output), "--plots",
            str(tmp_path / "benches" / "plots"), "--notes", str(notes)]
    report.main(args)
    text = output.read_text()
    links = [line.split("](")[1].rstrip(")") for line in text.splitlines()
             if line.startswith("![")]
    assert links == ["plots/ratios-registry.png", "plots/speedups-pointq.png",
                     "plots/size-registry-test_get_model_version.png",
                     "plots/size-registry-test_search_model_versions.png"]
    assert all((output.parent / link).is_file() for link in links)
    assert text.endswith("\n## How to read these numbers\n")
    before = {p.name: p.read_bytes() for p in (tmp_path / "benches" / "plots").iterdir()}
    report.main(args)
    assert output.read_text() == text
    assert {p.name: p.read_bytes() for p in (tmp_path / "benches" / "plots").iterdir()} == before


def test_the_defaults_are_the_committed_places(report: ModuleType) -> None:
    assert report.STORAGE == BENCHES / "results"
    assert report.OUTPUT == BENCHES / "RESULTS.md"
    assert report.PLOTS == BENCHES / "plots"
    assert report.NOTES == BENCHES / "results-notes.md"
