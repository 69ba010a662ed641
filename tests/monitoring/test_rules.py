"""The [monitoring] section and its rules: one line per broken rule, naming version, value and
limit; a misspelt key is a one-line spec error."""

from __future__ import annotations

import pytest

from mlkit.data.stats import FeatureDrift
from mlkit.errors import SpecError
from mlkit.experiment import MonitoringSpec, parse_experiment
from mlkit.monitoring.live import LiveMetric, wilson
from mlkit.monitoring.rules import broken_rules
from mlkit.monitoring.summary import VersionTraffic

BASE = {"experiment": {"name": "shop"}, "data": {"source": "t", "label": "label"}}


def traffic(version: int, requests: int, errors: int, p99: float) -> VersionTraffic:
    return VersionTraffic(version, requests, requests - errors, errors, errors / requests, 1.0, p99)


def drift(feature: str, psi: float) -> FeatureDrift:
    return FeatureDrift(feature, psi, 0.0, 1.0, 1.0, 0, 0, psi > 0.2, f"PSI {psi:.2f} > 0.2")


def test_each_broken_rule_is_one_line() -> None:
    spec = MonitoringSpec(
        max_psi=0.25,
        min_instances=100,
        min_accuracy=0.9,
        max_p99_latency_ms=50,
        max_error_rate=0.01,
    )
    lines = broken_rules(
        spec,
        [traffic(1, 1000, 50, 80.0), traffic(2, 1000, 0, 10.0)],
        {1: [drift("x", 0.4), drift("y", 0.1)], 2: [drift("x", 0.3)]},
        [
            LiveMetric(1, "accuracy", 0.85, 0.82, 0.88, 500),
            LiveMetric(2, "accuracy", 0.95, 0.9, 0.97, 50),
        ],
    )
    assert lines == [
        "version 1: error rate 5.00% > max_error_rate 1.00% (50 of 1000 requests)",
        "version 1: p99 latency 80.0 ms > max_p99_latency_ms 50",
        "version 1: feature 'x' drifted: PSI 0.400 > max_psi 0.25 (PSI 0.40 > 0.2)",
        "version 2: feature 'x' drifted: PSI 0.300 > max_psi 0.25 (PSI 0.30 > 0.2)",
        "version 1: live accuracy 0.8500 < min_accuracy 0.9 (95% CI 0.8200..0.8800, 500 labelled)",
    ]
    assert broken_rules(MonitoringSpec(min_instances=5000), [traffic(1, 1000, 0, 1.0)],
                        {1: [drift("x", 3.0)]}, []) == []  # fmt: skip


def test_the_section_is_validated() -> None:
    spec = parse_experiment({**BASE, "monitoring": {"max_psi": 0.1, "min_accuracy": 0.8}})
    assert spec.monitoring.max_psi == 0.1 and spec.monitoring.min_accuracy == 0.8
    with pytest.raises(SpecError, match="max_pis"):
        parse_experiment({**BASE, "monitoring": {"max_pis": 0.1}})
    with pytest.raises(SpecError, match="min_accuracy"):
        parse_experiment({**BASE, "monitoring": {"min_accuracy": 2}})


def test_wilson_interval() -> None:
    low, high = wilson(90, 100)
    assert 0.82 < low < 0.84 and 0.94 < high < 0.95
    assert wilson(0, 0) == (0.0, 1.0)
