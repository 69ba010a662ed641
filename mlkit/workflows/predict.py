"""``mlkit predict``: read instances, ask the endpoint serving a model, and read its answer.

The endpoint is one of ``ENDPOINT_KINDS`` (mlkit.serving.endpoints), asked through the one
endpoint interface: the local endpoint serves a version or alias asked for; on Vertex AI the
traffic split picks the version.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlkit.config import Settings
from mlkit.errors import UsageError
from mlkit.serving.values import number_problem

__all__ = ["Answer", "PredictRequest", "predict", "read_instances"]


@dataclass(frozen=True)
class PredictRequest:
    model: str
    instances: str  # a JSON file, or "-" for stdin
    target: str = "local"  # an endpoint kind: "local", "vertex"
    url: str | None = None  # the local endpoint's URL (default: the settings')
    version: int | None = None  # local only
    label: str | None = None  # local only: an alias, e.g. champion
    token: str | None = None  # the local endpoint's bearer token


@dataclass(frozen=True)
class Answer:
    """The endpoint's answer as it came (``raw``) and read: one (instance, prediction,
    confidence) row per instance, the version that served and where."""

    raw: dict[str, Any]
    rows: list[tuple[int, str, str]]
    version: int | str | None  # as the endpoint answered it (a number, or text from Vertex)
    where: str  # " on <the endpoint's title>", and the deployed model's id where it has one


def predict(request: PredictRequest, settings: Settings) -> Answer:
    if not request.instances:
        raise UsageError(
            "nothing to predict: give --instances FILE (an endpoint answers), or --table SOURCE "
            "--output TABLE (a whole table, in this process)"
        )
    payload = read_instances(request.instances)
    if request.version is not None and request.label is not None:
        raise UsageError("give --version or --label, not both")
    from mlkit.workflows.serve import open_endpoint

    endpoint = open_endpoint(settings, request.target, url=request.url, token=request.token)
    raw = endpoint.predict(request.model, payload, version=request.version, label=request.label)
    deployed = raw.get("deployedModelId")
    where = f" on {endpoint.title}" + (f" ({deployed})" if deployed else "")
    version = raw.get("version") or raw.get("modelVersionId")
    return Answer(raw=raw, rows=_rows(raw["predictions"]), version=version, where=where)


def _rows(predictions: list[Any]) -> list[tuple[int, str, str]]:
    rows = []
    for i, p in enumerate(predictions):
        class_id = p.get("class_id") if isinstance(p, dict) else None
        if class_id is None and isinstance(p, dict) and p.get("class_ids"):
            class_id = int(p["class_ids"][0])  # Vertex's TF container: the raw outputs
        name = p.get("class") if isinstance(p, dict) else None
        if isinstance(name, list):  # Vertex's TF container: the raw outputs
            name = name[0] if name else None
        if class_id is not None and p.get("probabilities"):
            probabilities = p["probabilities"]
            if isinstance(probabilities, dict):  # by class name
                probabilities = list(probabilities.values())
            shown = str(class_id) if name is None else f"{name} ({class_id})"
            rows.append((i, shown, f"{max(probabilities):.3f}"))
        else:
            rows.append((i, json.dumps(p), ""))
    return rows


def read_instances(source: str) -> list[Any]:
    """The instances in a JSON file (``-``: stdin): a non-empty list or ``{"instances": [...]}``."""
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
    problem = number_problem(data)  # the endpoint's rule (mlkit.serving.values), checked here
    if problem:
        raise UsageError(f"{source}: {problem}")
    return data
