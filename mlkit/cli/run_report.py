"""Rendering a run's search report: iterations and candidates, the final ensemble, the
scikit-learn reference models.

``render_search_report(run)`` prints to the console; ``mlkit runs show RUN`` calls it after the
run's general fields. It also (re)draws the learning-curve plot from the stored report when the
run directory's copy is missing, and says where the plot is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlkit.cli.output import console, fmt_metric, print_table
from mlkit.quantities import canonical_metrics


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
    reference: dict[str, Any] = dict(getattr(run, "reference_models", {}) or {})
    if not report and not reference:
        console.print("[dim]no search report recorded for this run[/]")
        return None
    for it in report.get("iterations", []):
        _iteration_table(it)
    _final_ensemble(report)
    if reference:
        _reference_models(run, report, reference)
    return _plot(run, plot_dir)


def _iteration_table(it: dict[str, Any]) -> None:
    """One iteration's candidates with their metrics on the evaluation split."""
    candidates = it.get("candidates", [])
    names = sorted({k for c in candidates for k in canonical_metrics(c.get("metrics", {}))})
    shown = [n for n in ("accuracy", "loss", "adanet_loss", "auc") if n in names]
    rows = []
    for c in candidates:
        metrics = canonical_metrics(c.get("metrics", {}))  # reports stored before: average_loss
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
    if report.get("stopped_by") == "max_steps":
        notes.append("stopped early at its step budget, max_steps (best ensemble so far)")
    if report.get("resumed"):
        notes.append("resumed from a checkpoint")
    if notes:
        console.print(f"[dim]{'; '.join(notes)}[/]")


def _reference_models(run: Any, report: dict[str, Any], reference: dict[str, Any]) -> None:
    """The scikit-learn reference models, how the search compares, and the sample they saw."""
    models = reference.get("models", {})
    metric = reference.get("metric", "accuracy")
    print_table(
        "Reference models (scikit-learn, same split, test metric)",
        ["model", metric, "seconds", "best"],
        [
            [
                name,
                _fmt(m.get(metric)),
                _fmt(m.get("seconds")),
                "*" if name == reference.get("best") else "",
            ]
            for name, m in models.items()
        ],
        markup=False,
    )
    search_value = _search_value(run, metric)
    verdict = report.get("beats_reference_models", report.get("beats_baseline"))  # old: baseline
    if search_value is not None:
        word = (
            "at least as good as" if verdict is True else "worse than" if verdict is False else "vs"
        )
        console.print(
            f"search test {metric} {fmt_metric(search_value)} is {word} the best reference model "
            f"({reference.get('best')} {fmt_metric(reference.get('value'))})"
        )
    sample = reference.get("sample")
    if sample:  # a streamed source: the reference models saw a bounded sample of each split
        console.print(
            f"[dim]reference models fitted on a sample of {sample['train_rows']:,} of "
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
