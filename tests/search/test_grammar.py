"""The search grammar: what parses, into what, and the exact messages of what does not."""

from __future__ import annotations

from typing import Any

import pytest

from trackstore.exceptions import INVALID_PARAMETER_VALUE, TrackstoreError
from trackstore.search import (
    Comparison,
    ExperimentFilter,
    KeyRefs,
    OrderBy,
    RunFilter,
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_run_filter,
    parse_run_order_by,
    referenced_keys,
)

RUN_KEYS = ("'{'artifact_uri', 'end_time', 'run_id', 'run_name', 'start_time', 'status', "
            "'user_id', 'created', 'Created', 'run name', 'Run name', 'Run Name'}'")
ORDER_KEYS = ("'{'artifact_uri', 'end_time', 'run_id', 'run_name', 'start_time', 'status', "
              "'user_id', 'created', 'Created'}'")
EXPERIMENT_KEYS = "'{'name', 'experiment_id', 'creation_time', 'last_update_time'}'"
ENTITIES = "['metric', 'parameter', 'tag', 'attribute', 'dataset']"


def clauses(filter_string: str) -> list[tuple[Any, ...]]:
    return [(c.kind, c.key, c.comparator, c.value)
            for c in parse_run_filter(filter_string).clauses]


def run_error(filter_string: str) -> str:
    with pytest.raises(TrackstoreError) as info:
        parse_run_filter(filter_string)
    assert info.value.error_code == INVALID_PARAMETER_VALUE
    return info.value.message


def test_the_parsed_example_of_the_spec() -> None:
    parsed = parse_run_filter(
        "metrics.acc >= 0.9 AND params.`my param` = 'x' AND tags.\"mlflow.user\" LIKE 'b%' "
        "AND attributes.run_id IN ('a','b') AND run_name != 'z' AND datasets.name = 'ds' "
        "AND params.q IS NULL")
    assert parsed == RunFilter((
        Comparison("metric", "acc", ">=", 0.9),
        Comparison("param", "my param", "=", "x"),
        Comparison("tag", "mlflow.user", "LIKE", "b%"),
        Comparison("attribute", "run_id", "IN", ("a", "b")),
        Comparison("attribute", "run_name", "!=", "z"),
        Comparison("dataset", "name", "=", "ds"),
        Comparison("param", "q", "IS NULL", None),
    ))
    assert parsed.metric_keys == {"acc"}
    assert parsed.param_keys == {"my param", "q"}
    assert parsed.tag_keys == {"mlflow.user"}
    assert parsed.uses_datasets


@pytest.mark.parametrize(("filter_string", "expected"), [
    # entities and their aliases
    ("metrics.m > 1", ("metric", "m", ">", 1.0)),
    ("metric.m >= -2", ("metric", "m", ">=", -2.0)),
    ("params.p = 'v'", ("param", "p", "=", "v")),
    ("param.p != 'v'", ("param", "p", "!=", "v")),
    ("parameter.p LIKE 'v%'", ("param", "p", "LIKE", "v%")),
    ("parameters.p ILIKE 'V'", ("param", "p", "ILIKE", "V")),
    ("tags.t = 'v'", ("tag", "t", "=", "v")),
    ("tag.t IS NOT NULL", ("tag", "t", "IS NOT NULL", None)),
    ("attributes.status = 'RUNNING'", ("attribute", "status", "=", "RUNNING")),
    ("attribute.user_id = 'u'", ("attribute", "user_id", "=", "u")),
    ("attr.artifact_uri LIKE 's3://%'", ("attribute", "artifact_uri", "LIKE", "s3://%")),
    ("run.run_id = 'r'", ("attribute", "run_id", "=", "r")),
    ("datasets.digest = 'd'", ("dataset", "digest", "=", "d")),
    ("dataset.context IN ('train', 'eval')", ("dataset", "context", "IN", ("train", "eval"))),
    ("datasets.name NOT IN ('a')", ("dataset", "name", "NOT IN", ("a",))),
    # bare attributes and aliases
    ("run_id = 'r'", ("attribute", "run_id", "=", "r")),
    ("run_name = 'n'", ("attribute", "run_name", "=", "n")),
    ("`run name` = 'n'", ("attribute", "run_name", "=", "n")),
    ('"Run name" = \'n\'', ("attribute", "run_name", "=", "n")),
    ("`Run Name` = 'n'", ("attribute", "run_name", "=", "n")),
    ("created > 5", ("attribute", "start_time", ">", 5)),
    ("Created <= 5.5", ("attribute", "start_time", "<=", 5.5)),
    ("end_time != 0", ("attribute", "end_time", "!=", 0)),
    ("start_time = 1e3", ("attribute", "start_time", "=", 1000.0)),
    # comparators, case-insensitive keywords
    ("metrics.m = 1", ("metric", "m", "=", 1.0)),
    ("metrics.m != 1", ("metric", "m", "!=", 1.0)),
    ("metrics.m < .5", ("metric", "m", "<", 0.5)),
    ("metrics.m <= 5.", ("metric", "m", "<=", 5.0)),
    ("metrics.m > 1.5E-3", ("metric", "m", ">", 0.0015)),
    ("tags.t like 'v'", ("tag", "t", "LIKE", "v")),
    ("tags.t iLiKe 'v'", ("tag", "t", "ILIKE", "v")),
    ("tags.t is null", ("tag", "t", "IS NULL", None)),
    ("params.p Is Not Null", ("param", "p", "IS NOT NULL", None)),
    ("run_id in ('a')", ("attribute", "run_id", "IN", ("a",))),
    ("run_id not  in ('a', \"b\",)", ("attribute", "run_id", "NOT IN", ("a", "b"))),
    ("run_id IN ('a' 'b')", ("attribute", "run_id", "IN", ("ab",))),
    # a list compared with = is accepted (and never equal), as in MLflow
    ("run_id = ('a', 'b')", ("attribute", "run_id", "=", ("a", "b"))),
    # quoting of keys and values: quotes are stripped, nothing is unescaped
    ("metrics.`a b` > 1", ("metric", "a b", ">", 1.0)),
    ('metrics."a b" > 1', ("metric", "a b", ">", 1.0)),
    ("metrics.'a b' > 1", ("metric", "a b", ">", 1.0)),
    ("`metrics`.m > 1", ("metric", "m", ">", 1.0)),
    ("tags.mlflow.source.name = 'x'", ("tag", "mlflow.source.name", "=", "x")),
    ("tags.`a-b` = 'x'", ("tag", "a-b", "=", "x")),
    ("params.p = \"v\"", ("param", "p", "=", "v")),
    ("params.p = 'it''s'", ("param", "p", "=", "it''s")),
    ("params.p = ''", ("param", "p", "=", "")),
    ("metrics.`a``b` > 1", ("metric", "a``b", ">", 1.0)),
    # odd spellings MLflow tolerates
    ("metrics.m>1", ("metric", "m", ">", 1.0)),
    ("\tmetrics.m\n>\n1 ", ("metric", "m", ">", 1.0)),
    ("metrics. m > 1", ("metric", " m", ">", 1.0)),
    ("metrics.m. > 1", ("metric", "m.", ">", 1.0)),
    ("metrics.* > 1", ("metric", "*", ">", 1.0)),
    ("metrics.1abc > 1", ("metric", "1abc", ">", 1.0)),
    ("metrics.select > 1", ("metric", "select", ">", 1.0)),
    ("metrics.été > 1", ("metric", "été", ">", 1.0)),
    # keys named like aliases are literal outside attributes (MLflow would rename them)
    ("metrics.created > 1", ("metric", "created", ">", 1.0)),
    ("params.`run name` = 'x'", ("param", "run name", "=", "x")),
])
def test_valid_clauses(filter_string: str, expected: tuple[Any, ...]) -> None:
    assert clauses(filter_string) == [expected]


@pytest.mark.parametrize("filter_string", [None, "", " ", "\n\t"])
def test_empty_filters_match_everything(filter_string: str | None) -> None:
    if filter_string and filter_string.strip() == "":
        # Only None and "" are empty; white space alone cannot be parsed (as in MLflow).
        assert run_error(filter_string) == f"Invalid filter '{filter_string}'. Could not be parsed."
    else:
        assert parse_run_filter(filter_string) == RunFilter()


@pytest.mark.parametrize("filter_string", [
    "metrics.a > 1 and params.b = 'c'",
    "metrics.a > 1 AnD params.b = 'c'",
    "metrics.a > 1\nAND\nparams.b = 'c'",
    "metrics.a > 1 AND AND params.b = 'c'",
    "AND metrics.a > 1 AND params.b = 'c' AND",
    "metrics.a > 1 params.b = 'c'",  # MLflow does not require the AND
])
def test_conjunctions(filter_string: str) -> None:
    assert clauses(filter_string) == [("metric", "a", ">", 1.0), ("param", "b", "=", "c")]


@pytest.mark.parametrize(("filter_string", "message"), [
    ("metrics.a > 1 OR metrics.b < 2", "Invalid clause(s) in filter string: 'OR'"),
    ("metrics.a > 1 or metrics.b < 2", "Invalid clause(s) in filter string: 'or'"),
    ("(metrics.a > 1)", "Invalid clause(s) in filter string: '(metrics.a > 1)'"),
    ("metrics.a > 1 AND (metrics.b > 2)",
     "Invalid clause(s) in filter string: '(metrics.b > 2)'"),
    ("metrics.a > 1; metrics.b < 2",
     "Search filter contained multiple expression 'metrics.a > 1; metrics.b < 2'. "
     "Provide AND-ed expression list."),
    ("metrics.a > 1;", "Invalid clause(s) in filter string: ';'"),
    ("metrics.a > 1, metrics.b > 2",
     "Invalid clause(s) in filter string: 'metrics.a > 1, metrics.b > 2'"),
    ("NOT metrics.a > 1", "Invalid clause(s) in filter string: 'NOT'"),
    ("metrics.a > 1 -- note", "Invalid clause(s) in filter string: '-- note'"),
    ("metrics.a", "Invalid clause(s) in filter string: 'metrics.a'"),
    ("metrics.a >", "Invalid clause(s) in filter string: 'metrics.a', '>'"),
    ("params.a = 'x' foo", "Invalid clause(s) in filter string: 'params.a = 'x' foo'"),
    ("metrics.in > 1", "Invalid clause(s) in filter string: 'metrics.', 'in', '>', '1'"),
    ("run_id IN 'a'", "Invalid clause(s) in filter string: 'run_id', 'IN', ''a''"),
    ("tags.a IS NOT  NULL", "Invalid clause(s) in filter string: 'tags.a', 'IS', 'NOT  NULL'"),
    ("1 > metrics.a", "Invalid comparison clause. Expected 'Identifier' found '1'"),
    ("metrics.a = b = c", "Invalid comparison clause. Expected 'Identifier' found 'metrics.a = b'"),
    ("metrics.a > 1 /* c */ AND metrics.b > 1",
     "Invalid comparison clause. Expected 3 tokens found 4"),
    ("unknown.a = 'x'", f"Invalid entity type 'unknown'. Valid values are {ENTITIES}"),
    ('"tags".a = \'x\'', f"Invalid entity type '\"tags\"'. Valid values are {ENTITIES}"),
    ("metrics .a > 1", f"Invalid entity type 'metrics '. Valid values are {ENTITIES}"),
    ("foo = 'x'", f"Invalid attribute key 'foo' specified. Valid keys are {RUN_KEYS}"),
    ("datasets.foo = 'x'",
     "Invalid dataset key 'foo' specified. Valid keys are '{'name', 'digest', 'context'}'"),
    ("metrics.a > '1'", "Expected numeric value type for metric. Found '1'"),
    ("metrics.a > 1abc", "Expected numeric value type for metric. Found 1abc"),
    ("metrics.a > 1 + 2", "Expected numeric value type for metric. Found 1 + 2"),
    ("params.a = 1",
     "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 1"),
    ("tags.a = NULL", "Expected a quoted string value for tag (e.g. 'my-value'). Got value NULL"),
    ("params.a = x",
     "Parameter value is either not quoted or unidentified quote types used for string value x."
     " Use either single or double quotes."),
    ("start_time > '1'",
     "Expected numeric value type for numeric attribute: start_time. Found '1'"),
    ("status = 1", "Expected a quoted string value for attributes. Got value 1"),
    ("datasets.name = 1",
     "Expected a quoted string value for dataset attributes. Got value 1"),
    ("run_name IN ('a')",
     "Only ['run_id'] attributes support comparison with a list of quoted string values."),
    ("run_id IN ()", "While parsing a list in the query, expected a non-empty list of string "
                     "values, but got empty list"),
    ("run_id IN ('a', 1)", "While parsing a list in the query, expected string value, "
                           "punctuation, or whitespace, but got different type in list: "
                           "('a', 1)"),
    ("run_id IN (a)", "While parsing a list in the query, expected a non-empty list of string "
                      "values, but got ill-formed list."),
    ("metrics.a IS NULL", "IS NULL / IS NOT NULL is only supported for tags and params, "
                          "not for 'metric' 'a'"),
    ("created IS NULL", "IS NULL / IS NOT NULL is only supported for tags and params, "
                        "not for 'attribute' 'created'"),
    ("metrics.a == 1",
     "Invalid comparator '==' not one of '{'>', '>=', '!=', '=', '<', '<='}"),
    ("params.a > 'x'", "Invalid comparator '>' not one of "
                       "'{'!=', '=', 'LIKE', 'ILIKE', 'IS NULL', 'IS NOT NULL'}'"),
    ("tags.a NOT LIKE 'x'", "Invalid comparator 'NOT LIKE' not one of "
                            "'{'!=', '=', 'LIKE', 'ILIKE', 'IS NULL', 'IS NOT NULL'}"),
    ("status > 'x'", "Invalid comparator '>' not one of "
                     "'{'!=', '=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'}'"),
    ("start_time <> 1", "Invalid comparator '<>' not one of "
                        "'{'!=', '=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'}"),
    ("datasets.name > 'x'", "Invalid comparator '>' not one of "
                            "'{'!=', '=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'}"),
    ("run_id LIKE ('a')", "Invalid comparator 'LIKE' for a list of values"),
])
def test_invalid_filters(filter_string: str, message: str) -> None:
    assert run_error(filter_string) == message


def test_parse_errors_come_before_comparator_errors() -> None:
    # MLflow checks comparators only once the whole filter has parsed.
    assert run_error("metrics.a == 1 AND params.b = 1") == (
        "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 1")


def test_parsing_is_cached() -> None:
    text = "metrics.cached_key > 3 AND tags.t = 'x'"
    assert parse_run_filter(text) is parse_run_filter(text)
    assert parse_experiment_filter("name = 'x'") is parse_experiment_filter("name = 'x'")


# --- experiments -----------------------------------------------------------------------------

@pytest.mark.parametrize(("filter_string", "expected"), [
    ("name = 'x'", ("attribute", "name", "=", "x")),
    ("attribute.name LIKE 'x%'", ("attribute", "name", "LIKE", "x%")),
    ("experiment_id IN ('1', '2')", ("attribute", "experiment_id", "IN", ("1", "2"))),
    ("experiment_id LIKE '1%'", ("attribute", "experiment_id", "LIKE", "1%")),
    ("creation_time > 10", ("attribute", "creation_time", ">", 10)),
    ("last_update_time <= 1.5", ("attribute", "last_update_time", "<=", 1.5)),
    ("tags.t = 'v'", ("tag", "t", "=", "v")),
    ("tag.`a b` IS NULL", ("tag", "a b", "IS NULL", None)),
])
def test_experiment_filters(filter_string: str, expected: tuple[Any, ...]) -> None:
    parsed = parse_experiment_filter(filter_string)
    assert [(c.kind, c.key, c.comparator, c.value) for c in parsed.clauses] == [expected]


@pytest.mark.parametrize(("filter_string", "message"), [
    ("name = 'x' OR name = 'y'", "Invalid clause(s) in filter string: OR"),
    ("name = 'x' foo", "Invalid clause(s) in filter string: name = 'x' foo"),
    ("params.a = 'x'", "Invalid entity type 'params'. Valid entity types are "
                       "('attribute', 'tag', 'tags')"),
    ("attr.name = 'x'", "Invalid entity type 'attr'. Valid entity types are "
                        "('attribute', 'tag', 'tags')"),
    ("run_id = 'x'", f"Invalid attribute key 'run_id' specified. Valid keys are "
                     f"{EXPERIMENT_KEYS}"),
    ("name IN ('a')", "Only ['experiment_id'] attributes support comparison with a list of "
                      "quoted string values."),
    ("name IS NULL", "IS NULL / IS NOT NULL is only supported for tags, not for attribute "
                     "'name'"),
    ("creation_time > '1'",
     "Expected numeric value type for numeric attribute: creation_time. Found '1'"),
    ("experiment_id > '1'", "Invalid comparator '>' not one of "
                            "'{'!=', '=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'}'"),
    ("tags.a > 'x'", "Invalid comparator '>' not one of "
                     "'{'!=', '=', 'LIKE', 'ILIKE', 'IS NULL', 'IS NOT NULL'}"),
])
def test_invalid_experiment_filters(filter_string: str, message: str) -> None:
    with pytest.raises(TrackstoreError) as info:
        parse_experiment_filter(filter_string)
    assert info.value.message == message


def test_experiment_filter_keys() -> None:
    assert parse_experiment_filter("tags.a = 'x' AND name = 'y'").tag_keys == {"a"}
    assert parse_experiment_filter(None) == ExperimentFilter()


# --- order_by --------------------------------------------------------------------------------

@pytest.mark.parametrize(("order_by", "expected"), [
    ("metrics.m", OrderBy("metric", "m", True)),
    ("metrics.m DESC", OrderBy("metric", "m", False)),
    ("metrics.m asc", OrderBy("metric", "m", True)),
    ("metrics.`m 1` DESC", OrderBy("metric", "m 1", False)),
    ('metrics."m 1"', OrderBy("metric", "m 1", True)),
    ("metrics.'m 1' desc", OrderBy("metric", "m 1", False)),
    ("params.p", OrderBy("param", "p", True)),
    ("tags.`mlflow.user` DESC", OrderBy("tag", "mlflow.user", False)),
    ("attributes.start_time", OrderBy("attribute", "start_time", True)),
    ("start_time DESC", OrderBy("attribute", "start_time", False)),
    ("created", OrderBy("attribute", "start_time", True)),
    ("Created DESC", OrderBy("attribute", "start_time", False)),
    ("run_name", OrderBy("attribute", "run_name", True)),
    ("status", OrderBy("attribute", "status", True)),
    ("attr.artifact_uri DESC", OrderBy("attribute", "artifact_uri", False)),
])
def test_run_order_by(order_by: str, expected: OrderBy) -> None:
    assert parse_run_order_by([order_by]) == (expected,)


@pytest.mark.parametrize(("order_by", "message"), [
    ("metrics.m ", "Invalid order_by clause 'metrics.m '. Could not be parsed."),
    ("", "Invalid order_by clause ''. Could not be parsed."),
    ("metrics.m ASC DESC", "Invalid order_by clause 'metrics.m ASC DESC'. Could not be parsed."),
    ("metrics.m, metrics.n",
     "Invalid order_by clause 'metrics.m, metrics.n'. Could not be parsed."),
    ("metrics.m sideways", "Invalid ordering key in order_by clause 'metrics.m sideways'."),
    ("run name", "Invalid ordering key in order_by clause 'run name'."),
    ("`run name`", f"Invalid attribute key 'run name' specified. Valid keys are {ORDER_KEYS}"),
    ("foo.bar", f"Invalid entity type 'foo'. Valid values are {ENTITIES}"),
    ("datasets.name", "Invalid order_by entity type 'dataset'"),
    ('metrics.`a"b` DESC', "Invalid order_by clause 'metrics.`a\"b` DESC'. Could not be parsed."),
])
def test_invalid_run_order_by(order_by: str, message: str) -> None:
    with pytest.raises(TrackstoreError) as info:
        parse_run_order_by([order_by])
    assert info.value.message == message
    assert info.value.error_code == INVALID_PARAMETER_VALUE


def test_duplicate_run_order_fields_are_rejected() -> None:
    assert parse_run_order_by(None) == ()
    with pytest.raises(TrackstoreError) as info:
        parse_run_order_by(["metrics.m", "start_time", "metrics.m DESC"])
    assert info.value.message == ("`order_by` contains duplicate fields: "
                                  "['metrics.m', 'start_time', 'metrics.m DESC']")
    with pytest.raises(TrackstoreError):
        parse_run_order_by(["created", "start_time DESC"])  # the same field, by alias
    # a metric and a param of the same name are different fields
    assert len(parse_run_order_by(["metrics.x", "params.x"])) == 2


def test_experiment_order_by() -> None:
    assert parse_experiment_order_by(["name", "creation_time DESC", "attribute.experiment_id"]) == (
        OrderBy("attribute", "name", True), OrderBy("attribute", "creation_time", False),
        OrderBy("attribute", "experiment_id", True))
    # duplicates are accepted, as MLflow accepts them for experiments
    assert len(parse_experiment_order_by(["name", "name DESC"])) == 2
    for order_by, message in [
        ("tags.t", "Invalid order_by entity: tag"),
        ("start_time", f"Invalid attribute key 'start_time' specified. Valid keys are "
                       f"{EXPERIMENT_KEYS}"),
    ]:
        with pytest.raises(TrackstoreError) as info:
            parse_experiment_order_by([order_by])
        assert info.value.message == message


def test_referenced_keys() -> None:
    run_filter = parse_run_filter("metrics.a > 1 AND params.p = 'x' AND tags.t IS NULL")
    order_by = parse_run_order_by(["metrics.b", "tags.u DESC", "start_time"])
    assert referenced_keys(run_filter, order_by) == KeyRefs(
        metrics=frozenset({"a", "b"}), params=frozenset({"p"}), tags=frozenset({"t", "u"}),
        datasets=False)
    assert referenced_keys(parse_run_filter("datasets.name = 'd'")).datasets
    assert referenced_keys(RunFilter()) == KeyRefs(frozenset(), frozenset(), frozenset(), False)
