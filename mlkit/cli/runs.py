"""mlkit runs: executions of experiments, with what they produced."""

from __future__ import annotations

import typer

from mlkit.cli.output import console, fmt_metric, fmt_time, print_json, print_table
from mlkit.config import load_settings
from mlkit.errors import UsageError

app = typer.Typer(help="Runs: executions of experiments and their lineage.", no_args_is_help=True)


def _store():
    from mlkit.registry import open_store

    settings = load_settings()
    return open_store(settings.registry_url, settings.artifacts_dir)


@app.command("list")
def list_runs(
    experiment: str = typer.Option(None, "--experiment", "-e", help="Only runs of this one."),
    where: str = typer.Option(
        None,
        "--where",
        "-w",
        help="Filter, e.g. \"status = 'finished' and metrics.accuracy > 0.9\".",
    ),
    sort: str = typer.Option(None, "--sort", help="FIELD or FIELD:desc (default: newest first)."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most N runs."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """List runs, newest first."""
    with _store() as store:
        runs = store.list_runs(experiment, limit, where=where, sort=sort)
    if as_json:
        print_json(runs)
        return
    print_table(
        "Runs",
        ["run", "experiment", "status", "started", "finished", "test accuracy", "code version"],
        (
            [
                r.id,
                r.experiment,
                r.status,
                fmt_time(r.started_at),
                fmt_time(r.finished_at),
                fmt_metric(r.metrics.get("accuracy")),
                r.code_version,
            ]
            for r in runs
        ),
        markup=False,
    )


@app.command("show")
def show(
    run: str = typer.Argument(..., metavar="RUN", help="The run's number (see mlkit runs list)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """A run: parameters, metrics by step, data, environment, versions and their deployments,
    then the search report (every iteration's candidates, the baseline, the learning curves)."""
    from mlkit.cli.run_view import render_run, run_view

    if not run.isdigit() or int(run) < 1:
        raise UsageError(f"RUN: expected a run id (a positive whole number), got {run!r}")
    run_id = int(run)
    with _store() as store:
        view = run_view(store, run_id)
    if as_json:
        print_json(view)
        return
    render_run(view)
    console.print()
    from mlkit.cli.run_report import render_search_report

    render_search_report(view.run, plot_dir=load_settings().runs_dir / str(run_id))
