"""mlkit runs: executions of experiments (``show`` renders the search report)."""

from __future__ import annotations

import typer

from mlkit.cli.output import console, fmt_metric, fmt_time, print_json
from mlkit.cli.run_report import render_search_report
from mlkit.config import load_settings
from mlkit.errors import UsageError

app = typer.Typer(help="Runs of experiments and their search reports.", no_args_is_help=True)


@app.command("show")
def show(
    run: str = typer.Argument(..., metavar="RUN", help="The run's id, e.g. 3."),
    as_json: bool = typer.Option(False, "--json", help="Print the run as JSON."),
) -> None:
    """Show a run: status, metrics, every iteration's candidates, the baseline and the plot."""
    if not run.isdigit():
        raise UsageError(f"RUN: expected a run id (a positive whole number), got {run!r}")
    from mlkit.registry import open_store

    settings = load_settings()
    record = open_store(settings.registry_url, settings.artifacts_dir).get_run(int(run))
    if as_json:
        print_json(record)
        return
    console.print(
        f"[bold]Run {record.id}[/] of experiment [bold]{record.experiment}[/]: {record.status}"
        f" (started {fmt_time(record.started_at)}, finished {fmt_time(record.finished_at) or '-'})"
    )
    if record.error:
        console.print(f"error: {record.error}")
    if record.metrics:
        console.print(
            "test metrics: "
            + ", ".join(
                f"{k} {fmt_metric(v) if isinstance(v, float) else v}"
                for k, v in sorted(record.metrics.items())
            )
        )
    render_search_report(record, plot_dir=settings.runs_dir / str(record.id))
