"""Benchmarks of the ``pointq`` trio (asynchronous logging's point queue): ``[py]`` and ``[c]``.

Run with ``python -m pytest benches/bench_pointq.py --benchmark-only --benchmark-group-by=func``.

A training loop's ``log_metric(key, value, step=i, synchronous=False)`` costs the caller a
``PointQueue.put`` (``store.base.log_point_async``) and ``log_metrics`` a ``put_many``: the
checks of a plain point and an append to the rows of its run's open entry. A timed round is
many calls (the number of points is the first parameter: ``[10000]``) into a queue made ready
untimed before the round as the logger makes it, ``reset(room)`` then ``open(run_id, handle,
rows)``; every round's rows are then checked. ``test_put`` passes no timestamp (the queue
takes the time, as the fluent call does), ``test_put_timestamped`` passes one.

``test_take_and_reopen``: the logger's side, once per batch its thread takes: ``reset`` (the
thread took the entries), the next point finding no entry (``in``), ``open`` of a new one,
``add`` of the point, ``close`` (a batch queued for the run behind it). The parameter is the
number of such cycles in a round.

Nothing here depends on a store: the calls are the kernels alone, the same in both modes (a
round of 10,000 pure-Python puts takes a few milliseconds, so the data is not shrunk when the
benchmarks run untimed).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from _data import T0, timed, twin

RUN_ID = "68659e3de6e74b5a9ee3f4febf9f14e0"
HANDLE = object()  # the run's RunOperations in the logger; the queue only hands it back
ROOM = 1 << 30


@pytest.fixture(params=["py", "c"])
def impl(request: pytest.FixtureRequest) -> ModuleType:
    return twin("pointq", request.param)


def _rounds(request: pytest.FixtureRequest) -> dict[str, int]:
    return {"rounds": 100, "warmup_rounds": 2} if timed(request.config) else {"rounds": 1}


class Opened:
    """A queue with *keys* valid keys and an open entry for :data:`RUN_ID`, remade by
    :meth:`setup` before each round; :attr:`rows` collects every round's rows."""

    def __init__(self, impl: ModuleType, keys: list[str]) -> None:
        self.queue = impl.PointQueue(set(keys))
        self.rows: list[Any] = []
        self.rounds = 0

    def setup(self) -> None:
        self.queue.reset(ROOM)
        self.rows = []
        self.queue.open(RUN_ID, HANDLE, self.rows)
        self.rounds += 1


@pytest.mark.parametrize("points", [10_000])
def test_put(benchmark: Any, impl: ModuleType, points: int,
             request: pytest.FixtureRequest) -> None:
    """``put`` of one point per call, no timestamp (now), steps going on: ``log_metric``."""
    opened = Opened(impl, ["loss"])
    values = [0.5 + step * 1e-6 for step in range(points)]

    def round_() -> None:
        put = opened.queue.put
        for step in range(points):
            put(RUN_ID, "loss", values[step], None, step)

    benchmark.extra_info["points_per_call"] = points
    benchmark.pedantic(round_, setup=opened.setup, iterations=1, **_rounds(request))
    rows = opened.rows
    assert len(rows) == points == opened.queue.count
    assert [r[3] for r in rows] == list(range(points)) and rows[-1][1] == values[-1]
    assert all(r[0] == "loss" and r[2] >= T0 for r in rows)


@pytest.mark.parametrize("points", [10_000])
def test_put_timestamped(benchmark: Any, impl: ModuleType, points: int,
                         request: pytest.FixtureRequest) -> None:
    """``put`` of one point per call with its timestamp: ``log_metric(..., timestamp=t)``."""
    opened = Opened(impl, ["loss"])
    values = [0.5 + step * 1e-6 for step in range(points)]
    timestamps = [T0 + step * 10 for step in range(points)]

    def round_() -> None:
        put = opened.queue.put
        for step in range(points):
            put(RUN_ID, "loss", values[step], timestamps[step], step)

    benchmark.extra_info["points_per_call"] = points
    benchmark.pedantic(round_, setup=opened.setup, iterations=1, **_rounds(request))
    assert opened.rows == [("loss", values[s], timestamps[s], s) for s in range(points)]


@pytest.mark.parametrize("keys", [10, 100], ids=lambda keys: f"{keys}_keys")
@pytest.mark.parametrize("points", [10_000])
def test_put_many(benchmark: Any, impl: ModuleType, points: int, keys: int,
                  request: pytest.FixtureRequest) -> None:
    """``put_many`` of *keys* keys per call at one step, no timestamp: ``log_metrics``."""
    names = [f"m{k}" for k in range(keys)]
    opened = Opened(impl, names)
    calls = points // keys
    values = [{name: 0.5 + step * 1e-6 for name in names} for step in range(calls)]

    def round_() -> None:
        put_many = opened.queue.put_many
        for step in range(calls):
            put_many(RUN_ID, values[step], None, step)

    benchmark.extra_info["points_per_call"] = points
    benchmark.extra_info["calls_per_round"] = calls
    benchmark.pedantic(round_, setup=opened.setup, iterations=1, **_rounds(request))
    rows = opened.rows
    assert len(rows) == points == opened.queue.count
    assert [r[0] for r in rows[:keys]] == names and rows[-1][3] == calls - 1


@pytest.mark.parametrize("cycles", [1000])
def test_take_and_reopen(benchmark: Any, impl: ModuleType, cycles: int,
                         request: pytest.FixtureRequest) -> None:
    """The logger's side: ``reset``, ``in``, ``open``, ``add`` of one row, ``close``."""
    queue = impl.PointQueue({"loss"})
    row = ("loss", 0.5, T0, 0)
    taken: list[list[Any]] = []

    def round_() -> None:
        keep = taken.append
        for _ in range(cycles):
            queue.reset(ROOM)
            if RUN_ID not in queue:
                rows: list[Any] = []
                keep(rows)
                queue.open(RUN_ID, HANDLE, rows)
            queue.add(RUN_ID, [row])
            queue.close(RUN_ID)

    benchmark.extra_info["cycles_per_call"] = cycles
    benchmark.pedantic(round_, setup=taken.clear, iterations=1, **_rounds(request))
    assert taken == [[row]] * cycles
    assert RUN_ID not in queue and queue.count == 1
    queue.open(RUN_ID, HANDLE, [])
    assert queue.add(RUN_ID, [row]) is HANDLE
