"""Benchmarks of the ``sqlbatch`` trio: ``[py]`` and ``[c]`` side by side.

Run with ``python -m pytest benches/bench_sqlbatch.py --benchmark-only
--benchmark-group-by=func,param:count``. Batches are what a training loop logs: 10 keys,
millisecond timestamps, increasing steps, full-precision values (so ``repr`` needs 16 or 17
digits, the slow case), one point in 1000 a NaN. 1000 points is a ``log_batch`` at MLflow's
limit; 1M points shows the per-point cost without the per-call one. The fetched rows are what a
driver returns for one metric's history; the columns of ``series_rows`` what the import parses
from a metric file. ``encode_value`` / ``decode_value``: one value, as a single ``log_metric``
and a single read convert it.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any

import pytest

from _data import points, twin

KEYS = 10
KEY_IDS = {f"m{k}": k + 1 for k in range(KEYS)}
SIZES = [1000, 1_000_000]


@pytest.fixture(params=["py", "c"])
def impl(request: pytest.FixtureRequest) -> ModuleType:
    return twin("sqlbatch", request.param)


@cache
def metric_batch(count: int) -> list[Any]:
    from trackstore.entities import Metric

    return [Metric(f"m{i % KEYS}", math.nan if i % 1000 == 999 else value, ts, step)
            for i, (ts, value, step) in enumerate(points(count))]


@cache
def stored_rows(count: int) -> list[tuple[Any, ...]]:
    pure = twin("sqlbatch", "py")
    rows: list[tuple[Any, ...]] = pure.metric_rows(7, metric_batch(count), KEY_IDS, {})
    assert len(rows) == count
    return rows


@cache
def fetched_rows(count: int, with_dataset: bool = False) -> list[tuple[Any, ...]]:
    """One metric's history as the driver returns it: (step, timestamp, value, kind[, ...])."""
    extra = (None, None) if with_dataset else ()
    return [(r[2], r[3], r[4], r[5], *extra) for r in stored_rows(count)]


def run(benchmark: Any, fn: Callable[..., Any], *args: Any, count: int) -> Any:
    if count >= 1_000_000:  # seconds per call in the pure twin: a few rounds give a median
        return benchmark.pedantic(fn, args=args, rounds=5, iterations=1, warmup_rounds=1)
    return benchmark(fn, *args)


@pytest.mark.parametrize("count", SIZES)
def test_metric_rows(benchmark: Any, impl: ModuleType, count: int) -> None:
    rows = run(benchmark, impl.metric_rows, 7, metric_batch(count), KEY_IDS, {}, count=count)
    assert len(rows) == count


@pytest.mark.parametrize("count", SIZES)
def test_series_rows(benchmark: Any, impl: ModuleType, count: int) -> None:
    """The import's encoder: one metric's columns (arrays, as parsed from its file) into rows."""
    all_points = points(count)
    timestamps = array("q", [ts for ts, _, _ in all_points])
    values = array("d", [math.nan if i % 1000 == 999 else v
                         for i, (_, v, _) in enumerate(all_points)])
    steps = array("q", [step for _, _, step in all_points])
    rows, dropped = run(benchmark, impl.series_rows, 7, 1, timestamps, values, steps, None,
                        count=count)
    assert (len(rows), dropped) == (count, 0)


@pytest.mark.parametrize("value", [0.8444218515250481, math.inf], ids=["finite", "inf"])
def test_encode_value(benchmark: Any, impl: ModuleType, value: float) -> None:
    """One value into its stored (value, kind): a single ``log_metric``'s encoding."""
    stored, kind = benchmark(impl.encode_value, value)
    assert impl.decode_value(stored, kind) == value


def test_decode_value(benchmark: Any, impl: ModuleType) -> None:
    """A stored (value, kind) back into the metric's value: a single read's decoding."""
    assert benchmark(impl.decode_value, 0.8444218515250481, impl.KIND_FINITE) == \
        0.8444218515250481


@pytest.mark.parametrize("count", SIZES)
def test_latest_rows(benchmark: Any, impl: ModuleType, count: int) -> None:
    latest = run(benchmark, impl.latest_rows, stored_rows(count), count=count)
    assert len(latest) == KEYS


@pytest.mark.parametrize("count", SIZES)
def test_copy_text(benchmark: Any, impl: ModuleType, count: int) -> None:
    text = run(benchmark, impl.copy_text, stored_rows(count), count=count)
    assert text.count(b"\n") == count


@pytest.mark.parametrize("count", SIZES)
def test_copy_binary(benchmark: Any, impl: ModuleType, count: int) -> None:
    data = run(benchmark, impl.copy_binary, stored_rows(count), count=count)
    assert len(data) == 19 + count * 68 + 2  # no dataset ids: 68 bytes a row


@pytest.mark.parametrize("count", SIZES)
def test_bind_params(benchmark: Any, impl: ModuleType, count: int) -> None:
    params, with_dataset = run(benchmark, impl.bind_params, stored_rows(count), count=count)
    assert (len(params), with_dataset) == (1 + 5 * count, False)


@pytest.mark.parametrize("count", SIZES)
def test_values_sql(benchmark: Any, impl: ModuleType, count: int) -> None:
    sql = run(benchmark, impl.values_sql, stored_rows(count), count=count)
    assert sql.count("),(") == count - 1


@pytest.mark.parametrize("count", SIZES)
def test_history_columns(benchmark: Any, impl: ModuleType, count: int) -> None:
    columns = run(benchmark, impl.history_columns, fetched_rows(count), count=count)
    assert len(columns.values) == count


@pytest.mark.parametrize("count", SIZES)
def test_history_metrics(benchmark: Any, impl: ModuleType, count: int) -> None:
    metrics = run(benchmark, impl.history_metrics, "m0", fetched_rows(count, True), count=count)
    assert len(metrics) == count
