"""mlkit monitor: what a deployed model served, its drift, live metrics, and the [monitoring]
rules (--check, for cron)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlkit.cli.output import console, print_json, print_table

Since = Annotated[
    str | None,
    typer.Option("--since", help="Only what was served since: 30m, 2h, 7d or an ISO time."),
]
Target = Annotated[str, typer.Option("--target", help="local (default), vertex or cloudrun.")]
Log = Annotated[
    str | None,
    typer.Option(
        "--log", help="The log table (local name or bq://project.dataset.table; default: the "
        "deployment's, else prediction_log).",
    ),
]  # fmt: skip
Labels = Annotated[
    str | None,
    typer.Option("--labels", help="A labels table (request_id, label) joined on request id."),
]
Check = Annotated[
    bool,
    typer.Option(
        "--check", help="Apply the experiment's monitoring rules; exit 9 when one breaks."
    ),
]
Experiment = Annotated[
    Path | None,
    typer.Option("--experiment", "-e", help="Rules from this file (default: the run's own)."),
]
Plot = Annotated[
    Path | None, typer.Option("--plot", help="Where to write the plot (default: monitor/NAME.png).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]


def monitor(
    name: str = typer.Argument(..., help="The model, e.g. digits."),
    since: Since = None,
    target: Target = "local",
    log: Log = None,
    labels: Labels = None,
    check: Check = False,
    experiment: Experiment = None,
    plot: Plot = None,
    as_json: AsJson = False,
) -> None:
    """Requests, errors, latency, predictions, drift and live metrics per deployed version."""
    from mlkit.config import load_settings
    from mlkit.errors import MonitoringAlert
    from mlkit.workflows.monitor import monitor as run_monitor

    report = run_monitor(
        load_settings(), name, since=since, endpoint=target, log=log, labels=labels, check=check,
        experiment=experiment, plot=True, plot_path=plot,
    )  # fmt: skip
    if as_json:
        print_json(report)
    else:
        render(report)
        console.print(f"Plot: {report.plot}", highlight=False)
    if report.broken:
        raise MonitoringAlert(f"{len(report.broken)} monitoring rule(s) broken for '{name}'")


def render(report) -> None:
    console.print(f"{report.model} on {report.endpoint}, log: {report.log}", highlight=False)
    if report.dropped:
        console.print(f"[yellow]{report.dropped} log records dropped[/] (the sink was down)")
    if report.pruned_before is not None:
        from datetime import datetime

        cut = datetime.fromtimestamp(report.pruned_before).isoformat(timespec="seconds")
        console.print(f"The log was pruned: nothing answered before {cut} is left", highlight=False)
    print_table(
        "Served",
        ["version", "requests", "instances", "errors", "p50 ms", "p99 ms", "predictions"],
        (
            [t.version, t.requests, t.instances, f"{t.errors} ({t.error_rate:.1%})",
             _ms(t.latency_p50_ms), _ms(t.latency_p99_ms),
             ", ".join(f"{k}: {v:g}" for k, v in list(t.predictions.items())[:10])]
            for t in report.traffic
        ),
    )  # fmt: skip
    for version, features in sorted(report.drift.items()):
        print_table(
            f"Drift of v{version}'s served features vs run {report.drift_runs[version]}",
            ["feature", "PSI", "mean (train)", "mean (served)", "shift (sd)", "drifted"],
            (
                [d.feature, f"{d.psi:.3f}", _num(d.mean_before), _num(d.mean_after),
                 _num(d.mean_shift), d.reason if d.drifted else "no"]
                for d in features
            ),
        )  # fmt: skip
    if report.live.overall:
        print_table(
            f"Live {report.live.metric} from feedback ({report.live.labelled} labelled)",
            ["version", report.live.metric or "", "95% interval", "labelled"],
            ([m.version, f"{m.value:.4f}", f"{m.low:.4f}..{m.high:.4f}", m.n]
             for m in report.live.overall),
        )  # fmt: skip
    for a in report.allocations[-5:]:
        shares = ", ".join(f"v{v}: {s:.0%}" for v, s in (a.get("shares") or {}).items())
        console.print(f"bandit allocation at {a['at']}: {shares}", highlight=False)
    for line in report.broken or []:
        console.print(f"BROKEN {line}", highlight=False)
    if report.broken == []:
        console.print("All monitoring rules hold.")


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"
