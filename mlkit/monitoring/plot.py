"""A monitoring report as one picture: requests and errors per version, p99 latency, drift of the
served features (PSI per feature), and live metrics over time with their 95 % intervals.
Written with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from mlkit.data.stats import PSI_THRESHOLD, FeatureDrift
from mlkit.monitoring.live import LiveMetric
from mlkit.monitoring.summary import VersionTraffic


def plot_monitor(
    title: str,
    traffic: Sequence[VersionTraffic],
    drift: Mapping[int, Sequence[FeatureDrift]],
    over_time: Sequence[LiveMetric],
    path: Path,
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    fig.suptitle(title)

    ax = axes[0]
    labels = [f"v{t.version}" for t in traffic]
    ax.bar(labels, [t.requests - t.errors for t in traffic], label="answered", color="#1f77b4")
    ax.bar(labels, [t.errors for t in traffic], bottom=[t.requests - t.errors for t in traffic],
           label="errors", color="#d62728")  # fmt: skip
    for i, t in enumerate(traffic):
        if t.latency_p99_ms is not None:
            ax.annotate(f"p99 {t.latency_p99_ms:.0f} ms", (i, t.requests), ha="center",
                        va="bottom", fontsize=8)  # fmt: skip
    ax.set_ylim(0, max((t.requests for t in traffic), default=1) * 1.15)
    ax.set_title("Requests per version")
    ax.legend(fontsize=8)

    ax = axes[1]
    width = 0.8 / max(len(drift), 1)
    for n, (version, features) in enumerate(sorted(drift.items())):
        names = [d.feature for d in features]
        xs = [i + n * width for i in range(len(names))]
        ax.bar(xs, [min(d.psi, 5.0) for d in features], width, label=f"v{version}")
        ax.set_xticks([i + width * (len(drift) - 1) / 2 for i in range(len(names))], names,
                      rotation=45, ha="right", fontsize=8)  # fmt: skip
    ax.axhline(PSI_THRESHOLD, color="#d62728", linestyle="--", linewidth=1, label="drift")
    ax.set_title("Drift of served features (PSI vs training)")
    ax.legend(fontsize=8)

    ax = axes[2]
    versions = sorted({m.version for m in over_time})
    first = min((m.start or 0.0 for m in over_time), default=0.0)
    for version in versions:
        points = [m for m in over_time if m.version == version]
        xs = [((m.start or 0.0) - first) / 60 for m in points]
        ax.plot(xs, [m.value for m in points], marker="o", label=f"v{version}")
        ax.fill_between(xs, [m.low for m in points], [m.high for m in points], alpha=0.2)
    metric = over_time[0].metric if over_time else "live metric"
    ax.set_title(f"Live {metric} (95% interval)" if over_time else "No feedback yet")
    ax.set_xlabel("minutes since the first labelled answer")
    if versions:
        ax.legend(fontsize=8)

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


__all__ = ["plot_monitor"]
