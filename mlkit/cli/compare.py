"""mlkit compare: evaluate a candidate version against a baseline and record the verdict."""

from __future__ import annotations

from pathlib import Path

import typer

from mlkit.cli.output import StepProgress, console, print_json, stage_printer
from mlkit.config import load_settings


def compare(
    name: str = typer.Argument(..., help="The model, e.g. digits."),
    candidate: int = typer.Option(
        None, "--candidate", min=1, help="The candidate version (default: latest)."
    ),
    baseline: str = typer.Option(
        "deployed", "--baseline", help="'deployed' (what the endpoint serves) or a version."
    ),
    data: str = typer.Option(
        None,
        "--data",
        help="Evaluate on every row of this table (local, or bq://project.dataset.table; "
        "default: the test split).",
    ),
    plot: Path = typer.Option(
        None, "--plot", help="Where to write the comparison plot (default: runs/verdicts/)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the stored verdict as JSON."),
) -> None:
    """Compare two versions on the same rows with the experiment's promotion policy."""
    from mlkit.cli.verdict_view import render_verdict
    from mlkit.workflows.promote import compare as run_compare

    with StepProgress("evaluating", enabled=not as_json) as progress:
        outcome = run_compare(
            name,
            load_settings(),
            candidate=candidate,
            baseline=baseline,
            data_table=data,
            plot_path=plot,
            on_stage=stage_printer(enabled=not as_json),
            on_progress=progress.update,
        )
    if as_json:
        print_json({"verdict": outcome.verdict, "plot": str(outcome.plot)})
        return
    render_verdict(outcome.verdict)
    console.print(f"Plot: {outcome.plot}", highlight=False)
