"""``RegistryStore``: every operation of the model registry, documented once.

Implementations return the dataclasses of ``mlkit.registry.entities``, never ORM rows. Every write
is one transaction and appends its event to the log in that same transaction. Errors are
``RegistryError`` (or its subclasses ``ModelNotFound``, ``VersionNotFound``, ``ArtifactError``)
with a one-line message and, where useful, a hint.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
        environment: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
        pid: int | None = None,
        hostname: str | None = None,
    ) -> Run:
        """Start a run of ``experiment`` (created on first use) with status ``running``.

        ``environment`` says where it runs (``mlkit.registry.environment.capture()``). ``pid``
        and ``hostname`` name the process that runs it, which then calls ``heartbeat``: a run
        whose process is gone is shown as failed (``mlkit.registry.liveness``).
        """

    @abstractmethod
    def heartbeat(self, run_id: int) -> None:
        """Record that the process running ``run_id`` is alive (now). Nothing happens when the
        run is no longer running. Not an event: it changes no state, only shows the run is alive.
        """

    @abstractmethod
    def log_metrics(self, run_id: int, metrics: dict[str, float], step: int) -> None:
        """Record ``metrics`` of a run at training ``step`` (a value per key and step; logging
        the same key and step again replaces it)."""

    @abstractmethod
    def metric_history(self, run_id: int) -> list[MetricPoint]:
        """Every metric value logged for the run, by key then step."""

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
    def record_run_data_stats(self, run_id: int, stats: dict[str, Any]) -> None:
        """Store the statistics of a run's training data (``mlkit.data.stats``: per feature
        count, missing, mean, std, min, max, histogram; the label distribution), replacing any,
        in one transaction with its ``run_data_stats`` event.

        RegistryError when the run does not exist or ``stats`` is not JSON.
        """

    @abstractmethod
    def run_data_stats(self, run_id: int) -> dict[str, Any] | None:
        """The statistics stored with the run, or None when it has none; RegistryError when the
        run does not exist."""

    @abstractmethod
    def get_run(self, run_id: int) -> Run:
        """The run ``run_id``; RegistryError ``run 12 not found`` when there is none."""

    @abstractmethod
    def list_runs(
        self,
        experiment: str | None = None,
        limit: int = 50,
        *,
        where: str | None = None,
        sort: str | None = None,
    ) -> list[Run]:
        """Runs, newest first (or by ``sort``, ``FIELD[:desc]``), optionally of one experiment
        and matching ``where`` (see ``mlkit.registry.query``); at most ``limit``."""

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
        tags: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Register ``source_dir`` as the next version of ``model`` (created if new).

        The name must match ``^[a-z][a-z0-9_-]{0,62}$``. Version numbers are consecutive per
        model, also with several processes registering at once, and a deleted version's number
        is not handed out again. The directory is copied into the artifact store and hashed
        before the row is committed; on failure nothing is left.
        """

    @abstractmethod
    def list_models(self) -> list[ModelSummary]:
        """Every model, by name."""

    @abstractmethod
    def list_versions(self, model: str, newest: int | None = None) -> list[ModelVersion]:
        """The versions of ``model``, oldest first (only the ``newest`` that many, if given);
        ModelNotFound when the model is unknown."""

    @abstractmethod
    def count_versions(self, model: str) -> int:
        """How many versions ``model`` has; ModelNotFound when the model is unknown."""

    @abstractmethod
    def get_version(self, model: str, version: int | None = None) -> ModelVersion:
        """One version (``None``: the latest); ModelNotFound or VersionNotFound otherwise."""

    @abstractmethod
    def resolve(self, ref: str) -> ModelVersion:
        """The version named by ``NAME`` (latest), ``NAME:VERSION`` or ``NAME@ALIAS``."""

    @abstractmethod
    def search_versions(
        self,
        model: str,
        *,
        where: str | None = None,
        sort: str | None = None,
        limit: int | None = None,
    ) -> list[ModelVersion]:
        """``model``'s versions matching ``where``, oldest first or by ``sort`` (``FIELD[:desc]``);
        with ``limit``, the newest ``limit`` (or the first ``limit`` in ``sort`` order)."""

    @abstractmethod
    def versions_of_run(self, run_id: int) -> list[ModelVersion]:
        """The versions a run produced (any model)."""

    @abstractmethod
    def lineage(self, model: str, version: int) -> Lineage:
        """Version → run (experiment file, data fingerprint) → deployments."""

    @abstractmethod
    def set_tags(
        self, model: str, version: int, tags: dict[str, str], remove: tuple[str, ...] = ()
    ) -> ModelVersion:
        """Set (and remove) tags of a version; tags are the only mutable part of a version."""

    @abstractmethod
    def describe(self, model: str, description: str, version: int | None = None) -> None:
        """Set the description of ``model`` (``version`` None) or of one version."""

    @abstractmethod
    def delete_version(self, model: str, version: int) -> None:
        """Delete a version, its aliases and its artifact. Refused (RegistryError) while the
        version is deployed on an endpoint; its number is never reused."""

    @abstractmethod
    def artifact_path(self, mv: ModelVersion, verify: bool = True) -> Path:
        """The local directory holding ``mv``'s artifact.

        With ``verify`` the tree is hashed again; ArtifactError when it is missing or changed.
        """

    # -- aliases ----------------------------------------------------------------------------------

    @abstractmethod
    def set_alias(self, model: str, alias: str, version: int) -> None:
        """Point ``alias`` of ``model`` at ``version`` (creating or moving it). ``champion`` and
        ``previous`` are refused (UsageError): they move only with the deployments."""

    @abstractmethod
    def get_alias(self, model: str, alias: str) -> int | None:
        """The version ``alias`` points at, or None; ModelNotFound when the model is unknown."""

    @abstractmethod
    def delete_alias(self, model: str, alias: str) -> None:
        """Remove ``alias`` of ``model``; RegistryError when there is no such alias, UsageError
        for ``champion`` and ``previous``."""

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
        forced_by: str | None = None,
        force_reason: str | None = None,
        data_fingerprint: dict[str, Any] | None = None,
    ) -> Verdict:
        """Store the result of comparing ``candidate_version`` with ``baseline_version``.

        ``details`` holds the whole verdict (both sides' metrics, differences, intervals, every
        check); ``forced`` marks a failed verdict overridden by ``forced_by`` for
        ``force_reason`` (both required then); ``data_fingerprint`` names the evaluation data.
        """

    @abstractmethod
    def latest_verdict(self, model: str, version: int) -> Verdict | None:
        """The newest verdict with ``version`` as candidate, or None."""

    @abstractmethod
    def list_verdicts(self, model: str) -> list[Verdict]:
        """Every verdict of ``model``, oldest first."""

    # -- deployments ------------------------------------------------------------------------------

    @abstractmethod
    def set_traffic(
        self,
        model: str,
        split: Mapping[int, int],
        *,
        endpoint: str = "local",
        version: int | None = None,
        verdict_id: int | None = None,
        action: str | None = None,
        actor: str | None = None,
        reason: str | None = None,
        resources: Mapping[int, Mapping[str, str]] | None = None,
        expect: Mapping[int, int] | None = None,
    ) -> list[Deployment]:
        """Serve ``model`` on ``endpoint`` with ``split`` (``{version: percent}`` summing to 100;
        0 retires a version), in one transaction with its event. Returns the active deployments,
        most traffic first. Every change of an endpoint's traffic is written this one way.

        ``version`` is the version this change deploys (a promotion or a canary): it gets a new
        deployment row recording ``verdict_id``, ``action`` (``promote``, or ``forced``, which
        needs ``actor`` and ``reason``), ``actor`` and ``reason``. Without it the change is an
        explicit split (action ``traffic``). ``resources`` keeps, per version, what the endpoint
        kind calls the deployment (e.g. Vertex AI resource names).

        ``champion`` moves to the version with the largest share (ties: it stays if it is among
        them, else the version deployed last, else the highest number); when it moves,
        ``previous`` takes the old champion. Compare-and-swap: with ``expect`` (the split the
        change was computed from), or a verdict whose baseline no longer serves, TrafficConflict
        and nothing changes.
        """

    @abstractmethod
    def deploy(
        self,
        model: str,
        version: int,
        *,
        endpoint: str = "local",
        verdict_id: int | None = None,
        action: str = "promote",
        actor: str | None = None,
        reason: str | None = None,
        resources: Mapping[str, str] | None = None,
        expect: Mapping[int, int] | None = None,
    ) -> Deployment:
        """``set_traffic`` with all the traffic to ``version``: every other version on
        ``endpoint`` is retired, ``champion`` moves to ``version`` and ``previous`` to the old
        champion (when it differs), which the deployment records as ``previous_version``.
        """

    @abstractmethod
    def rollback_target(self, model: str, endpoint: str = "local") -> int:
        """The version ``rollback`` would restore; RegistryError (as ``rollback``) otherwise."""

    @abstractmethod
    def rollback(
        self,
        model: str,
        *,
        endpoint: str = "local",
        actor: str | None = None,
        reason: str | None = None,
        resources: Mapping[str, str] | None = None,
        expect: Mapping[int, int] | None = None,
    ) -> Deployment:
        """Undo the change that made the serving version (the largest share) champion on
        ``endpoint``, in one transaction: the deployment it replaced (``rollback_to_id``) is
        restored with all the traffic as a new deployment with action ``rollback``, ``champion``
        moves back to its version and ``previous`` to the champion before that (removed when
        history ends). Rolling back again walks further back. RegistryError when nothing is
        deployed, nothing came before, or the version to restore was deleted.
        """

    @abstractmethod
    def undeploy(
        self,
        model: str,
        *,
        endpoint: str = "local",
        version: int | None = None,
        actor: str | None = None,
        reason: str | None = None,
        expect: Mapping[int, int] | None = None,
    ) -> list[Deployment]:
        """Retire ``version`` (default: every version) of ``model`` on ``endpoint``; its traffic
        goes to the others in proportion. Returns what stays active. RegistryError when nothing
        of that kind is deployed there. When nothing serves the model any more, ``champion`` is
        removed (or follows another endpoint that serves it)."""

    @abstractmethod
    def traffic(self, model: str, endpoint: str = "local") -> list[Deployment]:
        """The active deployments of ``model`` on ``endpoint``, most traffic first."""

    @abstractmethod
    def active_deployment(self, model: str, endpoint: str = "local") -> Deployment | None:
        """What serves ``model`` on ``endpoint``: the active deployment with the largest share
        (ties as for ``champion``); None also for an unknown model."""

    @abstractmethod
    def list_deployments(
        self, endpoint: str | None = None, active_only: bool = True
    ) -> list[Deployment]:
        """Deployments, newest first, optionally of one endpoint and including retired ones."""

    # -- events -----------------------------------------------------------------------------------

    @abstractmethod
    def list_events(self, model: str | None = None, limit: int = 100) -> list[Event]:
        """The event log, newest first, optionally about one model only."""

    def last_event_id(self) -> int:
        """The id of the newest event (0 when none): a cheap "has anything changed" stamp."""
        newest = self.list_events(limit=1)
        return newest[0].id if newest else 0

    @abstractmethod
    def record_event(
        self,
        kind: str,
        *,
        model: str | None = None,
        version: int | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> None:
        """Append one event that is no other write's (a monitoring check, a bandit's change of
        allocation, a count of dropped prediction-log records), in its own transaction."""

    @abstractmethod
    def latest_event(self, kind: str, model: str | None = None) -> Event | None:
        """The newest event of ``kind`` (about ``model``), or None."""

    # -- run reports and resuming (issue 4) --------------------------------------------------------

    @abstractmethod
    def record_run_report(
        self,
        run_id: int,
        *,
        report: dict[str, Any] | None = None,
        reference_models: dict[str, Any] | None = None,
    ) -> Run:
        """Store the search report and/or the scikit-learn reference models of a run (any
        status); ``None`` keeps what is stored."""

    @abstractmethod
    def reopen_run(
        self, run_id: int, *, pid: int | None = None, hostname: str | None = None
    ) -> Run:
        """Set a ``running`` (or dead) or ``failed`` run back to ``running`` to resume it, in
        the process ``pid`` on ``hostname`` when given (see ``create_run``).

        Raises RegistryError when the run does not exist or has finished.
        """

    # -- lifecycle --------------------------------------------------------------------------------

    # -- pipeline runs (see mlkit.workflows.pipeline) ---------------------------------------------

    @abstractmethod
    def create_pipeline_run(
        self,
        pipeline: str,
        *,
        spec_text: str,
        spec_sha256: str,
        path: str | None = None,
        backend: str = "local",
        trigger: str = "manual",
        pid: int | None = None,
        hostname: str | None = None,
    ) -> PipelineRun:
        """Start a pipeline run with status ``running`` (``trigger``: manual, drift, schedule)."""

    @abstractmethod
    def pipeline_heartbeat(self, pipeline_run_id: int) -> None:
        """Record that the process running the pipeline run is alive (see ``heartbeat``)."""

    @abstractmethod
    def reopen_pipeline_run(
        self, pipeline_run_id: int, *, pid: int | None = None, hostname: str | None = None
    ) -> PipelineRun:
        """Mark a failed, stopped or dead pipeline run as running again in this process, to
        resume it. RegistryError when it finished or its process is still alive."""

    @abstractmethod
    def start_pipeline_step(
        self,
        pipeline_run_id: int,
        name: str,
        *,
        position: int,
        inputs: dict[str, Any],
        cache_key: str | None,
    ) -> PipelineStep:
        """Record that step ``name`` of the pipeline run started (``running``), replacing an
        earlier record of that step in the run (a resumed run runs its unfinished steps again;
        the runner never restarts one that finished)."""

    @abstractmethod
    def finish_pipeline_step(
        self,
        pipeline_run_id: int,
        name: str,
        *,
        status: str,
        outputs: dict[str, Any] | None = None,
        reason: str | None = None,
        cached_from: int | None = None,
    ) -> PipelineStep:
        """End a step as ``succeeded``, ``failed``, ``skipped`` or ``cached`` (its outputs reused
        from pipeline run ``cached_from``)."""

    @abstractmethod
    def link_pipeline_run(
        self,
        pipeline_run_id: int,
        *,
        run_id: int | None = None,
        model: str | None = None,
        version: int | None = None,
        verdict_id: int | None = None,
        deployment_id: int | None = None,
        resources: dict[str, Any] | None = None,
    ) -> PipelineRun:
        """Link the pipeline run to what it produced (None leaves a link as it is)."""

    @abstractmethod
    def finish_pipeline_run(
        self, pipeline_run_id: int, *, status: str, message: str | None = None
    ) -> PipelineRun:
        """End a running pipeline run as ``finished``, ``failed`` or ``stopped``."""

    @abstractmethod
    def get_pipeline_run(self, pipeline_run_id: int) -> PipelineRun:
        """A pipeline run with its steps in order; RegistryError when there is none."""

    @abstractmethod
    def list_pipeline_runs(self, pipeline: str | None = None, limit: int = 50) -> list[PipelineRun]:
        """Pipeline runs, newest first, with their steps, optionally of one pipeline."""

    @abstractmethod
    def cached_pipeline_step(self, name: str, cache_key: str) -> PipelineStep | None:
        """The newest step ``name`` that ran and succeeded with ``cache_key`` (so its outputs
        can be reused); None when there is none."""

    def close(self) -> None:  # noqa: B027 - optional hook with a default
        """Release connections; the store must not be used afterwards."""

    def __enter__(self) -> RegistryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
