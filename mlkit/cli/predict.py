"""mlkit predict: send instances to the endpoint serving a model."""

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
    as_json: bool = typer.Option(False, "--json", help="Print the endpoint's answer as JSON."),
) -> None:
    """Ask the endpoint for predictions."""
    from mlkit.serving.client import predict as call

    payload = _read_instances(instances)
    answer = call(url or load_settings().endpoint_url, name, payload)
    if as_json:
        print_json(answer)
        return
    rows = []
    for i, p in enumerate(answer["predictions"]):
        if "class_id" in p:
            rows.append([i, p["class_id"], f"{max(p['probabilities']):.3f}"])
        else:
            rows.append([i, json.dumps(p), ""])
    print_table(
        f"{name} version {answer.get('version')}", ["instance", "prediction", "confidence"], rows
    )


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
