"""``RegistryStore``: every operation of the model registry, documented once.

Implementations return the dataclasses of ``mlkit.registry.entities``, never ORM rows. Every write
is one transaction and appends its event to the log in that same transaction. Errors are
``RegistryError`` (or its subclasses ``ModelNotFound``, ``VersionNotFound``, ``ArtifactError``)
with a one-line message and, where useful, a hint.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from mlkit.registry.entities import (
    Deployment,
    Event,
    ModelSummary,
    ModelVersion,
    Run,
    Verdict,
)


class RegistryStore(ABC):
    # -- runs -------------------------------------------------------------------------------------

    @abstractmethod
    def create_run(
        self,
        experiment: str,
        *,
        spec_text: str,
        params: dict[str, Any],
        experiment_path: str | None = None,
        code_version: str | None = None,
        run_dir: str | None = None,
    ) -> Run:
        """Start a run of ``experiment`` (created on first use) with status ``running``."""

    @abstractmethod
    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        metrics: dict[str, Any] | None = None,
        data_fingerprint: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> Run:
        """End a running run as ``finished`` or ``failed``, recording its results.

        Raises RegistryError when the run does not exist, is not running, or ``status`` is
        neither ``finished`` nor ``failed``.
        """

    @abstractmethod
    def get_run(self, run_id: int) -> Run:
        """The run ``run_id``; RegistryError ``run 12 not found`` when there is none."""

    @abstractmethod
    def list_runs(self, experiment: str | None = None, limit: int = 50) -> list[Run]:
        """Runs, newest first, optionally of one experiment only."""

    # -- models and versions ----------------------------------------------------------------------

    @abstractmethod
    def register_version(
        self,
        model: str,
        source_dir: Path,
        *,
        run_id: int | None = None,
        metrics: dict[str, Any] | None = None,
        signature: dict[str, Any] | None = None,
        description: str = "",
    ) -> ModelVersion:
        """Register ``source_dir`` as the next version of ``model`` (created if new).

        The name must match ``^[a-z][a-z0-9_-]{0,62}$``. Version numbers are gapless per model,
        also with several processes registering at once. The directory is copied into the
        artifact store and hashed before the row is committed; on failure nothing is left.
        """

    @abstractmethod
    def list_models(self) -> list[ModelSummary]:
        """Every model, by name."""

    @abstractmethod
    def list_versions(self, model: str) -> list[ModelVersion]:
        """The versions of ``model``, oldest first; ModelNotFound when the model is unknown."""

    @abstractmethod
    def get_version(self, model: str, version: int | None = None) -> ModelVersion:
        """One version (``None``: the latest); ModelNotFound or VersionNotFound otherwise."""

    @abstractmethod
    def artifact_path(self, mv: ModelVersion, verify: bool = True) -> Path:
        """The local directory holding ``mv``'s artifact.

        With ``verify`` the tree is hashed again; ArtifactError when it is missing or changed.
        """

    # -- aliases ----------------------------------------------------------------------------------

    @abstractmethod
    def set_alias(self, model: str, alias: str, version: int) -> None:
        """Point ``alias`` of ``model`` at ``version`` (creating or moving it)."""

    @abstractmethod
    def get_alias(self, model: str, alias: str) -> int | None:
        """The version ``alias`` points at, or None; ModelNotFound when the model is unknown."""

    # -- verdicts ---------------------------------------------------------------------------------

    @abstractmethod
    def record_verdict(
        self,
        model: str,
        candidate_version: int,
        baseline_version: int | None,
        *,
        metric: str,
        candidate_value: float,
        baseline_value: float | None,
        passed: bool,
        reason: str,
        details: dict[str, Any] | None = None,
        forced: bool = False,
    ) -> Verdict:
        """Store the result of comparing ``candidate_version`` with ``baseline_version``."""

    @abstractmethod
    def latest_verdict(self, model: str, version: int) -> Verdict | None:
        """The newest verdict with ``version`` as candidate, or None."""

    @abstractmethod
    def list_verdicts(self, model: str) -> list[Verdict]:
        """Every verdict of ``model``, oldest first."""

    # -- deployments ------------------------------------------------------------------------------

    @abstractmethod
    def deploy(
        self, model: str, version: int, *, endpoint: str = "local", verdict_id: int | None = None
    ) -> Deployment:
        """Make ``version`` the active deployment of ``model`` on ``endpoint``, in one transaction.

        Retires the deployment active there before, moves alias ``champion`` to ``version`` and
        alias ``previous`` to the old champion (when there was one and it differs).
        """

    @abstractmethod
    def active_deployment(self, model: str, endpoint: str = "local") -> Deployment | None:
        """The active deployment of ``model`` on ``endpoint``; None also for an unknown model."""

    @abstractmethod
    def list_deployments(
        self, endpoint: str | None = None, active_only: bool = True
    ) -> list[Deployment]:
        """Deployments, newest first, optionally of one endpoint and including retired ones."""

    # -- events -----------------------------------------------------------------------------------

    @abstractmethod
    def list_events(self, model: str | None = None, limit: int = 100) -> list[Event]:
        """The event log, newest first, optionally about one model only."""

    # -- run reports and resuming (issue 4) --------------------------------------------------------

    @abstractmethod
    def record_run_report(
        self,
        run_id: int,
        *,
        report: dict[str, Any] | None = None,
        baseline: dict[str, Any] | None = None,
    ) -> Run:
        """Store the search report and/or the baseline of a run (any status); ``None`` keeps
        what is stored."""

    @abstractmethod
    def reopen_run(self, run_id: int) -> Run:
        """Set a ``running`` or ``failed`` run back to ``running`` to resume it.

        Raises RegistryError when the run does not exist or has finished.
        """

    # -- lifecycle --------------------------------------------------------------------------------

    def close(self) -> None:  # noqa: B027 - optional hook with a default
        """Release connections; the store must not be used afterwards."""

    def __enter__(self) -> RegistryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
