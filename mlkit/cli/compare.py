"""mlkit compare: evaluate a candidate version against a baseline and record the verdict (or,
with --online, compare the live metrics of two serving versions from feedback)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlkit.cli.output import StepProgress, console, print_json, stage_printer
from mlkit.config import load_settings

Candidate = Annotated[
    int | None,
    typer.Option("--candidate", min=1, help="The candidate version (default: latest)."),
]
Baseline = Annotated[
    str,
    typer.Option("--baseline", help="'deployed' (what the endpoint serves) or a version."),
]
Data = Annotated[
    str | None,
    typer.Option(
        "--data",
        help="Evaluate on every row of this table (local, or bq://project.dataset.table; "
        "default: the test split).",
    ),
]
Plot = Annotated[
    Path | None,
    typer.Option("--plot", help="Where to write the comparison plot (default: runs/verdicts/)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the stored verdict as JSON.")]
Online = Annotated[
    bool,
    typer.Option("--online", help="Compare live metrics from feedback on what each served."),
]
Since = Annotated[
    str | None, typer.Option("--since", help="--online: answers since (30m, 2h, 7d).")
]


def compare(
    name: str = typer.Argument(..., help="The model, e.g. digits."),
    candidate: Candidate = None,
    baseline: Baseline = "deployed",
    data: Data = None,
    plot: Plot = None,
    as_json: AsJson = False,
    online: Online = False,
    since: Since = None,
) -> None:
    """Compare two versions on the same rows with the experiment's promotion policy."""
    from mlkit.cli.verdict_view import render_verdict
    from mlkit.workflows.promote import compare as run_compare

    if online:
        from mlkit.workflows.monitor import compare_online

        found = compare_online(load_settings(), name, candidate=candidate, baseline=baseline,
                               since=since)  # fmt: skip
        print_json({"verdict": found}) if as_json else render_verdict(found)
        return
    with StepProgress("evaluating", enabled=not as_json) as progress:
        outcome = run_compare(
            name, load_settings(), candidate=candidate, baseline=baseline, data_table=data,
            plot_path=plot, on_stage=stage_printer(enabled=not as_json),
            on_progress=progress.update,
        )  # fmt: skip
    if as_json:
        print_json({"verdict": outcome.verdict, "plot": str(outcome.plot)})
        return
    render_verdict(outcome.verdict)
    console.print(f"Plot: {outcome.plot}", highlight=False)
