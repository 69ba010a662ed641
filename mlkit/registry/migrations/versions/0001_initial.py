"""The whole registry schema: experiments, runs, models, versions, aliases, verdicts,
deployments, events.

Revision ID: 0001
Revises:
Create Date: 2024-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _json(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.JSON(), nullable=nullable)


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "experiments",
        _id(),
        sa.Column("name", sa.String(255), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_experiments"),
        sa.UniqueConstraint("name", name="uq_experiments_name"),
    )
    op.create_table(
        "runs",
        _id(),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("experiment_path", sa.Text()),
        sa.Column("spec_text", sa.Text(), nullable=False),
        _json("params", nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _json("metrics"),
        _json("data_fingerprint"),
        sa.Column("code_version", sa.String(255)),
        sa.Column("run_dir", sa.Text()),
        sa.Column("error", sa.Text()),
        _ts("started_at"),
        _ts("finished_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.CheckConstraint("status IN ('running', 'finished', 'failed')", name="ck_runs_status"),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.id"], name="fk_runs_experiment_id_experiments"
        ),
    )
    op.create_index("ix_runs_experiment_id", "runs", ["experiment_id"])
    op.create_table(
        "models",
        _id(),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_models"),
        sa.UniqueConstraint("name", name="uq_models_name"),
    )
    op.create_table(
        "model_versions",
        _id(),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer()),
        sa.Column("artifact_uri", sa.Text(), nullable=False),
        sa.Column("artifact_sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        _json("metrics"),
        _json("signature"),
        sa.Column("description", sa.Text(), nullable=False),
        _json("tags"),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_model_versions"),
        sa.UniqueConstraint("model_id", "version", name="uq_model_versions_model_id_version"),
        sa.CheckConstraint("version >= 1", name="ck_model_versions_version_positive"),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name="fk_model_versions_model_id_models"
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_model_versions_run_id_runs"),
    )
    op.create_table(
        "aliases",
        _id(),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_aliases"),
        sa.UniqueConstraint("model_id", "alias", name="uq_aliases_model_id_alias"),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], name="fk_aliases_model_id_models"),
        sa.ForeignKeyConstraint(
            ["model_id", "version"],
            ["model_versions.model_id", "model_versions.version"],
            name="fk_aliases_model_id_version_model_versions",
        ),
    )
    op.create_table(
        "verdicts",
        _id(),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("candidate_version", sa.Integer(), nullable=False),
        sa.Column("baseline_version", sa.Integer()),
        sa.Column("metric", sa.String(255), nullable=False),
        sa.Column("candidate_value", sa.Float(), nullable=False),
        sa.Column("baseline_value", sa.Float()),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _json("details"),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_verdicts"),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], name="fk_verdicts_model_id_models"),
    )
    op.create_index(
        "ix_verdicts_model_id_candidate_version", "verdicts", ["model_id", "candidate_version"]
    )
    op.create_table(
        "deployments",
        _id(),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(255), nullable=False),
        sa.Column("verdict_id", sa.Integer()),
        sa.Column("active", sa.Boolean(), nullable=False),
        _ts("deployed_at"),
        _ts("retired_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deployments"),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], name="fk_deployments_model_id_models"),
        sa.ForeignKeyConstraint(
            ["verdict_id"], ["verdicts.id"], name="fk_deployments_verdict_id_verdicts"
        ),
    )
    op.create_index(
        "uq_deployments_active",
        "deployments",
        ["model_id", "endpoint"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.create_table(
        "events",
        _id(),
        _ts("at"),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("model", sa.String(63)),
        sa.Column("version", sa.Integer()),
        sa.Column("run_id", sa.Integer()),
        _json("payload"),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_model", "events", ["model"])


def downgrade() -> None:
    for table in (
        "events",
        "deployments",
        "verdicts",
        "aliases",
        "model_versions",
        "models",
        "runs",
        "experiments",
    ):
        op.drop_table(table)
