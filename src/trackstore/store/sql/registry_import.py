"""``trackstore import`` of the model registry into a SQL store, and reading it back whole.

The registry's public calls stamp times with the clock and number versions from the model's
counter; an import must keep the source's times and version numbers, so it writes the rows of
the registry tables (see :mod:`.registry`) directly: one transaction per registered model,
holding the model's row, tags, aliases, versions and their tags, and the model's
``next_version`` set past the highest number the source ever used (its deleted versions
included: they are not imported, but their numbers are never handed out again).

The incremental rule (no import state is kept for the registry: the destination's rows are
compared with the source's):

* a source model whose name the destination does not have is **created**;
* a destination model of that name is **the import's copy** when it was created at the same
  time (``creation_time``) and each of its versions is a version the source has or had (the
  same number, created at the same time). The copy is made equal to the source's current
  state (**updated**: description, times, tags, aliases, versions added, changed or gone),
  unless it already is (**unchanged**: nothing is written). Its ``next_version`` only grows;
* any other destination model of that name (created otherwise, or holding versions registered
  in the destination since the import) is **a conflict**: it is reported and left as it is.

A model deleted at the source stays in the destination (which does not record what an import
made); a renamed one is imported under its new name, the old copy staying. The writer
(:meth:`.imports.SqlImportWriter.registered_model`) reads the whole registry once first, so a
model already equal to the source's costs no transaction: a second import of a large registry
is a handful of queries.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ...transfer.records import ModelVersionRecord, Problem, RegisteredModelRecord
from .statements import executemany

if TYPE_CHECKING:
    from .store import SqlStore

CREATED, UPDATED, UNCHANGED, CONFLICT = "created", "updated", "unchanged", "conflict"

_MODEL_COLUMNS = ("name", "creation_time", "last_updated_time", "description",
                  "deployment_job_id", "next_version")
_VERSION_COLUMNS = ("version", "creation_time", "last_updated_time", "description", "user_id",
                    "current_stage", "source", "storage_location", "run_id", "run_link",
                    "model_id", "status", "status_message")


class StoredModel:
    """A registered model as the destination holds it: its key, counter and content."""

    __slots__ = ("model_key", "next_version", "record")

    def __init__(self, model_key: int, next_version: int, record: RegisteredModelRecord) -> None:
        self.model_key = model_key
        self.next_version = next_version
        self.record = record


def _when(ms: int | None) -> str:
    if ms is None:
        return "at an unknown time"
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return f"at {moment:%Y-%m-%d %H:%M:%S} UTC ({ms})"


class RegistryRows:
    """Reads and writes the registry tables of *store* on a DBAPI cursor the caller's
    transaction owns (see the module doc)."""

    def __init__(self, store: SqlStore) -> None:
        self._sql = store._sql
        self._m = store._sql.mark
        self._lock_rows = store._dialect != "sqlite"  # SQLite's writers are serialized

    def _cols(self, columns: tuple[str, ...]) -> str:
        return ", ".join(self._sql.q(c) for c in columns)

    # -- reads ------------------------------------------------------------------------------------

    def read(self, cur: Any, name: str | None = None) -> dict[str, StoredModel]:
        """The models of the destination (*name*'s only, if given), with their content."""
        m = self._m
        where, args = (f" WHERE name = {m}", (name,)) if name is not None else ("", ())
        cur.execute(f"SELECT model_key, {self._cols(_MODEL_COLUMNS)} FROM registered_models"
                    f"{where}", args)
        rows = list(cur.fetchall())
        if not rows:
            return {}
        only = (f" WHERE model_key = {m}", (int(rows[0][0]),)) if name is not None else ("", ())
        tags: dict[int, dict[str, str]] = defaultdict(dict)
        aliases: dict[int, dict[str, int]] = defaultdict(dict)
        versions: dict[int, list[ModelVersionRecord]] = defaultdict(list)
        version_tags: dict[tuple[int, int], dict[str, str]] = defaultdict(dict)
        q = self._sql.q
        cur.execute(f"SELECT model_key, {q('key')}, {q('value')} FROM registered_model_tags"
                    f"{only[0]}", only[1])
        for key, k, v in cur.fetchall():
            tags[int(key)][k] = v
        cur.execute(f"SELECT model_key, alias, version FROM registered_model_aliases{only[0]}",
                    only[1])
        for key, alias, version in cur.fetchall():
            aliases[int(key)][alias] = int(version)
        cur.execute(f"SELECT model_key, version, {q('key')}, {q('value')} FROM "
                    f"model_version_tags{only[0]}", only[1])
        for key, version, k, v in cur.fetchall():
            version_tags[(int(key), int(version))][k] = v
        cur.execute(f"SELECT model_key, {self._cols(_VERSION_COLUMNS)} FROM model_versions"
                    f"{only[0]} ORDER BY model_key, version", only[1])
        for row in cur.fetchall():
            key, number = int(row[0]), int(row[1])
            (created, updated, description, user_id, stage, source, location, run_id,
             run_link, model_id, status, message) = row[2:]
            versions[key].append(ModelVersionRecord(
                version=number, creation_time=created, last_updated_time=updated,
                description=description, user_id=user_id, current_stage=stage, source=source,
                storage_location=location, run_id=run_id, run_link=run_link,
                model_id=model_id, status=status, status_message=message,
                tags=version_tags.get((key, number), {})))
        found = {}
        for row in rows:
            key = int(row[0])
            name_, created, updated, description, job, next_version = row[1:]
            record = RegisteredModelRecord(
                name=name_, creation_time=created, last_updated_time=updated,
                description=description, deployment_job_id=job, tags=tags.get(key, {}),
                aliases=aliases.get(key, {}), versions=versions.get(key, []),
                used_versions={v.version: v.creation_time for v in versions.get(key, [])})
            found[name_] = StoredModel(key, int(next_version), record)
        return found

    # -- the import -------------------------------------------------------------------------------

    def import_model(self, cur: Any, rec: RegisteredModelRecord, report: Problem) -> str:
        """Bring *rec* into the destination in the caller's transaction: ``CREATED``,
        ``UPDATED``, ``UNCHANGED`` or ``CONFLICT`` (reported; nothing written)."""
        if self._lock_rows:  # hold the model's row until the commit (no-op if absent)
            cur.execute(f"UPDATE registered_models SET next_version = next_version WHERE "
                        f"name = {self._m}", (rec.name,))
        stored = self.read(cur, rec.name).get(rec.name)
        wanted_next = rec.highest_version + 1
        if stored is None:
            self._insert(cur, rec, wanted_next)
            return CREATED
        problem = _not_a_copy(stored.record, rec)
        if problem is not None:
            report(rec.where, f"registered model {rec.name!r} not imported: {problem}; the "
                              "destination's model is left as it is")
            return CONFLICT
        if unchanged(stored, rec):
            return UNCHANGED
        self._replace(cur, stored.model_key, rec, max(stored.next_version, wanted_next))
        return UPDATED

    def _insert(self, cur: Any, rec: RegisteredModelRecord, next_version: int) -> None:
        cur.execute(self._sql.insert("registered_models", _MODEL_COLUMNS),
                    (rec.name, rec.creation_time, rec.last_updated_time, rec.description,
                     rec.deployment_job_id, next_version))
        cur.execute(f"SELECT model_key FROM registered_models WHERE name = {self._m}",
                    (rec.name,))
        self._children(cur, int(cur.fetchone()[0]), rec)

    def _replace(self, cur: Any, model_key: int, rec: RegisteredModelRecord,
                 next_version: int) -> None:
        m = self._m
        cur.execute(f"UPDATE registered_models SET last_updated_time = {m}, description = {m}, "
                    f"deployment_job_id = {m}, next_version = {m} WHERE model_key = {m}",
                    (rec.last_updated_time, rec.description, rec.deployment_job_id,
                     next_version, model_key))
        # Children first (every dialect, cascades or not), all in this transaction.
        for table in ("registered_model_aliases", "model_version_tags", "model_versions",
                      "registered_model_tags"):
            cur.execute(f"DELETE FROM {table} WHERE model_key = {m}", (model_key,))
        self._children(cur, model_key, rec)

    def _children(self, cur: Any, model_key: int, rec: RegisteredModelRecord) -> None:
        sql = self._sql
        executemany(cur, sql.insert("registered_model_tags", ("model_key", "key", "value")),
                    [(model_key, k, v) for k, v in sorted(rec.tags.items())])
        executemany(cur, sql.insert("model_versions", ("model_key", *_VERSION_COLUMNS)),
                    [(model_key, v.version, v.creation_time, v.last_updated_time,
                      v.description, v.user_id, v.current_stage, v.source, v.storage_location,
                      v.run_id, v.run_link, v.model_id, v.status, v.status_message)
                     for v in rec.versions])
        executemany(cur, sql.insert("model_version_tags",
                                    ("model_key", "version", "key", "value")),
                    [(model_key, v.version, k, value) for v in rec.versions
                     for k, value in sorted(v.tags.items())])
        executemany(cur, sql.insert("registered_model_aliases", ("model_key", "alias",
                                                                 "version")),
                    [(model_key, alias, version) for alias, version in
                     sorted(rec.aliases.items())])


def unchanged(stored: StoredModel, rec: RegisteredModelRecord) -> bool:
    """The destination's model *stored* is already what importing *rec* would make it."""
    return (stored.record.content() == rec.content()
            and stored.next_version > rec.highest_version)


def _not_a_copy(have: RegisteredModelRecord, rec: RegisteredModelRecord) -> str | None:
    """Why the destination's model *have* is not the import's copy of *rec* (None: it is)."""
    if have.creation_time != rec.creation_time:
        return (f"the destination has another model of that name, created "
                f"{_when(have.creation_time)}, not {_when(rec.creation_time)} as the source's")
    foreign = [v.version for v in have.versions
               if v.version not in rec.used_versions
               or rec.used_versions[v.version] != v.creation_time]
    if foreign:
        shown = ", ".join(str(n) for n in foreign[:10]) + (" ..." if len(foreign) > 10 else "")
        return (f"the destination's copy holds version(s) {shown} that the source never had "
                "(registered in the destination since the import)")
    return None


@contextmanager
def read_cursor(store: SqlStore) -> Iterator[Any]:
    """A DBAPI cursor of *store* for reads (its own connection, no transaction kept)."""
    with store._read() as connection:
        cursor = connection.connection.cursor()
        try:
            yield cursor
        finally:
            cursor.close()


def read_registry(store: SqlStore) -> dict[str, StoredModel]:
    """Every registered model of *store* with its content and version counter."""
    with read_cursor(store) as cur:
        return RegistryRows(store).read(cur)
