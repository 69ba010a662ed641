"""Promotion records: who forced a verdict and why, the verdict's data fingerprint, and on each
deployment what it did (promote, forced, rollback), the champion it replaced, who and why, and
which deployment a rollback of it restores.

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("verdicts") as batch:
        batch.add_column(sa.Column("forced_by", sa.String(255)))
        batch.add_column(sa.Column("force_reason", sa.Text()))
        batch.add_column(sa.Column("data_fingerprint", sa.JSON()))
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("action", sa.String(16)))
        batch.add_column(sa.Column("previous_version", sa.Integer()))
        batch.add_column(sa.Column("actor", sa.String(255)))
        batch.add_column(sa.Column("reason", sa.Text()))
        batch.add_column(sa.Column("rollback_to_id", sa.Integer()))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        for column in ("rollback_to_id", "reason", "actor", "previous_version", "action"):
            batch.drop_column(column)
    with op.batch_alter_table("verdicts") as batch:
        for column in ("data_fingerprint", "force_reason", "forced_by"):
            batch.drop_column(column)
