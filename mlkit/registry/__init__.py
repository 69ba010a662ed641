"""The model registry: runs, models, versions, aliases, verdicts, deployments and events in SQL,
artifacts in a directory.

    store = open_store(settings.registry_url, settings.artifacts_dir)
    mv = store.register_version("digits", export_dir, run_id=run.id, metrics={"accuracy": 0.97})

Imports neither TensorFlow nor (on the normal path) Alembic.
"""

from __future__ import annotations

from pathlib import Path

from mlkit.registry.artifacts import ArtifactStore
from mlkit.registry.db import HEAD_REVISION, create_registry_engine, ensure_schema, upgrade
from mlkit.registry.entities import (
    Deployment,
    Event,
    ModelSummary,
    ModelVersion,
    Run,
    Verdict,
)
from mlkit.registry.sql_store import SqlRegistryStore
from mlkit.registry.store import RegistryStore

__all__ = [
    "HEAD_REVISION",
    "ArtifactStore",
    "Deployment",
    "Event",
    "ModelSummary",
    "ModelVersion",
    "RegistryStore",
    "Run",
    "SqlRegistryStore",
    "Verdict",
    "open_store",
    "upgrade",
]


def open_store(url: str, artifacts_dir: Path) -> RegistryStore:
    """Open the registry at ``url`` (an SQLAlchemy URL) with artifacts under ``artifacts_dir``.

    An empty database gets the schema; an existing one must be at ``HEAD_REVISION``, otherwise
    RegistryError with the hint to run ``mlkit registry upgrade``.
    """
    engine = create_registry_engine(url)
    try:
        ensure_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return SqlRegistryStore(engine, ArtifactStore(artifacts_dir))
