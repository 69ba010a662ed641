"""Traffic split and Vertex AI resource names on deployments.

Several active deployments of one model on one endpoint (a canary), each with its share of the
traffic in percent; at most one active deployment per (model, endpoint, version). The Vertex AI
resource names of a deployment made there: model, model version id, endpoint, deployed model id.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("traffic_percent", sa.Integer()),
    ("vertex_model", sa.Text()),
    ("vertex_model_version", sa.String(64)),
    ("vertex_endpoint", sa.Text()),
    ("vertex_deployed_model_id", sa.String(64)),
)


def upgrade() -> None:
    for name, type_ in _COLUMNS:
        op.add_column("deployments", sa.Column(name, type_, nullable=True))
    op.drop_index("uq_deployments_active", table_name="deployments")
    op.create_index(
        "uq_deployments_active",
        "deployments",
        ["model_id", "endpoint", "version"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )


def downgrade() -> None:
    op.drop_index("uq_deployments_active", table_name="deployments")
    op.create_index(
        "uq_deployments_active",
        "deployments",
        ["model_id", "endpoint"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    with op.batch_alter_table("deployments") as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
