"""Where ``mlkit pipeline run`` runs a pipeline: here (:mod:`.runner`) or as a Vertex AI
PipelineJob (:mod:`.vertex`). The one function the command calls."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlkit.config import Settings
from mlkit.errors import UsageError
from mlkit.workflows.pipeline.runner import OnStep, PipelineOutcome, run_pipeline
from mlkit.workflows.pipeline.steps import Stage

if TYPE_CHECKING:
    from mlkit.workflows.pipeline.vertex import PipelineSubmitted

BACKENDS = ("local", "vertex")


def launch_pipeline(
    path: Path,
    settings: Settings,
    *,
    backend: str = "local",
    use_cache: bool = True,
    resume: int | None = None,
    if_drift: bool = False,
    on_step: OnStep | None = None,
    on_stage: Stage | None = None,
) -> PipelineOutcome | PipelineSubmitted:
    if backend not in BACKENDS:
        raise UsageError(f"--backend: unknown backend {backend!r}; expected 'local' or 'vertex'")
    if backend == "vertex":
        if resume is not None or if_drift or not use_cache:
            raise UsageError(
                "--resume, --if-drift and --no-cache run a pipeline here (--backend local)",
                hint="on Vertex AI, retry the PipelineJob from its console page",
            )
        from mlkit.workflows.pipeline.vertex import submit_pipeline

        return submit_pipeline(path)
    return run_pipeline(
        path, settings, use_cache=use_cache, resume=resume, if_drift=if_drift,
        on_step=on_step, on_stage=on_stage,
    )  # fmt: skip
