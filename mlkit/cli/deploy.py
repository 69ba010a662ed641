"""mlkit deploy: compare a version with the deployed one and promote it only when it wins."""

from __future__ import annotations

import typer

from mlkit.cli.output import console, fmt_metric, print_json, print_table, stage_printer
from mlkit.config import load_settings
from mlkit.errors import PromotionRefused, UsageError


def deploy(
    name: str = typer.Argument(..., help="The model to deploy, e.g. digits."),
    version: int = typer.Option(
        None, "--version", min=1, help="Version to deploy (default: latest)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Deploy even when the candidate does not win."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
    target: str = typer.Option(
        "local", "--target", help="Where to deploy: local (the local endpoint) or vertex."
    ),
    traffic: int = typer.Option(
        100, "--traffic", min=1, max=100, help="Share of the traffic in percent (canary: <100)."
    ),
) -> None:
    """Deploy a version to the local endpoint if it beats the deployed one on the same test data."""
    from mlkit.workflows.promote import deploy as run_deploy

    if target not in ("local", "vertex"):
        raise UsageError(f"unknown --target {target!r}: expected local or vertex")
    on_stage = stage_printer(enabled=not as_json)
    outcome = run_deploy(
        name,
        load_settings(),
        version=version,
        force=force,
        on_stage=on_stage,
        target=target,
        traffic=traffic,
    )
    if as_json:
        print_json(outcome)
    elif outcome.already_deployed:
        console.print(f"{name} version {outcome.candidate_version} is already deployed.")
        return
    else:
        _render(outcome)
    if not outcome.deployed and not outcome.already_deployed:
        raise PromotionRefused(
            f"{name} version {outcome.candidate_version} was not deployed: "
            f"{outcome.decision.reason}",
            hint="deploy it anyway with --force",
        )


def _render(outcome) -> None:
    cand, base = outcome.candidate_metrics or {}, outcome.baseline_metrics
    if base is not None:
        print_table(
            f"{outcome.model}: version {outcome.candidate_version} vs deployed version "
            f"{outcome.baseline_version} on the same {outcome.rows} test rows",
            [
                "metric",
                f"v{outcome.candidate_version} (candidate)",
                f"v{outcome.baseline_version} (deployed)",
                "change",
            ],
            (
                [k, fmt_metric(cand[k]), fmt_metric(base[k]), f"{cand[k] - base[k]:+.4f}"]
                for k in sorted(cand)
            ),
        )
    else:
        print_table(
            f"{outcome.model}: version {outcome.candidate_version} on {outcome.rows} test rows",
            ["metric", "value"],
            ([k, fmt_metric(v)] for k, v in sorted(cand.items())),
        )
    if outcome.deployed:
        how = "forced over a failed verdict" if outcome.forced else outcome.decision.reason
        console.print(
            f"[green]Deployed[/] {outcome.model} version {outcome.candidate_version} "
            f"to {'the local endpoint' if outcome.target == 'local' else 'Vertex AI'}"
            f"{'' if outcome.traffic == 100 else f' with {outcome.traffic}% of the traffic'}"
            f" ({how})."
        )
