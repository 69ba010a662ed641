"""mlkit train: run an experiment and register the winning ensemble as a new version."""

from __future__ import annotations

from pathlib import Path

import typer

from mlkit.cli.output import StepProgress, console, fmt_metric, print_json, stage_printer
from mlkit.config import load_settings


def train(
    experiment: Path = typer.Argument(
        ..., help="The experiment file, e.g. experiments/digits.toml."
    ),
    iterations: int = typer.Option(None, "--iterations", min=1, help="Override search.iterations."),
    steps: int = typer.Option(None, "--steps", min=1, help="Override search.steps_per_iteration."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Train an experiment: load data, run the AdaNet search, export and register the model."""
    from mlkit.workflows.train import train as run_train

    on_stage = stage_printer(enabled=not as_json)
    with StepProgress("training steps", enabled=not as_json) as progress:
        outcome = run_train(
            experiment,
            load_settings(),
            iterations=iterations,
            steps=steps,
            on_stage=on_stage,
            on_progress=progress.update,
        )
    if as_json:
        print_json(outcome)
        return
    version = outcome.version
    console.print(
        f"Run [bold]{outcome.run.id}[/] finished in {outcome.seconds:.1f} s: "
        f"registered [bold]{version.model}[/] version [bold]{version.version}[/] "
        f"({' + '.join(outcome.architecture.get('subnetworks', [])) or 'ensemble'})"
    )
    rows = outcome.rows
    shown = ", ".join(
        f"{k} {fmt_metric(outcome.metrics[k])}"
        for k in ("accuracy", "average_loss", "rmse")
        if k in outcome.metrics
    )
    console.print(
        f"test {shown} on {rows['test']} held-out rows (train {rows['train']}, eval {rows['eval']})"
    )
