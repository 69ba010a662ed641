"""Per-run data statistics: runs.data_stats (count, missing, mean, std, min, max and a histogram
per feature; the label distribution), read back by `mlkit data drift`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


# Plain ALTER TABLE (not batch mode): on SQLite batch mode copies the table, which the foreign keys
# pointing at runs refuse.
def upgrade() -> None:
    op.add_column("runs", sa.Column("data_stats", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "data_stats")
