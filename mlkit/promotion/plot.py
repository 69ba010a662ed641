"""A verdict as a picture (matplotlib, Agg backend: no display needed).

- the title names the model, the candidate and the baseline version, and PASS or FAIL;
- **metrics**: one small row per quality metric with its own axis around the two values (a
  difference of 0.002 in accuracy is visible), the policy's thresholds (``at_least``,
  ``at_most``) as dashed lines, a metric whose check failed in red;
- **slices** (only when the policy has a slice column): the headline metric per slice, with the
  slice threshold, failing slices in red;
- **differences** (only with a baseline): candidate - baseline with its interval, zero, and the
  improvement the policy asks for on the headline metric;
- the failing checks, one line each, under the panels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CANDIDATE_COLOR, BASELINE_COLOR, FAIL_COLOR = "#1f77b4", "#999999", "#d62728"


def _span(values: list[float], marks: list[float]) -> tuple[float, float]:
    """An axis range around ``values`` that shows their differences (and ``marks`` near them)."""
    low, high = min(values), max(values)
    pad = max((high - low) * 0.6, abs(high) * 0.002, 1e-4)
    low, high = low - pad, high + pad
    for mark in marks:
        if low - 4 * pad <= mark <= high + 4 * pad:
            low, high = min(low, mark - pad / 2), max(high, mark + pad / 2)
    return low, high


def _failed(details: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in details.get("checks", []) if c.get("status") == "fail"]


def plot_verdict(details: dict[str, Any], passed: bool, path: Path, model: str = "") -> Path:
    """Draw the verdict of ``model`` (its stored ``details``) into the PNG ``path``."""
    import matplotlib.pyplot as plt

    fig = verdict_figure(details, passed, model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def verdict_figure(details: dict[str, Any], passed: bool, model: str = "") -> Any:
    """The matplotlib figure of a verdict (see the module's docstring)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec, GridSpecFromSubplotSpec
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    cand, base = details["candidate"], details.get("baseline")
    policy = details.get("policy") or {}
    failed = _failed(details)
    slices = cand.get("slices") or {}
    quality = [k for k in cand["metrics"] if k not in ("latency_ms", "size_mb")]
    panels = ["metrics"] + (["slices"] if slices else []) + (["differences"] if base else [])
    notes = len(failed)
    fig = plt.figure(figsize=(5.4 * len(panels), 0.45 * max(len(quality), 6) + 1.6 + 0.22 * notes))
    grid = GridSpec(2, len(panels), height_ratios=[max(len(quality), 6), 0.4 + 0.5 * notes])
    label_c = f"v{cand['version']} (candidate)"
    label_b = f"v{base['version']} (baseline)" if base else ""

    rows = GridSpecFromSubplotSpec(len(quality), 1, subplot_spec=grid[0, 0], hspace=0.9)
    failing_text = " ".join(c["name"] + " " + c.get("reason", "") for c in failed)
    for i, name in enumerate(quality):
        ax = fig.add_subplot(rows[i])
        values = [cand["metrics"][name]] + ([base["metrics"][name]] if base and name in
                                            base["metrics"] else [])  # fmt: skip
        marks = [v for v in ((policy.get("at_least") or {}).get(name),
                             (policy.get("at_most") or {}).get(name)) if v is not None]  # fmt: skip
        ax.set_xlim(*_span(values, marks))
        if len(values) == 2:
            ax.plot(values[1], 0, "o", color=BASELINE_COLOR)
        bad = f" {name} " in f" {failing_text} "
        ax.plot(values[0], 0, "D", color=FAIL_COLOR if bad else CANDIDATE_COLOR)
        for mark in marks:
            ax.axvline(mark, color=FAIL_COLOR, linestyle="--", linewidth=1)
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8,
                      color=FAIL_COLOR if bad else "black")  # fmt: skip
        ax.tick_params(axis="x", labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        if i == 0:
            ax.set_title(f"metrics on {details['rows']} rows (dashed: thresholds)", fontsize=9)
            keys = [Line2D([], [], marker="D", linestyle="", color=CANDIDATE_COLOR, label=label_c)]
            if base:
                keys.append(Line2D([], [], marker="o", linestyle="", color=BASELINE_COLOR,
                                   label=label_b))  # fmt: skip
            ax.legend(handles=keys, fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.25),
                      ncol=2, frameon=False)  # fmt: skip

    column = 1
    metric = details["metric"]
    if slices:
        ax = fig.add_subplot(grid[0, column])
        column += 1
        names = sorted(slices)
        guard = policy.get("slices") or {}
        slice_metric = guard.get("metric") or metric
        bad_slices = {c["name"].split("=", 1)[-1] for c in failed if c.get("kind") == "slice"}
        values = [slices[n].get(slice_metric, float("nan")) for n in names]
        ys = list(range(len(names)))
        colors = [FAIL_COLOR if n in bad_slices else CANDIDATE_COLOR for n in names]
        ax.scatter(values, ys, marker="D", zorder=3, color=colors)
        if base:
            ax.scatter([base["slices"].get(n, {}).get(slice_metric, float("nan")) for n in names],
                       ys, color=BASELINE_COLOR, zorder=2)  # fmt: skip
        for mark in (guard.get("at_least"), guard.get("at_most")):
            if mark is not None:
                ax.axvline(mark, color=FAIL_COLOR, linestyle="--", linewidth=1)
        ax.set_yticks(ys, [f"{n}" for n in names])
        for tick, n in zip(ax.get_yticklabels(), names, strict=True):
            tick.set_color(FAIL_COLOR if n in bad_slices else "black")
        ax.set_title(f"{slice_metric} per {guard.get('column') or 'slice'} (red: failing)",
                     fontsize=9)  # fmt: skip
        ax.grid(axis="x", alpha=0.3)

    if base:
        ax = fig.add_subplot(grid[0, column])
        intervals = {k: v for k, v in details.get("intervals", {}).items() if k != "level"}
        names = list(intervals) or list(details.get("differences", {}))
        diffs = [details["differences"][k] for k in names]
        ys = list(range(len(names)))
        if intervals:
            lows = [d - intervals[k][0] for d, k in zip(diffs, names, strict=True)]
            highs = [intervals[k][1] - d for d, k in zip(diffs, names, strict=True)]
            ax.errorbar(diffs, ys, xerr=[lows, highs], fmt="D", capsize=5,
                        color=CANDIDATE_COLOR)  # fmt: skip
        else:
            ax.plot(diffs, ys, "D", color=CANDIDATE_COLOR)
        ax.axvline(0.0, color="black", linewidth=0.8)
        need = policy.get("min_improvement")
        if need and metric in names:
            ax.plot([need], [names.index(metric)], "|", color=FAIL_COLOR, markersize=18)
        ax.set_yticks(ys, names)
        level = details.get("intervals", {}).get("level", 0.95)
        ax.set_title(f"candidate - baseline, {level:.0%} intervals (red: required)", fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)

    text = fig.add_subplot(grid[1, :])
    text.set_axis_off()
    lines = [f"FAIL  {c['name']}: {c.get('reason', '')}" for c in failed] or [
        "every check passed" if passed else ""
    ]
    text.text(0, 1, "\n".join(lines), va="top", fontsize=8,
              color=FAIL_COLOR if failed else "green", family="monospace")  # fmt: skip

    verdict = "PASS" if passed else "FAIL"
    against = f" vs v{base['version']} (baseline)" if base else " (nothing deployed to compare)"
    who = f"{model} " if model else ""
    fig.suptitle(f"{who}v{cand['version']} (candidate){against}: {verdict}", y=1.06,
                 color="green" if passed else FAIL_COLOR)  # fmt: skip
    return fig
