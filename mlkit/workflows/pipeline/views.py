"""What ``mlkit pipeline runs`` and ``mlkit pipeline show`` read: pipeline runs and their steps."""

from __future__ import annotations

from mlkit.config import Settings
from mlkit.registry import PipelineRun, open_store

__all__ = ["pipeline_run", "pipeline_runs"]


def pipeline_runs(
    settings: Settings, pipeline: str | None = None, limit: int = 50
) -> list[PipelineRun]:
    """Pipeline runs, newest first (one whose process died shows as failed)."""
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        return store.list_pipeline_runs(pipeline, limit=limit)


def pipeline_run(settings: Settings, run_id: int) -> PipelineRun:
    """One pipeline run with its steps, their inputs, outputs and cache keys."""
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        return store.get_pipeline_run(run_id)
