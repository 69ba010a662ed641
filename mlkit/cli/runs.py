"""mlkit runs: executions of experiments, with what they produced."""

from __future__ import annotations

import typer

from mlkit.cli import runs_files
from mlkit.cli.output import print_json, to_jsonable
from mlkit.config import load_settings
from mlkit.errors import UsageError

app = typer.Typer(help="Runs: executions of experiments and their lineage.", no_args_is_help=True)
app.command("delete")(runs_files.delete)
app.command("gc")(runs_files.gc)


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
    """List runs, newest first (a run whose process died shows as failed)."""
    from mlkit.cli.run_view import render_runs
    from mlkit.workflows import views

    with _store() as store:
        runs = views.list_runs(
            store, load_settings(), experiment=experiment, limit=limit, where=where, sort=sort
        )
    if as_json:
        print_json([{**to_jsonable(r.run), "resumable": r.resumable} for r in runs])
        return
    render_runs(runs)


@app.command("show")
def show(
    run: str = typer.Argument(..., metavar="RUN", help="The run's number (see mlkit runs list)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """A run: parameters, metrics by step, data, environment, versions and their deployments,
    then the search report (every iteration's candidates, the reference models, the learning
    curves)."""
    from mlkit.cli.run_view import render_run
    from mlkit.workflows import views

    if not run.isdigit() or int(run) < 1:
        raise UsageError(f"RUN: expected a run id (a positive whole number), got {run!r}")
    settings = load_settings()
    with _store() as store:
        view = views.run_view(store, settings, int(run))
    if as_json:
        print_json(view)
        return
    render_run(view, plot_dir=settings.runs_dir / str(view.run.id))
