"""Live metrics from feedback: each answered instance joined with its truth on request id.

Classification: accuracy (answered ``class_id`` equals the label) with a Wilson 95 % interval.
Regression: mean absolute error with a normal 95 % interval. Per version, overall and per time
bucket, so ``mlkit monitor`` shows how each version does over time and ``mlkit compare --online``
can compare two versions on what they really served.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass, field

import pyarrow as pa

from mlkit.data.warehouse import Warehouse
from mlkit.monitoring.served import Served

Z95 = 1.959964


@dataclass(frozen=True)
class LiveMetric:
    """One version's metric on ``n`` instances with feedback (``low``..``high``: 95 %)."""

    version: int
    metric: str  # accuracy or mae
    value: float
    low: float
    high: float
    n: int
    start: float | None = None  # the bucket's start (epoch s); None: the whole period


@dataclass
class LiveReport:
    metric: str | None
    overall: list[LiveMetric] = field(default_factory=list)
    over_time: list[LiveMetric] = field(default_factory=list)
    labelled: int = 0


def wilson(successes: int, n: int) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def read_labels(warehouse: Warehouse, table: str) -> dict[tuple[str, int], object]:
    """Truths by (request id, instance index): the endpoint's feedback table, or any table with
    ``request_id`` and ``label`` columns (``instance_index`` optional, default 0)."""
    if not warehouse.has_table(table):
        return {}
    rows = warehouse.read_table(table)
    ids = rows.column("request_id").to_pylist()
    labels = rows.column("label").to_pylist()
    index = (
        rows.column("instance_index").to_pylist()
        if "instance_index" in rows.column_names
        else [0] * len(ids)
    )
    out: dict[tuple[str, int], object] = {}
    for rid, i, label in zip(ids, index, labels, strict=True):
        if isinstance(label, str) and "instance_index" in rows.column_names:
            with contextlib.suppress(json.JSONDecodeError):
                label = json.loads(label)
        out[(str(rid), int(i or 0))] = label
    return out


def _pairs(
    rows: pa.Table, labels: dict[tuple[str, int], object]
) -> list[tuple[float, dict, object]]:
    out = []
    cols = rows.select(["request_id", "instance_index", "at", "prediction", "status"]).to_pylist()
    for r in cols:
        truth = labels.get((r["request_id"], int(r["instance_index"] or 0)))
        if truth is None or r["status"] != 200 or not r["prediction"]:
            continue
        answer = json.loads(r["prediction"])
        if isinstance(answer, dict):
            out.append((float(r["at"] or 0.0), answer, truth))
    return out


def _score(pairs: list[tuple[float, dict, object]]) -> tuple[str | None, list[float]]:
    if not pairs:
        return None, []
    if "class_id" in pairs[0][1]:
        return "accuracy", [
            1.0 if str(a.get("class_id")) == str(_int_text(t)) else 0.0 for _, a, t in pairs
        ]
    if "value" in pairs[0][1]:
        return "mae", [abs(float(a["value"]) - float(str(t))) for _, a, t in pairs]
    return None, []


def _int_text(value: object) -> object:
    try:
        number = float(str(value))
    except ValueError:
        return value
    return int(number) if number.is_integer() else value


def _metric(version: int, metric: str, scores: list[float], start: float | None) -> LiveMetric:
    n = len(scores)
    mean = sum(scores) / n
    if metric == "accuracy":
        low, high = wilson(int(round(sum(scores))), n)
    else:
        sd = math.sqrt(sum((s - mean) ** 2 for s in scores) / max(n - 1, 1))
        low, high = mean - Z95 * sd / math.sqrt(n), mean + Z95 * sd / math.sqrt(n)
    return LiveMetric(version, metric, round(mean, 6), round(low, 6), round(high, 6), n, start)


def live_metrics(
    served: Served, labels: dict[tuple[str, int], object], buckets: int = 6
) -> LiveReport:
    """Each version's live metric, overall and in ``buckets`` equal spans of time."""
    report = LiveReport(None)
    for version in served.versions:
        pairs = _pairs(served.of_version(version), labels)
        metric, scores = _score(pairs)
        if metric is None:
            continue
        report.metric = report.metric or metric
        report.labelled += len(scores)
        report.overall.append(_metric(version, metric, scores, None))
        times = [p[0] for p in pairs]
        first, last = min(times), max(times)
        width = (last - first) / buckets if last > first else 1.0
        for b in range(buckets):
            start = first + b * width
            part = [
                s
                for t, s in zip(times, scores, strict=True)
                if start <= t < start + width or (b == buckets - 1 and t == last)
            ]
            if part:
                report.over_time.append(_metric(version, metric, part, start))
    return report


@dataclass(frozen=True)
class OnlineComparison:
    """A candidate's live metric against a baseline's, on what each served with feedback."""

    metric: str
    candidate: LiveMetric
    baseline: LiveMetric
    difference: float  # candidate - baseline
    low: float  # 95 % interval of the difference
    high: float
    passed: bool  # the candidate is better with 95 % confidence by more than min_improvement
    reason: str


def _standard_error(m: LiveMetric) -> float:
    if m.metric == "accuracy":
        return math.sqrt(max(m.value * (1 - m.value), 0.25 / m.n) / m.n)
    return (m.high - m.low) / (2 * Z95)


def compare_online(
    candidate: LiveMetric, baseline: LiveMetric, min_improvement: float = 0.0
) -> OnlineComparison:
    """Difference of two versions' live metrics with a normal 95 % interval; accuracy must rise
    (interval above ``min_improvement``), mae must fall (interval below ``-min_improvement``)."""
    diff = candidate.value - baseline.value
    half = Z95 * math.hypot(_standard_error(candidate), _standard_error(baseline))
    low, high = diff - half, diff + half
    higher_is_better = candidate.metric == "accuracy"
    passed = low > min_improvement if higher_is_better else high < -min_improvement
    word = "better" if passed else "not shown better"
    reason = (
        f"live {candidate.metric} v{candidate.version} {candidate.value:.4f} (n={candidate.n}) vs "
        f"v{baseline.version} {baseline.value:.4f} (n={baseline.n}): {diff:+.4f}, 95% interval "
        f"[{low:+.4f}, {high:+.4f}]: {word}"
    )
    return OnlineComparison(
        candidate.metric, candidate, baseline, round(diff, 6), round(low, 6), round(high, 6),
        passed, reason,
    )  # fmt: skip


__all__ = [
    "LiveMetric",
    "LiveReport",
    "OnlineComparison",
    "compare_online",
    "live_metrics",
    "read_labels",
    "wilson",
]
