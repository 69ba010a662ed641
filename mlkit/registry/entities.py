"""What the registry hands back: frozen dataclasses, never ORM rows.

Timestamps are timezone-aware UTC. JSON fields are plain dicts (empty when nothing was stored).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

RUN_STATUSES = ("running", "finished", "failed")


@dataclass(frozen=True)
class Run:
    """One execution of an experiment."""

    id: int
    experiment: str
    experiment_path: str | None
    spec_text: str
    params: dict[str, Any]
    status: str
    metrics: dict[str, Any]
    data_fingerprint: dict[str, Any]
    code_version: str | None
    run_dir: str | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    environment: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)  # the search report (empty: none)
    # the scikit-learn reference models fitted on the same split (mlkit.quantities)
    reference_models: dict[str, Any] = field(default_factory=dict)
    pid: int | None = None  # the process running it, on ``hostname``
    hostname: str | None = None
    heartbeat_at: datetime | None = None  # its last sign of life (None: it gave none)
    dead: bool = False
    """Stored as ``running`` but its process is gone: shown as ``failed`` with the reason in
    ``error`` (see ``mlkit.registry.liveness``); it may still be resumed."""


@dataclass(frozen=True)
class ModelSummary:
    """A registered model name with its versions counted and its aliases resolved."""

    name: str
    description: str
    version_count: int
    latest_version: int | None
    aliases: dict[str, int]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ModelVersion:
    """An immutable, numbered artifact (a SavedModel directory) of a model."""

    model: str
    version: int
    run_id: int | None
    artifact_uri: str
    artifact_sha256: str
    size_bytes: int
    metrics: dict[str, Any]
    signature: dict[str, Any]
    description: str
    tags: dict[str, Any]
    created_at: datetime
    aliases: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Verdict:
    """The stored result of comparing a candidate version with a baseline version."""

    id: int
    model: str
    candidate_version: int
    baseline_version: int | None
    metric: str
    candidate_value: float
    baseline_value: float | None
    passed: bool
    forced: bool
    reason: str
    details: dict[str, Any]
    created_at: datetime
    forced_by: str | None = None
    force_reason: str | None = None
    data_fingerprint: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Deployment:
    """A version of a model on an endpoint with its share of the traffic (percent).

    Several versions of a model may be active on one endpoint (a canary); their shares sum to 100.
    ``resources`` holds what the endpoint kind calls the deployment (for Vertex AI: ``model``,
    ``model_version``, ``endpoint``, ``deployed_model_id``), empty for the local endpoint.
    """

    id: int
    model: str
    version: int
    endpoint: str
    verdict_id: int | None
    active: bool
    deployed_at: datetime
    retired_at: datetime | None
    action: str | None = None
    """``promote`` (won its verdict), ``forced`` (over a failed one), ``traffic`` (an explicit
    split) or ``rollback``."""
    previous_version: int | None = None
    """The champion this deployment replaced (what a rollback restores)."""
    actor: str | None = None
    reason: str | None = None
    rollback_to_id: int | None = None
    """The deployment a rollback of this one restores (None: nothing before it)."""
    traffic_percent: int = 100
    resources: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """One entry of the append-only event log."""

    id: int
    at: datetime
    kind: str
    model: str | None
    version: int | None
    run_id: int | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class MetricPoint:
    """One value of a run's metric at a training step."""

    key: str
    step: int
    value: float
    at: datetime


@dataclass(frozen=True)
class Lineage:
    """Where a version came from and where it went: version → run → experiment file and data
    fingerprint → deployments (newest first, retired ones included)."""

    version: ModelVersion
    run: Run | None
    deployments: tuple[Deployment, ...]


PIPELINE_STATUSES = ("running", "finished", "failed", "stopped")
STEP_STATUSES = ("running", "succeeded", "failed", "skipped", "cached")


@dataclass(frozen=True)
class PipelineStep:
    """One step of a pipeline run: its inputs and outputs, its cache key, and why it was skipped
    or failed (``reason``); ``cached_from`` names the pipeline run whose outputs it reused."""

    id: int
    pipeline_run_id: int
    name: str
    position: int
    status: str
    cache_key: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    reason: str | None
    cached_from: int | None
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class PipelineRun:
    """One execution of a pipeline file, linked to the training run, version, verdict and
    deployment it produced (None where it produced none)."""

    id: int
    pipeline: str
    path: str | None
    spec_text: str
    spec_sha256: str
    backend: str
    trigger: str
    status: str
    message: str | None
    run_id: int | None
    model: str | None
    version: int | None
    verdict_id: int | None
    deployment_id: int | None
    resources: dict[str, Any]
    pid: int | None
    hostname: str | None
    started_at: datetime
    finished_at: datetime | None
    steps: tuple[PipelineStep, ...] = ()
    dead: bool = False  # stored as running, but its process is gone (shown as failed)
