"""The smoke test: load the SavedModel, send sample requests through its serving signature as the
endpoint would (JSON instances in, JSON predictions out), and check shape, range and latency."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mlkit.errors import MlkitError


@dataclass
class SmokeResult:
    passed: bool
    reason: str
    signature: str = ""
    requests: int = 0
    instances: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    max_latency_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def sample_instances(
    features: dict[str, np.ndarray], start: int, count: int, runner: Any = None
) -> list[dict]:
    """``count`` JSON instances from the evaluation rows, from row ``start`` (wrapping around).

    With ``runner``, each feature is sent as its serving signature takes it (a comma-separated
    string for a STRING feature, ``{"b64": ...}`` for BYTES), as a client of the endpoint would.
    """
    n = len(next(iter(features.values())))
    rows = [(start + i) % n for i in range(count)]
    if runner is not None and hasattr(runner, "stored_instances"):
        return runner.stored_instances(features, rows)
    return [{name: values[r].tolist() for name, values in features.items()} for r in rows]


def _problem(
    predictions: list[dict], count: int, task: str, n_classes: int | None, output_range
) -> str | None:
    if len(predictions) != count:
        return f"{len(predictions)} predictions for {count} instances"
    for i, p in enumerate(predictions):
        if task == "classification":
            if "probabilities" not in p or "class_id" not in p:
                return f"prediction {i} has no class_id and probabilities (keys: {sorted(p)})"
            probs = p["probabilities"]
            if isinstance(probs, dict):  # by class name
                probs = list(probs.values())
            if n_classes is not None and len(probs) != n_classes:
                return f"prediction {i} has {len(probs)} probabilities, expected {n_classes}"
            if not all(isinstance(v, float) and math.isfinite(v) for v in probs):
                return f"prediction {i} has a probability that is not a finite number"
            if min(probs) < -1e-6 or max(probs) > 1 + 1e-6:
                return f"prediction {i} has probabilities outside [0, 1] ({min(probs):.4g}..)"
            if abs(sum(probs) - 1.0) > 1e-3:
                return f"prediction {i}'s probabilities sum to {sum(probs):.4f}, not 1"
            if not 0 <= p["class_id"] < len(probs):
                return f"prediction {i} has class_id {p['class_id']} outside 0..{len(probs) - 1}"
        else:
            value = p.get("value")
            if not isinstance(value, float) or not math.isfinite(value):
                return f"prediction {i} is not one finite number (got {p!r:.60})"
            if output_range is not None and not output_range[0] <= value <= output_range[1]:
                return (
                    f"prediction {i} is {value:.4g}, outside the policy's output_range "
                    f"[{output_range[0]:g}, {output_range[1]:g}]"
                )
    return None


def smoke_test(
    runner: Any,
    features: dict[str, np.ndarray],
    *,
    task: str,
    n_classes: int | None,
    requests: int,
    instances: int,
    max_latency_ms: float,
    output_range: tuple[float, float] | None = None,
) -> SmokeResult:
    """Send ``requests`` requests of ``instances`` rows each through ``predict_instances``."""
    result = SmokeResult(False, "", signature=runner.signature_name, instances=instances)
    for r in range(requests):
        try:
            payload = sample_instances(features, r * instances, instances, runner)
            began = time.perf_counter()
            predictions = runner.predict_instances(payload)
        except MlkitError as exc:
            result.reason = f"request {r + 1} failed: {exc.message}"
            return result
        result.latencies_ms.append((time.perf_counter() - began) * 1000.0)
        result.requests = r + 1
        problem = _problem(predictions, instances, task, n_classes, output_range)
        if problem:
            result.reason = f"request {r + 1}: {problem}"
            return result
    result.max_latency_ms = max(result.latencies_ms)
    if result.max_latency_ms > max_latency_ms:
        result.reason = (
            f"slowest of {requests} requests took {result.max_latency_ms:.1f} ms, over the "
            f"{max_latency_ms:g} ms budget"
        )
        return result
    result.passed = True
    result.reason = (
        f"{requests} requests of {instances} instances through '{runner.signature_name}': "
        f"shapes and ranges valid, slowest {result.max_latency_ms:.1f} ms "
        f"(budget {max_latency_ms:g} ms)"
    )
    return result
