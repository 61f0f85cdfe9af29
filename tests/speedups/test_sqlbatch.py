"""The ``sqlbatch`` trio: the row format of ``_sqlbatch_py`` on both twins, and py == c.

Unit tests run on each twin through ``sqlbatch_impl``; the hypothesis tests at the end feed the
same input to both twins (``sqlbatch_twins``) and compare everything, float bits, types and
error messages included.
"""

from __future__ import annotations

import array
import math
import re
import struct
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trackstore import _sqlbatch, _sqlbatch_py
from trackstore.entities import Metric
from trackstore.store.sql import schema

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
NAN, INF = math.nan, math.inf
T0 = 1_700_000_000_000
KEY_IDS = {"loss": 1, "acc": 2, "a/b": 3}
DATASET_IDS = {("train", "d1"): 7, ("eval", "d2"): 8}
MYSQL_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?(e[+-]?[0-9]+)?")


class Index:
    """An integer that is not an ``int``: accepted through ``__index__``."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __index__(self) -> int:
        return self.n


class Subfloat(float):
    pass


class SubMetric(Metric):
    __slots__ = ()


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def canon(obj: Any) -> Any:
    """*obj* with floats as their bits and arrays, Metrics and containers spelled out, so
    ``==`` tells NaN from NaN, -0.0 from 0.0 and 1 from 1.0."""
    if type(obj) is float:
        return ("float", bits(obj))
    if isinstance(obj, array.array):
        return ("array", obj.typecode, obj.tobytes())
    if isinstance(obj, Metric):
        return ("Metric", *(canon(getattr(obj, a)) for a in Metric.__slots__))
    if isinstance(obj, (tuple, list)):
        return (type(obj).__name__, *(canon(x) for x in obj))
    if isinstance(obj, bytes):
        return obj
    return (type(obj).__name__, obj)


def outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return ("ok", canon(fn()))
    except Exception as exc:
        return (type(exc).__name__, str(exc))


def rows_of(impl: ModuleType, *metrics: Metric) -> list[tuple[Any, ...]]:
    return list(impl.metric_rows(9, list(metrics), KEY_IDS, DATASET_IDS))


# --- the contract with the schema and the selector -----------------------------------------


def test_kinds_are_the_schemas() -> None:
    assert (_sqlbatch_py.KIND_NAN, _sqlbatch_py.KIND_NEG_INF, _sqlbatch_py.KIND_FINITE,
            _sqlbatch_py.KIND_POS_INF) == (schema.KIND_NAN, schema.KIND_NEG_INF,
                                           schema.KIND_FINITE, schema.KIND_POS_INF)


def test_selector_exports_one_twin() -> None:
    assert _sqlbatch.IMPL in ("trackstore._sqlbatch_c", "trackstore._sqlbatch_py")
    for name in _sqlbatch.__all__:
        assert hasattr(_sqlbatch, name), name


def test_compiled_twin_exports_what_the_pure_twin_does(
        sqlbatch_twins: tuple[ModuleType, ModuleType]) -> None:
    py, c = sqlbatch_twins
    assert c.__all__ == py.__all__
    assert c.HistoryColumns is py.HistoryColumns


# --- single values -------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "stored"), [
    (0.5, (0.5, schema.KIND_FINITE)),
    (-0.0, (-0.0, schema.KIND_FINITE)),
    (3, (3.0, schema.KIND_FINITE)),
    (Subfloat(2.5), (2.5, schema.KIND_FINITE)),
    (5e-324, (5e-324, schema.KIND_FINITE)),
    (NAN, (0.0, schema.KIND_NAN)),
    (-INF, (0.0, schema.KIND_NEG_INF)),
    (INF, (0.0, schema.KIND_POS_INF)),
])
def test_encode_and_decode_value(sqlbatch_impl: ModuleType, value: float,
                                 stored: tuple[float, int]) -> None:
    encoded = sqlbatch_impl.encode_value(value)
    assert canon(encoded) == canon(stored)
    assert bits(sqlbatch_impl.decode_value(*encoded)) == bits(float(value))


def test_decode_ignores_the_stored_value_of_non_finite_kinds(sqlbatch_impl: ModuleType) -> None:
    assert math.isnan(sqlbatch_impl.decode_value(1.5, 0))
    assert sqlbatch_impl.decode_value(0, 1) == -INF
    assert sqlbatch_impl.decode_value(7, 2) == 7.0
    assert type(sqlbatch_impl.decode_value(7, 2)) is float


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda m: m.encode_value(True), TypeError, "value must be a float or an int, not bool"),
    (lambda m: m.encode_value("1"), TypeError, "value must be a float or an int, not str"),
    (lambda m: m.encode_value(10**400), OverflowError, "int too large to convert to float"),
    (lambda m: m.decode_value(None, 2), TypeError, "value must be a float or an int, not None"),
    (lambda m: m.decode_value(0.0, 4), ValueError, "kind must be 0, 1, 2 or 3, got 4"),
    (lambda m: m.decode_value(0.0, -1), ValueError, "kind must be 0, 1, 2 or 3, got -1"),
    (lambda m: m.decode_value(0.0, True), TypeError, "kind must be an int, not bool"),
    (lambda m: m.decode_value(0.0, 2.0), TypeError, "kind must be an int, not float"),
    (lambda m: m.decode_value(0.0, 2**64), OverflowError, "kind out of int64 range"),
])
def test_single_value_errors(sqlbatch_impl: ModuleType, call: Callable[[ModuleType], Any],
                             error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        call(sqlbatch_impl)


# --- metric_rows ---------------------------------------------------------------------------


def test_metric_rows_in_input_order(sqlbatch_impl: ModuleType) -> None:
    rows = rows_of(sqlbatch_impl,
                   Metric("loss", 0.5, T0, 0), Metric("acc", 1, T0, 0),
                   Metric("loss", 0.25, T0 + 1, 1, None, "train", "d1"))
    assert canon(rows) == canon([(9, 1, 0, T0, 0.5, 2, None), (9, 2, 0, T0, 1.0, 2, None),
                                 (9, 1, 1, T0 + 1, 0.25, 2, 7)])
    assert rows_of(sqlbatch_impl) == []


def test_metric_rows_encode_non_finite_values(sqlbatch_impl: ModuleType) -> None:
    rows = rows_of(sqlbatch_impl, Metric("loss", NAN, T0, 0), Metric("loss", -INF, T0, 0),
                   Metric("loss", INF, T0, 0), Metric("loss", -0.0, T0, 0))
    assert canon(rows) == canon([(9, 1, 0, T0, 0.0, 0, None), (9, 1, 0, T0, 0.0, 1, None),
                                 (9, 1, 0, T0, 0.0, 3, None), (9, 1, 0, T0, -0.0, 2, None)])


def test_metric_rows_drop_exact_duplicates_keeping_the_first(sqlbatch_impl: ModuleType) -> None:
    rows = rows_of(
        sqlbatch_impl,
        Metric("loss", -0.0, T0, 0),
        Metric("loss", 0.0, T0, 0),  # equal to -0.0 as a stored float
        Metric("loss", 1.0, T0, 0),
        Metric("loss", 1, T0, 0),  # the same float
        Metric("loss", 1.0, T0, 0, None, "train", "d1"),  # the dataset is not part of the point
        Metric("loss", NAN, T0, 0),
        Metric("loss", float("-nan"), T0, 0),
        Metric("acc", 1.0, T0, 0),  # another key
        Metric("loss", 1.0, T0 + 1, 0),  # another timestamp
        Metric("loss", 1.0, T0, 1),  # another step
    )
    assert canon(rows) == canon([
        (9, 1, 0, T0, -0.0, 2, None), (9, 1, 0, T0, 1.0, 2, None), (9, 1, 0, T0, 0.0, 0, None),
        (9, 2, 0, T0, 1.0, 2, None), (9, 1, 0, T0 + 1, 1.0, 2, None),
        (9, 1, 1, T0, 1.0, 2, None),
    ])


def test_metric_rows_normalise_integers(sqlbatch_impl: ModuleType) -> None:
    metric = Metric("loss", Subfloat(0.5), Index(T0), Index(-3))  # type: ignore[arg-type]
    rows = list(sqlbatch_impl.metric_rows(Index(9), iter([metric]), {"loss": Index(4)},
                                          DATASET_IDS))
    assert canon(rows) == canon([(9, 4, -3, T0, 0.5, 2, None)])
    extremes = Metric("loss", 0.5, INT64_MAX, INT64_MIN)
    assert rows_of(sqlbatch_impl, extremes) == [(9, 1, INT64_MIN, INT64_MAX, 0.5, 2, None)]


class CountingMapping(Mapping[Any, int]):
    def __init__(self, data: dict[Any, int]) -> None:
        self.data = data
        self.lookups: list[Any] = []

    def __getitem__(self, key: Any) -> int:
        self.lookups.append(key)
        return self.data[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def test_metric_rows_look_each_key_and_dataset_up_once(sqlbatch_impl: ModuleType) -> None:
    keys, datasets = CountingMapping(KEY_IDS), CountingMapping(DATASET_IDS)
    batch = [Metric(k, float(i), T0, i, None, *d)
             for i, (k, d) in enumerate([("loss", ("train", "d1")), ("acc", ("eval", "d2")),
                                         ("loss", ("eval", "d2")), ("acc", ("train", "d1"))])]
    assert len(sqlbatch_impl.metric_rows(1, batch, keys, datasets)) == 4
    assert keys.lookups == ["loss", "acc"]
    assert datasets.lookups == [("train", "d1"), ("eval", "d2")]


@pytest.mark.parametrize(("metric", "error", "message"), [
    (Metric("nope", 0.5, T0, 0), KeyError, "'nope'"),
    (Metric(3, 0.5, T0, 0), TypeError, "metrics[1].key must be a str, not int"),  # type: ignore[arg-type]
    (Metric("loss", True, T0, 0), TypeError,
     "metrics[1].value must be a float or an int, not bool"),
    (Metric("loss", None, T0, 0), TypeError,  # type: ignore[arg-type]
     "metrics[1].value must be a float or an int, not NoneType"),
    (Metric("loss", 10**400, T0, 0), OverflowError, "int too large to convert to float"),
    (Metric("loss", 0.5, 2**63, 0), OverflowError,
     "metrics[1].timestamp out of int64 range: 9223372036854775808"),
    (Metric("loss", 0.5, float(T0), 0), TypeError,  # type: ignore[arg-type]
     "metrics[1].timestamp must be an int, not float"),
    (Metric("loss", 0.5, T0, False), TypeError, "metrics[1].step must be an int, not bool"),
    (Metric("loss", 0.5, T0, -(2**63) - 1), OverflowError, "metrics[1].step out of int64 range"),
    (Metric("loss", 0.5, T0, 0, None, "train", None), ValueError,
     "metrics[1]: dataset_name and dataset_digest must be given together"),
    (Metric("loss", 0.5, T0, 0, None, None, "d1"), ValueError,
     "metrics[1]: dataset_name and dataset_digest must be given together"),
    (Metric("loss", 0.5, T0, 0, None, "train", "d2"), KeyError, "('train', 'd2')"),
    (Metric("bad", 0.5, T0, 0), TypeError, "key_ids['bad'] must be an int, not str"),
    (Metric("loss", 0.5, T0, 0, None, "bad", "id"), OverflowError,
     "dataset_ids[('bad', 'id')] out of int64 range: 18446744073709551616"),
])
def test_metric_rows_errors_name_the_item(sqlbatch_impl: ModuleType, metric: Metric,
                                          error: type[Exception], message: str) -> None:
    keys = {**KEY_IDS, "bad": "1"}
    datasets = {**DATASET_IDS, ("bad", "id"): 2**64}
    with pytest.raises(error) as info:
        sqlbatch_impl.metric_rows(1, [Metric("loss", 0.5, T0, 0), metric], keys, datasets)
    assert str(info.value).startswith(message)


def test_metric_rows_take_any_object_with_the_attributes(sqlbatch_impl: ModuleType) -> None:
    fields: dict[str, Any] = {"key": "loss", "value": 0.5, "timestamp": T0, "step": 1,
                              "dataset_name": "train", "dataset_digest": "d1"}
    expected = rows_of(sqlbatch_impl, Metric(**fields))
    assert expected == [(9, 1, 1, T0, 0.5, 2, 7)]
    for obj in (SubMetric(**fields), SimpleNamespace(**fields)):
        assert sqlbatch_impl.metric_rows(9, [obj], KEY_IDS, DATASET_IDS) == expected


@pytest.mark.parametrize("attribute", ["key", "value", "timestamp", "step", "dataset_name",
                                       "dataset_digest"])
def test_metric_rows_without_an_attribute(sqlbatch_impl: ModuleType, attribute: str) -> None:
    metric = Metric("loss", 0.5, T0, 1)
    delattr(metric, attribute)
    with pytest.raises(AttributeError, match=attribute):
        sqlbatch_impl.metric_rows(9, [metric], KEY_IDS, DATASET_IDS)


def test_metric_rows_checks_fields_in_order(sqlbatch_impl: ModuleType) -> None:
    everything_wrong = Metric("nope", True, 2**63, None, None, "x", None)  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        sqlbatch_impl.metric_rows(1, [everything_wrong], KEY_IDS, DATASET_IDS)
    everything_wrong.key = "loss"
    with pytest.raises(TypeError, match="value"):
        sqlbatch_impl.metric_rows(1, [everything_wrong], KEY_IDS, DATASET_IDS)
    everything_wrong.value = 1.0
    with pytest.raises(OverflowError, match="timestamp"):
        sqlbatch_impl.metric_rows(1, [everything_wrong], KEY_IDS, DATASET_IDS)
    everything_wrong.timestamp = 0
    with pytest.raises(TypeError, match="step"):
        sqlbatch_impl.metric_rows(1, [everything_wrong], KEY_IDS, DATASET_IDS)
    with pytest.raises(TypeError, match="run_key must be an int, not str"):
        sqlbatch_impl.metric_rows("1", [], KEY_IDS, DATASET_IDS)


# --- latest_rows ---------------------------------------------------------------------------


def row(key_id: int, step: int, ts: int, value: float = 0.0, kind: int = 2,
        dataset_id: int | None = None, run_key: int = 9) -> tuple[Any, ...]:
    return (run_key, key_id, step, ts, value, kind, dataset_id)


def test_latest_rows_orders_by_step_timestamp_kind_value(sqlbatch_impl: ModuleType) -> None:
    rows = [row(1, 5, 10, 1.0), row(1, 4, 99, 9.0), row(1, 5, 9, 9.0), row(1, 5, 10, 0.5),
            row(2, 0, 0, 0.0, 3), row(2, 0, 0, 1e300), row(2, 0, 0, 0.0, 1), row(2, 0, 0, 0.0, 0)]
    latest = sqlbatch_impl.latest_rows(rows)
    assert latest == [row(1, 5, 10, 1.0), row(2, 0, 0, 0.0, 3)]
    assert latest[0] is rows[0]


@pytest.mark.parametrize("kinds", [(0, 1), (1, 2), (0, 2), (2, 3), (1, 3)])
def test_latest_rows_kind_order_is_nan_neg_inf_finite_pos_inf(
        sqlbatch_impl: ModuleType, kinds: tuple[int, int]) -> None:
    low, high = (row(1, 0, 0, -1e300 if k == 2 else 0.0, k) for k in kinds)
    assert sqlbatch_impl.latest_rows([high, low]) == [high]
    assert sqlbatch_impl.latest_rows([low, high]) == [high]


def test_latest_rows_first_of_equals_wins(sqlbatch_impl: ModuleType) -> None:
    first, second = row(1, 0, 0, 0.0, 2, 7), row(1, 0, 0, 0.0, 2, 8)
    negative_zero = row(1, 0, 0, -0.0, 2)
    assert sqlbatch_impl.latest_rows([first, second])[0] is first
    assert sqlbatch_impl.latest_rows([negative_zero, first])[0] is negative_zero
    assert sqlbatch_impl.latest_rows([first, negative_zero])[0] is first


def test_latest_rows_sorted_by_key_id(sqlbatch_impl: ModuleType) -> None:
    rows = [row(k, 0, 0) for k in (5, -3, 2**40, 0, 5, 17, -3)]
    assert [r[1] for r in sqlbatch_impl.latest_rows(rows)] == [-3, 0, 5, 17, 2**40]
    assert [r[1] for r in sqlbatch_impl.latest_rows(iter(rows[::-1]))] == [-3, 0, 5, 17, 2**40]
    assert sqlbatch_impl.latest_rows([]) == []


def test_latest_rows_of_metric_rows(sqlbatch_impl: ModuleType) -> None:
    rows = rows_of(sqlbatch_impl, Metric("loss", 0.5, T0, 3), Metric("acc", INF, T0, 1),
                   Metric("loss", NAN, T0 + 5, 3), Metric("acc", 2.0, T0, 1))
    assert canon(sqlbatch_impl.latest_rows(rows)) == canon(
        [(9, 1, 3, T0 + 5, 0.0, 0, None), (9, 2, 1, T0, 0.0, 3, None)])


def test_latest_rows_take_one_run(sqlbatch_impl: ModuleType) -> None:
    with pytest.raises(ValueError, match=re.escape(
            "rows[2].run_key is 8, rows[0].run_key is 9: latest_rows takes the rows of one run")):
        sqlbatch_impl.latest_rows([row(1, 0, 0), row(2, 0, 0), row(1, 0, 0, run_key=8)])


# --- the stored-row checks (latest_rows, copy_text, values_sql, bind_params) ---------------


@pytest.mark.parametrize(("bad", "error", "message"), [
    (5, TypeError, "rows[1] must be a sequence of 7 items, not int"),
    (None, TypeError, "rows[1] must be a sequence of 7 items, not NoneType"),
    ((9, 1, 0, 0, 0.5, 2), ValueError, "rows[1] must have 7 items, got 6"),
    ((9, 1, 0, 0, 0.5, 2, None, 1), ValueError, "rows[1] must have 7 items, got 8"),
    ((9.0, 1, 0, 0, 0.5, 2, None), TypeError, "rows[1].run_key must be an int, not float"),
    ((9, True, 0, 0, 0.5, 2, None), TypeError, "rows[1].key_id must be an int, not bool"),
    ((9, 1, 2**63, 0, 0.5, 2, None), OverflowError, "rows[1].step out of int64 range"),
    ((9, 1, 0, "0", 0.5, 2, None), TypeError, "rows[1].timestamp must be an int, not str"),
    ((9, 1, 0, 0, None, 2, None), TypeError,
     "rows[1].value must be a float or an int, not NoneType"),
    ((9, 1, 0, 0, 0.5, 4, None), ValueError, "rows[1].kind must be 0, 1, 2 or 3, got 4"),
    ((9, 1, 0, 0, 0.5, 2.0, None), TypeError, "rows[1].kind must be an int, not float"),
    ((9, 1, 0, 0, NAN, 2, None), ValueError,
     "rows[1].value must be finite (NaN and infinities are stored by kind), got nan"),
    ((9, 1, 0, 0, -INF, 1, None), ValueError,
     "rows[1].value must be finite (NaN and infinities are stored by kind), got -inf"),
    ((9, 1, 0, 0, 0.5, 0, None), ValueError, "rows[1].value must be 0.0 for kind 0, got 0.5"),
    ((9, 1, 0, 0, 0.5, 2, "7"), TypeError, "rows[1].dataset_id must be an int, not str"),
    ((9, 1, 0, 0, 0.5, 2, 2**63), OverflowError, "rows[1].dataset_id out of int64 range"),
])
@pytest.mark.parametrize("function", ["latest_rows", "copy_text", "copy_binary", "values_sql",
                                      "bind_params"])
def test_stored_rows_are_checked(sqlbatch_impl: ModuleType, function: str, bad: Any,
                                 error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        getattr(sqlbatch_impl, function)([row(1, 0, 0), bad])


@pytest.mark.parametrize("function", ["latest_rows", "copy_text", "copy_binary", "values_sql",
                                      "bind_params"])
def test_stored_rows_may_be_any_sequence_of_numbers(sqlbatch_impl: ModuleType,
                                                    function: str) -> None:
    plain = [row(1, 0, 0, 3.0, 2, 4)]
    odd = [[Index(9), Index(1), Index(0), Index(0), 3, Index(2), Index(4)]]
    assert getattr(sqlbatch_impl, function)(odd) == (
        odd if function == "latest_rows" else getattr(sqlbatch_impl, function)(plain))
    if function == "bind_params":  # what a driver binds: exact numbers only
        params, _ = sqlbatch_impl.bind_params(odd)
        assert [type(p) for p in params] == [int, int, int, int, float, int, int]


# --- copy_text, values_sql and bind_params -------------------------------------------------


def test_copy_text(sqlbatch_impl: ModuleType) -> None:
    rows = [row(1, 0, T0, 0.5, 2, 7), row(2, -1, T0, 0.0, 0), row(3, INT64_MAX, INT64_MIN, -0.0),
            row(4, 1, 1, 1e300), row(5, 1, 1, 5e-324, run_key=2**40), row(6, 1, 1, 3)]
    assert sqlbatch_impl.copy_text(rows) == (
        f"9\t1\t0\t{T0}\t0.5\t2\t7\n"
        f"9\t2\t-1\t{T0}\t0.0\t0\t\\N\n"
        f"9\t3\t{INT64_MAX}\t{INT64_MIN}\t-0.0\t2\t\\N\n"
        "9\t4\t1\t1\t1e+300\t2\t\\N\n"
        f"{2**40}\t5\t1\t1\t5e-324\t2\t\\N\n"
        "9\t6\t1\t1\t3.0\t2\t\\N\n"
    ).encode()
    assert sqlbatch_impl.copy_text([]) == b""
    assert sqlbatch_impl.copy_text(iter(rows[:1])) == f"9\t1\t0\t{T0}\t0.5\t2\t7\n".encode()


def test_values_sql(sqlbatch_impl: ModuleType) -> None:
    rows = [row(1, 0, T0, 0.5, 2, 7), row(2, -1, T0, 0.0, 3), row(3, 1, 1, 1.5e-07)]
    assert sqlbatch_impl.values_sql(rows) == (
        f"(9,1,0,{T0},0.5,2,7),(9,2,-1,{T0},0.0,3,NULL),(9,3,1,1,1.5e-07,2,NULL)")
    assert sqlbatch_impl.values_sql([]) == ""
    assert type(sqlbatch_impl.values_sql(rows)) is str


def test_copy_binary(sqlbatch_impl: ModuleType) -> None:
    data = sqlbatch_impl.copy_binary([row(1, -1, T0, 0.5, 2, 7), row(2, 3, 4, 0.0, 0)])
    # A row: the field count (2 bytes), then each field's length (4) and bytes: 72 bytes with a
    # dataset id, 68 with a NULL one.
    header, first, second, trailer = data[:19], data[19:91], data[91:159], data[159:]
    assert header == b"PGCOPY\n\xff\r\n\x00" + bytes(8)
    assert first == struct.pack("!hiqiiiqiqidihii", 7, 8, 9, 4, 1, 8, -1, 8, T0, 8, 0.5, 2, 2,
                                4, 7)
    assert second == struct.pack("!hiqiiiqiqidihi", 7, 8, 9, 4, 2, 8, 3, 8, 4, 8, 0.0, 2, 0,
                                 -1)  # a NULL dataset id: length -1, no bytes
    assert trailer == b"\xff\xff"
    assert sqlbatch_impl.copy_binary([]) == header + trailer
    # A double's own bits, -0.0 and subnormals included.
    for value in (-0.0, 5e-324, 1.7976931348623157e308, 1 / 3):
        field = sqlbatch_impl.copy_binary([row(1, 0, 0, value)])[19 + 50:19 + 58]
        assert field == struct.pack("!d", value)


@pytest.mark.parametrize(("bad", "message"), [
    (row(2**31, 0, 0), "rows[1].key_id out of int32 range"),
    (row(-(2**31) - 1, 0, 0), "rows[1].key_id out of int32 range"),
    (row(1, 0, 0, 0.5, 2, 2**31), "rows[1].dataset_id out of int32 range"),
])
def test_copy_binary_ids_fit_the_integer_columns(sqlbatch_impl: ModuleType, bad: Any,
                                                 message: str) -> None:
    with pytest.raises(OverflowError, match=re.escape(message)):
        sqlbatch_impl.copy_binary([row(2**31 - 1, 0, 0, 0.5, 2, -(2**31)), bad])


def test_bind_params_binds_the_run_key_once(sqlbatch_impl: ModuleType) -> None:
    rows = [row(1, 0, T0, 0.5), row(2, -1, T0, 0.0, 3), row(1, 1, 1, -0.0)]
    params, with_dataset = sqlbatch_impl.bind_params(rows)
    assert with_dataset is False
    assert canon(params) == canon([9, 1, 0, T0, 0.5, 2, 2, -1, T0, 0.0, 3, 1, 1, 1, -0.0, 2])
    assert sqlbatch_impl.bind_params(iter(rows[:1])) == ([9, 1, 0, T0, 0.5, 2], False)
    assert sqlbatch_impl.bind_params([]) == ([], False)


def test_bind_params_carries_every_dataset_id_when_one_row_has_one(
        sqlbatch_impl: ModuleType) -> None:
    rows = [row(1, 0, 0, 0.5), row(1, 1, 1, 0.5, 2, 7), row(2, 0, 0, 0.0, 0)]
    assert sqlbatch_impl.bind_params(rows) == (
        [9, 1, 0, 0, 0.5, 2, None, 1, 1, 1, 0.5, 2, 7, 2, 0, 0, 0.0, 0, None], True)


def test_bind_params_takes_the_rows_of_one_run(sqlbatch_impl: ModuleType) -> None:
    with pytest.raises(ValueError, match=re.escape(
            "rows[1].run_key is 8, rows[0].run_key is 9: bind_params takes the rows of one run")):
        sqlbatch_impl.bind_params([row(1, 0, 0), row(2, 0, 0, run_key=8)])


VALUES = [0.1, 1 / 3, -2.5, 1e300, -1e-300, 5e-324, 2.2250738585072014e-308,
          1.7976931348623157e308, 1e16, 1e15 + 0.5, 123456789012345.6, 0.0001, 0.00012345,
          9.999999999999999e-05, 12345678.0, 2.0**60, -0.0, 0.30000000000000004]


@pytest.mark.parametrize("value", VALUES)
def test_text_values_read_back_exactly(sqlbatch_impl: ModuleType, value: float) -> None:
    copy_fields = sqlbatch_impl.copy_text([row(1, 0, 0, value)]).decode().split("\t")
    sql = sqlbatch_impl.values_sql([row(1, 0, 0, value)])
    sql_fields = sql[1:-1].split(",")
    assert copy_fields[4] == sql_fields[4] == repr(value)
    assert bits(float(copy_fields[4])) == bits(value)
    # Every repr of a finite double is a MySQL numeric literal (exact-value, or approximate-value
    # with a signed exponent): what MySQL's lexer reads as one number.
    assert all(MYSQL_NUMBER.fullmatch(f) for f in sql_fields[:6]), sql


# --- history_columns and history_metrics ---------------------------------------------------


def test_history_columns(sqlbatch_impl: ModuleType) -> None:
    rows = [(0, T0, 0.5, 2), (1, T0 + 1, 0.0, 0), (2, T0 + 2, 0.0, 1), (INT64_MAX, INT64_MIN,
                                                                          0.0, 3)]
    columns = sqlbatch_impl.history_columns(rows)
    assert type(columns) is _sqlbatch_py.HistoryColumns
    steps, timestamps, values = columns
    assert (steps.typecode, timestamps.typecode, values.typecode) == ("q", "q", "d")
    assert list(steps) == [0, 1, 2, INT64_MAX]
    assert list(timestamps) == [T0, T0 + 1, T0 + 2, INT64_MIN]
    assert [bits(v) for v in values] == [bits(v) for v in (0.5, NAN, -INF, INF)]


def test_history_columns_accept_what_drivers_return(sqlbatch_impl: ModuleType) -> None:
    rows: list[Any] = [[0, T0, 1, 2], (1, T0, 0.25, 2), (Index(2), T0, Subfloat(1.5), 2)]
    columns = _sqlbatch_py.HistoryColumns
    assert canon(sqlbatch_impl.history_columns(iter(rows))) == canon(columns(
        array.array("q", [0, 1, 2]), array.array("q", [T0] * 3),
        array.array("d", [1.0, 0.25, 1.5])))
    assert canon(sqlbatch_impl.history_columns([])) == canon(columns(
        array.array("q"), array.array("q"), array.array("d")))


@pytest.mark.parametrize(("bad", "error", "message"), [
    ((0, 0, 0.5), ValueError, "rows[1] must have 4 items, got 3"),
    (0.5, TypeError, "rows[1] must be a sequence of 4 items, not float"),
    ((0.0, 0, 0.5, 2), TypeError, "rows[1].step must be an int, not float"),
    ((0, 2**63, 0.5, 2), OverflowError, "rows[1].timestamp out of int64 range"),
    ((0, 0, None, 0), TypeError, "rows[1].value must be a float or an int, not NoneType"),
    ((0, 0, 0.5, 5), ValueError, "rows[1].kind must be 0, 1, 2 or 3, got 5"),
    ((0, 0, 0.5, None), TypeError, "rows[1].kind must be an int, not NoneType"),
])
def test_history_columns_errors(sqlbatch_impl: ModuleType, bad: Any, error: type[Exception],
                                message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        sqlbatch_impl.history_columns([(0, 0, 0.5, 2), bad])


def test_history_metrics(sqlbatch_impl: ModuleType) -> None:
    rows = [(0, T0, 0.5, 2, None, None), (1, T0 + 1, 0.0, 0, "train", "d1"),
            (2, T0 + 2, 0.0, 3, None, None)]
    points = sqlbatch_impl.history_metrics("loss", rows)
    assert canon(points) == canon([
        Metric("loss", 0.5, T0, 0), Metric("loss", NAN, T0 + 1, 1, None, "train", "d1"),
        Metric("loss", INF, T0 + 2, 2)])
    assert sqlbatch_impl.history_metrics("loss", []) == []


@pytest.mark.parametrize(("key", "bad", "error", "message"), [
    (1, (0, 0, 0.5, 2, None, None), TypeError, "key must be a str, not int"),
    ("k", (0, 0, 0.5, 2, None), ValueError, "rows[1] must have 6 items, got 5"),
    ("k", (0, 0, 0.5, 2, "train", None), ValueError,
     "rows[1]: dataset_name and dataset_digest must be given together"),
    ("k", (0, 0, 0.5, 2, None, 3), TypeError, "rows[1].dataset_digest must be a str or None, "
                                              "not int"),
    ("k", (0, 0, 0.5, 2, b"x", "d"), TypeError, "rows[1].dataset_name must be a str or None, "
                                                "not bytes"),
    ("k", (0, 0, 0.5, -1, None, None), ValueError, "rows[1].kind must be 0, 1, 2 or 3, got -1"),
])
def test_history_metrics_errors(sqlbatch_impl: ModuleType, key: Any, bad: Any,
                                error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        sqlbatch_impl.history_metrics(key, [(0, 0, 0.5, 2, None, None), bad])


@pytest.mark.c_ext
def test_compiled_history_columns_make_no_object_per_row(
        sqlbatch_twins: tuple[ModuleType, ModuleType]) -> None:
    count = 200_000
    rows = [(i, T0 + i, i * 0.5, 2) for i in range(count)]
    tracemalloc.start()
    try:
        columns = sqlbatch_twins[1].history_columns(rows)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(columns.values) == count
    # The three columns are 24 bytes a row; a float object per row would add 24 more.
    assert peak < 30 * count, peak


# --- py == c -------------------------------------------------------------------------------

ints64 = st.one_of(st.sampled_from([0, 1, -1, T0, INT64_MIN, INT64_MAX]),
                   st.integers(INT64_MIN, INT64_MAX))
few_ints = st.sampled_from([0, 1, 2, INT64_MAX])  # collisions make duplicates
floats = st.one_of(st.floats(), st.sampled_from([0.0, -0.0, NAN, INF, -INF, 5e-324, 1e300]),
                   st.integers(-(2**70), 2**70))
odd_values: st.SearchStrategy[Any] = st.one_of(
    st.booleans(), st.none(), st.just("1.5"), st.just(10**400), st.builds(Subfloat, st.floats()))
odd_ints: st.SearchStrategy[Any] = st.one_of(
    st.integers(2**63, 2**64), st.integers(-(2**64), INT64_MIN - 1), st.booleans(), st.none(),
    st.floats(allow_nan=False), st.builds(Index, st.integers(-(2**64), 2**64)))
datasets = st.sampled_from([(None, None)] * 4 + [("train", "d1"), ("eval", "d2")])
odd_datasets = st.sampled_from([("train", None), (None, "d1"), ("x", "y"), ("bad", "id")])


@st.composite
def batches(draw: Any, valid: bool) -> list[Metric]:
    out = []
    for _ in range(draw(st.integers(0, 20))):
        key = draw(st.sampled_from(["loss", "acc", "a/b"]))
        value, ts, step = draw(floats), draw(few_ints), draw(st.one_of(few_ints, ints64))
        name, digest = draw(datasets)
        if not valid and draw(st.integers(0, 9)) == 0:
            which = draw(st.integers(0, 4))
            if which == 0:
                key = draw(st.sampled_from([3, "nope", "bad", None]))
            elif which == 1:
                value = draw(odd_values)
            elif which == 2:
                ts = draw(odd_ints)
            elif which == 3:
                step = draw(odd_ints)
            else:
                name, digest = draw(odd_datasets)
        kind_of_metric = draw(st.sampled_from([Metric, Metric, SubMetric]))
        out.append(kind_of_metric(key, value, ts, step, None, name, digest))
    return out


TWIN_SETTINGS = settings(max_examples=400, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture])
ODD_KEYS = {**KEY_IDS, "bad": Index(5), "nope": "x"}
ODD_DATASETS = {**DATASET_IDS, ("bad", "id"): 2**63}


@pytest.mark.c_ext
@TWIN_SETTINGS
@given(batch=batches(valid=True), run_key=ints64)
def test_twins_agree_on_valid_batches(sqlbatch_twins: tuple[ModuleType, ModuleType],
                                      batch: list[Metric], run_key: int) -> None:
    py, c = sqlbatch_twins
    rows = py.metric_rows(run_key, batch, KEY_IDS, DATASET_IDS)
    assert canon(c.metric_rows(run_key, batch, KEY_IDS, DATASET_IDS)) == canon(rows)
    latest = py.latest_rows(rows)
    assert canon(c.latest_rows(rows)) == canon(latest)
    assert all(a is b for a, b in zip(c.latest_rows(rows), latest, strict=True))
    assert c.copy_text(rows) == py.copy_text(rows)
    assert c.values_sql(rows) == py.values_sql(rows)
    assert c.copy_binary(rows) == py.copy_binary(rows)
    if rows:
        assert canon(c.bind_params(rows)) == canon(py.bind_params(rows))
    # What the database gives back reads as the points that went in.
    fetched = [(r[2], r[3], r[4], r[5]) for r in rows]
    columns = py.history_columns(fetched)
    assert canon(c.history_columns(fetched)) == canon(columns)
    expected = [py.decode_value(*py.encode_value(m.value)) for m in batch]
    assert {bits(v) for v in columns.values} <= {bits(v) for v in expected}


@pytest.mark.c_ext
@TWIN_SETTINGS
@given(batch=batches(valid=False), run_key=st.one_of(ints64, odd_ints))
def test_twins_agree_on_any_batch(sqlbatch_twins: tuple[ModuleType, ModuleType],
                                  batch: list[Metric], run_key: Any) -> None:
    py, c = sqlbatch_twins
    assert outcome(lambda: c.metric_rows(run_key, batch, ODD_KEYS, ODD_DATASETS)) == outcome(
        lambda: py.metric_rows(run_key, batch, ODD_KEYS, ODD_DATASETS))
    for m in batch:
        assert outcome(lambda m=m: c.encode_value(m.value)) == outcome(  # type: ignore[misc]
            lambda m=m: py.encode_value(m.value))  # type: ignore[misc]


kinds = st.one_of(st.integers(0, 3), st.sampled_from([-1, 4, 2**64, True, 2.0, None]))


@st.composite
def stored_rows(draw: Any) -> list[Any]:
    out: list[Any] = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.integers(0, 3))
        value: Any = draw(st.floats(allow_nan=False, allow_infinity=False)) if kind == 2 else 0.0
        items: list[Any] = [9, draw(st.integers(0, 3)), draw(few_ints), draw(few_ints), value,
                            kind, draw(st.one_of(st.none(), ints64))]
        if draw(st.integers(0, 7)) == 0:
            field = draw(st.integers(0, 6))
            items[field] = draw(
                st.one_of(floats, odd_values) if field == 4 else
                kinds if field == 5 else st.one_of(ints64, odd_ints))
        shape = draw(st.integers(0, 15))
        out.append(items if shape == 0 else items[:6] if shape == 1 else 7 if shape == 2
                   else tuple(items))
    return out


@pytest.mark.c_ext
@TWIN_SETTINGS
@given(rows=stored_rows())
def test_twins_agree_on_any_stored_rows(sqlbatch_twins: tuple[ModuleType, ModuleType],
                                        rows: list[Any]) -> None:
    py, c = sqlbatch_twins
    for function in ("latest_rows", "copy_text", "copy_binary", "values_sql", "bind_params"):
        assert outcome(lambda f=function: getattr(c, f)(rows)) == outcome(  # type: ignore[misc]
            lambda f=function: getattr(py, f)(rows)), function  # type: ignore[misc]


@st.composite
def fetched_rows(draw: Any, size: int) -> list[Any]:
    out: list[Any] = []
    for _ in range(draw(st.integers(0, 12))):
        items: list[Any] = [draw(ints64), draw(ints64), draw(floats), draw(st.integers(0, 3))]
        if size == 6:
            items += draw(datasets)
        if draw(st.integers(0, 7)) == 0:
            field = draw(st.integers(0, size - 1))
            items[field] = draw(
                odd_values if field == 2 else kinds if field == 3 else
                st.sampled_from(["x", None, 3, b"x"]) if field >= 4 else odd_ints)
        shape = draw(st.integers(0, 15))
        out.append(items if shape == 0 else items[:-1] if shape == 1 else tuple(items))
    return out


@pytest.mark.c_ext
@TWIN_SETTINGS
@given(rows=fetched_rows(4), rows6=fetched_rows(6), key=st.sampled_from(["loss", 3]))
def test_twins_agree_on_any_fetched_rows(sqlbatch_twins: tuple[ModuleType, ModuleType],
                                         rows: list[Any], rows6: list[Any], key: Any) -> None:
    py, c = sqlbatch_twins
    assert outcome(lambda: c.history_columns(rows)) == outcome(lambda: py.history_columns(rows))
    assert outcome(lambda: c.history_metrics(key, rows6)) == outcome(
        lambda: py.history_metrics(key, rows6))
    for r in rows:
        if isinstance(r, (list, tuple)) and len(r) == 4:
            assert outcome(lambda r=r: c.decode_value(r[2], r[3])) == outcome(  # type: ignore[misc]
                lambda r=r: py.decode_value(r[2], r[3]))  # type: ignore[misc]


@pytest.mark.c_ext
@settings(max_examples=1000, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                                 st.decimals(places=6, allow_nan=False, allow_infinity=False,
                                             min_value=-(10**10), max_value=10**10).map(float)),
                       min_size=1, max_size=20))
def test_twins_write_every_float_as_repr(sqlbatch_twins: tuple[ModuleType, ModuleType],
                                         values: list[float]) -> None:
    py, c = sqlbatch_twins
    rows = [row(i, 0, 0, v) for i, v in enumerate(values)]
    assert c.values_sql(rows) == py.values_sql(rows)
    assert c.copy_text(rows) == py.copy_text(rows)


# --- series_rows: one metric's columns (the import path) ------------------------------------


def _columns(points: list[tuple[int, float, int]]) -> tuple[array.array[int], array.array[float],
                                                             array.array[int]]:
    return (array.array("q", [p[0] for p in points]), array.array("d", [p[1] for p in points]),
            array.array("q", [p[2] for p in points]))


def test_series_rows_are_metric_rows_of_one_key(sqlbatch_impl: ModuleType) -> None:
    points = [(T0, 0.5, 0), (T0 + 1, NAN, 1), (T0 + 2, INF, 2), (T0 + 3, -INF, 3),
              (T0 + 4, -0.0, 4), (T0 + 4, 0.0, 4), (T0, 0.5, 0), (T0 + 5, 5e-324, 5)]
    rows, duplicates = sqlbatch_impl.series_rows(9, 1, *_columns(points), None)
    expected = rows_of(sqlbatch_impl, *(Metric("loss", v, ts, step) for ts, v, step in points))
    assert canon(rows) == canon(expected)
    assert duplicates == 2  # 0.0 after -0.0, and the repeated first point
    assert rows[0][4] == 0.5 and type(rows[0][2]) is int


def test_series_rows_carry_dataset_ids(sqlbatch_impl: ModuleType) -> None:
    rows, _ = sqlbatch_impl.series_rows(9, 2, *_columns([(T0, 1.0, 0), (T0, 2.0, 0)]), [7, None])
    assert [r[6] for r in rows] == [7, None]
    assert sqlbatch_impl.series_rows(9, 2, *_columns([]), None) == ([], 0)


@pytest.mark.parametrize(("args", "error", "message"), [
    ((9, 1, [T0], array.array("d", [1.0]), array.array("q", [0]), None), TypeError,
     "timestamps must be an array('q'), not list"),
    ((9, 1, array.array("q", [T0]), array.array("f", [1.0]), array.array("q", [0]), None),
     TypeError, "values must be an array('d'), not array('f')"),
    ((9, 1, array.array("q", [T0]), array.array("d", [1.0]), array.array("q", []), None),
     ValueError, "timestamps, values and steps must have one length"),
    ((9, 1, array.array("q", [T0]), array.array("d", [1.0]), array.array("q", [0]), (7,)),
     TypeError, "dataset_ids must be a list or None, not tuple"),
    ((9, 1, array.array("q", [T0]), array.array("d", [1.0]), array.array("q", [0]), []),
     ValueError, "dataset_ids must be as long as the columns"),
    ((9, 1, array.array("q", [T0]), array.array("d", [1.0]), array.array("q", [0]), ["x"]),
     TypeError, "dataset_ids[0] must be an int, not str"),
    ((True, 1, array.array("q"), array.array("d"), array.array("q"), None), TypeError,
     "run_key must be an int, not bool"),
    ((9, 2 ** 63, array.array("q"), array.array("d"), array.array("q"), None), OverflowError,
     "key_id out of int64 range"),
])
def test_series_rows_errors(sqlbatch_impl: ModuleType, args: tuple[Any, ...],
                            error: type[Exception], message: str) -> None:
    with pytest.raises(error) as raised:
        sqlbatch_impl.series_rows(*args)
    assert message in str(raised.value)


@pytest.mark.c_ext
@TWIN_SETTINGS
@given(points=st.lists(st.tuples(st.sampled_from([T0, T0 + 1, -1, INT64_MAX]),
                                 st.one_of(st.floats(), st.sampled_from([0.0, -0.0, 1.0])),
                                 st.sampled_from([0, 1, INT64_MIN])), max_size=40),
       datasets=st.booleans(), run_key=ints64)
def test_twins_agree_on_series(sqlbatch_twins: tuple[ModuleType, ModuleType],
                               points: list[tuple[int, float, int]], datasets: bool,
                               run_key: int) -> None:
    py, c = sqlbatch_twins
    ids = [i % 3 or None for i in range(len(points))] if datasets else None
    assert outcome(lambda: c.series_rows(run_key, 4, *_columns(points), ids)) == \
        outcome(lambda: py.series_rows(run_key, 4, *_columns(points), ids))
