"""The ``[monitoring]`` rules of an experiment, checked against what a model served.

Each broken rule is one line naming the version, the measured value and the limit; no line means
the model is healthy. ``mlkit monitor NAME --check`` prints them and exits non-zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mlkit.data.stats import FeatureDrift
from mlkit.experiment import MonitoringSpec
from mlkit.monitoring.live import LiveMetric
from mlkit.monitoring.summary import VersionTraffic


def broken_rules(
    spec: MonitoringSpec,
    traffic: Sequence[VersionTraffic],
    drift: Mapping[int, Sequence[FeatureDrift]],
    live: Sequence[LiveMetric],
) -> list[str]:
    """One line per broken rule (empty: every rule holds)."""
    lines: list[str] = []
    for t in traffic:
        if spec.max_error_rate is not None and t.error_rate > spec.max_error_rate:
            lines.append(
                f"version {t.version}: error rate {t.error_rate:.2%} > max_error_rate "
                f"{spec.max_error_rate:.2%} ({t.errors} of {t.requests} requests)"
            )
        if (
            spec.max_p99_latency_ms is not None
            and t.latency_p99_ms is not None
            and t.latency_p99_ms > spec.max_p99_latency_ms
        ):
            lines.append(
                f"version {t.version}: p99 latency {t.latency_p99_ms:.1f} ms > "
                f"max_p99_latency_ms {spec.max_p99_latency_ms:g}"
            )
    served = {t.version: t.instances for t in traffic}
    for version, features in sorted(drift.items()):
        if served.get(version, 0) < spec.min_instances:
            continue
        for d in features:
            if d.psi > spec.max_psi:
                lines.append(
                    f"version {version}: feature '{d.feature}' drifted: PSI {d.psi:.3f} > "
                    f"max_psi {spec.max_psi:g}" + (f" ({d.reason})" if d.reason else "")
                )
    for m in live:
        if m.metric == "accuracy" and spec.min_accuracy is not None and m.value < spec.min_accuracy:
            lines.append(
                f"version {m.version}: live accuracy {m.value:.4f} < min_accuracy "
                f"{spec.min_accuracy:g} (95% CI {m.low:.4f}..{m.high:.4f}, {m.n} labelled)"
            )
        if m.metric == "mae" and spec.max_mae is not None and m.value > spec.max_mae:
            lines.append(
                f"version {m.version}: live mae {m.value:.4f} > max_mae {spec.max_mae:g} "
                f"(95% CI {m.low:.4f}..{m.high:.4f}, {m.n} labelled)"
            )
    return lines


__all__ = ["broken_rules"]
