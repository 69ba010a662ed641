"""mlkit endpoints: what serves where, traffic split (canary), rollback and undeploy, on every
endpoint kind through one interface (mlkit.serving.endpoints)."""

from __future__ import annotations

import typer

from mlkit.cli.output import console, fmt_time, print_json, print_table
from mlkit.config import load_settings
from mlkit.registry import Deployment

app = typer.Typer(
    help="Deployments on the local endpoint and Vertex AI: traffic split, rollback, undeploy.",
    no_args_is_help=True,
)

_TARGET_HELP = "local (the local endpoint), vertex (Vertex AI) or cloudrun (Cloud Run)."
_REASON_HELP = "Why (recorded with who did it)."


def _show(model: str, target: str, deployments: list[Deployment], as_json: bool) -> None:
    from mlkit.workflows.serve import resource_of

    if as_json:
        print_json(deployments)
        return
    if not deployments:
        console.print(f"{model} is no longer served on {target}.", highlight=False)
        return
    print_table(
        f"{model} on {target}",
        # The headers are the --json field names (resources: what the endpoint kind calls it).
        ["version", "traffic_percent", "deployed_at", "action", "actor", "resources"],
        (
            [
                d.version,
                f"{d.traffic_percent}%",
                fmt_time(d.deployed_at),
                d.action or "",
                d.actor or "",
                resource_of(d),
            ]
            for d in deployments
        ),
    )


@app.command("list")
def list_deployments(
    target: str = typer.Option(None, "--target", help="Only this target (default: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """List the active deployments and their share of the traffic."""
    from mlkit.workflows.serve import deployments, resource_of

    found = deployments(load_settings(), endpoint=target)
    if as_json:
        print_json(found)
        return
    print_table(
        "Deployments",
        # The headers are the --json field names (resources: what the endpoint kind calls it).
        ["model", "version", "endpoint", "traffic_percent", "deployed_at", "actor", "resources"],
        (
            [
                d.model,
                d.version,
                d.endpoint,
                f"{d.traffic_percent}%",
                fmt_time(d.deployed_at),
                d.actor or "",
                d.resources.get("endpoint", resource_of(d)),
            ]
            for d in sorted(found, key=lambda d: (d.model, d.endpoint, -d.traffic_percent))
        ),
    )


@app.command("traffic")
def traffic(
    name: str = typer.Argument(..., help="The model, e.g. digits."),
    split: str = typer.Argument(
        None, help="VERSION=PERCENT,... summing to 100, e.g. 3=90,4=10 (optional with a bandit)."
    ),
    target: str = typer.Option("local", "--target", help=_TARGET_HELP),
    policy: str = typer.Option(
        None, "--policy", help="fixed (the split; default) or bandit (Thompson sampling)."
    ),
    min_share: float = typer.Option(0.05, "--min-share", help="Bandit: least share per version."),
    cap: float = typer.Option(0.05, "--cap", help="Bandit: most share of a failed version."),
    reason: str = typer.Option(None, "--reason", help=_REASON_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Split a model's traffic between versions (a canary), or let a bandit split it."""
    from mlkit.workflows.serve import traffic as set_traffic

    outcome = set_traffic(
        load_settings(), name, split, policy=policy, endpoint=target, min_share=min_share,
        cap=cap, reason=reason,
    )  # fmt: skip
    _show(name, target, outcome.deployments, as_json)
    if outcome.policy == "bandit" and not as_json:
        console.print(
            f"Policy: bandit (Thompson sampling on feedback; at least {outcome.min_share:.0%} "
            f"per version, at most {outcome.cap:.0%} for a failed one).",
            highlight=False,
        )


@app.command("rollback")
def rollback(
    name: str = typer.Argument(..., help="The model, e.g. digits."),
    target: str = typer.Option("local", "--target", help=_TARGET_HELP),
    reason: str = typer.Option(None, "--reason", help=_REASON_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Send all of a model's traffic back to the previous version (same as mlkit rollback)."""
    from mlkit.workflows.promote import rollback as run_rollback

    outcome = run_rollback(name, load_settings(), endpoint=target, reason=reason)
    _show(name, target, [outcome.deployment], as_json)


@app.command("undeploy")
def undeploy(
    name: str = typer.Argument(..., help="The model, e.g. digits."),
    version: int = typer.Option(
        None, "--version", min=1, help="Only this version (its traffic goes to the others)."
    ),
    target: str = typer.Option("local", "--target", help=_TARGET_HELP),
    reason: str = typer.Option(None, "--reason", help=_REASON_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Stop serving a model (or one of its versions)."""
    from mlkit.workflows.serve import undeploy as run_undeploy

    rows = run_undeploy(load_settings(), name, version=version, endpoint=target, reason=reason)
    if as_json:
        print_json(rows)
        return
    what = name if version is None else f"{name} version {version}"
    console.print(f"Undeployed {what} from {target}.", highlight=False)
    if rows:
        _show(name, target, rows, as_json)
