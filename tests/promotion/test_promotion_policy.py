"""The [promotion] section: how it is validated, and what each kind of check decides."""

from __future__ import annotations

import numpy as np
import pytest

from mlkit.errors import SpecError
from mlkit.experiment import PromotionSpec, parse_experiment
from mlkit.promotion.policy import (
    Side,
    change_check,
    improvement_check,
    slice_checks,
    value_checks,
)

BASE = {"experiment": {"name": "x"}, "data": {"source": "t", "label": "y"}}


def policy(**section) -> PromotionSpec:
    return parse_experiment({**BASE, "promotion": section}).promotion


def errors_of(section) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_experiment({**BASE, "promotion": section}, origin="p.toml")
    return info.value.message.splitlines()


def side(version=2, slices=None, **metrics) -> Side:
    return Side(version, metrics, slices or {}, {})


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"metric": "latency_ms"}, "promotion.metric: unknown quality metric 'latency_ms'"),
        ({"at_least": {"acc": 0.9}}, "promotion.at_least: unknown metric 'acc'"),
        ({"change": [{"metric": "loss"}]}, "promotion.change.0: give exactly one of absolute"),
        (
            {"change": [{"metric": "loss", "absolute": 0.1, "relative": 0.1}]},
            "give exactly one of absolute or relative",
        ),
        (
            {"change": [{"metric": "loss", "absolute": 0, "direction": "up"}]},
            "promotion.change.0.direction: must be 'higher' or 'lower'",
        ),
        ({"slices": {"metric": "accuracy"}}, "promotion.slices.column: required key is missing"),
        ({"significance": {"alpha": 0.7}}, "promotion.significance.alpha: must be less than 0.5"),
        ({"smoke": {"output_range": [3, 1]}}, "output_range must be [low, high] with low < high"),
        ({"smoke": {"requests": 0}}, "promotion.smoke.requests: must be at least 1"),
        ({"slice": {"column": "r"}}, "promotion.slice: unknown key (did you mean 'slices'?)"),
    ],
)
def test_policy_mistakes_are_one_line_each(section, expected):
    lines = errors_of(section)
    assert len(lines) == 1
    assert expected in lines[0]
    assert lines[0].startswith("p.toml: ")


def test_defaults_require_significance_and_a_smoke_test():
    p = policy()
    assert p.significance.required and p.significance.alpha == 0.05
    assert p.smoke.enabled and p.metric is None and p.change == [] and p.slices is None


def test_value_thresholds():
    checks = value_checks(
        policy(at_least={"accuracy": 0.9, "auc": 0.5}, at_most={"latency_ms": 5}),
        "classification",
        side(accuracy=0.85, latency_ms=2.0),
    )
    by_name = {c.name: c for c in checks}
    assert by_name["accuracy >= 0.9"].status == "fail"
    assert by_name["accuracy >= 0.9"].reason == "accuracy 0.8500 is not at least 0.9"
    assert by_name["auc >= 0.5"].reason == "auc is not measured for this classification model"
    assert by_name["latency_ms <= 5"].status == "pass"


@pytest.mark.parametrize(
    ("rule", "cand", "base", "status"),
    [
        ({"metric": "accuracy", "absolute": 0.01}, 0.92, 0.90, "pass"),
        ({"metric": "accuracy", "absolute": 0.03}, 0.92, 0.90, "fail"),
        ({"metric": "accuracy", "absolute": -0.01}, 0.895, 0.90, "pass"),  # tolerated drop
        ({"metric": "accuracy", "absolute": -0.01}, 0.88, 0.90, "fail"),
        ({"metric": "loss", "relative": 0.1}, 0.35, 0.40, "pass"),  # 12.5% lower
        ({"metric": "loss", "relative": 0.2}, 0.35, 0.40, "fail"),
        ({"metric": "latency_ms", "relative": -0.5}, 14.0, 10.0, "pass"),  # up to 50% slower
        ({"metric": "latency_ms", "relative": -0.5}, 16.0, 10.0, "fail"),
        ({"metric": "size_mb", "absolute": 0, "direction": "higher"}, 2.0, 1.0, "pass"),
    ],
)
def test_change_thresholds_absolute_relative_and_direction(rule, cand, base, status):
    spec = policy(change=[rule]).change[0]
    m = rule["metric"]
    check = change_check(spec, side(**{m: cand}), side(1, **{m: base}))
    assert check.status == status, check.reason


def test_the_headline_metric_must_be_beaten_by_more_than_min_improvement():
    p = policy(min_improvement=0.01)
    assert improvement_check(p, "accuracy", side(accuracy=0.92), side(1, accuracy=0.90)).passed
    small = improvement_check(p, "accuracy", side(accuracy=0.905), side(1, accuracy=0.90))
    assert not small.passed and "not more than 0.01" in small.reason
    tie = improvement_check(policy(), "rmse", side(rmse=1.0), side(1, rmse=1.0))
    assert not tie.passed and "a candidate must beat it" in tie.reason


def test_slice_guards_floors_drops_and_small_slices():
    p = policy(slices={"column": "r", "max_drop": 0.02, "at_least": 0.7, "min_rows": 10})
    cand = side(
        slices={
            "a": {"rows": 50, "accuracy": 0.90},
            "b": {"rows": 50, "accuracy": 0.65},
            "c": {"rows": 50, "accuracy": 0.80},
            "d": {"rows": 5, "accuracy": 0.10},
        }
    )
    base = side(
        1,
        slices={
            "a": {"rows": 50, "accuracy": 0.89},
            "b": {"rows": 50, "accuracy": 0.60},
            "c": {"rows": 50, "accuracy": 0.85},
            "d": {"rows": 5, "accuracy": 0.90},
        },
    )
    checks = {c.name: c for c in slice_checks(p, "accuracy", cand, base)}
    assert checks["slice r=a"].status == "pass"
    assert "below 0.7" in checks["slice r=b"].reason
    assert checks["slice r=c"].status == "fail" and "worse by 0.0500" in checks["slice r=c"].reason
    assert (
        checks["slice r=d"].status == "skip"
        and "fewer than min_rows 10" in checks["slice r=d"].reason
    )
    # Without a baseline only the floors apply.
    alone = {c.name: c for c in slice_checks(p, "accuracy", cand, None)}
    assert alone["slice r=c"].status == "pass" and alone["slice r=b"].status == "fail"


def test_significance_can_be_reported_without_being_required():
    from mlkit.promotion.policy import significance

    p = policy(significance={"required": False})
    right = np.array([True] * 30 + [False] * 70)
    cand = Side(2, {"accuracy": 0.3}, {}, {"correct": right.astype(float)})
    base = Side(1, {"accuracy": 0.7}, {}, {"correct": (~right).astype(float)})
    check, info = significance(p, "classification", "accuracy", cand, base)
    assert check.status == "skip" and "not required by the policy" in check.reason
    assert info["test"] == "mcnemar" and info["baseline_only"] == 70


def test_the_guarded_example_uses_every_kind_of_rule():
    from pathlib import Path

    from mlkit.experiment import load_experiment

    path = Path(__file__).resolve().parents[2] / "experiments" / "digits-guarded.toml"
    p = load_experiment(path)[0].promotion
    assert p.at_least["accuracy"] == 0.9 and p.at_most["latency_ms"] == 500
    assert [c.metric for c in p.change] == ["loss", "latency_ms"]
    assert p.slices.column == "label" and p.significance.required and p.smoke.enabled


def test_a_policy_written_with_class_ids_reads_the_class_names():
    from mlkit.promotion.verdict import with_class_names

    written = policy(
        metric="recall_1",
        at_least={"recall_0": 0.5, "accuracy": 0.8},
        change=[{"metric": "recall_1", "absolute": 0.0}],
        slices={"column": "region", "metric": "recall_0"},
    )
    named = with_class_names(written, ("no", "yes"))
    assert named.metric == "recall_yes"
    assert named.at_least == {"recall_no": 0.5, "accuracy": 0.8}
    assert named.change[0].metric == "recall_yes"
    assert named.slices is not None and named.slices.metric == "recall_no"
    assert with_class_names(written, None) is written
    assert policy(metric="recall_yes").metric == "recall_yes"  # names are valid metrics
