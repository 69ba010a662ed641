"""``mlkit pipeline run FILE --backend vertex`` and ``mlkit pipeline schedule FILE --cron``: the
compiled pipeline spec (:mod:`.kfp_spec`) as a Vertex AI PipelineJob, or a schedule of it,
through the real google-cloud-aiplatform SDK. Settings come from the environment, as for
``mlkit train --backend vertex`` (``MLKIT_VERTEX_PROJECT``, ``_LOCATION``, ``_STAGING_BUCKET``,
``_IMAGE``, and ``_API_ENDPOINT`` for a stand-in on loopback)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlkit.errors import MlkitError, UsageError
from mlkit.workflows.launch.vertex_job import VertexSettings, job_runtime
from mlkit.workflows.pipeline.kfp_spec import CompiledPipeline, compile_pipeline
from mlkit.workflows.pipeline.spec import load_pipeline

__all__ = ["PipelineSubmitted", "ScheduleCreated", "schedule_pipeline", "submit_pipeline"]


@dataclass(frozen=True)
class PipelineSubmitted:
    job: str  # the PipelineJob's resource name
    state: str
    display_name: str
    template: str  # where the compiled spec was written
    tasks: tuple[str, ...]
    pipeline_root: str
    dashboard: str


@dataclass(frozen=True)
class ScheduleCreated:
    name: str  # the Schedule's resource name
    cron: str
    state: str
    display_name: str


def _init(settings: VertexSettings) -> Any:
    """``aiplatform.init`` for these settings; returns the credentials to pass on (anonymous for
    a plain-HTTP stand-in, None for Google's own)."""
    from google.cloud import aiplatform

    credentials = None
    init: dict[str, Any] = {}
    if settings.api_endpoint:
        init["api_endpoint"] = settings.api_endpoint
        if settings.api_endpoint.startswith("http://"):
            from google.auth.credentials import AnonymousCredentials

            credentials = AnonymousCredentials()
            init["api_transport"] = "rest"
    aiplatform.init(
        project=settings.project, location=settings.location,
        staging_bucket=settings.staging_bucket, credentials=credentials, **init,
    )  # fmt: skip
    return credentials


def _job(path: Path, settings: VertexSettings) -> tuple[Any, CompiledPipeline]:
    from google.cloud import aiplatform

    folder = Path(tempfile.mkdtemp(prefix="mlkit-pipeline-"))
    # An own image, else Google's prebuilt one (CPU: the components train in place) with mlkit's
    # wheel staged to the bucket, as `mlkit train --backend vertex` does.
    load_pipeline(path)  # a bad file stops here, before anything is staged
    runtime = job_runtime(replace(settings, accelerator_type=None))
    compiled = compile_pipeline(
        path, folder / "pipeline.yaml", image=runtime.image, packages=runtime.package_uris
    )
    credentials = _init(settings)
    job = aiplatform.PipelineJob(
        display_name=f"mlkit-{compiled.name}",
        template_path=str(compiled.path),
        pipeline_root=f"{settings.staging_bucket.rstrip('/')}/pipeline-root",
        parameter_values=compiled.parameters,
        enable_caching=False,  # mlkit's cache decides, in the registry
        labels={"mlkit-pipeline": compiled.name},
        credentials=credentials,
    )
    return job, compiled


def submit_pipeline(path: Path) -> PipelineSubmitted:
    """Compile the pipeline and submit it as a PipelineJob; return its name and state."""
    settings = VertexSettings.from_env()
    job, compiled = _job(path, settings)
    try:
        job.submit()
    except Exception as exc:  # Google API errors: one line, at the boundary
        raise MlkitError(f"Vertex AI refused the PipelineJob: {_one_line(exc)}") from exc
    name = job.resource_name
    return PipelineSubmitted(
        job=name, state=job.state.name, display_name=job.display_name,
        template=str(compiled.path), tasks=compiled.tasks,
        pipeline_root=f"{settings.staging_bucket.rstrip('/')}/pipeline-root",
        dashboard=(
            f"https://console.cloud.google.com/vertex-ai/locations/{settings.location}/"
            f"pipelines/runs/{name.rsplit('/', 1)[-1]}?project={settings.project}"
        ),
    )  # fmt: skip


def schedule_pipeline(path: Path, cron: str) -> ScheduleCreated:
    """A Vertex AI schedule that submits the pipeline on ``cron`` (five fields, optionally
    prefixed ``TZ=Zone``)."""
    fields = cron.split()
    if fields and fields[0].startswith(("TZ=", "CRON_TZ=")):
        fields = fields[1:]
    if len(fields) != 5:
        raise UsageError(
            f"--cron: expected five fields (minute hour day month weekday), got {cron!r}",
            hint='e.g. --cron "0 3 * * *" (every day at 03:00 UTC)',
        )
    settings = VertexSettings.from_env()
    job, compiled = _job(path, settings)
    try:
        schedule = job.create_schedule(cron=cron, display_name=f"mlkit-{compiled.name}")
    except Exception as exc:
        raise MlkitError(f"Vertex AI refused the schedule: {_one_line(exc)}") from exc
    return ScheduleCreated(
        name=schedule.resource_name, cron=cron, state=schedule.state.name,
        display_name=schedule.display_name,
    )  # fmt: skip


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."
