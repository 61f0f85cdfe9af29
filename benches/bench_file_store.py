"""The file store end to end, trackstore against MLflow in the same run, through their clients.

Each benchmark is parametrized ``[trackstore]`` / ``[mlflow]`` with the scale in the name, so
``--benchmark-group-by=func`` puts the pair side by side; ``benches/report.py`` turns the saved
JSON into the ratio table of ``benches/RESULTS.md``.

    python -m pytest benches/bench_file_store.py --benchmark-only \
        --benchmark-group-by=func --benchmark-autosave --benchmark-storage=benches/results
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from _data import T0, build_tree, log_metric_per_call, metrics, timed, write_metric_file

LIBS = ["trackstore", "mlflow"]


def client_and_entities(lib: str, root: Path) -> tuple[Any, ModuleType]:
    if lib == "trackstore":
        import trackstore
        from trackstore.store import registry

        registry.clear_cache()
        return trackstore.TrackingClient(root.as_uri()), trackstore.entities
    mlflow = pytest.importorskip("mlflow")
    return mlflow.MlflowClient(root.as_uri()), mlflow.entities


@pytest.fixture(params=LIBS)
def lib(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_log_metric_one_point_per_call(benchmark: Any, lib: str, tmp_path: Path) -> None:
    client, _ = client_and_entities(lib, tmp_path / "mlruns")
    if lib == "trackstore":
        log_metric_per_call(benchmark, client, rounds=1000, iterations=50, warmup_rounds=5)
    else:
        log_metric_per_call(benchmark, client, rounds=100, iterations=5, warmup_rounds=1)


def test_log_batch_1000_points(benchmark: Any, lib: str, tmp_path: Path) -> None:
    client, ent = client_and_entities(lib, tmp_path / "mlruns")
    run_id = client.create_run("0").info.run_id
    batch = metrics(ent, 1000, keys=10)

    benchmark.extra_info["points_per_call"] = 1000
    benchmark.pedantic(client.log_batch, args=(run_id, batch), rounds=300 if lib == "trackstore"
                       else 20, iterations=1, warmup_rounds=1)
    assert len(client.get_metric_history(run_id, "m0")) >= 100


@pytest.fixture(scope="module")
def history_trees(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[Path, str]]:
    """One run per size whose metric file holds that many points."""
    from trackstore.store.file import FileStore

    trees = {}
    for size in (100_000, 1_000_000):
        root = tmp_path_factory.mktemp(f"history{size}") / "mlruns"
        store = FileStore(str(root))
        run = store.create_run("0", "bench", T0, [], "history")
        store.close()
        write_metric_file(root / "0" / run.info.run_id / "metrics" / "loss", size)
        trees[size] = (root, run.info.run_id)
    os.sync()  # written back before anything is timed
    return trees


@pytest.mark.parametrize("size", [100_000, 1_000_000])
def test_get_metric_history(benchmark: Any, lib: str, size: int,
                            history_trees: dict[int, tuple[Path, str]]) -> None:
    root, run_id = history_trees[size]
    client, _ = client_and_entities(lib, root)
    benchmark.extra_info["points_per_call"] = size
    slow = lib == "mlflow" and size >= 1_000_000
    result = benchmark.pedantic(client.get_metric_history, args=(run_id, "loss"),
                                rounds=1 if slow else 5, iterations=1)
    assert len(result) == size


@pytest.mark.parametrize("size", [100_000, 1_000_000])
def test_get_metric_history_columns(benchmark: Any, size: int,
                                    history_trees: dict[int, tuple[Path, str]]) -> None:
    """trackstore only: the columnar read (compare with test_get_metric_history[mlflow])."""
    root, run_id = history_trees[size]
    client, _ = client_and_entities("trackstore", root)
    benchmark.extra_info["points_per_call"] = size
    result = benchmark.pedantic(client.get_metric_history_columns, args=(run_id, "loss"),
                                rounds=10, iterations=1)
    assert len(result) == size


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The search tree's size: 5,000 runs when timed, 300 run as a test (MLflow's file store
    takes about 12 s a search of 5,000)."""
    if "runs" in metafunc.fixturenames:
        metafunc.parametrize("runs", [5000] if timed(metafunc.config) else [300],
                             scope="module")


@pytest.fixture(scope="module")
def search_tree(runs: int, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("search") / "mlruns"
    experiment_id, _ = build_tree(root, runs=runs)
    os.sync()  # written back before anything is timed
    return root, experiment_id


@pytest.mark.parametrize("query", ["order_by_metric", "filter_and_order"])
@pytest.mark.parametrize("cache", ["warm", "cold"])
def test_search_runs_first_page(benchmark: Any, lib: str, runs: int, query: str, cache: str,
                                search_tree: tuple[Path, str]) -> None:
    """First page of 100 of *runs* runs ordered by a metric (optionally filtered).

    ``warm``: the same client searches again (a dashboard, a server); ``cold``: a new client
    (a new process) each time, with the OS's page cache warm in both.
    """
    root, experiment_id = search_tree
    filter_string = "" if query == "order_by_metric" else \
        "metrics.m1 > 0.2 AND params.p0 != '3' AND tags.t0 = 'v1'"
    clients = [client_and_entities(lib, root)[0]]

    def fresh_client() -> None:
        if cache == "cold":
            clients[0] = client_and_entities(lib, root)[0]

    def search() -> Any:
        return clients[0].search_runs([experiment_id], filter_string,
                                      order_by=["metrics.m3 DESC"], max_results=100)

    if cache == "warm":
        search()
    rounds = 25 if lib == "trackstore" else 2
    page = benchmark.pedantic(search, setup=fresh_client, rounds=rounds, iterations=1)
    assert 0 < len(page) <= 100
    values = [r.data.metrics["m3"] for r in page]
    assert values == sorted(values, reverse=True)


def test_create_runs_one_per_call(benchmark: Any, lib: str, tmp_path: Path) -> None:
    """One run per timed call: create_run + log_batch (10 metrics, 10 params, 5 tags) +
    set_terminated."""
    client, ent = client_and_entities(lib, tmp_path / "mlruns")
    experiment_id = client.create_experiment("runs")
    batch = metrics(ent, 10, keys=10)
    params = [ent.Param(f"p{i}", str(i)) for i in range(10)]
    tags = [ent.RunTag(f"t{i}", "x") for i in range(5)]

    def one_run() -> None:
        run_id = client.create_run(experiment_id).info.run_id
        client.log_batch(run_id, metrics=batch, params=params, tags=tags)
        client.set_terminated(run_id)

    benchmark.extra_info["runs_per_call"] = 1
    benchmark.pedantic(one_run, rounds=200 if lib == "trackstore" else 30, iterations=1,
                       warmup_rounds=2)
