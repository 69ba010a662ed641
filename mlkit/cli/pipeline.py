"""mlkit pipeline: run a pipeline file here or on Vertex AI, list and show its runs, compile it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlkit.cli.output import print_json, stage_printer
from mlkit.config import load_settings

app = typer.Typer(
    help="Pipelines: ingest, validate, train, compare, deploy as one recorded run.",
    no_args_is_help=True,
)

File = Annotated[
    Path, typer.Argument(help="The pipeline file (TOML), e.g. examples/digits-pipeline.toml.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print as JSON.")]
Backend = Annotated[
    str, typer.Option("--backend", help="local (here) or vertex (a Vertex AI PipelineJob).")
]
NoCache = Annotated[
    bool, typer.Option("--no-cache", help="Run every step, even one whose inputs match a past one.")
]
Resume = Annotated[
    int | None,
    typer.Option(
        "--resume",
        min=1,
        metavar="RUN",
        help="Continue this pipeline run at its first unfinished step.",
    ),
]
IfDrift = Annotated[
    bool,
    typer.Option("--if-drift", help="Run the steps after validate only when its drift gate fires."),
]


@app.command("run")
def run(
    path: File,
    backend: Backend = "local",
    no_cache: NoCache = False,
    resume: Resume = None,
    if_drift: IfDrift = False,
    as_json: AsJson = False,
) -> None:
    """Run the pipeline: each step recorded in the registry; cached steps are skipped."""
    from mlkit.cli.pipeline_view import render_outcome, render_submitted, step_printer
    from mlkit.workflows.pipeline.launch import launch_pipeline
    from mlkit.workflows.pipeline.runner import PipelineOutcome

    outcome = launch_pipeline(
        path, load_settings(), backend=backend, use_cache=not no_cache, resume=resume,
        if_drift=if_drift, on_step=step_printer(enabled=not as_json),
        on_stage=stage_printer(enabled=not as_json),
    )  # fmt: skip
    if as_json:
        print_json(outcome)
    elif isinstance(outcome, PipelineOutcome):
        render_outcome(outcome)
    else:
        render_submitted(outcome)
    stopped = outcome.stopped_error() if isinstance(outcome, PipelineOutcome) else None
    if stopped is not None:
        raise stopped


@app.command("runs")
def runs(
    pipeline: str = typer.Option(None, "--pipeline", "-p", help="Only runs of this pipeline."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most N runs."),
    as_json: AsJson = False,
) -> None:
    """List pipeline runs, newest first, with each step's state."""
    from mlkit.cli.pipeline_view import render_runs
    from mlkit.workflows.pipeline.views import pipeline_runs

    found = pipeline_runs(load_settings(), pipeline, limit)
    if as_json:
        print_json(found)
    else:
        render_runs(found)


@app.command("show")
def show(
    run_id: int = typer.Argument(..., metavar="RUN", min=1, help="The pipeline run's number."),
    as_json: AsJson = False,
) -> None:
    """A pipeline run: its steps with their inputs, outputs and cache keys, and what it made."""
    from mlkit.cli.pipeline_view import render_run
    from mlkit.workflows.pipeline.views import pipeline_run

    found = pipeline_run(load_settings(), run_id)
    if as_json:
        print_json(found)
    else:
        render_run(found)


@app.command("compile")
def compile_(
    path: File,
    output: Path = typer.Option(
        ..., "--output", "-o", help="Where to write the KFP pipeline spec (YAML)."
    ),
) -> None:
    """Compile the pipeline to a KFP v2 pipeline spec (for Vertex AI Pipelines)."""
    from mlkit.cli.output import console
    from mlkit.workflows.pipeline.kfp_spec import compile_pipeline

    compiled = compile_pipeline(path, output)
    console.print(
        f"Wrote {compiled.path}: pipeline {compiled.name}, components {', '.join(compiled.tasks)}"
    )


@app.command("schedule")
def schedule(
    path: File,
    cron: str = typer.Option(..., "--cron", help='When, in cron syntax, e.g. "0 3 * * *".'),
    as_json: AsJson = False,
) -> None:
    """Create a Vertex AI Pipelines schedule that runs the pipeline on ``--cron``."""
    from mlkit.cli.pipeline_view import render_schedule
    from mlkit.workflows.pipeline.vertex import schedule_pipeline

    created = schedule_pipeline(path, cron)
    if as_json:
        print_json(created)
    else:
        render_schedule(created)


@app.command("step", hidden=True)
def step(
    name: str = typer.Argument(..., help="begin, a step name, or end."),
    path: File = Path("pipeline.toml"),
    run_id: int = typer.Option(None, "--run", min=1, help="The pipeline run (from begin)."),
    experiment: Path = typer.Option(None, "--experiment", help="The experiment file's path here."),
    run_id_file: Path = typer.Option(None, "--write-run", help="begin: write the run's id here."),
) -> None:
    """One step of a pipeline run (what a Vertex AI Pipelines component runs)."""
    from mlkit.workflows.pipeline.runner import run_one_step

    done = run_one_step(
        path,
        load_settings(),
        name,
        run_id,
        experiment=experiment,
        on_stage=stage_printer(enabled=True),
    )
    if run_id_file is not None:
        run_id_file.parent.mkdir(parents=True, exist_ok=True)
        run_id_file.write_text(str(done))
    print(done)
