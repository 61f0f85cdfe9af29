"""Run and experiment searches compiled to SQL, with the in-memory evaluator's semantics.

:mod:`trackstore.search.evaluate` defines what a search returns; this module builds one
``SELECT`` that returns the same thing from the schema in :mod:`.schema`, filtered and fully
ordered in the database (the store adds ``LIMIT``/``OFFSET``). Filter values only ever reach
the database as bound parameters.

How the statement is shaped
---------------------------
* ``runs`` is scanned within the experiments and lifecycle stage asked for:
  ``ix_runs_search (experiment_id, lifecycle_stage, start_time DESC, run_uuid)`` gives the default
  order, so a first page reads about as many index entries as it returns.
* A metric, param or tag that is only filtered on is an ``EXISTS`` (``NOT EXISTS`` for
  ``IS NULL``) probing the per-run table's primary key ``(run_key, key)``; the database
  evaluates it per candidate run while it walks the index, and stops at the page's end.
* A key that the ordering uses is ``LEFT OUTER JOIN``-ed once (again a primary-key probe), and
  its filter clauses test the joined row, which turns the join into an inner one.
* Dataset clauses are ``EXISTS`` over ``run_inputs``/``datasets`` or ``run_input_tags``: a
  clause holds when *any* input of the run matches.
* Metric keys are resolved with an uncorrelated scalar subquery on ``metric_keys``
  (evaluated once) unless the caller passes the ids it already knows in ``key_ids``; a key
  missing from ``key_ids`` falls back to the subquery, so a stale mapping is never wrong.

Exactness, value by value
-------------------------
* Metrics: the latest value is ``(kind, value)``; a comparison with a non-finite value (or
  of a NaN/infinite metric) is decided in Python from ``float('nan') <op> v`` and the like,
  so NaN satisfies only ``!=`` and infinities compare as Python compares them.
* Integer columns (``start_time``, ``end_time``, experiment times) compare with a float the
  way Python compares an ``int`` with a ``float``: exactly (``start_time > 1.5`` is
  ``start_time >= 2``), and values beyond 64 bits never reach the driver.
* Strings: every string column has a binary collation (see :func:`.schema.string`), so ``=``
  and ``ORDER BY`` compare code points. On MySQL/MariaDB (``utf8mb4_bin`` is ``PAD SPACE``)
  and SQL Server (``=`` ignores trailing blanks) equality is exact by also comparing the
  value with a sentinel character appended (keys too: the key ``'k '`` is not ``'k'``);
  MySQL orders strings by ``CAST(... AS BINARY)`` (UTF-8 bytes order as code points do).
* ``LIKE``: ``%`` and ``_`` are the only metacharacters, everything else is literal; the whole
  value must match, across line breaks, case-sensitively -- whatever the connection's
  settings. SQLite: ``GLOB`` with a translated pattern (``LIKE`` there ignores ASCII case
  unless a pragma is set). PostgreSQL, MySQL: ``LIKE ... ESCAPE '!'`` (MySQL's default
  escape is the backslash). SQL Server: ``[`` written as ``[[]``, the sentinel appended to
  value and pattern (``LIKE`` there ignores the value's trailing blanks).
* ``ILIKE``: the same with ``lower()`` applied to both sides in the database.
* ``experiment_id`` is a ``BIGINT`` compared as its decimal string: ``=``/``IN`` only match
  canonical decimals (``'01'`` never does), ``LIKE`` and ordering go through a cast.

Deviations from the evaluator (the file store)
----------------------------------------------
* ``ILIKE`` folds case with the database's ``lower()``: ASCII letters only on SQLite and on
  PostgreSQL (``lower()`` under the ``C`` collation), Unicode simple case mapping on MySQL and
  SQL Server; the evaluator uses Python's Unicode case-insensitive matching. ASCII text
  matches identically everywhere.
* SQL Server (not in the test matrix: no server here) orders strings as if padded with
  trailing blanks and by UTF-16 code unit, and ``LIKE``'s ``_`` matches one UTF-16 code unit
  (``Latin1_General_100_BIN2`` is not a supplementary-character collation), so text with
  characters beyond U+FFFF, or ending in characters below U+0020, may order or match
  differently.
* MySQL/MariaDB sort only the first ``max_sort_length`` bytes (1024 by default) of a value:
  two params or tags equal on their first 1024 bytes tie there.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from trackstore.entities import ViewType
from trackstore.search.evaluate import DATASET_CONTEXT_TAG
from trackstore.search.grammar import Comparison, ExperimentFilter, OrderBy, RunFilter

from ..base import RUN_NAME_TAG
from . import schema
from .schema import KIND_FINITE, KIND_NAN, KIND_NEG_INF, KIND_POS_INF

__all__ = ["DIALECTS", "escaped_like", "experiment_search_statement", "glob_pattern",
           "run_search_statement"]

#: The dialect names the statements are built for (``mariadb`` is taken as ``mysql``).
DIALECTS = ("sqlite", "postgresql", "mysql", "mssql")

#: A condition: SQL, or a truth already decided in Python for every present value.
Condition: TypeAlias = "ColumnElement[bool] | bool"

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge,
    "<": operator.lt, "<=": operator.le,
}
_NON_FINITE_KINDS = ((KIND_NAN, math.nan), (KIND_NEG_INF, -math.inf), (KIND_POS_INF, math.inf))
_LIKE_ESCAPE = "!"
# Appended to both sides where the database ignores trailing blanks: any character that is
# not a blank and has no meaning in a LIKE pattern.
_SENTINEL = "."


def _normalize_dialect(dialect_name: str) -> str:
    name = "mysql" if dialect_name == "mariadb" else dialect_name
    if name not in DIALECTS:
        raise ValueError(f"unsupported SQL dialect {dialect_name!r}; expected one of {DIALECTS}")
    return name


# --- patterns ------------------------------------------------------------------------------

def glob_pattern(like: str) -> str:
    """SQLite ``GLOB`` pattern matching what the ``LIKE`` pattern *like* matches."""
    return re.sub(r"[%_*?\[]", lambda m: _GLOB[m.group()], like)


_GLOB = {"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}


def escaped_like(like: str, dialect: str) -> str:
    """*like* for the dialect's ``LIKE``, where only ``%`` and ``_`` remain special."""
    if dialect == "mssql":
        return like.replace("[", "[[]") + _SENTINEL
    return like.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2)


# --- values ----------------------------------------------------------------------------------

class _Strings:
    """String tests of one dialect that agree with Python's ``str`` comparisons."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.pads = dialect in ("mysql", "mssql")

    def equal(self, column: ColumnElement[Any], value: str) -> ColumnElement[bool]:
        exact = column == value
        if self.pads:  # 'a' = 'a ' there; the sentinel keeps trailing blanks significant
            return sa.and_(exact, column.concat(_SENTINEL) == value + _SENTINEL)
        return exact

    def member(self, column: ColumnElement[Any], values: tuple[str, ...]) -> ColumnElement[bool]:
        within = column.in_(values)
        if self.pads:
            return sa.and_(within, column.concat(_SENTINEL).in_([v + _SENTINEL for v in values]))
        return within

    def like(self, column: ColumnElement[Any], pattern: str,
             case_sensitive: bool) -> ColumnElement[bool]:
        fold: Callable[[ColumnElement[Any]], ColumnElement[Any]] = (
            (lambda e: e) if case_sensitive else sa.func.lower)
        if self.dialect == "sqlite":
            return fold(column).op("GLOB", is_comparison=True)(
                fold(sa.literal(glob_pattern(pattern))))
        subject = column.concat(_SENTINEL) if self.dialect == "mssql" else column
        target = sa.literal(escaped_like(pattern, self.dialect))
        if self.dialect == "mssql":
            return fold(subject).like(fold(target))
        return fold(subject).like(fold(target), escape=_LIKE_ESCAPE)

    def sort_key(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        if self.dialect == "mysql":  # utf8mb4_bin pads with blanks when it compares
            return sa.cast(column, sa.LargeBinary)
        return column


def _string_condition(strings: _Strings, column: ColumnElement[Any],
                      comparison: Comparison) -> Condition:
    """*comparison* on a present string *column* (``IS [NOT] NULL`` excluded)."""
    op, value = comparison.comparator, comparison.value
    if op in ("=", "!="):
        if not isinstance(value, str):  # a list is never equal to a string
            return op == "!="
        equal = strings.equal(column, value)
        return equal if op == "=" else sa.not_(equal)
    if op in ("LIKE", "ILIKE"):
        assert isinstance(value, str)
        return strings.like(column, value, case_sensitive=op == "LIKE")
    if op in ("IN", "NOT IN"):
        assert isinstance(value, tuple)
        member = strings.member(column, value)
        return member if op == "IN" else sa.not_(member)
    raise AssertionError(f"not a string comparator: {op}")


def _integer_condition(column: ColumnElement[Any], op: str, value: Any) -> Condition:
    """``column <op> value`` for a present integer column, as Python compares ``int`` values.

    A float is replaced by the integer bound that gives the same answers, and anything
    beyond 64 bits by a truth decided here.
    """
    compare = _COMPARE[op]
    if isinstance(value, float):
        if not math.isfinite(value):
            return bool(compare(0, value))
        if value.is_integer():
            value = int(value)
        elif op in ("=", "!="):
            return op == "!="
        elif op in (">", ">="):
            op, value = ">=", math.ceil(value)
        else:
            op, value = "<=", math.floor(value)
    if not _INT64_MIN <= value <= _INT64_MAX:
        return bool(compare(0, math.copysign(math.inf, value)))
    return _COMPARE[op](column, sa.literal(value, sa.BigInteger))  # type: ignore[no-any-return]


def _metric_condition(kind: ColumnElement[Any], value_column: ColumnElement[Any], op: str,
                      value: float) -> Condition:
    """``latest <op> value`` on a present latest metric stored as ``(kind, value)``."""
    compare = _COMPARE[op]
    true_kinds = [k for k, stand_in in _NON_FINITE_KINDS if compare(stand_in, value)]
    finite: Condition
    if math.isfinite(value):
        finite = compare(value_column, sa.literal(value, sa.Float(53)))
    else:  # every finite value compares with +-inf or NaN as 0.0 does
        finite = bool(compare(0.0, value))
        if finite:
            true_kinds.append(KIND_FINITE)
    if len(true_kinds) == 4:
        return True
    parts: list[ColumnElement[bool]] = []
    if len(true_kinds) == 1:
        parts.append(kind == true_kinds[0])
    elif true_kinds:
        parts.append(kind.in_(sorted(true_kinds)))
    if not isinstance(finite, bool):
        parts.append(sa.and_(kind == KIND_FINITE, finite))
    if not parts:
        return False
    return parts[0] if len(parts) == 1 else sa.or_(*parts)


def _all(conditions: Iterable[Condition]) -> Condition:
    """The conjunction, with Python truths folded in (``True`` for an empty one)."""
    parts: list[ColumnElement[bool]] = []
    for condition in conditions:
        if condition is False:
            return False
        if condition is not True:
            assert not isinstance(condition, bool)
            parts.append(condition)
    if not parts:
        return True
    return parts[0] if len(parts) == 1 else sa.and_(*parts)


def _presence(comparisons: Sequence[Comparison]) -> tuple[list[Comparison] | None, bool]:
    """The value tests among clauses on one key, and whether they ask for it to be missing.

    ``None`` tests: the clauses contradict each other (``IS NULL`` and a test of the value).
    """
    tests = [c for c in comparisons if c.comparator not in ("IS NULL", "IS NOT NULL")]
    wants_missing = any(c.comparator == "IS NULL" for c in comparisons)
    wants_present = bool(tests) or any(c.comparator == "IS NOT NULL" for c in comparisons)
    if wants_missing and wants_present:
        return None, True
    return tests, wants_missing


def _sql(condition: Condition) -> ColumnElement[bool]:
    if isinstance(condition, bool):
        return sa.true() if condition else sa.false()
    return condition


def _when_present(present: ColumnElement[bool] | None, condition: Condition) -> Condition:
    """*condition* on a value that may be missing: false when it is."""
    if present is None or condition is False:
        return condition
    return _all([present, condition])


# --- ordering --------------------------------------------------------------------------------

def _ordered(expression: ColumnElement[Any], ascending: bool, dialect: str,
             nullable: bool = True) -> list[ColumnElement[Any]]:
    """ORDER BY terms for *expression* in a direction, NULLs last either way."""
    term = expression.asc() if ascending else expression.desc()
    if not nullable:
        return [term]
    # NULL sorts first ascending on SQLite, MySQL and SQL Server, last on PostgreSQL.
    if dialect == "postgresql":
        return [term if ascending else term.nulls_last()]
    if not ascending:
        return [term]
    if dialect == "sqlite":
        return [term.nulls_last()]
    return [sa.case((expression.is_(None), sa.literal_column("1")),
                    else_=sa.literal_column("0")), term]


def _metric_order(kind: ColumnElement[Any], value: ColumnElement[Any],
                  ascending: bool) -> list[ColumnElement[Any]]:
    # Values first (NaN < -inf < finite < +inf is the kind order), then NaN, then missing.
    rank = sa.case((kind.is_(None), sa.literal_column("2")),
                   (kind == KIND_NAN, sa.literal_column("1")), else_=sa.literal_column("0"))
    if ascending:
        return [rank, kind.asc(), value.asc()]
    return [rank, kind.desc(), value.desc()]


# --- runs ------------------------------------------------------------------------------------

_Field: TypeAlias = tuple[str, str]  # (kind, key) with run_name as its tag

_RUN_ATTRIBUTE_COLUMNS = {
    "run_id": schema.runs.c.run_uuid, "user_id": schema.runs.c.user_id,
    "status": schema.runs.c.status, "start_time": schema.runs.c.start_time,
    "end_time": schema.runs.c.end_time, "artifact_uri": schema.runs.c.artifact_uri,
}
_NUMERIC_RUN_ATTRIBUTES = ("start_time", "end_time")
_KEYED_TABLES = {"metric": schema.latest_metrics, "param": schema.run_params,
                 "tag": schema.run_tags}


def _run_field(kind: str, key: str) -> _Field:
    if kind == "attribute" and key == "run_name":
        return ("tag", RUN_NAME_TAG)
    return (kind, key)


class _RunQuery:
    """The pieces of one run search while it is put together."""

    def __init__(self, dialect: str, key_ids: Mapping[str, int] | None) -> None:
        self.dialect = dialect
        self.strings = _Strings(dialect)
        self.key_ids = key_ids or {}
        self.source: FromClause = schema.runs
        self.joined: dict[_Field, FromClause] = {}

    def key_id(self, key: str) -> ColumnElement[Any]:
        known = self.key_ids.get(key)
        if known is not None:
            return sa.literal(known, sa.Integer)
        return (sa.select(schema.metric_keys.c.key_id)
                .where(self.strings.equal(schema.metric_keys.c.key, key)).scalar_subquery())

    def key_match(self, table: FromClause, field: _Field) -> ColumnElement[bool]:
        """The row of *table* that holds *field* for the outer run."""
        kind, key = field
        same_run = table.c.run_key == schema.runs.c.run_key
        if kind == "metric":
            return sa.and_(same_run, table.c.key_id == self.key_id(key))
        return sa.and_(same_run, self.strings.equal(table.c.key, key))

    def join(self, field: _Field) -> FromClause:
        """The per-run row of *field*, LEFT OUTER JOIN-ed once (for ordering)."""
        if field not in self.joined:
            table = _KEYED_TABLES[field[0]].alias(f"o{len(self.joined)}")
            self.source = self.source.outerjoin(table, self.key_match(table, field))
            self.joined[field] = table
        return self.joined[field]

    def value_condition(self, table: FromClause, field: _Field,
                        comparison: Comparison) -> Condition:
        if field[0] == "metric":
            assert isinstance(comparison.value, float)
            return _metric_condition(table.c.kind, table.c.value, comparison.comparator,
                                     comparison.value)
        return _string_condition(self.strings, table.c.value, comparison)

    def keyed(self, field: _Field, comparisons: Sequence[Comparison]) -> Condition:
        """The clauses on one metric, param or tag."""
        tests, wants_missing = _presence(comparisons)
        if tests is None:
            return False
        if field in self.joined:
            table = self.joined[field]
            present = table.c.run_key.is_not(None)
            if wants_missing:
                return table.c.run_key.is_(None)
            return _all([present, *(self.value_condition(table, field, c) for c in tests)])
        table = _KEYED_TABLES[field[0]].alias()
        condition = _all(self.value_condition(table, field, c) for c in tests)
        if condition is False:
            return False
        exists = (sa.select(sa.literal_column("1")).select_from(table)
                  .where(self.key_match(table, field), _sql(condition)).exists())
        return ~exists if wants_missing else exists

    def attribute(self, key: str, comparison: Comparison) -> Condition:
        column = _RUN_ATTRIBUTE_COLUMNS[key]
        present = column.is_not(None) if column.nullable else None
        if key in _NUMERIC_RUN_ATTRIBUTES:
            return _when_present(present, _integer_condition(column, comparison.comparator,
                                                             comparison.value))
        return _when_present(present, _string_condition(self.strings, column, comparison))

    def dataset(self, comparison: Comparison) -> Condition:
        """Any dataset input of the run matches *comparison*."""
        if comparison.key == "context":
            tags = schema.run_input_tags.alias()
            condition = _string_condition(self.strings, tags.c.value, comparison)
            if condition is False:
                return False
            return (sa.select(sa.literal_column("1")).select_from(tags)
                    .where(tags.c.run_key == schema.runs.c.run_key,
                           self.strings.equal(tags.c.key, DATASET_CONTEXT_TAG),
                           _sql(condition)).exists())
        inputs, datasets = schema.run_inputs.alias(), schema.datasets.alias()
        condition = _string_condition(self.strings, datasets.c[comparison.key], comparison)
        if condition is False:
            return False
        return (sa.select(sa.literal_column("1"))
                .select_from(inputs.join(datasets,
                                         datasets.c.dataset_key == inputs.c.dataset_key))
                .where(inputs.c.run_key == schema.runs.c.run_key, _sql(condition)).exists())

    def order_terms(self, entry: OrderBy) -> list[ColumnElement[Any]]:
        field = _run_field(entry.kind, entry.key)
        kind, key = field
        if kind == "attribute":
            column = _RUN_ATTRIBUTE_COLUMNS[key]
            if key not in _NUMERIC_RUN_ATTRIBUTES:
                return _ordered(self.strings.sort_key(column), entry.ascending, self.dialect,
                                bool(column.nullable))
            return _ordered(column, entry.ascending, self.dialect, bool(column.nullable))
        table = self.join(field)
        if kind == "metric":
            return _metric_order(table.c.kind, table.c.value, entry.ascending)
        return _ordered(self.strings.sort_key(table.c.value), entry.ascending, self.dialect)


def run_search_statement(
    experiment_ids: Sequence[int],
    run_filter: RunFilter,
    order_by: Sequence[OrderBy],
    view_type: int,
    dialect_name: str,
    key_ids: Mapping[str, int] | None = None,
) -> sa.Select[Any]:
    """``SELECT run_key, run_uuid`` of the runs a search returns, in the search's order.

    *experiment_ids* are the experiments searched, *view_type* a
    :class:`trackstore.entities.ViewType`, *dialect_name* the engine's dialect name.
    *key_ids* optionally maps metric keys to their ``metric_keys.key_id`` (a cache the store
    keeps); keys not in it are looked up in the statement. No ``LIMIT``/``OFFSET``: the caller
    pages with ``.limit(n).offset(k)``; the order is total (``run_uuid`` last).
    """
    query = _RunQuery(_normalize_dialect(dialect_name), key_ids)
    runs = schema.runs
    # Joins for the ordering first: filter clauses on those keys then test the joined row.
    order_terms: list[ColumnElement[Any]] = []
    ordered_fields: set[_Field] = set()
    for entry in order_by:
        field = _run_field(entry.kind, entry.key)
        if field not in ordered_fields:  # run_name and its tag: a second time orders nothing
            ordered_fields.add(field)   # (and SQL Server rejects a repeated ORDER BY column)
            order_terms.extend(query.order_terms(entry))
    if ("attribute", "start_time") not in ordered_fields:
        order_terms.extend(_ordered(runs.c.start_time, False, query.dialect))
    if ("attribute", "run_id") not in ordered_fields:
        order_terms.append(runs.c.run_uuid.asc())

    ids = list(experiment_ids)
    conditions: list[Condition] = [
        runs.c.experiment_id == ids[0] if len(ids) == 1 else runs.c.experiment_id.in_(ids)]
    stage = _lifecycle_stage(view_type)
    if stage is not None:
        conditions.append(runs.c.lifecycle_stage == stage)

    keyed: dict[_Field, list[Comparison]] = {}
    for comparison in run_filter.clauses:
        field = _run_field(comparison.kind, comparison.key)
        if comparison.kind == "dataset":
            conditions.append(query.dataset(comparison))
        elif field[0] == "attribute":
            conditions.append(query.attribute(field[1], comparison))
        else:
            keyed.setdefault(field, []).append(comparison)
    conditions.extend(query.keyed(field, members) for field, members in keyed.items())

    where = _all(conditions)
    statement = sa.select(runs.c.run_key, runs.c.run_uuid).select_from(query.source)
    if where is not True:
        statement = statement.where(_sql(where))
    return statement.order_by(*order_terms)


def _lifecycle_stage(view_type: int) -> str | None:
    if view_type == ViewType.ACTIVE_ONLY:
        return "active"
    if view_type == ViewType.DELETED_ONLY:
        return "deleted"
    if view_type == ViewType.ALL:
        return None
    raise ValueError(f"invalid view type {view_type!r}")


# --- experiments -----------------------------------------------------------------------------

_DEFAULT_EXPERIMENT_ORDER = (OrderBy("attribute", "creation_time", False),
                             OrderBy("attribute", "experiment_id", True))
_EXPERIMENT_TIMES = ("creation_time", "last_update_time")
_DECIMAL = re.compile(r"-?[0-9]+")


def _experiment_id_value(text: str) -> int | None:
    """The id whose decimal string is *text*, if there is one."""
    if _DECIMAL.fullmatch(text) is None or str(int(text)) != text:
        return None
    number = int(text)
    return number if _INT64_MIN <= number <= _INT64_MAX else None


def _experiment_id_text(dialect: str) -> ColumnElement[Any]:
    text = sa.cast(schema.experiments.c.experiment_id, sa.String(20))
    # Digit strings order alike in every collation; "C" makes that hold by construction.
    return text.collate("C") if dialect == "postgresql" else text


def _experiment_id_condition(strings: _Strings, comparison: Comparison) -> Condition:
    column = schema.experiments.c.experiment_id
    op, value = comparison.comparator, comparison.value
    if op in ("=", "!=") and isinstance(value, str):
        number = _experiment_id_value(value)
        if number is None:
            return op == "!="
        return column == number if op == "=" else column != number
    if op in ("IN", "NOT IN"):
        assert isinstance(value, tuple)
        numbers = sorted({n for n in map(_experiment_id_value, value) if n is not None})
        if not numbers:
            return op == "NOT IN"
        return column.in_(numbers) if op == "IN" else column.not_in(numbers)
    return _string_condition(strings, _experiment_id_text(strings.dialect), comparison)


def _experiment_tag_condition(strings: _Strings, key: str,
                              comparisons: Sequence[Comparison]) -> Condition:
    tests, wants_missing = _presence(comparisons)
    if tests is None:
        return False
    tags = schema.experiment_tags.alias()
    condition = _all(_string_condition(strings, tags.c.value, c) for c in tests)
    if condition is False:
        return False
    exists = (sa.select(sa.literal_column("1")).select_from(tags)
              .where(tags.c.experiment_id == schema.experiments.c.experiment_id,
                     strings.equal(tags.c.key, key), _sql(condition)).exists())
    return ~exists if wants_missing else exists


def _experiment_attribute_condition(strings: _Strings, comparison: Comparison) -> Condition:
    key = comparison.key
    if key == "experiment_id":
        return _experiment_id_condition(strings, comparison)
    if key == "name":
        return _string_condition(strings, schema.experiments.c.name, comparison)
    column = schema.experiments.c[key]
    # As MLflow: the value is a float; a missing time is "!=" anything and nothing else.
    value = float(comparison.value) if isinstance(comparison.value, int) else comparison.value
    condition = _integer_condition(column, comparison.comparator, value)
    if comparison.comparator != "!=":
        return _when_present(column.is_not(None), condition)
    if isinstance(condition, bool):
        return True if condition else column.is_(None)
    return sa.or_(column.is_(None), condition)


def experiment_search_statement(
    experiment_filter: ExperimentFilter,
    order_by: Sequence[OrderBy],
    view_type: int,
    dialect_name: str,
) -> sa.Select[Any]:
    """``SELECT experiment_id`` of the experiments a search returns, in the search's order.

    Ordered by *order_by* (default ``creation_time DESC, experiment_id ASC``), then
    ``experiment_id DESC`` unless the list has ``experiment_id``, which compares as a string.
    No ``LIMIT``/``OFFSET``.
    """
    dialect = _normalize_dialect(dialect_name)
    strings = _Strings(dialect)
    experiments = schema.experiments
    conditions: list[Condition] = []
    stage = _lifecycle_stage(view_type)
    if stage is not None:
        conditions.append(experiments.c.lifecycle_stage == stage)
    tag_clauses: dict[str, list[Comparison]] = {}
    for comparison in experiment_filter.clauses:
        if comparison.kind == "tag":
            tag_clauses.setdefault(comparison.key, []).append(comparison)
        else:
            conditions.append(_experiment_attribute_condition(strings, comparison))
    conditions.extend(_experiment_tag_condition(strings, key, members)
                      for key, members in tag_clauses.items())

    entries = list(order_by or _DEFAULT_EXPERIMENT_ORDER)
    if not any(e.key == "experiment_id" for e in entries):
        entries.append(OrderBy("attribute", "experiment_id", False))
    # A repeated key orders nothing more (and SQL Server rejects a repeated ORDER BY column).
    terms: list[ColumnElement[Any]] = []
    seen: set[str] = set()
    for entry in entries:
        if entry.key in seen:
            continue
        seen.add(entry.key)
        if entry.key == "experiment_id":
            expression = strings.sort_key(_experiment_id_text(dialect))
            terms.extend(_ordered(expression, entry.ascending, dialect, nullable=False))
        elif entry.key == "name":
            terms.extend(_ordered(strings.sort_key(experiments.c.name), entry.ascending,
                                  dialect, nullable=False))
        else:
            terms.extend(_ordered(experiments.c[entry.key], entry.ascending, dialect))

    statement = sa.select(experiments.c.experiment_id)
    where = _all(conditions)
    if where is not True:
        statement = statement.where(_sql(where))
    return statement.order_by(*terms)
