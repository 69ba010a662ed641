"""registry → evaluation on the same test rows → verdict → endpoint → registry."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass

from mlkit.config import Settings
from mlkit.errors import MlkitError
from mlkit.experiment import Experiment, parse_experiment
from mlkit.promotion import Decision, decide, evaluate_saved_model
from mlkit.registry import ModelVersion, RegistryStore, open_store
from mlkit.workflows.dataset import load_experiment_data

LOCAL_ENDPOINT = "local"
Stage = Callable[[str], None]


@dataclass
class DeployOutcome:
    model: str
    candidate_version: int
    baseline_version: int | None
    deployed: bool
    already_deployed: bool = False
    forced: bool = False
    decision: Decision | None = None
    verdict_id: int | None = None
    candidate_metrics: dict[str, float] | None = None
    baseline_metrics: dict[str, float] | None = None
    rows: int = 0
    target: str = LOCAL_ENDPOINT
    traffic: int = 100


def deploy(
    model: str,
    settings: Settings,
    *,
    version: int | None = None,
    force: bool = False,
    on_stage: Stage | None = None,
    target: str = LOCAL_ENDPOINT,
    traffic: int = 100,
) -> DeployOutcome:
    """Deploy a version to ``target`` (the local endpoint, or ``vertex``) if it beats the one
    deployed there (or ``force``); ``traffic`` below 100 deploys it as a canary."""
    stage = on_stage or (lambda _msg: None)
    store = open_store(settings.registry_url, settings.artifacts_dir)
    endpoint_target = None
    if target != LOCAL_ENDPOINT or traffic != 100:
        from mlkit.serving.targets import make_target  # checks the target's settings up front

        endpoint_target = make_target(target, store)
    candidate = store.get_version(model, version)
    current = store.active_deployment(model, target)
    if current is not None and current.version == candidate.version:
        return DeployOutcome(
            model, candidate.version, current.version, deployed=False, already_deployed=True
        )

    experiment = _experiment_of(store, candidate)
    stage(f"reading the test split of {experiment.data.source}")
    data = load_experiment_data(experiment.data, settings)
    task = experiment.search.task
    stage(f"evaluating version {candidate.version} on {len(data.test.labels)} test rows")
    candidate_metrics = evaluate_saved_model(
        store.artifact_path(candidate), data.test.features, data.test.labels, task
    )
    baseline_metrics = None
    if current is not None:
        baseline = store.get_version(model, current.version)
        stage(f"evaluating deployed version {baseline.version} on the same rows")
        baseline_metrics = evaluate_saved_model(
            store.artifact_path(baseline), data.test.features, data.test.labels, task
        )
    policy = experiment.promotion
    decision = decide(
        policy.metric,
        candidate_metrics,
        baseline_metrics,
        min_improvement=policy.min_improvement,
        baseline_version=current.version if current else None,
    )
    forced = force and not decision.passed
    verdict = store.record_verdict(
        model,
        candidate.version,
        current.version if current else None,
        metric=decision.metric,
        candidate_value=decision.candidate_value,
        baseline_value=decision.baseline_value,
        passed=decision.passed,
        reason=decision.reason,
        forced=forced,
        details={
            "candidate": candidate_metrics,
            "baseline": baseline_metrics,
            "rows": len(data.test.labels),
            "data_fingerprint": data.fingerprint,
            "min_improvement": policy.min_improvement,
        },
    )
    outcome = DeployOutcome(
        model,
        candidate.version,
        current.version if current else None,
        deployed=False,
        forced=forced,
        decision=decision,
        verdict_id=verdict.id,
        candidate_metrics=candidate_metrics,
        baseline_metrics=baseline_metrics,
        rows=len(data.test.labels),
        target=target,
        traffic=traffic,
    )
    if (decision.passed or force) and endpoint_target is not None:
        stage(f"deploying version {candidate.version} to {target} with {traffic}% of the traffic")
        endpoint_target.deploy(model, candidate.version, traffic, verdict_id=verdict.id)
        outcome.deployed = True
    elif decision.passed or force:
        store.deploy(model, candidate.version, endpoint=LOCAL_ENDPOINT, verdict_id=verdict.id)
        outcome.deployed = True
    return outcome


def _experiment_of(store: RegistryStore, version: ModelVersion) -> Experiment:
    """The experiment that produced a version: its test split is the evaluation data."""
    if version.run_id is None:
        raise MlkitError(
            f"version {version.version} of '{version.model}' has no run, so there is no test "
            "split to compare it on"
        )
    run = store.get_run(version.run_id)
    return parse_experiment(tomllib.loads(run.spec_text), origin=f"run {run.id}")
