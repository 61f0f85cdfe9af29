"""Filter strings never reach SQL as text: SQLite, PostgreSQL and MariaDB.

A ``before_cursor_execute`` listener on the store's engine records every statement while
``search_runs``, ``search_experiments``, ``search_registered_models`` and
``search_model_versions`` run with filters and ``order_by`` clauses holding a distinctive
marker and injection attempts (quotes, ``' OR 1=1 --``, ``"; DROP TABLE runs; --``,
backticks, quotes in keys). No marker and no injection fragment may ever be in a statement's
text (only in its bound parameters); the results must be exactly the rows the filter names
(an injection matches nothing); the tables and their rows must be intact afterwards. Forged
and tampered page tokens are refused with ``INVALID_PARAMETER_VALUE``.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests._databases import SQL_KINDS, fresh_database
from tests._figures import record
from trackstore.entities import Metric, Param, RunTag, ViewType
from trackstore.exceptions import INVALID_PARAMETER_VALUE, TrackstoreError
from trackstore.store.sql import SqlStore
from trackstore.store.sql.engine import dispose_engines

MARK = f"Zq{secrets.token_hex(3)}"
#: Fragments of injection attempts that must never be in a statement's text.
FRAGMENTS = ("OR 1=1", "DROP TABLE", "--", "UNION SELECT", "SLEEP(", "pg_sleep", MARK)


class Statements:
    """The statements (text and parameters) executed on an engine while attached."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.seen: list[tuple[str, Any]] = []

    def _record(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                executemany: bool) -> None:
        self.seen.append((statement, parameters))

    def __enter__(self) -> Statements:
        sa.event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._record)

    def assert_clean(self, what: str) -> None:
        assert self.seen, f"{what}: no statement was recorded (listener not attached?)"
        for statement, _ in self.seen:
            for fragment in FRAGMENTS:
                if fragment == "--":  # (a comment opener: none of the store's SQL has one)
                    assert "--" not in statement, (what, statement)
                else:
                    assert fragment.lower() not in statement.lower(), (what, fragment, statement)

    def bound(self) -> str:
        return repr([p for _, p in self.seen])


@pytest.fixture(params=SQL_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    with fresh_database(request.param, tmp_path) as uri:
        sql_store = SqlStore(uri, str(tmp_path / "artifacts"))
        try:
            yield sql_store
        finally:
            sql_store.close()
            dispose_engines()


def _populate(store: SqlStore) -> dict[str, str]:
    """Runs, experiments and models whose values hold the marker and quotes."""
    experiment = store.create_experiment(f"{MARK}-exp'\"`", tags=None)
    ids = {"experiment": experiment}
    for name, value in (("quote", f"{MARK} it's"), ("dquote", f'{MARK} say "hi"'),
                        ("plain", f"{MARK}-plain")):
        run = store.create_run(experiment, None, 1, [], f"{name}-{MARK}")
        store.log_param(run.info.run_id, Param("p", value))
        store.set_tag(run.info.run_id, RunTag(f"{MARK} key", value))
        store.log_metric(run.info.run_id, Metric("m", 0.5, 1, 0))
        ids[name] = run.info.run_id
    store.create_registered_model(f"{MARK}-model'")
    store.create_model_version(f"{MARK}-model'", f"/tmp/{MARK}/source", ids["quote"])
    return ids


INJECTIONS = [
    f"{MARK}' OR 1=1 --", f'{MARK}"; DROP TABLE runs; --', f"{MARK}`; DROP TABLE runs; --",
    f"{MARK}' UNION SELECT run_uuid FROM runs --", f"{MARK}'; SELECT pg_sleep(5); --",
    f"{MARK}\\' OR 1=1 --", f"{MARK}%' OR '1'='1",
]


def _quoted(value: str) -> str:
    """*value* as a filter string literal (the quote it does not contain)."""
    return f'"{value}"' if "'" in value else f"'{value}'"


def _table_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        names = sa.inspect(connection).get_table_names()
        return {name: connection.execute(sa.text(
            f"SELECT COUNT(*) FROM {connection.dialect.identifier_preparer.quote(name)}"
        )).scalar_one() for name in names}


def test_filters_reach_sql_as_parameters_only(store: SqlStore) -> None:
    ids = _populate(store)
    experiment = ids["experiment"]
    counts = _table_counts(store.engine)
    run_filters: list[tuple[str, set[str]]] = [
        (f"params.p = {_quoted(MARK + ' it' + chr(39) + 's')}", {ids["quote"]}),
        (f"params.p = '{MARK} say \"hi\"'", {ids["dquote"]}),
        (f"params.p LIKE '{MARK}-%'", {ids["plain"]}),
        (f"tags.`{MARK} key` = '{MARK}-plain'", {ids["plain"]}),
        (f"attributes.run_name = 'plain-{MARK}'", {ids["plain"]}),
        ("metrics.m > 0.4321987", {ids["quote"], ids["dquote"], ids["plain"]}),
    ]
    for injection in INJECTIONS:
        quoted = _quoted(injection)
        run_filters += [(f"params.p = {quoted}", set()), (f"params.p LIKE {quoted}", set()),
                        (f"tags.`{MARK} key` ILIKE {quoted}", set()),
                        (f"tags.`{MARK}'key` = {quoted}", set()),
                        (f"attributes.run_name = {quoted}", set()),
                        (f"attributes.run_name != {quoted}",
                         {ids["quote"], ids["dquote"], ids["plain"]}),
                        (f"params.`{injection.replace('`', '')}` = 'x'", set())]
    orders = [[f"params.`{MARK}' OR 1=1 --` DESC"], [f"tags.`{MARK}\"; DROP TABLE runs; --`"],
              [f"metrics.`{MARK}` ASC", "attributes.start_time DESC"]]
    tried = 0
    with Statements(store.engine) as statements:
        for filter_string, expected in run_filters:
            found = store.search_runs([experiment], filter_string, ViewType.ALL)
            tried += 1
            assert {r.info.run_id for r in found} == expected, filter_string
        ordered = 0
        for order_by in orders:
            tried += 1
            try:
                found: object = len(store.search_runs([experiment], "", ViewType.ALL,
                                                      order_by=order_by))
            except TrackstoreError as exc:  # refusing a clause is as good as binding it
                found = exc.error_code
            assert found in (3, INVALID_PARAMETER_VALUE), (order_by, found)
            ordered += found == 3
        assert ordered >= 2  # (the injections in them were taken as keys, not refused)
        page = store.search_runs([experiment], f"params.p LIKE '{MARK}%'", ViewType.ALL,
                                 max_results=1, order_by=["params.p"])
        pages = [page]
        while pages[-1].token:
            pages.append(store.search_runs([experiment], f"params.p LIKE '{MARK}%'",
                                           ViewType.ALL, max_results=1, order_by=["params.p"],
                                           page_token=pages[-1].token))
        assert sorted(r.info.run_id for p in pages for r in p) == sorted(
            ids[k] for k in ("quote", "dquote", "plain"))
    statements.assert_clean("search_runs")
    assert MARK in statements.bound()  # the literals did reach the database, as parameters
    with Statements(store.engine) as statements:
        for injection in INJECTIONS:
            quoted = _quoted(injection)
            for filter_string in (f"name = {quoted}", f"name LIKE {quoted}",
                                  f"tags.`{injection.replace('`', '')}` = 'x'",
                                  f"tags.k = {quoted}"):
                tried += 1
                assert list(store.search_experiments(ViewType.ALL, 100, filter_string)) == []
            tried += 1
            assert list(store.search_registered_models(f"name = {quoted}")) == []
            assert list(store.search_registered_models(f"tags.k = {quoted}")) == []
            assert list(store.search_model_versions(f"name = {quoted}")) == []
            assert list(store.search_model_versions(f"run_id = {quoted}")) == []
            assert list(store.search_model_versions(f"source_path = {quoted}")) == []
            tried += 4
        found = store.search_experiments(ViewType.ALL, 100, f"name LIKE '{MARK}-exp%'",
                                         order_by=["name DESC"])
        assert [e.experiment_id for e in found] == [experiment]
        models = store.search_registered_models(f"name LIKE '{MARK}-model%'",
                                                order_by=["name ASC"])
        assert [m.name for m in models] == [f"{MARK}-model'"]
        versions = store.search_model_versions(f"name = \"{MARK}-model'\"")
        assert [v.run_id for v in versions] == [ids["quote"]]
    statements.assert_clean("experiments and registry")
    assert _table_counts(store.engine) == counts  # every table there, nothing added or lost
    record("security", f"sql-text-{store.engine.dialect.name}", filters=tried)


def _token(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


FORGED_TOKENS = [
    "not-base64!!", base64.b64encode(b"not json").decode(), _token([1, 2]), _token({}),
    _token({"offset": -1}), _token({"offset": "1; DROP TABLE runs; --"}),
    _token({"offset": f"{MARK}' OR 1=1 --"}), _token({"offset": None}), _token("x"),
    _token({"offset": [1]}), base64.b64encode(b"\xff\xfe").decode(),
]


def test_forged_page_tokens_are_refused(store: SqlStore) -> None:
    ids = _populate(store)
    counts = _table_counts(store.engine)
    searches = {
        "runs": lambda t: store.search_runs([ids["experiment"]], "", ViewType.ALL, 1,
                                            page_token=t),
        "experiments": lambda t: store.search_experiments(ViewType.ALL, 1, page_token=t),
        "models": lambda t: store.search_registered_models(max_results=1, page_token=t),
        "versions": lambda t: store.search_model_versions(max_results=1, page_token=t),
    }
    with Statements(store.engine) as statements:
        for token in FORGED_TOKENS:
            for name, search in searches.items():
                with pytest.raises(TrackstoreError) as caught:
                    search(token)
                assert caught.value.error_code == INVALID_PARAMETER_VALUE, (name, token)
        # A well-formed token past the end is an empty page, not an error.
        assert list(searches["runs"](_token({"offset": 1000}))) == []
    for statement, _ in statements.seen:
        assert "DROP" not in statement and MARK not in statement, statement
    assert _table_counts(store.engine) == counts


def test_a_page_token_past_int64_is_refused(tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path) as uri:
        sql_store = SqlStore(uri, str(tmp_path / "artifacts"))
        try:
            with pytest.raises(TrackstoreError) as caught:
                sql_store.search_runs(["0"], "", ViewType.ALL, 1,
                                      page_token=_token({"offset": 2**64}))
            assert caught.value.error_code == INVALID_PARAMETER_VALUE
        finally:
            sql_store.close()
            dispose_engines()
