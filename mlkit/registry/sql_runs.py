"""Runs: one execution of an experiment, from start to finished or failed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mlkit.errors import RegistryError
from mlkit.quantities import canonical_metrics
from mlkit.registry import convert
from mlkit.registry import query as q
from mlkit.registry.entities import MetricPoint, Run
from mlkit.registry.schema import (
    ExperimentRow,
    RunMetricRow,
    RunRow,
    utcnow,
)
from mlkit.registry.sql_base import SqlBase
from mlkit.registry.validation import (
    MAX_INT,
    validate_json,
    validate_limit,
    validate_metric_key,
    validate_number,
    validate_process,
    validate_run_id,
    validate_tags,
)


class RunsMixin(SqlBase):
    # -- runs -------------------------------------------------------------------------------------

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
        if not isinstance(experiment, str) or not experiment.strip():
            raise RegistryError(
                f"invalid experiment name {experiment!r}: expected a non-empty name"
            )
        params_json = validate_json("params", params)
        environment_json = validate_json("environment", environment)
        tags_json = validate_tags(tags)
        validate_process(pid, hostname)

        def fn(s: Session) -> Run:
            exp = s.scalars(
                select(ExperimentRow).where(ExperimentRow.name == experiment)
            ).one_or_none()
            if exp is None:
                exp = ExperimentRow(name=experiment, created_at=utcnow())
                s.add(exp)
                s.flush()
            now = utcnow()
            row = RunRow(
                experiment_id=exp.id,
                experiment_path=experiment_path,
                spec_text=spec_text,
                params=params_json,
                status="running",
                code_version=code_version,
                run_dir=run_dir,
                started_at=now,
                environment=environment_json,
                tags=tags_json,
                pid=pid,
                hostname=hostname,
                heartbeat_at=now if pid is not None else None,
            )
            s.add(row)
            s.flush()
            self._event(
                s, "run_started", run_id=row.id, experiment=experiment, pid=pid, hostname=hostname
            )
            return convert.run(row, experiment)

        return self._write(f"start a run of experiment {experiment!r}", fn)

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        metrics: dict[str, Any] | None = None,
        data_fingerprint: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> Run:
        if status not in ("finished", "failed"):
            raise RegistryError(f"invalid run status {status!r}: expected 'finished' or 'failed'")
        metrics_json = validate_json("metrics", metrics)
        fingerprint_json = validate_json("data_fingerprint", data_fingerprint)

        def fn(s: Session) -> Run:
            row = self._run(s, run_id)
            if row.status != "running":
                raise RegistryError(f"run {run_id} is already {row.status}")
            row.status, row.error, row.finished_at = status, error, utcnow()
            if metrics is not None:
                row.metrics = metrics_json
            if data_fingerprint is not None:
                row.data_fingerprint = fingerprint_json
            self._event(s, "run_finished", run_id=run_id, status=status)
            s.flush()
            return convert.run(row, s.get_one(ExperimentRow, row.experiment_id).name)

        return self._write(f"finish run {run_id}", fn)

    def heartbeat(self, run_id: int) -> None:
        validate_run_id(run_id)

        def fn(s: Session) -> None:
            s.execute(
                update(RunRow)
                .where(RunRow.id == run_id, RunRow.status == "running")
                .values(heartbeat_at=utcnow())
            )

        self._write(f"record a heartbeat of run {run_id}", fn)

    def record_run_data_stats(self, run_id: int, stats: dict[str, Any]) -> None:
        stats_json = validate_json("data statistics", stats)

        def fn(s: Session) -> None:
            row = self._run(s, run_id)
            row.data_stats = stats_json
            self._event(
                s,
                "run_data_stats",
                run_id=run_id,
                rows=stats_json.get("rows"),
                features=sorted(stats_json.get("features") or {}),
            )

        self._write(f"record the data statistics of run {run_id}", fn)

    def run_data_stats(self, run_id: int) -> dict[str, Any] | None:
        with self._read(f"read the data statistics of run {run_id}") as s:
            stats = self._run(s, run_id).data_stats
            return None if stats is None else dict(stats)

    def get_run(self, run_id: int) -> Run:
        with self._read(f"read run {run_id}") as s:
            row = self._run(s, run_id)
            return convert.run(row, s.get_one(ExperimentRow, row.experiment_id).name)

    def log_metrics(self, run_id: int, metrics: dict[str, float], step: int) -> None:
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= MAX_INT:
            raise RegistryError(f"invalid step {step!r}: expected an integer from 0 to {MAX_INT}")
        values = {
            validate_metric_key(k): validate_number(f"metric {k!r}", v) for k, v in metrics.items()
        }

        def fn(s: Session) -> None:
            self._run(s, run_id)
            existing = {
                row.key: row
                for row in s.scalars(
                    select(RunMetricRow).where(
                        RunMetricRow.run_id == run_id,
                        RunMetricRow.step == step,
                        RunMetricRow.key.in_(list(values)),
                    )
                )
            }
            now = utcnow()
            for key, value in values.items():
                if key in existing:
                    existing[key].value, existing[key].at = value, now
                else:
                    s.add(RunMetricRow(run_id=run_id, key=key, step=step, value=value, at=now))

        self._write(f"log metrics of run {run_id}", fn)

    def metric_history(self, run_id: int) -> list[MetricPoint]:
        with self._read(f"read metrics of run {run_id}") as s:
            self._run(s, run_id)
            rows = s.scalars(
                select(RunMetricRow)
                .where(RunMetricRow.run_id == run_id)
                .order_by(RunMetricRow.key, RunMetricRow.step)
            ).all()
            # one name per quantity (mlkit.quantities): shown name → the stored name it reads
            stored = canonical_metrics({r.key: r.key for r in rows})
            return [
                MetricPoint(shown, r.step, r.value, r.at)
                for shown, key in stored.items()
                for r in rows
                if r.key == key
            ]

    def list_runs(
        self,
        experiment: str | None = None,
        limit: int = 50,
        *,
        where: str | None = None,
        sort: str | None = None,
    ) -> list[Run]:
        validate_limit(limit)
        filtered = where is not None or sort is not None
        if filtered:  # check the filter before reading anything
            q.filter_runs([], where=where, sort=sort)
        query = (
            select(RunRow, ExperimentRow.name)
            .join(ExperimentRow, RunRow.experiment_id == ExperimentRow.id)
            .order_by(RunRow.id.desc())
        )
        if not filtered:
            query = query.limit(min(limit, MAX_INT))
        if experiment is not None:
            query = query.where(ExperimentRow.name == experiment)
        with self._read("list runs") as s:
            runs = [convert.run(row, name) for row, name in s.execute(query).all()]
        return q.filter_runs(runs, where=where, sort=sort, limit=limit)
