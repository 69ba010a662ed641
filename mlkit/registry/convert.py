"""ORM rows → entities. Called inside the session, so no row escapes it."""

from __future__ import annotations

from collections.abc import Iterable

from mlkit.quantities import canonical_metrics
from mlkit.registry import liveness
from mlkit.registry.entities import (
    Deployment,
    Event,
    ModelVersion,
    PipelineRun,
    PipelineStep,
    Run,
    Verdict,
)
from mlkit.registry.schema import (
    DeploymentRow,
    EventRow,
    ModelVersionRow,
    PipelineRunRow,
    PipelineStepRow,
    RunRow,
    VerdictRow,
)


def run(row: RunRow, experiment: str) -> Run:
    death = liveness.death(row.status, row.pid, row.hostname, row.heartbeat_at)
    return Run(
        id=row.id,
        experiment=experiment,
        experiment_path=row.experiment_path,
        spec_text=row.spec_text,
        params=dict(row.params or {}),
        status="failed" if death else row.status,
        metrics=canonical_metrics(row.metrics or {}),
        data_fingerprint=dict(row.data_fingerprint or {}),
        code_version=row.code_version,
        run_dir=row.run_dir,
        error=death or row.error,
        started_at=row.started_at,
        finished_at=row.finished_at,
        environment=dict(row.environment or {}),
        tags=dict(row.tags or {}),
        report=dict(row.report or {}),
        reference_models=dict(row.reference_models or {}),
        pid=row.pid,
        hostname=row.hostname,
        heartbeat_at=row.heartbeat_at,
        dead=death is not None,
    )


def model_version(row: ModelVersionRow, model: str, aliases: Iterable[str] = ()) -> ModelVersion:
    return ModelVersion(
        model=model,
        version=row.version,
        run_id=row.run_id,
        artifact_uri=row.artifact_uri,
        artifact_sha256=row.artifact_sha256,
        size_bytes=row.size_bytes,
        metrics=canonical_metrics(row.metrics or {}),
        signature=dict(row.signature or {}),
        description=row.description,
        tags=dict(row.tags or {}),
        created_at=row.created_at,
        aliases=tuple(sorted(aliases)),
    )


def verdict(row: VerdictRow, model: str) -> Verdict:
    return Verdict(
        id=row.id,
        model=model,
        candidate_version=row.candidate_version,
        baseline_version=row.baseline_version,
        metric=row.metric,
        candidate_value=row.candidate_value,
        baseline_value=row.baseline_value,
        passed=bool(row.passed),
        forced=bool(row.forced),
        reason=row.reason,
        details=dict(row.details or {}),
        created_at=row.created_at,
        forced_by=row.forced_by,
        force_reason=row.force_reason,
        data_fingerprint=dict(row.data_fingerprint or {}),
    )


def deployment(row: DeploymentRow, model: str) -> Deployment:
    return Deployment(
        id=row.id,
        model=model,
        version=row.version,
        endpoint=row.endpoint,
        verdict_id=row.verdict_id,
        active=bool(row.active),
        deployed_at=row.deployed_at,
        retired_at=row.retired_at,
        action=row.action,
        previous_version=row.previous_version,
        actor=row.actor,
        reason=row.reason,
        rollback_to_id=row.rollback_to_id,
        traffic_percent=100 if row.traffic_percent is None else row.traffic_percent,
        resources={str(k): str(v) for k, v in (row.resources or {}).items()},
    )


def event(row: EventRow) -> Event:
    return Event(
        id=row.id,
        at=row.at,
        kind=row.kind,
        model=row.model,
        version=row.version,
        run_id=row.run_id,
        payload=dict(row.payload or {}),
    )


def pipeline_step(row: PipelineStepRow) -> PipelineStep:
    return PipelineStep(
        id=row.id,
        pipeline_run_id=row.pipeline_run_id,
        name=row.name,
        position=row.position,
        status=row.status,
        cache_key=row.cache_key,
        inputs=dict(row.inputs or {}),
        outputs=dict(row.outputs or {}),
        reason=row.reason,
        cached_from=row.cached_from,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def pipeline_run(row: PipelineRunRow, steps: Iterable[PipelineStepRow] = ()) -> PipelineRun:
    dead = liveness.death(row.status, row.pid, row.hostname, row.heartbeat_at)
    return PipelineRun(
        id=row.id,
        pipeline=row.pipeline,
        path=row.path,
        spec_text=row.spec_text,
        spec_sha256=row.spec_sha256,
        backend=row.backend,
        trigger=row.trigger,
        status="failed" if dead else row.status,
        message=f"stopped: {dead}" if dead else row.message,
        run_id=row.run_id,
        model=row.model,
        version=row.version,
        verdict_id=row.verdict_id,
        deployment_id=row.deployment_id,
        resources=dict(row.resources or {}),
        pid=row.pid,
        hostname=row.hostname,
        started_at=row.started_at,
        finished_at=row.finished_at,
        steps=tuple(pipeline_step(s) for s in sorted(steps, key=lambda s: s.position)),
        dead=dead is not None,
    )
