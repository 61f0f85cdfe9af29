"""The multi-run history reads, ``get_metric_history_bulk_interval`` and
``get_metric_history_bulk``, on every backend.

Two kinds of test. Expectations worked out by hand, so the sampling rules are pinned down in
plain numbers (each scenario says why it comes out so). And the real MLflow 3.17 as the oracle
on the same points:

* the interval read against MLflow's ``FileStore``, which runs the algorithm of MLflow's
  ``AbstractStore``. MLflow's file store leaves points at one (step, timestamp) in logging
  order where trackstore orders them by value, as MLflow's SQL store does; so the oracle is
  given each run's points already in that order (and, opposite trackstore's SQL backends,
  which store an exact duplicate once, without duplicates): any difference left is one of
  sampling. The hand-written scenarios are checked against the oracle too, so the numbers in
  them are MLflow's, not ours.
* the bulk read against MLflow's ``SqlAlchemyStore`` (SQLite), whose answer trackstore gives.
  That store keeps +-inf as +-DBL_MAX and sorts NaN as 0, so the generated points are
  non-finite only where no other point shares their (timestamp, step).
* the validation messages against MLflow's own server handlers (Flask's test client).

Without ``mlflow`` the oracle tests skip, unless ``TRACKSTORE_REQUIRE_MLFLOW=1``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.compat._oracle import require_mlflow
from trackstore.entities import Metric, MetricHistory
from trackstore.exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TrackstoreError
from trackstore.store import base
from trackstore.store.base import AbstractStore
from trackstore.store.file import FileStore

T0 = 1_700_000_000_000
KEY = "loss"
HINT = " See the API docs for more information about request parameters."
NAN, INF = math.nan, math.inf
#: A well-formed run id no store has.
UNKNOWN = "0123456789abcdef0123456789abcdef"

#: One logged point: (step, timestamp - T0, value).
Point = tuple[int, int, float]
#: One returned point: (which run: its position among the runs logged, step, timestamp - T0,
#: value), NaN as the string "nan" so that answers compare with ==.
Seen = tuple[int, int, int, Any]


def _value(v: float) -> Any:
    return "nan" if math.isnan(v) else v


def order_key(point: Point) -> tuple[int, int, int, float]:
    """trackstore's order of points at one step and timestamp: NaN < -inf < finite < +inf."""
    step, t, v = point
    return (step, t, 0, 0.0) if math.isnan(v) else (step, t, 1, v)


def without_duplicates(points: Sequence[Point]) -> list[Point]:
    """*points* with each exact duplicate once: what trackstore's SQL backends store."""
    found: dict[tuple[int, int, Any], Point] = {}
    for step, t, v in points:
        found.setdefault((step, t, _value(v)), (step, t, v))
    return list(found.values())


def stored(store: AbstractStore, points: Sequence[Point]) -> list[Point]:
    """The points *store* keeps when *points* are logged (SQL stores an exact duplicate once)."""
    return list(points) if isinstance(store, FileStore) else without_duplicates(points)


def seen(metrics: Sequence[Any], run_ids: Sequence[str]) -> list[Seen]:
    """An answer of either store, each run named by its position in *run_ids* (the runs
    logged, each once): run ids differ between stores."""
    for m in metrics:
        assert m.key == KEY
    return [(run_ids.index(m.run_id), m.step, m.timestamp - T0, _value(m.value))
            for m in metrics]


def new_run(store: AbstractStore, points: Sequence[Point] = ()) -> str:
    run_id = store.create_run("0", "alice", T0, [], None).info.run_id
    log(store, run_id, points)
    return run_id


def log(store: AbstractStore, run_id: str, points: Sequence[Point]) -> None:
    metrics = [Metric(KEY, v, T0 + t, step) for step, t, v in points]
    for i in range(0, len(metrics), 1000):  # MLflow's limit on metrics per batch
        store.log_batch(run_id, metrics=metrics[i:i + 1000])


def error(exc_info: pytest.ExceptionInfo[TrackstoreError]) -> tuple[str, str]:
    return exc_info.value.error_code, exc_info.value.message


def steps_of(steps: Sequence[int], value: float | None = None) -> list[Point]:
    """One point per step, at timestamp T0 + step, valued *value* (or the step)."""
    return [(s, s, float(s) if value is None else value) for s in steps]


# --- get_metric_history_bulk_interval: scenarios worked out by hand -------------------------


@dataclass(frozen=True)
class Scenario:
    """Runs logged in the order given, one read, and its answer as (run, step, t) triples
    (run: the position in ``runs`` of the run the point comes from)."""

    runs: tuple[tuple[Point, ...], ...]
    max_results: int
    expected: tuple[tuple[int, int, int], ...]
    window: tuple[int, int] | None = None
    #: Positions in ``runs`` of the run ids asked for; None: each run once, in order.
    ask: tuple[int, ...] | None = None

    def run_order(self) -> list[int]:
        return list(self.ask) if self.ask is not None else list(range(len(self.runs)))

    def expected_seen(self) -> list[Seen]:
        """The expected answer with the values the points were logged with."""
        out: list[Seen] = []
        for run, step, t in self.expected:
            values = [v for s, tt, v in self.runs[run] if (s, tt) == (step, t)]
            assert len(values) == 1, "scenarios name each point by (step, t)"
            out.append((run, step, t, _value(values[0])))
        return out


def _runs(*runs: Sequence[Point]) -> tuple[tuple[Point, ...], ...]:
    return tuple(tuple(r) for r in runs)


SCENARIOS = {
    # At most max_results distinct steps: every point, by step.
    "few steps: every point": Scenario(
        _runs([(2, 2, 3.0), (0, 0, 1.0), (1, 1, 2.0)], [(0, 5, 5.0)]), 10,
        ((0, 0, 0), (0, 1, 1), (0, 2, 2), (1, 0, 5))),
    # 10 steps, 4 wanted: positions int(i * 2.5) = 0, 2, 5, 7, plus the last (9).
    "evenly spaced steps plus the last": Scenario(
        _runs(steps_of(range(10))), 4, ((0, 0, 0), (0, 2, 2), (0, 5, 5), (0, 7, 7), (0, 9, 9))),
    # The union 0..30 + 40..100 by 10 has 38 steps; int(i * 7.6) picks 0, 7, 15, 22, 30, then
    # the last step (100). Each run answers at those of its own steps: runs line up.
    "runs of different lengths line up on shared steps": Scenario(
        _runs(steps_of(range(0, 101, 10)), steps_of(range(31))), 5,
        ((0, 0, 0), (0, 30, 30), (0, 100, 100),
         (1, 0, 0), (1, 7, 7), (1, 15, 15), (1, 22, 22), (1, 30, 30))),
    # Union 0, 1, 2, 5, 6, 50: int(i * 2) picks 0, 2, 6, plus 50; each run's own first step
    # (1 for the second run) is added.
    "missing steps": Scenario(
        _runs(steps_of([0, 5, 6, 50]), steps_of([1, 2, 50])), 3,
        ((0, 0, 0), (0, 6, 6), (0, 50, 50), (1, 1, 1), (1, 2, 2), (1, 50, 50))),
    # 50 points at step 0: evenly spaced positions round(i * 12.25) = 0, 12, 24 (24.5 rounds
    # to even), 37, 49.
    "one step logged many times is thinned evenly": Scenario(
        _runs([(0, t, float(t)) for t in range(50)]), 5,
        ((0, 0, 0), (0, 0, 12), (0, 0, 24), (0, 0, 37), (0, 0, 49))),
    # Steps 0, 2, 5, 7, 9 kept, but step 9 has 20 points: of the 24 points at kept steps, 5
    # evenly spaced ones (positions 0, 6, 12, 17, 23) are kept: steps 2, 5, 7 are crowded out.
    "a step logged many times among others": Scenario(
        _runs([*steps_of(range(9)), *[(9, t, float(t)) for t in range(9, 29)]]), 4,
        ((0, 0, 0), (0, 9, 11), (0, 9, 17), (0, 9, 22), (0, 9, 28))),
    # 10 steps in [10, 19]: int(i * 2) picks 10, 12, 14, 16, 18, plus 19; the run's own first
    # and last steps (0, 99) are outside the range.
    "a range inside the data": Scenario(
        _runs(steps_of(range(100))), 5,
        ((0, 10, 10), (0, 12, 12), (0, 14, 14), (0, 16, 16), (0, 18, 18), (0, 19, 19)),
        window=(10, 19)),
    "a range past the data": Scenario(_runs(steps_of(range(10))), 5, (), window=(50, 60)),
    "a range over the data's end": Scenario(
        _runs(steps_of(range(10))), 100, tuple((0, s, s) for s in range(5, 10)),
        window=(5, 500)),
    "a range of one step": Scenario(_runs(steps_of(range(10))), 5, ((0, 4, 4),), window=(4, 4)),
    # Without a range MLflow reads [0, largest step]: negative steps are left out ...
    "no range leaves negative steps out": Scenario(
        _runs(steps_of(range(-5, 6))), 100, tuple((0, s, s) for s in range(6))),
    # ... and a run with only negative steps answers nothing.
    "no range, only negative steps": Scenario(_runs(steps_of(range(-5, 0))), 100, ()),
    "a range takes negative steps": Scenario(
        _runs(steps_of(range(-5, 6))), 100, tuple((0, s, s) for s in range(-5, 6)),
        window=(-5, 5)),
    # max_results 1 picks the first step; the last is added.
    "max_results 1 keeps the first and last steps": Scenario(
        _runs(steps_of(range(10))), 1, ((0, 0, 0), (0, 9, 9))),
    "a run without the metric answers nothing": Scenario(
        _runs(steps_of(range(4)), []), 10, tuple((0, s, s) for s in range(4))),
    # MLflow answers a repeated run id once per mention.
    "a repeated run is answered twice": Scenario(
        _runs([(0, 0, 1.0), (3, 1, 2.0)], [(1, 1, 5.0)]), 10,
        ((0, 0, 0), (0, 3, 1), (1, 1, 1), (0, 0, 0), (0, 3, 1)), ask=(0, 1, 0)),
    # 5 steps, 3 wanted: int(i * 5 / 3) picks 0, 1, 3, plus 4.
    "NaN and infinite values are points like others": Scenario(
        _runs([(0, 0, NAN), (1, 1, INF), (2, 2, 0.5), (3, 3, -INF), (4, 4, NAN)]), 3,
        ((0, 0, 0), (0, 1, 1), (0, 3, 3), (0, 4, 4))),
}


def interval(store: AbstractStore, scenario: Scenario) -> tuple[list[str], list[Any]]:
    """Log *scenario* into *store* and read it: (the runs logged, the answer)."""
    run_ids = [new_run(store, points) for points in scenario.runs]
    asked = [run_ids[i] for i in scenario.run_order()]
    start, end = scenario.window or (None, None)
    return run_ids, store.get_metric_history_bulk_interval(asked, KEY, scenario.max_results,
                                                           start, end)


@pytest.mark.parametrize("name", SCENARIOS)
def test_interval_scenario(store: AbstractStore, name: str) -> None:
    scenario = SCENARIOS[name]
    run_ids, answer = interval(store, scenario)
    assert seen(answer, run_ids) == scenario.expected_seen()
    assert all(type(m) is Metric for m in answer)


def test_interval_orders_points_at_one_step_and_time_by_value(store: AbstractStore) -> None:
    # Logged in no order; answered by value, NaN first, as on every backend.
    points = [(1, 7, 3.0), (1, 7, NAN), (1, 7, INF), (1, 7, -INF), (1, 7, 1.0), (0, 0, 9.0),
              (1, 6, 8.0)]
    run_id = new_run(store, points)
    answer = store.get_metric_history_bulk_interval([run_id], KEY, 10)
    assert seen(answer, [run_id]) == [(0, 0, 0, 9.0), (0, 1, 6, 8.0), (0, 1, 7, "nan"),
                                      (0, 1, 7, -INF), (0, 1, 7, 1.0), (0, 1, 7, 3.0),
                                      (0, 1, 7, INF)]


def test_interval_answers_exact_duplicates_as_the_store_keeps_them(
        store: AbstractStore) -> None:
    run_id = new_run(store, [(0, 0, 1.0), (1, 1, 2.0), (1, 1, 2.0), (2, 2, 3.0)])
    answer = seen(store.get_metric_history_bulk_interval([run_id], KEY, 10), [run_id])
    copies = 2 if isinstance(store, FileStore) else 1  # the SQL store keeps one
    assert answer == [(0, 0, 0, 1.0), *[(0, 1, 1, 2.0)] * copies, (0, 2, 2, 3.0)]
    assert len(answer) == len(store.get_metric_history(run_id, KEY))


def test_interval_max_results_defaults_to_2500(store: AbstractStore) -> None:
    run_id = new_run(store, steps_of(range(3000)))
    default = store.get_metric_history_bulk_interval([run_id], KEY)
    # 3000 steps, 2500 wanted: int(i * 1.2) gives 2500 distinct positions, the last 2998;
    # step 2999 is added.
    assert len(default) == 2501
    assert default[-2].step == 2998 and default[-1].step == 2999
    assert seen(default, [run_id]) == seen(
        store.get_metric_history_bulk_interval([run_id], KEY, None), [run_id])


def test_interval_reads_columns_and_builds_only_the_answer(
        store: AbstractStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory stays bounded: no Metric for a point left out, no history read as entities."""
    run_id = new_run(store, [(s % 100, s, float(s)) for s in range(3000)])
    built: list[Metric] = []

    def counted(*args: Any, **kwargs: Any) -> Metric:
        built.append(Metric(*args, **kwargs))
        return built[-1]

    def no_entities(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("read the history as entities")

    monkeypatch.setattr(base, "Metric", counted)
    monkeypatch.setattr(type(store), "_get_metric_history", no_entities)
    answer = store.get_metric_history_bulk_interval([run_id], KEY, 10)
    # Steps 0..99: 0, 10, ..., 90 and 99 kept (30 points each), thinned to 11 points.
    assert len(answer) == 11
    assert built == answer


def test_interval_reads_again_the_runs_it_could_not_hold(
        store: AbstractStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond the points it may hold between its passes, a run's history is read twice (an
    empty one never is)."""
    big, small = new_run(store, steps_of(range(10))), new_run(store, steps_of(range(2)))
    empty = new_run(store)
    reads: list[str] = []
    original = type(store)._get_metric_history_columns

    def counted(self: AbstractStore, run_id: str, metric_key: str) -> MetricHistory:
        reads.append(run_id)
        return original(self, run_id, metric_key)

    monkeypatch.setattr(type(store), "_get_metric_history_columns", counted)
    held = store.get_metric_history_bulk_interval([big, small, empty], KEY, 4)
    assert reads == [big, small, empty]
    reads.clear()
    monkeypatch.setattr(base, "_RETAINED_POINTS", 3)
    assert store.get_metric_history_bulk_interval([big, small, empty], KEY, 4) == held
    assert reads == [big, small, empty, big]


# --- both reads: unknown runs and keys ------------------------------------------------------


def test_unknown_run_is_an_error_as_in_get_metric_history(store: AbstractStore) -> None:
    known = new_run(store, steps_of(range(3)))
    last, first = "f" * 32, "0" * 32  # sorted after and before any uuid4 hex
    reads = [
        (UNKNOWN, lambda: store.get_metric_history_bulk_interval([known, UNKNOWN], KEY, 5)),
        (UNKNOWN, lambda: store.get_metric_history_bulk_interval([UNKNOWN], KEY, 5, 0, 1)),
        (UNKNOWN, lambda: store.get_metric_history_bulk([known, UNKNOWN], KEY)),
        # Still an error when the answer is full before that run is reached.
        (last, lambda: store.get_metric_history_bulk([last, known], KEY, 1)),
        (first, lambda: store.get_metric_history_bulk([known, first], KEY, 1)),
    ]
    for unknown, read in reads:
        with pytest.raises(TrackstoreError) as expected:
            store.get_metric_history(unknown, KEY)
        assert expected.value.error_code == RESOURCE_DOES_NOT_EXIST
        with pytest.raises(TrackstoreError) as exc_info:
            read()
        assert error(exc_info) == error(expected)


@pytest.mark.parametrize(("run_id", "metric_key"), [("no/such run", KEY), (None, KEY),
                                                    (UNKNOWN, ".."), (UNKNOWN, 7)])
def test_bad_run_id_or_key_is_refused_as_in_get_metric_history(
        store: AbstractStore, run_id: Any, metric_key: Any) -> None:
    with pytest.raises(TrackstoreError) as expected:
        store.get_metric_history(run_id, metric_key)
    assert expected.value.error_code == INVALID_PARAMETER_VALUE
    for read in (store.get_metric_history_bulk_interval, store.get_metric_history_bulk):
        with pytest.raises(TrackstoreError) as exc_info:
            read([run_id], metric_key)
        assert error(exc_info) == error(expected)


def test_a_metric_never_logged_answers_nothing(store: AbstractStore) -> None:
    run_id = new_run(store, steps_of(range(3)))
    assert store.get_metric_history_bulk_interval([run_id], "other", 10) == []
    assert store.get_metric_history_bulk([run_id], "other") == []


# --- get_metric_history_bulk ----------------------------------------------------------------


def test_bulk_answers_runs_by_id_and_points_by_time(store: AbstractStore) -> None:
    plans = [
        [(5, 3, 1.0), (1, 1, 2.0), (0, 2, 3.0), (2, 1, 4.0)],  # time order is not step order
        [(0, 0, 7.0)],
        [(3, 9, 2.0), (3, 9, NAN), (3, 9, -INF), (3, 9, INF), (3, 9, -1.0), (0, 9, 5.0)],
    ]
    run_ids = [new_run(store, points) for points in plans]
    by_id = sorted(range(len(plans)), key=lambda i: run_ids[i])
    expected: list[Seen] = []
    for position in by_id:
        points = sorted(plans[position], key=lambda p: order_key((p[1], p[0], p[2])))
        expected += [(position, step, t, _value(v)) for step, t, v in points]
    answer = store.get_metric_history_bulk([run_ids[2], run_ids[0], run_ids[1]], KEY)
    assert seen(answer, run_ids) == expected
    assert [p for p in seen(answer, run_ids) if p[0] == 2] == [
        (2, 0, 9, 5.0), (2, 3, 9, "nan"), (2, 3, 9, -INF), (2, 3, 9, -1.0), (2, 3, 9, 2.0),
        (2, 3, 9, INF)]


def test_bulk_caps_the_whole_answer(store: AbstractStore) -> None:
    run_ids = sorted(new_run(store, [(s, 10 - s, float(s)) for s in range(4)]) for _ in range(3))
    answer = seen(store.get_metric_history_bulk(run_ids, KEY, 6), run_ids)
    # The first run whole (latest timestamp first: step 3 is the earliest), two of the second.
    assert answer == [(0, 3, 7, 3.0), (0, 2, 8, 2.0), (0, 1, 9, 1.0), (0, 0, 10, 0.0),
                      (1, 3, 7, 3.0), (1, 2, 8, 2.0)]


def test_bulk_answers_a_repeated_run_once(store: AbstractStore) -> None:
    run_id = new_run(store, steps_of(range(3)))
    assert seen(store.get_metric_history_bulk([run_id, run_id, run_id], KEY), [run_id]) == [
        (0, s, s, float(s)) for s in range(3)]


def test_bulk_lowers_max_results_to_25000(store: AbstractStore) -> None:
    first = new_run(store, [(s, s, 1.0) for s in range(20000)])
    second = new_run(store, [(s, s, 2.0) for s in range(10000)])
    answer = store.get_metric_history_bulk([first, second], KEY, 10**9)
    assert len(answer) == 25000
    assert answer == store.get_metric_history_bulk([first, second], KEY)
    head = min(first, second)
    assert [m.run_id for m in answer[:10000]] == [head] * 10000


# --- validation: MLflow's limits and messages -----------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """Arguments a read refuses, the query string MLflow's server is asked the same with (None
    when MLflow answers it otherwise: see ``message``) and the message."""

    kwargs: dict[str, Any]
    query: str | None
    message: str


def _ids(n: int, name: str = "run_ids") -> str:
    return "&".join([f"{name}={UNKNOWN}"] * n)


INTERVAL_REFUSALS = {
    "no run ids": Refusal({"run_ids": []}, f"metric_key={KEY}",
                          "Missing value for required parameter 'run_ids'." + HINT),
    "101 run ids": Refusal(
        {"run_ids": [UNKNOWN] * 101}, f"{_ids(101)}&metric_key={KEY}",
        "GetMetricHistoryBulkInterval request must specify at most 100 run_ids. Received 101 "
        "run_ids." + HINT),
    "no metric key": Refusal({"metric_key": None}, _ids(1),
                             "Missing value for required parameter 'metric_key'." + HINT),
    "empty metric key": Refusal({"metric_key": ""}, f"{_ids(1)}&metric_key=",
                                "Missing value for required parameter 'metric_key'." + HINT),
    **{f"max_results {n}": Refusal(
        {"max_results": n}, f"{_ids(1)}&metric_key={KEY}&max_results={n}",
        "max_results must be between 1 and 2500." + HINT) for n in (0, 2501, -3)},
    "max_results not a number": Refusal(
        {"max_results": "abc"}, f"{_ids(1)}&metric_key={KEY}&max_results=abc",
        "Invalid value \"abc\" for parameter 'max_results' supplied:  Hint: Value was of type "
        "'str'." + HINT),
    "max_results a bool": Refusal(
        {"max_results": True}, None,
        "Invalid value true for parameter 'max_results' supplied:  Hint: Value was of type "
        "'bool'." + HINT),
    "start_step alone": Refusal(
        {"start_step": 1}, f"{_ids(1)}&metric_key={KEY}&start_step=1",
        "If either start step or end step are specified, both must be specified."),
    "end_step alone": Refusal(
        {"end_step": 1}, f"{_ids(1)}&metric_key={KEY}&end_step=1",
        "If either start step or end step are specified, both must be specified."),
    "start after end": Refusal(
        {"start_step": 3, "end_step": 1}, f"{_ids(1)}&metric_key={KEY}&start_step=3&end_step=1",
        "end_step must be greater than start_step. Found start_step=3 and end_step=1."),
    "start_step not a number": Refusal(
        {"start_step": "x", "end_step": 1},
        f"{_ids(1)}&metric_key={KEY}&start_step=x&end_step=1",
        "Invalid value \"x\" for parameter 'start_step' supplied:  Hint: Value was of type "
        "'str'." + HINT),
    "end_step a float": Refusal(
        {"start_step": 1, "end_step": 2.5}, None,
        "Invalid value 2.5 for parameter 'end_step' supplied:  Hint: Value was of type "
        "'float'." + HINT),
}

BULK_REFUSALS = {
    "no run ids": Refusal({"run_ids": []}, f"metric_key={KEY}",
                          "GetMetricHistoryBulk request must specify at least one run_id."),
    "101 run ids": Refusal(
        {"run_ids": [UNKNOWN] * 101}, f"{_ids(101, 'run_id')}&metric_key={KEY}",
        "GetMetricHistoryBulk request cannot specify more than 100 run_ids. Received 101 "
        "run_ids."),
    "no metric key": Refusal({"metric_key": None}, _ids(1, "run_id"),
                             "GetMetricHistoryBulk request must specify a metric_key."),
    # MLflow answers max_results 0 with nothing and -1 with a history short of its last point.
    **{f"max_results {n}": Refusal(
        {"max_results": n}, None,
        f"Invalid value {n} for parameter 'max_results' supplied. It must be a positive "
        "integer") for n in (0, -1)},
}


@pytest.fixture
def file_store(tmp_path: Path) -> Iterator[AbstractStore]:
    """Validation happens in the base class, before any backend is asked: one backend will do."""
    store = FileStore(str(tmp_path / "mlruns"))
    yield store
    store.close()


def refused(read: Any, refusal: Refusal, **defaults: Any) -> tuple[str, str]:
    with pytest.raises(TrackstoreError) as exc_info:
        read(**{**defaults, **refusal.kwargs})
    return error(exc_info)


@pytest.mark.parametrize("name", INTERVAL_REFUSALS)
def test_interval_refuses(file_store: AbstractStore, name: str) -> None:
    refusal = INTERVAL_REFUSALS[name]
    assert refused(file_store.get_metric_history_bulk_interval, refusal, run_ids=[UNKNOWN],
                   metric_key=KEY) == (INVALID_PARAMETER_VALUE, refusal.message)


@pytest.mark.parametrize("name", BULK_REFUSALS)
def test_bulk_refuses(file_store: AbstractStore, name: str) -> None:
    refusal = BULK_REFUSALS[name]
    assert refused(file_store.get_metric_history_bulk, refusal, run_ids=[UNKNOWN],
                   metric_key=KEY) == (INVALID_PARAMETER_VALUE, refusal.message)


def test_interval_limits_are_inclusive(file_store: AbstractStore) -> None:
    run_id = new_run(file_store, steps_of(range(3)))
    full = [(0, s, s, float(s)) for s in range(3)]
    assert seen(file_store.get_metric_history_bulk_interval([run_id] * 100, KEY, 2500),
                [run_id])[:3] == full
    assert seen(file_store.get_metric_history_bulk_interval([run_id], KEY, 1, 2, 2),
                [run_id]) == [(0, 2, 2, 2.0)]
    assert seen(file_store.get_metric_history_bulk([run_id] * 100, KEY, 1), [run_id]) == [
        (0, 0, 0, 0.0)]


# --- the oracle: MLflow 3.17 ----------------------------------------------------------------


@pytest.fixture(scope="module")
def mlflow_file_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """MLflow's FileStore: ``get_metric_history_bulk_interval`` is its AbstractStore's."""
    require_mlflow()
    from mlflow.store.tracking.file_store import FileStore as MlflowFileStore

    return MlflowFileStore(str(tmp_path_factory.mktemp("mlflow-file") / "mlruns"))


@pytest.fixture(scope="module")
def mlflow_sql_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """MLflow's SqlAlchemyStore on SQLite: its ``get_metric_history_bulk`` is the model."""
    require_mlflow()
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    root = tmp_path_factory.mktemp("mlflow-sql")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    store = SqlAlchemyStore(uri, str(root / "artifacts"))
    yield store
    # MLflow keeps one engine per URI for the process.
    with SqlAlchemyStore._engine_map_lock:
        SqlAlchemyStore._engine_map.pop(uri, None)
    store.engine.dispose()


@pytest.fixture(scope="module")
def mlflow_server(mlflow_file_store: Any) -> Iterator[Any]:
    """A test client of MLflow's tracking server (its Flask app) over *mlflow_file_store*."""
    from mlflow.server import app, handlers

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(handlers, "_tracking_store", mlflow_file_store)
        yield app.test_client()


def mlflow_run(mlflow_store: Any, points: Sequence[Point]) -> str:
    run_id: str = mlflow_store.create_run("0", "alice", T0, [], None).info.run_id
    mlflow_log(mlflow_store, run_id, points)
    return run_id


def mlflow_log(mlflow_store: Any, run_id: str, points: Sequence[Point]) -> None:
    from mlflow.entities import Metric as MlflowMetric

    metrics = [MlflowMetric(KEY, v, T0 + t, step) for step, t, v in points]
    for i in range(0, len(metrics), 1000):
        mlflow_store.log_batch(run_id, metrics[i:i + 1000], [], [])


def mlflow_interval(mlflow_store: Any, runs: Sequence[Sequence[Point]], run_order: list[int],
                    max_results: int, window: tuple[int, int] | None) -> list[Seen]:
    """MLflow's answer, each run's points logged in trackstore's order (see the docstring)."""
    run_ids = [mlflow_run(mlflow_store, sorted(points, key=order_key)) for points in runs]
    asked = [run_ids[i] for i in run_order]
    start, end = window or (None, None)
    answer = mlflow_store.get_metric_history_bulk_interval(asked, KEY, max_results, start, end)
    return seen(answer, run_ids)



@pytest.mark.mlflow
@pytest.mark.parametrize("name", SCENARIOS)
def test_interval_scenario_is_mlflows(mlflow_file_store: Any, name: str) -> None:
    scenario = SCENARIOS[name]
    assert mlflow_interval(mlflow_file_store, scenario.runs, scenario.run_order(),
                           scenario.max_results, scenario.window) == scenario.expected_seen()


VALUES = [-1.5, 0.0, 0.25, 1.0, 2.0, 1e300, NAN, INF, -INF]
points_strategy = st.lists(st.tuples(st.integers(-3, 60), st.integers(0, 4),
                                     st.sampled_from(VALUES)), max_size=40)
windows = st.one_of(st.none(), st.tuples(st.integers(-5, 70), st.integers(0, 70)).filter(
    lambda w: w[0] <= w[1]))


@pytest.mark.mlflow
@settings(deadline=None, max_examples=40,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(runs=st.lists(points_strategy, min_size=1, max_size=4), max_results=st.integers(1, 30),
       window=windows, data=st.data())
def test_interval_samples_as_mlflow(store: AbstractStore, mlflow_file_store: Any,
                                    runs: list[list[Point]], max_results: int,
                                    window: tuple[int, int] | None, data: st.DataObject) -> None:
    # Fresh runs each example: the store outlives the examples.
    run_order = data.draw(st.lists(st.integers(0, len(runs) - 1), min_size=1, max_size=5),
                          label="run_order")
    run_ids = [new_run(store, points) for points in runs]
    asked = [run_ids[i] for i in run_order]
    start, end = window or (None, None)
    found = seen(store.get_metric_history_bulk_interval(asked, KEY, max_results, start, end),
                 run_ids)
    expected = mlflow_interval(mlflow_file_store, [stored(store, p) for p in runs], run_order,
                               max_results, window)
    assert found == expected


def _bulk_points(points: list[Point]) -> list[Point]:
    """*points* as MLflow's SQL store can take them: each exact point once, and non-finite
    values only where no other point has the same (timestamp, step)."""
    points = without_duplicates(points)
    shared = {(s, t) for s, t, _ in points if sum((s2, t2) == (s, t) for s2, t2, _ in points) > 1}
    return without_duplicates(
        [(s, t, v if math.isfinite(v) or (s, t) not in shared else 7.0) for s, t, v in points])


@pytest.mark.mlflow
@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SADeprecationWarning")  # MLflow's
@settings(deadline=None, max_examples=40,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(runs=st.lists(points_strategy.map(_bulk_points), min_size=1, max_size=4),
       max_results=st.integers(1, 80))
def test_bulk_answers_as_mlflows_sql_store(store: AbstractStore, mlflow_sql_store: Any,
                                           runs: list[list[Point]], max_results: int) -> None:
    # Runs are answered by run id, and ids differ between the stores: the i-th smallest id of
    # each gets the i-th run's points.
    ours = sorted(new_run(store) for _ in runs)
    theirs = sorted(mlflow_run(mlflow_sql_store, []) for _ in runs)
    for points, our_id, their_id in zip(runs, ours, theirs, strict=True):
        log(store, our_id, points)
        mlflow_log(mlflow_sql_store, their_id, points)
    found = seen(store.get_metric_history_bulk(ours[::-1], KEY, max_results), ours)
    answer = mlflow_sql_store.get_metric_history_bulk(theirs, KEY, max_results)
    expected = [(i, s, t, INF if v == sys.float_info.max else -INF if v == -sys.float_info.max
                 else v) for i, s, t, v in seen(answer, theirs)]
    assert found == expected


def _mlflow_message(client: Any, path: str, query: str) -> tuple[int, str]:
    response = client.get(f"{path}?{query}")
    return response.status_code, response.get_json()["message"]


@pytest.mark.mlflow
@pytest.mark.parametrize("name", [n for n, r in INTERVAL_REFUSALS.items() if r.query])
def test_interval_messages_are_mlflows(mlflow_server: Any, name: str) -> None:
    refusal = INTERVAL_REFUSALS[name]
    assert refusal.query is not None
    assert _mlflow_message(mlflow_server, "/api/2.0/mlflow/metrics/get-history-bulk-interval",
                           refusal.query) == (400, refusal.message)


@pytest.mark.mlflow
@pytest.mark.parametrize("name", [n for n, r in BULK_REFUSALS.items() if r.query])
def test_bulk_messages_are_mlflows(mlflow_server: Any, name: str) -> None:
    refusal = BULK_REFUSALS[name]
    assert refusal.query is not None
    assert _mlflow_message(mlflow_server, "/ajax-api/2.0/mlflow/metrics/get-history-bulk",
                           refusal.query) == (400, refusal.message)

