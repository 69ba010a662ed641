"""How pipeline runs, their steps and Vertex AI submissions are shown."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mlkit.cli.output import console, fmt_time, print_table, printable

if TYPE_CHECKING:
    from mlkit.registry import PipelineRun
    from mlkit.workflows.pipeline.runner import PipelineOutcome, StepEvent
    from mlkit.workflows.pipeline.vertex import PipelineSubmitted, ScheduleCreated

_MARK = {
    "running": "[cyan]…[/]",
    "succeeded": "[green]✓[/]",
    "cached": "[blue]↺[/]",
    "skipped": "[dim]-[/]",
    "failed": "[red]✗[/]",
}


def step_printer(enabled: bool = True):
    """A callback printing each step as it starts and ends."""

    def on_step(event: StepEvent) -> None:
        if not enabled:
            return
        detail = f": {printable(event.detail)}" if event.detail else ""
        console.print(f"{_MARK.get(event.status, '?')} {event.name} {event.status}{detail}")

    return on_step


def _links(run: PipelineRun) -> str:
    parts = []
    if run.run_id is not None:
        parts.append(f"run {run.run_id}")
    if run.version is not None:
        parts.append(f"{run.model} v{run.version}")
    if run.verdict_id is not None:
        parts.append(f"verdict {run.verdict_id}")
    if run.deployment_id is not None:
        parts.append(f"deployment {run.deployment_id}")
    return ", ".join(parts) or "-"


def render_outcome(outcome: PipelineOutcome) -> None:
    run = outcome.run
    verb = "resumed and " if outcome.resumed else ""
    console.print(
        f"Pipeline run {run.id} ({run.pipeline}) {verb}{run.status} in {outcome.seconds:.1f} s"
        + (f": {printable(run.message)}" if run.message else "")
    )
    console.print(f"Produced: {_links(run)}")


def render_runs(runs: list[PipelineRun]) -> None:
    if not runs:
        console.print("No pipeline runs yet: mlkit pipeline run FILE")
        return
    rows = [
        (
            str(r.id), r.pipeline, r.status, r.backend, r.trigger, fmt_time(r.started_at),
            " ".join(f"{s.name}:{s.status}" for s in r.steps), _links(r),
        )
        for r in runs
    ]  # fmt: skip
    print_table(
        "Pipeline runs",
        ["run", "pipeline", "status", "backend", "trigger", "started", "steps", "produced"],
        rows,
        markup=False,
    )


def render_run(run: PipelineRun) -> None:
    console.print(
        f"Pipeline run {run.id}: {run.pipeline} ({run.backend}, {run.trigger}), {run.status}"
        + (f": {printable(run.message)}" if run.message else "")
    )
    console.print(f"Started {fmt_time(run.started_at)}, finished {fmt_time(run.finished_at)}")
    console.print(f"Produced: {_links(run)}")
    if run.resources:
        console.print(f"Resources: {printable(json.dumps(run.resources, sort_keys=True))}")
    rows = [
        (
            str(s.position), s.name, s.status, (s.cache_key or "")[:12],
            _short(s.inputs), _short(s.outputs),
            printable(s.reason or "") + (f" (from run {s.cached_from})" if s.cached_from else ""),
        )
        for s in run.steps
    ]  # fmt: skip
    print_table(
        "Steps", ["#", "step", "status", "cache key", "inputs", "outputs", "why"], rows,
        markup=False,
    )  # fmt: skip


def _short(values: dict[str, Any]) -> str:
    shown = {k: v for k, v in values.items() if k not in ("stats", "config")}
    text = json.dumps(shown, sort_keys=True, default=str)
    return printable(text if len(text) <= 120 else text[:117] + "...")


def render_submitted(submitted: PipelineSubmitted) -> None:
    console.print(f"Submitted Vertex AI PipelineJob {submitted.job} ({submitted.state})")
    console.print(f"Pipeline spec: {submitted.template} ({', '.join(submitted.tasks)})")
    console.print(f"Console: {submitted.dashboard}")


def render_schedule(created: ScheduleCreated) -> None:
    console.print(f"Created Vertex AI schedule {created.name} ({created.cron}, {created.state})")
