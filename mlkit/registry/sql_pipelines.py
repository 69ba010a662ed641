"""Pipeline runs and their steps (schema 0009): what ``mlkit pipeline`` records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlkit.errors import RegistryError
from mlkit.registry import convert, liveness
from mlkit.registry.entities import PIPELINE_STATUSES, STEP_STATUSES, PipelineRun, PipelineStep
from mlkit.registry.schema import PipelineRunRow, PipelineStepRow, utcnow
from mlkit.registry.sql_base import SqlBase
from mlkit.registry.validation import validate_json, validate_name, validate_process

_ENDED = tuple(s for s in PIPELINE_STATUSES if s != "running")
_STEP_ENDED = tuple(s for s in STEP_STATUSES if s != "running")


class PipelinesMixin(SqlBase):
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
        validate_name("pipeline", pipeline)
        validate_process(pid, hostname)

        def fn(s: Session) -> PipelineRun:
            now = utcnow()
            row = PipelineRunRow(
                pipeline=pipeline, path=path, spec_text=spec_text, spec_sha256=spec_sha256,
                backend=backend, trigger=trigger, status="running", pid=pid, hostname=hostname,
                heartbeat_at=now if pid is not None else None, started_at=now,
            )  # fmt: skip
            s.add(row)
            s.flush()
            self._event(s, "pipeline_started", pipeline_run=row.id, pipeline=pipeline,
                        backend=backend, trigger=trigger)  # fmt: skip
            return convert.pipeline_run(row)

        return self._write(f"start a run of pipeline {pipeline}", fn)

    def pipeline_heartbeat(self, pipeline_run_id: int) -> None:
        def fn(s: Session) -> None:
            row = self._pipeline_run(s, pipeline_run_id)
            if row.status == "running":
                row.heartbeat_at = utcnow()

        self._write(f"record a heartbeat of pipeline run {pipeline_run_id}", fn)

    def reopen_pipeline_run(
        self, pipeline_run_id: int, *, pid: int | None = None, hostname: str | None = None
    ) -> PipelineRun:
        validate_process(pid, hostname)

        def fn(s: Session) -> PipelineRun:
            row = self._pipeline_run(s, pipeline_run_id)
            if row.status == "finished":
                raise RegistryError(
                    f"pipeline run {pipeline_run_id} has finished; there is nothing to resume",
                    hint="run the pipeline again: mlkit pipeline run FILE",
                )
            dead = liveness.death(row.status, row.pid, row.hostname, row.heartbeat_at)
            if row.status == "running" and not dead:
                raise RegistryError(
                    f"pipeline run {pipeline_run_id} is still running "
                    f"(process {row.pid} on {row.hostname})",
                    hint="wait for it, or stop that process first",
                )
            previous = "failed" if dead else row.status
            row.status, row.message, row.finished_at = "running", None, None
            row.pid, row.hostname = pid, hostname
            row.heartbeat_at = utcnow() if pid is not None else None
            self._event(s, "pipeline_resumed", pipeline_run=row.id, previous_status=previous)
            s.flush()
            return convert.pipeline_run(row, self._steps(s, row.id))

        return self._write(f"reopen pipeline run {pipeline_run_id}", fn)

    def start_pipeline_step(
        self,
        pipeline_run_id: int,
        name: str,
        *,
        position: int,
        inputs: dict[str, Any],
        cache_key: str | None,
    ) -> PipelineStep:
        inputs_json = validate_json("inputs", inputs)

        def fn(s: Session) -> PipelineStep:
            run = self._running(s, pipeline_run_id)
            row = self._step(s, pipeline_run_id, name)
            if row is None:
                row = PipelineStepRow(pipeline_run_id=pipeline_run_id, name=name)
                s.add(row)
            row.position, row.status, row.cache_key = position, "running", cache_key
            row.inputs, row.outputs, row.reason, row.cached_from = inputs_json, None, None, None
            row.started_at, row.finished_at = utcnow(), None
            run.heartbeat_at = utcnow() if run.pid is not None else None
            s.flush()
            return convert.pipeline_step(row)

        return self._write(f"start step {name} of pipeline run {pipeline_run_id}", fn)

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
        if status not in _STEP_ENDED:
            raise RegistryError(
                f"invalid step status {status!r}: expected one of {', '.join(_STEP_ENDED)}"
            )
        outputs_json = validate_json("outputs", outputs)

        def fn(s: Session) -> PipelineStep:
            self._running(s, pipeline_run_id)
            row = self._step(s, pipeline_run_id, name)
            if row is None:  # skipped or cached without starting
                row = PipelineStepRow(
                    pipeline_run_id=pipeline_run_id, name=name, position=0, inputs=None,
                    cache_key=None, started_at=utcnow(),
                )  # fmt: skip
                s.add(row)
            row.status, row.outputs, row.reason = status, outputs_json, reason
            row.cached_from, row.finished_at = cached_from, utcnow()
            self._event(s, "pipeline_step", pipeline_run=pipeline_run_id, step=name,
                        status=status, reason=reason)  # fmt: skip
            s.flush()
            return convert.pipeline_step(row)

        return self._write(f"finish step {name} of pipeline run {pipeline_run_id}", fn)

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
        resources_json = validate_json("resources", resources)
        links = {
            "run_id": run_id, "model": model, "version": version, "verdict_id": verdict_id,
            "deployment_id": deployment_id,
        }  # fmt: skip

        def fn(s: Session) -> PipelineRun:
            row = self._pipeline_run(s, pipeline_run_id)
            for key, value in links.items():
                if value is not None:
                    setattr(row, key, value)
            if resources is not None:
                row.resources = {**(row.resources or {}), **(resources_json or {})}
            s.flush()
            return convert.pipeline_run(row, self._steps(s, row.id))

        return self._write(f"link pipeline run {pipeline_run_id}", fn)

    def finish_pipeline_run(
        self, pipeline_run_id: int, *, status: str, message: str | None = None
    ) -> PipelineRun:
        if status not in _ENDED:
            raise RegistryError(
                f"invalid pipeline status {status!r}: expected one of {', '.join(_ENDED)}"
            )

        def fn(s: Session) -> PipelineRun:
            row = self._running(s, pipeline_run_id)
            row.status, row.message, row.finished_at = status, message, utcnow()
            self._event(s, "pipeline_finished", pipeline_run=row.id, pipeline=row.pipeline,
                        status=status, message=message)  # fmt: skip
            s.flush()
            return convert.pipeline_run(row, self._steps(s, row.id))

        return self._write(f"finish pipeline run {pipeline_run_id}", fn)

    def get_pipeline_run(self, pipeline_run_id: int) -> PipelineRun:
        with self._read(f"read pipeline run {pipeline_run_id}") as s:
            row = self._pipeline_run(s, pipeline_run_id)
            return convert.pipeline_run(row, self._steps(s, row.id))

    def list_pipeline_runs(self, pipeline: str | None = None, limit: int = 50) -> list[PipelineRun]:
        with self._read("list pipeline runs") as s:
            query = select(PipelineRunRow).order_by(PipelineRunRow.id.desc()).limit(limit)
            if pipeline is not None:
                query = query.where(PipelineRunRow.pipeline == pipeline)
            rows = s.scalars(query).all()
            steps: dict[int, list[PipelineStepRow]] = {row.id: [] for row in rows}
            if rows:
                for step in s.scalars(
                    select(PipelineStepRow).where(PipelineStepRow.pipeline_run_id.in_(steps))
                ):
                    steps[step.pipeline_run_id].append(step)
            return [convert.pipeline_run(row, steps[row.id]) for row in rows]

    def cached_pipeline_step(self, name: str, cache_key: str) -> PipelineStep | None:
        with self._read("look up the pipeline cache") as s:
            row = s.scalars(
                select(PipelineStepRow)
                .where(
                    PipelineStepRow.name == name,
                    PipelineStepRow.cache_key == cache_key,
                    PipelineStepRow.status == "succeeded",
                )
                .order_by(PipelineStepRow.id.desc())
                .limit(1)
            ).first()
            return None if row is None else convert.pipeline_step(row)

    # -- lookups ----------------------------------------------------------------------------------

    def _pipeline_run(self, s: Session, pipeline_run_id: int) -> PipelineRunRow:
        row = s.get(PipelineRunRow, pipeline_run_id) if pipeline_run_id >= 1 else None
        if row is None:
            raise RegistryError(
                f"pipeline run {pipeline_run_id} not found",
                hint="mlkit pipeline runs lists them",
            )
        return row

    def _running(self, s: Session, pipeline_run_id: int) -> PipelineRunRow:
        row = self._pipeline_run(s, pipeline_run_id)
        if row.status != "running":
            raise RegistryError(f"pipeline run {pipeline_run_id} is {row.status}, not running")
        return row

    @staticmethod
    def _step(s: Session, pipeline_run_id: int, name: str) -> PipelineStepRow | None:
        return s.scalars(
            select(PipelineStepRow).where(
                PipelineStepRow.pipeline_run_id == pipeline_run_id, PipelineStepRow.name == name
            )
        ).one_or_none()

    @staticmethod
    def _steps(s: Session, pipeline_run_id: int) -> list[PipelineStepRow]:
        return list(
            s.scalars(
                select(PipelineStepRow).where(PipelineStepRow.pipeline_run_id == pipeline_run_id)
            )
        )
