"""Search indexes: the runs search order, the gc scan, metric filters across runs.

``ix_runs_search`` and ``ix_runs_deleted`` on ``runs``, ``ix_latest_metrics_key`` on
``latest_metrics``, as :mod:`trackstore.store.sql.schema` declares (and explains) them.

MySQL/MariaDB: the foreign key ``runs.experiment_id`` needs an index led by its column. Until
this revision InnoDB keeps one of its own (named after the constraint); creating
``ix_runs_search`` makes InnoDB drop it, and ``ix_runs_search`` cannot be dropped while the
key needs it. So the downgrade drops the key, then the index, and adds the key back, which gives
InnoDB's own index again: the database is as ``0001`` made it.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from trackstore.store.sql.schema import DescendingNullsLast

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_RUNS_EXPERIMENT_FK = "fk_runs_experiment_id_experiments"


def upgrade() -> None:
    op.create_index("ix_runs_search", "runs",
                    ["experiment_id", "lifecycle_stage", DescendingNullsLast("start_time"),
                     "run_uuid"])
    op.create_index("ix_runs_deleted", "runs", ["lifecycle_stage", "deleted_time"])
    op.create_index("ix_latest_metrics_key", "latest_metrics", ["key_id", "kind", "value"])


def downgrade() -> None:
    op.drop_index("ix_latest_metrics_key", table_name="latest_metrics")
    op.drop_index("ix_runs_deleted", table_name="runs")
    mysql = op.get_context().dialect.name in ("mysql", "mariadb")
    if mysql:
        op.drop_constraint(_RUNS_EXPERIMENT_FK, "runs", type_="foreignkey")
    op.drop_index("ix_runs_search", table_name="runs")
    if mysql:
        op.create_foreign_key(_RUNS_EXPERIMENT_FK, "runs", "experiments",
                              ["experiment_id"], ["experiment_id"])

