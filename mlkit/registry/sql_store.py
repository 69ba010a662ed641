"""``SqlRegistryStore``: the registry on any SQLAlchemy database (SQLite by default).

Each write runs in one transaction that starts with the write lock on SQLite (``BEGIN
IMMEDIATE``) and locks the model row (``SELECT ... FOR UPDATE``) on databases that have row locks,
so version numbers stay gapless with concurrent writers. A unique-constraint race (two processes
creating the same model or experiment) is retried; anything else from the database becomes a
one-line RegistryError. The operations live in one module per concern:

- ``sql_base``: transactions, errors, shared lookups
- ``sql_runs``: runs
- ``sql_versions``: models, versions, artifacts, aliases
- ``sql_promotion``: verdicts, the deployment history, events
- ``sql_traffic``: deployments: every change of an endpoint's traffic (deploy, canary, split,
  rollback, undeploy) through one write path, with the aliases that follow it
- ``sql_run_reports``: search reports and reference models of runs, reopening a run to resume it
- ``sql_pipelines``: pipeline runs and their steps (inputs, outputs, cache keys)
"""

from __future__ import annotations

from mlkit.registry.sql_pipelines import PipelinesMixin
from mlkit.registry.sql_promotion import PromotionMixin
from mlkit.registry.sql_run_reports import RunReportsMixin
from mlkit.registry.sql_runs import RunsMixin
from mlkit.registry.sql_traffic import TrafficMixin
from mlkit.registry.sql_versions import VersionsMixin
from mlkit.registry.store import RegistryStore


class SqlRegistryStore(
    RunsMixin,
    VersionsMixin,
    PromotionMixin,
    TrafficMixin,
    RunReportsMixin,
    PipelinesMixin,
    RegistryStore,
):
    """Every operation of :class:`RegistryStore`, on SQL."""
