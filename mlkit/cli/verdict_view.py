"""A stored verdict for people: the metrics of both sides with differences and intervals, the
slices, every check with its result and reason, and who forced it, if anyone did."""

from __future__ import annotations

from typing import Any

from mlkit.cli.output import console, print_table

_RESULT = {"pass": "[green]pass[/]", "fail": "[red]FAIL[/]", "skip": "[dim]skip[/]"}


def _num(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.0f}"


def render_verdict(verdict: Any) -> None:
    """Metrics, slices and checks as tables, then the verdict's line (and who forced it)."""
    d = verdict.details or {}
    base = d.get("baseline")
    c_label = f"v{verdict.candidate_version} (candidate)"
    b_label = f"v{verdict.baseline_version} (baseline)" if base else ""
    _metrics_table(verdict, d, c_label, b_label)
    _slices_table(verdict, d, c_label, b_label)
    _confusion_table(d, c_label)
    print_table(
        "Checks",
        ["check", "result", "reason"],
        ([c["name"], _RESULT.get(c["status"], c["status"]), c["reason"]] for c in d["checks"])
        if d.get("checks")
        else [],
    )
    mark = "[green]PASS[/]" if verdict.passed else "[red]FAIL[/]"
    console.print(f"Verdict {verdict.id}: {mark}: {verdict.reason}", highlight=False)
    if verdict.forced:
        console.print(
            f"[yellow]Forced[/] by {verdict.forced_by}: {verdict.force_reason}", highlight=False
        )


def _data(verdict: Any, d: dict[str, Any]) -> dict[str, Any]:
    return d.get("data") or verdict.data_fingerprint or {}


def _metrics_table(verdict: Any, d: dict[str, Any], c_label: str, b_label: str) -> None:
    """Each metric of both sides, the change and its interval, titled with the rows judged on."""
    cand, base = d.get("candidate") or {}, d.get("baseline")
    data = _data(verdict, d)
    sha = (data.get("content_sha256") or "")[:12]
    where = f"{data.get('selection', 'rows')} of {data.get('table', '?')}"
    against = f"version {verdict.baseline_version}" if base else "no baseline (nothing deployed)"
    title = (
        f"{verdict.model}: version {verdict.candidate_version} vs {against} on "
        f"{d.get('rows', '?')} rows, {where} (sha256 {sha})"
    )
    intervals = d.get("intervals") or {}
    level = intervals.get("level")
    metrics = cand.get("metrics") or {}
    columns = ["metric", c_label]
    if base:
        columns += [b_label, "change", f"{level:.0%} interval" if level else "interval"]
    rows = []
    for name in metrics:
        row = [name, _num(metrics[name])]
        if base:
            diff = (d.get("differences") or {}).get(name)
            span = intervals.get(name)
            row += [
                _num(base["metrics"].get(name)),
                "" if diff is None else f"{diff:+.4f}",
                "" if not span else f"[{span[0]:+.4f}, {span[1]:+.4f}]",
            ]
        rows.append(row)
    print_table(title, columns, rows)


def _slices_table(verdict: Any, d: dict[str, Any], c_label: str, b_label: str) -> None:
    """The slice guard's metric per slice on both sides (nothing when there are no slices)."""
    cand, base = d.get("candidate") or {}, d.get("baseline")
    slices = cand.get("slices") or {}
    if not slices:
        return
    metric = d.get("metric", verdict.metric)
    guard = (d.get("policy") or {}).get("slices") or {}
    slice_metric = guard.get("metric") or metric
    columns = ["slice", "rows", f"{slice_metric} {c_label}"]
    if base:
        columns += [f"{slice_metric} {b_label}", "change"]
    rows = []
    for value, numbers in sorted(slices.items()):
        c = numbers.get(slice_metric)
        row = [value, numbers.get("rows"), _num(c)]
        if base:
            b = (base.get("slices") or {}).get(value, {}).get(slice_metric)
            row += [_num(b), "" if b is None or c is None else f"{c - b:+.4f}"]
        rows.append(row)
    print_table(f"Per {_data(verdict, d).get('slice_column') or 'slice'}", columns, rows)


def _confusion_table(d: dict[str, Any], c_label: str) -> None:
    """The candidate's rows per true class and predicted class, by class name (verdicts stored
    before the confusion data was kept have none: nothing shown)."""
    found = (d.get("candidate") or {}).get("confusion") or {}
    names, matrix = found.get("classes") or [], found.get("matrix") or []
    if not names:
        return
    columns = ["true class", *map(str, names)]
    rows = [[str(name), *counts] for name, counts in zip(names, matrix, strict=False)]
    print_table(f"Confusion of {c_label}", columns, rows)
