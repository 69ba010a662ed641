"""mlkit deploy and rollback: promote a version only on a passing verdict; undo in one step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from mlkit.cli.output import StepProgress, console, print_json, stage_printer
from mlkit.config import load_settings

if TYPE_CHECKING:
    from mlkit.workflows.promote import DeployOutcome, RollbackOutcome

Version = Annotated[
    int | None, typer.Option("--version", min=1, help="Version to deploy (default: latest).")
]
Force = Annotated[
    bool, typer.Option("--force", help="Deploy even when the verdict fails (needs --reason).")
]
ForceReason = Annotated[
    str | None,
    typer.Option(
        "--reason", help="Why a failed verdict is overridden (recorded with who forced it)."
    ),
]
Target = Annotated[
    str, typer.Option("--target", help="Where to deploy: local, vertex or cloudrun.")
]
Traffic = Annotated[
    int,
    typer.Option(
        "--traffic", min=1, max=100, help="Share of the traffic in percent (canary: <100)."
    ),
]
JudgeData = Annotated[
    str | None,
    typer.Option(
        "--data",
        help="Judge on every row of this table (local, or bq://project.dataset.table) instead "
        "of the test split.",
    ),
]

LogRequests = Annotated[
    bool,
    typer.Option("--log-requests", help="Vertex AI: log requests and answers to BigQuery."),
]
LogTable = Annotated[
    str | None,
    typer.Option("--log-table", help="With --log-requests: bq://project.dataset.table."),
]


def deploy(
    name: str = typer.Argument(..., help="The model to deploy, e.g. digits."),
    version: Version = None,
    force: Force = False,
    reason: ForceReason = None,
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
    target: Target = "local",
    traffic: Traffic = 100,
    data: JudgeData = None,
    log_requests: LogRequests = False,
    log_table: LogTable = None,
) -> None:
    """Compare a version with the deployed one; promote it to the endpoint only on a pass."""
    from mlkit.workflows.promote import deploy as run_deploy

    with StepProgress("evaluating", enabled=not as_json) as progress:
        outcome = run_deploy(
            name, load_settings(), version=version, force=force, reason=reason, endpoint=target,
            traffic=traffic, data_table=data, on_stage=stage_printer(enabled=not as_json),
            on_progress=progress.update, log_requests=log_requests, log_table=log_table,
        )  # fmt: skip
    if as_json:
        print_json(outcome)
    else:
        render_deploy(outcome)
    refused = outcome.refusal()
    if refused is not None:
        raise refused


def render_deploy(outcome: DeployOutcome) -> None:
    """The verdict and what went live, or that the version already serves."""
    from mlkit.cli.verdict_view import render_verdict

    name, version = outcome.model, outcome.candidate_version
    if outcome.request_log:
        console.print(f"Requests and answers are logged to {outcome.request_log}.", highlight=False)
    if outcome.already_deployed:
        console.print(f"{name} version {version} is already deployed.")
        return
    render_verdict(outcome.verdict)
    if outcome.plot is not None:
        console.print(f"Plot: {outcome.plot}", highlight=False)
    if not (outcome.deployed and outcome.verdict and outcome.deployment):
        return
    how = (
        f"forced over a failed verdict by {outcome.verdict.forced_by}"
        if outcome.forced
        else "its verdict passed"
    )
    replaced = outcome.deployment.previous_version
    share = "" if outcome.traffic == 100 else f" with {outcome.traffic}% of the traffic"
    before = (
        f"previous champion: version {replaced}."
        if replaced is not None
        else "nothing was deployed before."
    )
    console.print(
        f"[green]Deployed[/] {name} version {version} to {outcome.where}{share} ({how}); {before}",
        highlight=False,
    )


def rollback(
    name: str = typer.Argument(..., help="The model to roll back, e.g. digits."),
    reason: str = typer.Option(None, "--reason", help="Why (recorded with who rolled back)."),
    as_json: bool = typer.Option(False, "--json", help="Print the new deployment as JSON."),
    target: str = typer.Option("local", "--target", help="local (default), vertex or cloudrun."),
) -> None:
    """Restore the previous champion on the endpoint in one step."""
    from mlkit.workflows.promote import rollback as run_rollback

    outcome = run_rollback(name, load_settings(), endpoint=target, reason=reason)
    if as_json:
        print_json(outcome)
    else:
        render_rollback(outcome)


def render_rollback(outcome: RollbackOutcome) -> None:
    d = outcome.deployment
    by = f" (by {d.actor})" if d.actor else ""
    if outcome.from_version == d.version:  # a canary retired: the champion stays
        console.print(
            f"[green]Rolled back[/] the canary of {outcome.model} on the {outcome.endpoint} "
            f"endpoint: version {d.version} serves all the traffic again{by}.",
            highlight=False,
        )
        return
    console.print(
        f"[green]Rolled back[/] {outcome.model} on the {outcome.endpoint} endpoint: version "
        f"{outcome.from_version} → version {d.version} (champion: {d.version}"
        + (f", previous: {d.previous_version}" if d.previous_version else "")
        + (f"; by {d.actor})." if d.actor else ")."),
        highlight=False,
    )
