"""``trackstore import`` into a SQL store: experiments, runs and points written in bulk, with
the import state (``import_*`` tables, see :mod:`.schema`) in the same transactions.

Writes are gathered into transactions of about ``batch_points`` metric points (several small
runs share one; a long history is split), each committed with the state it makes true: the
offset a metric file was read to is stored with the points read, and a run's fingerprint with
the last of its writes. An import killed at any moment therefore resumes where its last
commit left it, and nothing is stored twice (a point stored again would be dropped by the
``metrics`` unique key anyway).

The model registry comes last, one transaction per registered model, written by
:mod:`.registry_import` (which explains the rule that makes a second import incremental).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ... import _sqlbatch
from ...entities import LifecycleStage, LoggedModelInput, now_ms
from ...exceptions import RESOURCE_DOES_NOT_EXIST, TrackstoreError
from ...transfer.records import (
    ExperimentRecord,
    PointChunk,
    Problem,
    RegisteredModelRecord,
    RunRecord,
)
from ..base import RUN_NAME_TAG
from .statements import METRIC_COLUMNS, executemany

if TYPE_CHECKING:
    from .registry_import import RegistryRows, StoredModel
    from .store import SqlStore

#: Imported experiment ids below this move the id counter past them (sequential ids, as an
#: MLflow SQL database hands out); larger ones (a file store's random 18-digit ids) leave it.
_SEQUENTIAL_IDS = 10 ** 12
#: MySQL/MariaDB: rows per multi-row INSERT (its text stays well under max_allowed_packet).
_MYSQL_ROWS = 20_000
_RUN_COLUMNS = ("run_uuid", "experiment_id", "user_id", "status", "start_time", "end_time",
                "lifecycle_stage", "deleted_time", "artifact_uri")


@dataclass(slots=True)
class RunTarget:
    """A run being imported: its key in the destination and where its metric files stop."""

    run_id: str
    run_key: int
    offsets: dict[str, int] = field(default_factory=dict)


class SqlImportWriter:
    """Writes what an import reads into *store* (see the module doc)."""

    def __init__(self, store: SqlStore, identity: str, description: str, report: Problem,
                 batch_points: int = 50_000, load_state: bool = True) -> None:
        self.store = store
        self.report = report
        self.batch_points = batch_points
        self._sql = store._sql
        self._txn: AbstractContextManager[Any] | None = None
        self._cur: Any = None
        self._pending = 0
        self._dialect = store._dialect
        # Gathered for the transaction (PostgreSQL, MySQL: one statement each at commit).
        self._rows: list[Any] = []
        self._latest: dict[tuple[int, int], Any] = {}
        self._offsets: dict[tuple[str, str], int] = {}
        self._registry: RegistryRows | None = None
        self._registry_snapshot: dict[str, StoredModel] = {}
        self.source_id = self._register_source(identity, description)
        m = self._sql.mark
        self.fingerprints: dict[str, str] = {} if not load_state else {
            str(k): str(v) for k, v in self._select(
                f"SELECT run_uuid, fingerprint FROM import_runs WHERE source_id = {m}")}
        # Runs whose metric files an import of this source read before (None: unknown, ask).
        self._resumable: set[str] | None = None if not load_state else {
            str(r[0]) for r in self._select(
                f"SELECT DISTINCT run_uuid FROM import_offsets WHERE source_id = {m}")}
        self._mapped = {str(k): (int(v), bool(c)) for k, v, c in self._select(
            "SELECT source_experiment_id, experiment_id, created FROM import_experiments "
            f"WHERE source_id = {m}")}
        self.commit()

    # -- transactions ---------------------------------------------------------------------------

    @property
    def cur(self) -> Any:
        """The cursor of the open transaction (one is begun if none is open)."""
        if self._cur is None:
            self._txn = self.store._write()
            self._cur = self._txn.__enter__()
        return self._cur

    def commit(self) -> None:
        """Write what is gathered and commit it, with the import state it makes true."""
        if self._txn is not None:
            try:
                self._flush()
            except BaseException as exc:
                self.rollback(exc)
                if isinstance(exc, self.store._dbapi_errors()):
                    raise self.store._translate(exc) from None
                raise
        txn, self._txn, self._cur, self._pending = self._txn, None, None, 0
        if txn is not None:
            try:
                txn.__exit__(None, None, None)
            except self.store._dbapi_errors() as exc:
                raise self.store._translate(exc) from None

    def rollback(self, exc: BaseException) -> None:
        self._rows, self._latest, self._offsets = [], {}, {}
        txn, self._txn, self._cur, self._pending = self._txn, None, None, 0
        if txn is not None:
            try:
                txn.__exit__(type(exc), exc, exc.__traceback__)
            except BaseException:
                pass

    def _maybe_commit(self) -> None:
        if self._pending >= self.batch_points:
            self.commit()

    def _select(self, sql: str, *args: Any) -> list[Any]:
        """The rows of *sql* whose first parameter is this source's id."""
        cur = self.cur
        cur.execute(sql, (self.source_id, *args))
        return list(cur.fetchall())

    def _register_source(self, identity: str, description: str) -> int:
        digest = hashlib.blake2b(identity.encode("utf-8", "surrogatepass"),
                                 digest_size=16).hexdigest()
        sql, m = self._sql, self._sql.mark
        cur = self.cur
        cur.execute(sql.insert_absent("import_sources", ("digest", "description"), ("digest",)),
                    (digest, description))
        cur.execute(f"SELECT source_id FROM import_sources WHERE digest = {m}", (digest,))
        source_id = int(cur.fetchone()[0])
        self.commit()
        return source_id

    # -- experiments ----------------------------------------------------------------------------

    def experiment(self, rec: ExperimentRecord) -> str:
        """The destination experiment of *rec*, made or updated (the merge rule):

        1. the experiment an earlier import of this source sent it to, if it still exists;
        2. else the destination's experiment of the same name (experiments of one name are
           one experiment: ``Default`` of several trees becomes one);
        3. else a new experiment with the source's id, if that id is free;
        4. else a new experiment with a new id.

        An experiment the import made follows its source (name, lifecycle, times, tags); one
        it merged into keeps its own and gains the source's tags; an empty one it merged into
        (no runs: the ``Default`` experiment a new store makes) counts as made by it.
        """
        m = self._sql.mark
        cur = self.cur
        mapped = self._mapped.get(rec.experiment_id)
        target: int | None = None
        created = inserted = False
        if mapped is not None:
            cur.execute(f"SELECT name FROM experiments WHERE experiment_id = {m}", (mapped[0],))
            if cur.fetchone() is not None:
                target, created = mapped
        if target is None:
            cur.execute(f"SELECT experiment_id FROM experiments WHERE name = {m}", (rec.name,))
            found = cur.fetchone()
            if found is not None:
                target = int(found[0])
                cur.execute("SELECT CASE WHEN EXISTS (SELECT 1 FROM runs WHERE experiment_id = "
                            f"{m}) THEN 1 ELSE 0 END", (target,))
                created = not cur.fetchone()[0]  # an empty one (a new store's Default) adopts
            else:
                created = inserted = True
                wanted = _numeric_id(rec.experiment_id)
                if wanted is not None:
                    cur.execute(f"SELECT 1 FROM experiments WHERE experiment_id = {m}", (wanted,))
                    if cur.fetchone() is None:
                        target = wanted
                if target is None:
                    target = self.store._next_experiment_id(cur)
                self._insert_experiment(target, rec)
        if created and not inserted:
            self._follow_source(target, rec)
        if rec.tags:
            executemany(cur, self._sql.upsert("experiment_tags", ("experiment_id", "key", "value"),
                                              ("experiment_id", "key")),
                        [(target, k, v) for k, v in sorted(rec.tags.items())])
        if mapped != (target, created):
            cur.execute(self._sql.upsert(
                "import_experiments", ("source_id", "source_experiment_id", "experiment_id",
                                       "created"), ("source_id", "source_experiment_id")),
                (self.source_id, rec.experiment_id, target, int(created)))
            self._mapped[rec.experiment_id] = (target, created)
        if inserted and target < _SEQUENTIAL_IDS:
            self.store._move_counter_past(cur, target)
        return str(target)

    def _follow_source(self, target: int, rec: ExperimentRecord) -> None:
        """An experiment the import made (or adopted) takes the source's metadata again."""
        m, cur = self._sql.mark, self.cur
        cur.execute(f"SELECT experiment_id FROM experiments WHERE name = {m} AND "
                    f"experiment_id <> {m}", (rec.name, target))
        clash = cur.fetchone() is not None
        if clash:
            self.report(rec.where, f"experiment {rec.name!r} keeps its earlier name in the "
                                   "destination: another experiment has that name there")
        names: tuple[str, ...] = () if clash else (rec.name,)
        location = rec.artifact_location
        cur.execute(f"UPDATE experiments SET {'' if clash else f'name = {m}, '}"
                    f"{'' if location is None else f'artifact_location = {m}, '}"
                    f"lifecycle_stage = {m}, creation_time = {m}, last_update_time = {m} "
                    f"WHERE experiment_id = {m}",
                    (*names, *(() if location is None else (location,)), rec.lifecycle_stage,
                     rec.creation_time, rec.last_update_time, target))

    def _insert_experiment(self, experiment_id: int, rec: ExperimentRecord) -> None:
        location = rec.artifact_location
        if not location:
            from ..file.meta import append_to_uri

            location = append_to_uri(self.store.artifact_root_uri, str(experiment_id))
        self.cur.execute(self._sql.insert("experiments", (
            "experiment_id", "name", "artifact_location", "lifecycle_stage", "creation_time",
            "last_update_time")), (experiment_id, rec.name, location, rec.lifecycle_stage,
                                   rec.creation_time, rec.last_update_time))

    # -- runs -----------------------------------------------------------------------------------

    def begin_run(self, rec: RunRecord, experiment_id: str) -> RunTarget:
        """Write the run's row, params, tags and inputs; the points come next."""
        sql, m, q = self._sql, self._sql.mark, self._sql.q
        cur = self.cur
        info = rec.info
        deleted_time = rec.deleted_time if info.lifecycle_stage == LifecycleStage.DELETED else None
        cur.execute(sql.upsert("runs", _RUN_COLUMNS, ("run_uuid",)),
                    (info.run_id, int(experiment_id), info.user_id, info.status,
                     info.start_time, info.end_time, info.lifecycle_stage, deleted_time,
                     info.artifact_uri))
        cur.execute(f"SELECT run_key FROM runs WHERE run_uuid = {m}", (info.run_id,))
        run_key = int(cur.fetchone()[0])
        self.store._run_keys.pop(info.run_id, None)
        if rec.params:
            cur.execute(f"SELECT {q('key')}, {q('value')} FROM run_params WHERE run_key = {m}",
                        (run_key,))
            stored = dict(cur.fetchall())
            new = []
            for k, v in sorted(rec.params.items()):
                old = stored.get(k)
                if old is None:
                    new.append((run_key, k, v))
                elif old != v:
                    self.report(rec.where, f"param '{k}' keeps the destination's value "
                                           f"{old!r}, not the source's {v!r}")
            executemany(cur, sql.insert("run_params", ("run_key", "key", "value")), new)
        tags = dict(rec.tags)
        if info.run_name and RUN_NAME_TAG not in tags:
            tags[RUN_NAME_TAG] = info.run_name
        if tags:
            executemany(cur, sql.upsert("run_tags", ("run_key", "key", "value"),
                                        ("run_key", "key")),
                        [(run_key, k, v) for k, v in sorted(tags.items())])
        if rec.datasets or rec.model_inputs:
            self.store._write_inputs(cur, run_key, int(experiment_id), rec.datasets,
                                     [LoggedModelInput(m) for m in rec.model_inputs])
        self._pending += 1 + len(rec.params) + len(tags)
        known = self._resumable is None or info.run_id in self._resumable
        return RunTarget(info.run_id, run_key, self.offsets_of(info.run_id) if known else {})

    def offsets_of(self, run_id: str) -> dict[str, int]:
        """Where each metric file of *run_id* was read to by this source's imports."""
        q, m = self._sql.q, self._sql.mark
        return {str(k): int(v) for k, v in self._select(
            f"SELECT {q('key')}, byte_offset FROM import_offsets WHERE source_id = {m} AND "
            f"run_uuid = {m}", run_id)}

    def target_of(self, run_id: str) -> RunTarget:
        """The target of a run an earlier batch began (a server's import, in pieces)."""
        m = self._sql.mark
        cur = self.cur
        cur.execute(f"SELECT run_key FROM runs WHERE run_uuid = {m}", (run_id,))
        found = cur.fetchone()
        if found is None:
            raise TrackstoreError(f"Run '{run_id}' not found: its record must come before its "
                                  "points", RESOURCE_DOES_NOT_EXIST)
        return RunTarget(run_id, int(found[0]), self.offsets_of(run_id))

    def partial_runs(self) -> list[str]:
        """Runs an interrupted import of this source left half-written (with the state
        loaded: ``load_state=True``)."""
        return sorted((self._resumable or set()) - set(self.fingerprints))

    def write_points(self, target: RunTarget, chunk: PointChunk, resumable: bool) -> int:
        """Store a chunk of one metric's points; returns the exact duplicates it dropped."""
        store = self.store
        if chunk.key not in store._key_ids or any(
                (name, digest) not in store._dataset_ids for _, name, digest in chunk.datasets):
            self.commit()  # (ids are registered in transactions of their own)
            store._ids(store._key_ids, [chunk.key], "metric_keys", ("key",), "key_id")
            pairs = sorted({(name, digest) for _, name, digest in chunk.datasets})
            if pairs:
                store._ids(store._dataset_ids, pairs, "metric_datasets", ("name", "digest"),
                           "dataset_id")
        dataset_ids: list[int | None] | None = None
        if chunk.datasets:
            dataset_ids = [None] * len(chunk)
            for row, name, digest in chunk.datasets:
                dataset_ids[row] = store._dataset_ids[(name, digest)]
        rows, duplicates = _sqlbatch.series_rows(target.run_key, store._key_ids[chunk.key],
                                                 chunk.timestamps, chunk.values, chunk.steps,
                                                 dataset_ids)
        if rows:
            if self._dialect == "sqlite":  # no round trips: straight in, a run at a time
                store._write_metric_plan(self.cur, store._rows_plan(rows))
            else:  # one COPY / INSERT for the whole transaction, at commit
                self._rows.extend(rows)
                for last in _sqlbatch.latest_rows(rows):
                    key = (last[0], last[1])
                    best = self._latest.get(key)
                    if best is None or (last[2], last[3], last[5], last[4]) > \
                            (best[2], best[3], best[5], best[4]):
                        self._latest[key] = last
        if resumable:
            self._offsets[(target.run_id, chunk.key)] = chunk.end
            target.offsets[chunk.key] = chunk.end
        self._pending += len(rows) + 1
        self._maybe_commit()
        return duplicates

    def _flush(self) -> None:
        """Write what :meth:`write_points` gathered, in the open transaction."""
        if not (self._rows or self._latest or self._offsets):
            return
        store, sql, cur = self.store, self._sql, self.cur
        rows, self._rows = self._rows, []
        latest, self._latest = sorted(self._latest.values(), key=lambda r: (r[0], r[1])), {}
        offsets, self._offsets = self._offsets, {}
        if rows:
            if self._dialect == "postgresql":
                store._copy_metrics(cur, _sqlbatch.copy_binary(rows))
            elif self._dialect == "mysql":
                for part in _parts(rows, _MYSQL_ROWS):
                    cur.execute(f"INSERT INTO metrics ({sql._cols(METRIC_COLUMNS)}) VALUES "
                                f"{_sqlbatch.values_sql(part)} ON DUPLICATE KEY UPDATE "
                                "run_key = run_key")
            else:
                executemany(cur, sql.insert_metrics(), rows)
        if latest:
            if self._dialect in ("postgresql", "mysql"):
                for part in _parts(latest, _MYSQL_ROWS):
                    cur.execute(sql.upsert_latest_values(_sqlbatch.values_sql(part)))
            else:
                executemany(cur, sql.upsert_latest(), latest)
        if offsets:
            executemany(cur, sql.upsert("import_offsets", ("source_id", "run_uuid", "key",
                                                           "byte_offset"),
                                        ("source_id", "run_uuid", "key")),
                        [(self.source_id, run, key, end)
                         for (run, key), end in sorted(offsets.items())])

    def end_run(self, target: RunTarget, rec: RunRecord) -> None:
        """The run is imported: its fingerprint goes into the state."""
        self.record_fingerprint(target.run_id, rec.fingerprint)

    def record_fingerprint(self, run_id: str, fingerprint: str) -> None:
        sql = self._sql
        self.cur.execute(sql.upsert("import_runs", ("source_id", "run_uuid", "fingerprint"),
                                    ("source_id", "run_uuid")),
                         (self.source_id, run_id, fingerprint))
        self.fingerprints[run_id] = fingerprint
        self._pending += 1
        self._maybe_commit()

    # -- the model registry -----------------------------------------------------------------

    def registered_model(self, rec: RegisteredModelRecord) -> str:
        """Import one registered model with its versions, in a transaction of its own; the
        outcome is one of :mod:`.registry_import`'s ``CREATED``, ``UPDATED``, ``UNCHANGED``
        or ``CONFLICT`` (reported)."""
        from .registry_import import CONFLICT, UNCHANGED, RegistryRows, unchanged

        self.commit()
        if self._registry is None:
            self._registry = RegistryRows(self.store)
            # One read of the whole registry: a model found equal there (a second import of
            # an unchanged source) costs no transaction of its own.
            self._registry_snapshot = self._registry.read(self.cur)
            self.commit()
        stored = self._registry_snapshot.get(rec.name)
        if stored is not None and unchanged(stored, rec):
            return UNCHANGED
        try:
            outcome = self._registry.import_model(self.cur, rec, self.report)
        except self.store._dbapi_errors() as exc:
            self.rollback(exc)
            dbapi = self.store.engine.dialect.dbapi
            if dbapi is not None and isinstance(exc, dbapi.IntegrityError):
                # A model of that name was created in the destination meanwhile.
                self.report(rec.where, f"registered model {rec.name!r} not imported: the "
                                       "destination's model of that name was created while "
                                       "the import ran; it is left as it is")
                return CONFLICT
            raise self.store._translate(exc) from None
        self.commit()
        return outcome

    def finish(self) -> None:
        """Commit what is pending and note when this source was last imported."""
        m, cur = self._sql.mark, self.cur
        cur.execute(f"UPDATE import_sources SET last_import_time = {m} WHERE source_id = {m}",
                    (now_ms(), self.source_id))
        self.commit()

    def close(self) -> None:
        if self._txn is not None:
            self.rollback(TrackstoreError("import closed before it committed"))


def _parts(rows: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def _numeric_id(experiment_id: str) -> int | None:
    if experiment_id.isdigit() and len(experiment_id) <= 18:
        return int(experiment_id)
    return None
