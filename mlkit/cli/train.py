"""mlkit train: run an experiment and register the winning ensemble as a new version."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlkit.cli.output import console, fmt_metric, print_json
from mlkit.cli.search_progress import IterationProgress
from mlkit.config import load_settings

if TYPE_CHECKING:
    from mlkit.workflows.launch import JobSubmitted, TaskResult
    from mlkit.workflows.train import TrainOutcome


Iterations = Annotated[
    int | None, typer.Option("--iterations", min=1, help="Override search.iterations.")
]
Steps = Annotated[
    int | None, typer.Option("--steps", min=1, help="Override search.steps_per_iteration.")
]
MaxSteps = Annotated[
    int | None,
    typer.Option("--max-steps", min=1, help="Budget: at most this many training steps in all."),
]
MaxSeconds = Annotated[
    float | None,
    typer.Option(
        "--max-seconds",
        min=0.001,
        help="Budget: stop training after this many seconds and keep the best ensemble so far.",
    ),
]
Resume = Annotated[
    int | None,
    typer.Option(
        "--resume", metavar="RUN", help="Resume a stopped or killed run from its checkpoint."
    ),
]
Backend = Annotated[
    str,
    typer.Option("--backend", help="Where to train: 'local' (here) or 'vertex' (a CustomJob)."),
]
# The cluster: replicas a Vertex AI job asks for, and the directory a TF_CONFIG cluster shares.
Workers = Annotated[
    int | None,
    typer.Option("--workers", min=0, help="--backend vertex: worker replicas besides the chief."),
]
ParameterServers = Annotated[
    int | None,
    typer.Option(
        "--ps", min=0, help="--backend vertex: parameter servers (default 1 with workers)."
    ),
]
ModelDir = Annotated[
    Path | None,
    typer.Option(
        "--model-dir",
        help="In a TF_CONFIG cluster: the model directory all tasks share "
        "(default: AIP_CHECKPOINT_DIR, as Vertex AI sets it).",
    ),
]


def train(
    experiment: Path = typer.Argument(
        None, help="The experiment file, e.g. experiments/digits.toml (not with --resume)."
    ),
    iterations: Iterations = None,
    steps: Steps = None,
    max_steps: MaxSteps = None,
    max_seconds: MaxSeconds = None,
    resume: Resume = None,
    backend: Backend = "local",
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    workers: Workers = None,
    ps: ParameterServers = None,
    model_dir: ModelDir = None,
) -> None:
    """Train an experiment: load data, run the AdaNet search, export and register the model.

    With TF_CONFIG naming a cluster (Vertex AI sets it in every replica), this process takes its
    role: the chief searches and registers, workers train, parameter servers serve.
    """
    from mlkit.workflows.launch import TrainRequest, launch_training
    from mlkit.workflows.train import Budget

    budget = Budget(iterations, steps, max_steps, max_seconds)
    request = TrainRequest(experiment, resume, budget, backend, workers, ps, model_dir)
    with IterationProgress(enabled=not as_json) as progress:
        outcome = launch_training(
            request,
            load_settings(),
            on_stage=progress.stage,
            on_progress=progress.update,
        )
    if as_json:
        print_json(outcome)
    else:
        render(outcome)


def render(outcome: TrainOutcome | TaskResult | JobSubmitted) -> None:
    """A registered run, a cluster task's share, or a submitted Vertex AI job, for people."""
    from mlkit.workflows.launch import JobSubmitted, TaskResult

    if isinstance(outcome, TaskResult):
        console.print(
            f"{outcome.name} trained {outcome.steps_run_here:,} steps of the cluster's search "
            f"in {outcome.model_dir}"
        )
    elif isinstance(outcome, JobSubmitted):
        pools = ", ".join(f"{n} {role}" for role, n in outcome.replicas.items() if n)
        console.print(
            f"Submitted Vertex AI CustomJob [bold]{outcome.name}[/] ({outcome.state}): {pools}"
        )
        runs_in = f"{outcome.image}" + (f" with {outcome.package}" if outcome.package else "")
        console.print(f"runs in: {runs_in}\nconsole: {outcome.dashboard}")
    else:
        _report(outcome)


def _stopped(outcome: TrainOutcome) -> str:
    """How a budget ended the run early ("" when it ran every iteration's steps)."""
    if outcome.stopped_by == "max_seconds":
        return " at its time budget"
    if outcome.stopped_by == "max_steps":
        s = outcome.run.params.get("search", {})
        planned = s.get("iterations", 0) * s.get("steps_per_iteration", 0)
        return f" early: max_steps {s.get('max_steps')} of {planned:,} planned steps"
    return ""


def _report(outcome: TrainOutcome) -> None:
    version = outcome.version
    resumed = " (resumed)" if outcome.resumed else ""
    stopped = _stopped(outcome)
    console.print(
        f"Run [bold]{outcome.run.id}[/]{resumed} finished{stopped} in {outcome.seconds:.1f} s: "
        f"registered [bold]{version.model}[/] version [bold]{version.version}[/] "
        f"({' + '.join(outcome.architecture.get('subnetworks', [])) or 'ensemble'})"
    )
    rows = outcome.rows
    shown = ", ".join(
        f"{k} {fmt_metric(outcome.metrics[k])}"
        for k in ("accuracy", "loss", "rmse")
        if k in outcome.metrics
    )
    console.print(
        f"test {shown} on {rows['test']} held-out rows (train {rows['train']}, eval {rows['eval']})"
    )
    base = outcome.reference_models
    if base:
        verdict = {
            True: "the search equals or beats it",
            False: "the search does not reach it",
            None: "",
        }[outcome.beats_reference_models]
        console.print(
            f"reference models (scikit-learn): best {base['best']} {base['metric']} "
            f"{fmt_metric(base['value'])}" + (f"; {verdict}" if verdict else "")
        )
    if outcome.plot:
        console.print(f"learning curves: {outcome.plot}")
