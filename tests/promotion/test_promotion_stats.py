"""McNemar's test and paired bootstrap intervals against values worked out independently."""

from __future__ import annotations

import numpy as np
import pytest

from mlkit.promotion.stats import EXACT_BELOW, bootstrap_difference, mcnemar


def paired(b: int, c: int, both: int = 50, neither: int = 10):
    """Right/wrong arrays with ``b`` rows only the candidate gets right, ``c`` only the baseline."""
    cand = [True] * b + [False] * c + [True] * both + [False] * neither
    base = [False] * b + [True] * c + [True] * both + [False] * neither
    return np.array(cand), np.array(base)


def test_exact_mcnemar_for_few_discordant_pairs():
    result = mcnemar(*paired(9, 1))
    assert (result.candidate_only, result.baseline_only) == (9, 1)
    assert result.method == "exact binomial"
    # Two-sided binomial(10, 0.5) tail at 1: 2 * (1 + 10) / 1024.
    assert result.p_value == pytest.approx(22 / 1024)


def test_exact_mcnemar_is_symmetric_and_capped_at_one():
    assert mcnemar(*paired(1, 9)).p_value == pytest.approx(22 / 1024)
    assert mcnemar(*paired(5, 5)).p_value == 1.0


def test_chi_square_mcnemar_for_many_discordant_pairs():
    result = mcnemar(*paired(40, 20))
    assert EXACT_BELOW <= 40 + 20
    assert result.method == "chi-square, continuity-corrected"
    # (|40 - 20| - 1)^2 / 60 = 6.0167 on 1 degree of freedom.
    assert result.p_value == pytest.approx(0.014180, rel=1e-3)


def test_no_discordant_pairs_means_no_evidence():
    result = mcnemar(*paired(0, 0))
    assert result.p_value == 1.0 and result.method == "no discordant pairs"


def test_bootstrap_interval_covers_the_difference_and_is_reproducible():
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, 500) ** 2
    cand = base * 0.5
    low, high = bootstrap_difference("mae", cand, base, resamples=500, seed=1)
    diff = cand.mean() - base.mean()
    assert low < diff < high < 0
    assert (low, high) == bootstrap_difference("mae", cand, base, resamples=500, seed=1)
    assert (low, high) != bootstrap_difference("mae", cand, base, resamples=500, seed=2)


def test_bootstrap_for_rmse_takes_the_root_of_mean_squared_errors():
    sq_base = np.full(200, 4.0)  # rmse 2
    sq_cand = np.full(200, 1.0)  # rmse 1
    low, high = bootstrap_difference("rmse", sq_cand, sq_base, resamples=200)
    assert low == pytest.approx(-1.0) and high == pytest.approx(-1.0)


def test_bootstrap_of_identical_models_straddles_zero():
    rng = np.random.default_rng(5)
    cand = rng.random(400) < 0.8
    base = cand.copy()
    right, wrong = np.flatnonzero(cand), np.flatnonzero(~cand)
    base[rng.choice(right, 20, replace=False)] = False  # 20 disagreements each way
    base[rng.choice(wrong, 20, replace=False)] = True
    assert cand.mean() == base.mean()
    low, high = bootstrap_difference("accuracy", cand, base, resamples=1000, level=0.99)
    assert low < 0 < high
