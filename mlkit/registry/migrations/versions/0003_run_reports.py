"""Runs keep their search report (per-iteration candidates, final architecture, learning curves)
and the scikit-learn baseline fitted on the same split.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


# Plain ALTER TABLE (not batch mode): on SQLite batch mode copies the table, which the foreign keys
# pointing at runs refuse.
def upgrade() -> None:
    op.add_column("runs", sa.Column("report", sa.JSON(), nullable=True))
    op.add_column("runs", sa.Column("baseline", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "baseline")
    op.drop_column("runs", "report")
