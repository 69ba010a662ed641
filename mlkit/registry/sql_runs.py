"""Runs: one execution of an experiment, from start to finished or failed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlkit.errors import RegistryError
from mlkit.registry import convert
from mlkit.registry.entities import Run
from mlkit.registry.schema import (
    ExperimentRow,
    RunRow,
    utcnow,
)
from mlkit.registry.sql_base import SqlBase
from mlkit.registry.validation import (
    validate_json,
    validate_limit,
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
    ) -> Run:
        if not isinstance(experiment, str) or not experiment.strip():
            raise RegistryError(
                f"invalid experiment name {experiment!r}: expected a non-empty name"
            )
        params_json = validate_json("params", params)

        def fn(s: Session) -> Run:
            exp = s.scalars(
                select(ExperimentRow).where(ExperimentRow.name == experiment)
            ).one_or_none()
            if exp is None:
                exp = ExperimentRow(name=experiment, created_at=utcnow())
                s.add(exp)
                s.flush()
            row = RunRow(
                experiment_id=exp.id,
                experiment_path=experiment_path,
                spec_text=spec_text,
                params=params_json,
                status="running",
                code_version=code_version,
                run_dir=run_dir,
                started_at=utcnow(),
            )
            s.add(row)
            s.flush()
            self._event(s, "run_started", run_id=row.id, experiment=experiment)
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

    def get_run(self, run_id: int) -> Run:
        with self._read(f"read run {run_id}") as s:
            row = self._run(s, run_id)
            return convert.run(row, s.get_one(ExperimentRow, row.experiment_id).name)

    def list_runs(self, experiment: str | None = None, limit: int = 50) -> list[Run]:
        query = (
            select(RunRow, ExperimentRow.name)
            .join(ExperimentRow, RunRow.experiment_id == ExperimentRow.id)
            .order_by(RunRow.id.desc())
            .limit(validate_limit(limit))
        )
        if experiment is not None:
            query = query.where(ExperimentRow.name == experiment)
        with self._read("list runs") as s:
            return [convert.run(row, name) for row, name in s.execute(query).all()]
