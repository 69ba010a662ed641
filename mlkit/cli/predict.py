"""mlkit predict: send instances to the endpoint serving a model (local or Vertex AI)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from mlkit.cli.output import print_json, print_table
from mlkit.config import load_settings
from mlkit.errors import UsageError


def predict(
    name: str = typer.Argument(..., help="The deployed model, e.g. digits."),
    instances: str = typer.Option(
        ..., "--instances", "-i", help='JSON file with {"instances": [...]} or a list; - for stdin.'
    ),
    url: str = typer.Option(
        None, "--url", help="Endpoint URL (default: MLKIT_ENDPOINT_URL or local)."
    ),
    target: str = typer.Option(
        "local", "--target", help="local (the local endpoint) or vertex (Vertex AI)."
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
    payload = _read_instances(instances)
    if version is not None and label is not None:
        raise UsageError("give --version or --label, not both")
    from mlkit.workflows.serve import open_endpoint

    endpoint = open_endpoint(load_settings(), target, url=url, token=token)
    answer = endpoint.predict(name, payload, version=version, label=label)
    if as_json:
        print_json(answer)
        return
    rows = []
    for i, p in enumerate(answer["predictions"]):
        class_id = p.get("class_id") if isinstance(p, dict) else None
        if class_id is None and isinstance(p, dict) and p.get("class_ids"):
            class_id = int(p["class_ids"][0])  # Vertex's TF container: the raw outputs
        if class_id is not None and p.get("probabilities"):
            rows.append([i, class_id, f"{max(p['probabilities']):.3f}"])
        else:
            rows.append([i, json.dumps(p), ""])
    served = answer.get("version") or answer.get("modelVersionId")
    deployed = answer.get("deployedModelId")
    where = f" on {endpoint.title}" + (f" ({deployed})" if deployed else "")
    print_table(f"{name} version {served}{where}", ["instance", "prediction", "confidence"], rows)


def _read_instances(source: str) -> list:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read instances from {source}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if isinstance(data, dict) and "instances" in data:
        data = data["instances"]
    if not isinstance(data, list) or not data:
        raise UsageError(
            f'{source} must hold a non-empty list of instances or {{"instances": [...]}}'
        )
    return data
