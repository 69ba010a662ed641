"""mlkit endpoints: what serves where, traffic split (canary), rollback and undeploy."""

from __future__ import annotations

import typer

from mlkit.cli.output import console, fmt_time, print_json, print_table
from mlkit.config import load_settings
from mlkit.errors import UsageError

app = typer.Typer(
    help="Deployments on the local endpoint and Vertex AI: traffic split, rollback, undeploy.",
    no_args_is_help=True,
)

_TARGET_HELP = "local (the local endpoint) or vertex (Vertex AI)."


def _target(name: str):
    from mlkit.serving.targets import TARGETS
    from mlkit.workflows.serve import open_target

    if name not in TARGETS:
        raise UsageError(f"unknown --target {name!r}: expected {' or '.join(TARGETS)}")
    return open_target(load_settings(), name)


def _show(model: str, target: str, deployments: list, as_json: bool) -> None:
    if as_json:
        print_json(deployments)
        return
    if not deployments:
        console.print(f"{model} is not deployed on {target}.")
        return
    print_table(
        f"{model} on {target}",
        ["version", "traffic", "deployed", "deployed model id"],
        (
            [
                d.version,
                f"{d.traffic_percent}%",
                fmt_time(d.deployed_at),
                d.vertex.get("deployed_model_id", d.id),
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
    from mlkit.registry import open_store

    settings = load_settings()
    store = open_store(settings.registry_url, settings.artifacts_dir)
    deployments = store.list_deployments(endpoint=target)
    if as_json:
        print_json(deployments)
        return
    print_table(
        "Deployments",
        ["model", "version", "endpoint", "traffic", "deployed", "vertex endpoint"],
        (
            [
                d.model,
                d.version,
                d.endpoint,
                f"{d.traffic_percent}%",
                fmt_time(d.deployed_at),
                d.vertex.get("endpoint", ""),
            ]
            for d in sorted(deployments, key=lambda d: (d.model, d.endpoint, -d.traffic_percent))
        ),
    )


@app.command("traffic")
def traffic(
    name: str = typer.Argument(..., help="The model, e.g. digits."),
    split: str = typer.Argument(..., help="VERSION=PERCENT,... summing to 100, e.g. 3=90,4=10."),
    target: str = typer.Option("local", "--target", help=_TARGET_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Split a model's traffic between versions (a canary); 0 retires a version."""
    from mlkit.serving.targets import parse_split

    shares = parse_split(split)
    _show(name, target, _target(target).set_traffic(name, shares), as_json)


@app.command("rollback")
def rollback(
    name: str = typer.Argument(..., help="The model, e.g. digits."),
    target: str = typer.Option("local", "--target", help=_TARGET_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Send all of a model's traffic back to the previous version (same as mlkit rollback)."""
    from mlkit.workflows.promote import rollback as run_rollback

    endpoint = _target(target)
    run_rollback(name, load_settings(), endpoint=target)
    _show(name, target, endpoint.current(name), as_json)


@app.command("undeploy")
def undeploy(
    name: str = typer.Argument(..., help="The model, e.g. digits."),
    version: int = typer.Option(
        None, "--version", min=1, help="Only this version (its traffic goes to the others)."
    ),
    target: str = typer.Option("local", "--target", help=_TARGET_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Stop serving a model (or one of its versions)."""
    _show(name, target, _target(target).undeploy(name, version), as_json)
