"""What recognises a dead run: the process id and host of the process running it and its last
heartbeat (runs.pid, runs.hostname, runs.heartbeat_at). A ``running`` run whose process is gone,
or whose heartbeat stopped, is shown as failed (``mlkit.registry.liveness``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("pid", sa.Integer()),
    ("hostname", sa.String(255)),
    ("heartbeat_at", sa.DateTime(timezone=True)),
)


# Plain ALTER TABLE to add (batch mode would copy runs, which the foreign keys pointing at it
# refuse on SQLite); dropping a column needs SQLite 3.35 or later.
def upgrade() -> None:
    for name, type_ in _COLUMNS:
        op.add_column("runs", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    for name, _ in reversed(_COLUMNS):
        op.drop_column("runs", name)
