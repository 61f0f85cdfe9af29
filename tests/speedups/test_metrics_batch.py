"""``format_batch``, ``format_rows`` and ``count_plain``: the batch paths of the metrics trio."""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trackstore.entities import Metric

T0 = 1_700_000_000_000
KNOWN = frozenset({"loss", "acc", "a/b"})


class Subclass(float):
    pass


def outcome(fn: Any) -> tuple[str, Any]:
    try:
        return ("ok", fn())
    except Exception as exc:
        return (type(exc).__name__, str(exc))


def test_format_batch_groups_by_key_in_order(metrics_impl: ModuleType) -> None:
    batch = [Metric("loss", 0.5, T0, 0), Metric("acc", 1.0, T0, 0),
             Metric("loss", float("nan"), T0 + 1, 1),
             Metric("acc", 2.0, T0 + 1, 1, dataset_name="ds", dataset_digest="d1")]
    assert metrics_impl.format_batch(batch) == {
        "loss": f"{T0} 0.5 0\n{T0 + 1} nan 1\n".encode(),
        "acc": f"{T0} 1.0 0\n{T0 + 1} 2.0 1 ds d1\n".encode(),
    }
    assert list(metrics_impl.format_batch(batch)) == ["loss", "acc"]
    assert metrics_impl.format_batch([]) == {}
    assert metrics_impl.format_batch(iter(batch[:1])) == {"loss": f"{T0} 0.5 0\n".encode()}


def test_format_batch_errors(metrics_impl: ModuleType) -> None:
    with pytest.raises(TypeError, match="metric key must be str, not int"):
        metrics_impl.format_batch([Metric(1, 0.5, T0, 0)])  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        metrics_impl.format_batch([Metric("k", 0.5, 2**63, 0)])
    with pytest.raises(ValueError, match="together"):
        metrics_impl.format_batch([Metric("k", 0.5, T0, 0, dataset_name="x")])


def test_count_plain(metrics_impl: ModuleType) -> None:
    good = Metric("loss", 0.5, T0, -3)
    assert metrics_impl.count_plain([], KNOWN) == 0
    assert metrics_impl.count_plain([good, good], KNOWN) == 2
    for bad in (Metric("new", 0.5, T0, 0), Metric("loss", 1, T0, 0),
                Metric("loss", True, T0, 0), Metric("loss", Subclass(1.0), T0, 0),
                Metric("loss", 0.5, -1, 0), Metric("loss", 0.5, 2**63, 0),
                Metric("loss", 0.5, T0, 2**63), Metric("loss", 0.5, T0, -(2**63) - 1),
                Metric("loss", 0.5, float(T0), 0), Metric("loss", 0.5, T0, 0, None, "d", "x")):
        assert metrics_impl.count_plain([good, bad, good], KNOWN) == 1, bad


metric_values = st.one_of(st.floats(), st.integers(-(2**70), 2**70), st.booleans(),
                          st.none(), st.just("1.5"))
ints = st.one_of(st.integers(-(2**64), 2**64), st.floats(allow_nan=False), st.booleans(),
                 st.none())
keys = st.one_of(st.sampled_from(["loss", "acc", "a/b", "other"]), st.integers(0, 3))
datasets = st.one_of(st.tuples(st.none(), st.none()),
                     st.tuples(st.sampled_from(["ds", "x y", ""]), st.sampled_from(["d", None])))


@st.composite
def batches(draw: Any) -> list[Metric]:
    out = []
    for _ in range(draw(st.integers(0, 12))):
        name, digest = draw(datasets)
        out.append(Metric(draw(keys), draw(metric_values), draw(ints), draw(ints), None, name,
                          digest))
    return out


@pytest.mark.c_ext
@settings(max_examples=500, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=batches())
def test_twins_agree_on_batches(metrics_twins: tuple[ModuleType, ModuleType],
                                batch: list[Metric]) -> None:
    py, c = metrics_twins
    assert outcome(lambda: py.count_plain(batch, KNOWN)) == outcome(
        lambda: c.count_plain(batch, KNOWN))
    assert outcome(lambda: py.format_batch(batch)) == outcome(lambda: c.format_batch(batch))


@pytest.mark.c_ext
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.floats(), min_size=1, max_size=50))
def test_format_batch_round_trips_through_parse(metrics_twins: tuple[ModuleType, ModuleType],
                                                values: list[float]) -> None:
    py, c = metrics_twins
    batch = [Metric("k", v, T0 + i, i) for i, v in enumerate(values)]
    for writer, reader in ((c, py), (py, c)):
        parsed = reader.parse(writer.format_batch(batch)["k"])
        back = list(parsed.values)
        assert all(a == b or (math.isnan(a) and math.isnan(b))
                   for a, b in zip(back, values, strict=True))
        assert list(parsed.steps) == list(range(len(values)))


# -- format_rows: the points queued by asynchronous logging ------------------------------------


def test_format_rows_groups_by_key_in_order(metrics_impl: ModuleType) -> None:
    rows = [("loss", 0.5, T0, 0), ("acc", 1.0, T0, -2), ("loss", float("-inf"), T0 + 1, 1)]
    assert metrics_impl.format_rows(rows) == {
        "loss": f"{T0} 0.5 0\n{T0 + 1} -inf 1\n".encode(),
        "acc": f"{T0} 1.0 -2\n".encode(),
    }
    assert list(metrics_impl.format_rows(rows)) == ["loss", "acc"]
    assert metrics_impl.format_rows([]) == {}
    assert metrics_impl.format_rows(iter(rows[1:2])) == {"acc": f"{T0} 1.0 -2\n".encode()}
    # The lines are those of format_batch for the same points.
    assert metrics_impl.format_rows(rows) == metrics_impl.format_batch(
        [Metric(k, v, t, s) for k, v, t, s in rows])


def test_format_rows_errors(metrics_impl: ModuleType) -> None:
    with pytest.raises(TypeError, match="a row must be a tuple"):
        metrics_impl.format_rows([["k", 0.5, T0, 0]])
    with pytest.raises(TypeError, match="a row must be a tuple"):
        metrics_impl.format_rows([("r", "k", 0.5, T0, 0)])
    with pytest.raises(TypeError, match="metric key must be str, not int"):
        metrics_impl.format_rows([(1, 0.5, T0, 0)])
    with pytest.raises(OverflowError):
        metrics_impl.format_rows([("k", 0.5, 2**63, 0)])


rows_strategy = st.lists(st.one_of(
    st.tuples(keys, metric_values, ints, ints),
    st.tuples(keys, metric_values, ints),
    st.lists(st.integers(), max_size=5)), max_size=12)


@pytest.mark.c_ext
@settings(max_examples=500, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows_strategy)
def test_twins_agree_on_rows(metrics_twins: tuple[ModuleType, ModuleType],
                             rows: list[Any]) -> None:
    py, c = metrics_twins
    assert outcome(lambda: py.format_rows(rows)) == outcome(lambda: c.format_rows(rows))


# -- from_json_plain: decoded log-batch entries ------------------------------------------------


def _fields(metrics: list[Metric]) -> list[tuple[Any, ...]]:
    return [(m.key, m.value, type(m.value), m.timestamp, m.step, m.model_id, m.dataset_name,
             m.dataset_digest, m.run_id) for m in metrics]


def test_from_json_plain_converts_plain_entries(metrics_impl: ModuleType) -> None:
    items = [{"key": "loss", "value": 0.5, "timestamp": T0, "step": 3},
             {"key": "acc", "value": 2, "timestamp": T0},  # int value, step omitted
             {"step": -(2**63), "timestamp": 2**63 - 1, "value": -1.5, "key": "x"}]
    out: list[Metric] = []
    assert metrics_impl.from_json_plain(items, 0, out) == 3
    assert _fields(out) == [("loss", 0.5, float, T0, 3, None, None, None, None),
                            ("acc", 2.0, float, T0, 0, None, None, None, None),
                            ("x", -1.5, float, 2**63 - 1, -(2**63), None, None, None, None)]
    assert out[0] == Metric("loss", 0.5, T0, 3)
    more: list[Metric] = []
    assert metrics_impl.from_json_plain(items, 2, more) == 3
    assert _fields(more) == _fields(out[2:])
    assert metrics_impl.from_json_plain(items, 3, more) == 3
    assert metrics_impl.from_json_plain([], 0, more) == 0
    assert len(more) == 1


@pytest.mark.parametrize("entry", [
    {"key": "k", "value": True, "timestamp": T0},
    {"key": "k", "value": 0.5, "timestamp": True},
    {"key": "k", "value": 0.5, "timestamp": T0, "step": False},
    {"key": "k", "value": 0.5, "timestamp": float(T0)},
    {"key": "k", "value": "0.5", "timestamp": T0},
    {"key": "k", "value": None, "timestamp": T0},
    {"key": "k", "value": 10**400, "timestamp": T0},
    {"key": "k", "value": 0.5, "timestamp": 2**63},
    {"key": "k", "value": 0.5, "timestamp": T0, "step": -(2**63) - 1},
    {"key": "", "value": 0.5, "timestamp": T0},
    {"key": 7, "value": 0.5, "timestamp": T0},
    {"key": "k", "value": 0.5},
    {"key": "k", "value": 0.5, "timestamp": T0, "step": None},
    {"key": "k", "value": 0.5, "timestamp": T0, "model_id": "m"},
    {"key": "k", "value": 0.5, "timestamp": T0, "step": 1, "dataset_name": "d"},
    ["k", 0.5, T0, 0],
    None,
])
def test_from_json_plain_stops_at_the_first_other_entry(metrics_impl: ModuleType,
                                                        entry: Any) -> None:
    good = {"key": "k", "value": 0.5, "timestamp": T0, "step": 1}
    out: list[Metric] = []
    assert metrics_impl.from_json_plain([good, entry, good], 0, out) == 1
    assert len(out) == 1
    assert metrics_impl.from_json_plain([good, entry, good], 1, out) == 1
    assert len(out) == 1


json_values = st.one_of(st.floats(), st.integers(-(2**70), 2**70), st.booleans(), st.none(),
                        st.just("1"), st.integers(10**308, 10**310))
json_entries = st.one_of(
    st.dictionaries(st.sampled_from(["key", "value", "timestamp", "step", "model_id"]),
                    st.one_of(json_values, st.sampled_from(["loss", ""])), max_size=5),
    st.fixed_dictionaries({"key": st.sampled_from(["loss", "a/b", ""]), "value": json_values,
                           "timestamp": json_values},
                          optional={"step": json_values}),
    st.lists(st.integers(), max_size=2))


@pytest.mark.c_ext
@settings(max_examples=500, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(json_entries, max_size=12), start=st.integers(-2, 14))
def test_twins_agree_on_json_entries(metrics_twins: tuple[ModuleType, ModuleType],
                                     items: list[Any], start: int) -> None:
    py, c = metrics_twins
    out_py: list[Metric] = []
    out_c: list[Metric] = []
    assert outcome(lambda: py.from_json_plain(items, start, out_py)) == outcome(
        lambda: c.from_json_plain(items, start, out_c))
    assert _fields(out_py) == _fields(out_c)
