"""Deterministic data for the benchmarks: metric points, batches, ``mlruns`` trees.

Trees are written through trackstore's file store, whose output MLflow reads (that is
tested in ``tests/compat``), so both libraries are measured on the same bytes.
"""

from __future__ import annotations

import importlib
import itertools
import os
import random
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

T0 = 1_700_000_000_000


def timed(config: pytest.Config) -> bool:
    """Whether benchmarks are timed; untimed (``--benchmark-disable``, as CI runs them as
    tests) they use small data."""
    return not config.getoption("benchmark_disable", False)


def twin(topic: str, name: str) -> ModuleType:
    """The ``py`` or ``c`` twin of a compiled topic; the benchmark is skipped without it."""
    try:
        return importlib.import_module(f"trackstore._{topic}_{name}")
    except ImportError as exc:
        pytest.skip(f"compiled twin unavailable: {exc}")


def log_metric_per_call(benchmark: Any, client: Any, rounds: int, iterations: int,
                        warmup_rounds: int) -> None:
    """Time ``client.log_metric``, one point per call, then check every point is there.

    Several calls per timed round, so the timer's own cost does not count as logging; many
    short rounds spread over time, so the median shrugs off the VM's bursts of noise.
    """
    run_id = client.create_run("0").info.run_id
    steps = itertools.count()

    def log() -> None:
        step = next(steps)
        client.log_metric(run_id, "loss", 0.5, timestamp=T0 + step, step=step)

    benchmark.extra_info["points_per_call"] = 1
    benchmark.pedantic(log, rounds=rounds, iterations=iterations, warmup_rounds=warmup_rounds)
    history = client.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == list(range(next(steps)))  # every call, once, in order


def points(count: int, seed: int = 0) -> list[tuple[int, float, int]]:
    """(timestamp, value, step) triples like a training loop logs them."""
    rng = random.Random(seed)
    value = 1.0
    out = []
    for step in range(count):
        value = value * 0.999 + rng.random() * 0.001
        out.append((T0 + step * 10, value, step))
    return out


def metrics(entities: Any, count: int, keys: int = 10, seed: int = 0) -> list[Any]:
    """*count* Metric objects of the given entities module, spread over *keys* keys."""
    return [entities.Metric(f"m{i % keys}", v, ts, step)
            for i, (ts, v, step) in enumerate(points(count, seed))]


def write_metric_file(path: Path, count: int) -> None:
    """A metric file of *count* points, as MLflow writes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for ts, value, step in points(count):
            f.write(f"{ts} {value} {step}\n")


def build_tree(root: Path, runs: int, metric_keys: int = 4, steps: int = 50,
               params: int = 8, tags: int = 4, seed: int = 0) -> tuple[str, list[str]]:
    """An experiment of *runs* runs; returns (experiment id, run ids)."""
    from trackstore import entities
    from trackstore.store.file import FileStore

    rng = random.Random(seed)
    store = FileStore(str(root))
    experiment_id = store.create_experiment("bench")
    run_ids = []
    for r in range(runs):
        run = store.create_run(experiment_id, "bench", T0 + r * 1000, [], f"run-{r}")
        batch = [entities.Metric(f"m{k}", rng.random(), T0 + s, s)
                 for k in range(metric_keys) for s in range(steps)]
        store.log_batch(run.info.run_id, metrics=batch,
                        params=[entities.Param(f"p{j}", str(rng.randint(0, 9)))
                                for j in range(params)],
                        tags=[entities.RunTag(f"t{j}", f"v{rng.randint(0, 3)}")
                              for j in range(tags)])
        store.update_run_info(run.info.run_id, entities.RunStatus.FINISHED, T0 + r * 1000 + 1,
                              None)
        run_ids.append(run.info.run_id)
    store.close()
    return experiment_id, run_ids


def mlflow_env() -> None:
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"


def build_import_tree(root: Path, experiments: int, runs: int, metric_keys: int, steps: int,
                      params: int = 8, tags: int = 4, seed: int = 0) -> int:
    """An ``mlruns`` tree for import benchmarks: *experiments* x *runs* runs, each with
    *params* params, *tags* tags and *metric_keys* metrics of *steps* points. Runs and their
    meta.yaml, params and tags are made by the file store (MLflow's layout); metric files are
    written directly as MLflow formats them, which is much faster for large trees. Returns
    the number of metric points."""
    from trackstore import _metrics, entities
    from trackstore.store.file import FileStore

    rng = random.Random(seed)
    store = FileStore(str(root))
    total = 0
    for e in range(experiments):
        experiment_id = store.create_experiment(f"import-bench-{e}")
        for r in range(runs):
            run = store.create_run(experiment_id, "bench", T0 + r * 1000, [], f"run-{e}-{r}")
            run_id = run.info.run_id
            store.log_batch(run_id, params=[entities.Param(f"p{j}", str(rng.randint(0, 99)))
                                            for j in range(params)],
                            tags=[entities.RunTag(f"t{j}", f"v{rng.randint(0, 3)}")
                                  for j in range(tags)])
            metrics_dir = root / experiment_id / run_id / "metrics"
            for k in range(metric_keys):
                values = [rng.random() for _ in range(steps)]
                (metrics_dir / f"m{k}").write_bytes(_metrics.format_lines(
                    [T0 + s * 10 for s in range(steps)], values, range(steps)))
                total += steps
            store.update_run_info(run_id, entities.RunStatus.FINISHED, T0 + r * 1000 + 1, None)
    store.close()
    return total
