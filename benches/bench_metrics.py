"""Benchmarks of the ``metrics`` trio: ``[py]`` and ``[c]`` side by side, MLflow where it applies.

Run with ``python -m pytest benches/bench_metrics.py --benchmark-only``. The files are what
MLflow writes: millisecond timestamps, ``repr`` of full-precision doubles, increasing steps.
Every public function of the topic is here: the file store's reads (``parse``, ``latest``) and
writes (``format_line``, ``format_lines``, ``format_batch``, ``count_plain``), the asynchronous
logger's ``format_rows`` and the server's ``from_json_plain``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any

import pytest

from _data import twin

TS0 = 1_700_000_000_000


@pytest.fixture(params=["py", "c"])
def impl(request: pytest.FixtureRequest) -> ModuleType:
    return twin("metrics", request.param)


@cache
def points(count: int, seed: int = 0) -> tuple[list[int], list[float], list[int]]:
    rnd = random.Random(seed)
    return (
        [TS0 + i * 7 for i in range(count)],
        [rnd.random() * 10 ** rnd.randint(-3, 3) for _ in range(count)],
        list(range(count)),
    )


@cache
def metric_file(count: int) -> bytes:
    timestamps, values, steps = points(count)
    return "".join(
        f"{ts} {value} {step}\n" for ts, value, step in zip(timestamps, values, steps, strict=True)
    ).encode()


@cache
def dataset_file(count: int) -> bytes:
    timestamps, values, steps = points(count)
    return "".join(
        f"{ts} {value} {step} train 3f2a9c\n"
        for ts, value, step in zip(timestamps, values, steps, strict=True)
    ).encode()


def run(benchmark: Any, fn: Callable[..., Any], *args: Any, slow: bool = False) -> Any:
    if slow:  # seconds per call in the pure twin: a few rounds are enough for a median
        return benchmark.pedantic(fn, args=args, rounds=5, iterations=1, warmup_rounds=1)
    return benchmark(fn, *args)


def test_parse_1m_lines(benchmark: Any, impl: ModuleType) -> None:
    data = metric_file(1_000_000)
    parsed = run(benchmark, impl.parse, data, slow=True)
    assert len(parsed.timestamps) == 1_000_000


def test_parse_100k_dataset_lines(benchmark: Any, impl: ModuleType) -> None:
    data = dataset_file(100_000)
    parsed = run(benchmark, impl.parse, data, slow=impl.__name__.endswith("_py"))
    assert len(parsed.datasets) == 100_000


@pytest.mark.parametrize("count", [100, 10_000])
def test_latest(benchmark: Any, impl: ModuleType, count: int) -> None:
    data = metric_file(count)
    point = run(benchmark, impl.latest, data)
    assert point.step == count - 1


@pytest.mark.parametrize("count", [100, 10_000])
def test_latest_mlflow_baseline(benchmark: Any, count: int) -> None:
    """MLflow's FileStore: decode, split lines, one Metric per line, max by key."""
    file_store = pytest.importorskip("mlflow.store.tracking.file_store").FileStore
    data = metric_file(count)

    def mlflow_latest(raw: bytes) -> Any:
        metrics = [
            file_store._get_metric_from_line("run", "loss", line, "0")
            for line in raw.decode().splitlines(keepends=True)
        ]
        return max(metrics, key=lambda m: (m.step, m.timestamp, m.value))

    assert run(benchmark, mlflow_latest, data).step == count - 1


def test_format_lines_1000(benchmark: Any, impl: ModuleType) -> None:
    timestamps, values, steps = points(1000)
    out = run(benchmark, impl.format_lines, timestamps, values, steps)
    assert out == metric_file(1000)


def test_format_line(benchmark: Any, impl: ModuleType) -> None:
    out = run(benchmark, impl.format_line, TS0, 0.8444218515250481, 42)
    assert out == b"1700000000000 0.8444218515250481 42\n"


def test_format_line_with_dataset(benchmark: Any, impl: ModuleType) -> None:
    out = run(benchmark, impl.format_line, TS0, 0.25, 42, "train", "3f2a9c")
    assert out == b"1700000000000 0.25 42 train 3f2a9c\n"


@cache
def metric_objects(count: int, keys: int) -> list[Any]:
    from trackstore.entities import Metric

    timestamps, values, steps = points(count)
    return [Metric(f"m{i % keys}", v, ts, step)
            for i, (ts, v, step) in enumerate(zip(timestamps, values, steps, strict=True))]


def test_format_batch_1000(benchmark: Any, impl: ModuleType) -> None:
    """log_batch's serialisation: 1000 Metric objects over 10 keys into grouped lines."""
    groups = run(benchmark, impl.format_batch, metric_objects(1000, 10))
    assert sorted(groups) == [f"m{k}" for k in range(10)]


def test_count_plain_1000(benchmark: Any, impl: ModuleType) -> None:
    """log_batch's validation fast path over 1000 Metric objects."""
    known = frozenset(f"m{k}" for k in range(10))
    assert run(benchmark, impl.count_plain, metric_objects(1000, 10), known) == 1000


@cache
def queued_rows(count: int, keys: int) -> list[tuple[str, float, int, int]]:
    """Points as the asynchronous logger queues them: (key, value, timestamp, step)."""
    timestamps, values, steps = points(count)
    return [(f"m{i % keys}", v, ts, step)
            for i, (ts, v, step) in enumerate(zip(timestamps, values, steps, strict=True))]


def test_format_rows_1000(benchmark: Any, impl: ModuleType) -> None:
    """The asynchronous logger's serialisation: 1000 queued rows over 10 keys into lines."""
    groups = run(benchmark, impl.format_rows, queued_rows(1000, 10))
    assert groups == impl.format_batch(metric_objects(1000, 10))


@cache
def json_entries(count: int, keys: int) -> list[dict[str, Any]]:
    """A ``log-batch`` request's decoded ``metrics``, as the server receives them."""
    timestamps, values, steps = points(count)
    return [{"key": f"m{i % keys}", "value": v, "timestamp": ts, "step": step}
            for i, (ts, v, step) in enumerate(zip(timestamps, values, steps, strict=True))]


def test_from_json_plain_1000(benchmark: Any, impl: ModuleType) -> None:
    """The server's ``log-batch``: 1000 decoded JSON entries (10 keys) into Metric objects."""
    entries = json_entries(1000, 10)

    def convert() -> list[Any]:
        out: list[Any] = []
        assert impl.from_json_plain(entries, 0, out) == len(entries)
        return out

    metrics = run(benchmark, convert)
    assert [(m.key, m.value, m.timestamp, m.step) for m in metrics] == \
        [(e["key"], e["value"], e["timestamp"], e["step"]) for e in entries]
