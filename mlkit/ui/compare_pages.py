"""The comparison pages: two versions, or two runs, side by side."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from mlkit.ui.charts import Series, line_chart, lineage_svg
from mlkit.ui.html import Html, Table, esc, fmt, link, section, size
from mlkit.ui.page import Page, diff, pre, signed
from mlkit.ui.run_pages import curve_series
from mlkit.workflows.ui_views import RunComparison, VersionComparison

# -- compare --------------------------------------------------------------------------------------


def compare_form(model: str = "", a: str = "", b: str = "") -> Page:
    form = (
        '<form class="filters" method="get" action="/compare">'
        f'<label>model <input name="model" value="{esc(model)}"></label>'
        f'<label>version <input name="a" size="5" value="{esc(a)}"></label>'
        f'<label>and <input name="b" size="5" value="{esc(b)}"></label>'
        '<button type="submit">compare versions</button></form>'
        '<form class="filters" method="get" action="/compare">'
        '<label>run <input name="run_a" size="5"></label>'
        '<label>and <input name="run_b" size="5"></label>'
        '<button type="submit">compare runs</button></form>'
    )
    return Page("Compare", [form], {})


def compare_versions(c: VersionComparison) -> Page:
    a, b = c.left.view.version, c.right.view.version
    la, lb = f"{a.model}:{a.version}", f"{b.model}:{b.version}"
    metrics = Table(
        "metrics",
        ["metric", la, lb, "change"],
        [
            [
                m,
                a.metrics.get(m),
                b.metrics.get(m),
                signed(diff(b.metrics.get(m), a.metrics.get(m))),
            ]
            for m in c.metrics
        ],
    )
    fields = Table(
        "fields",
        ["field", la, lb],
        [
            ["created", a.created_at, b.created_at],
            ["run", a.run_id, b.run_id],
            ["aliases", list(a.aliases), list(b.aliases)],
            [
                "size",
                Html(esc(size(a.size_bytes)), a.size_bytes),
                Html(esc(size(b.size_bytes)), b.size_bytes),
            ],
            ["tags", a.tags, b.tags],
            ["serving on", c.left.view.serving_on, c.right.view.serving_on],
        ],
    )
    arch = Table(
        "architecture",
        [la, lb],
        [
            [
                pre((a.signature or {}).get("architecture")),
                pre((b.signature or {}).get("architecture")),
            ]
        ],
    )
    sides = (
        '<div class="sides">'
        f'<div class="side" data-side="left"><h2>{esc(la)}</h2>{lineage_svg(c.left.lineage)}</div>'
        f'<div class="side" data-side="right"><h2>{esc(lb)}</h2>'
        f"{lineage_svg(c.right.lineage)}</div>"
        "</div>"
    )
    curves = line_chart(
        [Series(f"{la}: {n}", pts) for n, pts in sorted(c.left_curves.items())]
        + [Series(f"{lb}: {n}", pts, dashed=True) for n, pts in sorted(c.right_curves.items())],
        x_label="global step",
        y_label="training loss",
        chart_id="curves",
    )
    body: list[Any] = [
        sides,
        section("Metrics", metrics),
        section("Learning curves of their runs, overlaid", curves),
        section("Fields", fields),
        section("Architecture", arch),
    ]
    ra, rb = c.left.view.run, c.right.view.run
    if ra and rb:
        body.append(
            f'<p><a href="/compare?{urlencode({"run_a": ra.id, "run_b": rb.id})}">'
            "compare their runs</a> (parameters, curves)</p>"
        )
    return Page(
        f"Compare {la} and {lb}", body, c, crumbs=[("Compare", "/compare"), (f"{la} vs {lb}", "")]
    )


def compare_runs(c: RunComparison) -> Page:
    a, b = c.left.view.run, c.right.view.run
    la, lb = f"run {a.id}", f"run {b.id}"
    params = Table(
        "parameters",
        ["parameter", la, lb, "differs"],
        [[k, x, y, x != y] for k, x, y in c.parameters],
    )
    metrics = Table(
        "metrics",
        ["metric", la, lb, "change"],
        [
            [
                m,
                a.metrics.get(m),
                b.metrics.get(m),
                signed(diff(b.metrics.get(m), a.metrics.get(m))),
            ]
            for m in c.metrics
        ],
    )
    final = Table(
        "final_ensembles",
        ["side", "subnetworks"],
        [
            [la, (c.left.report.get("final") or {}).get("subnetworks")],
            [lb, (c.right.report.get("final") or {}).get("subnetworks")],
        ],
    )
    curves = line_chart(
        curve_series(c.left, f"{la}: ") + curve_series(c.right, f"{lb}: ", dashed=True),
        x_label="global step",
        y_label="training loss",
        chart_id="curves",
    )
    sides = (
        '<div class="sides">'
        f'<div class="side" data-side="left"><h2>{link(la, f"/runs/{a.id}").markup} · '
        f"{esc(a.experiment)}</h2>"
        f"<p>{esc(a.status)}, started {esc(fmt(a.started_at))}</p></div>"
        f'<div class="side" data-side="right"><h2>{link(lb, f"/runs/{b.id}").markup} · '
        f"{esc(b.experiment)}</h2>"
        f"<p>{esc(b.status)}, started {esc(fmt(b.started_at))}</p></div></div>"
    )
    body = [
        sides,
        section("Learning curves, overlaid", curves),
        section("Metrics", metrics),
        section("Final ensembles", final),
        section("Parameters", params),
    ]
    return Page(
        f"Compare {la} and {lb}", body, c, crumbs=[("Compare", "/compare"), (f"{la} vs {lb}", "")]
    )
