"""Two evaluations + the policy → a verdict: pass or fail, why, and everything behind it.

The details dict is what the registry stores (``verdicts.details``) and what ``mlkit compare``
shows: both sides' metrics overall and per slice, the differences and their intervals, the
significance test, the smoke test, every check, the policy and the rows used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlkit.data.evaluation import EvaluationData
from mlkit.errors import SpecError
from mlkit.experiment import PromotionSpec
from mlkit.promotion.metrics import confusion, named_metric, quality_metrics, slice_metrics
from mlkit.promotion.policy import (
    FAIL,
    PASS,
    SKIP,
    Check,
    Side,
    change_check,
    improvement_check,
    intervals,
    side,
    significance,
    slice_checks,
    value_checks,
)

MB = 1024 * 1024


@dataclass
class VerdictReport:
    passed: bool
    reason: str
    metric: str
    candidate_value: float
    baseline_value: float | None
    checks: list[Check]
    details: dict[str, Any]


def measured(run: Any, labels, slices) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """A version's metrics: quality overall, latency per batch, size; and quality per slice."""
    metrics = quality_metrics(run.predictions, labels)
    metrics["latency_ms"] = run.latency["median_ms"]
    metrics["size_mb"] = run.size_bytes / MB
    return metrics, slice_metrics(run.predictions, labels, slices)


def with_class_names(policy: PromotionSpec, names: tuple[str, ...] | None) -> PromotionSpec:
    """The policy with its ``recall_K`` read as the model's class names call them (a policy
    written before the model had names, or with ids, keeps working)."""
    if not names:
        return policy

    def name(metric: str) -> str:
        return named_metric(metric, names)

    update: dict[str, Any] = {
        "metric": None if policy.metric is None else name(policy.metric),
        "at_least": {name(k): v for k, v in policy.at_least.items()},
        "at_most": {name(k): v for k, v in policy.at_most.items()},
        "change": [r.model_copy(update={"metric": name(r.metric)}) for r in policy.change],
    }
    if policy.slices is not None and policy.slices.metric is not None:
        update["slices"] = policy.slices.model_copy(update={"metric": name(policy.slices.metric)})
    return policy.model_copy(update=update)


def _side_details(run: Any, s: Side, labels: Any) -> dict[str, Any]:
    pred = run.predictions
    return {
        "version": run.version,
        "metrics": s.metrics,
        "slices": s.slices,
        **({"confusion": confusion(pred, labels)} if pred.task == "classification" else {}),
        "latency": run.latency,
        "size_bytes": run.size_bytes,
        "signature": run.signature_name,
    }


def judge(
    policy: PromotionSpec,
    *,
    task: str,
    candidate: Any,
    baseline: Any | None,
    data: EvaluationData,
    smoke: Any | None,
) -> VerdictReport:
    """Apply every check of ``policy``; ``candidate``/``baseline`` are ``evaluate.VersionRun``s."""
    policy = with_class_names(policy, candidate.predictions.names)
    metric = policy.metric_for(task)
    cand, base = _sides(metric, task, candidate, baseline, data)
    checks: list[Check] = value_checks(policy, task, cand)
    if smoke is None:
        checks.append(Check("smoke test", "smoke", SKIP, "disabled by the policy"))
    else:
        checks.append(Check("smoke test", "smoke", PASS if smoke.passed else FAIL, smoke.reason))
    details: dict[str, Any] = {
        "task": task,
        "metric": metric,
        "rows": len(data.labels),
        "data": data.fingerprint,
        "policy": policy.model_dump(mode="json"),
        "candidate": _side_details(candidate, cand, data.labels),
        "baseline": None,
        "differences": {},
        "intervals": {},
        "significance": None,
        "smoke": None if smoke is None else smoke.as_dict(),
    }
    if base is None:
        checks.extend(_skipped_comparisons(policy, metric))
    else:
        comparisons, info = _comparisons(policy, task, metric, cand, base)
        checks.extend(comparisons)
        details.update(_comparison_details(policy, task, baseline, cand, base, info, data.labels))
    checks.extend(slice_checks(policy, metric, cand, base))
    details["checks"] = [c.as_dict() for c in checks]
    failed = [c for c in checks if c.status == FAIL]
    return VerdictReport(
        passed=not failed,
        reason=_reason(checks, failed),
        metric=metric,
        candidate_value=cand.metrics[metric],
        baseline_value=None if base is None else base.metrics.get(metric),
        checks=checks,
        details=details,
    )


def _sides(
    metric: str, task: str, candidate: Any, baseline: Any | None, data: EvaluationData
) -> tuple[Side, Side | None]:
    """Both versions' metrics and slices on the same rows; SpecError when ``metric`` is not
    measured for ``task``."""
    labels = data.labels
    c_metrics, c_slices = measured(candidate, labels, data.slices)
    if metric not in c_metrics:
        quality = ", ".join(k for k in c_metrics if k not in ("latency_ms", "size_mb"))
        raise SpecError(
            f"promotion.metric: {metric!r} is not measured for a {task} model",
            hint=f"use one of: {quality}",
        )
    cand = side(candidate.version, c_metrics, c_slices, candidate.predictions, labels)
    if baseline is None:
        return cand, None
    b_metrics, b_slices = measured(baseline, labels, data.slices)
    return cand, side(baseline.version, b_metrics, b_slices, baseline.predictions, labels)


def _skipped_comparisons(policy: PromotionSpec, metric: str) -> list[Check]:
    """The checks against a baseline, skipped: nothing is deployed."""
    why = "nothing to compare with (no baseline)"
    return [
        Check(f"{metric} beats the baseline", "improvement", SKIP, why),
        *(Check(f"{r.metric} change", "change", SKIP, why) for r in policy.change),
        Check("significance", "significance", SKIP, why),
    ]


def _comparisons(
    policy: PromotionSpec, task: str, metric: str, cand: Side, base: Side
) -> tuple[list[Check], Any]:
    """Improvement, every change rule and significance; with the significance test's details."""
    checks = [improvement_check(policy, metric, cand, base)]
    checks.extend(change_check(rule, cand, base) for rule in policy.change)
    sig_metric = metric if task == "classification" else _bootstrappable(metric)
    check, info = significance(policy, task, sig_metric, cand, base)
    checks.append(check)
    return checks, info


def _comparison_details(
    policy: PromotionSpec, task: str, baseline: Any, cand: Side, base: Side, info: Any, labels: Any
) -> dict[str, Any]:
    """The baseline's side, the differences, their intervals and the significance test."""
    level = 1.0 - policy.significance.alpha
    return {
        "baseline": _side_details(baseline, base, labels),
        "differences": {
            k: cand.metrics[k] - base.metrics[k] for k in cand.metrics if k in base.metrics
        },
        "intervals": {
            "level": level,
            **intervals(
                task,
                cand,
                base,
                level=level,
                resamples=policy.significance.resamples,
                seed=policy.significance.seed,
            ),
        },
        "significance": info,
    }


def _reason(checks: list[Check], failed: list[Check]) -> str:
    """One line: the first failed checks, or how many passed and why."""
    if failed:
        shown = "; ".join(f"{c.name}: {c.reason}" for c in failed[:2])
        more = f" (and {len(failed) - 2} more)" if len(failed) > 2 else ""
        return f"failed {len(failed)} of {len(checks)} checks: {shown}{more}"
    ran = sum(c.status == PASS for c in checks)
    headline = next((c for c in checks if c.kind == "improvement"), None)
    lead = headline.reason if headline and headline.status == PASS else "nothing is deployed"
    return f"passed {ran} checks ({len(checks) - ran} skipped): {lead}"


def _bootstrappable(metric: str) -> str:
    return metric if metric in ("rmse", "mae") else "rmse"
