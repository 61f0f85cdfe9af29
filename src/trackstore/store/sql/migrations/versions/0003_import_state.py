"""Import state: what ``trackstore import`` brought in from each source.

``import_sources``, ``import_experiments``, ``import_runs`` and ``import_offsets``, as
:mod:`trackstore.store.sql.schema` declares (and explains) them.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from trackstore.store.sql.schema import long_text, string

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def _source_column() -> sa.Column[int]:
    return sa.Column("source_id", sa.Integer(), nullable=False)


def _references_source(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["source_id"], ["import_sources.source_id"],
                                   ondelete="CASCADE",
                                   name=f"fk_{table}_source_id_import_sources")


def upgrade() -> None:
    op.create_table(
        "import_sources",
        sa.Column("source_id", sa.Integer(), sa.Identity(start=1), nullable=False),
        sa.Column("digest", string(64), nullable=False),
        sa.Column("description", long_text(), nullable=False),
        sa.Column("last_import_time", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("source_id", name="pk_import_sources"),
        sa.UniqueConstraint("digest", name="uq_import_sources_digest"),
    )
    op.create_table(
        "import_experiments",
        _source_column(),
        sa.Column("source_experiment_id", string(64), nullable=False),
        sa.Column("experiment_id", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("source_id", "source_experiment_id",
                                name="pk_import_experiments"),
        _references_source("import_experiments"),
    )
    op.create_table(
        "import_runs",
        _source_column(),
        sa.Column("run_uuid", string(256), nullable=False),
        sa.Column("fingerprint", string(64), nullable=False),
        sa.PrimaryKeyConstraint("source_id", "run_uuid", name="pk_import_runs"),
        _references_source("import_runs"),
    )
    op.create_table(
        "import_offsets",
        _source_column(),
        sa.Column("run_uuid", string(256), nullable=False),
        sa.Column("key", string(250), nullable=False),
        sa.Column("byte_offset", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("source_id", "run_uuid", "key", name="pk_import_offsets"),
        _references_source("import_offsets"),
    )


def downgrade() -> None:
    for table in ("import_offsets", "import_runs", "import_experiments", "import_sources"):
        op.drop_table(table)
