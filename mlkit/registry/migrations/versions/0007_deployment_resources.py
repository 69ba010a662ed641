"""Deployments keep what their endpoint kind calls them in one JSON column, ``resources``.

The four Vertex AI columns of 0006 (``vertex_model``, ``vertex_model_version``,
``vertex_endpoint``, ``vertex_deployed_model_id``) move into ``resources`` as the keys ``model``,
``model_version``, ``endpoint`` and ``deployed_model_id``, and are dropped: every endpoint kind
records its identifiers the same way. Downgrading moves them back (other keys are lost).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.sql.expression import ColumnClause

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# 0006 column -> key in resources
_VERTEX = (
    ("vertex_model", "model", sa.Text()),
    ("vertex_model_version", "model_version", sa.String(64)),
    ("vertex_endpoint", "endpoint", sa.Text()),
    ("vertex_deployed_model_id", "deployed_model_id", sa.String(64)),
)


def _deployments(*columns: ColumnClause[Any]) -> sa.TableClause:
    return sa.table("deployments", sa.column("id", sa.Integer()), *columns)


def _drop_active_index() -> None:
    # Recreated by hand around the batch (SQLite rebuilds the table; its partial index's WHERE
    # is not carried over by reflection on every SQLAlchemy version).
    op.drop_index("uq_deployments_active", table_name="deployments")


def _create_active_index() -> None:
    op.create_index(
        "uq_deployments_active",
        "deployments",
        ["model_id", "endpoint", "version"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )


def upgrade() -> None:
    op.add_column("deployments", sa.Column("resources", sa.JSON(), nullable=True))
    conn = op.get_bind()
    old = _deployments(*(sa.column(name, type_) for name, _, type_ in _VERTEX))
    new = _deployments(sa.column("resources", sa.JSON()))
    rows = conn.execute(
        sa.select(old).where(sa.or_(*(old.c[name].isnot(None) for name, _, _ in _VERTEX)))
    ).all()
    for row in rows:
        resources = {key: row._mapping[name] for name, key, _ in _VERTEX if row._mapping[name]}
        if resources:
            conn.execute(sa.update(new).where(new.c.id == row.id).values(resources=resources))
    _drop_active_index()
    with op.batch_alter_table("deployments") as batch:
        for name, _, _ in _VERTEX:
            batch.drop_column(name)
    _create_active_index()


def downgrade() -> None:
    for name, _, type_ in _VERTEX:
        op.add_column("deployments", sa.Column(name, type_, nullable=True))
    conn = op.get_bind()
    old = _deployments(*(sa.column(name, type_) for name, _, type_ in _VERTEX))
    new = _deployments(sa.column("resources", sa.JSON()))
    for row in conn.execute(sa.select(new).where(new.c.resources.isnot(None))).all():
        resources = row.resources or {}
        values = {name: resources.get(key) for name, key, _ in _VERTEX if resources.get(key)}
        if values:
            conn.execute(sa.update(old).where(old.c.id == row.id).values(**values))
    _drop_active_index()
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("resources")
    _create_active_index()
