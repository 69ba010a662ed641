"""Rendering a run's search report: iterations and candidates, the final ensemble, the baseline.

``render_search_report(run)`` prints to the console; ``mlkit runs show RUN`` calls it after the
run's general fields. It also (re)draws the learning-curve plot from the stored report when the
run directory's copy is missing, and says where the plot is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlkit.cli.output import console, fmt_metric, print_table


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return fmt_metric(value)
    return "" if value is None else str(value)


def _shape(hparams: dict[str, Any]) -> str:
    skip = {"kind"}
    return ", ".join(f"{k}={v}" for k, v in hparams.items() if k not in skip and v not in (0, 0.0))


def render_search_report(run: Any, plot_dir: Path | None = None) -> Path | None:
    """Print the report of ``run`` (a registry Run); return the learning-curve plot's path."""
    report: dict[str, Any] = dict(getattr(run, "report", {}) or {})
    baseline: dict[str, Any] = dict(getattr(run, "baseline", {}) or {})
    if not report and not baseline:
        console.print("[dim]no search report recorded for this run[/]")
        return None
    for it in report.get("iterations", []):
        _iteration_table(it)
    _final_ensemble(report)
    if baseline:
        _baselines(run, report, baseline)
    return _plot(run, plot_dir)


def _iteration_table(it: dict[str, Any]) -> None:
    """One iteration's candidates with their metrics on the evaluation split."""
    candidates = it.get("candidates", [])
    names = sorted({k for c in candidates for k in c.get("metrics", {})})
    shown = [n for n in ("accuracy", "average_loss", "adanet_loss", "auc") if n in names]
    rows = []
    for c in candidates:
        metrics = c.get("metrics", {})
        rows.append(
            [
                c.get("name"),
                (c.get("hparams") or {}).get("kind", ""),
                _shape(c.get("hparams") or {}),
                _fmt(c.get("complexity")),
                *(_fmt(metrics.get(n)) for n in shown),
                "yes" if c.get("joined_ensemble") else "",
            ]
        )
    print_table(
        f"Iteration {it.get('iteration')}: candidates (metrics on the evaluation split)",
        ["candidate", "kind", "shape", "complexity", *shown, "joined ensemble"],
        rows,
        markup=False,
    )


def _final_ensemble(report: dict[str, Any]) -> None:
    """The final ensemble's members, and whether the run stopped at its budget or resumed."""
    final = (report.get("final") or {}).get("subnetworks") or []
    if final:
        console.print(f"[bold]Final ensemble:[/] {' + '.join(final)}")
    notes = []
    if report.get("stopped_by") == "max_seconds":
        notes.append("stopped at its wall-clock budget (best ensemble so far)")
    if report.get("resumed"):
        notes.append("resumed from a checkpoint")
    if notes:
        console.print(f"[dim]{'; '.join(notes)}[/]")


def _baselines(run: Any, report: dict[str, Any], baseline: dict[str, Any]) -> None:
    """The scikit-learn baselines, how the search compares, and the sample they saw."""
    models = baseline.get("models", {})
    metric = baseline.get("metric", "accuracy")
    print_table(
        "Baselines (scikit-learn, same split, test metric)",
        ["model", metric, "seconds", "best"],
        [
            [
                name,
                _fmt(m.get(metric)),
                _fmt(m.get("seconds")),
                "*" if name == baseline.get("best") else "",
            ]
            for name, m in models.items()
        ],
        markup=False,
    )
    search_value = _search_value(run, metric)
    verdict = report.get("beats_baseline")
    if search_value is not None:
        word = (
            "at least as good as" if verdict is True else "worse than" if verdict is False else "vs"
        )
        console.print(
            f"search test {metric} {fmt_metric(search_value)} is {word} the best baseline "
            f"({baseline.get('best')} {fmt_metric(baseline.get('value'))})"
        )
    sample = baseline.get("sample")
    if sample:  # a streamed source: the baselines saw a bounded sample of each split
        console.print(
            f"[dim]baselines fitted on a sample of {sample['train_rows']:,} of "
            f"{sample['of_train_rows']:,} training rows, scored on {sample['test_rows']:,} "
            f"of {sample['of_test_rows']:,} test rows (streamed source)[/]"
        )


def _search_value(run: Any, metric: str) -> float | None:
    metrics = dict(getattr(run, "metrics", {}) or {})
    return metrics.get(metric)


def _plot(run: Any, plot_dir: Path | None) -> Path | None:
    from mlkit.workflows.views import learning_curves

    path = learning_curves(run, Path(plot_dir or "."))
    if path:
        console.print(f"learning curves: {path}")
    return path
