"""Runs' search reports and reference models, and reopening a stopped or killed run to resume it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from mlkit.errors import RegistryError
from mlkit.registry import convert, liveness
from mlkit.registry.entities import Run
from mlkit.registry.schema import ExperimentRow, utcnow
from mlkit.registry.sql_base import SqlBase
from mlkit.registry.validation import validate_json, validate_process


class RunReportsMixin(SqlBase):
    def record_run_report(
        self,
        run_id: int,
        *,
        report: dict[str, Any] | None = None,
        reference_models: dict[str, Any] | None = None,
    ) -> Run:
        report_json = validate_json("report", report)
        reference_json = validate_json("reference_models", reference_models)

        def fn(s: Session) -> Run:
            row = self._run(s, run_id)
            if report is not None:
                row.report = report_json
            if reference_models is not None:
                row.reference_models = reference_json
            s.flush()
            return convert.run(row, s.get_one(ExperimentRow, row.experiment_id).name)

        return self._write(f"record the report of run {run_id}", fn)

    def reopen_run(
        self, run_id: int, *, pid: int | None = None, hostname: str | None = None
    ) -> Run:
        validate_process(pid, hostname)

        def fn(s: Session) -> Run:
            row = self._run(s, run_id)
            if row.status == "finished":
                raise RegistryError(
                    f"run {run_id} has finished; there is nothing to resume",
                    hint="start a new run with `mlkit train EXPERIMENT`",
                )
            dead = liveness.death(row.status, row.pid, row.hostname, row.heartbeat_at)
            previous = "failed" if dead else row.status
            row.status, row.error, row.finished_at = "running", None, None
            row.pid, row.hostname = pid, hostname
            row.heartbeat_at = utcnow() if pid is not None else None
            self._event(
                s,
                "run_resumed",
                run_id=run_id,
                previous_status=previous,
                pid=pid,
                hostname=hostname,
            )
            s.flush()
            return convert.run(row, s.get_one(ExperimentRow, row.experiment_id).name)

        return self._write(f"reopen run {run_id}", fn)
