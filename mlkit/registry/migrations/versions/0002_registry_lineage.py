"""Registry: metrics by step, run environment and tags, never-reused version numbers.

- ``run_metrics``: one row per (run, metric, step), for learning curves and search reports.
- ``runs.environment``, ``runs.tags``: where a run ran (Python, platform, packages) and its labels.
- ``models.last_version``: the last number handed out, so a deleted version's number is never
  handed out again (backfilled from the versions present).
- ``model_versions.size_bytes`` as BIGINT on PostgreSQL (INTEGER stops at 2 GiB; SQLite's INTEGER
  is already 64-bit).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_run_metrics"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_run_metrics_run_id_runs"),
        sa.UniqueConstraint("run_id", "key", "step", name="uq_run_metrics_run_id_key_step"),
    )
    # Plain ADD/DROP COLUMN (SQLite has both since 3.35): batch mode would copy the tables, which
    # the foreign keys pointing at them refuse.
    op.add_column("runs", sa.Column("environment", sa.JSON(), nullable=True))
    op.add_column("runs", sa.Column("tags", sa.JSON(), nullable=True))
    op.add_column("models", sa.Column("last_version", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("model_versions", "size_bytes", type_=sa.BigInteger())
    op.execute(
        "UPDATE models SET last_version = "
        "(SELECT MAX(version) FROM model_versions WHERE model_versions.model_id = models.id)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("model_versions", "size_bytes", type_=sa.Integer())
    op.drop_column("models", "last_version")
    op.drop_column("runs", "tags")
    op.drop_column("runs", "environment")
    op.drop_table("run_metrics")
