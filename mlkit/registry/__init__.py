"""The model registry: runs, models, versions, aliases, verdicts, deployments and events in SQL,
artifacts in a directory or a ``gs://`` bucket.

    store = open_store(settings.registry_url, settings.artifacts_dir)
    mv = store.register_version("digits", export_dir, run_id=run.id, metrics={"accuracy": 0.97})

Imports neither TensorFlow nor (on the normal path) Alembic; SQLAlchemy is imported when a store
is opened (``SqlRegistryStore`` is loaded on first use), so ``listing.open_reader`` can list a
SQLite registry without it.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlkit.registry.artifacts import ArtifactStore
from mlkit.registry.artifacts import open_artifacts as _open_artifacts
from mlkit.registry.db import HEAD_REVISION, upgrade
from mlkit.registry.entities import (
    Deployment,
    Event,
    Lineage,
    MetricPoint,
    ModelSummary,
    ModelVersion,
    PipelineRun,
    PipelineStep,
    Run,
    Verdict,
)
from mlkit.registry.store import RegistryStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from mlkit.registry.sql_store import SqlRegistryStore

__all__ = [
    "HEAD_REVISION",
    "ArtifactStore",
    "Deployment",
    "Event",
    "Lineage",
    "MetricPoint",
    "ModelSummary",
    "ModelVersion",
    "PipelineRun",
    "PipelineStep",
    "RegistryStore",
    "Run",
    "SqlRegistryStore",
    "Verdict",
    "open_store",
    "upgrade",
]


class _Default(enum.Enum):
    """``open_store``'s default ``on_upgrade`` (None means something else: refuse)."""

    AUTO = "auto"


_AUTO: Literal[_Default.AUTO] = _Default.AUTO


def __getattr__(name: str) -> Any:
    if name == "SqlRegistryStore":
        from mlkit.registry.sql_store import SqlRegistryStore

        return SqlRegistryStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(
    url: str,
    artifacts: Path | str,
    on_upgrade: Callable[[str, str, str], None] | None | Literal[_Default.AUTO] = _AUTO,
    *,
    create: bool | None = None,
) -> RegistryStore:
    """Open the registry at ``url`` (an SQLAlchemy URL) with artifacts under ``artifacts`` (a
    local directory or a ``gs://bucket/prefix`` URI).

    An empty database gets the schema. A SQLite registry at an older schema is upgraded with a
    one-line message on stderr (``on_upgrade`` replaces the message; None refuses instead); any
    other database must be at ``HEAD_REVISION``, otherwise RegistryError with the hint to run
    ``mlkit registry upgrade``.

    ``create`` says whether a missing registry may be created (RegistryError ``no registry at
    PATH`` otherwise); by default only where ``mlkit.config.may_create_registry`` allows it: not
    at a URL the user named with ``--registry`` or ``MLKIT_REGISTRY_URL``, except the default one.
    """
    from mlkit.config import may_create_registry
    from mlkit.registry.db import (
        create_registry_engine,
        ensure_schema,
        no_registry,
        print_upgrade,
        sqlite_file,
    )
    from mlkit.registry.sql_store import SqlRegistryStore

    if create is None:
        create = may_create_registry(url)
    path = sqlite_file(url)
    if not create and path is not None and not path.is_file():
        raise no_registry(url)  # before SQLite would create the file
    artifact_store = _open_artifacts(artifacts)
    engine = create_registry_engine(url)
    try:
        ensure_schema(
            engine,
            print_upgrade if on_upgrade is _Default.AUTO else on_upgrade,
            create=create,
        )
    except BaseException:
        engine.dispose()
        raise
    return SqlRegistryStore(engine, artifact_store)
