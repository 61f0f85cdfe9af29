"""The SQL store's searches return what the file store's do, run for run and page for page.

Hypothesis builds runs (params, tags, metric histories with NaN and infinities, missing
values, dataset inputs with context tags, run names, statuses, deleted runs) and logs them
through the public API into a :class:`FileStore` and a :class:`SqlStore` on SQLite; then it
draws filters and ``order_by`` lists from the grammar's building blocks and asserts both stores
return the same run ids in the same order, across pages.

Both stores take their run ids from ``uuid.uuid4()``; the test hands both the same ids so that
ties broken by ``run_id`` break the same way, and ``run_id`` filters mean the same thing. The
experiments get the same artifact location in both stores, so ``artifact_uri`` compares too.
Every metric point has its own timestamp: the latest value is then the same however a store
breaks ties between points.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trackstore.entities import (
    Dataset,
    DatasetInput,
    InputTag,
    Metric,
    Param,
    RunStatus,
    RunTag,
    ViewType,
)
from trackstore.store.base import AbstractStore
from trackstore.store.file import FileStore
from trackstore.store.sql import SqlStore

EXAMPLES = 25 if os.environ.get("HYPOTHESIS_PROFILE") == "ci" else 50

METRIC_KEYS = ("m1", "m2")
PARAM_KEYS = ("p1", "p2")
TAG_KEYS = ("t1", "t 2")
# Letters with and without case, LIKE's metacharacters, what other pattern languages treat
# specially, a line break, and a non-ASCII letter without its capital (databases fold the
# case of non-ASCII letters each their own way: a deviation documented in store/sql/search.py).
ALPHABET = "aAbB%_\\[]*?! é\n"
FILTER_ALPHABET = ALPHABET.replace("\n", "")  # a filter string is one line
NUMBERS = ("-1", "0", "0.5", "1", "2.5", "1e999", "-1e999")
METRIC_VALUES = (float("nan"), float("inf"), float("-inf"), -1.0, 0.0, -0.0, 0.5, 1.0, 2.5)
DATASETS = (("train", "d1"), ("train", "d2"), ("eval", "d3"), ("Eval", "d4"))
CONTEXTS = ("training", "Eval", "b%", None)
STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED")
CONTEXT_TAG = "mlflow.data.context"


# --- runs ------------------------------------------------------------------------------------

@dataclass
class RunPlan:
    """What one run gets, through the public API."""

    id_prefix: str
    second_experiment: bool
    user_id: str | None
    start_time: int
    run_name: str
    status: str | None
    end_time: int | None
    deleted: bool
    params: dict[str, str]
    tags: dict[str, str]
    metrics: list[tuple[str, float, int]]  # key, value, step; timestamps are handed out
    inputs: list[tuple[str, str, str | None]] = field(default_factory=list)


values = st.text(ALPHABET, min_size=1, max_size=3)
rarely = st.sampled_from([False, False, False, True])
run_plans = st.builds(
    RunPlan,
    id_prefix=st.sampled_from(["0", "a", "ab", "f"]),
    second_experiment=rarely,
    user_id=st.sampled_from([None, "alice", "Bob", "b%"]),
    start_time=st.integers(0, 5),
    run_name=values,  # never None: each store would make up a name of its own
    status=st.one_of(st.none(), st.sampled_from(STATUSES)),
    end_time=st.one_of(st.none(), st.integers(0, 5)),
    deleted=rarely,
    params=st.dictionaries(st.sampled_from(PARAM_KEYS), values, min_size=1),
    tags=st.dictionaries(st.sampled_from(TAG_KEYS), values, min_size=1),
    metrics=st.lists(st.tuples(st.sampled_from(METRIC_KEYS), st.sampled_from(METRIC_VALUES),
                               st.integers(0, 3)), max_size=5),
    inputs=st.lists(st.tuples(st.sampled_from(DATASETS), st.sampled_from(CONTEXTS)),
                    max_size=3, unique_by=lambda entry: entry[0])
    .map(lambda entries: [(name, digest, context) for (name, digest), context in entries]),
)


class Stores:
    """A file store and a SQL store, filled alike, one pair of experiments per example."""

    def __init__(self, tmp_path: Path) -> None:
        self.file = FileStore(str(tmp_path / "mlruns"))
        self.sql = SqlStore(f"sqlite:///{tmp_path / 'store.db'}", str(tmp_path / "artifacts"))
        self.counter = itertools.count(1)
        self.clock = itertools.count(1)

    def both(self) -> tuple[AbstractStore, AbstractStore]:
        return self.file, self.sql

    def experiments(self) -> list[tuple[str, str]]:
        """A new pair of experiments: their ids in the file store and in the SQL store."""
        n = next(self.counter)
        pairs = []
        for which in ("first", "second"):
            name, location = f"e{n} {which}", f"file:///artifacts/{n}/{which}"
            pairs.append((self.file.create_experiment(name, location),
                          self.sql.create_experiment(name, location)))
        return pairs

    def log(self, plan: RunPlan, experiment: tuple[str, str]) -> str:
        digits = f"{next(self.counter):x}"
        run_id = plan.id_prefix + digits.rjust(32 - len(plan.id_prefix), "0")
        tags = [RunTag(k, v) for k, v in plan.tags.items()]
        metrics = [Metric(key, value, next(self.clock), step)
                   for key, value, step in plan.metrics]
        inputs = [DatasetInput(Dataset(name, digest, "code", "{}"),
                               [InputTag(CONTEXT_TAG, context)] if context else [])
                  for name, digest, context in plan.inputs]
        for store, experiment_id in zip(self.both(), experiment, strict=True):
            with mock.patch("uuid.uuid4", return_value=uuid.UUID(hex=run_id)):
                run = store.create_run(experiment_id, plan.user_id, plan.start_time, tags,
                                       plan.run_name)
            assert run.info.run_id == run_id
            store.log_batch(run_id, metrics, [Param(k, v) for k, v in plan.params.items()])
            if inputs:
                store.log_inputs(run_id, inputs)
            if plan.status or plan.end_time is not None:
                status = RunStatus.from_string(plan.status) if plan.status else None
                store.update_run_info(run_id, status, plan.end_time, None)
            if plan.deleted:
                store.delete_run(run_id)
        return run_id


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    pair = Stores(tmp_path_factory.mktemp("equivalence"))
    yield pair
    pair.file.close()
    pair.sql.close()


# --- filters and orderings -------------------------------------------------------------------

def quoted(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return strategy.map(lambda text: f"'{text}'")


def filter_value(text: str) -> str:
    """*text* as a filter can quote it: on one line, no backslash before the closing quote."""
    return text.replace("\n", "_").rstrip("\\")


def ascii_upper(text: str) -> str:
    # Only ASCII: the databases fold non-ASCII case differently (see store/sql/search.py).
    return "".join(c.upper() if c.isascii() else c for c in text)


def ascii_swapcase(text: str) -> str:
    return "".join(c.swapcase() if c.isascii() else c for c in text)


def blurred(text: str) -> st.SearchStrategy[str]:
    """LIKE patterns that *text* matches, give or take: characters turned into ``_`` or
    ``%``, a ``%`` added at either end, the ASCII case changed (for ILIKE)."""
    each = st.lists(st.sampled_from(["", "", "_", "%"]), min_size=len(text),
                    max_size=len(text))
    return st.tuples(each, st.sampled_from(["", "%"]), st.sampled_from(["", "%"]),
                     st.sampled_from([str, ascii_upper, ascii_swapcase])).map(
        lambda parts: filter_value(parts[3](parts[1] + "".join(
            change or char for char, change in zip(text, parts[0], strict=True)) + parts[2])))


def string_values(seen: list[str]) -> st.SearchStrategy[str]:
    """Filter values: new text, values the runs hold, and patterns made from those."""
    new = st.text(FILTER_ALPHABET, max_size=4).map(filter_value)
    if not seen:
        return new
    return st.one_of(new, st.sampled_from(seen).map(filter_value),
                     st.sampled_from(seen).flatmap(blurred))


string_ops = st.sampled_from(["=", "!=", "LIKE", "ILIKE"])


def keyed_clause(entity: str, keys: tuple[str, ...],
                 strings: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    key = st.sampled_from(keys).map(lambda k: f"{entity}.`{k}`")
    compare = st.tuples(key, string_ops, quoted(strings)).map(" ".join)
    presence = st.tuples(key, st.sampled_from(["IS NULL", "IS NOT NULL"])).map(" ".join)
    return st.one_of(compare, presence)


def listed(items: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(items, min_size=1, max_size=3).map(
        lambda xs: "(" + ", ".join(f"'{x}'" for x in xs) + ")")


def run_filters(run_ids: list[str], seen: list[str]) -> st.SearchStrategy[str]:
    """Filters of up to two clauses; ``run_id`` clauses name the runs of the example and
    string clauses often test (patterns made from) the values *seen* in it."""
    strings = string_values(seen)
    some_ids = st.sampled_from(run_ids or ["0"]).map(lambda run_id: run_id[:3] + "%")
    clauses = st.one_of(
        st.tuples(st.sampled_from(METRIC_KEYS).map(lambda k: f"metrics.{k}"),
                  st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
                  st.sampled_from(NUMBERS)).map(" ".join),
        keyed_clause("params", PARAM_KEYS, strings),
        keyed_clause("tags", TAG_KEYS, strings),
        st.tuples(st.sampled_from(["attributes.run_name", "run_name", "user_id", "status",
                                   "artifact_uri"]),
                  string_ops, quoted(st.one_of(strings, st.sampled_from(STATUSES))))
        .map(" ".join),
        st.tuples(st.sampled_from(["start_time", "end_time", "created"]),
                  st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
                  st.sampled_from(["0", "2", "2.5", "5", "-1", "1e999"])).map(" ".join),
        st.tuples(st.just("run_id"), st.sampled_from(["IN", "NOT IN"]),
                  listed(st.sampled_from([*run_ids, "f" * 32]))).map(" ".join),
        st.tuples(st.just("run_id"), st.sampled_from(["=", "!=", "LIKE", "ILIKE"]),
                  quoted(st.one_of(some_ids, st.sampled_from(["A%", "%0", "_b%"]))))
        .map(" ".join),
        st.tuples(st.sampled_from(["datasets.name", "datasets.digest", "datasets.context"]),
                  string_ops, quoted(st.sampled_from(["train", "eval", "Eval", "d1", "%a%",
                                                      "_1", "training", "b%", "%"])))
        .map(" ".join),
        st.tuples(st.sampled_from(["datasets.name", "datasets.context"]),
                  st.sampled_from(["IN", "NOT IN"]),
                  listed(st.sampled_from(["train", "eval", "training", "Eval"])))
        .map(" ".join),
    )
    return st.lists(clauses, max_size=2).map(" and ".join)


order_fields = st.sampled_from([
    *(f"metrics.{k}" for k in METRIC_KEYS), *(f"params.{k}" for k in PARAM_KEYS),
    *(f"tags.`{k}`" for k in TAG_KEYS), "start_time", "end_time", "run_id", "run_name",
    "status", "user_id", "artifact_uri",
])
orderings = st.lists(st.tuples(order_fields, st.sampled_from(["", " ASC", " DESC"])),
                     max_size=3, unique_by=lambda entry: entry[0]).map(
    lambda entries: [field + direction for field, direction in entries])


# --- the property ----------------------------------------------------------------------------

def pages(store: AbstractStore, experiment_ids: list[str], filter_string: str,
          view_type: int, order_by: list[str], max_results: int) -> list[list[str]]:
    """Every page of a search, as lists of run ids."""
    found, token = [], None
    while True:
        page = store.search_runs(experiment_ids, filter_string, view_type, max_results,
                                 order_by, token)
        found.append([run.info.run_id for run in page])
        token = page.token
        if token is None:
            return found
        assert len(found) < 100, "paging does not end"


@settings(deadline=None, max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(plans=st.lists(run_plans, min_size=4, max_size=10), data=st.data())
def test_sql_store_searches_as_the_file_store(stores: Stores, plans: list[RunPlan],
                                              data: st.DataObject) -> None:
    (first_file, first_sql), (second_file, second_sql) = stores.experiments()
    run_ids = [stores.log(plan, (second_file, second_sql) if plan.second_experiment
                          else (first_file, first_sql))
               for plan in plans]
    seen = sorted({value for plan in plans
                   for value in (*plan.params.values(), *plan.tags.values(), plan.run_name,
                                 plan.user_id) if value})
    searches = st.tuples(
        run_filters(run_ids, seen), orderings,
        st.sampled_from([ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL]),
        st.integers(1, 4), st.booleans())
    for filter_string, order_by, view_type, max_results, both_experiments in data.draw(
            st.lists(searches, min_size=15, max_size=25), label="searches"):
        file_ids = [first_file, second_file] if both_experiments else [first_file]
        sql_ids = [first_sql, second_sql] if both_experiments else [first_sql]
        expected = pages(stores.file, file_ids, filter_string, view_type, order_by,
                         max_results)
        found = pages(stores.sql, sql_ids, filter_string, view_type, order_by, max_results)
        assert found == expected, (filter_string, order_by, view_type)
