"""Deployments keep what their endpoint kind calls them in one JSON column, ``resources``.

The four Vertex AI columns of 0006 (``vertex_model``, ``vertex_model_version``,
``vertex_endpoint``, ``vertex_deployed_model_id``) move into ``resources`` as the keys ``model``,
``model_version``, ``endpoint`` and ``deployed_model_id``, and are dropped: every endpoint kind
records its identifiers the same way. Deployments of a forced verdict that recorded no actor
(forced canaries and forced Vertex AI deploys before 0007) get the verdict's `forced_by` and
`force_reason`. Downgrading moves the Vertex columns back (other keys are lost).

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
    _backfill_forced(conn)
    _drop_active_index()
    with op.batch_alter_table("deployments") as batch:
        for name, _, _ in _VERTEX:
            batch.drop_column(name)
    _create_active_index()


def _backfill_forced(conn: sa.Connection) -> None:
    """Before 0007 a forced canary or a forced Vertex AI deploy recorded who and why on its
    verdict only: give such deployments the verdict's ``forced_by`` and ``force_reason``."""
    deployments = sa.table(
        "deployments", sa.column("id", sa.Integer()), sa.column("verdict_id", sa.Integer()),
        sa.column("action", sa.String(16)), sa.column("actor", sa.String(255)),
        sa.column("reason", sa.Text()),
    )  # fmt: skip
    verdicts = sa.table(
        "verdicts", sa.column("id", sa.Integer()), sa.column("forced", sa.Boolean()),
        sa.column("forced_by", sa.String(255)), sa.column("force_reason", sa.Text()),
    )  # fmt: skip
    rows = conn.execute(
        sa.select(deployments.c.id, verdicts.c.forced_by, verdicts.c.force_reason)
        .join(verdicts, verdicts.c.id == deployments.c.verdict_id)
        .where(verdicts.c.forced.is_(True), deployments.c.actor.is_(None))
    ).all()
    for row in rows:
        conn.execute(
            sa.update(deployments)
            .where(deployments.c.id == row.id)
            .values(action="forced", actor=row.forced_by, reason=row.force_reason)
        )


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
