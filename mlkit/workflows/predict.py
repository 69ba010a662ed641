"""``mlkit predict``: read instances, ask the endpoint serving a model, and read its answer.

Which endpoint answers: ``local`` (the local endpoint's HTTP API, a version or alias may be
asked for) or ``vertex`` (Vertex AI, whose traffic split picks the version).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlkit.config import Settings
from mlkit.errors import UsageError

__all__ = ["Answer", "PredictRequest", "predict", "read_instances"]


@dataclass(frozen=True)
class PredictRequest:
    model: str
    instances: str  # a JSON file, or "-" for stdin
    target: str = "local"  # "local" or "vertex"
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
    version: Any
    where: str  # "" for the local endpoint; "on Vertex AI (<deployed model id>)"


def predict(request: PredictRequest, settings: Settings) -> Answer:
    payload = read_instances(request.instances)
    if request.version is not None and request.label is not None:
        raise UsageError("give --version or --label, not both")
    if request.target == "vertex":
        if request.version is not None or request.label is not None or request.url:
            raise UsageError(
                "--version, --label and --url are for the local endpoint; Vertex AI picks the "
                "version by the endpoint's traffic split"
            )
        from mlkit.workflows.serve import open_target

        raw = open_target(settings, "vertex").predict(request.model, payload)
        where = f" on Vertex AI ({raw.get('deployedModelId')})"
    elif request.target == "local":
        from mlkit.serving.client import predict as call

        raw = call(
            request.url or settings.endpoint_url,
            request.model,
            payload,
            version=request.version,
            label=request.label,
            token=request.token,
        )
        where = ""
    else:
        raise UsageError(f"unknown --target {request.target!r}: expected local or vertex")
    version = raw.get("version") or raw.get("modelVersionId")
    return Answer(raw=raw, rows=_rows(raw["predictions"]), version=version, where=where)


def _rows(predictions: list[Any]) -> list[tuple[int, str, str]]:
    rows = []
    for i, p in enumerate(predictions):
        class_id = p.get("class_id") if isinstance(p, dict) else None
        if class_id is None and isinstance(p, dict) and p.get("class_ids"):
            class_id = int(p["class_ids"][0])  # Vertex's TF container: the raw outputs
        if class_id is not None and p.get("probabilities"):
            rows.append((i, str(class_id), f"{max(p['probabilities']):.3f}"))
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
    return data
