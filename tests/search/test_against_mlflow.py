"""trackstore's search against MLflow's own ``SearchUtils`` (what MLflow's FileStore runs).

Parsing: for hand-written and generated filter / ``order_by`` strings, trackstore accepts
exactly what MLflow accepts, with the same parse and the same message. "MLflow accepts" means
``parse_search_filter`` succeeds *and* every comparator passes the check MLflow makes while
matching a run (trackstore makes it while parsing: see ``trackstore.search.grammar``).

Evaluation: random runs and experiments, built both as MLflow entities and as trackstore
records, give the same ids in the same order and the same page token through MLflow's
``filter`` + ``sort`` + ``paginate`` and trackstore's ``search_runs`` / ``search_experiments``.

Where MLflow crashes or is wrong, the case is excluded here explicitly and pinned in
``test_documented_deviations`` instead.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

pytest.importorskip("mlflow")

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from mlflow.entities import Dataset as MlDataset
from mlflow.entities import DatasetInput as MlDatasetInput
from mlflow.entities import Experiment as MlExperiment
from mlflow.entities import ExperimentTag as MlExperimentTag
from mlflow.entities import InputTag as MlInputTag
from mlflow.entities import Metric as MlMetric
from mlflow.entities import Param as MlParam
from mlflow.entities import Run as MlRun
from mlflow.entities import RunData as MlRunData
from mlflow.entities import RunInfo as MlRunInfo
from mlflow.entities import RunInputs as MlRunInputs
from mlflow.entities import RunTag as MlRunTag
from mlflow.exceptions import MlflowException
from mlflow.utils.search_utils import SearchExperimentsUtils, SearchUtils
from sqlparse import lexer as sqlparse_lexer
from sqlparse import tokens as sqlparse_tokens

from trackstore import entities
from trackstore.exceptions import TrackstoreError
from trackstore.search import (
    EntityRunRecord,
    parse_experiment_filter,
    parse_run_filter,
    search_experiments,
    search_runs,
)
from trackstore.search.grammar import parse_experiment_order_clause, parse_run_order_clause

pytestmark = pytest.mark.mlflow

Outcome = tuple[str, Any]


def normalize(message: str) -> str:
    """MLflow prints Python sets, whose order varies by process: sort their members."""
    return re.sub(r"\{('[^']*'(?:, '[^']*')*)\}",
                  lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}", message)


def _sqlparse_keyword_words(text: str) -> bool:
    """Whether sqlparse lexes a word of *text* as an SQL keyword or type name that trackstore
    lexes as a plain name: those inputs are rejected by both, with different wording."""
    grammar_words = {"AND", "OR", "NOT", "IS", "NULL", "IN", "AS", "CASE", "FROM", "USING",
                     "VALUES", "PARAMETER", "PARAMETERS"}
    for ttype, value in sqlparse_lexer.Lexer.get_default_instance().get_tokens(text):
        word = value.upper()
        if ttype in sqlparse_tokens.Name.Builtin:
            return True
        if (ttype in sqlparse_tokens.Keyword and ttype is not sqlparse_tokens.Keyword.Order
                and not all(w in grammar_words for w in word.split())):
            return True
    return False


# --- the oracles --------------------------------------------------------------------------

def mlflow_run_filter(filter_string: str) -> Outcome:
    try:
        parsed = SearchUtils.parse_search_filter(filter_string)
        clauses = []
        for sed in parsed:
            # The comparator check MLflow makes in _does_run_match_clause, in its order.
            comparator = sed["comparator"].upper()
            kind, key = sed["type"], SearchUtils.translate_key_alias(sed["key"])
            assert (SearchUtils.is_metric(kind, comparator)
                    or SearchUtils.is_param(kind, comparator)
                    or SearchUtils.is_tag(kind, comparator)
                    or SearchUtils.is_string_attribute(kind, key, comparator)
                    or SearchUtils.is_numeric_attribute(kind, key, comparator)
                    or SearchUtils.is_dataset(kind, comparator))
            value = float(sed["value"]) if kind == "metric" else sed["value"]
            if kind != "attribute":
                key = sed["key"]
            clauses.append(({"parameter": "param"}.get(kind, kind), key, comparator, value))
    except MlflowException as exc:
        return ("error", normalize(exc.message))
    except (ValueError, TypeError) as exc:  # MLflow crashes: see test_documented_deviations
        return ("crash", repr(exc))
    if any(c[2] in ("LIKE", "ILIKE") and isinstance(c[3], tuple) for c in clauses):
        return ("crash", "LIKE with a list raises TypeError when matching")
    return ("ok", clauses)


def mlflow_experiment_filter(filter_string: str) -> Outcome:
    utils = SearchExperimentsUtils
    try:
        parsed = utils.parse_search_filter(filter_string)
        clauses = []
        for sed in parsed:
            comparator, kind, key = sed["comparator"].upper(), sed["type"], sed["key"]
            assert (utils.is_string_attribute(kind, key, comparator)
                    or utils.is_numeric_attribute(kind, key, comparator)
                    or utils.is_tag(kind, comparator))
            clauses.append((kind, key, comparator, sed["value"]))
    except MlflowException as exc:
        return ("error", normalize(exc.message))
    except (ValueError, TypeError) as exc:
        return ("crash", repr(exc))
    if any(c[2] in ("LIKE", "ILIKE") and isinstance(c[3], tuple) for c in clauses):
        return ("crash", "LIKE with a list raises TypeError when matching")
    return ("ok", clauses)


def trackstore_filter(filter_string: str, experiments: bool = False) -> Outcome:
    try:
        parsed = (parse_experiment_filter(filter_string) if experiments
                  else parse_run_filter(filter_string))
    except TrackstoreError as exc:
        if exc.error_code != "INVALID_PARAMETER_VALUE":
            raise
        return ("error", normalize(exc.message))
    return ("ok", [(c.kind, c.key, c.comparator, c.value) for c in parsed.clauses])


def mlflow_order(order_by: str, experiments: bool = False) -> Outcome:
    try:
        if experiments:
            kind, key, ascending = SearchExperimentsUtils.parse_order_by_for_search_experiments(
                order_by)
            if kind != "attribute":  # what SearchExperimentsUtils._get_sort_key raises
                return ("error", f"Invalid order_by entity: {kind}")
        else:
            kind, key, ascending = SearchUtils.parse_order_by_for_search_runs(order_by)
            if kind == "dataset":  # what SearchUtils._get_value_for_sort raises
                return ("error", f"Invalid order_by entity type '{kind}'")
            if kind == "attribute":  # MLflow also renames metric "created": not copied
                key = SearchUtils.translate_key_alias(key)
    except MlflowException as exc:
        return ("error", normalize(exc.message))
    except ValueError as exc:
        return ("crash", repr(exc))
    return ("ok", ({"parameter": "param"}.get(kind, kind), key, ascending))


def trackstore_order(order_by: str, experiments: bool = False) -> Outcome:
    try:
        entry = (parse_experiment_order_clause(order_by) if experiments
                 else parse_run_order_clause(order_by))
    except TrackstoreError as exc:
        return ("error", normalize(exc.message))
    return ("ok", (entry.kind, entry.key, entry.ascending))


def assert_same(ours: Outcome, theirs: Outcome, text: str) -> None:
    if theirs[0] == "crash" or (_sqlparse_keyword_words(text) and theirs[0] == "error"):
        assert ours[0] == "error", (text, ours, theirs)
    else:
        assert ours == theirs, text


# --- hand-written strings -------------------------------------------------------------------

RUN_FILTERS = [
    # every entity prefix and comparator
    "metrics.acc > 0.9", "metric.acc >= 1", "metrics.acc = 1", "metrics.acc != -1",
    "metrics.acc < 1e3", "metrics.acc <= .5", "metrics.acc > 5.", "metrics.acc > -1.5E-3",
    "metrics.acc > 01", "params.lr = '0.1'", "param.lr != \"x\"", "parameter.lr LIKE 'a%'",
    "parameters.lr ILIKE '%B_'", "params.lr IS NULL", "params.lr IS NOT NULL",
    "tags.t = 'v'", "tag.t != 'v'", "tags.t LIKE '%'", "tags.t ilike 'V'", "tags.t is null",
    "tags.t is not null", "tags.t Is Not Null", "attributes.status = 'FINISHED'",
    "attribute.status != 'RUNNING'", "attr.user_id LIKE 'b%'", "run.run_name ILIKE 'x'",
    "run_id = 'abc'", "run_id IN ('a', 'b')", "run_id in ('a')", "run_id NOT IN ('a', \"b\")",
    "run_id not in ('a',)", "run_id NOT  IN ('a')", "run_id IN('a')", "run_name = 'n'",
    "`run name` = 'n'", "\"run name\" = 'n'", "`Run name` = 'n'", "`Run Name` != 'n'",
    "user_id = 'u'", "status = 'FAILED'", "artifact_uri LIKE 'file:%'", "start_time > 5",
    "start_time >= 5.5", "end_time < 10", "end_time != 0", "created > 1", "Created <= 2",
    "attributes.start_time = 7", "datasets.name = 'ds'", "dataset.digest != 'd'",
    "datasets.context LIKE 'tr%'", "datasets.name ILIKE 'DS'", "datasets.name IN ('a', 'b')",
    "datasets.context NOT IN ('eval')", "datasets.`name` = 'x'", "datasets.\"context\" = 'x'",
    # quoting of keys and values
    "metrics.`a b` > 1", "metrics.\"a b\" > 1", "metrics.'a b' > 1", "`metrics`.a > 1",
    "tags.`mlflow.user` = 'me'", "tags.\"mlflow.user\" = 'me'", "tags.mlflow.user = 'me'",
    "metrics.`a-b` > 1", "metrics.\"a-b\" > 1", "metrics.`a``b` > 1", "params.`it's` = 'x'",
    "params.x = 'it''s'", "params.x = 'a\\'b'", "params.x = \"a\"\"b\"", "params.x = ''",
    "params.x = 'a%_.*+?^$()[]{}|\\'", "params.x = '%'", "tags.`a.b` = 'c'",
    "tags.a.b.c = 'd'", "metrics.été > 1", "metrics.Ä > 1", "metrics._a > 1",
    "metrics.1abc > 1", "metrics.a1 > 1", "metrics.[a] > 1", "metrics.* > 1",
    "metrics.a. > 1", "metrics.. > 1", "metrics. a > 1", "metrics.\"a\".b > 1",
    "metrics.a ('x') > 1", "metrics.order > 1", "metrics.select > 1", "metrics.and > 1",
    "metrics.index > 1", "metrics.`in` > 1",
    # spacing, case, AND
    "metrics.acc>1", "\tmetrics.acc \t>\t1 ", "metrics.a > 1 and params.b = 'c'",
    "metrics.a > 1 AnD params.b = 'c' aNd tags.c != 'd'", "metrics.a > 1\nAND\nmetrics.b < 2",
    "metrics.a > 1 AND", "AND metrics.a > 1", "metrics.a > 1 AND AND metrics.b < 2",
    "metrics.a > 1 metrics.b < 2", "tags.a IS NULL AND", "run_id IN ('a') AND",
    "tags.a IS  NULL", "tags.a = 'b' AND tags.a = 'c'", "", "   ", "\n",
    # the parsed example of the spec (section 6)
    "metrics.acc >= 0.9 AND params.`my param` = 'x' AND tags.\"mlflow.user\" LIKE 'b%' AND "
    "attributes.run_id IN ('a','b') AND run_name != 'z' AND datasets.name = 'ds' AND "
    "params.q IS NULL",
    # rejected: connectives, grouping, statements
    "metrics.acc > 1 OR metrics.acc < 0", "metrics.acc > 1 or metrics.acc < 0",
    "(metrics.acc > 1)", "metrics.a > 1 AND (metrics.b > 2)", "metrics.a > 1 AND metrics.b > 2)",
    "(metrics.a > 1 AND metrics.b > 2", "metrics.acc > 1; metrics.b < 2", "metrics.a > 1;",
    "metrics.a > 1;;", ";metrics.a > 1", "metrics.a > 1;\n", "metrics.a > 1, metrics.b > 2",
    "metrics.a > 1, metrics.b > 2,", ", metrics.a > 1", "NOT metrics.b > 1",
    "metrics.a > 1 AND NOT metrics.b > 1", "metrics.a > 1 && metrics.b > 1",
    # rejected: comments
    "metrics.a > 1 -- comment", "metrics.a > 1 /* c */", "-- c", "metrics.a > 1 # x",
    "metrics.a > 1 -- c\n  AND metrics.b < 2", "metrics.a /* x */ > 1",
    "/* a */ /* b */ metrics.a > 1", "metrics.a > 1; -- x\n",
    # rejected: malformed clauses
    "metrics.a", "metrics.a > ", "> 1", "1 > metrics.a", "'a' = params.x", "metrics.a = b = c",
    "metrics.a b > 1", "metrics.a > 1 ASC", "metrics.a > 1.5.5", "metrics.a > 1e",
    "metrics.a > 0x1F", "metrics.a > 1abc", "metrics.a > +1", "metrics.a > - 1",
    "metrics.a > 1 + 2", "params.a = 'x' || 'y'", "params.a = 'x' foo",
    "params.a = 'x' foo bar baz", "foo bar baz", "metrics.a-b > 1", "metrics.1 > 1",
    "metrics.$a > 1", "metrics.a$ > 1", "metrics.in > 1", "metrics.as > 1",
    "metrics.values > 1", "metrics.in.x > 1", "params.from = 'x'", "tags.in = 'x'",
    "metrics.'a'.b > 1", "metrics.*.b > 1", ".a > 1", "status ('x') = 'y'",
    "metrics.a BETWEEN 1 AND 2", "parameters.1k IS NULL",
    # rejected: entities, keys
    "unknown.a = 1", "\"metrics\".a > 1", "metrics . a > 1", "metrics .a > 1", "foo = 'x'",
    "name = 'x'", "experiment_id = '1'", "datasets.foo = 'x'", "`tags.a` = 'c'",
    "\"tags.a\" = 'c'", "\"tags\".a = 'c'",
    # rejected: values
    "metrics.acc > '1'", "metrics.acc = \"1\"", "metrics.a IN (1)", "params.a = 1",
    "params.a = x", "params.`x` = `y`", "params.a = ?", "tags.a = NULL", "start_time > '5'",
    "start_time IN (1)", "run_name IN ('a')", "status NOT IN ('a')", "run_id IN 'a'",
    "run_id IN ()", "run_id IN ('a', 1)", "run_id IN [('a')]", "run_id NOT IN ('a'",
    "run_id NOT IN ('a' AND metrics.a > 1)", "run_id IN ('a' # x\n)", "run_id IN ('a' 'b')",
    "run_id IN (('a','b'))", "run_id = ('a','b')", "run_id = ('a')", "datasets.name = 1",
    "datasets.name IN ('a', 1)", "user_id = 5",
    # rejected: IS NULL / IS NOT NULL
    "tags.a IS NOT  NULL", "tags.a IS", "tags.a IS NOT", "tags.a NOT NULL", "tags.a IS 'x'",
    "metrics.a IS NULL", "run_id IS NULL", "datasets.name IS NULL", "start_time IS NOT NULL",
    # rejected: comparators (checked by MLflow while matching)
    "metrics.a == 1", "metrics.a <> 1", "metrics.a >> 1", "metrics.a => 1", "metrics.a ~ 1",
    "metrics.a LIKE 1", "params.a == 'x'", "params.a > 'x'", "tags.a RLIKE 'x'",
    "tags.a NOT LIKE 'x'", "tags.a NOT ILIKE 'x'", "tags.a REGEXP 'x'", "run_id > 'x'",
    "start_time LIKE 1", "datasets.name > 'x'", "datasets.name NOT LIKE 'x'",
    "status == 'x'", "created != 1 AND metrics.a <> 2",
]

EXPERIMENT_FILTERS = [
    "name = 'x'", "name != 'x'", "name LIKE 'x%'", "name ILIKE '%X'", "attribute.name = 'a'",
    "experiment_id = '1'", "experiment_id IN ('1', '2')", "experiment_id NOT IN ('1')",
    "experiment_id LIKE '1%'", "creation_time > 1", "creation_time >= 1.5",
    "last_update_time <= 1", "last_update_time != 0", "tags.a = 'x'", "tag.a != 'x'",
    "tags.`a b` LIKE '%'", "tags.\"a.b\" ILIKE 'x'", "tags.a IS NULL", "tags.a is not null",
    "name = 'x' AND tags.a = 'y' and creation_time > 0", "", "name = \"x\"",
    # rejected
    "name IN ('a')", "experiment_id > '1'", "creation_time LIKE 1", "creation_time > '1'",
    "creation_time IN (1)", "name IS NULL", "metrics.a > 1", "params.a = 'x'",
    "attributes.name = 'a'", "attr.name = 'a'", "`tags`.a = 'b'", "foo = 'x'", "name = x",
    "tags.a = 1", "tags.a > 'x'", "name > 'x'", "name = 'x' OR name = 'y'", "(name = 'x')",
    "name = 'x'; name = 'y'", "name = 'x' foo", "experiment_id IN ()", "run_id = 'a'",
    "tags.a == 'x'", "name NOT LIKE 'x'", "experiment_id IN ('1', 2)",
]

RUN_ORDER_BY = [
    "metrics.a", "metrics.a DESC", "metrics.a desc", "metrics.a ASC", "metrics.a  DESC",
    "metrics.`a b` DESC", "metrics.`a b`", "metrics.\"a b\"", "metrics.\"a b\" ASC",
    "metrics.'a b'", "metrics.'a b' DESC", "params.`it's`", "params.`it's` DESC",
    "params.lr", "parameters.lr DESC", "tags.t", "tag.`mlflow.user` DESC", "metrics.a.b DESC",
    "tags.\"a.b\" DESC", "tags.`a\\b` DESC", "start_time", "created DESC", "Created",
    "run_name", "status ASC", "user_id", "end_time DESC", "artifact_uri", "run_id",
    "attr.start_time", "attributes.run_name DESC", "run.status",
    # rejected
    " metrics.a", "metrics.a ", "metrics.a ASC DESC", "metrics.a foo", "run name",
    "`run name`", "timestamp", "datasets.name", "", "DESC", "metrics.a DESC NULLS LAST",
    "metrics.a;", "metrics.a, metrics.b", "params.a\\ b DESC", "metrics.1", "experiment_id",
    "foo", "foo.bar", "metrics.a > 1", "metrics.a -- c", "1 DESC", "params.`a` `b`",
    "metrics.a ASC;",
]

EXPERIMENT_ORDER_BY = [
    "name", "name DESC", "experiment_id ASC", "creation_time", "last_update_time DESC",
    "attribute.name", "attribute.`creation_time` desc",
    "tags.a", "start_time", "attributes.name", "metrics.a", "name sideways", "",
]


@pytest.mark.parametrize("filter_string", RUN_FILTERS)
def test_run_filter_parses_like_mlflow(filter_string: str) -> None:
    assert_same(trackstore_filter(filter_string), mlflow_run_filter(filter_string),
                filter_string)


@pytest.mark.parametrize("filter_string", EXPERIMENT_FILTERS)
def test_experiment_filter_parses_like_mlflow(filter_string: str) -> None:
    assert_same(trackstore_filter(filter_string, experiments=True),
                mlflow_experiment_filter(filter_string), filter_string)


@pytest.mark.parametrize("order_by", RUN_ORDER_BY)
def test_run_order_by_parses_like_mlflow(order_by: str) -> None:
    assert_same(trackstore_order(order_by), mlflow_order(order_by), order_by)


@pytest.mark.parametrize("order_by", EXPERIMENT_ORDER_BY)
def test_experiment_order_by_parses_like_mlflow(order_by: str) -> None:
    assert_same(trackstore_order(order_by, True), mlflow_order(order_by, True), order_by)


def test_the_lists_are_large_and_mixed() -> None:
    outcomes = [mlflow_run_filter(f)[0] for f in RUN_FILTERS]
    assert len(RUN_FILTERS) >= 200
    assert outcomes.count("ok") >= 100
    assert outcomes.count("error") >= 100


# Where MLflow crashes (or its wording depends on sqlparse's keyword list), trackstore rejects
# with an INVALID_PARAMETER_VALUE message of its own.
DEVIATIONS = [
    ("run_id LIKE ('a')", "Invalid comparator 'LIKE' for a list of values"),
    ("datasets.name ILIKE ('a', 'b')", "Invalid comparator 'ILIKE' for a list of values"),
    ("run_id IN (a)", "While parsing a list in the query, expected a non-empty list of string "
                      "values, but got ill-formed list."),
    ("user = 'x'", "Invalid attribute key 'user' specified. Valid keys are '{'artifact_uri', "
                   "'end_time', 'run_id', 'run_name', 'start_time', 'status', 'user_id', "
                   "'created', 'Created', 'run name', 'Run name', 'Run Name'}'"),
]


@pytest.mark.parametrize(("filter_string", "message"), DEVIATIONS)
def test_documented_deviations(filter_string: str, message: str) -> None:
    theirs = mlflow_run_filter(filter_string)
    assert theirs[0] != "ok"
    with pytest.raises(TrackstoreError) as info:
        parse_run_filter(filter_string)
    assert info.value.message == message


def test_order_by_deviation_unbalanced_quote() -> None:
    assert mlflow_order('metrics.`a"b` DESC')[0] == "crash"
    assert trackstore_order('metrics.`a"b` DESC') == (
        "error", "Invalid order_by clause 'metrics.`a\"b` DESC'. Could not be parsed.")


# --- generated strings ---------------------------------------------------------------------

PREFIXES = ["metrics.", "metric.", "params.", "param.", "parameters.", "tags.", "tag.",
            "attributes.", "attr.", "run.", "datasets.", "dataset.", "", "`tags`.", "Metrics.",
            "foo.", "attribute .", "tags. "]
KEYS = ["a", "m 1", "a.b", "run_id", "run_name", "status", "start_time", "end_time",
        "created", "run name", "Run Name", "user_id", "artifact_uri", "name", "digest",
        "context", "experiment_id", "creation_time", "last_update_time", "x-y", "in", "_k",
        "1k", "é", "a'b", "a\"b"]
KEY_QUOTES = ["{}", "{}", "`{}`", '"{}"', "'{}'"]
COMPARATORS = ["=", "!=", ">", ">=", "<", "<=", "LIKE", "like", "ILIKE", "IN", "NOT IN",
               "not  in", "IS NULL", "is null", "IS NOT NULL", "==", "<>", "NOT LIKE", "IS"]
VALUES = ["'x'", '"x"', "'a%'", "'%b_'", "1", "-2", "3.5", "1e3", ".5", "('a', 'b')", "('a')",
          "()", "x", "`x`", "NULL", "'it''s'", "('a', 1)", "0x10", "(1)"]
JOINERS = [" AND ", " and ", "  AND  ", "\nAND\n", " OR ", " ", ", ", " AND AND ", " ; ", ")"]
FRAGMENTS = ["metrics.a", "params.p", "tags.\"k.v\"", "run_id", "status", "foo", "=", "!=", ">",
             "LIKE", "IN", "NOT", "IS", "NULL", "NOT NULL", "'x'", "1", "-2.5", "('a','b')", "x",
             "`b`", "AND", "OR", ",", ";", "(", ")", ".", "-- c\n", "/* c */", "\n", "+", "-",
             "*", "?", "ASC", "DESC", "AS", "[z]", "1abc"]


@st.composite
def clause_strings(draw: st.DrawFn) -> str:
    ident = draw(st.sampled_from(PREFIXES)) + draw(st.sampled_from(KEY_QUOTES)).format(
        draw(st.sampled_from(KEYS)))
    comparator = draw(st.sampled_from(COMPARATORS))
    if "NULL" in comparator.upper():
        return f"{ident} {comparator}"
    space = draw(st.sampled_from([" ", "", "  "]))
    return ident + space + comparator + space + draw(st.sampled_from(VALUES))


@st.composite
def filter_strings(draw: st.DrawFn) -> str:
    text = draw(clause_strings())
    for _ in range(draw(st.integers(0, 3))):
        text += draw(st.sampled_from(JOINERS)) + draw(clause_strings())
    return text


fragment_strings = st.lists(
    st.tuples(st.sampled_from(FRAGMENTS), st.sampled_from([" ", "", "  "])), min_size=1,
    max_size=9).map(lambda parts: "".join(a + b for a, b in parts))


@settings(max_examples=600, deadline=None)
@given(text=st.one_of(filter_strings(), fragment_strings), experiments=st.booleans())
def test_generated_filters_parse_like_mlflow(text: str, experiments: bool) -> None:
    theirs = mlflow_experiment_filter(text) if experiments else mlflow_run_filter(text)
    assert_same(trackstore_filter(text, experiments), theirs, text)


@settings(max_examples=400, deadline=None)
@given(prefix=st.sampled_from(PREFIXES), quote=st.sampled_from(KEY_QUOTES),
       key=st.sampled_from(KEYS),
       direction=st.sampled_from(["", " ASC", " DESC", " asc", "  desc", " DESC NULLS LAST",
                                  " foo", " ASC DESC", ";", " -- c", " `x`", " 1"]),
       lead=st.sampled_from(["", "", " "]), experiments=st.booleans())
def test_generated_order_by_parses_like_mlflow(*, prefix: str, quote: str, key: str,
                                              direction: str, lead: str,
                                              experiments: bool) -> None:
    text = lead + prefix + quote.format(key) + direction
    assert_same(trackstore_order(text, experiments), mlflow_order(text, experiments), text)


# --- evaluation: random runs -------------------------------------------------------------

METRIC_KEYS = ["a", "b", "m 1"]
PARAM_KEYS = ["p", "q"]
TAG_KEYS = ["t", "mlflow.user"]
# No line breaks: MLflow's LIKE differs there on purpose (trackstore.search.evaluate).
TEXT = st.text(alphabet="aAbB_%.*x", max_size=3)
PATTERN = st.text(alphabet="aAbB_%.*x", max_size=4)
METRIC_VALUES = st.one_of(st.sampled_from([0.0, 1.0, -1.0, 0.5, math.nan, math.inf, -math.inf]),
                          st.integers(-3, 3).map(float))
STATUSES = ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"]


@st.composite
def run_specs(draw: st.DrawFn) -> list[dict[str, Any]]:
    ids = draw(st.lists(st.text(alphabet="0123456789abcdef", min_size=3, max_size=3),
                        min_size=0, max_size=12, unique=True))
    specs = []
    for run_id in ids:
        specs.append({
            "run_id": run_id,
            "run_name": draw(st.one_of(st.none(), TEXT)),
            "user_id": draw(st.sampled_from(["u1", "u2", "ab"])),
            "status": draw(st.sampled_from(STATUSES)),
            # A missing start_time makes MLflow raise TypeError: always set here.
            "start_time": draw(st.integers(0, 4)),
            "end_time": draw(st.one_of(st.none(), st.integers(0, 6))),
            "artifact_uri": draw(st.one_of(st.none(), st.sampled_from(["file:/a", "s3://b"]))),
            "metrics": draw(st.dictionaries(st.sampled_from(METRIC_KEYS), METRIC_VALUES)),
            "params": draw(st.dictionaries(st.sampled_from(PARAM_KEYS), TEXT)),
            "tags": draw(st.dictionaries(st.sampled_from(TAG_KEYS), TEXT)),
            "datasets": draw(st.lists(st.tuples(st.sampled_from(["d1", "d2", "D1"]),
                                                st.sampled_from(["x", "y"]),
                                                st.one_of(st.none(), st.sampled_from(
                                                    ["train", "eval"]))), max_size=2)),
        })
    return specs


def quoted(value: str) -> str:
    return "'" + value + "'"


@st.composite
def run_clauses(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["metric", "param", "tag", "string", "numeric", "in",
                                 "dataset"]))
    if kind == "metric":
        key = draw(st.sampled_from(["a", "b", "`m 1`"]))
        value = draw(st.sampled_from(["0", "1", "-1", "0.5", "2.0", "1e0", "-3"]))
        return f"metrics.{key} {draw(st.sampled_from(['>', '>=', '=', '!=', '<', '<=']))} {value}"
    if kind in ("param", "tag"):
        key = draw(st.sampled_from(PARAM_KEYS if kind == "param" else ["t", "`mlflow.user`"]))
        op = draw(st.sampled_from(["=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"]))
        prefix = "params" if kind == "param" else "tags"
        if "NULL" in op:
            return f"{prefix}.{key} {op}"
        return f"{prefix}.{key} {op} {quoted(draw(PATTERN))}"
    if kind == "string":
        key = draw(st.sampled_from(["run_id", "run_name", "user_id", "status", "artifact_uri",
                                    "`run name`"]))
        op = draw(st.sampled_from(["=", "!=", "LIKE", "ILIKE"]))
        value = draw(st.one_of(PATTERN, st.sampled_from(["FINISHED", "u1", "file:%", "s3%"])))
        return f"attributes.{key} {op} {quoted(value)}"
    if kind == "numeric":
        key = draw(st.sampled_from(["start_time", "end_time", "created"]))
        op = draw(st.sampled_from([">", ">=", "=", "!=", "<", "<="]))
        return f"{key} {op} {draw(st.sampled_from(['0', '2', '3.5', '-1']))}"
    if kind == "in":
        op = draw(st.sampled_from(["IN", "NOT IN"]))
        ids = draw(st.lists(st.text(alphabet="0123456789abcdef", min_size=3, max_size=3),
                            min_size=1, max_size=3))
        return f"run_id {op} ({', '.join(map(quoted, ids))})"
    key = draw(st.sampled_from(["name", "digest", "context"]))
    op = draw(st.sampled_from(["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"]))
    if op in ("IN", "NOT IN"):
        return f"datasets.{key} {op} ('d1', 'train')"
    return f"datasets.{key} {op} {quoted(draw(st.sampled_from(['d1', 'D1', 'x', 'train', '%'])))}"


RUN_ORDER_FIELDS = ["metrics.a", "metrics.b", "metrics.`m 1`", "params.p", "params.q", "tags.t",
                    "start_time", "end_time", "run_id", "run_name", "user_id", "status",
                    "artifact_uri"]


@st.composite
def run_orderings(draw: st.DrawFn) -> list[str]:
    # Distinct fields: trackstore rejects duplicates (MLflow's SQL store does too).
    fields = draw(st.lists(st.sampled_from(RUN_ORDER_FIELDS), max_size=3, unique=True))
    return [f + draw(st.sampled_from(["", " ASC", " DESC"])) for f in fields]


def mlflow_run(spec: dict[str, Any]) -> MlRun:
    info = MlRunInfo(run_id=spec["run_id"], experiment_id="0", user_id=spec["user_id"],
                     status=spec["status"], start_time=spec["start_time"],
                     end_time=spec["end_time"], lifecycle_stage="active",
                     artifact_uri=spec["artifact_uri"], run_name=spec["run_name"])
    data = MlRunData(metrics=[MlMetric(k, v, 0, 0) for k, v in spec["metrics"].items()],
                     params=[MlParam(k, v) for k, v in spec["params"].items()],
                     tags=[MlRunTag(k, v) for k, v in spec["tags"].items()])
    inputs = MlRunInputs(dataset_inputs=[
        MlDatasetInput(MlDataset(name, digest, "local", "src"),
                       [MlInputTag("mlflow.data.context", ctx)] if ctx else [])
        for name, digest, ctx in spec["datasets"]])
    return MlRun(info, data, inputs)


def trackstore_run(spec: dict[str, Any]) -> EntityRunRecord:
    info = entities.RunInfo(spec["run_id"], "0", spec["user_id"], spec["status"],
                            spec["start_time"], spec["end_time"], "active",
                            spec["artifact_uri"], spec["run_name"])
    data = entities.RunData(
        metrics=[entities.Metric(k, v, 0, 0) for k, v in spec["metrics"].items()],
        params=[entities.Param(k, v) for k, v in spec["params"].items()],
        tags=[entities.RunTag(k, v) for k, v in spec["tags"].items()])
    inputs = entities.RunInputs([
        entities.DatasetInput(entities.Dataset(name, digest, "local", "src"),
                              [entities.InputTag("mlflow.data.context", ctx)] if ctx else [])
        for name, digest, ctx in spec["datasets"]])
    return EntityRunRecord(entities.Run(info, data, inputs))


def _token(token: bytes | str | None) -> str | None:
    return token.decode() if isinstance(token, bytes) else token


@settings(max_examples=500, deadline=None)
@given(specs=run_specs(), clauses=st.lists(run_clauses(), max_size=3),
       order_by=run_orderings(), max_results=st.integers(1, 6), offset=st.integers(0, 8))
def test_search_runs_matches_mlflow(specs: list[dict[str, Any]], clauses: list[str],
                                    order_by: list[str], max_results: int,
                                    offset: int) -> None:
    filter_string = " AND ".join(clauses)
    page_token = SearchUtils.create_page_token(offset).decode() if offset else None
    runs = [mlflow_run(s) for s in specs]
    expected = SearchUtils.sort(SearchUtils.filter(runs, filter_string), order_by)
    page, token = SearchUtils.paginate(expected, page_token, max_results)

    ours, our_token = search_runs([trackstore_run(s) for s in specs], filter_string, order_by,
                                  max_results, page_token)
    assert [r.run_id for r in ours] == [r.info.run_id for r in page]
    assert our_token == _token(token)


# --- evaluation: random experiments ----------------------------------------------------------

@st.composite
def experiment_specs(draw: st.DrawFn) -> list[dict[str, Any]]:
    ids = draw(st.lists(st.integers(0, 30).map(str), max_size=10, unique=True))
    return [{
        "experiment_id": experiment_id,
        "name": draw(TEXT),
        "creation_time": draw(st.one_of(st.none(), st.integers(0, 3))),
        "last_update_time": draw(st.one_of(st.none(), st.integers(0, 3))),
        "tags": draw(st.dictionaries(st.sampled_from(["t", "u"]), TEXT)),
    } for experiment_id in ids]


@st.composite
def experiment_clauses(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["name", "id", "in", "numeric", "tag"]))
    if kind == "name":
        op = draw(st.sampled_from(["=", "!=", "LIKE", "ILIKE"]))
        return f"name {op} {quoted(draw(PATTERN))}"
    if kind == "id":
        op = draw(st.sampled_from(["=", "!=", "LIKE", "ILIKE"]))
        return f"experiment_id {op} {quoted(draw(st.sampled_from(['1', '1%', '_', '%0'])))}"
    if kind == "in":
        op = draw(st.sampled_from(["IN", "NOT IN"]))
        return f"experiment_id {op} ('1', '2', '10')"
    if kind == "numeric":
        key = draw(st.sampled_from(["creation_time", "last_update_time"]))
        op = draw(st.sampled_from([">", ">=", "=", "!=", "<", "<="]))
        return f"{key} {op} {draw(st.sampled_from(['0', '1', '2.5']))}"
    op = draw(st.sampled_from(["=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"]))
    key = draw(st.sampled_from(["t", "u"]))
    if "NULL" in op:
        return f"tags.{key} {op}"
    return f"tags.{key} {op} {quoted(draw(PATTERN))}"


@settings(max_examples=400, deadline=None)
@given(specs=experiment_specs(), clauses=st.lists(experiment_clauses(), max_size=3),
       fields=st.lists(st.sampled_from(["name", "experiment_id", "creation_time",
                                        "last_update_time"]), max_size=3, unique=True),
       directions=st.lists(st.sampled_from(["", " ASC", " DESC"]), min_size=3, max_size=3),
       max_results=st.integers(1, 5), offset=st.integers(0, 6))
def test_search_experiments_matches_mlflow(*, specs: list[dict[str, Any]], clauses: list[str],
                                           fields: list[str], directions: list[str],
                                           max_results: int, offset: int) -> None:
    filter_string = " AND ".join(clauses)
    order_by = [f + d for f, d in zip(fields, directions, strict=False)]
    page_token = SearchUtils.create_page_token(offset).decode() if offset else None
    experiments = [MlExperiment(s["experiment_id"], s["name"], "loc", "active",
                                [MlExperimentTag(k, v) for k, v in s["tags"].items()],
                                s["creation_time"], s["last_update_time"]) for s in specs]
    try:
        filtered = SearchExperimentsUtils.filter(experiments, filter_string)
    except TypeError:
        # MLflow compares a missing creation/last-update time with ">" and crashes;
        # trackstore treats the clause as false (trackstore.search.evaluate).
        assume(False)
    expected = SearchExperimentsUtils.sort(filtered, order_by or ["creation_time DESC",
                                                                  "experiment_id ASC"])
    page, token = SearchUtils.paginate(expected, page_token, max_results)

    records = [entities.Experiment(s["experiment_id"], s["name"], "loc", "active", s["tags"],
                                   s["creation_time"], s["last_update_time"]) for s in specs]
    ours, our_token = search_experiments(records, filter_string, order_by, max_results,
                                         page_token)
    assert [e.experiment_id for e in ours] == [e.experiment_id for e in page]
    assert our_token == _token(token)


# --- LIKE, exactly -----------------------------------------------------------------------

@settings(max_examples=500, deadline=None)
@given(value=st.text(alphabet="aAbB_%.*\\()[]$^+?|{}xé ", max_size=6),
       pattern=st.text(alphabet="aAbB_%.*\\()[]$^+?|{}xé ", max_size=5),
       case_sensitive=st.booleans())
def test_like_matches_mlflow_without_line_breaks(value: str, pattern: str,
                                                 case_sensitive: bool) -> None:
    from mlflow.utils.search_utils import _ilike, _like

    from trackstore.search import like_pattern

    expected = (_like if case_sensitive else _ilike)(value, pattern)
    assert (like_pattern(pattern, case_sensitive).fullmatch(value) is not None) == expected


@settings(max_examples=500, deadline=None)
@given(value=st.text(alphabet="aAbB_%.*\\()[]xé ", max_size=6),
       pattern=st.text(alphabet="aAbB_%.*\\()[]xé ", max_size=5),
       comparator=st.sampled_from(["LIKE", "ILIKE"]))
def test_like_comparisons_match_mlflow(value: str, pattern: str, comparator: str) -> None:
    from mlflow.utils.search_utils import _ilike, _like

    from trackstore.search import Comparison
    from trackstore.search.evaluate import value_test

    expected = (_like if comparator == "LIKE" else _ilike)(value, pattern)
    assert value_test(Comparison("tag", "t", comparator, pattern))(value) is expected


# --- page tokens -----------------------------------------------------------------------------

def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("token", [
    None, "", "eyJvZmZzZXQiOiAxfQ==", "x", "abc", _b64("not json"), _b64('{"offset": 0}'),
    _b64("{}"), _b64('{"offset": null}'), _b64('{"offset": "x"}'), _b64('{"offset": "12"}'),
    _b64('{"offset": 3.5}'), _b64('{"offset": 7, "extra": 1}'), _b64('{"offset": 50000}'),
])
def test_page_tokens_match_mlflow(token: str | None) -> None:
    from trackstore.search import create_page_token, parse_page_token

    try:
        theirs: Outcome = ("ok", SearchUtils.parse_start_offset_from_page_token(token))
    except MlflowException as exc:
        theirs = ("error", exc.message)
    try:
        ours: Outcome = ("ok", parse_page_token(token))
    except TrackstoreError as exc:
        ours = ("error", exc.message)
    assert ours == theirs
    for offset in (1, 17, 50000):
        assert create_page_token(offset) == SearchUtils.create_page_token(offset).decode()
