"""Filtering, ordering and paging of in-memory runs and experiments, as MLflow's FileStore does.

The store hands over records that load their data lazily (:class:`RunRecord`,
:class:`ExperimentRecord`); a compiled filter reads each referenced key at most once per
record, attributes first, so a record that fails on an attribute never loads a metric file.

Semantics (MLflow 3.17 ``SearchUtils`` / ``SearchExperimentsUtils`` as used by its FileStore):

* A comparison against a missing value (metric never logged, param or tag unset, ``end_time``
  of a running run, ...) is false, whatever the comparator; ``IS NULL`` / ``IS NOT NULL`` test
  presence. Metrics compare their latest value as Python floats: a NaN metric satisfies ``!=``
  and nothing else. ``IN`` is membership; ``= ('a', 'b')`` is never true.
* ``LIKE``: ``%`` matches any run of characters, ``_`` one character, everything else itself
  (regex metacharacters included); the whole value must match; case-sensitive. ``ILIKE``: the
  same, case-insensitive (Python's Unicode case folding).
* Dataset clauses hold if *any* dataset input of the run matches (so never for a run without
  inputs, even with ``!=``); ``context`` is the input's ``mlflow.data.context`` tag.
* Runs are ordered by ``start_time DESC, run_id ASC``, then by each ``order_by`` entry from the
  last to the first with stable sorts: an entry is the primary key, ties keep the order of the
  following entries. Values present come first, then NaN, then missing, in both directions.
* Experiments are ordered by ``order_by`` (default ``creation_time DESC, experiment_id ASC``)
  plus ``experiment_id DESC`` as tie-breaker when ``experiment_id`` is not in the list;
  ``experiment_id`` compares as a string; missing values sort last in both directions.

Deviations from MLflow (excluded from the comparison tests, with the reason there):

* ``LIKE`` patterns match across line breaks: ``%`` and ``_`` match ``\\n``, and the match must
  reach the real end of the value. MLflow's FileStore builds a regex without DOTALL whose ``$``
  also matches before a final newline, so ``'a\\nb' LIKE 'a%b'`` is false there (but true in
  its SQL store) and ``'ab\\n' LIKE 'ab'`` is true.
* A run without ``start_time`` sorts after runs with one; MLflow raises TypeError.
* A numeric experiment filter on an experiment without ``creation_time``/``last_update_time``
  is false for ``< <= > >=`` (MLflow raises TypeError); ``!=`` is true and ``=`` false, as in
  MLflow.
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from trackstore import entities

from .grammar import (
    Comparison,
    ExperimentFilter,
    OrderBy,
    RunFilter,
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_run_filter,
    parse_run_order_by,
)
from .paging import (
    SEARCH_MAX_RESULTS_DEFAULT,
    paginate,
    parse_page_token,
    validate_experiment_max_results,
    validate_run_max_results,
)

DATASET_CONTEXT_TAG = "mlflow.data.context"


class RunRecord(Protocol):
    """What a search reads from a run; the store may load metrics, params, tags lazily."""

    @property
    def run_id(self) -> str: ...
    @property
    def run_name(self) -> str | None: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def start_time(self) -> int | None: ...
    @property
    def end_time(self) -> int | None: ...
    @property
    def artifact_uri(self) -> str | None: ...

    def metric(self, key: str) -> float | None:
        """The latest value of metric *key*, ``None`` if never logged."""

    def param(self, key: str) -> str | None: ...

    def tag(self, key: str) -> str | None: ...

    def datasets(self) -> Sequence[tuple[str, str, str | None]]:
        """``(name, digest, context)`` of each dataset input; context ``None`` when untagged."""


class ExperimentRecord(Protocol):
    """What a search reads from an experiment (:class:`trackstore.entities.Experiment` fits)."""

    @property
    def experiment_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def creation_time(self) -> int | None: ...
    @property
    def last_update_time(self) -> int | None: ...
    @property
    def tags(self) -> Mapping[str, str]: ...


T = TypeVar("T")
R = TypeVar("R", bound=RunRecord)
E = TypeVar("E", bound=ExperimentRecord)


class EntityRunRecord:
    """A :class:`RunRecord` view of a loaded :class:`trackstore.entities.Run`."""

    __slots__ = ("run",)

    def __init__(self, run: entities.Run) -> None:
        self.run = run

    @property
    def run_id(self) -> str:
        return self.run.info.run_id

    @property
    def run_name(self) -> str | None:
        return self.run.info.run_name

    @property
    def user_id(self) -> str | None:
        return self.run.info.user_id

    @property
    def status(self) -> str:
        return self.run.info.status

    @property
    def start_time(self) -> int | None:
        return self.run.info.start_time

    @property
    def end_time(self) -> int | None:
        return self.run.info.end_time

    @property
    def artifact_uri(self) -> str | None:
        return self.run.info.artifact_uri

    def metric(self, key: str) -> float | None:
        return self.run.data.metrics.get(key)

    def param(self, key: str) -> str | None:
        return self.run.data.params.get(key)

    def tag(self, key: str) -> str | None:
        return self.run.data.tags.get(key)

    def datasets(self) -> list[tuple[str, str, str | None]]:
        result: list[tuple[str, str, str | None]] = []
        for dataset_input in self.run.inputs.dataset_inputs:
            context = next((tag.value for tag in dataset_input.tags
                            if tag.key == DATASET_CONTEXT_TAG), None)
            result.append((dataset_input.dataset.name, dataset_input.dataset.digest, context))
        return result


# --- value tests ------------------------------------------------------------------------

def like_pattern(pattern: str, case_sensitive: bool = True) -> re.Pattern[str]:
    """A regex that full-matches what SQL ``LIKE`` *pattern* matches (``%``, ``_``)."""
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    flags = re.DOTALL if case_sensitive else re.DOTALL | re.IGNORECASE
    return re.compile("".join(parts), flags)


def _like_test(pattern: str, case_sensitive: bool) -> Callable[[str], bool]:
    # The usual patterns ('abc', 'abc%', '%abc', '%abc%') as plain string tests: same result
    # as the regex, several times faster.
    inner = pattern.strip("%")
    if case_sensitive and "_" not in pattern and "%" not in inner:
        starts, ends = pattern.startswith("%"), pattern.endswith("%")
        if not inner:
            return lambda value: bool(starts) or value == ""
        if starts and ends:
            return lambda value: inner in value
        if ends:
            return lambda value: value.startswith(inner)
        if starts:
            return lambda value: value.endswith(inner)
        return lambda value: value == inner
    return _like_matcher(pattern, case_sensitive)


def _like_matcher(pattern: str, case_sensitive: bool) -> Callable[[str], bool]:
    """What :func:`like_pattern`'s regex matches, in time at most ``len(value) *
    len(pattern)``: the regex backtracks through every ``.*`` in turn, so ``'%a%a%a%b'``
    against a value of a thousand ``a`` took minutes.

    Each run of the pattern between ``%`` signs matches a fixed number of characters, so the
    first run must match at the start, the last at the end, and each run in between can take
    its leftmost match after the previous one (an earlier end never leaves less room).
    """
    flags = re.DOTALL if case_sensitive else re.DOTALL | re.IGNORECASE
    runs = pattern.split("%")
    compiled = [re.compile("".join("." if ch == "_" else re.escape(ch) for ch in run), flags)
                for run in runs]
    if len(runs) == 1:
        whole = compiled[0].fullmatch
        return lambda value: whole(value) is not None
    head, *middle, tail = compiled
    head_size, tail_size = len(runs[0]), len(runs[-1])

    def match(value: str) -> bool:
        end = len(value) - tail_size
        if end < head_size or head.match(value) is None or tail.match(value, end) is None:
            return False
        position = head_size
        for run in middle:
            found = run.search(value, position, end)
            if found is None:
                return False
            position = found.end()
        return True

    return match


_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge,
    "<": operator.lt, "<=": operator.le,
}


def value_test(comparison: Comparison) -> Callable[[Any], bool]:
    """A test of a present (non-``None``) value against *comparison*."""
    op, expected = comparison.comparator, comparison.value
    if op in ("IS NULL", "IS NOT NULL"):
        return lambda value: op == "IS NOT NULL"
    if op in ("LIKE", "ILIKE"):
        assert isinstance(expected, str)
        return _like_test(expected, case_sensitive=op == "LIKE")
    if op in ("IN", "NOT IN"):
        assert isinstance(expected, tuple)
        members = frozenset(expected)
        if op == "IN":
            return lambda value: value in members
        return lambda value: value not in members
    compare = _ORDERING[op]
    return lambda value: compare(value, expected)


Getter = Callable[[Any], Any]
Check = Callable[[Any], bool]


def _field_check(get: Getter, comparisons: Sequence[Comparison],
                 if_missing: Callable[[Comparison], bool]) -> Check:
    """Read one field of a record once and test it against every comparison on that field.

    A missing (``None``) value satisfies a comparison only where *if_missing* says so.
    """
    missing_result = all(if_missing(c) for c in comparisons)
    if len(comparisons) > 1:
        tests = [value_test(c) for c in comparisons]

        def check_all(record: Any) -> bool:
            value = get(record)
            if value is None:
                return missing_result
            return all(test(value) for test in tests)

        return check_all
    # One comparison, the common case: fused into a single closure.
    comparison = comparisons[0]
    op, expected = comparison.comparator, comparison.value
    if op == "IS NULL":
        return lambda record: get(record) is None
    if op == "IS NOT NULL":
        return lambda record: get(record) is not None
    test = value_test(comparison)
    if op in _ORDERING and not missing_result:
        compare = _ORDERING[op]

        def check_compare(record: Any) -> bool:
            value = get(record)
            return value is not None and compare(value, expected)

        return check_compare

    def check(record: Any) -> bool:
        value = get(record)
        return missing_result if value is None else test(value)

    return check


def _missing_fails(comparison: Comparison) -> bool:
    return comparison.comparator == "IS NULL"


def _dataset_check(comparisons: Sequence[Comparison]) -> Check:
    tests = [(("name", "digest", "context").index(c.key), value_test(c)) for c in comparisons]

    def check(record: Any) -> bool:
        inputs = record.datasets()
        return all(any(entry[field] is not None and test(entry[field]) for entry in inputs)
                   for field, test in tests)

    return check


def _conjunction(checks: Sequence[Check]) -> Check:
    if not checks:
        return lambda record: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda record: first(record) and second(record)

    def check(record: Any) -> bool:
        return all(c(record) for c in checks)

    return check


def _run_getter(kind: str, key: str) -> Getter:
    if kind == "attribute":
        return operator.attrgetter(key)
    return operator.methodcaller(kind, key)  # record.metric(key), .param(key), .tag(key)


def _experiment_getter(kind: str, key: str) -> Getter:
    if kind == "attribute":
        return operator.attrgetter(key)
    return lambda record: record.tags.get(key)


# Cheapest first: attributes come with the run's meta data; datasets need the inputs.
_KIND_COST = {"attribute": 0, "tag": 1, "param": 2, "metric": 3, "dataset": 4}


def _compile(clauses: Sequence[Comparison], getter: Callable[[str, str], Getter],
             if_missing: Callable[[Comparison], bool] = _missing_fails) -> Check:
    groups: dict[tuple[str, str], list[Comparison]] = {}
    for clause in clauses:
        group = (clause.kind, "" if clause.kind == "dataset" else clause.key)
        groups.setdefault(group, []).append(clause)
    checks = [
        _dataset_check(members) if kind == "dataset"
        else _field_check(getter(kind, key), members, if_missing)
        for (kind, key), members in sorted(groups.items(), key=lambda g: _KIND_COST[g[0][0]])
    ]
    return _conjunction(checks)


def compile_run_filter(run_filter: RunFilter) -> Callable[[RunRecord], bool]:
    """A predicate for *run_filter*; each referenced key is read at most once per record."""
    return _compile(run_filter.clauses, _run_getter)


def _experiment_missing(comparison: Comparison) -> bool:
    # A missing creation/last-update time is "!=" anything, as in MLflow (whose "<" and ">"
    # raise TypeError there; trackstore makes those false).
    return comparison.comparator == "IS NULL" or (
        comparison.kind == "attribute" and comparison.comparator == "!=")


def compile_experiment_filter(
    experiment_filter: ExperimentFilter,
) -> Callable[[ExperimentRecord], bool]:
    """A predicate for *experiment_filter*."""
    # MLflow compares the numeric attributes with float(value), even for an integer literal.
    clauses = [
        dataclasses.replace(c, value=float(c.value))
        if c.kind == "attribute" and isinstance(c.value, int) else c
        for c in experiment_filter.clauses
    ]
    return _compile(clauses, _experiment_getter, _experiment_missing)


# --- ordering --------------------------------------------------------------------------

def _order_pass(records: list[T], get: Getter, ascending: bool) -> list[T]:
    """One stable sort on *get*: present values (in order), then NaN, then missing.

    Ties keep their previous order, in both directions, as with MLflow's keyed sorts.
    """
    values = list(map(get, records))
    value_at = values.__getitem__
    if None in values or any(v != v for v in values):  # noqa: PLR0124 -- NaN != NaN
        present = [i for i, v in enumerate(values) if v is not None and v == v]  # noqa: PLR0124
        nans = [i for i, v in enumerate(values) if v is not None and v != v]  # noqa: PLR0124
        missing = [i for i, v in enumerate(values) if v is None]
        present.sort(key=value_at, reverse=not ascending)
        order = present + nans + missing
    else:
        order = sorted(range(len(values)), key=value_at, reverse=not ascending)
    return list(map(records.__getitem__, order))


def sort_runs(records: Iterable[R], order_by: Sequence[OrderBy] = ()) -> list[R]:
    """*records* in MLflow's order: base ``start_time DESC, run_id``, then *order_by*."""
    ordered = sorted(records, key=operator.attrgetter("run_id"))
    ordered = _order_pass(ordered, operator.attrgetter("start_time"), ascending=False)
    for entry in reversed(order_by):
        ordered = _order_pass(ordered, _run_getter(entry.kind, entry.key), entry.ascending)
    return ordered


DEFAULT_EXPERIMENT_ORDER = (OrderBy("attribute", "creation_time", False),
                            OrderBy("attribute", "experiment_id", True))


def sort_experiments(records: Iterable[E], order_by: Sequence[OrderBy] = ()) -> list[E]:
    """*records* ordered as MLflow orders experiments (see the module docstring)."""
    entries = list(order_by or DEFAULT_EXPERIMENT_ORDER)
    if not any(e.key == "experiment_id" for e in entries):
        entries.append(OrderBy("attribute", "experiment_id", False))
    ordered = list(records)
    for entry in reversed(entries):
        ordered = _order_pass(ordered, operator.attrgetter(entry.key), entry.ascending)
    return ordered


# --- search ------------------------------------------------------------------------------

def search_runs(
    records: Iterable[R],
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
    max_results: int | None = SEARCH_MAX_RESULTS_DEFAULT,
    page_token: str | bytes | None = None,
) -> tuple[list[R], str | None]:
    """Filter, order and page *records*; returns the page and the next page's token.

    Every argument is validated before any record is read, in MLflow's order: ``max_results``,
    the filter, ``order_by``, the page token.
    """
    validate_run_max_results(max_results)
    run_filter = parse_run_filter(filter_string)
    matches = compile_run_filter(run_filter)
    ordering = parse_run_order_by(order_by)
    parse_page_token(page_token)
    ordered = sort_runs(filter(matches, records) if run_filter.clauses else records, ordering)
    return paginate(ordered, page_token, max_results)


def search_experiments(
    records: Iterable[E],
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
    max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
    page_token: str | bytes | None = None,
) -> tuple[list[E], str | None]:
    """The experiment counterpart of :func:`search_runs`."""
    validate_experiment_max_results(max_results)
    matches = compile_experiment_filter(parse_experiment_filter(filter_string))
    ordering = parse_experiment_order_by(order_by)
    parse_page_token(page_token)
    ordered = sort_experiments(filter(matches, records), ordering)
    return paginate(ordered, page_token, max_results)
