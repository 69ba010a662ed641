"""The run pages: runs, a run (parameters, metrics, search report, curves), its data."""

from __future__ import annotations

from typing import Any

from mlkit.ui.charts import Series, histogram, line_chart
from mlkit.ui.html import Html, Table, esc, fmt, link, pairs, section
from mlkit.ui.page import Page, deployments_table, vlink
from mlkit.workflows.ui_views import DataPage, RunPage
from mlkit.workflows.views import RunSummary

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


def curve_series(page: RunPage, prefix: str = "", dashed: bool = False) -> list[Series]:
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
                curve_series(page),
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
    if page.reference_models:
        body.append(section("Reference models", _reference_models(page)))
    body.append(
        section(
            "Versions produced",
            Table(
                "versions",
                ["version", "created", "metrics"],
                [[vlink(v), v.created_at, v.metrics] for v in page.view.versions[:SHOWN]],
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


def _reference_models(page: RunPage) -> list[Any]:
    b = page.reference_models
    metric = b.get("metric", "accuracy")
    table = Table(
        "reference_models",
        ["model", metric, "seconds", "best"],
        [
            [n, m.get(metric), m.get("seconds"), n == b.get("best")]
            for n, m in (b.get("models") or {}).items()
        ],
        caption="scikit-learn, same split, test metric",
    )
    verdict = page.report.get("beats_reference_models", page.report.get("beats_baseline"))
    search = page.view.run.metrics.get(metric)
    line = ""
    if search is not None:
        word = (
            "at least as good as" if verdict is True else "worse than" if verdict is False else "vs"
        )
        best = f"{esc(b.get('best'))} {esc(fmt(b.get('value')))}"
        line = (
            f"<p>search test {esc(metric)} {esc(fmt(search))} is {word} the best reference model "
            f"({best})</p>"
        )
    return [table, line]


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
