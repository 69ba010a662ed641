"""What each pipeline step does, composed from the other workflows: ingest (``workflows.ingest``),
validate (``data.stats`` and ``workflows.data_reports``' drift), train (``workflows.train``),
compare and deploy (``workflows.promote``), notify (a command or a webhook).

A step takes the :class:`StepContext` (the pipeline, the store, the outputs of the steps before
it) and returns its outputs (a JSON object), raises :class:`Skip` when its condition does not
hold, or :class:`GateStop` when the drift gate stops the pipeline.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlkit.config import Settings
from mlkit.errors import DataError, MlkitError, SpecError
from mlkit.experiment import Experiment
from mlkit.registry import RegistryStore
from mlkit.workflows.pipeline.spec import LoadedPipeline

Stage = Callable[[str], None]


class Skip(Exception):
    """The step's condition does not hold: it is recorded as skipped with this reason."""


class DriftGateStopped(DataError):
    """The validate step's drift gate fired with ``on_drift = "stop"``."""


@dataclass
class StepContext:
    pipeline: LoadedPipeline
    experiment: Experiment
    settings: Settings
    store: RegistryStore
    pipeline_run_id: int
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # step -> its outputs
    stage: Stage = lambda _msg: None
    if_drift: bool = False

    @property
    def model(self) -> str:
        return self.experiment.experiment.name

    def output(self, step: str, key: str) -> Any:
        return self.outputs.get(step, {}).get(key)


# -- ingest -----------------------------------------------------------------------------------


def ingest(ctx: StepContext) -> dict[str, Any]:
    spec = ctx.pipeline.spec.ingest
    assert spec is not None
    table = spec.table or ctx.experiment.data.source
    if spec.table is None and not table.replace("_", "").isalnum():
        raise SpecError(
            f"{ctx.pipeline.path}: ingest.table: required when the experiment's source is not "
            f"a local table name (it is {table!r})"
        )
    if spec.source is not None:
        from mlkit.workflows.ingest import load_table

        ctx.stage(f"loading {spec.source} into table {table}")
        loaded = load_table(ctx.settings, spec.source, table)
        return {"table": loaded.summary.table, "rows": loaded.summary.rows, "from": spec.source}
    assert spec.query is not None
    import pyarrow as pa

    from mlkit.data.experiment_data import bigquery_config
    from mlkit.data.source import resolve_source, table_target

    data = ctx.experiment.data  # the query runs where the experiment's queries run
    source = resolve_source(
        spec.query, local_path=ctx.settings.warehouse_path, params=dict(spec.params),
        backend=data.backend, bigquery=bigquery_config(data),
    )  # fmt: skip
    ctx.stage(f"running the query into table {table}")
    with source.warehouse.materialize(source.relation) as relation:
        batches = list(source.warehouse.iter_batches(relation))
    if not batches or not sum(b.num_rows for b in batches):
        raise DataError(f"ingest.query returned no rows: {source.text}")
    rows_read = pa.Table.from_batches(batches)
    warehouse, name = table_target(table, local_path=ctx.settings.warehouse_path)
    rows = warehouse.write_table(name or table, rows_read, replace=True)
    return {"table": name or table, "rows": rows, "from": "query"}


# -- validate ---------------------------------------------------------------------------------


def data_fingerprint(ctx: StepContext) -> dict[str, Any]:
    """The experiment's source now: its statistics (computed in the warehouse) and their hash,
    which changes when rows are added, removed or changed in any counted way."""
    from mlkit.data.experiment_data import experiment_source
    from mlkit.data.stats import relation_stats

    data = ctx.experiment.data
    source = experiment_source(data, ctx.settings)
    ctx.stage(f"computing the statistics of {data.source}")
    stats = relation_stats(source.warehouse, source.relation, label=data.label, skip=[data.key])
    text = json.dumps(stats, sort_keys=True, default=str)
    return {"data_sha256": hashlib.sha256(text.encode()).hexdigest(), "stats": stats}


def validate(ctx: StepContext) -> dict[str, Any]:
    spec = ctx.pipeline.spec.validate_
    assert spec is not None
    seen = data_fingerprint(ctx)
    stats = seen["stats"]
    outputs: dict[str, Any] = {
        "data_sha256": seen["data_sha256"],
        "rows": stats.get("rows", stats.get("count")),
        "champion_run": None,
        "drifted": [],
        "drift_fired": False,
    }
    champion = ctx.store.get_alias(ctx.model, "champion") if _has_model(ctx) else None
    if champion is None:
        outputs["gate"] = "no champion yet: nothing to compare the data with"
        return outputs
    run_id = ctx.store.get_version(ctx.model, champion).run_id
    if run_id is None or not ctx.store.run_data_stats(run_id):
        outputs["gate"] = f"version {champion} has no training statistics to compare with"
        return outputs
    from mlkit.workflows.data_reports import drift_against_run

    ctx.stage(f"checking drift against run {run_id} (the champion's training run)")
    report = drift_against_run(ctx.settings, run_id)
    drifted = [d.feature for d in report.drifted]
    fired = len(drifted) > spec.max_drifted
    outputs.update(champion_run=run_id, drifted=drifted, drift_fired=fired)
    outputs["gate"] = (
        f"drift in {', '.join(drifted)} against run {run_id}"
        if fired
        else f"no drift against run {run_id}"
    )
    if fired and spec.on_drift == "stop" and not ctx.if_drift:
        ctx.outputs["validate"] = outputs  # recorded with the step that stopped the pipeline
        raise DriftGateStopped(
            f"the drift gate stopped pipeline {ctx.pipeline.spec.pipeline.name}: "
            f"{len(drifted)} drifted feature(s) ({', '.join(drifted[:5])}) against run {run_id}, "
            "the champion's training run",
            hint='look with `mlkit data drift --against RUN`; set on_drift = "warn" to go on',
        )
    return outputs


def _has_model(ctx: StepContext) -> bool:
    return any(m.name == ctx.model for m in ctx.store.list_models())


# -- train ------------------------------------------------------------------------------------


def train(ctx: StepContext, unfinished_run: int | None = None) -> dict[str, Any]:
    """Train the experiment (or resume ``unfinished_run``, a training run a killed pipeline left
    behind, from its last checkpoint)."""
    from mlkit.workflows.train import resume as resume_run
    from mlkit.workflows.train import train as train_run

    spec = ctx.pipeline.spec.train
    assert spec is not None
    outcome = None
    if unfinished_run is not None:
        ctx.stage(f"resuming training run {unfinished_run} from its last checkpoint")
        try:
            outcome = resume_run(
                unfinished_run, ctx.settings, on_stage=ctx.stage, iterations=spec.iterations,
                steps=spec.steps, max_steps=spec.max_steps, max_seconds=spec.max_seconds,
            )  # fmt: skip
        except MlkitError as exc:
            ctx.stage(f"cannot resume run {unfinished_run} ({exc.message}); training anew")
    if outcome is None:
        outcome = train_run(
            ctx.pipeline.experiment_path, ctx.settings, on_stage=ctx.stage,
            iterations=spec.iterations, steps=spec.steps, max_steps=spec.max_steps,
            max_seconds=spec.max_seconds,
        )  # fmt: skip
    version = outcome.version
    ctx.store.link_pipeline_run(
        ctx.pipeline_run_id, run_id=outcome.run.id, model=version.model, version=version.version
    )
    return {
        "run": outcome.run.id,
        "model": version.model,
        "version": version.version,
        "metrics": outcome.metrics,
        "resumed_run": unfinished_run if outcome.resumed else None,
    }


def unfinished_training_run(ctx: StepContext, since: Any) -> int | None:
    """The training run a killed train step started (the newest unfinished run of the
    experiment that began after the step did), or None."""
    for run in ctx.store.list_runs(ctx.model, limit=10):
        if run.started_at >= since and run.status != "finished":
            return run.id
    return None


# -- compare and deploy -----------------------------------------------------------------------


def _endpoint(ctx: StepContext) -> str:
    deploy = ctx.pipeline.spec.deploy
    return "local" if deploy is None else deploy.endpoint


def _serving(ctx: StepContext) -> int | None:
    from mlkit.serving.endpoints import open_endpoint

    current = open_endpoint(_endpoint(ctx), ctx.store).serving(ctx.model)
    return None if current is None else current.version


def compare(ctx: StepContext) -> dict[str, Any]:
    from mlkit.workflows.promote import compare as run_compare

    spec = ctx.pipeline.spec.compare
    assert spec is not None
    version = ctx.output("train", "version")
    if version is None:
        raise Skip("no new version to compare (train did not run)")
    if _serving(ctx) == version:
        raise Skip(f"version {version} already serves on {_endpoint(ctx)}")
    result = run_compare(
        ctx.model, ctx.settings, candidate=version, baseline="deployed", data_table=spec.data,
        endpoint=_endpoint(ctx), on_stage=ctx.stage,
    )  # fmt: skip
    ctx.store.link_pipeline_run(ctx.pipeline_run_id, verdict_id=result.verdict.id)
    return {
        "verdict": result.verdict.id,
        "model": ctx.model,
        "version": version,
        "baseline_version": result.baseline_version,
        "passed": result.passed,
        "reason": result.reason,
    }


def deploy(ctx: StepContext) -> dict[str, Any]:
    from mlkit.serving.endpoints import open_endpoint
    from mlkit.workflows.promote import current_user, promote_to_endpoint

    spec = ctx.pipeline.spec.deploy
    assert spec is not None
    version, verdict_id = ctx.output("compare", "version"), ctx.output("compare", "verdict")
    if version is None or verdict_id is None:
        raise Skip("no verdict to act on (compare did not run)")
    if not ctx.output("compare", "passed"):
        raise Skip(f"verdict {verdict_id} failed: {ctx.output('compare', 'reason')}")
    if _serving(ctx) == version:
        raise Skip(f"version {version} already serves on {spec.endpoint}")
    verdict = next(v for v in ctx.store.list_verdicts(ctx.model) if v.id == verdict_id)
    target = open_endpoint(spec.endpoint, ctx.store)
    share = "" if spec.traffic == 100 else f" with {spec.traffic}% of the traffic"
    ctx.stage(f"promoting version {version} on {target.title}{share}")
    deployment = promote_to_endpoint(
        target, ctx.model, version, verdict=verdict, action="promote", actor=current_user(),
        reason=f"pipeline {ctx.pipeline.spec.pipeline.name}, run {ctx.pipeline_run_id}",
        traffic=spec.traffic,
    )  # fmt: skip
    ctx.store.link_pipeline_run(ctx.pipeline_run_id, deployment_id=deployment.id)
    return {
        "deployment": deployment.id,
        "model": ctx.model,
        "version": version,
        "endpoint": spec.endpoint,
        "traffic": spec.traffic,
    }


# -- notify -----------------------------------------------------------------------------------


def notify(ctx: StepContext, status: str, message: str | None) -> dict[str, Any]:
    """Tell the command (environment variables) or the webhook (a JSON POST) how it ended."""
    spec = ctx.pipeline.spec.notify
    assert spec is not None
    if status not in spec.on:
        raise Skip(f"not asked for on {status} (on = {spec.on})")
    name = ctx.pipeline.spec.pipeline.name
    summary = {
        "pipeline": name,
        "pipeline_run": ctx.pipeline_run_id,
        "status": status,
        "message": message,
        "steps": {name: out for name, out in ctx.outputs.items()},
    }
    if spec.command is not None:
        env = {
            **os.environ,
            "MLKIT_PIPELINE": name,
            "MLKIT_PIPELINE_RUN": str(ctx.pipeline_run_id),
            "MLKIT_PIPELINE_STATUS": status,
            "MLKIT_PIPELINE_SUMMARY": json.dumps(summary, default=str),
        }
        done = subprocess.run(  # noqa: S602 - the user's own command, from their pipeline file
            spec.command, shell=True, env=env, capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            raise MlkitError(
                f"notify command exited {done.returncode}: {done.stderr.strip()[:200]}"
            )
        return {"command": spec.command, "exit": 0}
    assert spec.webhook is not None
    import urllib.request

    request = urllib.request.Request(
        spec.webhook,
        data=json.dumps(summary, default=str).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - http(s) only
            code = answer.status
    except OSError as exc:
        raise MlkitError(f"notify webhook {spec.webhook} failed: {exc}") from None
    return {"webhook": spec.webhook, "status": code}
