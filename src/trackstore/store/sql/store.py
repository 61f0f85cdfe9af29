"""``SqlStore``: the tracking API on SQLite, PostgreSQL, MySQL/MariaDB and SQL Server.

The schema is trackstore's own (:mod:`.schema`); the statements that write run on DBAPI
cursors (:mod:`.statements`), reads and searches are SQLAlchemy Core.

Guarantees
----------
* One ``log_batch`` is one transaction: params, tags and metrics are all stored or none
  (MLflow's SQL store commits them separately). A param conflict changes nothing.
* An exact duplicate metric point (same run, key, step, timestamp and value) is stored once,
  so a retried ``log_batch`` is idempotent.
* NaN, +inf and -inf round-trip exactly (``kind`` column; MLflow stores inf as DBL_MAX).
* The latest value of each metric is kept in ``latest_metrics`` by one set-based upsert per
  batch, rows in key order, so concurrent writers to one run never deadlock; no ``SELECT
  ... FOR UPDATE``.
* Metric keys and metric dataset references are registered in their own short transaction
  before the batch's (they are never deleted, so a registered but unused key is harmless and
  the batch's transaction holds no lock on the shared dictionaries).

Semantics shared with the file store (and where MLflow's two stores disagree, the file
store's): deleting an experiment deletes its active runs (runs deleted earlier keep their
``deleted_time``); restoring it restores every run; runs without ``deleted_time`` are always
eligible for ``gc``. A metric's history is ordered by ``(step, timestamp, value)``; the file
store keeps the order of logging.
"""

from __future__ import annotations

import array
import gc
import io
import os
import sys
import threading
import uuid
import weakref
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

try:
    import fcntl
except ImportError:  # Windows: SQLite's own locking alone
    fcntl = None  # type: ignore[assignment]

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool, QueuePool

from ... import _sqlbatch
from ...entities import (
    Dataset,
    DatasetInput,
    Experiment,
    ExperimentTag,
    InputTag,
    LifecycleStage,
    LoggedModelInput,
    Metric,
    MetricHistory,
    PagedList,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunStatus,
    RunTag,
    now_ms,
)
from ...exceptions import (
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    TEMPORARILY_UNAVAILABLE,
    TrackstoreError,
    database_unavailable,
)
from ...search import (
    create_page_token,
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_page_token,
    parse_run_filter,
    parse_run_order_by,
    validate_experiment_max_results,
    validate_run_max_results,
)
from ...validation import validate_experiment_id
from ..base import (
    RUN_NAME_TAG,
    AbstractStore,
    GcRun,
    checked_run_id,
    name_taken,
    not_deleted,
)
from ..file.meta import append_to_uri, path_to_file_uri, resolve_local_uri
from ..naming import random_run_name
from . import schema as s
from .engine import DedicatedConnections, engine_for
from .statements import METRIC_COLUMNS, Statements, executemany

if TYPE_CHECKING:
    from .registry import SqlRegistry

T = TypeVar("T")
_ACTIVE, _DELETED = LifecycleStage.ACTIVE, LifecycleStage.DELETED
_EXPERIMENT_COUNTER = "experiment"
#: PostgreSQL: the temporary table a batch of points is copied into (one per connection).
_STAGE = "trackstore_metric_stage"
_STAGE_DDL = (f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE} (run_key BIGINT, key_id INTEGER, "
              'step BIGINT, "timestamp" BIGINT, value DOUBLE PRECISION, kind SMALLINT, '
              "dataset_id INTEGER) ON COMMIT DELETE ROWS")
#: DBAPI connections whose staging table exists (weak: gone with the connection).
_staged: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
#: PostgreSQL: the savepoint a batch's plain ``COPY`` runs under, and unique_violation.
_SAVEPOINT = "trackstore_points"
_UNIQUE_VIOLATION = "23505"
#: Rows per statement when a list of ids is sent as an ``IN (...)`` list.
_CHUNK = 500


#: Rows fetched at a time when a metric's history is read.
_FETCH_CHUNK = 65536


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cycle collector while a history becomes objects.

    Building 100k tuples or Metric objects makes CPython run collections of the whole heap
    (every 700 allocations a young one, and now and then one over everything the program
    holds): in a process with a large heap that costs more than the read. What is built here
    holds no reference cycles, so nothing is left for the collector; it resumes on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class SqlStore(AbstractStore):
    """The tracking store on a SQL database (see the module doc)."""

    def __init__(self, db_uri: str, default_artifact_root: str | None = None) -> None:
        self.db_uri = db_uri
        self.engine = engine_for(db_uri)
        self.artifact_root_uri = (resolve_local_uri(default_artifact_root)
                                  if default_artifact_root
                                  else path_to_file_uri(os.path.abspath("mlruns")))
        self._sql = Statements(self.engine.dialect)
        self._dialect = self._sql.dialect
        self._key_ids: dict[str, int] = {}
        self._dataset_ids: dict[tuple[str, str], int] = {}
        self._run_keys: dict[str, int] = {}
        self._lock = threading.Lock()
        self._local = threading.local()  # SQLite: each thread's writer (see _sqlite_write)
        self._writers: list[tuple[int, Any]] = []  # (pid, writer) of every thread, for close()
        self._generation = 0  # bumped by close(): a thread's older writer is not used again
        self._points: DedicatedConnections | None = None  # PostgreSQL: see _point_connections
        self._registry: SqlRegistry | None = None
        from .migrate import ensure_schema

        ensure_schema(self.engine)
        self._create_default_rows()

    def __repr__(self) -> str:
        return f"SqlStore({self.engine.url.render_as_string(hide_password=True)!r})"

    def registry_backend(self) -> SqlRegistry:
        """The model registry on this database (:mod:`.registry`)."""
        registry = self._registry
        if registry is None:
            from .registry import SqlRegistry

            registry = self._registry = SqlRegistry(self)
        return registry

    # -- transactions ---------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """A DBAPI cursor in a write transaction: committed on success, else rolled back.

        A lost connection (the database restarted, a network cut: see :meth:`_lost`) is
        discarded, never handed back to the pool for the next caller to fail on, and is
        raised as ``TEMPORARILY_UNAVAILABLE``; so is a connection the pool cannot make.
        Other driver errors propagate as they are, for the caller to translate (a taken name).
        """
        if self._dialect == "sqlite":
            with self._sqlite_write() as cursor:
                yield cursor
            return
        try:
            raw = self.engine.raw_connection()
        except Exception as exc:
            if self._lost(exc):
                raise _unavailable(exc) from None
            raise
        try:
            # The driver's connection itself: the pool's proxy reaches commit() and rollback()
            # through __getattr__, after a failed lookup that costs an AttributeError.
            dbapi: Any = raw.dbapi_connection
            cursor = dbapi.cursor()
            try:
                yield cursor
                dbapi.commit()
            except BaseException as exc:
                if self._dialect == "postgresql":  # what this transaction created is gone
                    _staged.pop(cursor.connection, None)
                try:
                    dbapi.rollback()
                except Exception:  # the connection is gone: closed, not back to the pool
                    raw.invalidate()
                if self._lost(exc):
                    raise _unavailable(exc) from None
                raise
            finally:
                if raw.is_valid:  # (an invalidated connection is closed, its cursors too)
                    cursor.close()
        finally:
            raw.close()

    def _lost(self, exc: BaseException) -> bool:
        """Whether *exc* says the connection is gone or the database unreachable or busy:
        an ``OperationalError`` (refused, lost, shut down, deadlock victim, lock timeout), a
        pool timeout, or what the dialect knows as a disconnect (psycopg2's "connection
        already closed" and PyMySQL's ``(0, '')`` are ``InterfaceError``s)."""
        if database_unavailable(exc):
            return True
        if not isinstance(exc, Exception):
            return False
        orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
        dbapi = self.engine.dialect.dbapi
        if dbapi is None or not isinstance(orig, dbapi.Error):
            return False
        try:
            return bool(self.engine.dialect.is_disconnect(orig, None, None))
        except Exception:  # a dialect that needs the connection to tell: not a disconnect
            return False

    @contextmanager
    def _sqlite_write(self) -> Iterator[Any]:
        """SQLite: a ``BEGIN IMMEDIATE`` transaction on this thread's writer connection.

        Each thread that writes keeps one connection of its own, taken from the engine's pool
        once and detached from it: a pool checkout and return cost about 60k instructions
        (callgrind), a third of a ``log_metric`` call, and SQLite serializes writers anyway.
        The connection is made by the engine (its WAL and busy-timeout settings), is never
        shared between threads, is replaced in a forked child (which must not use its
        parent's), and is dropped after an error other than trackstore's own, so that the
        next write starts on a fresh one. Reads still come from the pool.
        """
        local = self._local
        dbapi: Any = getattr(local, "writer", None)
        if dbapi is None or local.pid != os.getpid() or local.generation != self._generation:
            fairy = self.engine.raw_connection()
            fairy.detach()  # the pool forgets it (and may open another in its place)
            dbapi = local.writer = fairy.dbapi_connection
            local.generation = self._generation
            with self._lock:
                self._writers.append((os.getpid(), dbapi))
            if getattr(local, "pid", None) != os.getpid():
                # A forked child must not lock its parent's open file description.
                local.gate = self._open_write_gate()
            local.pid = os.getpid()
        gate: io.FileIO | None = local.gate
        if gate is not None:
            fcntl.flock(gate, fcntl.LOCK_EX)
        cursor = dbapi.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            yield cursor
            dbapi.commit()
        except TrackstoreError:
            dbapi.rollback()
            raise
        except BaseException:
            local.writer = None
            try:
                cursor.close()
                dbapi.rollback()
            finally:
                dbapi.close()
            raise
        finally:
            if local.writer is dbapi:
                cursor.close()
            if gate is not None:
                fcntl.flock(gate, fcntl.LOCK_UN)

    def _open_write_gate(self) -> io.FileIO | None:
        """SQLite: the descriptor of the database's write gate, a lock file beside it.

        SQLite makes a writer that finds the database locked sleep and poll (1, 2, 5, 10 …
        100 ms), so writers in several processes (a server's workers, parallel training jobs)
        lose most of their time asleep. Writers of this library first take an exclusive
        ``flock`` on ``<database>.trackstore-lock``, which hands the lock over at once when it
        is released. The gate is a BSD lock on a separate file, so it never touches SQLite's
        own POSIX locks on the database. Each thread opens its own descriptor (``flock``
        excludes open file descriptions, also within one process). Other programs writing
        the same database are not slowed by it: they still meet SQLite's own lock.
        """
        if fcntl is None:
            return None
        database = self.engine.url.database
        if not database:
            return None
        try:  # a file object: its descriptor is closed with the thread that owns it
            return io.FileIO(os.path.abspath(database) + ".trackstore-lock", "a")
        except OSError:  # a read-only directory: writes will fail with SQLite's own error
            return None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A pooled connection for reads; a lost one is ``TEMPORARILY_UNAVAILABLE`` (SQLAlchemy
        has invalidated it: the pool makes a fresh one for the next caller)."""
        try:
            with self.engine.connect() as connection:
                yield connection
        except (sa.exc.DBAPIError, sa.exc.TimeoutError) as exc:
            if self._lost(exc):
                raise _unavailable(exc) from None
            raise

    def _create_default_rows(self) -> None:
        """The experiment-id counter and the default experiment ``0``, if missing."""
        with self._write() as cur:
            cur.execute(self._sql.insert_absent("id_counters", ("name", "next_value"),
                                                ("name",)), (_EXPERIMENT_COUNTER, 1))
            created = now_ms()
            cur.execute(self._sql.insert_absent(
                "experiments", ("experiment_id", "name", "artifact_location", "lifecycle_stage",
                                "creation_time", "last_update_time"), ("experiment_id",)),
                (0, Experiment.DEFAULT_EXPERIMENT_NAME,
                 append_to_uri(self.artifact_root_uri, "0"), _ACTIVE, created, created))

    # -- experiments ----------------------------------------------------------------------------

    @staticmethod
    def _experiment_key(experiment_id: object) -> int | None:
        """The integer id of *experiment_id*, or None if it cannot name a SQL experiment."""
        text = validate_experiment_id("0" if experiment_id is None else experiment_id)
        if not text.isdigit() or len(text) > 18:
            return None
        return int(text)

    def _experiments(self, conn: Connection, where: Any) -> list[Experiment]:
        e, t = s.experiments, s.experiment_tags
        rows = conn.execute(sa.select(e).where(where)).all()
        if not rows:
            return []
        tags: dict[int, dict[str, str]] = defaultdict(dict)
        ids = [r.experiment_id for r in rows]
        for chunk in _chunks(ids):
            for tag in conn.execute(sa.select(t).where(t.c.experiment_id.in_(chunk))):
                tags[tag.experiment_id][tag.key] = tag.value
        return [Experiment(str(r.experiment_id), r.name, r.artifact_location or "",
                           r.lifecycle_stage, tags.get(r.experiment_id, {}),
                           r.creation_time, r.last_update_time) for r in rows]

    def get_experiment(self, experiment_id: str) -> Experiment:
        key = self._experiment_key(experiment_id)
        if key is not None:
            with self._read() as conn:
                found = self._experiments(conn, s.experiments.c.experiment_id == key)
            if found:
                return found[0]
        raise TrackstoreError(f"Could not find experiment with ID {experiment_id}",
                              RESOURCE_DOES_NOT_EXIST)

    def get_experiment_by_name(self, experiment_name: str) -> Experiment | None:
        with self._read() as conn:
            found = self._experiments(conn, s.experiments.c.name == experiment_name)
        return found[0] if found else None

    def _name_taken(self, name: str) -> TrackstoreError | None:
        existing = self.get_experiment_by_name(name)
        return None if existing is None else name_taken(existing, "it (trackstore gc)")

    def _create_experiment(self, name: str, artifact_location: str | None,
                           tags: list[ExperimentTag]) -> str:
        taken = self._name_taken(name)
        if taken is not None:
            raise taken
        sql = self._sql
        try:
            with self._write() as cur:
                experiment_id = self._next_experiment_id(cur)
                location = (resolve_local_uri(artifact_location) if artifact_location
                            else append_to_uri(self.artifact_root_uri, str(experiment_id)))
                created = now_ms()
                cur.execute(sql.insert("experiments", (
                    "experiment_id", "name", "artifact_location", "lifecycle_stage",
                    "creation_time", "last_update_time")),
                    (experiment_id, name, location, _ACTIVE, created, created))
                executemany(cur, sql.upsert("experiment_tags", ("experiment_id", "key", "value"),
                                            ("experiment_id", "key")),
                            [(experiment_id, k, v) for k, v in
                             {t.key: t.value for t in tags}.items()])
        except self._dbapi_errors() as exc:
            raise self._translate(exc, name) from None
        return str(experiment_id)

    def _next_experiment_id(self, cur: Any) -> int:
        """A new experiment id from the counter, in the caller's transaction: the next value
        no experiment has (an import may have inserted ids of its own)."""
        m = self._sql.mark
        while True:
            cur.execute(f"UPDATE id_counters SET next_value = next_value + 1 WHERE name = {m}",
                        (_EXPERIMENT_COUNTER,))
            cur.execute(f"SELECT next_value - 1 FROM id_counters WHERE name = {m}",
                        (_EXPERIMENT_COUNTER,))
            candidate = int(cur.fetchone()[0])
            cur.execute(f"SELECT 1 FROM experiments WHERE experiment_id = {m}", (candidate,))
            if cur.fetchone() is None:
                return candidate

    def _move_counter_past(self, cur: Any, experiment_id: int) -> None:
        """Make the counter hand out ids above *experiment_id* (one inserted as it is)."""
        m = self._sql.mark
        cur.execute(f"UPDATE id_counters SET next_value = {m} WHERE name = {m} AND "
                    f"next_value <= {m}", (experiment_id + 1, _EXPERIMENT_COUNTER, experiment_id))

    def _dbapi_errors(self) -> tuple[type[BaseException], ...]:
        dbapi = self.engine.dialect.dbapi
        return (dbapi.Error,) if dbapi is not None else ()

    def _translate(self, exc: BaseException, name: str = "") -> TrackstoreError:
        """A driver's error as a TrackstoreError: a taken experiment *name*; a lost connection
        or an unreachable or busy database (:meth:`_lost`) is ``TEMPORARILY_UNAVAILABLE``, as
        in MLflow, so that clients retry; anything else is an ``INTERNAL_ERROR``."""
        dbapi = self.engine.dialect.dbapi
        if dbapi is not None and isinstance(exc, dbapi.IntegrityError) and name:
            return self._name_taken(name) or TrackstoreError(
                f"Experiment '{name}' already exists.", RESOURCE_ALREADY_EXISTS)
        if self._lost(exc):
            return _unavailable(exc)
        return TrackstoreError(f"Database error: {exc}", INTERNAL_ERROR)

    def _search_experiments(self, view_type: int, max_results: int, filter_string: str | None,
                            order_by: list[str], page_token: str | None
                            ) -> PagedList[Experiment]:
        from .search import experiment_search_statement

        validate_experiment_max_results(max_results)
        experiment_filter = parse_experiment_filter(filter_string)
        ordering = parse_experiment_order_by(order_by)
        offset = parse_page_token(page_token)
        stmt = experiment_search_statement(experiment_filter, ordering, view_type,
                                           self._dialect)
        with self._read() as conn:
            ids = [r[0] for r in conn.execute(stmt.limit(max_results + 1).offset(offset))]
            more = len(ids) > max_results
            ids = ids[:max_results]
            found = {int(e.experiment_id): e for e in self._experiments(
                conn, s.experiments.c.experiment_id.in_(ids))} if ids else {}
        token = create_page_token(offset + max_results) if more else None
        return PagedList([found[i] for i in ids if i in found], token)

    def _experiment_row(self, conn: Connection, experiment_id: str) -> Any:
        key = self._experiment_key(experiment_id)
        row = None if key is None else conn.execute(
            sa.select(s.experiments).where(s.experiments.c.experiment_id == key)).first()
        if row is None:
            raise TrackstoreError(f"Could not find experiment with ID {experiment_id}",
                                  RESOURCE_DOES_NOT_EXIST)
        return row

    def _rename_experiment(self, experiment_id: str, new_name: str) -> None:
        with self._read() as conn:
            row = self._experiment_row(conn, experiment_id)
        if row.lifecycle_stage != _ACTIVE:
            raise TrackstoreError(
                "Cannot rename experiment in non-active lifecycle stage. Current stage: "
                f"{row.lifecycle_stage}", INVALID_PARAMETER_VALUE)
        if row.name == new_name:
            return
        taken = self._name_taken(new_name)
        if taken is not None:
            raise taken
        try:
            with self._write() as cur:
                cur.execute(f"UPDATE experiments SET name = {self._sql.mark}, last_update_time "
                            f"= {self._sql.mark} WHERE experiment_id = {self._sql.mark}",
                            (new_name, now_ms(), row.experiment_id))
        except self._dbapi_errors() as exc:
            raise self._translate(exc, new_name) from None

    def delete_experiment(self, experiment_id: str) -> None:
        with self._read() as conn:
            row = self._experiment_row(conn, experiment_id)
        if row.experiment_id == 0:
            raise TrackstoreError(
                "Cannot delete the default experiment '0'. This is an internally reserved "
                "experiment.", INVALID_PARAMETER_VALUE)
        if row.lifecycle_stage != _ACTIVE:
            raise TrackstoreError(f"Could not find experiment with ID {experiment_id}",
                                  RESOURCE_DOES_NOT_EXIST)
        now, m = now_ms(), self._sql.mark
        with self._write() as cur:
            cur.execute(f"UPDATE runs SET lifecycle_stage = {m}, deleted_time = {m} "
                        f"WHERE experiment_id = {m} AND lifecycle_stage = {m}",
                        (_DELETED, now, row.experiment_id, _ACTIVE))
            cur.execute(f"UPDATE experiments SET lifecycle_stage = {m}, last_update_time = {m} "
                        f"WHERE experiment_id = {m}", (_DELETED, now, row.experiment_id))

    def restore_experiment(self, experiment_id: str) -> None:
        with self._read() as conn:
            row = self._experiment_row(conn, experiment_id)
        if row.lifecycle_stage != _DELETED:
            raise TrackstoreError(f"Could not find deleted experiment with ID {experiment_id}",
                                  RESOURCE_DOES_NOT_EXIST)
        m = self._sql.mark
        with self._write() as cur:
            cur.execute(f"UPDATE runs SET lifecycle_stage = {m}, deleted_time = NULL "
                        f"WHERE experiment_id = {m} AND lifecycle_stage = {m}",
                        (_ACTIVE, row.experiment_id, _DELETED))
            cur.execute(f"UPDATE experiments SET lifecycle_stage = {m}, last_update_time = {m} "
                        f"WHERE experiment_id = {m}", (_ACTIVE, now_ms(), row.experiment_id))

    def _active_experiment(self, experiment_id: str, action: str) -> int:
        with self._read() as conn:
            row = self._experiment_row(conn, experiment_id)
        if row.lifecycle_stage != _ACTIVE:
            raise TrackstoreError(
                f"The experiment {row.experiment_id} must be in the 'active' lifecycle_stage "
                f"to {action}", INVALID_PARAMETER_VALUE)
        return int(row.experiment_id)

    def _set_experiment_tag(self, experiment_id: str, tag: ExperimentTag) -> None:
        key = self._active_experiment(experiment_id, "set tags")
        with self._write() as cur:
            cur.execute(self._sql.upsert("experiment_tags", ("experiment_id", "key", "value"),
                                         ("experiment_id", "key")), (key, tag.key, tag.value))

    def _delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        exp = self._active_experiment(experiment_id, "delete tags")
        m = self._sql.mark
        with self._write() as cur:
            cur.execute(f"DELETE FROM experiment_tags WHERE experiment_id = {m} AND "
                        f"{self._sql.q('key')} = {m}", (exp, key))
            if cur.rowcount == 0:
                raise TrackstoreError(
                    f"No tag with name: {key} in experiment with id {experiment_id}",
                    RESOURCE_DOES_NOT_EXIST)

    # -- runs ---------------------------------------------------------------------------------

    def _create_run(self, experiment_id: str | None, user_id: str | None,
                    start_time: int | None, tags: list[RunTag], run_name: str | None) -> Run:
        experiment_id = "0" if experiment_id is None else experiment_id
        key = self._experiment_key(experiment_id)
        with self._read() as conn:
            row = None if key is None else conn.execute(
                sa.select(s.experiments).where(s.experiments.c.experiment_id == key)).first()
        if row is None:
            raise TrackstoreError(
                f"Could not create run under experiment with ID {experiment_id} - no such "
                "experiment exists.", RESOURCE_DOES_NOT_EXIST)
        if row.lifecycle_stage != _ACTIVE:
            raise TrackstoreError(
                f"Could not create run under non-active experiment with ID {experiment_id}.",
                INVALID_PARAMETER_VALUE)
        name_tag = next((t.value for t in reversed(tags) if t.key == RUN_NAME_TAG), None)
        run_name = run_name or name_tag or random_run_name()
        tag_values = {t.key: t.value for t in tags}
        tag_values.setdefault(RUN_NAME_TAG, run_name)
        run_id = uuid.uuid4().hex
        info = RunInfo(
            run_id=run_id, experiment_id=str(row.experiment_id), user_id=user_id or "unknown",
            status="RUNNING", start_time=now_ms() if start_time is None else start_time,
            end_time=None, lifecycle_stage=_ACTIVE,
            artifact_uri=append_to_uri(row.artifact_location or self.artifact_root_uri,
                                       run_id, "artifacts"),
            run_name=run_name)
        sql = self._sql
        with self._write() as cur:
            cur.execute(sql.insert("runs", ("run_uuid", "experiment_id", "user_id", "status",
                                            "start_time", "lifecycle_stage", "artifact_uri")),
                        (run_id, row.experiment_id, info.user_id, info.status, info.start_time,
                         _ACTIVE, info.artifact_uri))
            run_key = self._run_in(cur, run_id)[0]
            executemany(cur, sql.insert("run_tags", ("run_key", "key", "value")),
                        [(run_key, k, v) for k, v in tag_values.items()])
        self._run_keys[run_id] = run_key
        return Run(info, RunData([], [], [RunTag(k, v) for k, v in tag_values.items()]))

    def _run_in(self, cur: Any, run_id: str) -> tuple[int, str]:
        """``(run_key, lifecycle_stage)`` of *run_id*, read in the caller's transaction."""
        cur.execute(f"SELECT run_key, lifecycle_stage FROM runs WHERE run_uuid = "
                    f"{self._sql.mark}", (run_id,))
        found = cur.fetchone()
        if found is None:
            raise TrackstoreError(f"Run '{run_id}' not found", RESOURCE_DOES_NOT_EXIST)
        return int(found[0]), str(found[1])

    def _run_row(self, conn: Connection, run_id: str) -> Any:
        row = conn.execute(sa.select(s.runs).where(s.runs.c.run_uuid == run_id)).first()
        if row is None:
            raise TrackstoreError(f"Run '{run_id}' not found", RESOURCE_DOES_NOT_EXIST)
        return row

    def get_run(self, run_id: str) -> Run:
        run_id = checked_run_id(run_id)
        with self._read() as conn:
            row = self._run_row(conn, run_id)
            return self._load_runs(conn, [row])[0]

    def _load_runs(self, conn: Connection, rows: Sequence[Any]) -> list[Run]:
        """Whole runs (params, tags, latest metrics, inputs) for *rows* of ``runs``."""
        keys = [r.run_key for r in rows]
        params: dict[int, list[Param]] = defaultdict(list)
        tags: dict[int, list[RunTag]] = defaultdict(list)
        metrics: dict[int, list[Metric]] = defaultdict(list)
        inputs: dict[int, RunInputs] = {}
        p, t, lm, mk, md = (s.run_params, s.run_tags, s.latest_metrics, s.metric_keys,
                            s.metric_datasets)
        decode = _sqlbatch.decode_value
        for chunk in _chunks(keys):
            for r in conn.execute(sa.select(p.c.run_key, p.c.key, p.c.value)
                                  .where(p.c.run_key.in_(chunk))):
                params[r.run_key].append(Param(r.key, r.value))
            for r in conn.execute(sa.select(t.c.run_key, t.c.key, t.c.value)
                                  .where(t.c.run_key.in_(chunk))):
                tags[r.run_key].append(RunTag(r.key, r.value))
            stmt = (sa.select(lm.c.run_key, mk.c.key, lm.c.step, lm.c.timestamp, lm.c.value,
                              lm.c.kind, md.c.name, md.c.digest)
                    .join(mk, mk.c.key_id == lm.c.key_id)
                    .outerjoin(md, md.c.dataset_id == lm.c.dataset_id)
                    .where(lm.c.run_key.in_(chunk)))
            for m in conn.execute(stmt):
                metrics[m.run_key].append(Metric(m.key, decode(m.value, m.kind), m.timestamp,
                                                 m.step, None, m.name, m.digest))
            inputs.update(self._inputs(conn, chunk))
        runs = []
        for row in rows:
            run_tags = tags.get(row.run_key, [])
            run_name = next((t.value for t in run_tags if t.key == RUN_NAME_TAG), None)
            info = RunInfo(run_id=row.run_uuid, experiment_id=str(row.experiment_id),
                           user_id=row.user_id, status=row.status, start_time=row.start_time,
                           end_time=row.end_time, lifecycle_stage=row.lifecycle_stage,
                           artifact_uri=row.artifact_uri, run_name=run_name)
            runs.append(Run(info, RunData(metrics.get(row.run_key, []),
                                          params.get(row.run_key, []), run_tags),
                            inputs.get(row.run_key, RunInputs())))
        return runs

    def _inputs(self, conn: Connection, run_keys: Sequence[int]) -> dict[int, RunInputs]:
        ri, d, it, rm = s.run_inputs, s.datasets, s.run_input_tags, s.run_model_inputs
        out: dict[int, RunInputs] = defaultdict(RunInputs)
        input_tags: dict[tuple[int, int], list[InputTag]] = defaultdict(list)
        for r in conn.execute(sa.select(it).where(it.c.run_key.in_(run_keys))
                              .order_by(it.c.run_key, it.c.dataset_key, it.c.key)):
            input_tags[(r.run_key, r.dataset_key)].append(InputTag(r.key, r.value))
        stmt = (sa.select(ri.c.run_key, ri.c.dataset_key, d.c.name, d.c.digest, d.c.source_type,
                          d.c.source, d.c.schema, d.c.profile)
                .join(d, d.c.dataset_key == ri.c.dataset_key)
                .where(ri.c.run_key.in_(run_keys)).order_by(ri.c.run_key, ri.c.position))
        for r in conn.execute(stmt):
            dataset = Dataset(r.name, r.digest, r.source_type, r.source, r.schema, r.profile)
            out[r.run_key].dataset_inputs.append(
                DatasetInput(dataset, input_tags.get((r.run_key, r.dataset_key), [])))
        for r in conn.execute(sa.select(rm.c.run_key, rm.c.model_id)
                              .where(rm.c.run_key.in_(run_keys))
                              .order_by(rm.c.run_key, rm.c.position)):
            out[r.run_key].model_inputs.append(LoggedModelInput(r.model_id))
        return out

    def _active_run_key(self, cur: Any, run_id: str) -> int:
        """The key of *run_id*, checked inside the write transaction to be active."""
        run_key, stage = self._run_in(cur, run_id)
        if stage != _ACTIVE:
            raise TrackstoreError(f"The run {run_id} must be in 'active' lifecycle_stage.",
                                  INVALID_PARAMETER_VALUE)
        return run_key

    def _update_run_info(self, run_id: str, status: int | None, end_time: int | None,
                         run_name: str | None) -> RunInfo:
        m = self._sql.mark
        with self._write() as cur:
            run_key = self._active_run_key(cur, run_id)
            sets: list[str] = []
            args: list[Any] = []
            if status:
                sets.append(f"status = {m}")
                args.append(RunStatus.to_string(status))
            if end_time:
                sets.append(f"end_time = {m}")
                args.append(end_time)
            if sets:
                cur.execute(f"UPDATE runs SET {', '.join(sets)} WHERE run_key = {m}",
                            (*args, run_key))
            if run_name:
                cur.execute(self._sql.upsert("run_tags", ("run_key", "key", "value"),
                                             ("run_key", "key")),
                            (run_key, RUN_NAME_TAG, run_name))
            q, m = self._sql.q, self._sql.mark
            cur.execute(f"SELECT r.experiment_id, r.user_id, r.status, r.start_time, r.end_time, "
                        f"r.lifecycle_stage, r.artifact_uri, t.{q('value')} FROM runs r "
                        f"LEFT JOIN run_tags t ON t.run_key = r.run_key AND t.{q('key')} = {m} "
                        f"WHERE r.run_key = {m}", (RUN_NAME_TAG, run_key))
            row = cur.fetchone()
        return RunInfo(run_id=run_id, experiment_id=str(row[0]), user_id=row[1], status=row[2],
                       start_time=row[3], end_time=row[4], lifecycle_stage=row[5],
                       artifact_uri=row[6], run_name=row[7])

    def _set_run_stage(self, run_id: str, stage: str) -> None:
        run_id = checked_run_id(run_id)
        m = self._sql.mark
        with self._write() as cur:
            self._run_in(cur, run_id)
            cur.execute(f"UPDATE runs SET lifecycle_stage = {m}, deleted_time = {m} "
                        f"WHERE run_uuid = {m}",
                        (stage, now_ms() if stage == _DELETED else None, run_id))

    def delete_run(self, run_id: str) -> None:
        self._set_run_stage(run_id, _DELETED)

    def restore_run(self, run_id: str) -> None:
        self._set_run_stage(run_id, _ACTIVE)

    def _search_runs(self, experiment_ids: list[str], filter_string: str, run_view_type: int,
                     max_results: int, order_by: list[str], page_token: str | None
                     ) -> PagedList[Run]:
        from .search import run_search_statement

        validate_run_max_results(max_results)
        run_filter = parse_run_filter(filter_string)
        ordering = parse_run_order_by(order_by)
        offset = parse_page_token(page_token)
        keys = []
        for experiment_id in dict.fromkeys(experiment_ids):
            key = self._experiment_key(experiment_id)
            if key is not None:
                keys.append(key)
        if not keys:
            return PagedList([], None)
        stmt = run_search_statement(keys, run_filter, ordering, run_view_type, self._dialect)
        with self._read() as conn:
            page = [r[0] for r in conn.execute(stmt.limit(max_results + 1).offset(offset))]
            more = len(page) > max_results
            page = page[:max_results]
            rows: dict[int, Any] = {}
            for chunk in _chunks(page):
                rows.update((r.run_key, r) for r in conn.execute(
                    sa.select(s.runs).where(s.runs.c.run_key.in_(chunk))))
            runs = self._load_runs(conn, [rows[k] for k in page if k in rows])
        token = create_page_token(offset + max_results) if more else None
        return PagedList(runs, token)

    # -- logging ------------------------------------------------------------------------------

    def _ids(self, cache: dict[Any, int], wanted: Sequence[Any], table: str,
             columns: tuple[str, ...], id_column: str) -> None:
        """Make sure every item of *wanted* (a key, or a (name, digest) pair) has an id.

        Registration is its own transaction, in sorted order (see the module doc).
        """
        missing = sorted({w for w in wanted if w not in cache})
        if not missing:
            return
        rows = [w if isinstance(w, tuple) else (w,) for w in missing]
        with self._write() as cur:
            executemany(cur, self._sql.insert_absent(table, columns, columns), rows)
        tbl = s.metadata.tables[table]
        with self._read() as conn:
            for chunk in _chunks(rows):
                where: sa.ColumnElement[bool]
                if len(columns) == 1:
                    where = tbl.c[columns[0]].in_([r[0] for r in chunk])
                else:  # (no tuple IN: SQL Server lacks it)
                    where = sa.or_(*(sa.and_(*(tbl.c[c] == v for c, v in zip(columns, r,
                                                                               strict=True)))
                                     for r in chunk))
                for r in conn.execute(sa.select(tbl.c[id_column], *(tbl.c[c] for c in columns))
                                      .where(where)):
                    item = r[1] if len(columns) == 1 else tuple(r[1:])
                    cache[item] = int(r[0])

    def _prepare_metrics(self, metrics: list[Metric]) -> None:
        self._ids(self._key_ids, [m.key for m in metrics], "metric_keys", ("key",), "key_id")
        pairs = [(m.dataset_name, m.dataset_digest) for m in metrics
                 if m.dataset_name is not None and m.dataset_digest is not None]
        if pairs:
            self._ids(self._dataset_ids, pairs, "metric_datasets", ("name", "digest"),
                      "dataset_id")

    def _run_key(self, run_id: str) -> int:
        """The surrogate key of *run_id* (immutable, so cached; None-safe for gone runs)."""
        run_key = self._run_keys.get(run_id)
        if run_key is None:
            with self._read() as conn:
                found = conn.execute(sa.select(s.runs.c.run_key)
                                     .where(s.runs.c.run_uuid == run_id)).scalar()
            if found is None:
                raise TrackstoreError(f"Run '{run_id}' not found", RESOURCE_DOES_NOT_EXIST)
            run_key = self._run_keys[run_id] = int(found)
        return run_key

    def _log_metric(self, run_id: str, metric: Metric) -> None:
        """The training-loop path: one guarded insert and the latest-value upsert."""
        if metric.key not in self._key_ids or (
                metric.dataset_name is not None
                and (metric.dataset_name, metric.dataset_digest) not in self._dataset_ids):
            self._prepare_metrics([metric])
        run_key = self._run_key(run_id)
        row = _sqlbatch.metric_rows(run_key, (metric,), self._key_ids, self._dataset_ids)[0]
        sql = self._sql
        try:
            if self._dialect == "postgresql":
                with self._point_connections().connection() as driver:
                    cur: Any = driver.cursor()
                    cur.execute(sql.prepare_log_point()[1], (run_key, *row[1:]))
                    stored = int(cur.fetchone()[0])
                    cur.close()
            else:
                # SQLite: a point without a dataset does not bind its None (see log_point).
                dataset = self._dialect != "sqlite" or row[6] is not None
                with self._write() as cur:
                    cur.execute(sql.log_point(dataset), sql.log_point_args(run_key, row, dataset))
                    if not cur.rowcount:  # a duplicate point, or a gone or deleted run
                        self._active_run_key(cur, run_id)  # raises for the latter
                    cur.execute(sql.upsert_latest(dataset), row if dataset else row[:6])
                stored = 1
        except self._dbapi_errors() as exc:
            raise self._translate(exc) from None
        if not stored:  # PostgreSQL: the run was not active (or the cached key is stale)
            self._run_keys.pop(run_id, None)
            self._log_batch(run_id, [metric], [], [])  # raises the reason, or logs the point

    def _point_connections(self) -> DedicatedConnections:
        """PostgreSQL: the connections of the single-point write (autocommit, the statement
        prepared on each)."""
        points = self._points
        if points is None:
            prepare = self._sql.prepare_log_point()[0]

            def setup(conn: Any) -> None:
                conn.autocommit = True  # one statement, its own transaction
                cur = conn.cursor()
                cur.execute(prepare)
                cur.close()

            # As many idle ones as the pool keeps: its size (0 is no limit), none for a
            # NullPool (whoever chose it wants no connection left open between calls).
            pool = self.engine.pool
            keep = ((pool.size() or sys.maxsize) if isinstance(pool, QueuePool)
                    else 0 if isinstance(pool, NullPool) else 5)
            with self._lock:
                if self._points is None:
                    self._points = DedicatedConnections(self.engine, setup, keep)
                points = self._points
        return points

    def _log_batch(self, run_id: str, metrics: list[Metric], params: list[Param],
                   tags: list[RunTag]) -> None:
        sql = self._sql
        planned_key, plan = None, None
        if metrics:
            self._prepare_metrics(metrics)
            # The rows and statements are made before the write transaction (the run key is
            # immutable): on SQLite the writers of every process take turns, and the less
            # each holds the lock, the more they write together.
            planned_key = self._run_key(run_id)
            plan = self._metric_plan(planned_key, metrics)
        try:
            with self._write() as cur:
                run_key = self._active_run_key(cur, run_id)
                if params:
                    self._log_params(cur, run_id, run_key, params)
                if tags:
                    executemany(cur, sql.upsert("run_tags", ("run_key", "key", "value"),
                                                ("run_key", "key")),
                                [(run_key, k, v) for k, v in
                                 sorted({t.key: t.value for t in tags}.items())])
                if metrics:
                    if run_key != planned_key:  # the run id was deleted and made again
                        self._run_keys[run_id] = run_key
                        plan = self._metric_plan(run_key, metrics)
                    assert plan is not None
                    self._write_metric_plan(cur, plan)
        except TrackstoreError:
            raise
        except self._dbapi_errors() as exc:
            raise self._translate(exc) from None

    def _log_params(self, cur: Any, run_id: str, run_key: int, params: list[Param]) -> None:
        sql = self._sql
        executemany(cur, sql.insert_absent("run_params", ("run_key", "key", "value"),
                                           ("run_key", "key")),
                    sorted((run_key, p.key, p.value) for p in params))
        stored = {}
        for chunk in _chunks([p.key for p in params]):
            cur.execute(f"SELECT {sql.q('key')}, {sql.q('value')} FROM run_params WHERE "
                        f"run_key = {sql.mark} AND {sql.q('key')} IN "
                        f"({', '.join([sql.mark] * len(chunk))})", (run_key, *chunk))
            stored.update(cur.fetchall())
        conflict = next((p for p in params if stored.get(p.key) != p.value), None)
        if conflict is not None:
            raise TrackstoreError(
                f"Changing param values is not allowed. Param with key='{conflict.key}' was "
                f"already logged with value='{stored.get(conflict.key)}' for run "
                f"ID='{run_id}'. Attempted logging new value '{conflict.value}'.",
                INVALID_PARAMETER_VALUE)

    def _metric_plan(self, run_key: int, metrics: list[Metric]) -> list[tuple[str, Any, Any]]:
        """The writes that store *metrics* in run *run_key*: ``(how, statement, data)`` steps
        for :meth:`_write_metric_plan` (``how``: execute, executemany or copy)."""
        return self._rows_plan(_sqlbatch.metric_rows(run_key, metrics, self._key_ids,
                                                     self._dataset_ids))

    def _rows_plan(self, rows: list[Any]) -> list[tuple[str, Any, Any]]:
        """:meth:`_metric_plan` for metric rows of one run made already."""
        sql = self._sql
        plan: list[tuple[str, Any, Any]]
        if self._dialect == "mysql":
            plan = [("execute", f"INSERT INTO metrics ({sql._cols(METRIC_COLUMNS)}) VALUES "
                                f"{_sqlbatch.values_sql(rows)} ON DUPLICATE KEY UPDATE "
                                "run_key = run_key", None)]
        elif self._dialect == "postgresql" and len(rows) > 1:
            plan = [("copy", "", _sqlbatch.copy_binary(rows))]
        elif self._dialect == "sqlite":
            plan = [("execute", statement, params)
                    for statement, params in sql.metric_row_inserts(rows)]
        else:
            plan = [("executemany", sql.insert_metrics(), rows)]
        latest = _sqlbatch.latest_rows(rows)
        if self._dialect in ("postgresql", "mysql") and len(latest) > 1:
            # One statement for every key, not a round trip per key (numbers only in the text).
            plan.append(("execute", sql.upsert_latest_values(_sqlbatch.values_sql(latest)),
                         None))
        else:
            plan.append(("executemany", sql.upsert_latest(), latest))
        return plan

    def _write_metric_plan(self, cur: Any, plan: list[tuple[str, Any, Any]]) -> None:
        for how, statement, data in plan:
            if how == "copy":
                self._copy_metrics(cur, data)
            elif how == "executemany":
                executemany(cur, statement, data)
            elif data is None:
                cur.execute(statement)
            else:
                cur.execute(statement, data)

    def _copy_metrics(self, cur: Any, data: bytes) -> None:
        """PostgreSQL: ``COPY`` the rows (binary format) straight into ``metrics``, under a
        savepoint.

        A batch is new points but for a retry, so the fast path is the plain ``COPY``, with
        no conflict handling. If it meets a stored point (unique violation), the savepoint
        is rolled back and the rows are copied into a per-connection staging table and
        inserted from there with ``ON CONFLICT DO NOTHING``: the same result, about twice
        the cost. The savepoint rides in the ``COPY``'s own round trip.
        """
        cols = self._sql._cols(METRIC_COLUMNS)
        try:
            cur.copy_expert(f"SAVEPOINT {_SAVEPOINT}; COPY metrics ({cols}) FROM STDIN "
                            "(FORMAT binary)", io.BytesIO(data))
            return
        except self._dbapi_errors() as exc:
            if getattr(exc, "pgcode", None) != _UNIQUE_VIOLATION:
                raise
        cur.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        if cur.connection not in _staged:
            cur.execute(_STAGE_DDL)
            _staged[cur.connection] = True  # (a rollback forgets it, see _write)
        cur.copy_expert(f"COPY {_STAGE} ({cols}) FROM STDIN (FORMAT binary)", io.BytesIO(data))
        cur.execute(f"INSERT INTO metrics SELECT * FROM {_STAGE} ON CONFLICT DO NOTHING")
        # Emptied by the commit (ON COMMIT DELETE ROWS), and now for the next COPY of a
        # transaction that writes several batches (an import).
        cur.execute(f"DELETE FROM {_STAGE}")

    def _delete_tag(self, run_id: str, key: str) -> None:
        m = self._sql.mark
        with self._write() as cur:
            run_key = self._active_run_key(cur, run_id)
            cur.execute(f"DELETE FROM run_tags WHERE run_key = {m} AND {self._sql.q('key')} = "
                        f"{m}", (run_key, key))
            if cur.rowcount == 0:
                raise TrackstoreError(f"No tag with name: {key} in run with id {run_id}",
                                      RESOURCE_DOES_NOT_EXIST)

    def _log_inputs(self, run_id: str, datasets: list[DatasetInput],
                    models: list[LoggedModelInput]) -> None:
        with self._write() as cur:
            run_key = self._active_run_key(cur, run_id)
            cur.execute(f"SELECT experiment_id FROM runs WHERE run_key = {self._sql.mark}",
                        (run_key,))
            self._write_inputs(cur, run_key, cur.fetchone()[0], datasets, models)

    def _write_inputs(self, cur: Any, run_key: int, experiment_id: int,
                      datasets: Sequence[DatasetInput], models: Sequence[LoggedModelInput]
                      ) -> None:
        """Add dataset and model inputs to a run (in the caller's transaction); a dataset the
        run has already keeps its first logging's tags."""
        sql, m = self._sql, self._sql.mark
        cur.execute(f"SELECT COALESCE(MAX(position), -1) FROM run_inputs WHERE run_key = {m}",
                    (run_key,))
        position = int(cur.fetchone()[0]) + 1
        for dataset_input in datasets:
            d = dataset_input.dataset
            cur.execute(sql.insert_absent(
                "datasets", ("experiment_id", "name", "digest", "source_type", "source",
                             "schema", "profile"), ("experiment_id", "name", "digest")),
                (experiment_id, d.name, d.digest, d.source_type, d.source, d.schema, d.profile))
            cur.execute(f"SELECT dataset_key FROM datasets WHERE experiment_id = {m} AND "
                        f"name = {m} AND digest = {m}", (experiment_id, d.name, d.digest))
            dataset_key = int(cur.fetchone()[0])
            cur.execute(f"SELECT 1 FROM run_inputs WHERE run_key = {m} AND dataset_key = {m}",
                        (run_key, dataset_key))
            if cur.fetchone() is not None:
                continue  # logged before: the first logging's tags stay
            cur.execute(sql.insert("run_inputs", ("run_key", "dataset_key", "position")),
                        (run_key, dataset_key, position))
            position += 1
            executemany(cur, sql.insert("run_input_tags", ("run_key", "dataset_key", "key",
                                                            "value")),
                        [(run_key, dataset_key, k, v) for k, v in
                         {t.key: t.value for t in dataset_input.tags or ()}.items()])
        for model in models:
            cur.execute(sql.insert_absent("run_model_inputs", ("run_key", "model_id", "position"),
                                          ("run_key", "model_id")),
                        (run_key, model.model_id, position))
            position += 1

    # -- metric history -----------------------------------------------------------------------

    def _history_keys(self, run_id: str, metric_key: str) -> tuple[int, int] | None:
        """``(run_key, key_id)`` of a metric's history; None when nothing has that key."""
        with self._read() as conn:
            run_key = conn.execute(sa.select(s.runs.c.run_key)
                                   .where(s.runs.c.run_uuid == run_id)).scalar()
            if run_key is None:
                raise TrackstoreError(f"Run '{run_id}' not found", RESOURCE_DOES_NOT_EXIST)
            key_id = self._key_ids.get(metric_key)
            if key_id is None:
                key_id = conn.execute(sa.select(s.metric_keys.c.key_id)
                                      .where(s.metric_keys.c.key == metric_key)).scalar()
                if key_id is None:
                    return None
                self._key_ids[metric_key] = key_id
        return int(run_key), int(key_id)

    def _get_metric_history(self, run_id: str, metric_key: str, max_results: int | None,
                            page_token: str | None) -> PagedList[Metric]:
        found = self._history_keys(run_id, metric_key)
        if found is None:
            return PagedList([], None)
        run_key, key_id = found
        offset = parse_page_token(page_token)
        rows: Sequence[Any]
        if max_results is None and not offset:  # the whole history: plain driver tuples
            rows = self._raw_rows(self._history_sql(with_datasets=True), (run_key, key_id))
        else:  # a page: LIMIT and OFFSET spelled by the dialect
            m, md = s.metrics, s.metric_datasets
            stmt = (sa.select(m.c.step, m.c.timestamp, m.c.value, m.c.kind, md.c.name,
                              md.c.digest)
                    .outerjoin(md, md.c.dataset_id == m.c.dataset_id)
                    .where(m.c.run_key == run_key, m.c.key_id == key_id)
                    .order_by(m.c.step, m.c.timestamp, m.c.kind, m.c.value))
            if max_results is not None:
                stmt = stmt.limit(max_results + 1)
            if offset:
                stmt = stmt.offset(offset)
            with self._read() as conn:
                rows = conn.execute(stmt).all()
        token = None
        if max_results is not None and len(rows) > max_results:
            rows = rows[:max_results]
            token = create_page_token(offset + max_results)
        with _collector_paused():
            points = _sqlbatch.history_metrics(metric_key, rows)
            for point in points:
                point.run_id = run_id
        return PagedList(points, token)

    def _get_metric_history_columns(self, run_id: str, metric_key: str) -> MetricHistory:
        found = self._history_keys(run_id, metric_key)
        if found is None:
            return MetricHistory(metric_key, array.array("q"), array.array("d"),
                                 array.array("q"))
        run_key, key_id = found
        steps, timestamps, values = array.array("q"), array.array("q"), array.array("d")
        with _collector_paused():  # columns grow chunk by chunk: no list of every row
            for chunk in self._raw_chunks(self._history_sql(with_datasets=False),
                                          (run_key, key_id)):
                part = _sqlbatch.history_columns(chunk)
                steps.extend(part[0])
                timestamps.extend(part[1])
                values.extend(part[2])
        return MetricHistory(metric_key, timestamps, values, steps)

    def _history_sql(self, with_datasets: bool) -> str:
        """A metric's points in index order (DBAPI text: a million rows stay plain tuples)."""
        q, m = self._sql.q, self._sql.mark
        order = f"p.step, p.{q('timestamp')}, p.kind, p.{q('value')}"
        if not with_datasets:
            return (f"SELECT p.step, p.{q('timestamp')}, p.{q('value')}, p.kind FROM metrics p "
                    f"WHERE p.run_key = {m} AND p.key_id = {m} ORDER BY {order}")
        return (f"SELECT p.step, p.{q('timestamp')}, p.{q('value')}, p.kind, d.name, d.digest "
                f"FROM metrics p LEFT JOIN metric_datasets d ON d.dataset_id = p.dataset_id "
                f"WHERE p.run_key = {m} AND p.key_id = {m} ORDER BY {order}")

    def _raw_rows(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        with _collector_paused():
            return [row for chunk in self._raw_chunks(sql, args) for row in chunk]

    def _raw_chunks(self, sql: str, args: tuple[Any, ...]) -> Iterator[list[Any]]:
        """The rows of a read as plain driver tuples, a bounded chunk at a time."""
        raw = self.engine.raw_connection()
        try:
            cur: Any = raw.cursor()
            cur.execute(sql, args)
            while True:
                chunk: list[Any] = cur.fetchmany(_FETCH_CHUNK)
                if not chunk:
                    break
                yield chunk
            cur.close()
            if self._dialect != "sqlite":
                raw.rollback()  # end the read transaction the driver began
        finally:
            raw.close()

    # -- permanent deletion -------------------------------------------------------------------

    def deleted_time_of(self, run_id: str) -> int | None:
        """When *run_id* was deleted (None for an active run, or one deleted without a time)."""
        with self._read() as conn:
            return conn.execute(sa.select(s.runs.c.deleted_time)
                                .where(s.runs.c.run_uuid == run_id)).scalar()

    def gc_runs(self, run_ids: Sequence[str] | None = None,
                experiment_ids: Sequence[str] | None = None) -> list[GcRun]:
        r = s.runs
        columns = sa.select(r.c.run_uuid, r.c.experiment_id, r.c.lifecycle_stage,
                            r.c.deleted_time, r.c.artifact_uri)
        if run_ids is not None:
            statements = [columns.where(r.c.run_uuid.in_(list(chunk)))
                          for chunk in _chunks(list(dict.fromkeys(run_ids)))]
        elif experiment_ids is not None:
            keys = [self._experiment_key(e) for e in dict.fromkeys(experiment_ids)]
            statements = [columns.where(r.c.experiment_id.in_(list(chunk)))
                          for chunk in _chunks([k for k in keys if k is not None])]
        else:
            statements = [columns.where(r.c.lifecycle_stage == _DELETED)]
        found: list[GcRun] = []
        with self._read() as conn:
            for statement in statements:
                found.extend(GcRun(row[0], str(row[1]), row[2], row[3], row[4] or "")
                             for row in conn.execute(statement.order_by(r.c.run_key)))
        return found

    def _delete_run_rows(self, cur: Any, run_keys: Sequence[int]) -> None:
        m = self._sql.mark
        for chunk in _chunks(run_keys):
            marks = ", ".join([m] * len(chunk))
            # metrics and latest_metrics carry no foreign key (the hot tables); the rest cascade
            # but are deleted explicitly too, so nothing depends on ON DELETE support.
            for table in ("metrics", "latest_metrics", "run_input_tags", "run_inputs",
                          "run_model_inputs", "run_params", "run_tags", "runs"):
                cur.execute(f"DELETE FROM {table} WHERE run_key IN ({marks})", tuple(chunk))

    def _forget_import_state(self, cur: Any, run_ids: Sequence[str]) -> None:
        """Drop what ``trackstore import`` remembers of these runs (a later import of the same
        source brings a collected run back, as it would bring any run it has not seen)."""
        m = self._sql.mark
        for chunk in _chunks(run_ids):
            marks = ", ".join([m] * len(chunk))
            for table in ("import_offsets", "import_runs"):
                cur.execute(f"DELETE FROM {table} WHERE run_uuid IN ({marks})", tuple(chunk))

    def hard_delete_runs(self, run_ids: Sequence[str]) -> int:
        ids = [checked_run_id(run_id) for run_id in dict.fromkeys(run_ids)]
        removed = 0
        m = self._sql.mark
        for chunk in _chunks(ids):
            with self._write() as cur:
                cur.execute(f"SELECT run_key, run_uuid, lifecycle_stage FROM runs WHERE "
                            f"run_uuid IN ({', '.join([m] * len(chunk))})", tuple(chunk))
                rows = cur.fetchall()
                for _key, run_id, stage in rows:
                    if stage != _DELETED:
                        raise not_deleted(run_id)
                self._delete_run_rows(cur, [int(row[0]) for row in rows])
                self._forget_import_state(cur, [row[1] for row in rows])
            for row in rows:
                self._run_keys.pop(row[1], None)
            removed += len(rows)
        return removed

    def hard_delete_experiment(self, experiment_id: str) -> None:
        with self._read() as conn:
            row = self._experiment_row(conn, experiment_id)
        if row.lifecycle_stage != _DELETED:
            raise TrackstoreError(
                f"Experiment {experiment_id} is not deleted; only deleted experiments can be "
                "removed permanently", INVALID_PARAMETER_VALUE)
        m = self._sql.mark
        with self._write() as cur:
            cur.execute(f"SELECT run_key, run_uuid FROM runs WHERE experiment_id = {m}",
                        (row.experiment_id,))
            runs = cur.fetchall()
            self._delete_run_rows(cur, [int(r[0]) for r in runs])
            self._forget_import_state(cur, [r[1] for r in runs])
            cur.execute(f"DELETE FROM import_experiments WHERE experiment_id = {m}",
                        (row.experiment_id,))
            for table in ("experiment_tags", "datasets", "experiments"):
                cur.execute(f"DELETE FROM {table} WHERE experiment_id = {m}",
                            (row.experiment_id,))

    def reclaim_space(self) -> str:
        """Give the space of removed rows back, as the database allows; what was done.

        SQLite: ``VACUUM`` rewrites the file without its free pages (it needs as much free
        disk as the database, and holds the write lock while it runs), then the WAL is
        truncated. PostgreSQL: ``VACUUM (ANALYZE)`` of the store's tables makes the space of
        removed rows reusable (autovacuum would, later) without locking out readers or
        writers; giving it back to the operating system takes ``VACUUM FULL`` or pg_repack,
        which lock or rewrite tables and are left to the operator (docs/lifecycle.md).
        MySQL/MariaDB: ``OPTIMIZE TABLE`` rebuilds each table (InnoDB: online). SQL Server
        reuses freed pages by itself; shrinking files is an operator's decision.
        """
        tables = [table.name for table in s.metadata.sorted_tables]
        if self._dialect == "mssql":
            return ("SQL Server: freed pages are reused by new rows; DBCC SHRINKDATABASE "
                    "returns them to the operating system (an operator's decision)")
        raw = self.engine.raw_connection()
        try:
            dbapi: Any = raw.dbapi_connection
            if self._dialect == "sqlite":
                database = os.path.abspath(self.engine.url.database or "")
                before = _files_size(database)
                level = dbapi.isolation_level
                dbapi.isolation_level = None  # VACUUM cannot run inside a transaction
                try:
                    cursor = dbapi.cursor()
                    cursor.execute("VACUUM")
                    cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    cursor.close()
                finally:
                    dbapi.isolation_level = level
                return (f"SQLite: VACUUM: {before:,} -> {_files_size(database):,} bytes "
                        "(database and WAL)")
            if self._dialect == "postgresql":
                dbapi.autocommit = True  # VACUUM cannot run inside a transaction
                try:
                    cursor = dbapi.cursor()
                    cursor.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")
                    cursor.close()
                finally:
                    dbapi.autocommit = False
                return ("PostgreSQL: VACUUM (ANALYZE) of the store's tables: the space of "
                        "removed rows is reusable; VACUUM FULL or pg_repack would return it to "
                        "the operating system (see docs/lifecycle.md)")
            cursor = dbapi.cursor()
            cursor.execute(f"OPTIMIZE TABLE {', '.join(tables)}")
            cursor.fetchall()
            cursor.close()
            dbapi.commit()
            return "MySQL/MariaDB: OPTIMIZE TABLE rebuilt the store's tables"
        finally:
            raw.close()

    def _release(self) -> None:
        """Close the SQLite writer connections of every thread, and PostgreSQL's idle
        single-point ones (the engine, shared by every store of this URI, stays): a SQLite
        database's ``-wal`` file goes with the last one.

        Call it when no thread is writing through this store; a later write opens a new
        writer.
        """
        with self._lock:
            writers, self._writers = self._writers, []
            self._generation += 1
        for pid, dbapi in writers:
            if pid == os.getpid():  # never a parent's, inherited through fork
                dbapi.close()
        if self._points is not None:
            self._points.close()


def _files_size(database: str) -> int:
    """Bytes of a SQLite database and its WAL."""
    total = 0
    for path in (database, database + "-wal"):
        try:
            total += os.path.getsize(path)
        except OSError:
            pass
    return total


def _unavailable(exc: BaseException) -> TrackstoreError:
    """``TEMPORARILY_UNAVAILABLE`` with the driver's message (not SQLAlchemy's wrapping)."""
    orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    text = " ".join(str(orig).split()) or type(orig).__name__
    return TrackstoreError(f"Database unavailable: {text}", TEMPORARILY_UNAVAILABLE)
