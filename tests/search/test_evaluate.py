"""In-memory filtering, ordering and paging of runs and experiments."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trackstore import entities
from trackstore.exceptions import TrackstoreError
from trackstore.search import (
    Comparison,
    EntityRunRecord,
    compile_experiment_filter,
    compile_run_filter,
    create_page_token,
    like_pattern,
    parse_experiment_filter,
    parse_run_filter,
    parse_run_order_by,
    search_experiments,
    search_runs,
    sort_experiments,
    sort_runs,
)
from trackstore.search.evaluate import value_test
from trackstore.search.grammar import parse_experiment_order_by

NAN = math.nan


@dataclass
class Run:
    """A RunRecord that counts how often each lazy accessor is called."""

    run_id: str
    start_time: int | None = 0
    run_name: str | None = None
    user_id: str | None = "u"
    status: str = "FINISHED"
    end_time: int | None = None
    artifact_uri: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    inputs: list[tuple[str, str, str | None]] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)

    def metric(self, key: str) -> float | None:
        self.calls["metric:" + key] += 1
        return self.metrics.get(key)

    def param(self, key: str) -> str | None:
        self.calls["param:" + key] += 1
        return self.params.get(key)

    def tag(self, key: str) -> str | None:
        self.calls["tag:" + key] += 1
        return self.tags.get(key)

    def datasets(self) -> list[tuple[str, str, str | None]]:
        self.calls["datasets"] += 1
        return self.inputs


def matching(runs: Sequence[Run], filter_string: str) -> list[str]:
    matches = compile_run_filter(parse_run_filter(filter_string))
    return [r.run_id for r in runs if matches(r)]


# --- filters ---------------------------------------------------------------------------------

def test_metric_comparisons_use_float_semantics() -> None:
    runs = [Run("one", metrics={"m": 1.0}), Run("nan", metrics={"m": NAN}),
            Run("inf", metrics={"m": math.inf}), Run("none")]
    assert matching(runs, "metrics.m > 0") == ["one", "inf"]
    assert matching(runs, "metrics.m = 1") == ["one"]
    # NaN is unequal to everything and compares false otherwise; missing never matches.
    assert matching(runs, "metrics.m != 1") == ["nan", "inf"]
    assert matching(runs, "metrics.m <= 1e400") == ["one", "inf"]


def test_missing_values_fail_every_comparison_but_is_null() -> None:
    runs = [Run("a", params={"p": "x"}, tags={"t": ""}, end_time=5), Run("b")]
    assert matching(runs, "params.p != 'y'") == ["a"]
    assert matching(runs, "params.p IS NULL") == ["b"]
    assert matching(runs, "params.p IS NOT NULL") == ["a"]
    assert matching(runs, "tags.t = ''") == ["a"]
    assert matching(runs, "end_time != 1") == ["a"]
    assert matching(runs, "run_name != 'x'") == []


def test_attributes() -> None:
    runs = [Run("r1", start_time=10, run_name="alpha", status="RUNNING", user_id="ann",
                artifact_uri="s3://b/r1"),
            Run("r2", start_time=20, run_name="beta", end_time=30)]
    assert matching(runs, "created >= 15") == ["r2"]
    assert matching(runs, "attributes.start_time < 15.5") == ["r1"]
    assert matching(runs, "`Run Name` = 'beta'") == ["r2"]
    assert matching(runs, "run_name LIKE '%a'") == ["r1", "r2"]
    assert matching(runs, "status != 'FINISHED'") == ["r1"]
    assert matching(runs, "user_id ILIKE 'ANN'") == ["r1"]
    assert matching(runs, "artifact_uri LIKE 's3://%'") == ["r1"]
    assert matching(runs, "run_id IN ('r2', 'x')") == ["r2"]
    assert matching(runs, "run_id NOT IN ('r2')") == ["r1"]
    # MLflow accepts a list with = / != and compares the string with the tuple
    assert matching(runs, "run_id = ('r1')") == []
    assert matching(runs, "run_id != ('r1')") == ["r1", "r2"]


@pytest.mark.parametrize(("pattern", "value", "like", "ilike"), [
    ("abc", "abc", True, True),
    ("abc", "ABC", False, True),
    ("abc", "abcd", False, False),
    ("a%", "abcd", True, True),
    ("%d", "abcd", True, True),
    ("%bc%", "abcd", True, True),
    ("a_c", "abc", True, True),
    ("a_c", "ac", False, False),
    ("%", "", True, True),
    ("", "", True, True),
    ("", "x", False, False),
    ("a.c", "abc", False, False),  # regex metacharacters are literal
    ("a.c", "a.c", True, True),
    ("(x)*", "(x)*", True, True),
    ("[ab]", "a", False, False),
    ("a\\%", "a\\x", True, True),  # no escape character in LIKE
    ("%ß%", "STRASSE", False, False),
    ("é%", "É", False, True),
    # Deviation (see trackstore.search.evaluate): % and _ match line breaks, $ is the real end.
    ("a%b", "a\nb", True, True),
    ("a_b", "a\nb", True, True),
    ("ab", "ab\n", False, False),
])
def test_like(pattern: str, value: str, like: bool, ilike: bool) -> None:
    assert value_test(Comparison("tag", "t", "LIKE", pattern))(value) is like
    assert value_test(Comparison("tag", "t", "ILIKE", pattern))(value) is ilike


@settings(max_examples=300, deadline=None)
@given(pattern=st.text(alphabet="ab%_.\n", max_size=5), value=st.text(alphabet="abAB.\n",
                                                                       max_size=5))
def test_like_shortcuts_agree_with_the_regex(pattern: str, value: str) -> None:
    regex = like_pattern(pattern).fullmatch(value) is not None
    assert value_test(Comparison("tag", "t", "LIKE", pattern))(value) is regex


def test_datasets_match_if_any_input_does() -> None:
    runs = [Run("a", inputs=[("train", "d1", "training"), ("eval", "d2", None)]),
            Run("b", inputs=[("train", "d3", None)]), Run("none")]
    assert matching(runs, "datasets.name = 'train'") == ["a", "b"]
    assert matching(runs, "datasets.name != 'train'") == ["a"]  # "eval" differs
    assert matching(runs, "datasets.digest IN ('d2', 'd3')") == ["a", "b"]
    assert matching(runs, "datasets.context = 'training'") == ["a"]
    assert matching(runs, "datasets.context != 'x'") == ["a"]  # untagged inputs are skipped
    assert matching(runs, "datasets.context NOT IN ('x')") == ["a"]
    assert matching(runs, "datasets.name LIKE 'tr%' AND datasets.digest = 'd2'") == ["a"]


def test_each_key_is_read_once_and_attributes_first() -> None:
    runs = [Run("a", status="RUNNING", metrics={"m": 1.0}),
            Run("b", status="FINISHED", metrics={"m": 2.0}, params={"p": "x"})]
    matches = compile_run_filter(parse_run_filter(
        "metrics.m > 0 AND metrics.m < 5 AND params.p = 'x' AND status = 'FINISHED' "
        "AND metrics.m != 3"))
    assert [r.run_id for r in runs if matches(r)] == ["b"]
    assert runs[0].calls == Counter()  # failed on the attribute: nothing loaded
    assert runs[1].calls == Counter({"metric:m": 1, "param:p": 1})


def test_empty_filter_matches_everything() -> None:
    assert matching([Run("a"), Run("b")], "") == ["a", "b"]


def test_entity_run_record() -> None:
    run = entities.Run(
        entities.RunInfo("r", "0", "u", "FINISHED", 1, 2, "active", "file:/x", "name"),
        entities.RunData([entities.Metric("m", 0.5, 0, 0)], [entities.Param("p", "v")],
                         [entities.RunTag("t", "w")]),
        entities.RunInputs([entities.DatasetInput(
            entities.Dataset("ds", "dig", "local", "src"),
            [entities.InputTag("mlflow.data.context", "train")])]))
    record = EntityRunRecord(run)
    assert (record.run_id, record.run_name, record.user_id, record.status, record.start_time,
            record.end_time, record.artifact_uri) == ("r", "name", "u", "FINISHED", 1, 2,
                                                      "file:/x")
    assert (record.metric("m"), record.param("p"), record.tag("t")) == (0.5, "v", "w")
    assert record.metric("x") is None
    assert record.datasets() == [("ds", "dig", "train")]
    assert compile_run_filter(parse_run_filter(
        "metrics.m < 1 AND params.p = 'v' AND datasets.context = 'train'"))(record)


# --- ordering ----------------------------------------------------------------------------

def ids(runs: Sequence[Run]) -> list[str]:
    return [r.run_id for r in runs]


def test_base_order_is_start_time_desc_then_run_id() -> None:
    runs = [Run("b", 1), Run("a", 1), Run("c", 2), Run("none", None)]
    # A run without start_time goes last (MLflow raises TypeError).
    assert ids(sort_runs(runs)) == ["c", "a", "b", "none"]


@pytest.mark.parametrize(("order_by", "expected"), [
    (["metrics.m"], ["neg", "one", "two", "nan", "missing"]),
    (["metrics.m DESC"], ["two", "one", "neg", "nan", "missing"]),
    (["params.p"], ["nan", "two", "neg", "one", "missing"]),  # ties keep the base order
    (["params.p DESC"], ["one", "neg", "nan", "two", "missing"]),
])
def test_present_then_nan_then_missing(order_by: list[str], expected: list[str]) -> None:
    runs = [Run("one", 5, metrics={"m": 1.0}, params={"p": "z"}),
            Run("nan", 4, metrics={"m": NAN}, params={"p": "a"}),
            Run("missing", 3),
            Run("two", 2, metrics={"m": 2.0}, params={"p": "a"}),
            Run("neg", 1, metrics={"m": -1.0}, params={"p": "b"})]
    assert ids(sort_runs(runs, parse_run_order_by(order_by))) == expected


def test_first_order_field_is_primary_and_ties_keep_the_next_ones() -> None:
    runs = [Run("a", 1, params={"p": "x"}, metrics={"m": 1.0}),
            Run("b", 2, params={"p": "x"}, metrics={"m": 2.0}),
            Run("c", 3, params={"p": "w"}, metrics={"m": 2.0}),
            Run("d", 4, params={"p": "x"}, metrics={"m": 2.0})]
    assert ids(sort_runs(runs, parse_run_order_by(["params.p DESC", "metrics.m"]))) == [
        "a", "d", "b", "c"]
    # equal on every field: the base order (start_time DESC) decides
    assert ids(sort_runs(runs, parse_run_order_by(["metrics.m DESC"]))) == ["d", "c", "b", "a"]


def test_attribute_ordering() -> None:
    runs = [Run("a", 1, run_name="y", end_time=None), Run("b", 2, run_name=None, end_time=3),
            Run("c", 3, run_name="x", end_time=1)]
    assert ids(sort_runs(runs, parse_run_order_by(["run_name"]))) == ["c", "a", "b"]
    assert ids(sort_runs(runs, parse_run_order_by(["end_time DESC"]))) == ["b", "c", "a"]
    assert ids(sort_runs(runs, parse_run_order_by(["created"]))) == ["a", "b", "c"]
    assert ids(sort_runs(runs, parse_run_order_by(["run_id DESC"]))) == ["c", "b", "a"]


def test_sorting_reads_each_key_once_per_record() -> None:
    runs = [Run(str(i), i, metrics={"m": float(i % 3)}) for i in range(20)]
    sort_runs(runs, parse_run_order_by(["metrics.m", "tags.t DESC"]))
    assert all(r.calls == Counter({"metric:m": 1, "tag:t": 1}) for r in runs)


# --- search_runs ---------------------------------------------------------------------------

def test_search_runs_pages() -> None:
    runs = [Run(f"r{i}", i, metrics={"m": float(i)}) for i in range(7)]
    page, token = search_runs(runs, "metrics.m >= 1", ["metrics.m"], max_results=4)
    assert ids(page) == ["r1", "r2", "r3", "r4"]
    assert token == create_page_token(4)
    page, token = search_runs(runs, "metrics.m >= 1", ["metrics.m"], 4, token)
    assert ids(page) == ["r5", "r6"]
    assert token is None
    page, token = search_runs(runs, None, None, max_results=7)
    assert ids(page) == [f"r{i}" for i in range(6, -1, -1)]
    assert token is None
    assert search_runs(runs, None, None, max_results=None)[1] is None
    assert search_runs([], "metrics.m > 1", ["params.p"]) == ([], None)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"max_results": 50001, "filter_string": "bad"},
     "Invalid value for request parameter max_results. It must be at most 50000, but got "
     "value 50001"),
    ({"filter_string": "bad", "order_by": ["foo"]},
     "Invalid clause(s) in filter string: 'bad'"),
    ({"order_by": ["metrics.m", "foo bar baz"], "page_token": "???"},
     "Invalid order_by clause 'foo bar baz'. Could not be parsed."),
    ({"page_token": "e30="}, "Invalid page token, parsed value={}"),
    ({"filter_string": "metrics.m == 1"},
     "Invalid comparator '==' not one of '{'>', '>=', '!=', '=', '<', '<='}"),
])
def test_search_runs_validates_everything_first(kwargs: dict[str, Any], message: str) -> None:
    runs = [Run("a")]
    with pytest.raises(TrackstoreError) as info:
        search_runs(runs, **kwargs)
    assert info.value.message == message
    assert runs[0].calls == Counter()


def test_search_runs_is_fast() -> None:
    runs = [Run(f"{i:032x}", i % 977, status="FINISHED" if i % 3 else "FAILED",
                metrics={"acc": (i * 7919 % 1000) / 1000, "loss": (i % 13) / 13},
                params={"lr": "0.1" if i % 2 else "0.01"}) for i in range(5000)]
    filter_string = "metrics.acc > 0.3 AND params.lr = '0.1' AND status = 'FINISHED'"
    order_by = ["metrics.loss DESC", "params.lr"]
    search_runs(runs, filter_string, order_by, 100)
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        page, token = search_runs(runs, filter_string, order_by, 100)
        best = min(best, time.perf_counter() - start)
    assert len(page) == 100
    assert token is not None
    # A few ms on a desktop; the bound only catches accidental quadratic work.
    assert best < 0.25


# --- experiments -----------------------------------------------------------------------------

def experiment(experiment_id: str, name: str = "e", created: int | None = 0,
               updated: int | None = 0, **tags: str) -> entities.Experiment:
    return entities.Experiment(experiment_id, name, "loc", "active", tags, created, updated)


def test_experiment_filters() -> None:
    exps = [experiment("1", "alpha", 10, 20, team="a"), experiment("2", "Beta", None, 5),
            experiment("10", "gamma", 30, None, team="b")]

    def match(filter_string: str) -> list[str]:
        matches = compile_experiment_filter(parse_experiment_filter(filter_string))
        return [e.experiment_id for e in exps if matches(e)]

    assert match("name = 'alpha'") == ["1"]
    assert match("name ILIKE 'b%'") == ["2"]
    assert match("experiment_id IN ('1', '10')") == ["1", "10"]
    assert match("experiment_id LIKE '1%'") == ["1", "10"]
    assert match("creation_time > 15") == ["10"]
    # a missing time is unequal to anything (as in MLflow), and never < or >
    assert match("creation_time != 10") == ["2", "10"]
    assert match("last_update_time <= 20") == ["1", "2"]
    assert match("tags.team = 'a'") == ["1"]
    assert match("tags.team != 'a'") == ["10"]
    assert match("tags.team IS NULL") == ["2"]
    assert match("tags.team IS NOT NULL AND name LIKE '%a'") == ["1", "10"]


def test_experiment_order() -> None:
    exps = [experiment("1", "b", 5), experiment("2", "a", 7), experiment("10", "a", 5),
            experiment("3", "c", None)]
    order = [e.experiment_id for e in sort_experiments(exps)]
    assert order == ["2", "1", "10", "3"]  # creation_time DESC, experiment_id ASC (as text)
    by_name = sort_experiments(exps, parse_experiment_order_by(["name"]))
    assert [e.experiment_id for e in by_name] == ["2", "10", "1", "3"]  # tie: id DESC
    by_time = sort_experiments(exps, parse_experiment_order_by(["creation_time"]))
    assert [e.experiment_id for e in by_time] == ["10", "1", "2", "3"]


def test_search_experiments() -> None:
    exps = [experiment(str(i), f"e{i}", i) for i in range(5)]
    page, token = search_experiments(exps, "name != 'e0'", ["name DESC"], 3)
    assert [e.name for e in page] == ["e4", "e3", "e2"]
    page, token = search_experiments(exps, "name != 'e0'", ["name DESC"], 3, token)
    assert [e.name for e in page] == ["e1"]
    assert token is None
    with pytest.raises(TrackstoreError, match="must be a positive integer"):
        search_experiments(exps, max_results=0)
    with pytest.raises(TrackstoreError, match="Invalid order_by entity: tag"):
        search_experiments(exps, order_by=["tags.x"])
