"""MLflow's JSON shape: the readers agree with protobuf's rules, the fast path with the slow."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackstore import wire
from trackstore.entities import Dataset, DatasetInput, InputTag, Metric, Run, RunData, RunInfo
from trackstore.exceptions import TrackstoreError

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(1 << 70), max_value=1 << 70),
    st.floats(allow_nan=False), st.sampled_from(["NaN", "Infinity", "-Infinity", "1.5", "7",
                                                 "", "x", " 3"]),
    st.text(max_size=5))
entries = st.one_of(
    st.fixed_dictionaries({"key": json_scalars, "value": json_scalars,
                           "timestamp": json_scalars},
                          optional={"step": json_scalars, "dataset_name": json_scalars}),
    json_scalars, st.lists(st.integers(), max_size=2))


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return ("ok", fn(*args))
    except TrackstoreError as exc:
        return ("error", exc.error_code, exc.message)


@given(st.lists(entries, max_size=4))
def test_metrics_fast_path_matches_the_reference_reader(items: list[Any]) -> None:
    fast = _outcome(wire.metrics_from_json, items)
    slow = _outcome(lambda xs: [wire.metric_from_json(x, f"metrics[{i}]")
                                for i, x in enumerate(xs)], items)
    assert fast == slow


@pytest.mark.parametrize(("value", "expected"), [
    (1.5, 1.5), (3, 3.0), ("2.5", 2.5), ("NaN", math.nan), ("Infinity", math.inf),
    ("-Infinity", -math.inf), ("-1e3", -1000.0)])
def test_double_reader(value: Any, expected: float) -> None:
    got = wire.double(value, "v")
    assert got == expected or (math.isnan(got) and math.isnan(expected))


@pytest.mark.parametrize("value", [True, None, "fast", [], {}, "nan-ish"])
def test_double_reader_refuses(value: Any) -> None:
    with pytest.raises(TrackstoreError, match="parameter 'v'"):
        wire.double(value, "v")


@pytest.mark.parametrize(("value", "expected"), [(5, 5), ("5", 5), ("-5", -5), (5.0, 5),
                                                 ((1 << 63) - 1, (1 << 63) - 1)])
def test_int64_reader(value: Any, expected: int) -> None:
    assert wire.int64(value, "n") == expected


@pytest.mark.parametrize("value", [1 << 63, -(1 << 63) - 1, 1.5, "1.5", True, "", "٣", None])
def test_int64_reader_refuses(value: Any) -> None:
    with pytest.raises(TrackstoreError, match="parameter 'n'"):
        wire.int64(value, "n")


def test_dumps_never_writes_bare_nan() -> None:
    body = wire.dumps({"values": [wire.out(v) for v in (math.nan, math.inf, -math.inf, 1.0)]})
    assert json.loads(body) == {"values": ["NaN", "Infinity", "-Infinity", 1.0]}
    with pytest.raises(ValueError):  # a float that skipped out() is a bug, never bad JSON
        wire.dumps({"v": math.nan})


def test_run_round_trip() -> None:
    run = Run(
        RunInfo("a" * 32, "7", "bob", "FINISHED", 1, 2, "active", "file:///x", "name"),
        RunData([Metric("m", math.inf, 5, 3)], [], []))
    run.inputs.dataset_inputs.append(DatasetInput(Dataset("d", "abc", "local", "{}", None, "p"),
                                                  [InputTag("mlflow.data.context", "train")]))
    back = wire.run_from_json(json.loads(wire.dumps(wire.run_to_json(run))))
    assert back == run
    shape = wire.run_to_json(run)
    assert shape["info"]["run_uuid"] == shape["info"]["run_id"] == "a" * 32
    assert shape["data"]["metrics"] == [{"key": "m", "value": "Infinity", "timestamp": 5,
                                         "step": 3}]
    assert "params" not in shape["data"] and "schema" not in \
        shape["inputs"]["dataset_inputs"][0]["dataset"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@given(json_values)
def test_loads_reads_what_python_reads(value: Any) -> None:
    text = json.dumps(value)
    assert wire.loads(text.encode()) == json.loads(text)


@pytest.mark.parametrize("text", ['{"v": NaN}', '{"v": -Infinity}', '"\\ud800"',
                                  '{"a": 1, "a": 2}', '{"v": 18446744073709551615}'])
def test_loads_accepts_what_orjson_refuses(text: str) -> None:
    got, expected = wire.loads(text.encode()), json.loads(text)
    assert repr(got) == repr(expected)
