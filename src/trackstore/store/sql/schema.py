"""trackstore's SQL schema (SQLAlchemy Core), the same on every dialect.

This is not MLflow's schema: it is built for narrow, append-heavy metric tables and for
searches that run in the database. The alembic migrations in :mod:`.migrations` create and
evolve it; this module is the description of the head revision that the store's statements
and ``trackstore db check`` use.

Tables and why each index exists
--------------------------------
``id_counters``
    ``(name, next_value)``. Experiment ids are handed out by one ``UPDATE ... SET next_value =
    next_value + 1`` on the ``'experiment'`` row: no identity column, so the default
    experiment ``0`` and 18-digit ids imported from file stores are inserted like any other
    id on every dialect (no ``IDENTITY_INSERT``, no ``NO_AUTO_VALUE_ON_ZERO``), and an id is
    never reused after ``gc``.
``experiments``
    ``experiment_id`` is a BIGINT primary key. ``uq_experiments_name``: names are unique
    whatever the lifecycle stage, compared case-sensitively (MLflow's rule) and the index
    serves ``get_experiment_by_name``.
``experiment_tags``
    primary key ``(experiment_id, key)``: one value per key, and the tags of an experiment are
    one index range.
``runs``
    ``run_key`` is an integer surrogate (identity) that every per-run table references, so
    metric rows carry 8 bytes instead of a 32-character id. ``uq_runs_run_uuid`` maps the
    public id to it. ``ix_runs_search (experiment_id, lifecycle_stage, start_time DESC,
    run_uuid)`` is the search's default order (``start_time DESC, run_id``) within the
    experiments and view asked for: the first page of a search reads only that many entries.
    ``ix_runs_deleted (lifecycle_stage, deleted_time)`` finds what ``gc`` may remove.
    The run's name is its ``mlflow.runName`` tag (one source of truth, as MLflow's search
    treats it).
``run_params`` / ``run_tags``
    primary key ``(run_key, key)``: a run's params or tags are one range; a filter
    ``params.x = ...`` is a primary-key probe per candidate run. On SQLite these tables and
    ``latest_metrics`` are ``WITHOUT ROWID`` (stored in their primary key), which halves each
    probe of a search.
``metric_keys``
    every metric key ever logged, once, with a small integer id (``uq_metric_keys_key``);
    rows of ``metrics`` and ``latest_metrics`` carry the id. Keys are never deleted, so
    processes cache the mapping forever.
``metric_datasets``
    the ``(dataset_name, dataset_digest)`` pairs metric points may name, with an integer id,
    cached like the keys; ``metrics.dataset_id`` is NULL for the usual point without one.
``metrics``
    one narrow row per point: ``(run_key, key_id, step, timestamp, value, kind,
    dataset_id)``. ``kind`` says what ``value`` means (:data:`KIND_FINITE` for a number
    stored in ``value``; :data:`KIND_NAN`, :data:`KIND_NEG_INF`, :data:`KIND_POS_INF` with
    ``value = 0``): MySQL and SQL Server cannot store NaN or infinities in a float column
    and SQLite turns NaN into NULL, so this is what makes them round-trip exactly
    everywhere. ``uq_metrics_point (run_key, key_id, step, timestamp, kind, value)`` stores
    an exact duplicate point once (a retried ``log_batch`` is idempotent) and is the order
    of a metric's history: reading one metric of one run is one index range. There is no
    primary key: InnoDB clusters the table on this unique key and SQL Server is told to;
    the value is in no primary key.
``latest_metrics``
    the latest point of each ``(run_key, key_id)`` (its primary key), max by ``(step,
    timestamp, value)`` -- values ordered NaN < -inf < finite < +inf, which is what
    :data:`KIND_NAN` < :data:`KIND_NEG_INF` < :data:`KIND_FINITE` < :data:`KIND_POS_INF`
    gives. It is kept by one set-based upsert per batch, in key order.
    ``ix_latest_metrics_key (key_id, kind, value)`` serves filters and orderings on a metric
    across many runs.
``import_sources`` / ``import_experiments`` / ``import_runs`` / ``import_offsets``
    what ``trackstore import`` has brought in, per source (an ``mlruns`` tree, a database),
    so that running it again imports only what is new or changed, and an interrupted import
    resumes. ``import_sources.digest`` (unique) names the source; ``import_experiments`` maps
    a source experiment to the experiment it went to (and whether the import created it);
    ``import_runs`` holds the fingerprint of each run as last imported; ``import_offsets``
    where the next read of a run's metric file starts, written in the transaction that
    stores the points before it. Primary keys start with the source: one import's state is
    one index range.
``datasets``
    a dataset, once per experiment (``uq_datasets_identity (experiment_id, name, digest)``,
    as MLflow identifies them), with an integer ``dataset_key``.
``run_inputs`` / ``run_input_tags`` / ``run_model_inputs``
    which datasets (with their input tags) and which logged models a run used; primary keys
    start with ``run_key``: a run's inputs are one range. ``ix_run_inputs_dataset_key`` lets
    the removal of a dataset (with its experiment) find the inputs that name it.
``registered_models`` / ``registered_model_tags`` / ``model_versions`` /
``model_version_tags`` / ``registered_model_aliases``
    the model registry (migration 0004), keyed by an integer ``model_key`` so that a rename
    is one row; :mod:`.registry` explains each table, its indexes and its version counter.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mssql, mysql, postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine

#: What the ``kind`` column of ``metrics`` and ``latest_metrics`` says about ``value``.
KIND_NAN, KIND_NEG_INF, KIND_FINITE, KIND_POS_INF = 0, 1, 2, 3

#: Constraint names, the same on every dialect (so migrations can name them).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MSSQL_BINARY = "Latin1_General_100_BIN2"
MYSQL_BINARY = "utf8mb4_bin"
MARIADB_BINARY = "utf8mb4_nopad_bin"
MYSQL8_BINARY = "utf8mb4_0900_bin"
POSTGRES_BINARY = "C"

RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
LIFECYCLE_STAGES = ("active", "deleted")


def mysql_binary_collation(dialect: Dialect) -> str:
    """The binary collation of the MySQL/MariaDB server *dialect* talks to.

    ``utf8mb4_bin`` is ``PAD SPACE``: it ignores trailing blanks, so the keys ``'k'`` and
    ``'k '`` would be one row (a tag overwritten, two metrics merged). MariaDB's
    ``utf8mb4_nopad_bin`` and MySQL 8's ``utf8mb4_0900_bin`` compare every character. An
    older MySQL, or DDL rendered without a server, gets ``utf8mb4_bin``.
    """
    if getattr(dialect, "is_mariadb", False):
        return MARIADB_BINARY
    version = getattr(dialect, "server_version_info", None)
    if version is not None and tuple(version[:1]) >= (8,):
        return MYSQL8_BINARY
    return MYSQL_BINARY


class _BinaryText(TypeDecorator[str]):
    """A string type whose collation is binary on every dialect (see :func:`string`)."""

    impl = String
    cache_ok = True

    def __init__(self, length: int | None) -> None:
        super().__init__(length)
        self.length = length

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        n = self.length
        impl: TypeEngine[Any]
        if dialect.name == "postgresql":
            impl = (postgresql.VARCHAR(n, collation=POSTGRES_BINARY) if n
                    else postgresql.TEXT(collation=POSTGRES_BINARY))
        elif dialect.name in ("mysql", "mariadb"):
            collation = mysql_binary_collation(dialect)
            impl = (mysql.VARCHAR(n, charset="utf8mb4", collation=collation) if n
                    else mysql.MEDIUMTEXT(charset="utf8mb4", collation=collation))
        elif dialect.name == "mssql":
            impl = mssql.NVARCHAR(n, collation=MSSQL_BINARY)
        else:
            impl = String(n) if n else Text()
        return impl


def string(length: int) -> TypeEngine[str]:
    """A string column compared as Python compares ``str``: case-sensitively, by code point.

    Every text column has a binary collation, so equality, ``LIKE``, uniqueness and
    ``ORDER BY`` agree with the file store on every dialect: ``C`` on PostgreSQL (its
    default collation is the locale's), a binary no-pad collation on MySQL/MariaDB (the
    default is case-insensitive; see :func:`mysql_binary_collation`),
    ``Latin1_General_100_BIN2`` with ``NVARCHAR`` on SQL Server (the same; ``NVARCHAR`` keeps
    Unicode). SQLite compares strings bytewise already.
    """
    return _BinaryText(length)


def surrogate_key() -> TypeEngine[int]:
    """A 64-bit identity column; on SQLite ``INTEGER`` so it is the table's rowid."""
    return BigInteger().with_variant(Integer(), "sqlite")


def long_text() -> TypeEngine[str]:
    """Text longer than an indexable string (tag values: 8,000 characters; dataset sources)."""
    return _BinaryText(None)


class DescendingNullsLast(ColumnElement[Any]):
    """An index column in the order a search reads it: descending, NULLs last.

    Rendered ``start_time DESC NULLS LAST`` on PostgreSQL (whose descending indexes put NULLs
    first); SQLite, MySQL/MariaDB and SQL Server put NULLs last in a descending order already
    (and refuse ``NULLS LAST`` in an index), so there it is ``start_time DESC``.
    """

    inherit_cache = True

    def __init__(self, name: str) -> None:
        self.name = name


@compiles(DescendingNullsLast)
def _descending(element: DescendingNullsLast, compiler: Any, **_: Any) -> str:
    return f"{compiler.preparer.quote(element.name)} DESC"


@compiles(DescendingNullsLast, "postgresql")
def _descending_postgresql(element: DescendingNullsLast, compiler: Any, **_: Any) -> str:
    return f"{compiler.preparer.quote(element.name)} DESC NULLS LAST"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


metadata = MetaData(naming_convention=NAMING_CONVENTION)

id_counters = Table(
    "id_counters", metadata,
    Column("name", string(32), primary_key=True),
    Column("next_value", BigInteger, nullable=False),
)

experiments = Table(
    "experiments", metadata,
    Column("experiment_id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", string(500), nullable=False),
    Column("artifact_location", string(2048)),
    Column("lifecycle_stage", string(20), nullable=False),
    Column("creation_time", BigInteger),
    Column("last_update_time", BigInteger),
    UniqueConstraint("name"),
    CheckConstraint(_in("lifecycle_stage", LIFECYCLE_STAGES), name="lifecycle_stage"),
)

experiment_tags = Table(
    "experiment_tags", metadata,
    Column("experiment_id", BigInteger,
           ForeignKey("experiments.experiment_id", ondelete="CASCADE"), nullable=False),
    Column("key", string(250), nullable=False),
    Column("value", long_text(), nullable=False),
    PrimaryKeyConstraint("experiment_id", "key"),
)

runs = Table(
    "runs", metadata,
    Column("run_key", surrogate_key(), Identity(start=1), primary_key=True),
    Column("run_uuid", string(256), nullable=False),
    Column("experiment_id", BigInteger, ForeignKey("experiments.experiment_id"),
           nullable=False),
    Column("user_id", string(256)),
    Column("status", string(20), nullable=False),
    Column("start_time", BigInteger),
    Column("end_time", BigInteger),
    Column("lifecycle_stage", string(20), nullable=False),
    Column("deleted_time", BigInteger),
    Column("artifact_uri", string(4000)),
    UniqueConstraint("run_uuid"),
    CheckConstraint(_in("status", RUN_STATUSES), name="status"),
    CheckConstraint(_in("lifecycle_stage", LIFECYCLE_STAGES), name="lifecycle_stage"),
    Index("ix_runs_search", "experiment_id", "lifecycle_stage",
          DescendingNullsLast("start_time"), "run_uuid"),
    Index("ix_runs_deleted", "lifecycle_stage", "deleted_time"),
)


def _per_run(name: str, value_nullable: bool) -> Table:
    return Table(
        name, metadata,
        Column("run_key", BigInteger, ForeignKey("runs.run_key", ondelete="CASCADE"),
               nullable=False),
        Column("key", string(250), nullable=False),
        Column("value", long_text(), nullable=value_nullable),
        PrimaryKeyConstraint("run_key", "key"),
        sqlite_with_rowid=False,
    )


run_params = _per_run("run_params", value_nullable=False)
run_tags = _per_run("run_tags", value_nullable=False)

metric_keys = Table(
    "metric_keys", metadata,
    Column("key_id", Integer, Identity(start=1), primary_key=True),
    Column("key", string(250), nullable=False),
    UniqueConstraint("key"),
)

metric_datasets = Table(
    "metric_datasets", metadata,
    Column("dataset_id", Integer, Identity(start=1), primary_key=True),
    Column("name", string(500), nullable=False),
    Column("digest", string(36), nullable=False),
    UniqueConstraint("name", "digest"),
)

# A range, not an IN list: SQLite builds a temporary index for an IN list at every row.
_KIND_CHECK = f"kind BETWEEN {KIND_NAN} AND {KIND_POS_INF}"

#: The columns of ``metrics``' unique key: what makes two logged points the same point.
POINT_KEY = ("run_key", "key_id", "step", "timestamp", "kind", "value")

metrics = Table(
    "metrics", metadata,
    Column("run_key", BigInteger, nullable=False),
    Column("key_id", Integer, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Float(53), nullable=False),
    Column("kind", SmallInteger, nullable=False),
    Column("dataset_id", Integer),
    UniqueConstraint(*POINT_KEY, name="uq_metrics_point", mssql_clustered=True),
    CheckConstraint(_KIND_CHECK, name="kind"),
)

latest_metrics = Table(
    "latest_metrics", metadata,
    Column("run_key", BigInteger, nullable=False),
    Column("key_id", Integer, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Float(53), nullable=False),
    Column("kind", SmallInteger, nullable=False),
    Column("dataset_id", Integer),
    PrimaryKeyConstraint("run_key", "key_id"),
    CheckConstraint(_KIND_CHECK, name="kind"),
    Index("ix_latest_metrics_key", "key_id", "kind", "value"),
    sqlite_with_rowid=False,
)

datasets = Table(
    "datasets", metadata,
    Column("dataset_key", surrogate_key(), Identity(start=1), primary_key=True),
    Column("experiment_id", BigInteger,
           ForeignKey("experiments.experiment_id", ondelete="CASCADE"), nullable=False),
    Column("name", string(500), nullable=False),
    Column("digest", string(36), nullable=False),
    Column("source_type", string(36), nullable=False),
    Column("source", long_text(), nullable=False),
    Column("schema", long_text()),
    Column("profile", long_text()),
    UniqueConstraint("experiment_id", "name", "digest", name="uq_datasets_identity"),
)

run_inputs = Table(
    "run_inputs", metadata,
    Column("run_key", BigInteger, ForeignKey("runs.run_key", ondelete="CASCADE"),
           nullable=False),
    Column("dataset_key", BigInteger, ForeignKey("datasets.dataset_key", ondelete="CASCADE"),
           nullable=False),
    Column("position", Integer, nullable=False),
    PrimaryKeyConstraint("run_key", "dataset_key"),
    Index("ix_run_inputs_dataset_key", "dataset_key"),
)

run_input_tags = Table(
    "run_input_tags", metadata,
    Column("run_key", BigInteger, nullable=False),
    Column("dataset_key", BigInteger, nullable=False),
    Column("key", string(255), nullable=False),
    Column("value", string(500), nullable=False),
    PrimaryKeyConstraint("run_key", "dataset_key", "key"),
    ForeignKeyConstraint(["run_key", "dataset_key"],
                         ["run_inputs.run_key", "run_inputs.dataset_key"], ondelete="CASCADE"),
)

run_model_inputs = Table(
    "run_model_inputs", metadata,
    Column("run_key", BigInteger, ForeignKey("runs.run_key", ondelete="CASCADE"),
           nullable=False),
    Column("model_id", string(256), nullable=False),
    Column("position", Integer, nullable=False),
    PrimaryKeyConstraint("run_key", "model_id"),
)


import_sources = Table(
    "import_sources", metadata,
    Column("source_id", Integer, Identity(start=1), primary_key=True),
    Column("digest", string(64), nullable=False),
    Column("description", long_text(), nullable=False),
    Column("last_import_time", BigInteger),
    UniqueConstraint("digest"),
)

import_experiments = Table(
    "import_experiments", metadata,
    Column("source_id", Integer, ForeignKey("import_sources.source_id", ondelete="CASCADE"),
           nullable=False),
    Column("source_experiment_id", string(64), nullable=False),
    Column("experiment_id", BigInteger, nullable=False),
    Column("created", SmallInteger, nullable=False),
    PrimaryKeyConstraint("source_id", "source_experiment_id"),
)

import_runs = Table(
    "import_runs", metadata,
    Column("source_id", Integer, ForeignKey("import_sources.source_id", ondelete="CASCADE"),
           nullable=False),
    Column("run_uuid", string(256), nullable=False),
    Column("fingerprint", string(64), nullable=False),
    PrimaryKeyConstraint("source_id", "run_uuid"),
)

import_offsets = Table(
    "import_offsets", metadata,
    Column("source_id", Integer, ForeignKey("import_sources.source_id", ondelete="CASCADE"),
           nullable=False),
    Column("run_uuid", string(256), nullable=False),
    Column("key", string(250), nullable=False),
    Column("byte_offset", BigInteger, nullable=False),
    PrimaryKeyConstraint("source_id", "run_uuid", "key"),
)

# --- model registry (migration 0004) -------------------------------------------------------

MODEL_STAGES = ("None", "Staging", "Production", "Archived")
MODEL_VERSION_STATUSES = ("PENDING_REGISTRATION", "FAILED_REGISTRATION", "READY")

registered_models = Table(
    "registered_models", metadata,
    Column("model_key", surrogate_key(), Identity(start=1), primary_key=True),
    Column("name", string(256), nullable=False),
    Column("creation_time", BigInteger),
    Column("last_updated_time", BigInteger),
    Column("description", long_text()),
    Column("deployment_job_id", string(256)),
    Column("next_version", Integer, nullable=False),
    UniqueConstraint("name"),
)

registered_model_tags = Table(
    "registered_model_tags", metadata,
    Column("model_key", BigInteger,
           ForeignKey("registered_models.model_key", ondelete="CASCADE"), nullable=False),
    Column("key", string(250), nullable=False),
    Column("value", long_text(), nullable=False),
    PrimaryKeyConstraint("model_key", "key"),
    sqlite_with_rowid=False,
)

model_versions = Table(
    "model_versions", metadata,
    Column("model_key", BigInteger,
           ForeignKey("registered_models.model_key", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("creation_time", BigInteger),
    Column("last_updated_time", BigInteger),
    Column("description", long_text()),
    Column("user_id", string(256)),
    Column("current_stage", string(20), nullable=False),
    Column("source", long_text(), nullable=False),
    Column("storage_location", long_text()),
    Column("run_id", string(256)),
    Column("run_link", long_text()),
    Column("model_id", string(256)),
    Column("status", string(20), nullable=False),
    Column("status_message", long_text()),
    PrimaryKeyConstraint("model_key", "version"),
    CheckConstraint(_in("current_stage", MODEL_STAGES), name="current_stage"),
    CheckConstraint(_in("status", MODEL_VERSION_STATUSES), name="status"),
    Index("ix_model_versions_run_id", "run_id"),
    Index("ix_model_versions_last_updated_time", "last_updated_time"),
)

model_version_tags = Table(
    "model_version_tags", metadata,
    Column("model_key", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", string(250), nullable=False),
    Column("value", long_text(), nullable=False),
    PrimaryKeyConstraint("model_key", "version", "key"),
    ForeignKeyConstraint(["model_key", "version"],
                         ["model_versions.model_key", "model_versions.version"],
                         ondelete="CASCADE"),
    sqlite_with_rowid=False,
)

registered_model_aliases = Table(
    "registered_model_aliases", metadata,
    Column("model_key", BigInteger, nullable=False),
    Column("alias", string(255), nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("model_key", "alias"),
    ForeignKeyConstraint(["model_key", "version"],
                         ["model_versions.model_key", "model_versions.version"],
                         ondelete="CASCADE"),
)
