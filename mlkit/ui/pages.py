"""The pages: each turns one read model into a ``Page`` (title, HTML, its tables, its data).

No decisions here: what a page shows comes from ``mlkit.workflows.ui_views``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from mlkit.registry import Deployment, ModelVersion, Verdict
from mlkit.ui.charts import Series, histogram, line_chart, lineage_svg, share_bar
from mlkit.ui.html import Html, Table, esc, fmt, link, pairs, section, size
from mlkit.workflows.ui_views import (
    DataPage,
    EndpointModel,
    ModelRow,
    RunComparison,
    RunPage,
    VersionComparison,
    VersionPage,
    VersionsPage,
)
from mlkit.workflows.views import RunSummary


@dataclass
class Page:
    title: str
    body: list[Any]  # HTML text and Tables, in order
    data: Any  # the read model (``?format=json``)
    crumbs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def tables(self) -> dict[str, Table]:
        return {t.name: t for t in _tables(self.body)}

    def html(self, path: str, query: dict[str, str]) -> str:
        return "".join(_render(part, path, query) for part in self.body)


def _tables(parts: list[Any]) -> list[Table]:
    out: list[Table] = []
    for part in parts:
        if isinstance(part, Table):
            out.append(part)
        elif isinstance(part, list):
            out.extend(_tables(part))
    return out


def _render(part: Any, path: str, query: dict[str, str]) -> str:
    if isinstance(part, Table):
        return part.render(path, query)
    if isinstance(part, list):
        return "".join(_render(p, path, query) for p in part)
    return str(part)


def version_href(model: str, version: int) -> str:
    return f"/models/{quote(model)}/versions/{version}"


def _vlink(mv: ModelVersion) -> Html:
    return link(f"{mv.model}:{mv.version}", version_href(mv.model, mv.version))


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
    shown: list[str] = [m for m in ("accuracy", "average_loss", "auc", "rmse") if m in view.metrics]
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
        body.append(section("Architecture", f"<pre>{esc(_pretty(arch))}</pre>"))
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


def _pre(value: Any) -> Html:
    return Html(f"<pre>{esc(_pretty(value))}</pre>", value)


def signed(value: Any) -> Html | None:
    """A change, with its sign."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return Html(f"{value:+.4f}", value)


def span(value: Any) -> Html | None:
    """An interval ``[low, high]`` of a change."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    return Html(f"[{value[0]:+.4f}, {value[1]:+.4f}]", list(value))


def _pretty(value: Any) -> str:
    import json

    return json.dumps(value, indent=2, sort_keys=True, default=str)


def deployments_table(name: str, rows: list[Deployment]) -> Table:
    return Table(
        name,
        ["id", "model", "version", "endpoint", "traffic", "active", "action", "deployed"]
        + ["retired", "actor", "reason", "verdict"],
        [
            [
                Html(f'<span id="deployment-{d.id}">{d.id}</span>', d.id),
                d.model,
                link(d.version, version_href(d.model, d.version)),
                d.endpoint,
                Html(f"{d.traffic_percent}%", d.traffic_percent),
                d.active,
                d.action,
                d.deployed_at,
                d.retired_at,
                d.actor,
                d.reason,
                link(d.verdict_id, f"{version_href(d.model, d.version)}#verdict-{d.verdict_id}")
                if d.verdict_id
                else None,
            ]
            for d in rows
        ],
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
                signed(_diff(numbers.get(slice_metric), b)),
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
    parts: list[Any] = [head, metrics]
    if slices.rows:
        parts.append(slices)
    parts.append(checks)
    parts.append(
        "<h4>Significance test</h4>"
        + (pairs(sorted(sig.items())) if sig else '<p class="dim">not run (no baseline)</p>')
    )
    return [f'<article class="verdict" data-verdict="{v.id}">', parts, "</article>"]


# -- runs -----------------------------------------------------------------------------------------


def runs(rows: list[RunSummary], where: str | None, sort: str | None) -> Page:
    form = (
        '<form class="filters" method="get" action="/runs">'
        f'<label>where <input name="where" size="48" value="{esc(where or "")}" '
        "placeholder=\"status = 'finished' and metrics.accuracy > 0.9\"></label>"
        f'<label>sort <input name="sort" size="22" value="{esc(sort or "")}" '
        'placeholder="id:desc"></label><button type="submit">apply</button></form>'
    )
    table = Table(
        "runs",
        ["run", "experiment", "status", "started", "finished", "accuracy", "loss", "resumable"],
        [
            [
                link(r.run.id, f"/runs/{r.run.id}"),
                r.run.experiment,
                Html(
                    f'<span class="s-{esc(r.run.status)}">{esc(r.run.status)}</span>', r.run.status
                ),
                r.run.started_at,
                r.run.finished_at,
                r.run.metrics.get("accuracy"),
                r.run.metrics.get("average_loss", r.run.metrics.get("loss")),
                r.resumable,
            ]
            for r in rows
        ],
    )
    compare = (
        '<form class="filters" method="get" action="/compare">'
        '<label>compare runs <input name="run_a" size="5"></label>'
        '<label>and <input name="run_b" size="5"></label><button type="submit">compare</button>'
        "</form>"
    )
    return Page("Runs", [form, table, compare], rows)


def _curve_series(page: RunPage, prefix: str = "", dashed: bool = False) -> list[Series]:
    return [
        Series(f"{prefix}{name}", points, dashed=dashed)
        for name, points in sorted(page.curves.items())
    ]


def run(page: RunPage, tensorboard: str | None) -> Page:
    r = page.view.run
    fields = [
        ("experiment", r.experiment),
        ("experiment file", r.experiment_path),
        ("status", r.status + (" (process gone)" if r.dead else "")),
        ("started", r.started_at),
        ("finished", r.finished_at),
        ("code version", r.code_version),
        ("error", r.error),
        ("resumable", f"yes: mlkit train --resume {r.id}" if page.view.resumable else ""),
        ("directory", page.view.directory),
        ("data", link("feature statistics and drift", f"/runs/{r.id}/data")),
    ]
    tb_cmd = f"python -m tensorboard.main --logdir {page.view.directory}"
    tb = f"<p>TensorBoard: <code>{esc(tb_cmd)}</code>"
    if tensorboard:
        tb += f' · <a class="tb" href="{esc(tensorboard)}">open TensorBoard</a>'
    tb += "</p>"
    params = Table("parameters", ["parameter", "value"], _flat(page.view.parameters))
    metrics = Table("metrics", ["metric", "value"], [[k, v] for k, v in sorted(r.metrics.items())])
    by_step = Table(
        "metrics_by_step",
        ["metric", "step", "value"],
        [[k, s, v] for k, points in sorted(page.view.metrics_by_step.items()) for s, v in points],
    )
    body: list[Any] = [
        pairs(fields),
        tb,
        section("Parameters", params),
        section("Metrics", metrics),
    ]
    if page.view.metrics_by_step:
        body.append(
            section(
                "Metrics by step",
                line_chart(
                    [
                        Series(k, [(float(s), v) for s, v in pts])
                        for k, pts in sorted(page.view.metrics_by_step.items())
                    ],
                    x_label="step",
                    y_label="value",
                    chart_id="steps-chart",
                ),
                by_step,
            )
        )
    body.append(
        section(
            "Learning curves",
            line_chart(
                _curve_series(page),
                x_label="global step",
                y_label="training loss",
                chart_id="curves",
            ),
        )
    )
    for it in page.report.get("iterations") or []:
        body.append(_iteration(it))
    final = page.report.get("final") or {}
    members = Table(
        "final_ensemble",
        ["subnetwork", "trained in iteration"],
        [[m.get("name"), m.get("iteration")] for m in final.get("members") or []]
        or [[n, None] for n in final.get("subnetworks") or []],
    )
    body.append(section("Final ensemble", members))
    if page.baseline:
        body.append(section("Baselines", _baselines(page)))
    body.append(
        section(
            "Versions produced",
            Table(
                "versions",
                ["version", "created", "metrics"],
                [[_vlink(v), v.created_at, v.metrics] for v in page.view.versions[:SHOWN]],
                caption=_more(page),
            ),
            deployments_table("deployments", page.view.deployments[:SHOWN]),
        )
    )
    return Page(
        f"Run {r.id} ({r.experiment})", body, page, crumbs=[("Runs", "/runs"), (str(r.id), "")]
    )


SHOWN = 50  # the most versions and deployments a run page lists


def _more(page: RunPage) -> str:
    produced = page.view.versions
    if len(produced) <= SHOWN:
        return ""
    run_id = page.view.run.id
    return f"the first {SHOWN} of {len(produced)}; a model's page filters with run_id = {run_id}"


def _flat(params: dict[str, Any], prefix: str = "") -> list[list[Any]]:
    rows: list[list[Any]] = []
    for key, value in sorted(params.items()):
        if isinstance(value, dict) and value:
            rows += _flat(value, f"{prefix}{key}.")
        else:
            rows.append([f"{prefix}{key}", value])
    return rows


def _iteration(it: dict[str, Any]) -> str | list[Any]:
    candidates = it.get("candidates") or []
    names = sorted({k for c in candidates for k in c.get("metrics", {})})
    shown = [n for n in ("accuracy", "average_loss", "adanet_loss", "auc") if n in names]
    table = Table(
        f"iteration-{it.get('iteration')}",
        ["candidate", "kind", "hparams", "complexity", *shown, "joined ensemble"],
        [
            [
                c.get("name"),
                (c.get("hparams") or {}).get("kind"),
                {k: v for k, v in (c.get("hparams") or {}).items() if k != "kind"},
                c.get("complexity"),
                *((c.get("metrics") or {}).get(n) for n in shown),
                bool(c.get("joined_ensemble")),
            ]
            for c in candidates
        ],
        caption="metrics on the evaluation split",
    )
    return section(f"Iteration {it.get('iteration')}: candidates", table)


def _baselines(page: RunPage) -> list[Any]:
    b = page.baseline
    metric = b.get("metric", "accuracy")
    table = Table(
        "baselines",
        ["model", metric, "seconds", "best"],
        [
            [n, m.get(metric), m.get("seconds"), n == b.get("best")]
            for n, m in (b.get("models") or {}).items()
        ],
        caption="scikit-learn, same split, test metric",
    )
    verdict = page.report.get("beats_baseline")
    search = page.view.run.metrics.get(metric)
    line = ""
    if search is not None:
        word = (
            "at least as good as" if verdict is True else "worse than" if verdict is False else "vs"
        )
        best = f"{esc(b.get('best'))} {esc(fmt(b.get('value')))}"
        line = (
            f"<p>search test {esc(metric)} {esc(fmt(search))} is {word} the best baseline "
            f"({best})</p>"
        )
    return [table, line]


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
                signed(_diff(b.metrics.get(m), a.metrics.get(m))),
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
                _pre((a.signature or {}).get("architecture")),
                _pre((b.signature or {}).get("architecture")),
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


def _diff(b: Any, a: Any) -> float | None:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return float(b) - float(a)
    return None


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
                signed(_diff(b.metrics.get(m), a.metrics.get(m))),
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
        _curve_series(c.left, f"{la}: ") + _curve_series(c.right, f"{lb}: ", dashed=True),
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
    for g in groups:
        body.append(
            section(
                f"{g.model} on {g.endpoint}: history",
                deployments_table(f"history-{g.endpoint}-{g.model}", g.history),
                anchor=f"{g.endpoint}-{g.model}",
            )
        )
    body.append(
        '<p class="dim">Request and latency figures appear here once the endpoint keeps a '
        "prediction log.</p>"
    )
    return Page("Endpoints", body, groups)


# -- data -----------------------------------------------------------------------------------------


def data(page: DataPage, drift: Any | None = None) -> Page:
    stats = page.stats or {}
    features = stats.get("features") or {}
    table = Table(
        "features",
        ["feature", "count", "missing", "mean", "std", "min", "max", "histogram"],
        [
            [
                name,
                s.get("count"),
                s.get("missing"),
                s.get("mean"),
                s.get("std"),
                s.get("min"),
                s.get("max"),
                Html(
                    histogram(
                        (s.get("histogram") or {}).get("counts") or [],
                        (s.get("histogram") or {}).get("edges") or [],
                        label=name,
                    ),
                    s.get("histogram"),
                ),
            ]
            for name, s in features.items()
        ],
    )
    label = stats.get("label") or {}
    body: list[Any] = [
        pairs(
            [
                ("run", link(f"run {page.run} ({page.experiment})", f"/runs/{page.run}")),
                *((k, v) for k, v in sorted(page.fingerprint.items())),
            ]
        ),
        section(
            "Feature statistics",
            table if features else '<p class="dim">this run stored no statistics</p>',
        ),
    ]
    if label:
        body.append(section("Label", pairs(sorted(label.items()))))
    if drift is None:
        body.append(
            f'<p><a class="drift" href="/runs/{page.run}/data?drift=1">drift report: this '
            "run's source now against its training data</a></p>"
        )
    else:
        body.append(
            section(
                "Drift",
                Table(
                    "drift",
                    ["feature", "drifted", "psi", "mean before", "mean after", "mean shift (sd)"]
                    + ["missing before", "missing after", "reason"],
                    [
                        [
                            f.feature,
                            f.drifted,
                            f.psi,
                            f.mean_before,
                            f.mean_after,
                            f.mean_shift,
                            f.missing_before,
                            f.missing_after,
                            f.reason,
                        ]
                        for f in drift.features
                    ],
                    caption=f"{drift.source} against run {drift.run}: {len(drift.drifted)} drifted",
                ),
                anchor="drift",
            )
        )
    return Page(
        f"Data of run {page.run}",
        body,
        {"page": page, "drift": drift},
        crumbs=[("Runs", "/runs"), (str(page.run), f"/runs/{page.run}"), ("data", "")],
    )
