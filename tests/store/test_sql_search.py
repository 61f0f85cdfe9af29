"""The SQL search statements (``store/sql/search.py``) against the in-memory evaluator.

Rows go straight into the schema with SQLAlchemy Core; every search runs twice, as SQL and
through :mod:`trackstore.search.evaluate` on the same data, and both must give the run ids
the test expects, in order. The engine fixture covers SQLite and the database servers the
environment names (``tests/_databases.py``: PostgreSQL and MariaDB/MySQL in CI).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql, mysql, postgresql, sqlite

from tests._databases import SQL_KINDS, fresh_database
from trackstore.entities import ViewType
from trackstore.search import (
    Comparison,
    ExperimentFilter,
    RunFilter,
    compile_experiment_filter,
    compile_run_filter,
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_run_filter,
    parse_run_order_by,
    sort_experiments,
    sort_runs,
)
from trackstore.store.sql import schema
from trackstore.store.sql.search import (
    escaped_like,
    experiment_search_statement,
    glob_pattern,
    run_search_statement,
)

NAN, INF = math.nan, math.inf
ACTIVE, DELETED, ALL = ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL


# --- databases -----------------------------------------------------------------------------

@pytest.fixture(scope="module", params=SQL_KINDS)
def engine(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    """One fresh database per kind for the module; each test empties it afterwards."""
    kind = request.param
    with fresh_database(kind, tmp_path_factory.mktemp(kind)) as uri:
        engine = sa.create_engine(uri)
        if kind == "sqlite":  # many small transactions; durability is not tested here
            sa.event.listen(engine, "connect",
                            lambda conn, _: conn.execute("PRAGMA synchronous = OFF"))
        schema.metadata.create_all(engine)
        yield engine
        engine.dispose()


# --- data: rows in the schema and the same runs as evaluator records ---------------------

@dataclass
class Run:
    """A run as inserted, and as the evaluator reads it (a ``RunRecord``)."""

    run_id: str
    experiment_id: int = 1
    start_time: int | None = 0
    end_time: int | None = None
    user_id: str | None = "u"
    status: str = "FINISHED"
    artifact_uri: str | None = None
    lifecycle_stage: str = "active"
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    inputs: list[tuple[str, str, str | None]] = field(default_factory=list)

    @property
    def run_name(self) -> str | None:
        return self.tags.get("mlflow.runName")

    def metric(self, key: str) -> float | None:
        return self.metrics.get(key)

    def param(self, key: str) -> str | None:
        return self.params.get(key)

    def tag(self, key: str) -> str | None:
        return self.tags.get(key)

    def datasets(self) -> list[tuple[str, str, str | None]]:
        return self.inputs


@dataclass
class Experiment:
    """An experiment as inserted, and as the evaluator reads it (an ``ExperimentRecord``)."""

    number: int
    name: str
    creation_time: int | None = 0
    last_update_time: int | None = 0
    lifecycle_stage: str = "active"
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def experiment_id(self) -> str:
        return str(self.number)


def _kind(value: float) -> tuple[int, float]:
    if math.isnan(value):
        return schema.KIND_NAN, 0.0
    if math.isinf(value):
        return (schema.KIND_POS_INF if value > 0 else schema.KIND_NEG_INF), 0.0
    return schema.KIND_FINITE, value


class SearchDb:
    """Inserts runs and experiments, and searches them both ways."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.runs: list[Run] = []
        self.experiments: dict[int, Experiment] = {}
        self.key_ids: dict[str, int] = {}
        self.dataset_keys: dict[tuple[int, str, str], int] = {}

    def experiment(self, number: int, name: str | None = None, **fields: Any) -> Experiment:
        record = Experiment(number, name or f"experiment {number}", **fields)
        with self.engine.begin() as conn:
            conn.execute(schema.experiments.insert().values(
                experiment_id=number, name=record.name, lifecycle_stage=record.lifecycle_stage,
                creation_time=record.creation_time, last_update_time=record.last_update_time))
            if record.tags:
                conn.execute(schema.experiment_tags.insert(), [
                    {"experiment_id": number, "key": k, "value": v}
                    for k, v in record.tags.items()])
        self.experiments[number] = record
        return record

    def run(self, run_id: str, **fields: Any) -> Run:
        record = Run(run_id, **fields)
        if record.experiment_id not in self.experiments:
            self.experiment(record.experiment_id)
        with self.engine.begin() as conn:
            run_key = conn.execute(schema.runs.insert().values(
                run_uuid=run_id, experiment_id=record.experiment_id, user_id=record.user_id,
                status=record.status, start_time=record.start_time, end_time=record.end_time,
                lifecycle_stage=record.lifecycle_stage, artifact_uri=record.artifact_uri,
            )).inserted_primary_key[0]
            for table, values in ((schema.run_params, record.params),
                                  (schema.run_tags, record.tags)):
                if values:
                    conn.execute(table.insert(), [
                        {"run_key": run_key, "key": k, "value": v} for k, v in values.items()])
            for key, value in record.metrics.items():
                kind, stored = _kind(value)
                conn.execute(schema.latest_metrics.insert().values(
                    run_key=run_key, key_id=self._key_id(conn, key), step=0, timestamp=0,
                    value=stored, kind=kind))
            for position, (name, digest, context) in enumerate(record.inputs):
                dataset_key = self._dataset_key(conn, record.experiment_id, name, digest)
                conn.execute(schema.run_inputs.insert().values(
                    run_key=run_key, dataset_key=dataset_key, position=position))
                if context is not None:
                    conn.execute(schema.run_input_tags.insert().values(
                        run_key=run_key, dataset_key=dataset_key, key="mlflow.data.context",
                        value=context))
        self.runs.append(record)
        return record

    def _key_id(self, conn: sa.Connection, key: str) -> int:
        if key not in self.key_ids:
            self.key_ids[key] = conn.execute(
                schema.metric_keys.insert().values(key=key)).inserted_primary_key[0]
        return self.key_ids[key]

    def _dataset_key(self, conn: sa.Connection, experiment_id: int, name: str,
                     digest: str) -> int:
        identity = (experiment_id, name, digest)
        if identity not in self.dataset_keys:
            self.dataset_keys[identity] = conn.execute(schema.datasets.insert().values(
                experiment_id=experiment_id, name=name, digest=digest, source_type="code",
                source="{}")).inserted_primary_key[0]
        return self.dataset_keys[identity]

    def search(self, run_filter: str | RunFilter = "", order_by: Sequence[str] = (),
               view_type: int = ACTIVE, experiment_ids: Sequence[int] = (1,),
               key_ids: Mapping[str, int] | None = None) -> list[str]:
        """The run ids the SQL statement returns, checked against the evaluator's."""
        parsed = parse_run_filter(run_filter) if isinstance(run_filter, str) else run_filter
        ordering = parse_run_order_by(list(order_by))
        statement = run_search_statement(experiment_ids, parsed, ordering, view_type,
                                         self.dialect, key_ids)
        with self.engine.connect() as conn:
            found = [row.run_uuid for row in conn.execute(statement)]
        stages = {ACTIVE: ("active",), DELETED: ("deleted",), ALL: ("active", "deleted")}
        candidates = [r for r in self.runs if r.experiment_id in experiment_ids
                      and r.lifecycle_stage in stages[view_type]]
        matches = compile_run_filter(parsed)
        expected = [r.run_id for r in sort_runs(filter(matches, candidates), ordering)]
        assert found == expected, f"SQL {found} != evaluator {expected}"
        return found

    def search_experiments(self, experiment_filter: str | ExperimentFilter = "",
                           order_by: Sequence[str] = (), view_type: int = ACTIVE) -> list[str]:
        parsed = (parse_experiment_filter(experiment_filter)
                  if isinstance(experiment_filter, str) else experiment_filter)
        ordering = parse_experiment_order_by(list(order_by))
        statement = experiment_search_statement(parsed, ordering, view_type, self.dialect)
        with self.engine.connect() as conn:
            found = [str(row.experiment_id) for row in conn.execute(statement)]
        stages = {ACTIVE: ("active",), DELETED: ("deleted",), ALL: ("active", "deleted")}
        candidates = [e for e in self.experiments.values()
                      if e.lifecycle_stage in stages[view_type]]
        matches = compile_experiment_filter(parsed)
        expected = [e.experiment_id for e in sort_experiments(filter(matches, candidates),
                                                              ordering)]
        assert found == expected, f"SQL {found} != evaluator {expected}"
        return found


@pytest.fixture
def db(engine: sa.Engine) -> Iterator[SearchDb]:
    yield SearchDb(engine)
    with engine.begin() as conn:
        for table in reversed(schema.metadata.sorted_tables):
            conn.execute(table.delete())


def one(kind: str, key: str, comparator: str, value: Any) -> RunFilter:
    """A filter of one clause, for values a filter string cannot spell (line breaks)."""
    return RunFilter((Comparison(kind, key, comparator, value),))  # type: ignore[arg-type]


# --- filters -------------------------------------------------------------------------------

METRIC_VALUES = {"neg_inf": -INF, "neg": -1.5, "zero": 0.0, "two": 2.0, "pos_inf": INF,
                 "nan": NAN}


@pytest.fixture
def metric_runs(db: SearchDb) -> SearchDb:
    for i, (name, value) in enumerate(METRIC_VALUES.items()):
        db.run(name, start_time=i, metrics={"m": value})
    db.run("missing", start_time=10, metrics={"other": 1.0})
    return db


@pytest.mark.parametrize(("filter_string", "expected"), [
    ("metrics.m > 0", ["pos_inf", "two"]),
    ("metrics.m >= 0", ["pos_inf", "two", "zero"]),
    ("metrics.m < 0", ["neg", "neg_inf"]),
    ("metrics.m <= 2", ["two", "zero", "neg", "neg_inf"]),
    ("metrics.m = 2", ["two"]),
    ("metrics.m = 2.0 and metrics.m != 3", ["two"]),
    ("metrics.m != 2", ["nan", "pos_inf", "zero", "neg", "neg_inf"]),
    ("metrics.m > 1e999", []),
    ("metrics.m >= 1e999", ["pos_inf"]),
    ("metrics.m = 1e999", ["pos_inf"]),
    ("metrics.m != 1e999", ["nan", "two", "zero", "neg", "neg_inf"]),
    ("metrics.m < 1e999", ["two", "zero", "neg", "neg_inf"]),
    ("metrics.m <= -1e999", ["neg_inf"]),
    ("metrics.m > -1e999", ["pos_inf", "two", "zero", "neg"]),
    ("metrics.m = -0.0", ["zero"]),
    ("metrics.m > -1.5", ["pos_inf", "two", "zero"]),
    ("metrics.other = 1", ["missing"]),
    ("metrics.never > 0", []),
    ("metrics.never != 0", []),
])
def test_metric_comparisons(metric_runs: SearchDb, filter_string: str,
                            expected: list[str]) -> None:
    assert metric_runs.search(filter_string) == expected


def test_metric_comparison_with_nan_is_only_true_for_not_equal(metric_runs: SearchDb) -> None:
    everyone = ["nan", "pos_inf", "two", "zero", "neg", "neg_inf"]
    for op in (">", ">=", "=", "<", "<="):
        assert metric_runs.search(one("metric", "m", op, NAN)) == []
    assert metric_runs.search(one("metric", "m", "!=", NAN)) == everyone


def test_metric_key_ids_may_be_given_or_stale(metric_runs: SearchDb) -> None:
    ids = dict(metric_runs.key_ids)
    assert metric_runs.search("metrics.m > 0", ["metrics.m"], key_ids=ids) == ["two", "pos_inf"]
    stale = {"other": ids["other"]}  # 'm' unknown to the caller: looked up in the statement
    assert metric_runs.search("metrics.m > 0", ["metrics.m"], key_ids=stale) == [
        "two", "pos_inf"]


@pytest.fixture
def string_runs(db: SearchDb) -> SearchDb:
    values = {
        "plain": "abc", "upper": "ABC", "blank": "abc ", "tab": "abc\t", "empty": "",
        "backslash": "a\\c", "bracket": "a[b]c", "star": "a*c", "question": "a?c",
        "percent": "a%c", "underscore": "a_c", "bang": "a!c", "newline": "a\nc",
        "accent": "aéc", "caret": "a^c",
    }
    for i, (run_id, value) in enumerate(values.items()):
        db.run(run_id, start_time=100 - i, params={"p": value}, tags={"t": value})
    db.run("unset", start_time=0)
    return db


@pytest.mark.parametrize("kind", ["param", "tag"])
@pytest.mark.parametrize(("comparator", "value", "expected"), [
    ("=", "abc", ["plain"]),
    ("=", "abc ", ["blank"]),
    ("=", "ABC", ["upper"]),
    ("=", "", ["empty"]),
    ("=", "a\\c", ["backslash"]),
    ("!=", "abc", ["upper", "blank", "tab", "empty", "backslash", "bracket", "star",
                   "question", "percent", "underscore", "bang", "newline", "accent", "caret"]),
    ("LIKE", "abc", ["plain"]),
    ("LIKE", "abc%", ["plain", "blank", "tab"]),
    ("LIKE", "a_c", ["plain", "backslash", "star", "question", "percent", "underscore",
                     "bang", "newline", "accent", "caret"]),
    ("LIKE", "a%c", ["plain", "backslash", "bracket", "star", "question", "percent",
                     "underscore", "bang", "newline", "accent", "caret"]),
    ("LIKE", "%", ["plain", "upper", "blank", "tab", "empty", "backslash", "bracket", "star",
                   "question", "percent", "underscore", "bang", "newline", "accent",
                   "caret"]),
    ("LIKE", "a\\c", ["backslash"]),
    ("LIKE", "a\\%", ["backslash"]),
    ("LIKE", "a[b]c", ["bracket"]),
    ("LIKE", "a[b]%", ["bracket"]),
    ("LIKE", "a[bc]c", []),
    ("LIKE", "a*c", ["star"]),
    ("LIKE", "a?c", ["question"]),
    ("LIKE", "a!c", ["bang"]),
    ("LIKE", "a!%", ["bang"]),
    ("LIKE", "a^c", ["caret"]),
    ("LIKE", "a\nc", ["newline"]),
    ("LIKE", "a%\n%", ["newline"]),
    ("LIKE", "ABC", ["upper"]),
    ("LIKE", "A%", ["upper"]),
    ("LIKE", "%bc", ["plain"]),
    ("LIKE", "_bc_", ["blank", "tab"]),
    ("LIKE", "aé%", ["accent"]),
    ("ILIKE", "abc", ["plain", "upper"]),
    ("ILIKE", "Ab_", ["plain", "upper"]),
    ("ILIKE", "%B%", ["plain", "upper", "blank", "tab", "bracket"]),
    ("ILIKE", "A\\C", ["backslash"]),
    ("ILIKE", "A[B]C", ["bracket"]),
    ("ILIKE", "A*C", ["star"]),
    ("IS NULL", None, ["unset"]),
])
def test_string_comparisons(string_runs: SearchDb, kind: str, comparator: str, value: Any,
                            expected: list[str]) -> None:
    assert string_runs.search(one(kind, "p" if kind == "param" else "t", comparator,
                                  value)) == expected


def test_is_not_null_and_contradictions(string_runs: SearchDb) -> None:
    present = string_runs.search("params.p IS NOT NULL")
    assert "unset" not in present and len(present) == 15
    assert string_runs.search("params.p IS NULL and params.p = 'abc'") == []
    assert string_runs.search("params.p IS NULL and params.p IS NOT NULL") == []
    assert string_runs.search("params.p IS NOT NULL and params.p LIKE 'a_c' "
                              "and params.p != 'abc' and tags.t LIKE '%c'") == [
        "backslash", "star", "question", "percent", "underscore", "bang", "newline",
        "accent", "caret"]
    assert string_runs.search("params.nothing IS NULL and tags.t = 'abc'") == ["plain"]
    assert string_runs.search("params.nothing != 'x'") == []


def test_keys_compare_exactly(db: SearchDb) -> None:
    # MySQL's utf8mb4_bin ignores trailing blanks in '=': the key 'k ' is not the key 'k'.
    db.run("a", params={"k": "v"}, tags={"k": "v"}, metrics={"k": 1.0},
           inputs=[("d", "1", "ctx")])
    assert db.search("params.`k ` = 'v'") == []
    assert db.search("tags.`k ` IS NULL and tags.k IS NOT NULL") == ["a"]
    assert db.search("metrics.`k ` > 0") == []
    assert db.search("metrics.k > 0", ["params.`k `", "metrics.`k `"]) == ["a"]


def test_filter_and_order_on_the_same_key(string_runs: SearchDb) -> None:
    assert string_runs.search("params.p LIKE 'a%c'", ["params.p DESC"]) == [
        "accent", "plain", "underscore", "caret", "backslash", "bracket", "question", "star",
        "percent", "bang", "newline"]
    assert string_runs.search("params.p IS NULL", ["params.p"]) == ["unset"]
    assert string_runs.search("params.p IS NOT NULL and params.p != 'abc'",
                              ["params.p"])[:3] == ["empty", "upper", "newline"]


def test_run_attributes(db: SearchDb) -> None:
    db.run("a", start_time=1000, end_time=2000, user_id="alice", status="FINISHED",
           artifact_uri="s3://b/a")
    db.run("b", start_time=3000, end_time=None, user_id="Bob", status="RUNNING",
           artifact_uri=None)
    db.run("c", start_time=None, end_time=5000, user_id=None, status="FAILED",
           artifact_uri="file:///c")
    assert db.search("attributes.status = 'RUNNING'") == ["b"]
    assert db.search("status != 'RUNNING'") == ["a", "c"]
    assert db.search("attributes.user_id LIKE 'b%'") == []
    assert db.search("attributes.user_id ILIKE 'b%'") == ["b"]
    assert db.search("user_id != 'alice'") == ["b"]
    assert db.search("artifact_uri LIKE '%:/%'") == ["a", "c"]
    assert db.search("artifact_uri != 'x'") == ["a", "c"]
    assert db.search("start_time > 1000") == ["b"]
    assert db.search("start_time >= 1000") == ["b", "a"]
    assert db.search("created < 3000") == ["a"]
    assert db.search("start_time > 999.5") == ["b", "a"]
    assert db.search("start_time >= 1000.5") == ["b"]
    assert db.search("start_time <= 2999.9") == ["a"]
    assert db.search("start_time = 1000.0") == ["a"]
    assert db.search("start_time = 1000.5") == []
    assert db.search("start_time != 1000.5") == ["b", "a"]
    assert db.search("start_time != 1000") == ["b"]
    assert db.search("start_time < 100000000000000000000000") == ["b", "a"]
    assert db.search("start_time > -100000000000000000000000") == ["b", "a"]
    assert db.search("start_time = 100000000000000000000000") == []
    assert db.search("end_time != 0") == ["a", "c"]
    assert db.search("end_time < 1e999") == ["a", "c"]
    assert db.search("end_time > 1e999") == []
    assert db.search("end_time >= -1e999 and end_time <= 2000") == ["a"]


def test_run_id_comparisons(db: SearchDb) -> None:
    for run_id in ("r1", "r2", "r3", "R1"):
        db.run(run_id)
    assert db.search("attributes.run_id IN ('r1', 'r3', 'zz')") == ["r1", "r3"]
    assert db.search("run_id NOT IN ('r1', 'r3')") == ["R1", "r2"]
    assert db.search("run_id = 'r2'") == ["r2"]
    assert db.search("run_id != 'r2'") == ["R1", "r1", "r3"]
    assert db.search("run_id LIKE 'r%'") == ["r1", "r2", "r3"]
    assert db.search("run_id ILIKE 'r1'") == ["R1", "r1"]
    assert db.search(one("attribute", "run_id", "=", ("r1",))) == []
    assert db.search(one("attribute", "run_id", "!=", ("r1",))) == ["R1", "r1", "r2", "r3"]
    assert db.search(one("attribute", "run_id", "IN", ("r1 ",))) == []


def test_run_name_is_the_run_name_tag(db: SearchDb) -> None:
    db.run("a", tags={"mlflow.runName": "alpha"})
    db.run("b", tags={"mlflow.runName": "Beta"})
    db.run("c")
    assert db.search("run_name = 'alpha'") == ["a"]
    assert db.search("attributes.`Run name` != 'alpha'") == ["b"]
    assert db.search("run_name ILIKE 'B%'") == ["b"]
    # The grammar allows lists for run_id only; the compiler takes them for any string.
    assert db.search(one("attribute", "run_name", "IN", ("alpha", "Beta"))) == ["a", "b"]
    assert db.search(one("attribute", "run_name", "NOT IN", ("alpha",))) == ["b"]
    assert db.search("tags.`mlflow.runName` = 'alpha'") == ["a"]
    assert db.search("", ["attributes.run_name DESC"]) == ["a", "b", "c"]
    assert db.search("run_name != 'x'", ["run_name", "tags.`mlflow.runName` DESC"]) == [
        "b", "a"]


def test_datasets_match_if_any_input_does(db: SearchDb) -> None:
    db.run("two", inputs=[("train", "d1", "training"), ("eval", "d2", None)])
    db.run("one", inputs=[("eval", "d2", "evaluation")])
    db.run("none")
    assert db.search("datasets.name = 'eval'") == ["none", "one", "two"][1:]
    assert db.search("datasets.name != 'eval'") == ["two"]
    assert db.search("datasets.name != 'nothing'") == ["one", "two"]
    assert db.search("datasets.digest IN ('d1')") == ["two"]
    assert db.search("datasets.digest NOT IN ('d1')") == ["one", "two"]
    assert db.search("datasets.context = 'training'") == ["two"]
    assert db.search("datasets.context != 'training'") == ["one"]
    assert db.search("datasets.context LIKE '%ing'") == ["two"]
    assert db.search("datasets.context ILIKE 'EVAL%'") == ["one"]
    assert db.search("datasets.name = 'train' and datasets.context = 'evaluation'") == []
    assert db.search("datasets.name = 'eval' and datasets.context = 'training'") == ["two"]
    assert db.search(one("dataset", "name", "=", ("eval",))) == []
    assert db.search(one("dataset", "name", "!=", ("eval",))) == ["one", "two"]


def test_view_types_and_experiments(db: SearchDb) -> None:
    db.run("a", experiment_id=1, start_time=1)
    db.run("b", experiment_id=1, start_time=2, lifecycle_stage="deleted")
    db.run("c", experiment_id=2, start_time=3)
    db.run("d", experiment_id=3, start_time=4)
    assert db.search() == ["a"]
    assert db.search(view_type=DELETED) == ["b"]
    assert db.search(view_type=ALL) == ["b", "a"]
    assert db.search(view_type=ALL, experiment_ids=[1, 2]) == ["c", "b", "a"]
    assert db.search(experiment_ids=[2, 3]) == ["d", "c"]
    assert db.search(experiment_ids=[]) == []
    assert db.search(experiment_ids=[99]) == []
    with pytest.raises(ValueError, match="view type"):
        run_search_statement([1], RunFilter(), (), 7, "sqlite")


# --- ordering ------------------------------------------------------------------------------

def test_default_order_is_start_time_desc_then_run_id(db: SearchDb) -> None:
    db.run("b", start_time=5)
    db.run("a", start_time=5)
    db.run("c", start_time=7)
    db.run("n", start_time=None)
    db.run("m", start_time=None)
    db.run("z", start_time=-1)
    assert db.search() == ["c", "a", "b", "z", "m", "n"]
    assert db.search("", ["start_time"]) == ["z", "a", "b", "c", "m", "n"]
    assert db.search("", ["created DESC"]) == ["c", "a", "b", "z", "m", "n"]
    assert db.search("", ["run_id DESC"]) == ["z", "n", "m", "c", "b", "a"]


@pytest.mark.parametrize(("order_by", "expected"), [
    (["metrics.m"], ["neg_inf", "neg", "zero", "two", "pos_inf", "nan", "missing"]),
    (["metrics.m DESC"], ["pos_inf", "two", "zero", "neg", "neg_inf", "nan", "missing"]),
    (["metrics.other DESC", "metrics.m"], ["missing", "neg_inf", "neg", "zero", "two",
                                            "pos_inf", "nan"]),
])
def test_metric_order_present_then_nan_then_missing(metric_runs: SearchDb,
                                                    order_by: list[str],
                                                    expected: list[str]) -> None:
    assert metric_runs.search("", order_by) == expected


def test_metric_ties_keep_the_next_order(db: SearchDb) -> None:
    db.run("a", start_time=1, metrics={"m": 1.0, "n": NAN})
    db.run("b", start_time=2, metrics={"m": 1.0})
    db.run("c", start_time=3, metrics={"m": NAN, "n": 2.0})
    db.run("d", start_time=4, metrics={"m": NAN, "n": 1.0})
    db.run("e", start_time=5)
    db.run("f", start_time=6)
    db.run("g", start_time=7, metrics={"m": -0.0})
    db.run("h", start_time=8, metrics={"m": 0.0})
    assert db.search("", ["metrics.m"]) == ["h", "g", "b", "a", "d", "c", "f", "e"]
    assert db.search("", ["metrics.m DESC", "metrics.n"]) == [
        "a", "b", "h", "g", "d", "c", "f", "e"]
    assert db.search("metrics.n != 5", ["metrics.m DESC", "metrics.n DESC"]) == [
        "a", "c", "d"]


def test_string_order_is_by_code_point_with_missing_last(db: SearchDb) -> None:
    values = {"lower": "a", "upper": "B", "blank": "a ", "tab": "a\t", "accent": "é",
              "digit": "9", "long": "ab", "empty": ""}
    for i, (run_id, value) in enumerate(values.items()):
        db.run(run_id, start_time=i, params={"p": value}, user_id=value)
    db.run("unset", start_time=100, user_id=None)
    code_points = ["empty", "digit", "upper", "lower", "tab", "blank", "long", "accent"]
    assert db.search("", ["params.p"]) == [*code_points, "unset"]
    assert db.search("", ["params.p DESC"]) == [*reversed(code_points), "unset"]
    assert db.search("", ["user_id"]) == [*code_points, "unset"]
    assert db.search("", ["attributes.user_id DESC"]) == [*reversed(code_points), "unset"]


def test_order_by_several_fields(db: SearchDb) -> None:
    db.run("a", start_time=1, end_time=None, status="FINISHED", params={"p": "x"},
           artifact_uri="u2")
    db.run("b", start_time=2, end_time=10, status="FAILED", params={"p": "x"},
           artifact_uri="u1")
    db.run("c", start_time=3, end_time=10, status="FINISHED", tags={"t": "1"},
           artifact_uri=None)
    db.run("d", start_time=4, end_time=5, status="FINISHED", params={"p": "y"},
           artifact_uri="u1")
    assert db.search("", ["params.p", "end_time DESC"]) == ["b", "a", "d", "c"]
    assert db.search("", ["end_time", "status DESC"]) == ["d", "c", "b", "a"]
    assert db.search("", ["end_time DESC", "run_id DESC"]) == ["c", "b", "d", "a"]
    assert db.search("", ["artifact_uri"]) == ["d", "b", "a", "c"]
    assert db.search("", ["artifact_uri DESC", "tags.t"]) == ["a", "d", "b", "c"]
    assert db.search("params.p = 'x'", ["status"]) == ["b", "a"]


# --- experiments ---------------------------------------------------------------------------

def test_experiment_filters(db: SearchDb) -> None:
    db.experiment(1, "alpha", creation_time=100, last_update_time=None, tags={"k": "v"})
    db.experiment(10, "Beta", creation_time=None, last_update_time=5, tags={"k": "w"})
    db.experiment(9, "gamma", creation_time=300, lifecycle_stage="deleted")
    db.experiment(123456789012345678, "big", creation_time=100, tags={"k": "v "})
    assert db.search_experiments("name = 'alpha'") == ["1"]
    assert db.search_experiments("name LIKE '%a'") == ["1", "10"]
    assert db.search_experiments("name ILIKE 'b%'") == ["123456789012345678", "10"]
    assert db.search_experiments("name != 'alpha'") == ["123456789012345678", "10"]
    assert db.search_experiments("experiment_id = '10'") == ["10"]
    assert db.search_experiments("experiment_id = '010'") == []
    assert db.search_experiments("experiment_id != '010'") == ["1", "123456789012345678", "10"]
    assert db.search_experiments("experiment_id != '1'") == ["123456789012345678", "10"]
    assert db.search_experiments("experiment_id IN ('1', '10', '01', 'x')") == ["1", "10"]
    assert db.search_experiments("experiment_id NOT IN ('1', 'x')") == [
        "123456789012345678", "10"]
    assert db.search_experiments("experiment_id NOT IN ('x')") == [
        "1", "123456789012345678", "10"]
    assert db.search_experiments("experiment_id LIKE '1%'") == [
        "1", "123456789012345678", "10"]
    assert db.search_experiments("experiment_id LIKE '1_'") == ["10"]
    assert db.search_experiments("creation_time > 99.5") == ["1", "123456789012345678"]
    assert db.search_experiments("creation_time != 100") == ["10"]
    assert db.search_experiments("creation_time != 100.5") == ["1", "123456789012345678", "10"]
    assert db.search_experiments("creation_time = 100") == ["1", "123456789012345678"]
    assert db.search_experiments("last_update_time < 10") == ["123456789012345678", "10"]
    assert db.search_experiments("last_update_time != 1e999") == [
        "1", "123456789012345678", "10"]
    assert db.search_experiments("tags.k = 'v'") == ["1"]
    assert db.search_experiments("tags.k LIKE 'v%'") == ["1", "123456789012345678"]
    assert db.search_experiments("tags.k != 'v'") == ["123456789012345678", "10"]
    assert db.search_experiments("tags.k IS NULL") == []
    assert db.search_experiments("tags.other IS NULL and tags.k ILIKE 'W'") == ["10"]
    assert db.search_experiments("tags.k IS NULL and tags.k = 'v'") == []
    assert db.search_experiments("tags.k IS NOT NULL", view_type=ALL) == [
        "1", "123456789012345678", "10"]
    assert db.search_experiments("", view_type=DELETED) == ["9"]


def test_experiment_order(db: SearchDb) -> None:
    db.experiment(2, "b", creation_time=5, last_update_time=None)
    db.experiment(10, "a", creation_time=5, last_update_time=1)
    db.experiment(9, "c", creation_time=None, last_update_time=1)
    db.experiment(0, "Default", creation_time=7, last_update_time=2, lifecycle_stage="deleted")
    # experiment_id compares as a string: '10' < '2' < '9'
    assert db.search_experiments() == ["10", "2", "9"]
    assert db.search_experiments(view_type=ALL) == ["0", "10", "2", "9"]
    assert db.search_experiments("", ["name"]) == ["10", "2", "9"]
    assert db.search_experiments("", ["name DESC"]) == ["9", "2", "10"]
    assert db.search_experiments("", ["creation_time"]) == ["2", "10", "9"]
    assert db.search_experiments("", ["last_update_time DESC"]) == ["9", "10", "2"]
    assert db.search_experiments("", ["last_update_time"], ALL) == ["9", "10", "0", "2"]
    assert db.search_experiments("", ["experiment_id DESC"]) == ["9", "2", "10"]
    assert db.search_experiments("", ["creation_time DESC", "experiment_id"]) == [
        "10", "2", "9"]
    assert db.search_experiments("", ["name DESC", "creation_time", "name"]) == [
        "9", "2", "10"]


# --- statements ----------------------------------------------------------------------------

DIALECTS = {"sqlite": sqlite.dialect(), "postgresql": postgresql.dialect(),
            "mysql": mysql.dialect(), "mssql": mssql.dialect()}
NEEDLES = ("needle-one", "needle%two", "needle_three", "needle'four", "needle\\five")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_filter_values_are_bound_parameters(dialect: str) -> None:
    run_filter = RunFilter((
        Comparison("param", NEEDLES[0], "=", NEEDLES[1]),
        Comparison("tag", NEEDLES[2], "LIKE", NEEDLES[3]),
        Comparison("tag", NEEDLES[2], "ILIKE", NEEDLES[4]),
        Comparison("metric", NEEDLES[3], ">", 12345.678),
        Comparison("attribute", "run_id", "IN", (NEEDLES[4], NEEDLES[0])),
        Comparison("attribute", "user_id", "!=", NEEDLES[1]),
        Comparison("attribute", "start_time", ">", 987654321),
        Comparison("dataset", "context", "LIKE", NEEDLES[2]),
        Comparison("dataset", "name", "NOT IN", (NEEDLES[0],)),
        Comparison("attribute", "run_name", "=", NEEDLES[3]),
        Comparison("param", NEEDLES[4], "IS NULL", None),
    ))
    order_by = parse_run_order_by(["metrics.`needle'four` DESC", "params.`needle\\five`"])
    statement = run_search_statement([1, 2], run_filter, order_by, ALL, dialect)
    compiled = statement.compile(dialect=DIALECTS[dialect])
    text = str(compiled)
    assert "987654321" not in text and "12345.678" not in text
    values = [str(v) for v in compiled.params.values()]
    expanded = [str(x) for v in compiled.params.values() if isinstance(v, list) for x in v]
    for needle in NEEDLES:
        assert needle not in text and needle.replace("'", "''") not in text
        assert any(needle in v for v in values + expanded), needle
    assert "needle" not in text

    experiment_filter = ExperimentFilter((
        Comparison("attribute", "name", "LIKE", NEEDLES[0]),
        Comparison("tag", NEEDLES[1], "=", NEEDLES[2]),
        Comparison("attribute", "experiment_id", "IN", ("123456",)),
        Comparison("attribute", "creation_time", "!=", 424242),
    ))
    statement = experiment_search_statement(
        experiment_filter, parse_experiment_order_by(["name"]), ACTIVE, dialect)
    text = str(statement.compile(dialect=DIALECTS[dialect]))
    assert "needle" not in text and "123456" not in text and "424242" not in text


@pytest.mark.parametrize(("like", "glob", "escaped", "mssql_escaped"), [
    ("a%b_c", "a*b?c", "a%b_c", "a%b_c."),
    ("*?[]", "[*][?][[]]", "*?[]", "*?[[]]."),
    ("!\\", "!\\", "!!\\", "!\\."),
])
def test_patterns(like: str, glob: str, escaped: str, mssql_escaped: str) -> None:
    assert glob_pattern(like) == glob
    assert escaped_like(like, "postgresql") == escaped_like(like, "mysql") == escaped
    assert escaped_like(like, "mssql") == mssql_escaped


@pytest.mark.parametrize("dialect", DIALECTS)
def test_no_column_is_ordered_twice(dialect: str) -> None:
    # SQL Server rejects a column repeated in ORDER BY; run_name is its tag.
    def order_by_text(statement: sa.Select[Any]) -> str:
        return str(statement.compile(dialect=DIALECTS[dialect])).split("ORDER BY")[1]

    order_by = parse_run_order_by(["run_name", "tags.`mlflow.runName` DESC", "start_time",
                                   "run_id"])
    text = order_by_text(run_search_statement([1], RunFilter(), order_by, ACTIVE, dialect))
    assert text.count("o0.value") == (2 if dialect in ("mysql", "mssql") else 1)  # + IS NULL
    assert text.count("start_time") == 1 + (dialect in ("mysql", "mssql"))
    assert text.count("run_uuid") == 1
    order_by = parse_experiment_order_by(["name", "name DESC"])
    text = order_by_text(experiment_search_statement(ExperimentFilter(), order_by, ACTIVE,
                                                     dialect))
    assert text.count("name") == 1


def test_unknown_dialect() -> None:
    with pytest.raises(ValueError, match="oracle"):
        run_search_statement([1], RunFilter(), (), ACTIVE, "oracle")
    assert experiment_search_statement(ExperimentFilter(), (), ACTIVE, "mariadb") is not None
