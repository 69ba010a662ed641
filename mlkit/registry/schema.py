"""The registry's tables as SQLAlchemy 2 typed ORM classes.

Every constraint has a name (from ``NAMING_CONVENTION``) so that later migrations can refer to it;
``migrations/versions/0001_initial.py`` creates exactly this schema (a test compares the two).
JSON columns use ``sqlalchemy.JSON`` (TEXT on SQLite, JSON on PostgreSQL).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("registry timestamps must be timezone-aware")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return (
            value.replace(tzinfo=timezone.utc)
            if value.tzinfo is None
            else value.astimezone(timezone.utc)
        )


Json = JSON(none_as_null=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: Json}


class ExperimentRow(Base):
    __tablename__ = "experiments"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'finished', 'failed')", name="status"),
        Index(None, "experiment_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id"))
    experiment_path: Mapped[str | None] = mapped_column(Text)
    spec_text: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    metrics: Mapped[dict[str, Any] | None]
    data_fingerprint: Mapped[dict[str, Any] | None]
    code_version: Mapped[str | None] = mapped_column(String(255))
    run_dir: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    environment: Mapped[dict[str, Any] | None]  # 0002
    tags: Mapped[dict[str, Any] | None]  # 0002
    data_stats: Mapped[dict[str, Any] | None]  # migration 0004
    # 0003: the search report (per-iteration candidates, final architecture, learning curves)
    # and the scikit-learn reference models on the same split (column ``baseline``).
    report: Mapped[dict[str, Any] | None]
    reference_models: Mapped[dict[str, Any] | None] = mapped_column("baseline", Json)
    # 0008: the process running it and its last sign of life, to recognise a dead run.
    pid: Mapped[int | None] = mapped_column(Integer)
    hostname: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None]


class ModelRow(Base):
    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63))
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # 0002: the last number handed out; deleted versions' numbers are never reused.
    last_version: Mapped[int | None] = mapped_column(Integer)


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("model_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    artifact_uri: Mapped[str] = mapped_column(Text)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    # 0002: BIGINT (SQLite's INTEGER is 64-bit already).
    size_bytes: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    metrics: Mapped[dict[str, Any] | None]
    signature: Mapped[dict[str, Any] | None]
    description: Mapped[str] = mapped_column(Text)
    tags: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]


class AliasRow(Base):
    __tablename__ = "aliases"
    __table_args__ = (
        UniqueConstraint("model_id", "alias"),
        ForeignKeyConstraint(
            ["model_id", "version"],
            ["model_versions.model_id", "model_versions.version"],
            name="fk_aliases_model_id_version_model_versions",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    alias: Mapped[str] = mapped_column(String(63))
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class VerdictRow(Base):
    __tablename__ = "verdicts"
    __table_args__ = (Index(None, "model_id", "candidate_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    candidate_version: Mapped[int] = mapped_column(Integer)
    baseline_version: Mapped[int | None] = mapped_column(Integer)
    metric: Mapped[str] = mapped_column(String(255))
    candidate_value: Mapped[float] = mapped_column(Float)
    baseline_value: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool] = mapped_column(Boolean)
    forced: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    # 0005: who overrode a failed verdict and why; the evaluation data's fingerprint.
    forced_by: Mapped[str | None] = mapped_column(String(255))
    force_reason: Mapped[str | None] = mapped_column(Text)
    data_fingerprint: Mapped[dict[str, Any] | None]


class DeploymentRow(Base):
    __tablename__ = "deployments"
    __table_args__ = (
        # At most one active deployment of a model version per endpoint (several versions of a
        # model may share an endpoint's traffic: a canary).
        Index(
            "uq_deployments_active",
            "model_id",
            "endpoint",
            "version",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    version: Mapped[int] = mapped_column(Integer)
    endpoint: Mapped[str] = mapped_column(String(255))
    verdict_id: Mapped[int | None] = mapped_column(ForeignKey("verdicts.id"))
    active: Mapped[bool] = mapped_column(Boolean)
    deployed_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]
    # 0005: promote | forced | traffic | rollback; the champion it replaced; who and why.
    action: Mapped[str | None] = mapped_column(String(16))
    previous_version: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(Text)
    rollback_to_id: Mapped[int | None] = mapped_column(Integer)  # what rolling this back restores
    # Share of the endpoint's traffic for this model, in percent (NULL: all of it).
    traffic_percent: Mapped[int | None] = mapped_column(Integer)
    # 0007: what the endpoint kind calls this deployment (e.g. Vertex AI resource names), a JSON
    # object of strings; NULL when the kind needs none (the local endpoint).
    resources: Mapped[dict[str, Any] | None]


class EventRow(Base):
    """Append-only. ``model`` is the name, not a key, so the log outlives anything it mentions."""

    __tablename__ = "events"
    __table_args__ = (Index(None, "model"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(63))
    version: Mapped[int | None] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any] | None]


class RunMetricRow(Base):
    """0002: a run's metrics by step (one row per run, metric and step)."""

    __tablename__ = "run_metrics"
    __table_args__ = (UniqueConstraint("run_id", "key", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    key: Mapped[str] = mapped_column(String(255))
    step: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime]


class PipelineRunRow(Base):
    """0009: one execution of a pipeline file, linked to what it produced."""

    __tablename__ = "pipeline_runs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'finished', 'failed', 'stopped')", name="status"),
        Index(None, "pipeline"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(63))
    path: Mapped[str | None] = mapped_column(Text)
    spec_text: Mapped[str] = mapped_column(Text)
    spec_sha256: Mapped[str] = mapped_column(String(64))
    backend: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    model: Mapped[str | None] = mapped_column(String(63))
    version: Mapped[int | None] = mapped_column(Integer)
    verdict_id: Mapped[int | None] = mapped_column(ForeignKey("verdicts.id"))
    deployment_id: Mapped[int | None] = mapped_column(ForeignKey("deployments.id"))
    resources: Mapped[dict[str, Any] | None]  # e.g. the Vertex AI PipelineJob's name
    pid: Mapped[int | None] = mapped_column(Integer)
    hostname: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class PipelineStepRow(Base):
    """0009: one step of a pipeline run, its inputs, outputs and cache key."""

    __tablename__ = "pipeline_steps"
    __table_args__ = (
        UniqueConstraint("pipeline_run_id", "name"),
        CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'skipped', 'cached')", name="status"
        ),
        Index(None, "name", "cache_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_run_id: Mapped[int] = mapped_column(ForeignKey("pipeline_runs.id"))
    name: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    cache_key: Mapped[str | None] = mapped_column(String(64))
    inputs: Mapped[dict[str, Any] | None]
    outputs: Mapped[dict[str, Any] | None]
    reason: Mapped[str | None] = mapped_column(Text)
    cached_from: Mapped[int | None] = mapped_column(Integer)  # the pipeline run it reused
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
