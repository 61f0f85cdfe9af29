"""The model registry's search grammar against MLflow's SQL registry store.

What trackstore must match is what MLflow's ``SqlAlchemyStore`` accepts and rejects, end to end:
its parser (``SearchModelUtils`` / ``SearchModelVersionUtils.parse_search_filter``), then its
query builders, then the database. The oracle therefore parses with MLflow's parser *and* runs
the search on an empty SQLite registry (created once for the module); ``order_by`` goes through
the SQL store's own ``_parse_search_*_order_by`` helpers. For every input, trackstore accepts
exactly what MLflow accepts, with the same ``(kind, key, comparator, value)`` clauses (after the
builder's ``int()`` of ``version_number``), and rejects the rest with MLflow's message.

Where MLflow crashes or fails with another error code, trackstore must reject the input with
one of the documented messages (``trackstore.search.grammar``); those cases are also pinned one
by one in the ``test_deviation_*`` tests.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest

from tests.compat._oracle import require_mlflow

require_mlflow()

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore  # noqa: E402
from mlflow.utils.search_utils import (  # noqa: E402
    SearchModelUtils,
    SearchModelVersionUtils,
    SearchUtils,
)
from sqlalchemy.sql import operators  # noqa: E402
from sqlparse import lexer as sqlparse_lexer  # noqa: E402
from sqlparse import tokens as sqlparse_tokens  # noqa: E402

from trackstore.exceptions import INVALID_PARAMETER_VALUE, TrackstoreError  # noqa: E402
from trackstore.search import (  # noqa: E402
    DEFAULT_MODEL_VERSION_ORDER_BY,
    Comparison,
    ModelFilter,
    OrderBy,
    parse_model_version_filter,
    parse_model_version_order_by,
    parse_registered_model_filter,
    parse_registered_model_order_by,
)

pytestmark = pytest.mark.mlflow

Outcome = tuple[Any, ...]

# Messages trackstore gives where MLflow crashes or fails with a non-parameter error.
DEVIATION_MESSAGES = re.compile(
    r"Invalid comparator for (tag|attribute( version_number)?): IS (NOT )?NULL$"
    r"|Invalid comparator '[^']*' for a list of values$"
    r"|Invalid value for numeric attribute 'version_number': "
    r"|While parsing a list in the query, expected a non-empty list of string values, but got "
    r"ill-formed list\.$"
    r"|Invalid order_by clause '.*'\. Could not be parsed\.$"
    # MLflow crashes on `x IS NULL` before it reads the identifier; trackstore reads it first.
    r"|Invalid attribute key |Invalid entity type ", re.S)


def normalize(message: str) -> str:
    """MLflow prints Python sets, whose order varies by process: sort their members."""
    return re.sub(r"\{('[^']*'(?:, '[^']*')*)\}",
                  lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}", message)


_GRAMMAR_WORDS = {"AND", "OR", "NOT", "IS", "NULL", "IN", "AS", "CASE", "FROM", "USING",
                  "VALUES", "PARAMETER", "PARAMETERS"}


def sqlparse_keywords(text: str) -> bool:
    """Whether sqlparse lexes a word of *text* as an SQL keyword or built-in type name that
    trackstore lexes as a plain name: both reject such inputs, with different wording (see
    ``trackstore.search._tokens``), except MLflow's own ``timestamp`` ``order_by`` forms."""
    for ttype, value in sqlparse_lexer.Lexer.get_default_instance().get_tokens(text):
        if ttype in sqlparse_tokens.Name.Builtin:
            return True
        if (ttype in sqlparse_tokens.Keyword and ttype is not sqlparse_tokens.Keyword.Order
                and not all(w in _GRAMMAR_WORDS for w in value.upper().split())):
            return True
    return False


# --- the oracles ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SqlAlchemyStore:
    path = Path(tmp_path_factory.mktemp("mlflow-registry")) / "registry.db"
    return SqlAlchemyStore(f"sqlite:///{path}")


def mlflow_filter(store: SqlAlchemyStore, text: str | None, registered: bool) -> Outcome:
    utils = SearchModelUtils if registered else SearchModelVersionUtils
    try:
        parsed = utils.parse_search_filter(text)
        # The builders' checks, and the database's (a tuple bound as a scalar, an int64
        # overflow), only show when the search runs.
        if registered:
            store.search_registered_models(text)
        else:
            store.search_model_versions(text)
    except MlflowException as exc:
        if exc.error_code != INVALID_PARAMETER_VALUE:
            return ("fails", exc.error_code)
        return ("error", normalize(exc.message))
    except (ValueError, TypeError) as exc:
        return ("fails", repr(exc)[:200])
    clauses = []
    for sed in parsed:
        value = sed["value"]
        if sed["key"] == "version_number" and sed["type"] == "attribute":
            value = int(value)  # what the SQL builder binds
        clauses.append((sed["type"], sed["key"], sed["comparator"], value))
    return ("ok", clauses)


def trackstore_filter(text: str | None, registered: bool) -> Outcome:
    parse = parse_registered_model_filter if registered else parse_model_version_filter
    try:
        parsed = parse(text)
    except TrackstoreError as exc:
        return ("error", normalize(exc.message)) if exc.error_code == INVALID_PARAMETER_VALUE \
            else ("wrong error code", exc.error_code, exc.message)
    assert all(c.kind in ("attribute", "tag") for c in parsed.clauses)
    return ("ok", [(c.kind, c.key, c.comparator, c.value) for c in parsed.clauses])


_SQL_FIELDS = {"name": "name", "last_updated_time": "last_updated_timestamp",
               "creation_time": "creation_timestamp", "version": "version_number"}


def mlflow_order_by(order_by: list[str], registered: bool) -> Outcome:
    try:
        if registered:
            clauses = SqlAlchemyStore._parse_search_registered_models_order_by(order_by)
        else:
            clauses = SqlAlchemyStore._parse_search_model_versions_order_by(order_by)
    except MlflowException as exc:
        return ("error", normalize(exc.message), exc.error_code)
    except ValueError as exc:  # shlex on an unbalanced quote
        return ("fails", repr(exc))
    # The SQL store appends its tie-breakers after the given fields.
    return ("ok", [(_SQL_FIELDS[c.element.key], c.modifier is not operators.desc_op)
                   for c in clauses[:len(order_by)]])


def trackstore_order_by(order_by: list[str], registered: bool) -> Outcome:
    parse = parse_registered_model_order_by if registered else parse_model_version_order_by
    try:
        parsed = parse(order_by)
    except TrackstoreError as exc:
        return ("error", normalize(exc.message)) if exc.error_code == INVALID_PARAMETER_VALUE \
            else ("wrong error code", exc.error_code, exc.message)
    assert all(o.kind == "attribute" for o in parsed)
    return ("ok", [(o.key, o.ascending) for o in parsed])


def first_tag_entry(order_by: list[str]) -> int | None:
    """The first entry MLflow's SQL store takes as ``tag(s).<ordering key>`` (and silently
    orders by the attribute of that name), if any."""
    for i, entry in enumerate(order_by):
        try:
            kind, key, _ = SearchModelVersionUtils.parse_order_by_for_search_model_versions(entry)
        except (MlflowException, ValueError):
            continue
        if kind == "tag" and key in SearchModelVersionUtils.VALID_ORDER_BY_ATTRIBUTE_KEYS:
            return i
    return None


def assert_same_filter(store: SqlAlchemyStore, text: str, registered: bool) -> None:
    theirs = mlflow_filter(store, text, registered)
    ours = trackstore_filter(text, registered)
    if theirs[0] == "fails":
        assert ours[0] == "error" and DEVIATION_MESSAGES.match(ours[1]), (text, ours, theirs)
    elif theirs[0] == "error" and sqlparse_keywords(text):
        assert ours[0] == "error", (text, ours, theirs)
    else:
        assert ours == theirs, text


def assert_same_order_by(order_by: list[str], registered: bool) -> None:
    ours = trackstore_order_by(order_by, registered)
    tag_at = None if registered else first_tag_entry(order_by)
    # Both read the entries in turn: if MLflow fails before that entry, they fail the same way.
    if tag_at is not None and mlflow_order_by(order_by[:tag_at], registered)[0] == "ok":
        assert ours == ("error", "Invalid order_by entity: tag"), (order_by, ours)
        return
    theirs = mlflow_order_by(order_by, registered)
    if theirs[0] == "fails":
        assert ours[0] == "error" and DEVIATION_MESSAGES.match(ours[1]), (order_by, ours, theirs)
    elif theirs[0] == "error" and any(sqlparse_keywords(o) for o in order_by):
        assert ours[0] == "error", (order_by, ours, theirs)
    elif theirs[0] == "error":
        # MLflow raises duplicates as INTERNAL_ERROR (documented); all else is a parameter error.
        duplicate = theirs[1].startswith("`order_by` contains duplicate fields: ")
        assert theirs[2] == ("INTERNAL_ERROR" if duplicate else INVALID_PARAMETER_VALUE)
        assert ours == theirs[:2], order_by
    else:
        assert ours == theirs, order_by


# --- filters: hand-written and systematic -----------------------------------------------------

FILTERS = [
    None, "", " ", ";", "name = 'a';", "name = 'a'; name = 'b'", "name = 'a' AND", "AND name = 'a'",
    "name = 'a' AND AND tags.a = 'b'", "name = 'a' tags.a = 'b'", "(name = 'a')",
    "name = 'a' OR tags.a = 'b'", "name", "name =", "= 'a'", "name = 'a' /* c */",
    "-- c\nname = 'a'", "name = 'a' -- c", "name = 'a' and tags.a = 'b'", "name='a'AND tags.a='b'",
    "name\n=\n'a'\nAND\ntags.a\n=\n'b'", "name = 'a' AND name != 'b' AND name LIKE 'c%'",
    "tags.a = 'x' AND tags.a != 'y' AND tags.b ILIKE 'Z%'", "name IN ('a', 'b') AND tags.c = 'd'",
    "name NOT IN ('a') AND name IN ('b')", "name IN ('a') IN ('b')", "name NOT ('a')",
    "name IN 'a'", "name NOT IN 'a'", "name IN ('a', 'b'", "name IN (\"a\", 'b')",
    "name IN ('a',)", "name IN ('a' 'b')", "name IN (['a'])", "name IN ({'a'})",
    "name IN ('a', ('b',))", "name = 'it''s'", "name = 'it\\'s'", "name = \"say \"\"hi\"\"\"",
    "tags.`mlflow.prompt.is_prompt` = 'true'", "tags.`mlflow.prompt.is_prompt` != 'false'",
    "tags.mlflow.prompt.is_prompt = 'TRUE'", "tags.a = 'b' AND version_number = 'z'",
    "name > 'a' AND tags.a = 1", "version_number = 'x' AND tags.a > 'b'",
    "tags.a > 'b' AND version_number = 'x'", "run_id = 1 AND name > 'a'",
    "name IS NULL AND tags.a = 1", "version_number > 1 AND version_number < 10",
    "version_number >= 1 AND run_id IN ('r1', 'r2') AND source_path LIKE 's3://%'",
    "version_number = 3 AND name = 'm' AND tags.`k k` = 'v'", "tags.a.b.c = 'd'",
    "tags.`a``b` = 'c'", "tags.\"a\"\"b\" = 'c'", "tags.'a' = 'b'", "tags. a = 'b'",
    "tags .a = 'b'", "attribute .name = 'a'", "attribute. name = 'a'", "tags.`` = 'a'",
    "tags.a = ''", "name = ''", "name LIKE '%'", "name ILIKE '_'", "name = 'é'", "tags.é = 'ü'",
    "name = 'a' AND (tags.a = 'b')", "NOT name = 'a'", "name = NULL", "name = TRUE",
    "name = a.b", "name = `a`", "name = tags.a", "name = (SELECT 1)", "name = ?", "name = :x",
    "name = 'a' ASC", "name DESC = 'a'", "name = 'a', tags.a = 'b'", "name = 'a' AS x",
    "version_number = 1 + 1", "version_number = -1", "version_number = +1", "version_number = 01",
    "version_number = 1.", "version_number = .5", "version_number = 1E3", "version_number = 1e-3",
    "version_number = '1e3'", "version_number = '+7'", "version_number = '٣'",
    "version_number = '" + "9" * 5000 + "'", "version_number = " + "9" * 5000,
    "version_number = -9223372036854775808", "version_number = '9223372036854775807'",
    "version_number = '-9223372036854775809'", "creation_timestamp > 1",
    "last_updated_timestamp = 1", "attribute.creation_timestamp > 1", "tags.a = 'b' c",
    "name = 'a' name = 'b'", "name == 'a' AND name <> 'b'",
]

IDENTIFIERS = [
    "name", "run_id", "source_path", "version_number", "attribute.name", "attribute.run_id",
    "attribute.source_path", "attribute.version_number", "`name`", '"name"', "Name", "NAME",
    "attr.name", "attributes.name", "`attribute`.name", "Attribute.name", "tag.a", "tags.a",
    "tags.`a b`", 'tags."a.b"', "tags.'a'", "tags.name", "tags.version_number", "tags.a.b",
    "params.a", "metrics.a", "run.name", "datasets.name", "foo", "creation_timestamp",
    "last_updated_timestamp", "`tags`.a", "TAGS.a", "tags.`mlflow.prompt.is_prompt`",
    "attribute.`name`", 'attribute."name"', "source", "version", "tags.", "tags.1a",
]
COMPARATORS = ["=", "!=", "==", "<>", ">", ">=", "<", "<=", "LIKE", "like", "ILIKE", "ilike",
               "NOT LIKE", "RLIKE", "IN", "in", "NOT IN", "not in", "IS", "IS NOT", "~"]
VALUES = ["'a'", '"a"', "a", "'a%'", "''", "'3'", "' 3 '", "'1_0'", "'x'", "'-0'",
          "'99999999999999999999'", "3", "-1", "0", "1.5", "1e3", "0x1F", "9223372036854775807",
          "9223372036854775808", "-9223372036854775809", "('a')", "('a', 'b')", "()", "(1, 2)",
          "('a', 1)", "(a)", "NULL", "NOT NULL", "TRUE", "`a`"]
# The keys a clause can be valid for (or fail on a builder-level check).
VALID_IDENTIFIERS = ["name", "run_id", "source_path", "version_number", "tags.a"]


def systematic_filters() -> list[str]:
    out = [f"{i} {c} {v}" for i, c, v in itertools.product(VALID_IDENTIFIERS, COMPARATORS,
                                                            VALUES)]
    samples = [("=", "'a'"), ("=", "3"), ("IN", "('a')"), ("LIKE", "'a%'"), (">", "3"),
               ("IS", "NULL"), ("NOT IN", "('a', 'b')"), ("=", "a"), ("!=", "''")]
    out += [f"{i} {c} {v}" for i in IDENTIFIERS for c, v in samples]
    return out


@pytest.mark.parametrize("registered", [True, False], ids=["registered_model", "model_version"])
def test_hand_written_filters_match_mlflow(store: SqlAlchemyStore, registered: bool) -> None:
    for text in FILTERS:
        assert_same_filter(store, text, registered)  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize("registered", [True, False], ids=["registered_model", "model_version"])
def test_systematic_filters_match_mlflow(store: SqlAlchemyStore, registered: bool) -> None:
    texts = systematic_filters()
    assert len(texts) > 3000
    accepted = 0
    for text in texts:
        assert_same_filter(store, text, registered)
        accepted += trackstore_filter(text, registered)[0] == "ok"
    assert accepted > (150 if registered else 300)  # the comparison is not vacuous


JOINERS = [" AND ", " and ", "  AND\n", " OR ", " ", " AND AND ", ";", ", "]


@st.composite
def clause_strings(draw: st.DrawFn) -> str:
    ident = draw(st.sampled_from(IDENTIFIERS + VALID_IDENTIFIERS * 4))
    space = draw(st.sampled_from([" ", "", "  "]))
    return ident + space + draw(st.sampled_from(COMPARATORS)) + space + draw(
        st.sampled_from(VALUES))


@st.composite
def filter_strings(draw: st.DrawFn) -> str:
    text = draw(clause_strings())
    for _ in range(draw(st.integers(0, 3))):
        text += draw(st.sampled_from(JOINERS)) + draw(clause_strings())
    return text


@settings(max_examples=300, deadline=None)
@given(text=filter_strings(), registered=st.booleans())
def test_generated_filters_match_mlflow(store: SqlAlchemyStore, text: str,
                                        registered: bool) -> None:
    assert_same_filter(store, text, registered)


# --- order_by ---------------------------------------------------------------------------------

ORDER_ENTRIES = [
    "name", "timestamp", "last_updated_timestamp", "creation_timestamp", "version_number",
    "name ASC", "name asc", "name DESC", "name desc", "name  DESC", "name\tASC", "name\nDESC",
    "timestamp DESC", "timestamp asc", "timestamp  DESC", "timestamp\nDESC", "TIMESTAMP",
    "Timestamp", "timestamp DESC ", " timestamp", "`timestamp`", "`timestamp` DESC",
    "\"timestamp\" asc", "`name`", "`name` DESC", '"name"', '"name" asc', "'name'",
    "'name' DESC", "attribute.name", "attribute.name DESC", "attribute.`name` ASC",
    'attribute."version_number"', "attribute.creation_timestamp DESC",
    "attribute.last_updated_timestamp", "attribute.timestamp", "attr.name", "attributes.name",
    "`attribute`.name", "tag.name", "tags.name", "tags.`name`", 'tags."name" DESC', "tags.x",
    "tags.`x y` DESC", "tags.version_number", "tags.timestamp", "metrics.name", "foo.name",
    "name ASC DESC", "name foo", "name,timestamp", "name;", "", " name", "name ", "name DESC ",
    "last_updated_timestamp DESC NULLS FIRST", "name DESC NULLS LAST", "run_id", "source_path",
    "`na me` ASC", "name`", "`name", '`a"b` DESC', 'attribute.`a"b`', "1", "name = 'a'",
    "(name)", "name.x", "-- c\nname", "name /* c */", "name -- c", "name DESC, timestamp",
    "last_updated_timestamp desc", "creation_timestamp ASC", "version_number DESC",
    "`version_number` DESC", "version_number DESC DESC", "name ASC;", "* DESC", "name AS x",
]


@pytest.mark.parametrize("registered", [True, False], ids=["registered_model", "model_version"])
def test_single_order_by_entries_match_mlflow(registered: bool) -> None:
    for entry in ORDER_ENTRIES:
        assert_same_order_by([entry], registered)


@pytest.mark.parametrize("registered", [True, False], ids=["registered_model", "model_version"])
def test_order_by_lists_match_mlflow(registered: bool) -> None:
    entries = ["name", "name DESC", "`name` DESC", "timestamp", "last_updated_timestamp DESC",
               "creation_timestamp", "version_number", "attribute.version_number DESC",
               "tags.name", "tags.x", "bad key", "name ASC DESC"]
    for size in (2, 3):
        for order_by in itertools.product(entries, repeat=size):
            assert_same_order_by(list(order_by), registered)
    assert_same_order_by([], registered)


# --- the AST ----------------------------------------------------------------------------------

def test_registered_model_filter_ast() -> None:
    parsed = parse_registered_model_filter(
        "name LIKE 'm%' AND tags.`k k` = 'v' AND attribute.name not in ('a', \"b\") "
        "AND tag.t ilike 'X' AND name in ('c')")
    assert parsed == ModelFilter((
        Comparison("attribute", "name", "LIKE", "m%"),
        Comparison("tag", "k k", "=", "v"),
        Comparison("attribute", "name", "NOT IN", ("a", "b")),
        Comparison("tag", "t", "ILIKE", "X"),
        Comparison("attribute", "name", "IN", ("c",)),
    ))
    assert parsed.tag_keys == {"k k", "t"}
    assert parse_registered_model_filter(None) == parse_registered_model_filter("") == \
        ModelFilter()


def test_model_version_filter_ast() -> None:
    parsed = parse_model_version_filter(
        "version_number >= 2 AND version_number != '7' AND run_id IN ('r') "
        "AND source_path = 's3://b/x' AND name != 'm' AND tags.\"a.b\" LIKE '%'")
    assert parsed.clauses == (
        Comparison("attribute", "version_number", ">=", 2),
        Comparison("attribute", "version_number", "!=", 7),
        Comparison("attribute", "run_id", "IN", ("r",)),
        Comparison("attribute", "source_path", "=", "s3://b/x"),
        Comparison("attribute", "name", "!=", "m"),
        Comparison("tag", "a.b", "LIKE", "%"),
    )
    assert all(type(c.value) is int for c in parsed.clauses[:2])
    assert parse_model_version_filter(None) == ModelFilter()


def test_order_by_ast() -> None:
    assert parse_registered_model_order_by(["timestamp DESC", "name"]) == (
        OrderBy("attribute", "last_updated_timestamp", False), OrderBy("attribute", "name"))
    assert parse_registered_model_order_by(None) == parse_registered_model_order_by([]) == ()
    assert parse_model_version_order_by(
        ["attribute.version_number desc", "creation_timestamp", "`last_updated_timestamp` ASC",
         "name DESC"]) == (
        OrderBy("attribute", "version_number", False),
        OrderBy("attribute", "creation_timestamp", True),
        OrderBy("attribute", "last_updated_timestamp", True),
        OrderBy("attribute", "name", False))
    assert parse_model_version_order_by(None) == ()
    assert parse_model_version_order_by(list(DEFAULT_MODEL_VERSION_ORDER_BY)) == (
        OrderBy("attribute", "last_updated_timestamp", False), OrderBy("attribute", "name"),
        OrderBy("attribute", "version_number", False))


def error(call: Any, *args: Any) -> str:
    with pytest.raises(TrackstoreError) as info:
        call(*args)
    assert info.value.error_code == INVALID_PARAMETER_VALUE
    return info.value.message


@pytest.mark.parametrize(("text", "message"), [
    ("name > 'a'", "Invalid comparator for attribute: >"),
    ("tags.a IN ('a')", "Expected a quoted string value for tag (e.g. 'my-value'). "
                        "Got value ('a')"),
    ("tags.a IN 'a'", "Invalid clause(s) in filter string: tags.a, IN, 'a'"),
    ("tags.a > 'b'", "Invalid comparator for tag: >"),
    ("name = 1", "Expected a quoted string value or a list of quoted string values for "
                 "attributes. Got value 1"),
    ("`name` = 'a'", "Invalid attribute key '`name`' specified. Valid keys are '{'name'}'"),
    ("params.a = 'b'", "Invalid entity type 'params'. Valid entity types are "
                       "('attribute', 'tag', 'tags')"),
    ("run_id = 'r'", "Invalid attribute key 'run_id' specified. Valid keys are '{'name'}'"),
    ("tags.a = 1", "Expected a quoted string value for tag (e.g. 'my-value'). Got value 1"),
    ("name = a", "Parameter value is either not quoted or unidentified quote types used for "
                 "string value a. Use either single or double quotes."),
])
def test_registered_model_messages(text: str, message: str) -> None:
    assert error(parse_registered_model_filter, text) == message


@pytest.mark.parametrize(("text", "message"), [
    ("version_number LIKE '1'", "Invalid comparator for attribute version_number: LIKE"),
    ("version_number = 1.0", "Invalid value for numeric attribute 'version_number': 1.0"),
    ("version_number = 'x'", "Invalid value for numeric attribute 'version_number': 'x'"),
    ("source_path IN ('s')", "Only ['name', 'run_id'] attributes support comparison with a "
                             "list of quoted string values."),
    ("run_id = 1", "Only the '{'version_number', 'creation_timestamp', "
                   "'last_updated_timestamp'}' attributes support comparison with numeric "
                   "values."),
    ("source_path > 'a'", "Invalid comparator for attribute: >"),
    ("creation_timestamp > 1", "Invalid attribute key 'creation_timestamp' specified. Valid "
                               "keys are '{'name', 'version_number', 'run_id', "
                               "'source_path'}'"),
])
def test_model_version_messages(text: str, message: str) -> None:
    assert error(parse_model_version_filter, text) == message


# --- the documented deviations ----------------------------------------------------------------

@pytest.mark.parametrize(("text", "message"), [
    ("tags.a IS NULL", "Invalid comparator for tag: IS NULL"),
    ("tags.a IS NOT NULL", "Invalid comparator for tag: IS NOT NULL"),
    ("name IS NULL", "Invalid comparator for attribute: IS NULL"),
])
@pytest.mark.parametrize("registered", [True, False], ids=["registered_model", "model_version"])
def test_deviation_is_null(text: str, message: str, registered: bool) -> None:
    utils = SearchModelUtils if registered else SearchModelVersionUtils
    with pytest.raises(ValueError, match="not enough values to unpack"):
        utils.parse_search_filter(text)
    parse = parse_registered_model_filter if registered else parse_model_version_filter
    assert error(parse, text) == message


def test_deviation_version_number_is_null() -> None:
    assert error(parse_model_version_filter, "version_number IS NULL") == (
        "Invalid comparator for attribute version_number: IS NULL")


@pytest.mark.parametrize("text", ["name = ('a', 'b')", "name != ('a')", "name LIKE ('a%',)",
                                  "name ILIKE ('a', 'b')"])
@pytest.mark.parametrize("registered", [True, False], ids=["registered_model", "model_version"])
def test_deviation_list_with_a_scalar_comparator(store: SqlAlchemyStore, text: str,
                                                 registered: bool) -> None:
    search = store.search_registered_models if registered else store.search_model_versions
    with pytest.raises(MlflowException, match="Error binding parameter") as info:
        search(text)
    assert info.value.error_code == "BAD_REQUEST"
    comparator = text.split()[1].upper()
    parse = parse_registered_model_filter if registered else parse_model_version_filter
    assert error(parse, text) == f"Invalid comparator '{comparator}' for a list of values"


@pytest.mark.parametrize(("text", "shown"), [
    ("version_number > 9223372036854775808", "9223372036854775808"),
    ("version_number < -9223372036854775809", "-9223372036854775809"),
    ("version_number = '99999999999999999999'", "'99999999999999999999'"),
])
def test_deviation_version_number_out_of_int64(store: SqlAlchemyStore, text: str,
                                               shown: str) -> None:
    with pytest.raises(MlflowException, match="too large to convert") as info:
        store.search_model_versions(text)
    assert info.value.error_code == "INTERNAL_ERROR"
    assert error(parse_model_version_filter, text) == (
        f"Invalid value for numeric attribute 'version_number': {shown}")


def test_deviation_version_number_literal_too_long() -> None:
    digits = "9" * 5000
    with pytest.raises(ValueError, match="Exceeds the limit"):
        SearchModelVersionUtils.parse_search_filter(f"version_number = {digits}")
    assert error(parse_model_version_filter, f"version_number = {digits}") == (
        f"Invalid value for numeric attribute 'version_number': {digits}")
    # In range, the extremes are accepted.
    assert parse_model_version_filter("version_number > -9223372036854775808").clauses[0].value \
        == -(2**63)


def test_deviation_ill_formed_list() -> None:
    with pytest.raises(ValueError, match="malformed node"):
        SearchModelUtils.parse_search_filter("name IN (a)")
    assert error(parse_registered_model_filter, "name IN (a)") == (
        "While parsing a list in the query, expected a non-empty list of string values, but "
        "got ill-formed list.")


@pytest.mark.parametrize(("order_by", "registered"), [
    (["name", "name DESC"], True), (["timestamp", "last_updated_timestamp DESC"], True),
    (["version_number", "attribute.version_number DESC"], False),
    (["name", "tags.name"], False),
])
def test_deviation_duplicate_order_by_error_code(order_by: list[str], registered: bool) -> None:
    parse_sql = (SqlAlchemyStore._parse_search_registered_models_order_by if registered
                 else SqlAlchemyStore._parse_search_model_versions_order_by)
    message = f"`order_by` contains duplicate fields: {order_by}"
    with pytest.raises(MlflowException) as info:
        parse_sql(order_by)
    assert (info.value.message, info.value.error_code) == (message, "INTERNAL_ERROR")
    parse = parse_registered_model_order_by if registered else parse_model_version_order_by
    if order_by[1] != "tags.name":
        assert error(parse, order_by) == message
    else:  # rejected for the tag before it can count as a duplicate
        assert error(parse, order_by) == "Invalid order_by entity: tag"


@pytest.mark.parametrize("entry", ["tags.name", "tag.version_number DESC", "tags.`name`",
                                   "tags.creation_timestamp"])
def test_deviation_model_version_order_by_tag(entry: str) -> None:
    clauses = SqlAlchemyStore._parse_search_model_versions_order_by([entry])
    assert clauses  # MLflow silently orders by the attribute of that name
    assert error(parse_model_version_order_by, [entry]) == "Invalid order_by entity: tag"
    assert error(parse_model_version_order_by, ["tags.x"]) == (
        "Invalid order by key 'x' specified. Valid keys are {'name', 'version_number', "
        "'creation_timestamp', 'last_updated_timestamp'}")


@pytest.mark.parametrize("entry", ["creation_timestamp", "attribute.name"])
def test_registered_model_order_by_follows_the_sql_store(entry: str) -> None:
    # MLflow's FileStore (SearchModelUtils) accepts these; its SQL store (SearchUtils) does not.
    SearchModelUtils.parse_order_by_for_search_registered_models(entry)
    with pytest.raises(MlflowException):
        SearchUtils.parse_order_by_for_search_registered_models(entry)
    assert error(parse_registered_model_order_by, [entry]) == (
        f"Invalid order by key '{entry}' specified. Valid keys are '{{'name', 'timestamp'}}'")


def test_deviation_unbalanced_quote_in_order_by() -> None:
    with pytest.raises(ValueError, match="No closing quotation"):
        SqlAlchemyStore._parse_search_model_versions_order_by(['`a"b` DESC'])
    assert error(parse_model_version_order_by, ['`a"b` DESC']) == (
        "Invalid order_by clause '`a\"b` DESC'. Could not be parsed.")
