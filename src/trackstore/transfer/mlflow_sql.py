"""An MLflow SQL tracking database as an import source, read only.

Every schema MLflow has used since 2.0 is read: the tables are reflected, and what a revision
lacks is read as absent (``runs.deleted_time``, the experiments' times, the dataset tables
before 2.4). Nothing is ever written; a SQLite database is opened read-only.

Values are taken as MLflow reads them back: ``is_nan`` rows are NaN, and an infinity MLflow
stored as ``±1.7976931348623157e308`` stays that number (MLflow's own reads return it so).
Traces and logged models are counted and reported, not carried.

The model registry (``registered_models``, ``registered_model_tags``, ``model_versions``,
``model_version_tags``, ``registered_model_aliases``) is read whole: the aliases table (2.3)
and ``model_versions.storage_location`` (late 2023) may be absent. Where the tables have a
``workspace`` column (3.x), the ``default`` workspace is read, as MLflow's single-workspace
server does; models of other workspaces are counted as not carried. A deleted version is a
``Deleted_Internal`` row (redacted, its tags kept): it is not imported, but its number stays
taken.
"""

from __future__ import annotations

import array
import math
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from ..entities import Dataset, DatasetInput, InputTag, LifecycleStage, RunInfo
from ..store.sql.engine import resolve_url
from .records import (
    ExperimentRecord,
    MetricSeries,
    PointChunk,
    Problem,
    RegisteredModelRecord,
    RunRecord,
)
from .registry import MODELS, RawVersion, model_record
from .sources import Source

_FETCH = 100_000
#: Tables of what a trackstore store cannot hold, with what the summary calls them.
_UNCARRIED = (("trace_info", "traces"), ("logged_models", "logged models"))
#: MLflow's workspace of a single-workspace server (the only one trackstore imports).
_DEFAULT_WORKSPACE = "default"
_NAN = math.nan


def _read_only(uri: str) -> URL | str:
    """The URL to read *uri* with (an installed driver for a bare dialect); a SQLite file is
    opened with ``mode=ro``, so SQLite itself refuses every write."""
    url = resolve_url(uri)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return f"sqlite:///file:{url.database}?mode=ro&uri=true"
    return url


class MlflowSqlSource(Source):
    def __init__(self, uri: str, report: Problem, fetch: int = _FETCH) -> None:
        super().__init__(report)
        url = make_url(uri)
        self.description = url.render_as_string(hide_password=True)
        self.identity = "mlflow-sql:" + self.description
        self.engine = sa.create_engine(_read_only(uri))
        self.fetch = fetch
        self.meta = sa.MetaData()
        self.meta.reflect(self.engine)
        self.tables = self.meta.tables
        self._counts: dict[str, int] = {}

    def close(self) -> None:
        self.engine.dispose()

    def _has(self, table: str, column: str | None = None) -> bool:
        t = self.tables.get(table)
        return t is not None and (column is None or column in t.c)

    def _col(self, table: str, column: str) -> Any:
        t = self.tables[table]
        return t.c[column] if column in t.c else sa.null().label(column)

    def experiments(self) -> list[ExperimentRecord]:
        e = self.tables["experiments"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(
                e.c.experiment_id, e.c.name, e.c.artifact_location, e.c.lifecycle_stage,
                self._col("experiments", "creation_time"),
                self._col("experiments", "last_update_time")).order_by(e.c.experiment_id)).all()
            tags: dict[str, dict[str, str]] = {}
            if self._has("experiment_tags"):
                t = self.tables["experiment_tags"]
                for exp_id, key, value in conn.execute(sa.select(t.c.experiment_id, t.c.key,
                                                                 t.c.value)):
                    tags.setdefault(str(exp_id), {})[key] = value if value is not None else ""
            if self._has("inputs"):
                i = self.tables["inputs"]
                outputs = conn.execute(sa.select(sa.func.count()).select_from(i).where(
                    i.c.destination_type == "MODEL_OUTPUT")).scalar_one()
                if outputs:
                    self._counts["logged model outputs of runs"] = int(outputs)
            for table, what in _UNCARRIED:
                if self._has(table):
                    n = conn.execute(sa.select(sa.func.count()).select_from(
                        self.tables[table])).scalar_one()
                    if n:
                        self._counts[what] = int(n)
        return [ExperimentRecord(
            experiment_id=str(r.experiment_id), name=r.name,
            artifact_location=r.artifact_location or None,
            lifecycle_stage=r.lifecycle_stage or LifecycleStage.ACTIVE,
            creation_time=r.creation_time, last_update_time=r.last_update_time,
            tags=tags.get(str(r.experiment_id), {}),
            where=f"{self.description} experiment {r.experiment_id}") for r in rows]

    def uncarried(self) -> dict[str, int]:
        return dict(self._counts)

    def _registry_rows(self, conn: Any, table: str, *columns: str) -> list[Any]:
        """The rows of *table*'s *columns* in the default workspace ([] without the table; a
        column the schema lacks reads as NULL)."""
        if not self._has(table):
            return []
        t = self.tables[table]
        stmt = sa.select(*(self._col(table, c) for c in columns))
        if "workspace" in t.c:
            stmt = stmt.where(t.c.workspace == _DEFAULT_WORKSPACE)
        return list(conn.execute(stmt))

    def registered_models(self) -> list[RegisteredModelRecord]:
        if not self._has("registered_models"):
            return []
        with self.engine.connect() as conn:
            rm = self.tables["registered_models"]
            if "workspace" in rm.c:
                others = conn.execute(sa.select(sa.func.count()).select_from(rm).where(
                    rm.c.workspace != _DEFAULT_WORKSPACE)).scalar_one()
                if others:
                    self._counts[f"{MODELS} of other workspaces than default"] = int(others)
            models = self._registry_rows(conn, "registered_models", "name", "creation_time",
                                         "last_updated_time", "description")
            tags: dict[str, dict[str, Any]] = {}
            for key, value, name in self._registry_rows(conn, "registered_model_tags", "key",
                                                        "value", "name"):
                tags.setdefault(name, {})[key] = value
            aliases: dict[str, dict[str, Any]] = {}
            for alias, version, name in self._registry_rows(conn, "registered_model_aliases",
                                                            "alias", "version", "name"):
                aliases.setdefault(name, {})[alias] = version
            version_tags: dict[tuple[str, int], dict[str, Any]] = {}
            for key, value, name, version in self._registry_rows(
                    conn, "model_version_tags", "key", "value", "name", "version"):
                version_tags.setdefault((name, int(version)), {})[key] = value
            versions: dict[str, list[RawVersion]] = {}
            for r in self._registry_rows(
                    conn, "model_versions", "name", "version", "creation_time",
                    "last_updated_time", "description", "user_id", "current_stage", "source",
                    "storage_location", "run_id", "run_link", "status", "status_message"):
                number = int(r.version)
                versions.setdefault(r.name, []).append(RawVersion(
                    version=number, creation_time=r.creation_time,
                    last_updated_time=r.last_updated_time, description=r.description,
                    user_id=r.user_id, current_stage=r.current_stage, source=r.source,
                    storage_location=r.storage_location, run_id=r.run_id,
                    run_link=r.run_link, model_id=None, status=r.status,
                    status_message=r.status_message,
                    tags=version_tags.get((r.name, number), {}),
                    where=f"{self.description} model version {r.name} {number}"))
        found = []
        for name, created, updated, description in sorted(models, key=lambda r: r[0]):
            record = model_record(name, created, updated, description, None,
                                  tags.get(name, {}), aliases.get(name, {}),
                                  versions.get(name, []),
                                  f"{self.description} registered model {name}", self.report)
            if record is not None:
                found.append(record)
        return found

    def run_locators(self, experiment: ExperimentRecord) -> list[str]:
        r = self.tables["runs"]
        with self.engine.connect() as conn:
            return [row[0] for row in conn.execute(
                sa.select(r.c.run_uuid).where(r.c.experiment_id == int(experiment.experiment_id))
                .order_by(r.c.start_time, r.c.run_uuid))]

    def read_run(self, experiment: ExperimentRecord, locator: str) -> RunRecord | None:
        r = self.tables["runs"]
        where = f"{self.description} run {locator}"
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(
                r.c.run_uuid, r.c.experiment_id, r.c.user_id, r.c.status, r.c.start_time,
                r.c.end_time, r.c.lifecycle_stage, r.c.artifact_uri,
                self._col("runs", "name"), self._col("runs", "deleted_time"))
                .where(r.c.run_uuid == locator)).first()
            if row is None:
                self.report(where, "run skipped: it was deleted while the import read it")
                return None
            params = self._pairs(conn, "params", "key", locator)
            tags = self._pairs(conn, "tags", "key", locator)
            m = self.tables["metrics"]
            metrics = []
            for key, count, max_ts, max_step, total in conn.execute(
                    sa.select(m.c.key, sa.func.count(), sa.func.max(m.c.timestamp),
                              sa.func.max(m.c.step), sa.func.sum(m.c.value))
                    .where(m.c.run_uuid == locator).group_by(m.c.key).order_by(m.c.key)):
                metrics.append(MetricSeries(key=key, signature=f"{count}:{max_ts}:{max_step}:"
                                                               f"{total!r}", size=int(count)))
            datasets = self._datasets(conn, locator)
        status = row.status if row.status in ("RUNNING", "SCHEDULED", "FINISHED", "FAILED",
                                              "KILLED") else None
        if status is None:
            self.report(where, f"run skipped: unknown status {row.status!r}")
            return None
        info = RunInfo(run_id=row.run_uuid, experiment_id=str(row.experiment_id),
                       user_id=row.user_id if row.user_id is not None else "unknown",
                       status=status, start_time=row.start_time, end_time=row.end_time,
                       lifecycle_stage=row.lifecycle_stage or LifecycleStage.ACTIVE,
                       artifact_uri=row.artifact_uri,
                       run_name=row.name or tags.get("mlflow.runName") or None)
        record = RunRecord(info=info, deleted_time=row.deleted_time, params=params, tags=tags,
                           datasets=datasets[0], model_inputs=datasets[1], metrics=metrics,
                           where=where)
        record.compute_fingerprint()
        return record

    def _pairs(self, conn: Any, table: str, key: str, run_id: str) -> dict[str, str]:
        t = self.tables[table]
        return {k: (v if v is not None else "") for k, v in conn.execute(
            sa.select(t.c[key], t.c.value).where(t.c.run_uuid == run_id))}

    def _datasets(self, conn: Any, run_id: str) -> tuple[list[DatasetInput], list[str]]:
        if not self._has("inputs"):
            return [], []
        i = self.tables["inputs"]
        rows = conn.execute(sa.select(i.c.input_uuid, i.c.source_type, i.c.source_id)
                            .where(i.c.destination_type == "RUN", i.c.destination_id == run_id)
                            .order_by(i.c.input_uuid)).all()
        found: list[DatasetInput] = []
        models: list[str] = []
        if not rows:
            return found, models
        d = self.tables.get("datasets")
        t = self.tables.get("input_tags")
        for input_uuid, source_type, source_id in rows:
            if source_type == "MODEL":
                models.append(source_id)
                continue
            if source_type != "DATASET" or d is None:
                continue
            ds = conn.execute(sa.select(d).where(d.c.dataset_uuid == source_id)).first()
            if ds is None:
                self.report(f"{self.description} run {run_id}",
                            f"dataset input skipped: dataset {source_id} is missing")
                continue
            tags = [] if t is None else [InputTag(n, v) for n, v in conn.execute(
                sa.select(t.c.name, t.c.value).where(t.c.input_uuid == input_uuid)
                .order_by(t.c.name))]
            found.append(DatasetInput(Dataset(
                name=ds.name, digest=ds.digest, source_type=ds.dataset_source_type,
                source=ds.dataset_source, schema=ds.dataset_schema,
                profile=ds.dataset_profile), tags))
        found.sort(key=lambda x: (x.dataset.name, x.dataset.digest))
        return found, models

    def points(self, run: RunRecord, series: MetricSeries, offset: int) -> Iterator[PointChunk]:
        m = self.tables["metrics"]
        stmt = (sa.select(m.c.timestamp, m.c.step, m.c.value, m.c.is_nan)
                .where(m.c.run_uuid == run.info.run_id, m.c.key == series.key)
                .order_by(m.c.step, m.c.timestamp, m.c.value))
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True,
                                            yield_per=self.fetch).execute(stmt)
            rows = result.fetchmany(self.fetch)
            while True:
                following = result.fetchmany(self.fetch) if len(rows) == self.fetch else []
                ts = array.array("q", [r[0] if r[0] is not None else 0 for r in rows])
                steps = array.array("q", [r[1] if r[1] is not None else 0 for r in rows])
                values = array.array("d", [_NAN if r[3] else float(r[2]) for r in rows])
                yield PointChunk(series.key, ts, values, steps, final=not following)
                if not following:
                    return
                rows = following
