"""The policy of an experiment's ``[promotion]`` section applied to two evaluations: every check
with pass, fail or skip and the reason in words.

A verdict passes when no check fails. Without a baseline (nothing deployed yet) the checks against
a baseline are skipped, so a first version must still pass the value thresholds, the per-slice
floors and the smoke test.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mlkit.experiment import ChangeThreshold, PromotionSpec
from mlkit.promotion.metrics import example_losses, improvement, lower_is_better
from mlkit.promotion.stats import PER_EXAMPLE, bootstrap_difference, mcnemar

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass(frozen=True)
class Check:
    name: str
    kind: str  # value | smoke | improvement | change | significance | slice
    status: str  # pass | fail | skip
    reason: str

    @property
    def passed(self) -> bool:
        return self.status != FAIL

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


@dataclass
class Side:
    """One version's evaluation, as the policy sees it."""

    version: int
    metrics: dict[str, float]
    slices: dict[str, dict[str, float]]
    per_example: dict[str, np.ndarray]


def _fmt(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:.1f}"


def value_checks(policy: PromotionSpec, task: str, cand: Side) -> list[Check]:
    checks = []
    for bound, limits in (("at_least", policy.at_least), ("at_most", policy.at_most)):
        for metric, limit in sorted(limits.items()):
            name = f"{metric} {'>=' if bound == 'at_least' else '<='} {limit:g}"
            value = cand.metrics.get(metric)
            if value is None:
                checks.append(
                    Check(name, "value", FAIL, f"{metric} is not measured for this {task} model")
                )
                continue
            ok = value >= limit if bound == "at_least" else value <= limit
            word = "at least" if bound == "at_least" else "at most"
            checks.append(
                Check(
                    name,
                    "value",
                    PASS if ok else FAIL,
                    f"{metric} {_fmt(value)} is {'' if ok else 'not '}{word} {limit:g}",
                )
            )
    return checks


def improvement_check(policy: PromotionSpec, metric: str, cand: Side, base: Side) -> Check:
    c, b = cand.metrics[metric], base.metrics[metric]
    gain = improvement(metric, c, b)
    need = policy.min_improvement
    name = f"{metric} beats v{base.version}" + (f" by > {need:g}" if need else "")
    if gain > need:
        return Check(name, "improvement", PASS, f"{metric} {_fmt(c)} beats {_fmt(b)} by {gain:.4f}")
    if gain == 0:
        why = f"{metric} {_fmt(c)} equals {_fmt(b)}; a candidate must beat it"
    elif gain < 0:
        why = f"{metric} {_fmt(c)} is worse than {_fmt(b)}"
    else:
        why = f"{metric} {_fmt(c)} improves on {_fmt(b)} by {gain:.4f}, not more than {need:g}"
    return Check(name, "improvement", FAIL, why)


def change_check(rule: ChangeThreshold, cand: Side, base: Side) -> Check:
    metric = rule.metric
    lower = lower_is_better(metric) if rule.direction is None else rule.direction == "lower"
    amount = rule.absolute if rule.absolute is not None else rule.relative
    scale = "" if rule.absolute is not None else " x baseline"
    way = "lower" if lower else "higher"
    name = f"{metric} gain >= {amount:+g}{scale} ({way} is better)"
    if metric not in cand.metrics or metric not in base.metrics:
        return Check(name, "change", FAIL, f"{metric} is not measured for both versions")
    c, b = cand.metrics[metric], base.metrics[metric]
    gain = (b - c) if lower else (c - b)
    need = rule.absolute if rule.absolute is not None else (rule.relative or 0.0) * abs(b)
    ok = gain >= need
    better = "better" if gain >= 0 else "worse"
    return Check(
        name,
        "change",
        PASS if ok else FAIL,
        f"{metric} {_fmt(c)} vs {_fmt(b)}: {abs(gain):.4f} {better}, "
        f"{'meets' if ok else 'short of'} the required {need:+.4f}",
    )


def significance(
    policy: PromotionSpec, task: str, metric: str, cand: Side, base: Side
) -> tuple[Check, dict[str, Any]]:
    """McNemar's test on right/wrong (classification) or a bootstrap interval (regression)."""
    alpha = policy.significance.alpha
    required = policy.significance.required
    name = f"significant at alpha {alpha:g}"
    if task == "classification":
        test = mcnemar(cand.per_example["correct"], base.per_example["correct"])
        info = {"test": "mcnemar", **test.as_dict(), "alpha": alpha}
        better = test.candidate_only > test.baseline_only
        ok = better and test.p_value < alpha
        reason = (
            f"McNemar ({test.method}): candidate alone right on {test.candidate_only} rows, "
            f"baseline alone on {test.baseline_only}; p = {test.p_value:.4g}"
        )
        if not ok:
            reason += " (the gain is not significant)" if better else " (no gain to test)"
    else:
        level = 1.0 - alpha
        low, high = bootstrap_difference(
            metric,
            cand.per_example[PER_EXAMPLE[metric]],
            base.per_example[PER_EXAMPLE[metric]],
            resamples=policy.significance.resamples,
            level=level,
            seed=policy.significance.seed,
        )
        info = {
            "test": "bootstrap",
            "metric": metric,
            "interval": [low, high],
            "level": level,
            "resamples": policy.significance.resamples,
            "alpha": alpha,
        }
        ok = high < 0 if lower_is_better(metric) else low > 0
        reason = (
            f"{level:.0%} bootstrap interval of the {metric} change: [{low:+.4f}, {high:+.4f}]"
            + ("" if ok else " includes no improvement beyond chance")
        )
    status = (PASS if ok else FAIL) if required else SKIP
    if not required:
        reason += " (not required by the policy)"
    return Check(name, "significance", status, reason), info


def slice_checks(policy: PromotionSpec, metric: str, cand: Side, base: Side | None) -> list[Check]:
    guard = policy.slices
    if guard is None:
        return []
    metric = guard.metric or metric
    checks = []
    for value, numbers in sorted(cand.slices.items()):
        rows = int(numbers.get("rows", 0))
        name = f"slice {guard.column}={value}"
        if rows < guard.min_rows:
            checks.append(
                Check(name, "slice", SKIP, f"{rows} rows, fewer than min_rows {guard.min_rows}")
            )
            continue
        c = numbers.get(metric)
        if c is None:
            checks.append(Check(name, "slice", FAIL, f"{metric} is not measured on this slice"))
            continue
        problems, notes = [], []
        if guard.at_least is not None and c < guard.at_least:
            problems.append(f"{metric} {_fmt(c)} is below {guard.at_least:g}")
        if guard.at_most is not None and c > guard.at_most:
            problems.append(f"{metric} {_fmt(c)} is above {guard.at_most:g}")
        other = None if base is None else base.slices.get(value, {}).get(metric)
        if other is not None:
            gain = improvement(metric, c, other)
            notes.append(f"{metric} {_fmt(c)} vs {_fmt(other)} ({gain:+.4f})")
            if gain < -guard.max_drop:
                problems.append(
                    f"{metric} {_fmt(c)} vs {_fmt(other)}: worse by {-gain:.4f}, more than the "
                    f"allowed {guard.max_drop:g}"
                )
        else:
            notes.append(f"{metric} {_fmt(c)}")
        reason = "; ".join(problems) if problems else ", ".join(notes) + f" on {rows} rows"
        checks.append(Check(name, "slice", FAIL if problems else PASS, reason))
    return checks


def intervals(
    task: str, cand: Side, base: Side, *, level: float, resamples: int, seed: int
) -> dict[str, list[float]]:
    """Bootstrap intervals of the differences (candidate - baseline) of the mean-type metrics."""
    metrics = ("accuracy", "loss") if task == "classification" else ("rmse", "mae")
    return {
        m: list(
            bootstrap_difference(
                m,
                cand.per_example[PER_EXAMPLE[m]],
                base.per_example[PER_EXAMPLE[m]],
                resamples=resamples,
                level=level,
                seed=seed,
            )
        )
        for m in metrics
    }


def side(version: int, metrics, slices, predictions, labels) -> Side:
    return Side(version, metrics, slices, example_losses(predictions, labels))
