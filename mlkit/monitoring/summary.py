"""What each version served: requests, errors, latency and the distribution of its predictions."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow.compute as pc

from mlkit.monitoring.served import Served


@dataclass(frozen=True)
class VersionTraffic:
    version: int
    requests: int
    instances: int
    errors: int  # requests answered with an error
    error_rate: float
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    # classification: answered class -> count; regression: quantiles of the values
    predictions: dict[str, float] = field(default_factory=dict)
    first_at: float | None = None
    last_at: float | None = None


def _prediction_distribution(texts: list[str | None]) -> dict[str, float]:
    classes: Counter[str] = Counter()
    values: list[float] = []
    for text in texts:
        answer = json.loads(text) if text else None
        if not isinstance(answer, dict):
            continue
        if "class_id" in answer:
            classes[str(answer["class_id"])] += 1
        elif isinstance(answer.get("value"), int | float):
            values.append(float(answer["value"]))
    if classes:
        return {k: float(v) for k, v in sorted(classes.items(), key=lambda kv: _order(kv[0]))}
    if values:
        q = np.quantile(np.asarray(values), [0.0, 0.1, 0.5, 0.9, 1.0])
        names = ["min", "p10", "p50", "p90", "max"]
        return {n: round(float(v), 6) for n, v in zip(names, q, strict=True)}
    return {}


def _order(text: str) -> tuple[int, float | str]:
    try:
        return 0, float(text)
    except ValueError:
        return 1, text


def version_traffic(served: Served) -> list[VersionTraffic]:
    out = []
    for version in served.versions:
        rows = served.of_version(version)
        firsts = rows.filter(pc.equal(rows.column("instance_index"), 0))
        statuses = firsts.column("status").to_pylist()
        latencies = [v for v in firsts.column("latency_s").to_pylist() if v is not None]
        errors = sum(1 for s in statuses if s != 200)
        ok = rows.filter(pc.equal(rows.column("status"), 200))
        times = rows.column("at").to_pylist()
        p50 = p99 = None
        if latencies:
            p50, p99 = (float(x) * 1000 for x in np.quantile(np.asarray(latencies), [0.5, 0.99]))
        out.append(
            VersionTraffic(
                version=version,
                requests=len(statuses),
                instances=ok.num_rows,
                errors=errors,
                error_rate=round(errors / len(statuses), 6) if statuses else 0.0,
                latency_p50_ms=None if p50 is None else round(p50, 3),
                latency_p99_ms=None if p99 is None else round(p99, 3),
                predictions=_prediction_distribution(ok.column("prediction").to_pylist()),
                first_at=min(times) if times else None,
                last_at=max(times) if times else None,
            )
        )
    return out


__all__ = ["VersionTraffic", "version_traffic"]
