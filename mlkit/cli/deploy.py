"""mlkit deploy and rollback: promote a version only on a passing verdict; undo in one step."""

from __future__ import annotations

import typer

from mlkit.cli.output import StepProgress, console, print_json, stage_printer
from mlkit.config import load_settings
from mlkit.errors import PromotionRefused, UsageError


def deploy(
    name: str = typer.Argument(..., help="The model to deploy, e.g. digits."),
    version: int = typer.Option(
        None, "--version", min=1, help="Version to deploy (default: latest)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Deploy even when the verdict fails (needs --reason)."
    ),
    reason: str = typer.Option(
        None, "--reason", help="Why a failed verdict is overridden (recorded with who forced it)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
    target: str = typer.Option(
        "local", "--target", help="Where to deploy: local (the local endpoint) or vertex."
    ),
    traffic: int = typer.Option(
        100, "--traffic", min=1, max=100, help="Share of the traffic in percent (canary: <100)."
    ),
    data: str = typer.Option(
        None,
        "--data",
        help="Judge on every row of this table (local, or bq://project.dataset.table) instead "
        "of the test split.",
    ),
) -> None:
    """Compare a version with the deployed one; promote it to the endpoint only on a pass."""
    from mlkit.cli.verdict_view import render_verdict
    from mlkit.workflows.promote import deploy as run_deploy

    if force and not (reason or "").strip():
        raise UsageError(
            "--force needs --reason: say why the verdict is overridden",
            hint='e.g. --force --reason "hotfix for the label outage, ticket 123"',
        )
    if reason is not None and not force:
        raise UsageError("--reason goes with --force (it records why a verdict is overridden)")
    with StepProgress("evaluating", enabled=not as_json) as progress:
        outcome = run_deploy(
            name,
            load_settings(),
            version=version,
            force=force,
            reason=reason,
            endpoint=target,
            traffic=traffic,
            data_table=data,
            on_stage=stage_printer(enabled=not as_json),
            on_progress=progress.update,
        )
    if as_json:
        print_json(outcome)
    elif outcome.already_deployed:
        console.print(f"{name} version {outcome.candidate_version} is already deployed.")
        return
    else:
        render_verdict(outcome.verdict)
        if outcome.deployed and outcome.verdict and outcome.deployment:
            how = (
                f"forced over a failed verdict by {outcome.verdict.forced_by}"
                if outcome.forced
                else "its verdict passed"
            )
            replaced = outcome.deployment.previous_version
            where = outcome.where
            share = "" if traffic == 100 else f" with {traffic}% of the traffic"
            console.print(
                f"[green]Deployed[/] {name} version {outcome.candidate_version} to {where}"
                f"{share} ({how}); "
                + (
                    f"previous champion: version {replaced}."
                    if replaced is not None
                    else "nothing was deployed before."
                ),
                highlight=False,
            )
    if not outcome.deployed and not outcome.already_deployed:
        raise PromotionRefused(
            f"{name} version {outcome.candidate_version} was not deployed: {outcome.reason}",
            hint='deploy it anyway with --force --reason "why"',
        )


def rollback(
    name: str = typer.Argument(..., help="The model to roll back, e.g. digits."),
    reason: str = typer.Option(None, "--reason", help="Why (recorded with who rolled back)."),
    as_json: bool = typer.Option(False, "--json", help="Print the new deployment as JSON."),
    target: str = typer.Option("local", "--target", help="local (default) or vertex."),
) -> None:
    """Restore the previous champion on the endpoint in one step."""
    from mlkit.workflows.promote import rollback as run_rollback

    outcome = run_rollback(name, load_settings(), endpoint=target, reason=reason)
    if as_json:
        print_json(outcome)
        return
    d = outcome.deployment
    console.print(
        f"[green]Rolled back[/] {name} on the {outcome.endpoint} endpoint: version "
        f"{outcome.from_version} → version {d.version} (champion: {d.version}"
        + (f", previous: {d.previous_version}" if d.previous_version else "")
        + (f"; by {d.actor})." if d.actor else ")."),
        highlight=False,
    )
