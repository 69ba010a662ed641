"""``mlkit models list`` and ``mlkit models versions``: the bodies of the two commands people run
most, without typer, so that ``fast.dispatch`` can run them from a bare process.

They read through ``listing.open_reader``: plain ``sqlite3`` on a current SQLite registry, the
full store otherwise.
"""

from __future__ import annotations

from mlkit.cli.output import (
    console,
    fmt_metric,
    fmt_size,
    fmt_time,
    print_json,
    print_table,
    to_jsonable,
)
from mlkit.config import load_settings


def _reader():
    from mlkit.registry.listing import open_reader

    settings = load_settings()
    return open_reader(settings.registry_url, settings.artifacts_dir)


def list_models(as_json: bool = False) -> None:
    reader = _reader()
    try:
        models = reader.list_models()
    finally:
        reader.close()
    if as_json:
        print_json(models)
        return
    print_table(
        "Models",
        # The headers are the --json field names.
        ["name", "version_count", "latest_version", "aliases.champion", "updated_at"]
        + ["description"],
        (
            [
                m.name,
                m.version_count,
                m.latest_version,
                m.aliases.get("champion", ""),
                fmt_time(m.updated_at),
                m.description,
            ]
            for m in models
        ),
        markup=False,
    )


def versions(
    name: str,
    where: str | None = None,
    sort: str | None = None,
    limit: int = 50,
    as_json: bool = False,
) -> None:
    rows, total, verdicts = _read_versions(name, where, sort, limit)
    if as_json:
        print_json([{**to_jsonable(v), "verdict": verdicts[v.version]} for v in rows])
        return
    _versions_table(name, rows, verdicts)
    if limit and len(rows) == limit and total > limit:
        console.print(
            f"[dim]{limit} of {total} versions shown; --limit 0 shows all.[/]", highlight=False
        )
    elif where:
        console.print(f"[dim]{len(rows)} of {total} versions match.[/]", highlight=False)


def _read_versions(name: str, where: str | None, sort: str | None, limit: int):
    """The versions to show, how many the model has, and each shown version's latest verdict."""
    from mlkit.registry.query import filter_versions

    reader = _reader()
    try:
        if where is None and sort is None and limit:
            rows = reader.list_versions(name, newest=limit)  # the newest N straight from SQL
            total = reader.count_versions(name) if len(rows) == limit else len(rows)
        else:
            every = reader.list_versions(name)
            rows = filter_versions(every, where=where, sort=sort, limit=limit or None)
            total = len(every)
        verdicts = dict.fromkeys((v.version for v in rows), None)
        if rows:
            for verdict in reader.list_verdicts(name):  # oldest first: the last one wins
                if verdict.candidate_version in verdicts:
                    verdicts[verdict.candidate_version] = verdict
    finally:
        reader.close()
    return rows, total, verdicts


def _versions_table(name: str, rows, verdicts) -> None:
    print_table(
        f"Versions of {name}",
        # The headers are the --json field names, as --where and --sort take them.
        ["version", "created_at", "run_id", "metrics.accuracy", "metrics.loss", "aliases"]
        + ["tags", "verdict", "size_bytes"],
        (
            [
                v.version,
                fmt_time(v.created_at),
                v.run_id,
                fmt_metric(v.metrics.get("accuracy")),
                fmt_metric(v.metrics.get("loss")),
                ", ".join(v.aliases),
                ", ".join(f"{k}={val}" for k, val in sorted(v.tags.items())),
                _verdict_cell(verdicts[v.version]),
                fmt_size(v.size_bytes),
            ]
            for v in rows
        ),
        markup=False,
    )


def _verdict_cell(verdict) -> str:
    if verdict is None:
        return ""
    if verdict.forced:
        return "forced"
    return "pass" if verdict.passed else "fail"
