"""A verdict as a picture: both versions' metrics side by side, the headline metric per slice, and
the differences with their intervals. Written with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CANDIDATE_COLOR, BASELINE_COLOR = "#1f77b4", "#999999"


def plot_verdict(details: dict[str, Any], passed: bool, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cand, base = details["candidate"], details.get("baseline")
    metric = details["metric"]
    quality = [k for k in cand["metrics"] if k not in ("latency_ms", "size_mb")]
    panels = 3 if base is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.2))
    label_c = f"v{cand['version']} (candidate)"
    label_b = f"v{base['version']} (baseline)" if base else ""

    ax = axes[0]
    xs = range(len(quality))
    width = 0.4 if base else 0.6
    ax.bar([x - (width / 2 if base else 0) for x in xs], [cand["metrics"][k] for k in quality],
           width, label=label_c, color=CANDIDATE_COLOR)  # fmt: skip
    if base:
        ax.bar([x + width / 2 for x in xs], [base["metrics"].get(k, 0.0) for k in quality],
               width, label=label_b, color=BASELINE_COLOR)  # fmt: skip
    ax.set_xticks(list(xs), quality, rotation=45, ha="right")
    ax.set_title(f"Metrics on {details['rows']} rows")
    ax.legend(fontsize=8)

    ax = axes[1]
    slices = cand.get("slices") or {}
    if slices:
        names = sorted(slices)
        xs = range(len(names))
        ax.bar([x - (width / 2 if base else 0) for x in xs],
               [slices[n].get(metric, 0.0) for n in names], width, color=CANDIDATE_COLOR,
               label=label_c)  # fmt: skip
        if base:
            ax.bar([x + width / 2 for x in xs],
                   [base["slices"].get(n, {}).get(metric, 0.0) for n in names], width,
                   color=BASELINE_COLOR, label=label_b)  # fmt: skip
        column = details["data"].get("slice_column") or "slice"
        ax.set_xticks(list(xs), names, rotation=45, ha="right")
        ax.set_title(f"{metric} per {column}")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no slice column in the policy", ha="center", va="center")
        ax.set_axis_off()

    if base is not None:
        ax = axes[2]
        intervals = {k: v for k, v in details.get("intervals", {}).items() if k != "level"}
        names = list(intervals)
        diffs = [details["differences"][k] for k in names]
        lows = [d - intervals[k][0] for d, k in zip(diffs, names, strict=True)]
        highs = [intervals[k][1] - d for d, k in zip(diffs, names, strict=True)]
        ax.errorbar(range(len(names)), diffs, yerr=[lows, highs], fmt="o", capsize=6,
                    color=CANDIDATE_COLOR)  # fmt: skip
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xlim(-0.5, len(names) - 0.5)
        ax.set_xticks(range(len(names)), names)
        level = details.get("intervals", {}).get("level", 0.95)
        ax.set_title(f"candidate - baseline, {level:.0%} intervals")

    verdict = "PASS" if passed else "FAIL"
    against = f" vs v{base['version']}" if base else " (no baseline)"
    fig.suptitle(f"v{cand['version']}{against}: {verdict}", color="green" if passed else "red")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
