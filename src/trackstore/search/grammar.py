"""MLflow's search grammar: filter strings and ``order_by`` clauses, parsed into a typed AST.

A run filter is an ``AND``-only conjunction of comparisons ``<identifier> <comparator> <value>``;
an identifier is ``<entity>.<key>`` (entities ``metric(s)``, ``param(s)``/``parameter(s)``,
``tag(s)``, ``attribute(s)``/``attr``/``run``, ``dataset(s)``) or a bare attribute name; keys may
be quoted with backticks or double quotes. Experiment filters take attributes and tags only.
Registered-model and model-version filters (the model registry's ``search_registered_models`` and
``search_model_versions``) take attributes and ``tag(s).<key>`` only, with the comparators and
values MLflow's SQL registry store accepts end to end (its parser plus its query builders).
An ``order_by`` entry is ``<identifier> [ASC|DESC]``. The exact rules, including which odd
spellings MLflow tolerates (``metrics.a > 1 metrics.b < 2``, a dangling ``AND``, ``metrics. a``
with key ``" a"``) follow from the token shape in :mod:`trackstore.search._tokens`; this module
applies MLflow's clause rules to it and raises :class:`TrackstoreError` with MLflow's messages.

The AST is backend-neutral: ``kind`` is one of ``metric param tag attribute dataset``, attribute
aliases are resolved (``created`` -> ``start_time``, ``run name`` -> ``run_name``), comparators
are upper-case (``= != > >= < <= LIKE ILIKE IN NOT IN IS NULL IS NOT NULL``), metric values are
floats, numeric attribute values ints or floats, lists are tuples of strings. Registry filters
keep MLflow's key names (``source_path``, ``version_number``: the SQL layer maps them to columns);
``version_number`` values are ints (also when written as a quoted string, ``'3'``), and a list is
only ever the value of ``IN`` / ``NOT IN``. Registry ``order_by`` keys are ``name`` and
``last_updated_timestamp`` (``timestamp`` is normalised to it) for registered models, and
``name``, ``version_number``, ``creation_timestamp``, ``last_updated_timestamp`` for versions.

Deviations from MLflow 3.17 (mostly rejecting, with a proper error, what MLflow crashes on):

* Comparators are validated when the filter is parsed, with MLflow's messages. MLflow's
  FileStore only validates them while matching runs, so with no runs (or when an earlier clause
  already failed for every run) it silently accepts ``metrics.a == 1``; its SQL store rejects it.
* ``LIKE``/``ILIKE`` with a list (``run_id LIKE ('a')``) is rejected; MLflow crashes (TypeError).
* An ``IN`` list that is not a Python literal (``run_id IN (a)``) gets MLflow's "ill-formed list"
  message; MLflow raises a bare ValueError.
* An ``order_by`` with an unbalanced quote inside a quoted key gets "Could not be parsed";
  MLflow raises a bare ValueError from ``shlex``.
* ``order_by`` on ``dataset.*`` is rejected at parse time ("Invalid order_by entity type
  'dataset'"); MLflow fails only once it sorts at least one run.
* Duplicate run ``order_by`` fields are rejected (as MLflow's SQL store does, but with
  INVALID_PARAMETER_VALUE; its FileStore ignores them). Experiments never reject duplicates.
* Attribute aliases (``created``, ``Created``, ``run name``, ``Run name``, ``Run Name``) are
  resolved for attributes only. MLflow resolves them for every kind, in both stores, so
  ``metrics.created`` filters and sorts on the metric ``start_time`` and a metric, param or tag
  with one of those names cannot be searched at all.
* Set-valued parts of messages list their members in a fixed order; MLflow prints a Python
  ``set``, whose order changes from process to process.
* Registry filters: ``IS NULL`` / ``IS NOT NULL`` get "Invalid comparator for tag: IS NULL" (or
  "for attribute: ..."); MLflow's registry parser crashes on them (ValueError while unpacking).
* Registry filters: a list compared with ``=``, ``!=``, ``LIKE`` or ``ILIKE`` (``name = ('a')``)
  gets "Invalid comparator '=' for a list of values"; MLflow's SQL store builds the query and
  fails when the database binds the tuple (BAD_REQUEST with the SQL error as message).
* ``version_number`` values outside the signed 64-bit range, and integer literals too long for
  ``int()``, get MLflow's "Invalid value for numeric attribute 'version_number': ..." message;
  MLflow fails with INTERNAL_ERROR when SQLite binds the value, or crashes (ValueError) on the
  literal.
* Duplicate registry ``order_by`` fields (``timestamp`` and ``last_updated_timestamp`` are the
  same field) are rejected with MLflow's message but INVALID_PARAMETER_VALUE (MLflow's SQL store:
  INTERNAL_ERROR).
* Model-version ``order_by`` on ``tag(s).<key>`` is always rejected. For a key that is not an
  ordering key the message is MLflow's ("Invalid order by key 'x' specified. ..."); for
  ``tags.name`` and the other ordering keys it is "Invalid order_by entity: tag" (the message of
  MLflow's in-memory sort), where MLflow's SQL store silently orders by the attribute instead.
* Registered-model ``order_by`` follows MLflow's SQL store, not its FileStore: keys ``name``,
  ``timestamp``, ``last_updated_timestamp`` only, without an entity prefix, so
  ``creation_timestamp`` and ``attribute.name`` are rejected (as the SQL store does).
* Bare SQL keywords, built-in type names and the like get a different rejection message, and
  such a word after ``.`` and white space is a key here (``metrics. user``: key ``" user"``)
  where MLflow rejects it (see :mod:`trackstore.search._tokens`).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from trackstore.exceptions import INVALID_PARAMETER_VALUE, TrackstoreError

from . import _tokens as t

Kind: TypeAlias = Literal["metric", "param", "tag", "attribute", "dataset"]
OrderKind: TypeAlias = Literal["metric", "param", "tag", "attribute"]
Value: TypeAlias = float | int | str | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Comparison:
    """One clause: ``<kind>.<key> <comparator> <value>``."""

    kind: Kind
    key: str
    comparator: str
    value: Value


@dataclass(frozen=True, slots=True)
class RunFilter:
    """A parsed run filter: the conjunction of ``clauses`` (empty: every run matches)."""

    clauses: tuple[Comparison, ...] = ()

    def keys(self, kind: Kind) -> frozenset[str]:
        return frozenset(c.key for c in self.clauses if c.kind == kind)

    @property
    def metric_keys(self) -> frozenset[str]:
        return self.keys("metric")

    @property
    def param_keys(self) -> frozenset[str]:
        return self.keys("param")

    @property
    def tag_keys(self) -> frozenset[str]:
        return self.keys("tag")

    @property
    def uses_datasets(self) -> bool:
        return any(c.kind == "dataset" for c in self.clauses)


@dataclass(frozen=True, slots=True)
class ExperimentFilter:
    """A parsed experiment filter (kinds ``attribute`` and ``tag`` only)."""

    clauses: tuple[Comparison, ...] = ()

    @property
    def tag_keys(self) -> frozenset[str]:
        return frozenset(c.key for c in self.clauses if c.kind == "tag")


@dataclass(frozen=True, slots=True)
class ModelFilter:
    """A parsed registered-model or model-version filter (kinds ``attribute`` and ``tag``)."""

    clauses: tuple[Comparison, ...] = ()

    @property
    def tag_keys(self) -> frozenset[str]:
        return frozenset(c.key for c in self.clauses if c.kind == "tag")


@dataclass(frozen=True, slots=True)
class OrderBy:
    """One ``order_by`` entry; ``key`` has attribute aliases resolved."""

    kind: OrderKind
    key: str
    ascending: bool = True


@dataclass(frozen=True, slots=True)
class KeyRefs:
    """Which per-run data a filter plus an ordering reads: what a store must load."""

    metrics: frozenset[str]
    params: frozenset[str]
    tags: frozenset[str]
    datasets: bool


def referenced_keys(run_filter: RunFilter, order_by: Sequence[OrderBy] = ()) -> KeyRefs:
    def keys(kind: Kind) -> frozenset[str]:
        return run_filter.keys(kind) | {o.key for o in order_by if o.kind == kind}

    return KeyRefs(keys("metric"), keys("param"), keys("tag"), run_filter.uses_datasets)


# --- vocabulary (MLflow's names, and its declaration order for messages) -------------------

LIKE, ILIKE = "LIKE", "ILIKE"
METRIC_COMPARATORS = (">", ">=", "!=", "=", "<", "<=")
PARAM_COMPARATORS = ("!=", "=", LIKE, ILIKE, "IS NULL", "IS NOT NULL")
TAG_COMPARATORS = PARAM_COMPARATORS
STRING_ATTRIBUTE_COMPARATORS = ("!=", "=", LIKE, ILIKE, "IN", "NOT IN")
NUMERIC_ATTRIBUTE_COMPARATORS = METRIC_COMPARATORS
DATASET_COMPARATORS = STRING_ATTRIBUTE_COMPARATORS

RUN_ATTRIBUTES = ("artifact_uri", "end_time", "run_id", "run_name", "start_time", "status",
                  "user_id")
_ATTRIBUTE_ALIASES = {"created": "start_time", "Created": "start_time", "run name": "run_name",
                      "Run name": "run_name", "Run Name": "run_name"}
RUN_SEARCH_KEYS = (*RUN_ATTRIBUTES, "created", "Created", "run name", "Run name", "Run Name")
RUN_ORDER_KEYS = (*RUN_ATTRIBUTES, "created", "Created")
RUN_NUMERIC_KEYS = ("start_time", "end_time", "created", "Created")
DATASET_KEYS = ("name", "digest", "context")
EXPERIMENT_KEYS = ("name", "experiment_id", "creation_time", "last_update_time")
EXPERIMENT_NUMERIC_KEYS = ("creation_time", "last_update_time")
REGISTERED_MODEL_KEYS = ("name",)
MODEL_VERSION_KEYS = ("name", "version_number", "run_id", "source_path")
# MLflow's numeric model-version attributes; only version_number is searchable, but a number
# compared with another attribute gets a message that lists all three.
MODEL_VERSION_NUMERIC_KEYS = ("version_number", "creation_timestamp", "last_updated_timestamp")
MODEL_LIST_KEYS = ("name", "run_id")
MODEL_ATTRIBUTE_COMPARATORS = ("=", "!=", LIKE, ILIKE, "IN", "NOT IN")
MODEL_TAG_COMPARATORS = ("=", "!=", LIKE, ILIKE)
REGISTERED_MODEL_ORDER_KEYS = ("name", "timestamp", "last_updated_timestamp")
_REGISTERED_MODEL_RECOMMENDED_ORDER_KEYS = ("name", "timestamp")
MODEL_VERSION_ORDER_KEYS = ("name", "version_number", "creation_timestamp",
                            "last_updated_timestamp")
#: What MLflow's SQL store orders model versions by when ``order_by`` is empty.
DEFAULT_MODEL_VERSION_ORDER_BY = ("last_updated_timestamp DESC", "name ASC", "version_number DESC")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

_ENTITIES = ("metric", "parameter", "tag", "attribute", "dataset")
_ENTITY_ALIASES = {
    "metric": "metric", "metrics": "metric",
    "parameter": "parameter", "parameters": "parameter", "param": "parameter",
    "params": "parameter",
    "tag": "tag", "tags": "tag",
    "attribute": "attribute", "attributes": "attribute", "attr": "attribute", "run": "attribute",
    "dataset": "dataset", "datasets": "dataset",
}
_EXPERIMENT_ENTITIES = ("attribute", "tag", "tags")
_KINDS: dict[str, Kind] = {"metric": "metric", "parameter": "param", "tag": "tag",
                           "attribute": "attribute", "dataset": "dataset"}


def translate_key_alias(key: str) -> str:
    return _ATTRIBUTE_ALIASES.get(key, key)


def _set_repr(items: Iterable[str]) -> str:
    return "{" + ", ".join(repr(i) for i in items) + "}"


def _invalid(message: str) -> TrackstoreError:
    return TrackstoreError(message, INVALID_PARAMETER_VALUE)


# --- identifiers and values ------------------------------------------------------------------

def _quoted(text: str, quote: str) -> bool:
    return len(text) >= 2 and text[0] == quote and text[-1] == quote


def _trim_backticks(text: str) -> str:
    return text[1:-1] if _quoted(text, "`") else text


def _strip_quotes(text: str, expect_quoted: bool = False) -> str:
    if _quoted(text, "'") or _quoted(text, '"'):
        return text[1:-1]
    if expect_quoted:
        raise _invalid(
            f"Parameter value is either not quoted or unidentified quote types used for string "
            f"value {text}. Use either single or double quotes.")
    return text


@dataclass(frozen=True)
class _Syntax:
    """What differs between run and experiment filters."""

    experiments: bool
    attribute_keys: tuple[str, ...]
    numeric_keys: tuple[str, ...]
    list_keys: tuple[str, ...]

    def entity(self, text: str, attribute_keys: tuple[str, ...]) -> tuple[str, str]:
        """``(entity, key)`` of an identifier's text, as MLflow's ``_get_identifier``."""
        head, dot, rest = text.partition(".")
        if not dot:
            entity, key = "attribute", head
        else:
            if self.experiments and head not in _EXPERIMENT_ENTITIES:
                raise _invalid(f"Invalid entity type '{head}'. Valid entity types are "
                               f"{_EXPERIMENT_ENTITIES}")
            name = _trim_backticks(head)
            if name not in _ENTITY_ALIASES:
                raise _invalid(f"Invalid entity type '{name}'. Valid values are {list(_ENTITIES)}")
            entity, key = _ENTITY_ALIASES[name], rest
        key = _trim_backticks(_strip_quotes(key))
        if entity == "attribute" and key not in attribute_keys:
            raise _invalid(f"Invalid attribute key '{key}' specified. Valid keys are "
                           f"'{_set_repr(attribute_keys)}'")
        if entity == "dataset" and key not in DATASET_KEYS:
            raise _invalid(f"Invalid dataset key '{key}' specified. Valid keys are "
                           f"'{_set_repr(DATASET_KEYS)}'")
        return entity, key

    def value(self, entity: str, key: str, node: t.Node) -> Value:
        """The clause value, as MLflow's ``_get_value`` reads it (metric values stay text)."""
        is_string = node.kind in (t.STRING, t.IDENTIFIER)
        if entity == "metric":
            if node.kind not in (t.INTEGER, t.FLOAT):
                raise _invalid(f"Expected numeric value type for metric. Found {node.text}")
            return node.text
        if entity in ("parameter", "tag"):
            if is_string:
                return _strip_quotes(node.text, expect_quoted=True)
            raise _invalid(f"Expected a quoted string value for {entity} (e.g. 'my-value'). "
                           f"Got value {node.text}")
        if entity == "attribute":
            if key in self.numeric_keys:
                if node.kind == t.INTEGER:
                    return int(node.text)
                if node.kind == t.FLOAT:
                    return float(node.text)
                raise _invalid(f"Expected numeric value type for numeric attribute: {key}. "
                               f"Found {node.text}")
            if is_string:
                return _strip_quotes(node.text, expect_quoted=True)
            if node.kind == t.PARENTHESIS:
                if key not in self.list_keys:
                    raise _invalid(f"Only {sorted(self.list_keys)} attributes support comparison "
                                   "with a list of quoted string values.")
                return _parse_list(node.text)
            raise _invalid(f"Expected a quoted string value for attributes. Got value {node.text}")
        # dataset
        if is_string:
            return _strip_quotes(node.text, expect_quoted=True)
        if node.kind == t.PARENTHESIS:
            return _parse_list(node.text)
        raise _invalid("Expected a quoted string value for dataset attributes. "
                       f"Got value {node.text}")


_RUNS = _Syntax(False, RUN_SEARCH_KEYS, RUN_NUMERIC_KEYS, ("run_id",))
_EXPERIMENTS = _Syntax(True, EXPERIMENT_KEYS, EXPERIMENT_NUMERIC_KEYS, ("experiment_id",))


def _parse_list(text: str) -> tuple[str, ...]:
    try:
        parsed = ast.literal_eval(text)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError) as exc:
        raise _invalid("While parsing a list in the query, expected a non-empty list of string "
                       "values, but got ill-formed list.") from exc
    items = parsed if isinstance(parsed, tuple) else (parsed,)
    if not items:
        raise _invalid("While parsing a list in the query, expected a non-empty list of string "
                       "values, but got empty list")
    if not all(isinstance(i, str) for i in items):
        raise _invalid("While parsing a list in the query, expected string value, punctuation, "
                       f"or whitespace, but got different type in list: {items}")
    return items


# --- statements and clauses -----------------------------------------------------------------

def _join_lists_and_nulls(nodes: list[t.Node]) -> list[t.Node]:
    """Make comparisons of ``x IN (..)``, ``x NOT IN (..)``, ``x IS NULL``, ``x IS NOT NULL``.

    sqlparse leaves these as separate tokens. Like MLflow, an identifier is looked at together
    with the two (or three) tokens after it, and those are passed over when they do not fit.
    """
    out: list[t.Node] = []
    i, n = 0, len(nodes)
    while i < n:
        first = nodes[i]
        if n - i < 3:
            out.extend(nodes[i:])
            break
        if first.kind != t.IDENTIFIER:
            out.append(first)
            i += 1
            continue
        second, third = nodes[i + 1], nodes[i + 2]
        if second.is_word("IN") and third.kind == t.PARENTHESIS:
            out.append(_comparison(first, second, third))
            i += 3
            continue
        if second.is_word("IS") and (third.is_word("NULL") or third.is_word("NOT NULL")):
            word = "IS NULL" if third.is_word("NULL") else "IS NOT NULL"
            out.append(_comparison(first, t.Node(t.KEYWORD, word)))
            i += 3
            continue
        if i + 3 >= n:
            out.extend((first, second, third))
            break
        fourth = nodes[i + 3]
        if second.is_word("NOT") and third.is_word("IN") and fourth.kind == t.PARENTHESIS:
            out.append(_comparison(first, t.Node(t.KEYWORD, "NOT IN"), fourth))
        else:
            out.extend((first, second, third, fourth))
        i += 4
    return out


def _comparison(*parts: t.Node) -> t.Node:
    return t.Node(t.COMPARISON, " ".join(p.text for p in parts), parts)


def _single_statement(text: str) -> list[t.Node]:
    try:
        statements = t.split_statements(text)
    except t.TooManyTokens:
        raise _invalid(f"Error on parsing filter '{text}'") from None
    if not statements:
        raise _invalid(f"Invalid filter '{text}'. Could not be parsed.")
    if len(statements) > 1:
        raise _invalid(f"Search filter contained multiple expression {text!r}. "
                       "Provide AND-ed expression list.")
    return t.group_statement(statements[0])


@dataclass(frozen=True)
class _RawClause:
    """A clause as MLflow's parser returns it: entity name, unresolved key, raw comparator."""

    entity: str
    key: str
    comparator: str
    value: Value


def _comparison_nodes(text: str, quote_invalid: bool) -> list[t.Node]:
    """The comparisons of an ``AND``-ed filter; anything else is an invalid clause."""
    nodes = _join_lists_and_nulls([n for n in _single_statement(text) if not n.is_whitespace])
    invalid = [n for n in nodes if n.kind != t.COMPARISON and not n.is_word("AND")]
    if invalid:
        if quote_invalid:
            listed = ", ".join(f"'{n.text}'" for n in invalid)
        else:
            listed = ", ".join(n.text for n in invalid)
        raise _invalid(f"Invalid clause(s) in filter string: {listed}")
    return [n for n in nodes if n.kind == t.COMPARISON]


def _parse_clauses(text: str, syntax: _Syntax) -> list[_RawClause]:
    return [_clause(n, syntax) for n in _comparison_nodes(text, not syntax.experiments)]


def _clause(node: t.Node, syntax: _Syntax) -> _RawClause:
    parts = t.operands(node)
    if len(parts) == 2 and parts[1].text in ("IS NULL", "IS NOT NULL"):
        entity, key = syntax.entity(parts[0].text, syntax.attribute_keys)
        if syntax.experiments and entity != "tag":
            raise _invalid("IS NULL / IS NOT NULL is only supported for tags, not for attribute "
                           f"'{key}'")
        if not syntax.experiments and entity not in ("tag", "parameter"):
            raise _invalid("IS NULL / IS NOT NULL is only supported for tags and params, "
                           f"not for '{entity}' '{key}'")
        return _RawClause(entity, key, parts[1].text, None)
    if len(parts) != 3:  # not produced by the grouping; kept for parity with MLflow
        raise _invalid(f"Invalid comparison clause. Expected 3 tokens found {len(parts)}")
    left, comparator, right = parts
    if left.kind != t.IDENTIFIER:
        raise _invalid(f"Invalid comparison clause. Expected 'Identifier' found '{left.text}'")
    entity, key = syntax.entity(left.text, syntax.attribute_keys)
    return _RawClause(entity, key, comparator.text, syntax.value(entity, key, right))


def _check_comparator(comparator: str, allowed: tuple[str, ...], listed: tuple[str, ...],
                      closing_quote: bool) -> None:
    # MLflow's messages differ in whether the set is followed by a closing quote.
    if comparator not in allowed:
        end = "'" if closing_quote else ""
        raise _invalid(f"Invalid comparator '{comparator}' not one of '{_set_repr(listed)}{end}")


def _run_comparison(raw: _RawClause) -> Comparison:
    comparator = raw.comparator.upper()
    key = translate_key_alias(raw.key) if raw.entity == "attribute" else raw.key
    value = raw.value
    if raw.entity == "metric":
        _check_comparator(comparator, METRIC_COMPARATORS, METRIC_COMPARATORS, False)
        assert isinstance(value, str)
        value = float(value)
    elif raw.entity == "parameter":
        _check_comparator(comparator, PARAM_COMPARATORS, PARAM_COMPARATORS, True)
    elif raw.entity == "tag":
        _check_comparator(comparator, TAG_COMPARATORS, TAG_COMPARATORS, False)
    elif raw.entity == "attribute" and key not in RUN_NUMERIC_KEYS:
        _check_comparator(comparator, STRING_ATTRIBUTE_COMPARATORS, STRING_ATTRIBUTE_COMPARATORS,
                          True)
    elif raw.entity == "attribute":
        _check_comparator(comparator, NUMERIC_ATTRIBUTE_COMPARATORS,
                          STRING_ATTRIBUTE_COMPARATORS, False)
    else:
        _check_comparator(comparator, DATASET_COMPARATORS, DATASET_COMPARATORS, False)
    _check_list_comparator(comparator, value)
    return Comparison(_KINDS[raw.entity], key, comparator, value)


def _experiment_comparison(raw: _RawClause) -> Comparison:
    comparator = raw.comparator.upper()
    if raw.entity == "attribute" and raw.key not in EXPERIMENT_NUMERIC_KEYS:
        _check_comparator(comparator, STRING_ATTRIBUTE_COMPARATORS, STRING_ATTRIBUTE_COMPARATORS,
                          True)
    elif raw.entity == "attribute":
        _check_comparator(comparator, NUMERIC_ATTRIBUTE_COMPARATORS,
                          STRING_ATTRIBUTE_COMPARATORS, False)
    else:
        _check_comparator(comparator, TAG_COMPARATORS, TAG_COMPARATORS, False)
    _check_list_comparator(comparator, raw.value)
    return Comparison(_KINDS[raw.entity], raw.key, comparator, raw.value)


def _check_list_comparator(comparator: str, value: Value) -> None:
    # MLflow compares a list with = / != (never equal) but crashes on LIKE / ILIKE.
    if isinstance(value, tuple) and comparator in (LIKE, ILIKE):
        raise _invalid(f"Invalid comparator '{comparator}' for a list of values")


@functools.lru_cache(maxsize=512)
def parse_run_filter(filter_string: str | None) -> RunFilter:
    """Parse a ``search_runs`` filter; ``None`` or ``""`` match every run."""
    if not filter_string:
        return RunFilter()
    raw = _parse_clauses(filter_string, _RUNS)
    return RunFilter(tuple(_run_comparison(r) for r in raw))


@functools.lru_cache(maxsize=512)
def parse_experiment_filter(filter_string: str | None) -> ExperimentFilter:
    """Parse a ``search_experiments`` filter; ``None`` or ``""`` match every experiment."""
    if not filter_string:
        return ExperimentFilter()
    raw = _parse_clauses(filter_string, _EXPERIMENTS)
    return ExperimentFilter(tuple(_experiment_comparison(r) for r in raw))


# --- model registry filters -------------------------------------------------------------------

@dataclass(frozen=True)
class _ModelSyntax:
    """What differs between registered-model and model-version filters.

    ``numeric_keys`` is ``None`` where a number is never a value (registered models); otherwise
    the attributes a number may be compared with, of which ``searchable_numeric_keys`` are
    filterable (MLflow's parser and its query builder disagree on the first set).
    """

    attribute_keys: tuple[str, ...]
    list_keys: tuple[str, ...]
    numeric_keys: tuple[str, ...] | None
    searchable_numeric_keys: tuple[str, ...]

    def entity(self, text: str) -> tuple[Kind, str]:
        """``(kind, key)`` of an identifier, as MLflow's ``_get_model_search_identifier``."""
        head, dot, rest = text.partition(".")
        kind: Kind = "attribute"
        key = head
        if dot:
            if head not in _EXPERIMENT_ENTITIES:
                raise _invalid(f"Invalid entity type '{head}'. Valid entity types are "
                               f"{_EXPERIMENT_ENTITIES}")
            kind, key = ("attribute" if head == "attribute" else "tag"), rest
        # MLflow checks an attribute key before it removes quotes: `name` and "name" are invalid.
        if kind == "attribute" and key not in self.attribute_keys:
            raise _invalid(f"Invalid attribute key '{key}' specified. Valid keys are "
                           f"'{_set_repr(self.attribute_keys)}'")
        return kind, _trim_backticks(_strip_quotes(key))

    def value(self, kind: Kind, key: str, node: t.Node) -> Value:
        """The clause value, as the registry's ``_get_value`` reads it."""
        is_string = node.kind in (t.STRING, t.IDENTIFIER)
        if kind == "tag":
            if is_string:
                return _strip_quotes(node.text, expect_quoted=True)
            raise _invalid("Expected a quoted string value for tag (e.g. 'my-value'). "
                           f"Got value {node.text}")
        if is_string:
            return _strip_quotes(node.text, expect_quoted=True)
        if node.kind == t.PARENTHESIS:
            if key not in self.list_keys:
                raise _invalid(f"Only {sorted(self.list_keys)} attributes support comparison "
                               "with a list of quoted string values.")
            return _parse_list(node.text)
        if self.numeric_keys is not None and node.kind in (t.INTEGER, t.FLOAT):
            if key not in self.numeric_keys:
                raise _invalid(f"Only the '{_set_repr(self.numeric_keys)}' attributes support "
                               "comparison with numeric values.")
            if node.kind == t.FLOAT:
                return float(node.text)
            try:
                return int(node.text)
            except ValueError:  # more digits than int() takes
                raise _invalid(f"Invalid value for numeric attribute '{key}': "
                               f"{node.text}") from None
        raise _invalid("Expected a quoted string value or a list of quoted string values for "
                       f"attributes. Got value {node.text}")

    def clause(self, node: t.Node) -> tuple[Kind, str, str, Value]:
        """``(kind, key, upper-case comparator, value)`` of one comparison."""
        parts = t.operands(node)
        if len(parts) == 2 and parts[1].text in ("IS NULL", "IS NOT NULL"):
            # MLflow crashes on the clause here; reject it here, with the builder's message.
            kind, key = self.entity(parts[0].text)
            self.comparison(kind, key, parts[1].text, None)
            raise AssertionError("IS [NOT] NULL is never a registry comparator")
        if len(parts) != 3:  # not produced by the grouping; kept for parity with MLflow
            raise _invalid(f"Invalid comparison clause. Expected 3 tokens found {len(parts)}")
        left, comparator, right = parts
        if left.kind != t.IDENTIFIER:
            raise _invalid(f"Invalid comparison clause. Expected 'Identifier' found '{left.text}'")
        kind, key = self.entity(left.text)
        return kind, key, comparator.text.upper(), self.value(kind, key, right)

    def comparison(self, kind: Kind, key: str, comparator: str, value: Value) -> Comparison:
        """Apply the checks of MLflow's SQL query builder (and of the database) to a clause."""
        if kind == "tag":
            if comparator not in MODEL_TAG_COMPARATORS:
                raise _invalid(f"Invalid comparator for tag: {comparator}")
        elif key in self.searchable_numeric_keys:
            if comparator not in NUMERIC_ATTRIBUTE_COMPARATORS:
                raise _invalid(f"Invalid comparator for attribute {key}: {comparator}")
            value = _int64_value(key, value)
        elif comparator not in MODEL_ATTRIBUTE_COMPARATORS or (
                comparator in ("IN", "NOT IN") and key not in self.list_keys):
            raise _invalid(f"Invalid comparator for attribute: {comparator}")
        if isinstance(value, tuple) and comparator not in ("IN", "NOT IN"):
            raise _invalid(f"Invalid comparator '{comparator}' for a list of values")
        return Comparison(kind, key, comparator, value)


_REGISTERED_MODELS = _ModelSyntax(REGISTERED_MODEL_KEYS, REGISTERED_MODEL_KEYS, None, ())
_MODEL_VERSIONS = _ModelSyntax(MODEL_VERSION_KEYS, MODEL_LIST_KEYS, MODEL_VERSION_NUMERIC_KEYS,
                               ("version_number",))


def _int64_value(key: str, value: Value) -> int:
    """A numeric attribute's value as MLflow's builder reads it (``int(value)``, not a float),
    within the signed 64-bit range that a database integer column holds."""
    invalid = _invalid(f"Invalid value for numeric attribute '{key}': {value!r}")
    if not isinstance(value, (int, str)):
        raise invalid
    try:
        number = int(value)
    except ValueError:
        raise invalid from None
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise invalid
    return number


def _parse_model_filter(filter_string: str, syntax: _ModelSyntax) -> ModelFilter:
    # Like MLflow: every clause is parsed before the builder checks any of them.
    raw = [syntax.clause(n) for n in _comparison_nodes(filter_string, quote_invalid=False)]
    return ModelFilter(tuple(syntax.comparison(*r) for r in raw))


@functools.lru_cache(maxsize=512)
def parse_registered_model_filter(filter_string: str | None) -> ModelFilter:
    """Parse a ``search_registered_models`` filter; ``None`` or ``""`` match every model.

    Attribute ``name`` (``= != LIKE ILIKE``, ``IN`` / ``NOT IN`` a list) and ``tag(s).<key>``
    (``= != LIKE ILIKE``), with string values.
    """
    if not filter_string:
        return ModelFilter()
    return _parse_model_filter(filter_string, _REGISTERED_MODELS)


@functools.lru_cache(maxsize=512)
def parse_model_version_filter(filter_string: str | None) -> ModelFilter:
    """Parse a ``search_model_versions`` filter; ``None`` or ``""`` match every version.

    Attributes ``name``, ``run_id`` (also ``IN`` / ``NOT IN`` a list), ``source_path`` (string
    comparators), ``version_number`` (``= != > >= < <=`` an int) and ``tag(s).<key>``.
    """
    if not filter_string:
        return ModelFilter()
    return _parse_model_filter(filter_string, _MODEL_VERSIONS)


# --- order_by ----------------------------------------------------------------------------

_SHELL_SPACE = " \t\r\n"


def shell_words(text: str) -> list[str]:
    """``shlex.split(text)`` (POSIX rules, no comments), in time linear in ``len(text)``.

    MLflow splits an ``order_by`` identifier with ``shlex``, whose reader grows each word one
    character at a time by string concatenation: quadratic, minutes for a word of a few
    megabytes. Raises ``ValueError`` where ``shlex`` does (an open quote, a trailing escape).
    """
    words: list[str] = []
    word: list[str] = []
    quoted = False  # the current word had quotes (so it exists even when empty)
    state = " "  # " " between words, "a" in a word, a quote character, or "\\" after one
    escaped_in = " "
    for ch in text:
        if state in ("a", " "):
            if ch in _SHELL_SPACE:
                if word or quoted:
                    words.append("".join(word))
                    word, quoted = [], False
                state = " "
            elif ch == "\\":
                escaped_in, state = "a", ch
            elif ch in "'\"":
                state = ch
            else:
                word.append(ch)
                state = "a"
        elif state == "\\":
            # Within double quotes only the quote itself and the escape can be escaped.
            if escaped_in == '"' and ch not in '"\\':
                word.append("\\")
            word.append(ch)
            state = escaped_in
        else:  # within quotes
            quoted = True
            if ch == state:
                state = "a"
            elif ch == "\\" and state == '"':
                escaped_in, state = state, ch
            else:
                word.append(ch)
    if state == "\\":
        raise ValueError("No escaped character")
    if state in "'\"":
        raise ValueError("No closing quotation")
    if word or quoted:
        words.append("".join(word))
    return words


def _order_identifier(order_by: str) -> tuple[str, bool]:
    """The identifier text and direction of one ``order_by`` entry."""
    unparsable = _invalid(f"Invalid order_by clause '{order_by}'. Could not be parsed.")
    try:
        statements = t.split_statements(order_by)
    except t.TooManyTokens:
        raise _invalid(f"Error on parsing order_by clause '{order_by}'") from None
    if len(statements) != 1:
        raise unparsable
    nodes = t.group_statement(statements[0])
    if len(nodes) != 1 or nodes[0].kind != t.IDENTIFIER:
        raise unparsable
    text = nodes[0].text
    try:
        words = shell_words(text.replace("`", '"'))
    except ValueError:
        raise unparsable from None
    if len(words) > 2:
        raise unparsable
    ascending = True
    if len(words) == 2:
        direction = words[1].lower()
        if direction not in ("asc", "desc"):
            raise _invalid(f"Invalid ordering key in order_by clause '{order_by}'.")
        ascending = direction == "asc"
        text = words[0]
    return text.strip(), ascending


@functools.lru_cache(maxsize=512)
def parse_run_order_clause(order_by: str) -> OrderBy:
    text, ascending = _order_identifier(order_by)
    entity, key = _RUNS.entity(text, RUN_ORDER_KEYS)
    if entity == "dataset":
        raise _invalid(f"Invalid order_by entity type '{entity}'")
    kind = _KINDS[entity]
    assert kind != "dataset"
    return OrderBy(kind, translate_key_alias(key) if kind == "attribute" else key, ascending)


@functools.lru_cache(maxsize=512)
def parse_experiment_order_clause(order_by: str) -> OrderBy:
    text, ascending = _order_identifier(order_by)
    entity, key = _EXPERIMENTS.entity(text, EXPERIMENT_KEYS)
    if entity != "attribute":
        raise _invalid(f"Invalid order_by entity: {entity}")
    return OrderBy("attribute", key, ascending)


def _parse_unique_fields(order_by: Sequence[str] | None,
                         parse: Callable[[str], OrderBy]) -> tuple[OrderBy, ...]:
    """Parse each entry in turn; a field may appear only once (checked as each is parsed)."""
    parsed: list[OrderBy] = []
    seen: set[tuple[str, str]] = set()
    for clause in order_by or ():
        entry = parse(clause)
        if (entry.kind, entry.key) in seen:
            raise _invalid(f"`order_by` contains duplicate fields: {list(order_by or ())}")
        seen.add((entry.kind, entry.key))
        parsed.append(entry)
    return tuple(parsed)


def parse_run_order_by(order_by: Sequence[str] | None) -> tuple[OrderBy, ...]:
    """Parse ``search_runs``' ``order_by`` list; a field may appear only once."""
    return _parse_unique_fields(order_by, parse_run_order_clause)


def parse_experiment_order_by(order_by: Sequence[str] | None) -> tuple[OrderBy, ...]:
    """Parse ``search_experiments``' ``order_by`` list (attributes only)."""
    return tuple(parse_experiment_order_clause(clause) for clause in order_by or ())


@functools.lru_cache(maxsize=512)
def parse_registered_model_order_clause(order_by: str) -> OrderBy:
    """One registered-model ``order_by`` entry, as MLflow's SQL store reads it: a bare key."""
    text, ascending = _order_identifier(order_by)
    if text not in REGISTERED_MODEL_ORDER_KEYS:
        raise _invalid(f"Invalid order by key '{text}' specified. Valid keys are "
                       f"'{_set_repr(_REGISTERED_MODEL_RECOMMENDED_ORDER_KEYS)}'")
    return OrderBy("attribute", "name" if text == "name" else "last_updated_timestamp", ascending)


@functools.lru_cache(maxsize=512)
def parse_model_version_order_clause(order_by: str) -> OrderBy:
    """One model-version ``order_by`` entry (``[attribute.]<key> [ASC|DESC]``)."""
    text, ascending = _order_identifier(order_by)
    entity, key = _EXPERIMENTS.entity(text, MODEL_VERSION_ORDER_KEYS)
    if entity != "attribute":
        if key not in MODEL_VERSION_ORDER_KEYS:
            raise _invalid(f"Invalid order by key '{key}' specified. Valid keys are "
                           f"{_set_repr(MODEL_VERSION_ORDER_KEYS)}")
        raise _invalid(f"Invalid order_by entity: {entity}")
    return OrderBy("attribute", key, ascending)


def parse_registered_model_order_by(order_by: Sequence[str] | None) -> tuple[OrderBy, ...]:
    """Parse ``search_registered_models``' ``order_by`` list; a field may appear only once.

    Keys are ``name`` and ``last_updated_timestamp`` (``timestamp`` means the same field).
    The store adds ``name`` ascending as the tie-breaker when it is not listed.
    """
    return _parse_unique_fields(order_by, parse_registered_model_order_clause)


def parse_model_version_order_by(order_by: Sequence[str] | None) -> tuple[OrderBy, ...]:
    """Parse ``search_model_versions``' ``order_by`` list; a field may appear only once.

    An empty list parses to ``()``: the store then orders by
    :data:`DEFAULT_MODEL_VERSION_ORDER_BY`, and always breaks ties by ``name`` ascending then
    ``version_number`` descending unless they are listed (as MLflow's SQL store does).
    """
    return _parse_unique_fields(order_by, parse_model_version_order_clause)
