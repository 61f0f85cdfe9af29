"""The model registry on the SQL store (tables of migration 0004).

Tables
------
``registered_models``
    one row per model, with an integer ``model_key`` that every other registry table
    references: renaming a model updates this one row (MLflow's tables are keyed by name and
    rename by cascading the new name through every version, tag and alias row).
    ``uq_registered_models_name`` makes names unique and serves lookups by name.
    ``next_version`` is the number the next version of the model gets: a version is created
    by ``UPDATE ... SET next_version = next_version + 1`` on the model's row, whose row lock
    (PostgreSQL, MySQL/MariaDB, SQL Server; SQLite's writers are serialized) makes two
    concurrent creates wait for each other, so no number is handed out twice, with no retry
    loop. Numbers are never reused, also after a version or the latest version is deleted.
``model_versions``
    primary key ``(model_key, version)``. A deleted version's row is removed with its tags
    and aliases (MLflow keeps a redacted row so that ``max(version) + 1`` never reuses its
    number; the counter does that here). ``ix_model_versions_run_id`` serves ``run_id``
    filters, ``ix_model_versions_last_updated_time`` the default order of a version search.
``registered_model_tags`` / ``model_version_tags``
    one value per key, primary keys starting with the model (and version): the tags of a
    page of results are one range each. Values are unbounded text (MLflow's registered model
    tag column holds 5,000 characters while its API accepts 100,000).
``registered_model_aliases``
    primary key ``(model_key, alias)``; a foreign key to the version with ``ON DELETE
    CASCADE``, so deleting a version drops the aliases that point at it.

Where MLflow's SQL store differs
--------------------------------
* Versions returned by searches and in ``latest_versions`` carry their aliases (MLflow's
  SQL store leaves them empty there and fills them only for single-version reads).
* ``deployment_job_id`` and a version's ``model_id`` are stored and returned (MLflow's SQL
  store accepts and drops them).
* Renaming a model onto a taken name says "Registered Model (name=X) already exists." without
  the database driver's message appended.
* A version's ``source`` of the form ``models:/<name>/<version>``, ``models:/<name>@<alias>``
  or ``models:/<name>/<stage>`` is resolved to that version's location (MLflow resolves the
  first only); ``models:/<model id>`` names a logged model, which trackstore does not store:
  it is refused with a clear error.
"""

from __future__ import annotations

import functools
import urllib.parse
from collections import defaultdict, namedtuple
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from ...entities import PagedList, now_ms
from ...exceptions import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    TrackstoreError,
)
from ...model_registry import (
    ALL_STAGES,
    IS_PROMPT_TAG,
    LATEST_ALIAS,
    READY,
    STAGE_ARCHIVED,
    STAGE_NONE,
    ModelVersion,
    RegisteredModel,
    canonical_stage,
)
from ...search import (
    Comparison,
    create_page_token,
    parse_model_version_filter,
    parse_model_version_order_by,
    parse_page_token,
    parse_registered_model_filter,
    parse_registered_model_order_by,
)
from ..model_registry import RegistryBackend
from . import schema as s
from .search import (
    Condition,
    _all,
    _integer_condition,
    _ordered,
    _sql,
    _string_condition,
    _Strings,
)
from .statements import executemany

if TYPE_CHECKING:
    from .store import SqlStore

_rm, _mv = s.registered_models, s.model_versions
_rm_tags, _mv_tags, _aliases = s.registered_model_tags, s.model_version_tags, \
    s.registered_model_aliases
#: Model-version filter keys → columns (MLflow's names for the API, trackstore's columns).
_VERSION_COLUMNS = {"name": _rm.c.name, "run_id": _mv.c.run_id, "source_path": _mv.c.source,
                    "version_number": _mv.c.version, "creation_timestamp": _mv.c.creation_time,
                    "last_updated_timestamp": _mv.c.last_updated_time}
_MODEL_ORDER_COLUMNS = {"name": _rm.c.name, "creation_timestamp": _rm.c.creation_time,
                        "last_updated_timestamp": _rm.c.last_updated_time}
_CHUNK = 500
#: Runs a ``SELECT`` and returns its rows (attribute access by column name): on a pooled
#: read connection, or on the cursor of a write transaction (see ``SqlRegistry._fetch_in``).
Fetch = Callable[[sa.Select[Any]], Sequence[Any]]


def model_not_found(name: str) -> TrackstoreError:
    return TrackstoreError(f"Registered Model with name={name} not found",
                           RESOURCE_DOES_NOT_EXIST)


def version_not_found(name: str, version: int) -> TrackstoreError:
    return TrackstoreError(f"Model Version (name={name}, version={version}) not found",
                           RESOURCE_DOES_NOT_EXIST)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


class SqlRegistry(RegistryBackend):
    """The registry of one :class:`~trackstore.store.sql.store.SqlStore`."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._strings = _Strings(store._dialect)
        self._m = store._sql.mark

    # -- helpers ----------------------------------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[Fetch]:
        with self._store._read() as conn:
            yield lambda statement: conn.execute(statement).all()

    def _fetch_in(self, cur: Any) -> Fetch:
        """Run SELECTs in the write transaction of *cur*: a write returns what it wrote (read
        back before the commit, under its locks), never what a concurrent writer made of it
        after."""
        dialect = self._store.engine.dialect

        def fetch(statement: sa.Select[Any]) -> Sequence[Any]:
            compiled = statement.compile(dialect=dialect,
                                         compile_kwargs={"render_postcompile": True})
            params = compiled.construct_params()
            args: Any = (tuple(params[name] for name in compiled.positiontup or ())
                         if compiled.positional else params)
            cur.execute(str(compiled), args)
            row_type = _row_type(tuple(d[0] for d in cur.description))
            return [row_type(*row) for row in cur.fetchall()]

        return fetch

    def _model_key(self, cur: Any, name: str) -> int:
        """The key of model *name*, in the caller's transaction."""
        m = self._m
        cur.execute(f"SELECT model_key FROM registered_models WHERE name = {m}", (name,))
        row = cur.fetchone()
        if row is None:
            raise model_not_found(name)
        return int(row[0])

    def _lock_model(self, cur: Any, name: str) -> None:
        """Take the row lock of model *name* (a no-op update) until the transaction ends;
        SQLite's write transaction holds the whole database already."""
        if self._store._dialect != "sqlite":
            cur.execute(f"UPDATE registered_models SET next_version = next_version WHERE "
                        f"name = {self._m}", (name,))

    def _version_key(self, cur: Any, name: str, version: int, *, lock: bool = False) -> int:
        """The key of the model of an existing version (MLflow's "Model Version (...) not
        found" also when the model is missing); ``lock`` first takes the model's row lock
        (:meth:`_lock_model`), so that the rest of the transaction sees it unchanged."""
        m = self._m
        if lock:
            self._lock_model(cur, name)
        cur.execute(f"SELECT r.model_key FROM registered_models r JOIN model_versions v ON "
                    f"v.model_key = r.model_key WHERE r.name = {m} AND v.version = {m}",
                    (name, version))
        row = cur.fetchone()
        if row is None:
            raise version_not_found(name, version)
        return int(row[0])

    def _touch_model(self, cur: Any, model_key: int, when: int) -> None:
        cur.execute(f"UPDATE registered_models SET last_updated_time = {self._m} WHERE "
                    f"model_key = {self._m}", (when, model_key))

    def _errors(self) -> tuple[type[BaseException], ...]:
        return self._store._dbapi_errors()

    def _integrity_error(self, exc: BaseException) -> bool:
        dbapi = self._store.engine.dialect.dbapi
        return dbapi is not None and isinstance(exc, dbapi.IntegrityError)

    # -- reads ------------------------------------------------------------------------------------

    def _versions(self, fetch: Fetch, where: ColumnElement[bool],
                  order: Sequence[Any] = ()) -> list[ModelVersion]:
        rows = fetch(sa.select(_mv, _rm.c.name)
                     .join(_rm, _rm.c.model_key == _mv.c.model_key)
                     .where(where).order_by(*order))
        return self._version_objects(fetch, rows)

    def _version_objects(self, fetch: Fetch, rows: Sequence[Any]) -> list[ModelVersion]:
        """Versions of *rows* (of ``model_versions`` with the model's ``name``), with their
        tags and aliases, in the rows' order."""
        if not rows:
            return []
        keys = sorted({(r.model_key, r.version) for r in rows})
        tags: dict[tuple[int, int], dict[str, str]] = defaultdict(dict)
        aliases: dict[tuple[int, int], list[str]] = defaultdict(list)
        for tag_filter, alias_filter in self._version_filters(keys):
            for t in fetch(sa.select(_mv_tags).where(tag_filter)
                           .order_by(_mv_tags.c.model_key, _mv_tags.c.version, _mv_tags.c.key)):
                tags[(t.model_key, t.version)][t.key] = t.value
            for a in fetch(sa.select(_aliases).where(alias_filter)
                           .order_by(_aliases.c.model_key, _aliases.c.alias)):
                aliases[(a.model_key, a.version)].append(a.alias)
        return [ModelVersion(
            name=r.name, version=str(r.version), creation_timestamp=r.creation_time,
            last_updated_timestamp=r.last_updated_time, description=r.description,
            user_id=r.user_id, current_stage=r.current_stage, source=r.source,
            run_id=r.run_id, status=r.status, status_message=r.status_message,
            tags=tags.get((r.model_key, r.version), {}), run_link=r.run_link,
            aliases=aliases.get((r.model_key, r.version), []), model_id=r.model_id)
            for r in rows]

    def _version_filters(self, keys: Sequence[tuple[int, int]]
                         ) -> Iterator[tuple[ColumnElement[bool], ColumnElement[bool]]]:
        """WHERE clauses selecting the tags and the aliases of the versions *keys* (model key,
        version): one pair per chunk of versions, whatever the number of models (a search's
        500 versions of 100 models are 2 queries, not 200). SQL Server has no row-value
        ``IN``: there, one pair per model and chunk."""
        if self._store._dialect == "mssql":
            for model_key, versions in _by_model(keys).items():
                for chunk in _chunks(versions):
                    yield (sa.and_(_mv_tags.c.model_key == model_key,
                                   _mv_tags.c.version.in_(chunk)),
                           sa.and_(_aliases.c.model_key == model_key,
                                   _aliases.c.version.in_(chunk)))
            return
        for pairs in _chunks(keys):
            yield (sa.tuple_(_mv_tags.c.model_key, _mv_tags.c.version).in_(pairs),
                   sa.tuple_(_aliases.c.model_key, _aliases.c.version).in_(pairs))

    def _models(self, fetch: Fetch, rows: Sequence[Any]) -> list[RegisteredModel]:
        """Registered models of *rows* (of ``registered_models``), in order, with tags,
        aliases and the latest version of each stage."""
        if not rows:
            return []
        keys = [r.model_key for r in rows]
        tags: dict[int, dict[str, str]] = defaultdict(dict)
        aliases: dict[int, dict[str, str]] = defaultdict(dict)
        latest: dict[int, list[ModelVersion]] = defaultdict(list)
        for chunk in _chunks(keys):
            for t in fetch(sa.select(_rm_tags).where(_rm_tags.c.model_key.in_(chunk))
                                  .order_by(_rm_tags.c.model_key, _rm_tags.c.key)):
                tags[t.model_key][t.key] = t.value
            for a in fetch(sa.select(_aliases).where(_aliases.c.model_key.in_(chunk))
                                  .order_by(_aliases.c.model_key, _aliases.c.alias)):
                aliases[a.model_key][a.alias] = str(a.version)
            newest = (sa.select(_mv.c.model_key, _mv.c.current_stage,
                                sa.func.max(_mv.c.version).label("version"))
                      .where(_mv.c.model_key.in_(chunk))
                      .group_by(_mv.c.model_key, _mv.c.current_stage).subquery())
            rows_latest = fetch(
                sa.select(_mv, _rm.c.name)
                .join(_rm, _rm.c.model_key == _mv.c.model_key)
                .join(newest, sa.and_(newest.c.model_key == _mv.c.model_key,
                                      newest.c.version == _mv.c.version))
                .order_by(_mv.c.model_key, _mv.c.version))
            for version in zip(rows_latest, self._version_objects(fetch, rows_latest),
                               strict=True):
                latest[version[0].model_key].append(version[1])
        return [RegisteredModel(
            name=r.name, creation_timestamp=r.creation_time,
            last_updated_timestamp=r.last_updated_time, description=r.description,
            latest_versions=latest.get(r.model_key, []), tags=tags.get(r.model_key, {}),
            aliases=aliases.get(r.model_key, {}), deployment_job_id=r.deployment_job_id)
            for r in rows]

    def _model(self, fetch: Fetch, name: str) -> RegisteredModel:
        rows = fetch(sa.select(_rm).where(_rm.c.name == name))
        if not rows:
            raise model_not_found(name)
        return self._models(fetch, rows)[0]

    def _version(self, fetch: Fetch, name: str, version: int) -> ModelVersion:
        found = self._versions(fetch, sa.and_(_rm.c.name == name, _mv.c.version == version))
        if not found:
            raise version_not_found(name, version)
        return found[0]

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self._reading() as fetch:
            return self._model(fetch, name)

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        with self._reading() as fetch:
            return self._version(fetch, name, version)

    def get_latest_versions(self, name: str, stages: list[str] | None) -> list[ModelVersion]:
        model = self.get_registered_model(name)
        wanted = set(stages or ALL_STAGES)
        return [v for v in model.latest_versions if v.current_stage in wanted]

    def get_model_version_download_uri(self, name: str, version: int) -> str:
        with self._reading() as fetch:
            rows = fetch(
                sa.select(_mv.c.storage_location, _mv.c.source)
                .join(_rm, _rm.c.model_key == _mv.c.model_key)
                .where(_rm.c.name == name, _mv.c.version == version))
        row = rows[0] if rows else None
        if row is None:
            raise version_not_found(name, version)
        return str(row.storage_location or row.source)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        with self._reading() as fetch:
            if alias.lower() == LATEST_ALIAS:
                self._model(fetch, name)
                found = self._versions(fetch, _rm.c.name == name, [_mv.c.version.desc()])
                if not found:
                    raise TrackstoreError(f"Latest version not found for model {name}.",
                                          RESOURCE_DOES_NOT_EXIST)
                return found[0]
            rows = fetch(
                sa.select(_aliases.c.version).join(_rm, _rm.c.model_key == _aliases.c.model_key)
                .where(_rm.c.name == name, _aliases.c.alias == alias))
            if not rows:
                self._model(fetch, name)  # a missing model is "not found" before the alias
                raise TrackstoreError(f"Registered model alias {alias} not found.",
                                      INVALID_PARAMETER_VALUE)
            return self._version(fetch, name, int(rows[0].version))

    # -- registered models -----------------------------------------------------------------------

    def create_registered_model(self, name: str, tags: dict[str, str], description: str | None,
                                deployment_job_id: str | None) -> RegisteredModel:
        created = now_ms()
        sql = self._store._sql
        try:
            with self._store._write() as cur:
                cur.execute(sql.insert("registered_models", (
                    "name", "creation_time", "last_updated_time", "description",
                    "deployment_job_id", "next_version")),
                    (name, created, created, description, deployment_job_id, 1))
                model_key = self._model_key(cur, name)
                if tags:
                    executemany(cur, sql.insert("registered_model_tags",
                                                ("model_key", "key", "value")),
                                [(model_key, k, v) for k, v in tags.items()])
                return self._model(self._fetch_in(cur), name)
        except self._errors() as exc:
            if self._integrity_error(exc):
                raise self._name_taken(name, IS_PROMPT_TAG in tags) from None
            raise self._store._translate(exc) from None

    def _name_taken(self, name: str, new_is_prompt: bool) -> TrackstoreError:
        """MLflow's message for a name that is taken (a model and a prompt share names)."""
        try:
            existing_is_prompt = IS_PROMPT_TAG in self.get_registered_model(name).tags
        except TrackstoreError:
            existing_is_prompt = new_is_prompt
        old = "Prompt" if existing_is_prompt else "Registered Model"
        new = "Prompt" if new_is_prompt else "Registered Model"
        if old != new:
            return TrackstoreError(
                f"Tried to create a {new.lower()} with name {name!r}, but the name is already "
                f"taken by a {old.lower()}. MLflow does not allow creating a model and a "
                "prompt with the same name.", RESOURCE_ALREADY_EXISTS)
        return TrackstoreError(f"{new} (name={name}) already exists.", RESOURCE_ALREADY_EXISTS)

    def update_registered_model(self, name: str, description: str | None,
                                deployment_job_id: str | None) -> RegisteredModel:
        m = self._m
        with self._store._write() as cur:
            model_key = self._model_key(cur, name)
            sets, args = ["description = " + m, "last_updated_time = " + m], \
                [description, now_ms()]
            if deployment_job_id is not None:
                sets.append("deployment_job_id = " + m)
                args.append(deployment_job_id or None)
            cur.execute(f"UPDATE registered_models SET {', '.join(sets)} WHERE model_key = {m}",
                        (*args, model_key))
            return self._model(self._fetch_in(cur), name)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        m = self._m
        updated = now_ms()
        try:
            with self._store._write() as cur:
                model_key = self._model_key(cur, name)
                if new_name != name:
                    cur.execute(f"SELECT 1 FROM registered_models WHERE name = {m}", (new_name,))
                    if cur.fetchone() is not None:
                        raise TrackstoreError(
                            f"Registered Model (name={new_name}) already exists.",
                            RESOURCE_ALREADY_EXISTS)
                cur.execute(f"UPDATE registered_models SET name = {m}, last_updated_time = {m} "
                            f"WHERE model_key = {m}", (new_name, updated, model_key))
                cur.execute(f"UPDATE model_versions SET last_updated_time = {m} WHERE "
                            f"model_key = {m}", (updated, model_key))
                return self._model(self._fetch_in(cur), new_name)
        except self._errors() as exc:
            if self._integrity_error(exc):  # taken by a concurrent create
                raise TrackstoreError(f"Registered Model (name={new_name}) already exists.",
                                      RESOURCE_ALREADY_EXISTS) from None
            raise self._store._translate(exc) from None

    def delete_registered_model(self, name: str) -> None:
        m = self._m
        with self._store._write() as cur:
            model_key = self._model_key(cur, name)
            # Children first: SQL Server and MySQL without cascades configured elsewhere
            # still get every row removed, in one transaction.
            for table in ("registered_model_aliases", "model_version_tags", "model_versions",
                          "registered_model_tags", "registered_models"):
                cur.execute(f"DELETE FROM {table} WHERE model_key = {m}", (model_key,))

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        with self._store._write() as cur:
            model_key = self._model_key(cur, name)
            cur.execute(self._store._sql.upsert("registered_model_tags",
                                                ("model_key", "key", "value"),
                                                ("model_key", "key")), (model_key, key, value))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        m = self._m
        with self._store._write() as cur:
            model_key = self._model_key(cur, name)
            cur.execute(f"DELETE FROM registered_model_tags WHERE model_key = {m} AND "
                        f"{self._store._sql.q('key')} = {m}", (model_key, key))

    # -- model versions ---------------------------------------------------------------------------

    def _storage_location(self, source: str) -> str | None:
        """Where a ``models:/`` source's files are (None: the source itself says)."""
        if urllib.parse.urlparse(source).scheme != "models":
            return None
        path = source[len("models:"):].lstrip("/")
        refused = TrackstoreError(
            f"Unable to fetch model from model URI source artifact location '{source}'. "
            "Error: a models:/ source must name a registered model version "
            "(models:/<name>/<version>, models:/<name>/<stage> or models:/<name>@<alias>); "
            "trackstore does not store logged models (models:/<model id>): register the "
            "logged model's artifact location instead.", INVALID_PARAMETER_VALUE)
        if "@" in path and "/" not in path:
            model, alias = path.rsplit("@", 1)
            return self.get_model_version_download_uri(
                model, int(self.get_model_version_by_alias(model, alias).version))
        parts = path.split("/")
        if len(parts) != 2 or not all(parts):
            raise refused
        model, which = parts
        if which.isdigit():
            return self.get_model_version_download_uri(model, int(which))
        if which.lower() == LATEST_ALIAS:
            version = self.get_model_version_by_alias(model, LATEST_ALIAS)
        else:
            try:
                stage = canonical_stage(which)
            except TrackstoreError:
                raise refused from None
            found = self.get_latest_versions(model, [stage])
            if not found:
                raise TrackstoreError(f"No versions of model with name '{model}' and stage "
                                      f"'{stage}' found", RESOURCE_DOES_NOT_EXIST)
            version = found[0]
        return self.get_model_version_download_uri(model, int(version.version))

    def create_model_version(self, name: str, source: str, run_id: str | None,
                             tags: dict[str, str], run_link: str | None,
                             description: str | None, model_id: str | None) -> ModelVersion:
        storage_location = self._storage_location(source) or source
        m, sql = self._m, self._store._sql
        created = now_ms()
        with self._store._write() as cur:
            # The row lock of this update is what makes concurrent creates take turns.
            cur.execute(f"UPDATE registered_models SET next_version = next_version + 1, "
                        f"last_updated_time = {m} WHERE name = {m}", (created, name))
            cur.execute(f"SELECT model_key, next_version - 1 FROM registered_models WHERE "
                        f"name = {m}", (name,))
            row = cur.fetchone()
            if row is None:
                raise model_not_found(name)
            model_key, version = int(row[0]), int(row[1])
            cur.execute(sql.insert("model_versions", (
                "model_key", "version", "creation_time", "last_updated_time", "description",
                "current_stage", "source", "storage_location", "run_id", "run_link",
                "model_id", "status")),
                (model_key, version, created, created, description, STAGE_NONE, source,
                 storage_location, run_id, run_link, model_id, READY))
            if tags:
                executemany(cur, sql.insert("model_version_tags",
                                            ("model_key", "version", "key", "value")),
                            [(model_key, version, k, v) for k, v in tags.items()])
            return self._version(self._fetch_in(cur), name, version)

    def update_model_version(self, name: str, version: int,
                             description: str | None) -> ModelVersion:
        m = self._m
        with self._store._write() as cur:
            model_key = self._version_key(cur, name, version)
            cur.execute(f"UPDATE model_versions SET description = {m}, last_updated_time = {m} "
                        f"WHERE model_key = {m} AND version = {m}",
                        (description, now_ms(), model_key, version))
            return self._version(self._fetch_in(cur), name, version)

    def transition_model_version_stage(self, name: str, version: int, stage: str,
                                       archive_existing_versions: bool) -> ModelVersion:
        m = self._m
        updated = now_ms()
        with self._store._write() as cur:
            model_key = self._version_key(cur, name, version, lock=True)
            if archive_existing_versions:
                cur.execute(f"UPDATE model_versions SET current_stage = {m}, "
                            f"last_updated_time = {m} WHERE model_key = {m} AND "
                            f"current_stage = {m} AND version <> {m}",
                            (STAGE_ARCHIVED, updated, model_key, stage, version))
            cur.execute(f"UPDATE model_versions SET current_stage = {m}, last_updated_time = {m} "
                        f"WHERE model_key = {m} AND version = {m}",
                        (stage, updated, model_key, version))
            self._touch_model(cur, model_key, updated)
            return self._version(self._fetch_in(cur), name, version)

    def delete_model_version(self, name: str, version: int) -> None:
        m = self._m
        with self._store._write() as cur:
            model_key = self._version_key(cur, name, version, lock=True)
            for table in ("registered_model_aliases", "model_version_tags", "model_versions"):
                cur.execute(f"DELETE FROM {table} WHERE model_key = {m} AND version = {m}",
                            (model_key, version))
            self._touch_model(cur, model_key, now_ms())

    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        with self._store._write() as cur:
            model_key = self._version_key(cur, name, version)
            cur.execute(self._store._sql.upsert(
                "model_version_tags", ("model_key", "version", "key", "value"),
                ("model_key", "version", "key")), (model_key, version, key, value))

    def delete_model_version_tag(self, name: str, version: int, key: str) -> None:
        m = self._m
        with self._store._write() as cur:
            model_key = self._version_key(cur, name, version)
            cur.execute(f"DELETE FROM model_version_tags WHERE model_key = {m} AND version = {m} "
                        f"AND {self._store._sql.q('key')} = {m}", (model_key, version, key))

    # -- aliases ------------------------------------------------------------------------------

    def set_registered_model_alias(self, name: str, alias: str, version: int) -> None:
        with self._store._write() as cur:
            model_key = self._version_key(cur, name, version)
            cur.execute(self._store._sql.upsert(
                "registered_model_aliases", ("model_key", "alias", "version"),
                ("model_key", "alias")), (model_key, alias, version))

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        m = self._m
        with self._store._write() as cur:
            model_key = self._model_key(cur, name)
            cur.execute(f"DELETE FROM registered_model_aliases WHERE model_key = {m} AND "
                        f"alias = {m}", (model_key, alias))

    # -- searches -----------------------------------------------------------------------------

    def _tag_conditions(self, tag_table: sa.Table, joined: Sequence[sa.Column[Any]],
                        clauses: Sequence[Comparison]) -> list[Condition]:
        """One ``EXISTS`` per tag key: a tag with that key whose value passes every clause
        on the key (a model without the tag never matches, as in MLflow)."""
        by_key: dict[str, list[Comparison]] = defaultdict(list)
        for clause in clauses:
            by_key[clause.key].append(clause)
        conditions: list[Condition] = []
        for key, members in by_key.items():
            tags = tag_table.alias()
            test = _all(_string_condition(self._strings, tags.c.value, c) for c in members)
            if test is False:
                return [False]
            links = [tags.c[str(column.key)] == column for column in joined]
            conditions.append(sa.select(sa.literal_column("1")).select_from(tags).where(
                *links, self._strings.equal(tags.c.key, key), _sql(test)).exists())
        return conditions

    def _prompt_exclusion(self, clauses: Sequence[Comparison],
                          tag_table: sa.Table) -> tuple[list[Comparison], Condition]:
        """MLflow's prompt rule: a search returns no prompts (models tagged
        ``mlflow.prompt.is_prompt = 'true'``) unless its filter asks for them; when it does
        not, clauses on that tag are dropped."""
        for c in clauses:
            if c.kind == "tag" and c.key == IS_PROMPT_TAG and isinstance(c.value, str):
                asks = ((c.comparator == "=" and c.value.lower() == "true")
                        or (c.comparator == "!=" and c.value.lower() == "false"))
                if asks:
                    return list(clauses), True
                break
        kept = [c for c in clauses if not (c.kind == "tag" and c.key == IS_PROMPT_TAG)]
        prompt = tag_table.alias()
        is_prompt = sa.select(sa.literal_column("1")).select_from(prompt).where(
            prompt.c.model_key == _rm.c.model_key, self._strings.equal(prompt.c.key, IS_PROMPT_TAG),
            self._strings.equal(prompt.c.value, "true")).exists()
        return kept, sa.not_(is_prompt)

    def _page(self, fetch: Fetch, statement: sa.Select[Any], max_results: int,
              page_token: str | None) -> tuple[list[Any], str | None]:
        offset = parse_page_token(page_token)
        rows = fetch(statement.limit(max_results + 1).offset(offset))
        token = create_page_token(offset + max_results) if len(rows) > max_results else None
        return list(rows[:max_results]), token

    def search_registered_models(self, filter_string: str | None, max_results: int,
                                 order_by: list[str], page_token: str | None
                                 ) -> PagedList[RegisteredModel]:
        parsed = parse_registered_model_filter(filter_string)
        ordering = parse_registered_model_order_by(order_by)
        clauses, prompts = self._prompt_exclusion(parsed.clauses, _rm_tags)
        conditions: list[Condition] = [prompts]
        conditions.extend(_string_condition(self._strings, _rm.c.name, c)
                          for c in clauses if c.kind == "attribute")
        conditions.extend(self._tag_conditions(
            _rm_tags, [_rm.c.model_key], [c for c in clauses if c.kind == "tag"]))
        dialect = self._strings.dialect
        terms: list[Any] = []
        seen = set()
        for entry in ordering:
            column = _MODEL_ORDER_COLUMNS[entry.key]
            seen.add(entry.key)
            expression = self._strings.sort_key(column) if entry.key == "name" else column
            terms.extend(_ordered(expression, entry.ascending, dialect,
                                  nullable=entry.key != "name"))
        if "name" not in seen:
            terms.append(self._strings.sort_key(_rm.c.name).asc())
        statement = sa.select(_rm)
        where = _all(conditions)
        if where is not True:
            statement = statement.where(_sql(where))
        with self._reading() as fetch:
            rows, token = self._page(fetch, statement.order_by(*terms), max_results, page_token)
            return PagedList(self._models(fetch, rows), token)

    def _version_condition(self, c: Comparison) -> Condition:
        column: ColumnElement[Any] = _VERSION_COLUMNS[c.key]
        if c.key == "version_number":
            return _integer_condition(column, c.comparator, c.value)
        if c.key == "run_id":
            # A version without a run compares as run_id '' (what MLflow's server stores for
            # it), so "run_id != 'x'" includes it rather than SQL's NULL matching nothing.
            column = sa.func.coalesce(column, "")
        return _string_condition(self._strings, column, c)

    def search_model_versions(self, filter_string: str | None, max_results: int,
                              order_by: list[str], page_token: str | None
                              ) -> PagedList[ModelVersion]:
        parsed = parse_model_version_filter(filter_string)
        ordering = parse_model_version_order_by(
            order_by or ["last_updated_timestamp DESC", "name ASC", "version_number DESC"])
        clauses, prompts = self._prompt_exclusion(parsed.clauses, _mv_tags)
        conditions: list[Condition] = [prompts]
        conditions.extend(self._version_condition(c) for c in clauses if c.kind == "attribute")
        conditions.extend(self._tag_conditions(
            _mv_tags, [_mv.c.model_key, _mv.c.version], [c for c in clauses if c.kind == "tag"]))
        dialect = self._strings.dialect
        terms: list[Any] = []
        seen = set()
        for entry in ordering:
            column = _VERSION_COLUMNS[entry.key]
            seen.add(entry.key)
            expression = self._strings.sort_key(column) if entry.key == "name" else column
            terms.extend(_ordered(expression, entry.ascending, dialect,
                                  nullable=entry.key not in ("name", "version_number")))
        if "name" not in seen:
            terms.append(self._strings.sort_key(_rm.c.name).asc())
        if "version_number" not in seen:
            terms.append(_mv.c.version.desc())
        statement = sa.select(_mv, _rm.c.name).join(_rm, _rm.c.model_key == _mv.c.model_key)
        where = _all(conditions)
        if where is not True:
            statement = statement.where(_sql(where))
        with self._reading() as fetch:
            rows, token = self._page(fetch, statement.order_by(*terms), max_results, page_token)
            return PagedList(self._version_objects(fetch, rows), token)


@functools.lru_cache(maxsize=64)
def _row_type(columns: tuple[str, ...]) -> Any:
    """A row class with attributes named after *columns* (made once per column list)."""
    return namedtuple("Row", columns)


def _by_model(keys: Sequence[tuple[int, int]]) -> dict[int, list[int]]:
    grouped: dict[int, list[int]] = defaultdict(list)
    for model_key, version in keys:
        grouped[model_key].append(version)
    return grouped
