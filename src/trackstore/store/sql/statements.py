"""The write statements of the SQL store, as SQL text per dialect, run on DBAPI cursors.

Writes are few statement shapes executed very often, so they skip SQLAlchemy's per-call
machinery: each is rendered once per dialect and run with the driver's ``executemany`` (or,
for metric points, the form the driver ingests fastest, built by :mod:`trackstore._sqlbatch`).
Only numbers reach SQL text (MySQL's multi-row ``VALUES`` of metric rows); every string is a
bound parameter.

Each statement is built once per ``Statements`` (they are cached), then reused.

Insert-if-absent and upsert exist on every dialect, each in its own spelling: ``ON CONFLICT``
(SQLite, PostgreSQL), ``ON DUPLICATE KEY UPDATE`` (MySQL/MariaDB; never ``INSERT IGNORE``,
which would also turn a too-long value into a silent truncation), ``MERGE ... WITH
(HOLDLOCK)`` (SQL Server).

The latest-value upsert replaces a row only with a greater ``(step, timestamp, kind,
value)``. On MySQL the assignments of ``ON DUPLICATE KEY UPDATE`` run left to right and each
sees the columns the previous ones changed, so the comparison is made once, by the first
assignment, into a session variable the others read.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Dialect

from ... import _sqlbatch
from .schema import POINT_KEY

LATEST_COLUMNS = ("run_key", "key_id", "step", "timestamp", "value", "kind", "dataset_id")
METRIC_COLUMNS = LATEST_COLUMNS


class Statements:
    """The write statements of one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        name = dialect.name
        self.dialect = "mysql" if name == "mariadb" else name
        self.mark = "?" if dialect.paramstyle in ("qmark", "numeric") else "%s"
        self.q = dialect.identifier_preparer.quote

    # -- helpers -------------------------------------------------------------------------------

    def _cols(self, columns: Sequence[str]) -> str:
        return ", ".join(self.q(c) for c in columns)

    def _marks(self, n: int) -> str:
        return ", ".join([self.mark] * n)

    @functools.cache  # noqa: B019 - a few Statements live as long as the process
    def insert(self, table: str, columns: Sequence[str]) -> str:
        return (f"INSERT INTO {table} ({self._cols(columns)}) "
                f"VALUES ({self._marks(len(columns))})")

    @functools.cache  # noqa: B019 - a few Statements live as long as the process
    def insert_absent(self, table: str, columns: Sequence[str], keys: Sequence[str]) -> str:
        """Insert a row unless one with the same *keys* exists (then nothing changes)."""
        if self.dialect in ("sqlite", "postgresql"):
            return (f"{self.insert(table, columns)} "
                    f"ON CONFLICT ({self._cols(keys)}) DO NOTHING")
        if self.dialect == "mysql":
            first = self.q(keys[0])
            return f"{self.insert(table, columns)} ON DUPLICATE KEY UPDATE {first} = {first}"
        return self._merge(table, columns, keys, update=())

    @functools.cache  # noqa: B019 - a few Statements live as long as the process
    def upsert(self, table: str, columns: Sequence[str], keys: Sequence[str]) -> str:
        """Insert a row, or overwrite the non-key columns of the row with the same *keys*."""
        values = [c for c in columns if c not in keys]
        if self.dialect in ("sqlite", "postgresql"):
            sets = ", ".join(f"{self.q(c)} = excluded.{self.q(c)}" for c in values)
            return (f"{self.insert(table, columns)} "
                    f"ON CONFLICT ({self._cols(keys)}) DO UPDATE SET {sets}")
        if self.dialect == "mysql":
            sets = ", ".join(f"{self.q(c)} = VALUES({self.q(c)})" for c in values)
            return f"{self.insert(table, columns)} ON DUPLICATE KEY UPDATE {sets}"
        return self._merge(table, columns, keys, update=values)

    def _merge(self, table: str, columns: Sequence[str], keys: Sequence[str],
               update: Sequence[str], condition: str = "") -> str:
        on = " AND ".join(f"t.{self.q(k)} = s.{self.q(k)}" for k in keys)
        sql = (f"MERGE {table} WITH (HOLDLOCK) AS t "
               f"USING (VALUES ({self._marks(len(columns))})) AS s ({self._cols(columns)}) "
               f"ON {on} ")
        if update:
            sets = ", ".join(f"{self.q(c)} = s.{self.q(c)}" for c in update)
            sql += f"WHEN MATCHED{condition} THEN UPDATE SET {sets} "
        cols = self._cols(columns)
        values = ", ".join(f"s.{self.q(c)}" for c in columns)
        return sql + f"WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({values});"

    def _greater(self, new: str, old: str) -> str:
        """SQL for ``(step, timestamp, kind, value)`` of *new* > that of *old*."""
        s, t, k, v = (self.q(c) for c in ("step", "timestamp", "kind", "value"))
        return (f"({new}{s} > {old}{s} OR ({new}{s} = {old}{s} AND ({new}{t} > {old}{t} OR "
                f"({new}{t} = {old}{t} AND ({new}{k} > {old}{k} OR "
                f"({new}{k} = {old}{k} AND {new}{v} > {old}{v}))))))")

    # -- metrics ----------------------------------------------------------------------------

    @functools.cache  # noqa: B019 - a few Statements live as long as the process
    def insert_metrics(self) -> str:
        """Insert metric rows, an exact duplicate of a stored point being skipped."""
        return self.insert_absent("metrics", METRIC_COLUMNS, POINT_KEY)

    @functools.cache  # noqa: B019 - a few Statements live as long as the process
    def insert_metric_rows(self, count: int, with_dataset: bool) -> str:
        """SQLite: insert *count* metric rows in one statement, an exact duplicate of a stored
        point being skipped. The parameters are :func:`trackstore._sqlbatch.bind_params`'s:
        the run key once (``?1``, shared by every row), then five columns per row, six
        *with_dataset*. One statement of many rows costs SQLite a third less than a row per
        ``executemany`` step (callgrind), and the few sizes used stay prepared."""
        width = 6 if with_dataset else 5
        cols = self._cols(METRIC_COLUMNS[:1 + width])
        rows = ", ".join(
            "(?1, " + ", ".join(f"?{2 + r * width + c}" for c in range(width)) + ")"
            for r in range(count))
        return (f"INSERT INTO metrics ({cols}) VALUES {rows} "
                f"ON CONFLICT ({self._cols(POINT_KEY)}) DO NOTHING")

    def metric_row_inserts(self, rows: Sequence[Sequence[Any]]) -> list[tuple[str, list[Any]]]:
        """SQLite: the metric *rows* (of one run) as ``(statement, parameters)`` pairs of
        :meth:`insert_metric_rows`, in sizes that are powers of two up to what the library
        binds in one statement, so that every size stays prepared in the driver's cache."""
        params, with_dataset = _sqlbatch.bind_params(rows)
        width = 6 if with_dataset else 5
        most = sqlite_rows_per_insert()
        inserts = []
        start, count = 0, len(rows)
        while start < count:
            size = min(most, 1 << ((count - start).bit_length() - 1))
            inserts.append((self.insert_metric_rows(size, with_dataset),
                            [params[0], *params[1 + start * width:1 + (start + size) * width]]))
            start += size
        return inserts

    @functools.cache  # noqa: B019 - a few Statements live as long as the process
    def upsert_latest(self, dataset: bool = True) -> str:
        """Insert a latest-value row, or replace the stored one if the new point is greater.

        ``dataset=False`` (SQLite): the row's six columns before ``dataset_id``, which is
        written as ``NULL`` (SQLite's module binds ``None`` the slow way, see ``log_point``).
        """
        cols = LATEST_COLUMNS
        values = cols[2:]
        keys = ("run_key", "key_id")
        if not dataset:
            if self.dialect != "sqlite":
                raise ValueError("upsert_latest(dataset=False) is for SQLite")
            return (f"INSERT INTO latest_metrics ({self._cols(cols)}) VALUES "
                    f"({self._marks(len(cols) - 1)}, NULL) {self._latest_conflict()}")
        if self.dialect in ("sqlite", "postgresql"):
            return f"{self.insert('latest_metrics', cols)} {self._latest_conflict()}"
        if self.dialect == "mysql":
            newer = self._greater_values()
            first, *rest = values
            assignments = [f"{self.q(first)} = IF(@trackstore_newer := {newer}, "
                           f"VALUES({self.q(first)}), {self.q(first)})"]
            # The others read the variable: the comparison saw every column unchanged.
            assignments += [f"{self.q(c)} = IF(@trackstore_newer, VALUES({self.q(c)}), "
                            f"{self.q(c)})" for c in rest]
            return (f"{self.insert('latest_metrics', cols)} "
                    f"ON DUPLICATE KEY UPDATE {', '.join(assignments)}")
        return self._merge("latest_metrics", cols, keys, values,
                           condition=f" AND {self._greater('s.', 't.')}")

    def upsert_latest_values(self, values: str) -> str:
        """:meth:`upsert_latest` for many rows given as a ``VALUES`` list of numbers."""
        single = f"VALUES ({self._marks(len(LATEST_COLUMNS))})"
        return self.upsert_latest().replace(single, f"VALUES {values}", 1)

    @functools.cache  # noqa: B019
    def log_point(self, dataset: bool = True) -> str:
        """One point of an active run, in one statement where the dialect allows it.

        Parameters: the run key, then the row's other six columns (see
        :meth:`log_point_args`). The point is inserted only if the run is active: a
        statement that reports no row inserted (or, on PostgreSQL, returns 0) means an
        inactive or missing run -- or an exact duplicate, which the caller tells apart.

        ``dataset=False`` (SQLite): a point without a dataset, ``dataset_id`` written as
        ``NULL`` and not bound (SQLite's module adapts a bound ``None`` through a failed
        ``__conform__`` lookup: an exception made and dropped per parameter).
        """
        q, m = self.q, self.mark
        cols = self._cols(METRIC_COLUMNS)
        if not dataset and self.dialect != "sqlite":
            raise ValueError("log_point(dataset=False) is for SQLite")
        values = ", ".join([m] * 6) if dataset else ", ".join([m] * 5) + ", NULL"
        active = f"run_key = {m} AND lifecycle_stage = 'active'"
        if self.dialect == "postgresql":
            # One round trip, one transaction (autocommit): both inserts see the same check.
            return (f"WITH r AS (SELECT run_key FROM runs WHERE {active}), "
                    f"p AS (INSERT INTO metrics ({cols}) SELECT r.run_key, {values} FROM r "
                    f"ON CONFLICT DO NOTHING), "
                    f"l AS (INSERT INTO latest_metrics ({cols}) SELECT r.run_key, {values} "
                    f"FROM r {self._latest_conflict()}) "
                    f"SELECT COUNT(*) FROM r")
        select = f"SELECT run_key, {values} FROM runs WHERE {active}"
        if self.dialect == "sqlite":
            return f"INSERT INTO metrics ({cols}) {select} ON CONFLICT DO NOTHING"
        if self.dialect == "mysql":
            return (f"INSERT INTO metrics ({cols}) {select} "
                    f"ON DUPLICATE KEY UPDATE {q('step')} = metrics.{q('step')}")
        on = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in POINT_KEY)
        return (f"MERGE metrics WITH (HOLDLOCK) AS t USING ({select}) AS s ({cols}) ON {on} "
                f"WHEN NOT MATCHED THEN INSERT ({cols}) VALUES "
                f"({', '.join(f's.{q(c)}' for c in METRIC_COLUMNS)});")

    def log_point_args(self, run_key: int, row: Sequence[Any],
                       dataset: bool = True) -> tuple[Any, ...]:
        """The parameters of :meth:`log_point` (*dataset* as given to it) for *row* (a
        metric row of that run)."""
        rest = tuple(row[1:] if dataset else row[1:6])
        if self.dialect == "postgresql":
            return (run_key, *rest, *rest)
        return (*rest, run_key)

    #: PostgreSQL: the name of :meth:`log_point` prepared on a connection.
    LOG_POINT_PREPARED = "trackstore_log_point"

    @functools.cache  # noqa: B019
    def prepare_log_point(self) -> tuple[str, str]:
        """PostgreSQL: ``PREPARE`` for :meth:`log_point`, and its ``EXECUTE`` (7 parameters:
        the run key, then the row's other columns). Planning the statement costs more than
        running it, so a connection plans it once."""
        numbered = ["$1", *(f"${i}" for i in range(2, 8)), *(f"${i}" for i in range(2, 8))]
        body = self.log_point().replace("%s", "{}").format(*numbered)
        types = "bigint, integer, bigint, bigint, double precision, smallint, integer"
        name = self.LOG_POINT_PREPARED
        return (f"PREPARE {name} ({types}) AS {body}",
                f"EXECUTE {name} ({', '.join([self.mark] * 7)})")

    def _latest_conflict(self) -> str:
        sets = ", ".join(f"{self.q(c)} = excluded.{self.q(c)}" for c in LATEST_COLUMNS[2:])
        return (f"ON CONFLICT (run_key, key_id) DO UPDATE SET {sets} "
                f"WHERE {self._greater('excluded.', 'latest_metrics.')}")

    def _greater_values(self) -> str:
        s, t, k, v = (self.q(c) for c in ("step", "timestamp", "kind", "value"))
        return (f"(VALUES({s}) > {s} OR (VALUES({s}) = {s} AND (VALUES({t}) > {t} OR "
                f"(VALUES({t}) = {t} AND (VALUES({k}) > {k} OR "
                f"(VALUES({k}) = {k} AND VALUES({v}) > {v}))))))")


@functools.cache
def sqlite_rows_per_insert() -> int:
    """Metric rows per multi-row insert on SQLite: 256, or fewer where the library binds at
    most 999 parameters per statement (before 3.32), at six per row plus the run key."""
    import sqlite3

    limit = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
    rows = 256
    while 1 + 6 * rows > limit:
        rows //= 2
    return rows


def executemany(cursor: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run *sql* once per row, in as few round trips as the driver allows: psycopg2's own
    ``executemany`` makes one per row, so its rows go in pages of statements (``execute_batch``);
    PyMySQL turns an ``INSERT ... VALUES`` into one multi-row statement itself."""
    if len(rows) == 1:
        cursor.execute(sql, rows[0])
    elif rows:
        if type(cursor).__module__.startswith("psycopg2"):
            from psycopg2.extras import execute_batch  # type: ignore[import-untyped]

            execute_batch(cursor, sql, rows, page_size=500)
        else:
            cursor.executemany(sql, rows)
