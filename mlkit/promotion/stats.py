"""Paired statistics on the same examples: McNemar's test and bootstrap intervals.

Both versions answer the same rows, so the tests look at the rows where they differ (McNemar) or
resample rows jointly (bootstrap), which is far more sensitive than comparing two overall numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

EXACT_BELOW = 25
"""Discordant pairs below this use the exact binomial test; above, chi-square with continuity."""


@dataclass(frozen=True)
class McNemar:
    candidate_only: int  # rows the candidate gets right and the baseline wrong
    baseline_only: int  # rows the baseline gets right and the candidate wrong
    p_value: float
    method: str

    def as_dict(self) -> dict:
        return asdict(self)


def mcnemar(candidate_correct: np.ndarray, baseline_correct: np.ndarray) -> McNemar:
    """Two-sided McNemar's test on paired right/wrong answers."""
    from scipy.stats import binom, chi2

    cand = np.asarray(candidate_correct, dtype=bool)
    base = np.asarray(baseline_correct, dtype=bool)
    b = int(np.sum(cand & ~base))
    c = int(np.sum(~cand & base))
    n = b + c
    if n == 0:
        return McNemar(b, c, 1.0, "no discordant pairs")
    if n < EXACT_BELOW:
        p = min(1.0, 2.0 * float(binom.cdf(min(b, c), n, 0.5)))
        return McNemar(b, c, p, "exact binomial")
    statistic = (abs(b - c) - 1.0) ** 2 / n
    return McNemar(b, c, float(chi2.sf(statistic, df=1)), "chi-square, continuity-corrected")


def _metric_of_means(metric: str, means: np.ndarray) -> np.ndarray:
    return np.sqrt(means) if metric == "rmse" else means


PER_EXAMPLE = {
    "accuracy": "correct",
    "loss": "log_loss",
    "mae": "abs_error",
    "rmse": "sq_error",
}
"""The per-example quantity (see ``metrics.example_losses``) whose mean gives each metric."""


def bootstrap_difference(
    metric: str,
    candidate: np.ndarray,
    baseline: np.ndarray,
    *,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    chunk: int = 100,
) -> tuple[float, float]:
    """A percentile interval for ``metric(candidate) - metric(baseline)`` over paired resamples.

    ``candidate``/``baseline`` are the per-example quantities of ``PER_EXAMPLE[metric]``; each
    resample draws the same rows for both.
    """
    cand = np.asarray(candidate, dtype=np.float64)
    base = np.asarray(baseline, dtype=np.float64)
    n = len(cand)
    rng = np.random.default_rng(seed)
    diffs = np.empty(resamples)
    for start in range(0, resamples, chunk):
        count = min(chunk, resamples - start)
        index = rng.integers(0, n, size=(count, n))
        diffs[start : start + count] = _metric_of_means(
            metric, cand[index].mean(axis=1)
        ) - _metric_of_means(metric, base[index].mean(axis=1))
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(diffs, [tail, 100.0 - tail])
    return float(low), float(high)
