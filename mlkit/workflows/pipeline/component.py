"""``mlkit pipeline step NAME``: one step of a pipeline run, as a Vertex AI Pipelines component
runs it (:mod:`.kfp_spec`). ``begin`` starts the pipeline run in the shared registry; a step then
runs with the outputs the steps before it recorded, deciding and caching as a run here does
(:mod:`.runner`); ``end`` notifies and records how the run ended."""

from __future__ import annotations

from pathlib import Path

from mlkit.config import Settings
from mlkit.errors import UsageError
from mlkit.experiment import load_experiment
from mlkit.registry import RegistryStore, open_store
from mlkit.workflows.pipeline import steps
from mlkit.workflows.pipeline.runner import end_run, one_line, run_step, skip_step
from mlkit.workflows.pipeline.spec import STEP_NAMES, LoadedPipeline, load_pipeline

__all__ = ["run_one_step"]


def run_one_step(
    path: Path,
    settings: Settings,
    name: str,
    pipeline_run_id: int | None,
    *,
    experiment: Path | None = None,
    on_stage: steps.Stage | None = None,
) -> int:
    """One step of a pipeline run, as a Vertex AI Pipelines component runs it: ``begin`` starts
    the pipeline run (returns its id); a step then runs with the outputs recorded by the steps
    before it; ``end`` records how it ended."""
    loaded = load_pipeline(path, experiment=experiment)
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        return _component_step(loaded, path, settings, store, name, pipeline_run_id, on_stage)


def _component_step(
    loaded: LoadedPipeline,
    path: Path,
    settings: Settings,
    store: RegistryStore,
    name: str,
    pipeline_run_id: int | None,
    on_stage: steps.Stage | None,
) -> int:
    if name == "begin":
        return store.create_pipeline_run(
            loaded.spec.pipeline.name, spec_text=loaded.text, spec_sha256=loaded.sha256,
            path=str(path), backend="vertex", trigger="manual",
        ).id  # fmt: skip
    if pipeline_run_id is None:
        raise UsageError(f"step {name} needs --run (the pipeline run that `begin` started)")
    if name not in (*STEP_NAMES, "end"):
        raise UsageError(f"unknown step {name!r}: expected begin, {', '.join(STEP_NAMES)} or end")
    run = store.get_pipeline_run(pipeline_run_id)
    ctx = steps.StepContext(
        loaded, load_experiment(loaded.experiment_path)[0], settings, store, run.id,
        stage=on_stage or (lambda _msg: None),
    )  # fmt: skip
    for step in run.steps:
        ctx.outputs[step.name] = step.outputs
    if name == "end":
        stopped = next((s for s in run.steps if s.reason and "drift gate" in s.reason), None)
        end_run(
            ctx, "stopped" if stopped else "finished", None if stopped is None else stopped.reason
        )
        return run.id
    if any(s.reason and s.reason.startswith("the drift gate") for s in run.steps):
        skip_step(ctx, name, "the drift gate stopped the pipeline", lambda _e: None)
        return run.id
    if name not in loaded.spec.steps:
        return run.id
    position = loaded.spec.steps.index(name) + 1
    try:
        run_step(ctx, name, position, True, lambda _e: None, None)
    except steps.DriftGateStopped:
        pass
    except (Exception, KeyboardInterrupt) as exc:
        end_run(ctx, "failed", one_line(exc))
        raise
    return run.id
