"""The registry's listings (models, a model's versions and verdicts) as plain SQL, shared by the
SQL store and a lean reader for the CLI.

``mlkit models list`` and ``mlkit models versions`` are what people run most, so their start-up
matters: on a SQLite registry at the current schema, ``open_reader`` answers them through the
standard library's ``sqlite3`` without importing SQLAlchemy (about a quarter of a second here) or
Alembic. Anything else (another database, a registry to create or upgrade) goes through
``open_store``. The queries below are the only ones either path runs for these listings, so the
store's tests on SQLite and PostgreSQL cover them.

SQL parameters use the ``:name`` style, which both ``sqlite3`` and SQLAlchemy's ``text()`` read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlkit.errors import RegistryError
from mlkit.quantities import canonical_metrics
from mlkit.registry.entities import ModelSummary, ModelVersion, Verdict
from mlkit.registry.validation import MAX_INT, model_not_found

# Runs ``sql`` with ``params`` and returns the rows as tuples.
Query = Callable[[str, dict[str, Any]], Sequence[Sequence[Any]]]

MODELS_SQL = """
SELECT m.id, m.name, m.description, m.created_at, m.updated_at, COUNT(v.id), MAX(v.version)
FROM models m LEFT JOIN model_versions v ON v.model_id = m.id
GROUP BY m.id, m.name, m.description, m.created_at, m.updated_at
ORDER BY m.name
"""
ALIASES_SQL = "SELECT model_id, alias, version FROM aliases ORDER BY alias"
MODEL_SQL = "SELECT id, name FROM models WHERE name = :name"
MODEL_NAMES_SQL = "SELECT name FROM models ORDER BY name"
MODEL_ALIASES_SQL = "SELECT alias, version FROM aliases WHERE model_id = :model_id ORDER BY alias"
VERSIONS_SQL = """
SELECT version, run_id, artifact_uri, artifact_sha256, size_bytes, metrics, signature,
       description, tags, created_at
FROM model_versions WHERE model_id = :model_id ORDER BY version
"""
NEWEST_VERSIONS_SQL = """
SELECT version, run_id, artifact_uri, artifact_sha256, size_bytes, metrics, signature,
       description, tags, created_at
FROM model_versions WHERE model_id = :model_id ORDER BY version DESC LIMIT :newest
"""
COUNT_VERSIONS_SQL = "SELECT COUNT(*) FROM model_versions WHERE model_id = :model_id"
VERDICTS_SQL = """
SELECT id, candidate_version, baseline_version, metric, candidate_value, baseline_value, passed,
       forced, reason, details, created_at, forced_by, force_reason, data_fingerprint
FROM verdicts WHERE model_id = :model_id ORDER BY id
"""


def _json(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str | bytes):
        value = json.loads(value)
    return dict(value or {})


def _time(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return (
        value.replace(tzinfo=timezone.utc)
        if value.tzinfo is None
        else value.astimezone(timezone.utc)
    )


def list_models(query: Query) -> list[ModelSummary]:
    aliases: dict[int, dict[str, int]] = {}
    for model_id, alias, version in query(ALIASES_SQL, {}):
        aliases.setdefault(model_id, {})[alias] = version
    return [
        ModelSummary(
            name=name,
            description=description,
            version_count=count,
            latest_version=latest,
            aliases=aliases.get(model_id, {}),
            created_at=_time(created),
            updated_at=_time(updated),
        )
        for model_id, name, description, created, updated, count, latest in query(MODELS_SQL, {})
    ]


def model_id(query: Query, model: str) -> int:
    """The model's id; ModelNotFound (with close names) when there is none."""
    rows = query(MODEL_SQL, {"name": model})
    if not rows:
        raise model_not_found(model, [name for (name,) in query(MODEL_NAMES_SQL, {})])
    return rows[0][0]


def count_versions(query: Query, model: str) -> int:
    return query(COUNT_VERSIONS_SQL, {"model_id": model_id(query, model)})[0][0]


def list_versions(query: Query, model: str, newest: int | None = None) -> list[ModelVersion]:
    """The versions of ``model``, oldest first; with ``newest``, only the newest that many."""
    mid = model_id(query, model)
    if newest is None:
        rows = query(VERSIONS_SQL, {"model_id": mid})
    else:
        newest = min(newest, MAX_INT)  # more than any model has: all of them
        rows = list(reversed(query(NEWEST_VERSIONS_SQL, {"model_id": mid, "newest": newest})))
    by_version: dict[int, list[str]] = {}
    for alias, version in query(MODEL_ALIASES_SQL, {"model_id": mid}):
        by_version.setdefault(version, []).append(alias)
    return [
        ModelVersion(
            model=model,
            version=version,
            run_id=run_id,
            artifact_uri=uri,
            artifact_sha256=sha,
            size_bytes=size,
            metrics=canonical_metrics(_json(metrics)),
            signature=_json(signature),
            description=description,
            tags=_json(tags),
            created_at=_time(created),
            aliases=tuple(sorted(by_version.get(version, ()))),
        )
        for (
            version,
            run_id,
            uri,
            sha,
            size,
            metrics,
            signature,
            description,
            tags,
            created,
        ) in rows
    ]


def list_verdicts(query: Query, model: str) -> list[Verdict]:
    mid = model_id(query, model)
    return [
        Verdict(
            id=vid,
            model=model,
            candidate_version=candidate,
            baseline_version=baseline,
            metric=metric,
            candidate_value=cvalue,
            baseline_value=bvalue,
            passed=bool(passed),
            forced=bool(forced),
            reason=reason,
            details=_json(details),
            created_at=_time(created),
            forced_by=forced_by,
            force_reason=force_reason,
            data_fingerprint=_json(fingerprint),
        )
        for (
            vid,
            candidate,
            baseline,
            metric,
            cvalue,
            bvalue,
            passed,
            forced,
            reason,
            details,
            created,
            forced_by,
            force_reason,
            fingerprint,
        ) in query(VERDICTS_SQL, {"model_id": mid})
    ]


class SqliteReader:
    """The listings of a SQLite registry through ``sqlite3`` alone (read-only use)."""

    def __init__(self, connection: Any) -> None:
        self._conn = connection

    def _query(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        import sqlite3

        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise RegistryError(f"cannot read the registry: {exc}") from exc

    def list_models(self) -> list[ModelSummary]:
        return list_models(self._query)

    def list_versions(self, model: str, newest: int | None = None) -> list[ModelVersion]:
        return list_versions(self._query, model, newest)

    def count_versions(self, model: str) -> int:
        return count_versions(self._query, model)

    def list_verdicts(self, model: str) -> list[Verdict]:
        return list_verdicts(self._query, model)

    def close(self) -> None:
        self._conn.close()


def sqlite_path(url: str) -> Path | None:
    """The file of a plain ``sqlite:///PATH`` URL; None for anything else (options, memory)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url or url == prefix or url.endswith(":memory:"):
        return None
    return Path(url[len(prefix) :]).expanduser()


def open_reader(url: str, artifacts_dir: Path) -> Any:
    """Something with ``list_models``, ``list_versions`` and ``list_verdicts``: the lean SQLite
    reader when the registry is a SQLite file at the current schema, the full store otherwise
    (which creates, upgrades or refuses the registry with the usual messages)."""
    import sqlite3

    from mlkit.registry.db import HEAD_REVISION, SQLITE_BUSY_TIMEOUT_MS

    path = sqlite_path(url)
    if path is not None and path.is_file():
        conn = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.Error:
            row = None
        if row is not None and row[0] == HEAD_REVISION:
            return SqliteReader(conn)
        conn.close()
    from mlkit.registry import open_store

    return open_store(url, artifacts_dir)
