"""The recorder: one run per session, whatever the number of benchmarks, in any store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trackstore import TrackingClient
from trackstore.benchmarking import keys
from trackstore.benchmarking.recording import (
    ARTIFACT_NAME,
    BenchmarkRecorder,
    BenchmarkResult,
    machine_params,
    run_document,
    run_metrics,
)
from trackstore.exceptions import TrackstoreError

from .conftest import sqlite_uri


def result(fullname: str, median: float, **extra: object) -> BenchmarkResult:
    stats = {stat: float(i) for i, stat in enumerate(keys.STATS)}
    stats["median"] = median
    return BenchmarkResult(fullname, fullname.rpartition("::")[2], stats=stats,
                           extra_info=extra)


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A SQLite store keeps artifacts in ./mlruns, as MLflow's does.
    monkeypatch.chdir(tmp_path)


@pytest.fixture(params=["sqlite", "file"])
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return sqlite_uri(tmp_path / "bench.db") if request.param == "sqlite" \
        else str(tmp_path / "mlruns")


def test_metrics_one_per_statistic_and_numeric_extra_info() -> None:
    found = run_metrics([result("a.py::t[1]", 0.5, points=10, ratio=0.5, label="x",
                                flag=True, nested={"n": 1})], timestamp=1234)
    by_key = {m.key: m for m in found}
    assert set(by_key) == {f"a.py::t/1/{s}" for s in keys.STATS} | {
        "a.py::t/1/extra.points", "a.py::t/1/extra.ratio"}
    assert by_key["a.py::t/1/median"].value == 0.5
    assert by_key["a.py::t/1/extra.points"].value == 10.0
    assert {(m.step, m.timestamp) for m in found} == {(0, 1234)}


def test_many_benchmarks_respect_batch_limits(uri: str, tmp_path: Path) -> None:
    # 130 benchmarks x 17 metrics = 2210 metrics, and 130 hashed names: tags past the
    # 100-per-batch limit. The stores refuse an oversized batch, so this passes only if the
    # recording is cut into batches.
    results = [result(f"a.py::test[case[{i}]]", i / 1000, points=i) for i in range(130)]
    recorder = BenchmarkRecorder(uri, "benchmarks")
    params = {**machine_params(), "benchmark_count": "130"}
    recorded = recorder.record(results, params=params, tags={"team": "perf"},
                               run_name="big", start_ms=1_000, end_ms=2_000)
    assert (recorded.benchmarks, recorded.metrics) == (130, 130 * 17)
    client = TrackingClient(uri)
    run = client.get_run(recorded.run_id)
    assert (run.info.status, run.info.start_time, run.info.end_time) == ("FINISHED", 1000, 2000)
    assert run.info.run_name == "big" and run.data.tags["team"] == "perf"
    assert len(run.data.metrics) == 130 * 17
    names = keys.names_from_tags(run.data.tags)
    assert len(names) == 130
    shown = {keys.display_name(keys.split_metric_key(k)[0], names)  # type: ignore[index]
             for k in run.data.metrics}
    assert shown == {r.fullname for r in results}
    assert run.data.params == params
    document = json.loads(Path(client.download_artifacts(
        recorded.run_id, ARTIFACT_NAME)).read_text())
    assert [b["fullname"] for b in document["benchmarks"]] == [r.fullname for r in results]
    assert document["benchmarks"][7]["stats"]["median"] == 0.007


def test_experiment_is_created_once(uri: str) -> None:
    first = BenchmarkRecorder(uri, "perf")
    second = BenchmarkRecorder(uri, "perf")
    assert first.experiment_id == second.experiment_id
    assert TrackingClient(uri).get_experiment_by_name("perf") is not None


def test_a_deleted_experiment_is_refused(uri: str) -> None:
    client = TrackingClient(uri)
    client.delete_experiment(client.create_experiment("benchmarks"))
    with pytest.raises(TrackstoreError, match="is deleted: restore it"):
        BenchmarkRecorder(uri, "benchmarks")


def test_a_run_that_cannot_be_written_whole_ends_failed(tmp_path: Path) -> None:
    uri = sqlite_uri(tmp_path / "bench.db")
    recorder = BenchmarkRecorder(uri, "benchmarks")
    # A param longer than keys allow makes the batch fail after the run was created.
    with pytest.raises(TrackstoreError):
        recorder.record([result("a.py::t", 1.0)], params={"x" * 300: "1"}, tags={},
                        run_name="broken", start_ms=1, end_ms=2)
    (run,) = TrackingClient(uri).search_runs([recorder.experiment_id])
    assert (run.info.run_name, run.info.status) == ("broken", "FAILED")


def test_document_keeps_what_metrics_cannot() -> None:
    doc = run_document([BenchmarkResult(
        "a.py::t[x]", "t[x]", group="g", param="x", params={"n": object()},
        stats={"median": float("nan")}, extra_info={"label": "fast", "sizes": (1, 2)})],
        {"cpu": "c"})
    json.dumps(doc, allow_nan=False)
    (bench,) = doc["benchmarks"]
    assert bench["group"] == "g" and bench["stats"]["median"] == "NaN"
    assert bench["extra_info"] == {"label": "fast", "sizes": [1, 2]}
    assert bench["params"]["n"].startswith("<object object")
    assert bench["metric_prefix"] == "a.py::t/x"
