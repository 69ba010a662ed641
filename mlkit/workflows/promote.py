"""registry → evaluation on the same rows → verdict → endpoint → registry.

``compare`` evaluates a candidate and a baseline version and records the verdict; ``deploy``
compares with what the endpoint serves and promotes only on a pass (or when forced, recording who
and why); ``rollback`` restores the champion the current deployment replaced. Promotion to an
endpoint happens in one place, ``promote_to_endpoint``, through the endpoint interface
(``mlkit.serving.endpoints``): the workflow never asks which kind of endpoint it talks to.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkit.compat import tomllib
from mlkit.config import Settings
from mlkit.errors import PromotionRefused, RegistryError, TrafficConflict, UsageError
from mlkit.experiment import Experiment, parse_experiment
from mlkit.registry import Deployment, ModelVersion, RegistryStore, Verdict, open_store

if TYPE_CHECKING:
    from mlkit.data.evaluation import EvaluationData
    from mlkit.promotion.evaluate import VersionRun
    from mlkit.promotion.verdict import VerdictReport
    from mlkit.serving.endpoints import Endpoint

LOCAL_ENDPOINT = "local"
REQUEST_LOGGING_EVENT = "request_logging"  # an endpoint logs its requests to a table
Stage = Callable[[str], None]
Progress = Callable[[int, int], None]


def current_user() -> str:
    """Who is acting: ``MLKIT_USER`` if set, else the login name."""
    user = os.environ.get("MLKIT_USER", "").strip()
    if user:
        return user
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers)
        return "unknown"


@dataclass
class Comparison:
    model: str
    candidate_version: int
    baseline_version: int | None
    passed: bool
    reason: str
    verdict: Verdict
    plot: Path | None = None


@dataclass
class DeployOutcome:
    model: str
    candidate_version: int
    baseline_version: int | None
    deployed: bool
    already_deployed: bool = False
    forced: bool = False
    passed: bool | None = None
    reason: str = ""
    verdict: Verdict | None = None
    deployment: Deployment | None = None
    target: str = LOCAL_ENDPOINT
    traffic: int = 100
    where: str = ""  # how messages name the endpoint, e.g. "Vertex AI"
    request_log: str | None = None  # --log-requests: the BigQuery table the endpoint logs to
    plot: Path | None = None  # the verdict drawn (promotion.plot)

    def refusal(self) -> PromotionRefused | None:
        """The error a refused deployment ends in (None when deployed or already serving)."""
        if self.deployed or self.already_deployed:
            return None
        return PromotionRefused(
            f"{self.model} version {self.candidate_version} was not deployed: {self.reason}",
            hint='deploy it anyway with --force --reason "why"',
        )


@dataclass
class RollbackOutcome:
    model: str
    endpoint: str
    from_version: int
    deployment: Deployment


def _noop(*_args: Any) -> None:
    return None


def compare(
    model: str,
    settings: Settings,
    *,
    candidate: int | None,
    baseline: str | int = "deployed",
    data_table: str | None = None,
    plot_path: Path | None = None,
    endpoint: str = LOCAL_ENDPOINT,
    on_stage: Stage | None = None,
    on_progress: Progress | None = None,
) -> Comparison:
    """Evaluate ``candidate`` against ``baseline`` (``deployed``: what ``endpoint`` serves; a
    version number; nothing when nothing is deployed), record the verdict, draw the plot."""
    stage = on_stage or _noop
    against = _parse_baseline(baseline)
    store = open_store(settings.registry_url, settings.artifacts_dir)
    cand = store.get_version(model, candidate)
    base = _baseline(store, model, against, endpoint)
    if base is not None and base.version == cand.version:
        raise UsageError(
            f"the candidate and the baseline are both version {cand.version} of '{model}'",
            hint="pick another --baseline, or --candidate",
        )
    report, data = _judge(store, settings, cand, base, data_table, stage, on_progress)
    verdict = _record(store, model, cand, base, report, data)
    plot = _draw(settings, model, verdict, report, stage, plot_path)
    return Comparison(
        model, cand.version, None if base is None else base.version, report.passed,
        report.reason, verdict, plot,
    )  # fmt: skip


def deploy(
    model: str,
    settings: Settings,
    *,
    version: int | None = None,
    force: bool = False,
    reason: str | None = None,
    actor: str | None = None,
    endpoint: str = LOCAL_ENDPOINT,
    traffic: int = 100,
    data_table: str | None = None,
    on_stage: Stage | None = None,
    on_progress: Progress | None = None,
    log_requests: bool = False,
    log_table: str | None = None,
) -> DeployOutcome:
    """Compare ``version`` (default: latest) with what ``endpoint`` serves; promote it on a pass.

    ``log_requests`` (Vertex AI): switch on the endpoint's request-response logging into the
    BigQuery table ``log_table`` (default ``bq://PROJECT.mlkit_request_logs.MODEL_requests``),
    recorded as a ``request_logging`` event that ``mlkit monitor`` reads the log from.

    ``endpoint`` is an endpoint kind (``mlkit.serving.endpoints.ENDPOINT_KINDS``: ``local``,
    ``vertex``). ``traffic`` below 100 deploys the version as a canary beside what serves now.

    ``force`` deploys over a failed verdict and needs ``reason``; the verdict and the deployment
    record who (``actor``, default ``current_user()``) and why, for every kind and share.
    ``data_table``: judge on every row of that table (local or ``bq://``) rather than the
    experiment's test split. PromotionRefused when what serves changed while the verdict was
    computed.
    """
    from mlkit.serving.endpoints import open_endpoint  # checks the kind's settings up front

    reason = _force_reason(force, reason)
    if (log_requests or log_table) and endpoint != "vertex":
        raise UsageError(
            "--log-requests is for --target vertex; the local endpoint logs every answer itself "
            "(mlkit serve --log TABLE)"
        )
    stage = on_stage or _noop
    who = actor or current_user()
    store = open_store(settings.registry_url, settings.artifacts_dir)
    target = open_endpoint(endpoint, store)
    cand = store.get_version(model, version)
    current = target.serving(model)
    if current is not None and current.version == cand.version:
        done = DeployOutcome(
            model, cand.version, current.version, deployed=False, already_deployed=True
        )
        if log_requests or log_table:
            done.request_log = _log_requests(store, target, model, log_table, endpoint, who)
        return done
    base = None if current is None else store.get_version(model, current.version)
    report, data = _judge(store, settings, cand, base, data_table, stage, on_progress)
    forced = force and not report.passed
    verdict = _record(
        store, model, cand, base, report, data,
        forced=forced, forced_by=who if forced else None, force_reason=reason if forced else None,
    )  # fmt: skip
    outcome = DeployOutcome(
        model, cand.version, None if base is None else base.version, deployed=False,
        forced=forced, passed=report.passed, reason=report.reason, verdict=verdict,
        target=endpoint, traffic=traffic, where=target.title,
        plot=_draw(settings, model, verdict, report, stage),
    )  # fmt: skip
    if report.passed or force:
        share = "" if traffic == 100 else f" with {traffic}% of the traffic"
        stage(f"promoting version {cand.version} on {target.title}{share}")
        outcome.deployment = promote_to_endpoint(
            target,
            model,
            cand.version,
            verdict=verdict,
            action="forced" if forced else "promote",
            actor=who,
            reason=reason,
            traffic=traffic,
        )
        outcome.deployed = True
    if outcome.deployed and (log_requests or log_table):
        stage("switching on request-response logging")
        outcome.request_log = _log_requests(store, target, model, log_table, endpoint, who)
    return outcome


def _log_requests(
    store: RegistryStore, target: Endpoint, model: str, table: str | None, endpoint: str, who: str
) -> str:
    """Switch on the endpoint's request logging; record where (``mlkit monitor`` reads it)."""
    uri = target.log_requests(model, table)
    store.record_event(
        REQUEST_LOGGING_EVENT,
        model=model,
        payload={"endpoint": endpoint, "table": uri, "actor": who},
    )
    return uri


def _draw(
    settings: Settings,
    model: str,
    verdict: Verdict,
    report: VerdictReport,
    stage: Callable[[str], None],
    path: Path | None = None,
) -> Path:
    """The verdict's plot (promotion.plot), by default in ``runs/verdicts/``."""
    from mlkit.promotion.plot import plot_verdict

    against = "none" if verdict.baseline_version is None else f"v{verdict.baseline_version}"
    path = path or settings.runs_dir / "verdicts" / (
        f"{model}-v{verdict.candidate_version}-vs-{against}-verdict{verdict.id}.png"
    )
    stage(f"drawing the comparison to {path}")
    return plot_verdict(report.details, report.passed, path, model=model)


def _force_reason(force: bool, reason: str | None) -> str | None:
    """Why a failed verdict is overridden: required with ``force``, refused without it."""
    if reason is not None and not force:
        raise UsageError("--reason goes with --force (it records why a verdict is overridden)")
    reason = (reason or "").strip() or None
    if force and reason is None:
        raise UsageError(
            "--force needs --reason: say why the verdict is overridden",
            hint='e.g. --force --reason "hotfix for the label outage, ticket 123"',
        )
    return reason


def promote_to_endpoint(
    endpoint: Endpoint,
    model: str,
    version: int,
    *,
    verdict: Verdict,
    action: str,
    actor: str,
    reason: str | None,
    traffic: int = 100,
) -> Deployment:
    """The one place a version goes live: ``version`` takes ``traffic`` percent of the model's
    traffic on ``endpoint``, recorded with the verdict, the action (``promote``/``forced``), who
    and why in one registry transaction, which refuses (compare-and-swap) when what serves is no
    longer the verdict's baseline: then PromotionRefused, and nothing changed."""
    try:
        rows = endpoint.deploy(
            model, version, traffic, verdict_id=verdict.id, baseline=verdict.baseline_version,
            action=action, actor=actor, reason=reason,
        )  # fmt: skip
    except TrafficConflict as exc:
        raise PromotionRefused(
            f"{model} version {version} was not deployed: {exc.message}", hint=exc.hint
        ) from exc
    return next(d for d in rows if d.version == version)


def rollback(
    model: str,
    settings: Settings,
    *,
    endpoint: str = LOCAL_ENDPOINT,
    actor: str | None = None,
    reason: str | None = None,
) -> RollbackOutcome:
    """All traffic back to the version the serving one replaced (the ``previous`` alias), after
    checking its artifact, in one registry transaction (on any endpoint kind)."""
    from mlkit.serving.endpoints import open_endpoint

    store = open_store(settings.registry_url, settings.artifacts_dir)
    store.get_version(model)  # ModelNotFound with the known names, before anything else
    target = open_endpoint(endpoint, store)
    current = target.serving(model)
    why = (reason or "").strip() or None
    deployment = target.rollback(model, actor=actor or current_user(), reason=why)
    return RollbackOutcome(model, endpoint, current.version if current else 0, deployment)


def _record(
    store: RegistryStore, model: str, cand: ModelVersion, base: ModelVersion | None,
    report: VerdictReport, data: EvaluationData, **forced: Any,
) -> Verdict:  # fmt: skip
    """Store a verdict: both sides' values, every check and the data it was judged on."""
    return store.record_verdict(
        model,
        cand.version,
        None if base is None else base.version,
        metric=report.metric,
        candidate_value=report.candidate_value,
        baseline_value=report.baseline_value,
        passed=report.passed,
        reason=report.reason,
        details=report.details,
        data_fingerprint=data.fingerprint,
        **forced,
    )


# -- evaluation -------------------------------------------------------------------------------


def _parse_baseline(baseline: str | int) -> str | int:
    """``deployed`` or a version number (a digit string becomes an int); else UsageError."""
    if baseline == "deployed" or isinstance(baseline, int):
        return baseline
    if baseline.isdigit() and int(baseline) >= 1:
        return int(baseline)
    raise UsageError(
        f"invalid --baseline {baseline!r}: expected 'deployed' or a version number (1, 2, ...)"
    )


def _baseline(
    store: RegistryStore, model: str, baseline: str | int, endpoint: str
) -> ModelVersion | None:
    if baseline == "deployed":
        current = store.active_deployment(model, endpoint)
        return None if current is None else store.get_version(model, current.version)
    return store.get_version(model, int(baseline))


def _judge(
    store: RegistryStore,
    settings: Settings,
    cand: ModelVersion,
    base: ModelVersion | None,
    data_table: str | None,
    stage: Stage,
    on_progress: Progress | None,
) -> tuple[VerdictReport, EvaluationData]:
    from mlkit.data.experiment_data import evaluation_source, experiment_evaluation_data
    from mlkit.promotion.evaluate import load_runner, run_version, time_batches
    from mlkit.promotion.smoke import smoke_test
    from mlkit.promotion.verdict import judge

    experiment = _experiment_of(store, cand)
    policy = experiment.promotion
    source = evaluation_source(experiment.data, settings, data_table)  # checks --data first
    stage(f"loading version {cand.version}" + (f" and version {base.version}" if base else ""))
    cand_runner = load_runner(store.artifact_path(cand))
    base_runner = None if base is None else load_runner(store.artifact_path(base))
    if (
        base is not None
        and base_runner is not None
        and base_runner.input_spec != cand_runner.input_spec
    ):
        raise UsageError(
            f"versions {cand.version} and {base.version} of '{cand.model}' take different inputs "
            f"({_inputs(cand_runner)} vs {_inputs(base_runner)}); they cannot be compared on "
            "the same rows"
        )
    what = f"table {source.text}" if data_table else f"the test split of {source.text}"
    stage(f"reading {what} from {source.warehouse.describe()}")
    data = experiment_evaluation_data(
        experiment.data,
        settings,
        features=cand_runner.input_spec,
        slice_column=policy.slices.column if policy.slices else None,
        regression=cand.signature.get("task") == "regression",
        data=data_table,
        raw_columns=cand_runner.raw_columns,
        classes=cand_runner.classes,
    )
    runs: list[VersionRun | None] = []
    for mv, runner in ((cand, cand_runner), (base, base_runner)):
        if mv is None:
            runs.append(None)
            continue
        stage(f"evaluating version {mv.version} on {len(data):,} rows")
        runs.append(
            run_version(
                runner,
                mv.version,
                data.features,
                declared_task=mv.signature.get("task"),
                batch_size=policy.batch_size,
                size_bytes=mv.size_bytes,
                on_progress=on_progress,
            )
        )
    cand_run, base_run = runs
    if cand_run is None:  # the loop above always runs the candidate
        raise UsageError(f"version {cand.version} of '{cand.model}' was not evaluated")
    stage("timing batches of both versions in turn")
    time_batches([r for r in runs if r is not None], data.features, batch_size=policy.batch_size)
    task = cand_run.task
    if base is not None and base_run is not None and base_run.task != task:
        raise UsageError(
            f"version {cand.version} is a {task} model and version {base.version} a "
            f"{base_run.task} model; they cannot be compared"
        )
    smoke = None
    if policy.smoke.enabled:
        stage(f"smoke test: {policy.smoke.requests} requests through the serving signature")
        n_classes = cand.signature.get("n_classes")
        probabilities = cand_run.predictions.probabilities  # a classifier's, never None
        if n_classes is None and task == "classification" and probabilities is not None:
            n_classes = probabilities.shape[1]
        smoke = smoke_test(
            cand_runner,
            data.features,
            task=task,
            n_classes=n_classes,
            requests=policy.smoke.requests,
            instances=policy.smoke.instances,
            max_latency_ms=policy.smoke.max_latency_ms,
            output_range=policy.smoke.output_range,
        )
    report = judge(policy, task=task, candidate=cand_run, baseline=base_run, data=data, smoke=smoke)
    return report, data


def _inputs(runner: Any) -> str:
    return ", ".join(f"{k}{list(v)}" for k, v in sorted(runner.input_spec.items()))


def _experiment_of(store: RegistryStore, version: ModelVersion) -> Experiment:
    """The experiment that produced a version: its data, test split and promotion policy."""
    if version.run_id is None:
        raise RegistryError(
            f"version {version.version} of '{version.model}' has no run, so there is no "
            "experiment (test split, promotion policy) to compare it with"
        )
    run = store.get_run(version.run_id)
    return parse_experiment(tomllib.loads(run.spec_text), origin=f"run {run.id}")
