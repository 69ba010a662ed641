"""mlkit predict: send instances to the endpoint serving a model (local or Vertex AI)."""

from __future__ import annotations

import typer

from mlkit.cli.output import print_json, print_table
from mlkit.config import load_settings


def predict(
    name: str = typer.Argument(..., help="The deployed model, e.g. digits."),
    instances: str = typer.Option(
        ..., "--instances", "-i", help='JSON file with {"instances": [...]} or a list; - for stdin.'
    ),
    url: str = typer.Option(
        None, "--url", help="Endpoint URL (default: MLKIT_ENDPOINT_URL or local)."
    ),
    target: str = typer.Option(
        "local", "--target", help="local (the local endpoint), vertex or cloudrun."
    ),
    version: int = typer.Option(
        None, "--version", min=1, help="Ask this deployed version (local endpoint only)."
    ),
    label: str = typer.Option(
        None, "--label", help="Ask the version of this alias, e.g. champion (local only)."
    ),
    token: str = typer.Option(
        None,
        "--token",
        envvar="MLKIT_ENDPOINT_TOKEN",
        help="Bearer token of the local endpoint (default: MLKIT_ENDPOINT_TOKEN).",
        show_default=False,
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the endpoint's answer as JSON."),
) -> None:
    """Ask the endpoint serving a model (local or Vertex AI) for predictions."""
    from mlkit.workflows.predict import PredictRequest
    from mlkit.workflows.predict import predict as ask

    request = PredictRequest(name, instances, target, url, version, label, token)
    answer = ask(request, load_settings())
    if as_json:
        print_json(answer.raw)
        return
    title = f"{name} version {answer.version}{answer.where}"
    print_table(title, ["instance", "prediction", "confidence"], answer.rows)
