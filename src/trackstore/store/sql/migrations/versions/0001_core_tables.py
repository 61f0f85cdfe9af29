"""Core tables: experiments, runs, their params and tags, metrics, datasets and inputs.

Everything in :mod:`trackstore.store.sql.schema` except the search and gc indexes (``0002``).
Column types come from the schema module's helpers (:func:`~..schema.string`,
:func:`~..schema.long_text`, :func:`~..schema.surrogate_key`) and constraint names are written
out as :data:`~..schema.NAMING_CONVENTION` gives them, so a migrated database and a
``metadata.create_all()`` one are the same on every dialect.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from trackstore.store.sql.schema import long_text, string, surrogate_key

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Values as of this revision (a later change to schema.py needs a revision of its own).
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
LIFECYCLE_STAGES = ("active", "deleted")
# A range, not an IN list: SQLite builds a temporary index for an IN list at every row.
_KIND_CHECK = "kind BETWEEN 0 AND 3"  # the kinds of schema.py, frozen as of this revision


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _stage_check(table: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(_one_of("lifecycle_stage", LIFECYCLE_STAGES),
                              name=f"ck_{table}_lifecycle_stage")


def _references_run(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["run_key"], ["runs.run_key"], ondelete="CASCADE",
                                   name=f"fk_{table}_run_key_runs")


def _metric_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("run_key", sa.BigInteger(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(53), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=True),
    ]


def _per_run(table: str) -> None:
    op.create_table(
        table,
        sa.Column("run_key", sa.BigInteger(), nullable=False),
        sa.Column("key", string(250), nullable=False),
        sa.Column("value", long_text(), nullable=False),
        sa.PrimaryKeyConstraint("run_key", "key", name=f"pk_{table}"),
        _references_run(table),
        sqlite_with_rowid=False,
    )


def upgrade() -> None:
    op.create_table(
        "id_counters",
        sa.Column("name", string(32), nullable=False),
        sa.Column("next_value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_id_counters"),
    )
    op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", string(500), nullable=False),
        sa.Column("artifact_location", string(2048), nullable=True),
        sa.Column("lifecycle_stage", string(20), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=True),
        sa.Column("last_update_time", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("experiment_id", name="pk_experiments"),
        sa.UniqueConstraint("name", name="uq_experiments_name"),
        _stage_check("experiments"),
    )
    op.create_table(
        "experiment_tags",
        sa.Column("experiment_id", sa.BigInteger(), nullable=False),
        sa.Column("key", string(250), nullable=False),
        sa.Column("value", long_text(), nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", "key", name="pk_experiment_tags"),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.experiment_id"],
                                ondelete="CASCADE",
                                name="fk_experiment_tags_experiment_id_experiments"),
    )
    op.create_table(
        "runs",
        sa.Column("run_key", surrogate_key(), sa.Identity(start=1), nullable=False),
        sa.Column("run_uuid", string(256), nullable=False),
        sa.Column("experiment_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", string(256), nullable=True),
        sa.Column("status", string(20), nullable=False),
        sa.Column("start_time", sa.BigInteger(), nullable=True),
        sa.Column("end_time", sa.BigInteger(), nullable=True),
        sa.Column("lifecycle_stage", string(20), nullable=False),
        sa.Column("deleted_time", sa.BigInteger(), nullable=True),
        sa.Column("artifact_uri", string(4000), nullable=True),
        sa.PrimaryKeyConstraint("run_key", name="pk_runs"),
        sa.UniqueConstraint("run_uuid", name="uq_runs_run_uuid"),
        sa.CheckConstraint(_one_of("status", RUN_STATUSES), name="ck_runs_status"),
        _stage_check("runs"),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.experiment_id"],
                                name="fk_runs_experiment_id_experiments"),
    )
    _per_run("run_params")
    _per_run("run_tags")
    op.create_table(
        "metric_keys",
        sa.Column("key_id", sa.Integer(), sa.Identity(start=1), nullable=False),
        sa.Column("key", string(250), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name="pk_metric_keys"),
        sa.UniqueConstraint("key", name="uq_metric_keys_key"),
    )
    op.create_table(
        "metric_datasets",
        sa.Column("dataset_id", sa.Integer(), sa.Identity(start=1), nullable=False),
        sa.Column("name", string(500), nullable=False),
        sa.Column("digest", string(36), nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", name="pk_metric_datasets"),
        sa.UniqueConstraint("name", "digest", name="uq_metric_datasets_name_digest"),
    )
    # No primary key: InnoDB clusters on the unique key, SQL Server is told to (schema doc).
    op.create_table(
        "metrics",
        *_metric_columns(),
        sa.UniqueConstraint("run_key", "key_id", "step", "timestamp", "kind", "value",
                            name="uq_metrics_point", mssql_clustered=True),
        sa.CheckConstraint(_KIND_CHECK, name="ck_metrics_kind"),
    )
    op.create_table(
        "latest_metrics",
        *_metric_columns(),
        sa.PrimaryKeyConstraint("run_key", "key_id", name="pk_latest_metrics"),
        sa.CheckConstraint(_KIND_CHECK, name="ck_latest_metrics_kind"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "datasets",
        sa.Column("dataset_key", surrogate_key(), sa.Identity(start=1), nullable=False),
        sa.Column("experiment_id", sa.BigInteger(), nullable=False),
        sa.Column("name", string(500), nullable=False),
        sa.Column("digest", string(36), nullable=False),
        sa.Column("source_type", string(36), nullable=False),
        sa.Column("source", long_text(), nullable=False),
        sa.Column("schema", long_text(), nullable=True),
        sa.Column("profile", long_text(), nullable=True),
        sa.PrimaryKeyConstraint("dataset_key", name="pk_datasets"),
        sa.UniqueConstraint("experiment_id", "name", "digest", name="uq_datasets_identity"),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.experiment_id"],
                                ondelete="CASCADE",
                                name="fk_datasets_experiment_id_experiments"),
    )
    op.create_table(
        "run_inputs",
        sa.Column("run_key", sa.BigInteger(), nullable=False),
        sa.Column("dataset_key", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_key", "dataset_key", name="pk_run_inputs"),
        _references_run("run_inputs"),
        sa.ForeignKeyConstraint(["dataset_key"], ["datasets.dataset_key"], ondelete="CASCADE",
                                name="fk_run_inputs_dataset_key_datasets"),
    )
    op.create_index("ix_run_inputs_dataset_key", "run_inputs", ["dataset_key"])
    op.create_table(
        "run_input_tags",
        sa.Column("run_key", sa.BigInteger(), nullable=False),
        sa.Column("dataset_key", sa.BigInteger(), nullable=False),
        sa.Column("key", string(255), nullable=False),
        sa.Column("value", string(500), nullable=False),
        sa.PrimaryKeyConstraint("run_key", "dataset_key", "key", name="pk_run_input_tags"),
        sa.ForeignKeyConstraint(["run_key", "dataset_key"],
                                ["run_inputs.run_key", "run_inputs.dataset_key"],
                                ondelete="CASCADE", name="fk_run_input_tags_run_key_run_inputs"),
    )
    op.create_table(
        "run_model_inputs",
        sa.Column("run_key", sa.BigInteger(), nullable=False),
        sa.Column("model_id", string(256), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_key", "model_id", name="pk_run_model_inputs"),
        _references_run("run_model_inputs"),
    )


def downgrade() -> None:
    for table in ("run_model_inputs", "run_input_tags", "run_inputs", "datasets",
                  "latest_metrics", "metrics", "metric_datasets", "metric_keys", "run_tags",
                  "run_params", "runs", "experiment_tags", "experiments", "id_counters"):
        op.drop_table(table)
