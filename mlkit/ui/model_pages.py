"""The model pages: models, a model's versions, a version (lineage, verdicts), endpoints."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode

from mlkit.registry import Verdict
from mlkit.ui.charts import Series, count_bars, line_chart, lineage_svg, share_bar
from mlkit.ui.html import Html, Table, esc, fmt, link, pairs, section, size
from mlkit.ui.page import Page, deployments_table, diff, pretty, signed, span, version_href
from mlkit.workflows.ui_views import EndpointModel, ModelRow, VersionPage, VersionsPage

# -- models ---------------------------------------------------------------------------------------


def models(rows: list[ModelRow]) -> Page:
    table = Table(
        "models",
        ["model", "versions", "latest", "champion", "serving", "updated", "description"],
        [
            [
                link(r.model.name, f"/models/{quote(r.model.name)}"),
                r.model.version_count,
                link(r.model.latest_version, version_href(r.model.name, r.model.latest_version))
                if r.model.latest_version
                else None,
                link(r.champion, version_href(r.model.name, r.champion)) if r.champion else None,
                Html(
                    esc(", ".join(f"v{s.version} {s.percent}% on {s.endpoint}" for s in r.serving)),
                    [
                        {"endpoint": s.endpoint, "version": s.version, "percent": s.percent}
                        for s in r.serving
                    ],
                ),
                r.model.updated_at,
                r.model.description,
            ]
            for r in rows
        ],
    )
    return Page("Models", [table], rows)


# -- a model's versions ---------------------------------------------------------------------------


def versions(view: VersionsPage) -> Page:
    base = f"/models/{quote(view.model)}"
    state = {k: v for k, v in (("where", view.where), ("sort", view.sort)) if v}
    metric_options = "".join(
        f'<option value="{esc(m)}"{" selected" if m == view.metric else ""}>{esc(m)}</option>'
        for m in view.metrics
    )
    form = (
        f'<form class="filters" method="get" action="{esc(base)}">'
        f'<label>where <input name="where" size="48" value="{esc(view.where or "")}" '
        "placeholder=\"metrics.accuracy > 0.9 and tags.team = 'ml'\"></label>"
        f'<label>sort <input name="sort" size="22" value="{esc(view.sort or "")}" '
        'placeholder="metrics.accuracy:desc"></label>'
        f'<label>chart <select name="metric" class="autosubmit">{metric_options}</select></label>'
        '<button type="submit">apply</button></form>'
    )
    marks: dict[float, str] = {float(v): "deployed" for v in view.deployed}
    chart = line_chart(
        [Series(view.metric or "", [(float(x), y) for x, y in view.chart], marks)],
        x_label="version",
        y_label=view.metric or "",
        chart_id="versions-chart",
        integer_x=True,
    )
    table = Table(
        "versions",
        ["version", "created", "run", *_shown_metrics(view), "aliases", "tags", "verdict"]
        + ["deployed", "size"],
        [
            [
                link(r.version.version, version_href(view.model, r.version.version)),
                r.version.created_at,
                link(r.version.run_id, f"/runs/{r.version.run_id}") if r.version.run_id else None,
                *(r.version.metrics.get(m) for m in _shown_metrics(view)),
                list(r.version.aliases),
                r.version.tags,
                Html(f'<span class="v-{esc(r.verdict)}">{esc(r.verdict)}</span>', r.verdict),
                view.deployed.get(r.version.version, []),
                Html(esc(size(r.version.size_bytes)), r.version.size_bytes),
            ]
            for r in view.rows
        ],
        caption=f"{view.matched} of {view.total} versions match; page {view.page} of {view.pages}",
    )
    pager = []
    for label, page in (("« newer", view.page - 1), ("older »", view.page + 1)):
        if 1 <= page <= view.pages:
            href = f"{base}?{urlencode({**state, 'metric': view.metric or '', 'page': page})}"
            pager.append(
                f'<a class="pager" rel="{"prev" if page < view.page else "next"}" '
                f'href="{esc(href)}">{label}</a>'
            )
    compare = (
        f'<form class="filters" method="get" action="/compare">'
        f'<input type="hidden" name="model" value="{esc(view.model)}">'
        '<label>compare versions <input name="a" size="5" placeholder="1"></label>'
        '<label>and <input name="b" size="5" placeholder="2"></label>'
        '<button type="submit">compare</button></form>'
    )
    return Page(
        f"Versions of {view.model}",
        [form, chart, table, f"<p>{' '.join(pager)}</p>", compare],
        view,
        crumbs=[("Models", "/"), (view.model, "")],
    )


def _shown_metrics(view: VersionsPage) -> list[str]:
    shown: list[str] = [m for m in ("accuracy", "loss", "auc", "rmse") if m in view.metrics]
    if view.metric and view.metric not in shown:
        shown.append(view.metric)
    return shown


# -- a version ------------------------------------------------------------------------------------


def version(view: VersionPage) -> Page:
    mv, run = view.view.version, view.view.run
    sig = mv.signature or {}
    fields = [
        ("model", link(mv.model, f"/models/{quote(mv.model)}")),
        ("version", mv.version),
        ("created", mv.created_at),
        ("run", link(f"run {run.id} ({run.experiment})", f"/runs/{run.id}") if run else None),
        ("experiment file", run.experiment_path if run else None),
        ("aliases", ", ".join(mv.aliases)),
        ("serving on", ", ".join(view.view.serving_on)),
        ("size", size(mv.size_bytes)),
        ("artifact", mv.artifact_uri),
        ("sha256", mv.artifact_sha256),
        ("description", mv.description),
    ]
    metrics = Table("metrics", ["metric", "value"], [[k, v] for k, v in sorted(mv.metrics.items())])
    tags = Table("tags", ["tag", "value"], [[k, v] for k, v in sorted(mv.tags.items())])
    forms = sig.get("storage_forms") or {}
    inputs = Table(
        "inputs",
        ["input", "shape", "form"],
        [
            [name, shape, forms.get(name, "float")]
            for name, shape in (sig.get("inputs") or {}).items()
        ],
        caption=f"signature {sig.get('signature_name', '')}, task {sig.get('task', '')}"
        + (f", {sig['n_classes']} classes" if sig.get("n_classes") else ""),
    )
    arch = sig.get("architecture") or {}
    body: list[Any] = [
        pairs(fields),
        section("Lineage", lineage_svg(view.lineage), anchor="lineage"),
        section("Metrics", metrics),
        section("Tags", tags),
        section("Signature and input forms", inputs),
    ]
    if arch:
        body.append(section("Architecture", f"<pre>{esc(pretty(arch))}</pre>"))
    body.append(
        section("Deployments", deployments_table("deployments", list(view.view.deployments)))
    )
    body.append(f'<h2 id="verdicts">Verdicts ({len(view.verdicts)})</h2>')
    body += [verdict_block(v) for v in view.verdicts]
    return Page(
        f"{mv.model} version {mv.version}",
        body,
        view,
        crumbs=[("Models", "/"), (mv.model, f"/models/{quote(mv.model)}"), (f"v{mv.version}", "")],
    )


def verdict_block(v: Verdict) -> list[Any]:
    """A verdict: its line, metrics with differences and intervals, slices, checks, the
    significance test."""
    d = v.details or {}
    cand, base = d.get("candidate") or {}, d.get("baseline") or None
    intervals = d.get("intervals") or {}
    level = intervals.get("level")
    diffs = d.get("differences") or {}
    metrics = Table(
        f"verdict-{v.id}-metrics",
        ["metric", f"v{v.candidate_version}", f"v{v.baseline_version}" if base else "baseline"]
        + ["change", f"{level:.0%} interval" if level else "interval"],
        [
            [
                name,
                value,
                (base or {}).get("metrics", {}).get(name) if base else None,
                signed(diffs.get(name)),
                span(intervals.get(name)),
            ]
            for name, value in (cand.get("metrics") or {}).items()
        ],
        caption=f"on {d.get('rows', '?')} rows",
    )
    slice_metric = ((d.get("policy") or {}).get("slices") or {}).get("metric") or v.metric
    slices = Table(
        f"verdict-{v.id}-slices",
        ["slice", "rows", f"{slice_metric} v{v.candidate_version}", "baseline", "change"],
        [
            [
                name,
                numbers.get("rows"),
                numbers.get(slice_metric),
                b := ((base or {}).get("slices") or {}).get(name, {}).get(slice_metric),
                signed(diff(numbers.get(slice_metric), b)),
            ]
            for name, numbers in sorted((cand.get("slices") or {}).items())
        ],
    )
    checks = Table(
        f"verdict-{v.id}-checks",
        ["check", "result", "reason"],
        [
            [
                c.get("name"),
                Html(
                    f'<span class="v-{esc(c.get("status"))}">{esc(c.get("status"))}</span>',
                    c.get("status"),
                ),
                c.get("reason"),
            ]
            for c in d.get("checks") or []
        ],
    )
    sig = d.get("significance") or {}
    word = "PASS" if v.passed else "FAIL, forced" if v.forced else "FAIL"
    style = "forced" if v.forced else word.lower()
    head = (
        f'<h3 id="verdict-{v.id}" class="verdict">Verdict {v.id}: '
        f'<span class="v-{style}">{esc(word)}</span> · v{v.candidate_version} vs '
        f"{esc(f'v{v.baseline_version}' if v.baseline_version else 'no baseline')} · "
        f"{esc(fmt(v.created_at))}</h3><p>{esc(v.reason)}</p>"
    )
    if v.forced:
        head += f'<p class="warn">Forced by {esc(v.forced_by)}: {esc(v.force_reason)}</p>'
    found = cand.get("confusion") or {}  # verdicts stored before it was kept have none
    names = [str(n) for n in found.get("classes") or []]
    confusion = Table(
        f"verdict-{v.id}-confusion",
        ["true class", *names],
        [[n, *row] for n, row in zip(names, found.get("matrix") or [], strict=False)],
        caption=f"rows of v{v.candidate_version} by true and predicted class",
    )
    parts: list[Any] = [head, metrics]
    if slices.rows:
        parts.append(slices)
    if confusion.rows:
        parts.append(confusion)
    parts.append(checks)
    parts.append(
        "<h4>Significance test</h4>"
        + (pairs(sorted(sig.items())) if sig else '<p class="dim">not run (no baseline)</p>')
    )
    return [f'<article class="verdict" data-verdict="{v.id}">', parts, "</article>"]


# -- endpoints ------------------------------------------------------------------------------------


def endpoints(groups: list[EndpointModel]) -> Page:
    body: list[Any] = []
    summary = Table(
        "traffic",
        ["endpoint", "model", "split", "deployments"],
        [
            [
                g.endpoint,
                g.model,
                Html(
                    share_bar([(f"v{d.version}", d.traffic_percent) for d in g.active]),
                    {str(d.version): d.traffic_percent for d in g.active},
                ),
                len(g.history),
            ]
            for g in groups
        ],
    )
    body.append(summary)
    served = [g for g in groups if g.served is not None]
    if served:
        body.append(section("Requests and latency", *_served_parts(served), anchor="served"))
    for g in groups:
        body.append(
            section(
                f"{g.model} on {g.endpoint}: history",
                deployments_table(f"history-{g.endpoint}-{g.model}", g.history),
                anchor=f"{g.endpoint}-{g.model}",
            )
        )
    return Page("Endpoints", body, groups)


def _served_parts(groups: list[EndpointModel]) -> list[Any]:
    """Per version, what the prediction log says it served (one line where there is no log)."""
    rows: list[list[Any]] = []
    lines: list[str] = []
    bars: list[tuple[str, float]] = []
    for g in groups:
        figures = g.served
        if figures is None:
            continue
        if figures.problem:
            lines.append(f"{g.model} on {g.endpoint}: {figures.problem}")
            continue
        if not figures.traffic:
            lines.append(f"{g.model} on {g.endpoint}: no requests in {figures.log}")
        for t in figures.traffic:
            bars.append((f"{g.model} v{t.version} ({g.endpoint})", float(t.requests)))
            rows.append(
                [
                    g.endpoint,
                    g.model,
                    link(t.version, version_href(g.model, t.version)),
                    t.requests,
                    t.errors,
                    t.error_rate,
                    t.latency_p50_ms,
                    t.latency_p99_ms,
                    Html(esc(_distribution(t.predictions)), t.predictions),
                    _when(t.first_at),
                    _when(t.last_at),
                ]
            )
    table = Table(
        "served",
        [
            "endpoint", "model", "version", "requests", "errors", "error_rate",
            "latency_p50_ms", "latency_p99_ms", "predictions", "first", "last",
        ],
        rows,
        caption="from the prediction log",
    )  # fmt: skip
    parts: list[Any] = []
    if bars:
        parts.append(count_bars(bars))
    parts.append(table)
    parts.extend(f'<p class="dim served-note">{esc(line)}</p>' for line in lines)
    return parts


def _distribution(values: dict[str, float]) -> str:
    """Class counts (``0=12, 1=3``) or quantiles (``p50=0.31``) as one line."""
    return ", ".join(f"{k}={v:g}" for k, v in values.items())


def _when(at: float | None) -> datetime | None:
    return None if at is None else datetime.fromtimestamp(at, tz=timezone.utc)
