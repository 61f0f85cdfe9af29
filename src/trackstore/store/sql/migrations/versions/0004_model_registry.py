"""Model registry: registered models, their versions, tags and aliases.

``registered_models``, ``registered_model_tags``, ``model_versions``, ``model_version_tags``
and ``registered_model_aliases``, as :mod:`trackstore.store.sql.schema` declares (and
:mod:`trackstore.store.sql.registry` explains) them. Every child table references a model by
its integer ``model_key``, so renaming a model updates one row.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from trackstore.store.sql.schema import long_text, string, surrogate_key

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

# Values as of this revision (a later change to schema.py needs a revision of its own).
MODEL_STAGES = ("None", "Staging", "Production", "Archived")
MODEL_VERSION_STATUSES = ("PENDING_REGISTRATION", "FAILED_REGISTRATION", "READY")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _model_key() -> sa.Column[int]:
    return sa.Column("model_key", sa.BigInteger(), nullable=False)


def _references_model(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["model_key"], ["registered_models.model_key"],
                                   ondelete="CASCADE",
                                   name=f"fk_{table}_model_key_registered_models")


def _references_version(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["model_key", "version"],
                                   ["model_versions.model_key", "model_versions.version"],
                                   ondelete="CASCADE",
                                   name=f"fk_{table}_model_key_model_versions")


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("model_key", surrogate_key(), sa.Identity(start=1), nullable=False),
        sa.Column("name", string(256), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=True),
        sa.Column("last_updated_time", sa.BigInteger(), nullable=True),
        sa.Column("description", long_text(), nullable=True),
        sa.Column("deployment_job_id", string(256), nullable=True),
        sa.Column("next_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("model_key", name="pk_registered_models"),
        sa.UniqueConstraint("name", name="uq_registered_models_name"),
    )
    op.create_table(
        "registered_model_tags",
        _model_key(),
        sa.Column("key", string(250), nullable=False),
        sa.Column("value", long_text(), nullable=False),
        sa.PrimaryKeyConstraint("model_key", "key", name="pk_registered_model_tags"),
        _references_model("registered_model_tags"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "model_versions",
        _model_key(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=True),
        sa.Column("last_updated_time", sa.BigInteger(), nullable=True),
        sa.Column("description", long_text(), nullable=True),
        sa.Column("user_id", string(256), nullable=True),
        sa.Column("current_stage", string(20), nullable=False),
        sa.Column("source", long_text(), nullable=False),
        sa.Column("storage_location", long_text(), nullable=True),
        sa.Column("run_id", string(256), nullable=True),
        sa.Column("run_link", long_text(), nullable=True),
        sa.Column("model_id", string(256), nullable=True),
        sa.Column("status", string(20), nullable=False),
        sa.Column("status_message", long_text(), nullable=True),
        sa.PrimaryKeyConstraint("model_key", "version", name="pk_model_versions"),
        _references_model("model_versions"),
        sa.CheckConstraint(_one_of("current_stage", MODEL_STAGES),
                           name="ck_model_versions_current_stage"),
        sa.CheckConstraint(_one_of("status", MODEL_VERSION_STATUSES),
                           name="ck_model_versions_status"),
    )
    op.create_index("ix_model_versions_run_id", "model_versions", ["run_id"])
    op.create_index("ix_model_versions_last_updated_time", "model_versions",
                    ["last_updated_time"])
    op.create_table(
        "model_version_tags",
        _model_key(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("key", string(250), nullable=False),
        sa.Column("value", long_text(), nullable=False),
        sa.PrimaryKeyConstraint("model_key", "version", "key", name="pk_model_version_tags"),
        _references_version("model_version_tags"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "registered_model_aliases",
        _model_key(),
        sa.Column("alias", string(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("model_key", "alias", name="pk_registered_model_aliases"),
        _references_version("registered_model_aliases"),
    )


def downgrade() -> None:
    for table in ("registered_model_aliases", "model_version_tags", "model_versions",
                  "registered_model_tags", "registered_models"):
        op.drop_table(table)
