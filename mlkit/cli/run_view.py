"""``mlkit runs list`` and ``mlkit runs show``: rendering the read models of
``mlkit.workflows.views`` section by section (no logic).

Sections are generic (fields, parameters, final metrics, metrics by step, data fingerprint,
environment, versions with their deployments), so columns other features add to a run render
here as extra sections.
"""

from __future__ import annotations

from pathlib import Path

from mlkit.cli.lineage import flatten, print_fields, render_deployments, run_fields
from mlkit.cli.output import console, fmt_metric, fmt_time, print_table
from mlkit.workflows.views import RunSummary, RunView


def status_cell(status: str, dead: bool, resumable: bool) -> str:
    """``failed (process died), resumable``: the status with what a reader needs to act."""
    text = f"{status} (process died)" if dead else status
    return f"{text}, resumable" if resumable else text


def render_runs(runs: list[RunSummary]) -> None:
    """Headers are the ``--json`` field names (and what ``--where``/``--sort`` take)."""
    print_table(
        "Runs",
        ["id", "experiment", "status", "started_at", "finished_at"]
        + ["metrics.accuracy", "metrics.loss", "code_version"],
        (
            [
                s.run.id,
                s.run.experiment,
                status_cell(s.run.status, s.run.dead, s.resumable),
                fmt_time(s.run.started_at),
                fmt_time(s.run.finished_at),
                fmt_metric(s.run.metrics.get("accuracy")),
                fmt_metric(s.run.metrics.get("loss")),
                s.run.code_version,
            ]
            for s in runs
        ),
        markup=False,
    )


def render_run(view: RunView, plot_dir: Path) -> None:
    """A run's fields, parameters, metrics (final and by step), data, environment, the versions
    it produced and their deployments, then its search report."""
    from mlkit.cli.run_report import render_search_report

    run = view.run
    print_fields(
        f"Run {run.id} of experiment {run.experiment}: {run.status}",
        [
            *run_fields(run),
            ("resumable", f"yes: mlkit train --resume {run.id}" if view.resumable else ""),
        ],
    )
    print_fields("Parameters", flatten(view.parameters))
    print_fields("Metrics", sorted(run.metrics.items()))
    if view.metrics_by_step:
        _metrics_by_step(view.metrics_by_step)
    print_fields("Data fingerprint", flatten(run.data_fingerprint))
    print_fields("Environment", flatten(run.environment))
    if view.versions:
        _versions_produced(view)
        render_deployments(view.deployments)
    console.print()
    render_search_report(run, plot_dir=plot_dir)


def _metrics_by_step(by_step: dict[str, list[tuple[int, float]]]) -> None:
    keys = sorted(by_step)
    steps = sorted({s for points in by_step.values() for s, _ in points})
    values = {k: dict(points) for k, points in by_step.items()}
    print_table(
        "Metrics by step",
        ["step", *keys],
        ([step, *(fmt_metric(values[k].get(step)) for k in keys)] for step in steps),
        markup=False,
    )


def _versions_produced(view: RunView) -> None:
    print_table(
        "Versions produced",
        ["model", "version", "created_at", "aliases", "metrics.accuracy", "artifact_sha256"],
        (
            [
                v.model,
                v.version,
                fmt_time(v.created_at),
                ", ".join(v.aliases),
                fmt_metric(v.metrics.get("accuracy")),
                v.artifact_sha256[:12],
            ]
            for v in view.versions
        ),
        markup=False,
    )
