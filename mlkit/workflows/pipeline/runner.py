"""``mlkit pipeline run``: the steps of a pipeline file, in order, each recorded in the registry.

A step whose cache key (its inputs: the data's fingerprint, the experiment file's hash, mlkit's
code version, its own settings) matches a step that succeeded before is not run again: its
outputs are reused and it is recorded as ``cached`` (``use_cache=False`` runs everything). A
pipeline run that failed or was killed resumes (``resume=RUN``) at its first unfinished step;
what finished before is reused as it was. A failure's message ends with the exact resume command.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from mlkit import __version__
from mlkit.config import Settings
from mlkit.errors import MlkitError, UsageError
from mlkit.experiment import load_experiment
from mlkit.registry import PipelineRun, PipelineStep, RegistryStore, open_store
from mlkit.registry.liveness import this_host
from mlkit.workflows.heartbeat import PipelineHeartbeat
from mlkit.workflows.pipeline import steps
from mlkit.workflows.pipeline.spec import STEP_NAMES, LoadedPipeline, load_pipeline

__all__ = ["PipelineOutcome", "StepEvent", "code_version", "run_pipeline", "run_one_step"]

CACHED_STEPS = ("train", "compare")  # ingest, validate and deploy look at the world each time


@dataclass(frozen=True)
class StepEvent:
    """What a step did, as it happens (for the CLI's live lines)."""

    name: str
    status: str  # running | succeeded | failed | skipped | cached
    detail: str = ""


@dataclass(frozen=True)
class PipelineOutcome:
    run: PipelineRun  # with its steps, as recorded
    resumed: bool = False
    seconds: float = 0.0

    def stopped_error(self) -> MlkitError | None:
        """The error a stopped pipeline ends with (the drift gate), None otherwise."""
        if self.run.status != "stopped":
            return None
        return steps.DriftGateStopped(self.run.message or "the pipeline was stopped")


OnStep = Callable[[StepEvent], None]


@cache
def code_version() -> str:
    """mlkit's version and a hash of its Python sources: a code change misses the cache."""
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return f"mlkit {__version__}+{digest.hexdigest()[:12]}"


def cache_key(name: str, inputs: dict[str, Any]) -> str:
    text = json.dumps({"step": name, "inputs": inputs}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def run_pipeline(
    path: Path,
    settings: Settings,
    *,
    use_cache: bool = True,
    resume: int | None = None,
    if_drift: bool = False,
    on_step: OnStep | None = None,
    on_stage: steps.Stage | None = None,
) -> PipelineOutcome:
    """Run the pipeline file here, step by step; return the recorded pipeline run."""
    started = time.monotonic()
    loaded = load_pipeline(path)
    if if_drift and loaded.spec.validate_ is None:
        raise UsageError("--if-drift needs a [validate] step (its drift gate decides)")
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        return _run_here(
            loaded, path, settings, store, use_cache=use_cache, resume=resume, if_drift=if_drift,
            on_step=on_step, on_stage=on_stage, started=started,
        )  # fmt: skip


def _run_here(
    loaded: LoadedPipeline,
    path: Path,
    settings: Settings,
    store: RegistryStore,
    *,
    use_cache: bool,
    resume: int | None,
    if_drift: bool,
    on_step: OnStep | None,
    on_stage: steps.Stage | None,
    started: float,
) -> PipelineOutcome:
    if resume is not None:
        run = _reopen(store, resume, loaded)
        options = run.resources.get("options", {})  # a resumed run keeps its options
        use_cache = use_cache and options.get("use_cache", True)
        if_drift = if_drift or options.get("if_drift", False)
    else:
        run = store.create_pipeline_run(
            loaded.spec.pipeline.name, spec_text=loaded.text, spec_sha256=loaded.sha256,
            path=str(path), trigger="drift" if if_drift else "manual", pid=os.getpid(),
            hostname=this_host(),
        )  # fmt: skip
        options = {"use_cache": use_cache, "if_drift": if_drift}
        run = store.link_pipeline_run(run.id, resources={"options": options})
    ctx = steps.StepContext(
        loaded, load_experiment(loaded.experiment_path)[0], settings, store, run.id,
        stage=on_stage or (lambda _msg: None), if_drift=if_drift,
    )  # fmt: skip
    with PipelineHeartbeat(store, run.id):
        _run_steps(ctx, run, use_cache, on_step or (lambda _e: None), path)
    final = store.get_pipeline_run(run.id)
    return PipelineOutcome(final, resumed=resume is not None, seconds=time.monotonic() - started)


def _reopen(store: RegistryStore, run_id: int, loaded: LoadedPipeline) -> PipelineRun:
    before = store.get_pipeline_run(run_id)
    if before.pipeline != loaded.spec.pipeline.name or before.spec_sha256 != loaded.sha256:
        raise UsageError(
            f"pipeline run {run_id} ran another pipeline file ({before.path}, "
            f"pipeline {before.pipeline}), or this file changed since",
            hint="resume with the same file, or start a new run without --resume",
        )
    return store.reopen_pipeline_run(run_id, pid=os.getpid(), hostname=this_host())


def _run_steps(
    ctx: steps.StepContext, run: PipelineRun, use_cache: bool, on_step: OnStep, path: Path
) -> None:
    done = {s.name: s for s in run.steps if s.status in ("succeeded", "cached", "skipped")}
    earlier = {s.name: s for s in run.steps}
    stop_reason: str | None = None
    status, message = "finished", None
    try:
        for position, name in enumerate(ctx.pipeline.spec.steps, start=1):
            if name in done:
                ctx.outputs[name] = done[name].outputs
                on_step(StepEvent(name, done[name].status, "done before this resume"))
                continue
            if stop_reason is not None:
                _skip(ctx, name, stop_reason, on_step)
                continue
            try:
                _one_step(ctx, name, position, use_cache, on_step, earlier.get(name))
            except steps.DriftGateStopped as exc:
                status, message = "stopped", exc.message
                stop_reason = "the drift gate stopped the pipeline"
            if name == "validate" and ctx.if_drift and not ctx.output("validate", "drift_fired"):
                stop_reason = "no drift (--if-drift runs the rest only when the gate fires)"
                message = "no drift: nothing to do"
    except (Exception, KeyboardInterrupt) as exc:
        message = _one_line(exc)
        _end(ctx, "failed", message)
        if isinstance(exc, MlkitError):
            exc.hint = f"resume it: mlkit pipeline run {path} --resume {ctx.pipeline_run_id}"
        raise
    _end(ctx, status, message)


def _one_step(
    ctx: steps.StepContext,
    name: str,
    position: int,
    use_cache: bool,
    on_step: OnStep,
    earlier: PipelineStep | None,
) -> None:
    inputs = _inputs(ctx, name)
    key = cache_key(name, inputs) if name in CACHED_STEPS else None
    store = ctx.store
    if key is not None and use_cache:
        hit = store.cached_pipeline_step(name, key)
        if hit is not None:
            store.start_pipeline_step(
                ctx.pipeline_run_id, name, position=position, inputs=inputs, cache_key=key
            )
            store.finish_pipeline_step(
                ctx.pipeline_run_id, name, status="cached", outputs=hit.outputs,
                reason=f"same inputs as pipeline run {hit.pipeline_run_id}",
                cached_from=hit.pipeline_run_id,
            )  # fmt: skip
            ctx.outputs[name] = hit.outputs
            _link(ctx, name, hit.outputs)
            on_step(StepEvent(name, "cached", f"same inputs as pipeline run {hit.pipeline_run_id}"))
            return
    if name == "train" and use_cache:  # --no-cache runs every step: this condition too
        reason = _no_data_change(ctx, inputs)
        if reason is not None:
            _skip(ctx, name, reason, on_step)
            return
    store.start_pipeline_step(
        ctx.pipeline_run_id, name, position=position, inputs=inputs, cache_key=key
    )
    on_step(StepEvent(name, "running"))
    try:
        outputs = _execute(ctx, name, earlier)
    except steps.Skip as skip:
        store.finish_pipeline_step(ctx.pipeline_run_id, name, status="skipped", reason=str(skip))
        on_step(StepEvent(name, "skipped", str(skip)))
        return
    except steps.DriftGateStopped as exc:
        store.finish_pipeline_step(
            ctx.pipeline_run_id, name, status="succeeded", outputs=ctx.outputs.get(name),
            reason=exc.message,
        )  # fmt: skip
        on_step(StepEvent(name, "succeeded", exc.message))
        raise
    except (Exception, KeyboardInterrupt) as exc:
        store.finish_pipeline_step(
            ctx.pipeline_run_id, name, status="failed", reason=_one_line(exc)
        )
        on_step(StepEvent(name, "failed", _one_line(exc)))
        raise
    ctx.outputs[name] = outputs
    store.finish_pipeline_step(ctx.pipeline_run_id, name, status="succeeded", outputs=outputs)
    on_step(StepEvent(name, "succeeded", _summary(name, outputs)))


def _link(ctx: steps.StepContext, name: str, outputs: dict[str, Any]) -> None:
    """A reused step's products belong to this pipeline run's result too."""
    if name == "train":
        ctx.store.link_pipeline_run(
            ctx.pipeline_run_id, run_id=outputs.get("run"), model=outputs.get("model"),
            version=outputs.get("version"),
        )  # fmt: skip
    elif name == "compare":
        ctx.store.link_pipeline_run(ctx.pipeline_run_id, verdict_id=outputs.get("verdict"))


def _execute(ctx: steps.StepContext, name: str, earlier: PipelineStep | None) -> dict[str, Any]:
    if name == "ingest":
        return steps.ingest(ctx)
    if name == "validate":
        return steps.validate(ctx)
    if name == "train":
        unfinished = None
        if earlier is not None and earlier.status in ("running", "failed"):
            unfinished = steps.unfinished_training_run(ctx, earlier.started_at)
        return steps.train(ctx, unfinished)
    if name == "compare":
        return steps.compare(ctx)
    if name == "deploy":
        return steps.deploy(ctx)
    raise AssertionError(f"unknown step {name}")


def _inputs(ctx: steps.StepContext, name: str) -> dict[str, Any]:
    """What a step depends on; the cache key of the cached steps is their hash."""
    config = ctx.pipeline.spec.step_config(name)
    if name == "train":
        data = ctx.output("validate", "data_sha256")
        if data is None:
            data = steps.data_fingerprint(ctx)["data_sha256"]
            ctx.outputs.setdefault("validate", {})["data_sha256"] = data
        text = ctx.pipeline.experiment_path.read_bytes()
        return {
            "data_sha256": data,
            "experiment_sha256": hashlib.sha256(text).hexdigest(),
            "code_version": code_version(),
            "config": config,
        }
    if name == "compare":
        return {
            "model": ctx.output("train", "model"),
            "version": ctx.output("train", "version"),
            "code_version": code_version(),
            "config": config,
        }
    if name == "deploy":
        return {"verdict": ctx.output("compare", "verdict"), "config": config}
    return {"config": config}


def _no_data_change(ctx: steps.StepContext, inputs: dict[str, Any]) -> str | None:
    """With ``when = "data_changed"``: why train is skipped (an earlier train step of this
    pipeline trained on the same data), or None."""
    spec = ctx.pipeline.spec.train
    if spec is None or spec.when != "data_changed":
        return None
    for run in ctx.store.list_pipeline_runs(ctx.pipeline.spec.pipeline.name, limit=50):
        for step in run.steps:
            if (
                step.name == "train"
                and step.status == "succeeded"
                and step.inputs.get("data_sha256") == inputs["data_sha256"]
            ):
                return f"the data has not changed since pipeline run {run.id} trained on it"
    return None


def _skip(
    ctx: steps.StepContext,
    name: str,
    reason: str,
    on_step: OnStep,
) -> None:
    ctx.store.finish_pipeline_step(
        ctx.pipeline_run_id, name, status="skipped", reason=reason, outputs=None
    )
    on_step(StepEvent(name, "skipped", reason))


def _end(ctx: steps.StepContext, status: str, message: str | None) -> None:
    """Notify (when asked), then record how the pipeline run ended."""
    if ctx.pipeline.spec.notify is not None:
        position = len(ctx.pipeline.spec.steps) + 1
        inputs = {"status": status}
        ctx.store.start_pipeline_step(
            ctx.pipeline_run_id, "notify", position=position, inputs=inputs, cache_key=None
        )
        try:
            outputs = steps.notify(ctx, status, message)
            ctx.store.finish_pipeline_step(
                ctx.pipeline_run_id, "notify", status="succeeded", outputs=outputs
            )
        except steps.Skip as skip:
            ctx.store.finish_pipeline_step(
                ctx.pipeline_run_id, "notify", status="skipped", reason=str(skip)
            )
        except Exception as exc:  # noqa: BLE001 - a failed notification does not undo the run
            ctx.store.finish_pipeline_step(
                ctx.pipeline_run_id, "notify", status="failed", reason=_one_line(exc)
            )
    ctx.store.finish_pipeline_run(ctx.pipeline_run_id, status=status, message=message)


def _summary(name: str, outputs: dict[str, Any]) -> str:
    if name == "ingest":
        return f"{outputs['rows']:,} rows into {outputs['table']}"
    if name == "validate":
        return str(outputs.get("gate", ""))
    if name == "train":
        return f"run {outputs['run']} registered {outputs['model']} version {outputs['version']}"
    if name == "compare":
        verdict = "passed" if outputs["passed"] else "failed"
        return f"verdict {outputs['verdict']} {verdict}: {outputs['reason']}"
    if name == "deploy":
        return (
            f"{outputs['model']} version {outputs['version']} on {outputs['endpoint']} "
            f"({outputs['traffic']}%)"
        )
    return ""


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    text = exc.message if isinstance(exc, MlkitError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:500]


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
        _end(ctx, "stopped" if stopped else "finished", None if stopped is None else stopped.reason)
        return run.id
    if any(s.reason and s.reason.startswith("the drift gate") for s in run.steps):
        _skip(ctx, name, "the drift gate stopped the pipeline", lambda _e: None)
        return run.id
    if name not in loaded.spec.steps:
        return run.id
    position = loaded.spec.steps.index(name) + 1
    try:
        _one_step(ctx, name, position, True, lambda _e: None, None)
    except steps.DriftGateStopped:
        pass
    except (Exception, KeyboardInterrupt) as exc:
        _end(ctx, "failed", _one_line(exc))
        raise
    return run.id
