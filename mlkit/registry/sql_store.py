"""``SqlRegistryStore``: the registry on any SQLAlchemy database (SQLite by default).

Each write runs in one transaction that starts with the write lock on SQLite (``BEGIN
IMMEDIATE``) and locks the model row (``SELECT ... FOR UPDATE``) on databases that have row locks,
so version numbers stay gapless with concurrent writers. A unique-constraint race (two processes
creating the same model or experiment) is retried; anything else from the database becomes a
one-line RegistryError.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from mlkit.errors import RegistryError
from mlkit.registry import convert
from mlkit.registry.artifacts import ArtifactStore
from mlkit.registry.db import one_line, writer
from mlkit.registry.entities import (
    Deployment,
    Event,
    ModelSummary,
    ModelVersion,
    Run,
    Verdict,
)
from mlkit.registry.schema import (
    AliasRow,
    DeploymentRow,
    EventRow,
    ExperimentRow,
    ModelRow,
    ModelVersionRow,
    RunRow,
    VerdictRow,
    utcnow,
)
from mlkit.registry.store import RegistryStore
from mlkit.registry.validation import (
    model_not_found,
    validate_json,
    validate_limit,
    validate_name,
    validate_number,
    validate_version,
    version_not_found,
)

T = TypeVar("T")
_ATTEMPTS = 5
CHAMPION, PREVIOUS = "champion", "previous"


def _db_error(action: str, exc: SQLAlchemyError) -> RegistryError:
    if isinstance(exc, OperationalError) and "locked" in one_line(exc).lower():
        return RegistryError(
            f"cannot {action}: the registry database is locked",
            hint="another mlkit process held it for over 30 s; try again",
        )
    return RegistryError(f"cannot {action}: {one_line(exc)}")


def _is_unique_violation(exc: BaseException) -> bool:
    if not isinstance(exc, IntegrityError):
        return False
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code == "23505" or "UNIQUE" in one_line(exc).upper()


class SqlRegistryStore(RegistryStore):
    def __init__(self, engine: Engine, artifacts: ArtifactStore) -> None:
        self.engine = engine
        self.artifacts = artifacts
        self._writer = writer(engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- transactions -----------------------------------------------------------------------------

    def _write(
        self, action: str, fn: Callable[[Session], T], on_fail: Callable[[], None] | None = None
    ) -> T:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with Session(self._writer, expire_on_commit=False) as session:
                    with session.begin():
                        result = fn(session)
                    return result
            except BaseException as exc:
                if on_fail is not None:
                    on_fail()
                if _is_unique_violation(exc) and attempt < _ATTEMPTS:
                    continue  # lost a race on a unique constraint: read again and retry
                if isinstance(exc, SQLAlchemyError):
                    raise _db_error(action, exc) from exc
                raise
        raise AssertionError("unreachable")

    @contextmanager
    def _read(self, action: str) -> Iterator[Session]:
        try:
            with Session(self.engine) as session:
                yield session
        except SQLAlchemyError as exc:
            raise _db_error(action, exc) from exc

    # -- lookups (inside a session) ---------------------------------------------------------------

    def _model(self, s: Session, name: str, *, lock: bool = False) -> ModelRow:
        query = select(ModelRow).where(ModelRow.name == name)
        row = s.scalars(query.with_for_update() if lock else query).one_or_none()
        if row is None:
            known = s.scalars(select(ModelRow.name).order_by(ModelRow.name)).all()
            raise model_not_found(name, known)
        return row

    def _version(self, s: Session, model: ModelRow, version: int | None) -> ModelVersionRow:
        query = select(ModelVersionRow).where(ModelVersionRow.model_id == model.id)
        if version is None:
            query = query.order_by(ModelVersionRow.version.desc()).limit(1)
        else:
            query = query.where(ModelVersionRow.version == validate_version(version))
        row = s.scalars(query).first()
        if row is None:
            numbers = s.scalars(
                select(ModelVersionRow.version)
                .where(ModelVersionRow.model_id == model.id)
                .order_by(ModelVersionRow.version)
            ).all()
            raise version_not_found(model.name, version, numbers)
        return row

    def _run(self, s: Session, run_id: int) -> RunRow:
        row = s.get(RunRow, run_id) if isinstance(run_id, int) else None
        if row is None:
            raise RegistryError(f"run {run_id} not found")
        return row

    def _aliases(self, s: Session, model_id: int) -> dict[str, int]:
        rows = s.execute(
            select(AliasRow.alias, AliasRow.version)
            .where(AliasRow.model_id == model_id)
            .order_by(AliasRow.alias)
        ).all()
        return {alias: version for alias, version in rows}

    def _mv(self, s: Session, row: ModelVersionRow, model: ModelRow) -> ModelVersion:
        names = [a for a, v in self._aliases(s, model.id).items() if v == row.version]
        return convert.model_version(row, model.name, names)

    def _put_alias(self, s: Session, model: ModelRow, alias: str, version: int) -> None:
        row = s.scalars(
            select(AliasRow).where(AliasRow.model_id == model.id, AliasRow.alias == alias)
        ).one_or_none()
        if row is None:
            s.add(AliasRow(model_id=model.id, alias=alias, version=version, updated_at=utcnow()))
        else:
            row.version, row.updated_at = version, utcnow()

    @staticmethod
    def _event(
        s: Session,
        kind: str,
        model: str | None = None,
        version: int | None = None,
        run_id: int | None = None,
        **payload: Any,
    ) -> None:
        s.add(
            EventRow(
                at=utcnow(), kind=kind, model=model, version=version, run_id=run_id, payload=payload
            )
        )

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

    # -- models and versions ----------------------------------------------------------------------

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
        validate_name("model", model)
        metrics_json = validate_json("metrics", metrics)
        signature_json = validate_json("signature", signature)
        if not Path(source_dir).is_dir():
            raise RegistryError(
                f"cannot register {source_dir}: not a directory",
                hint="pass the exported SavedModel directory",
            )
        written: list[str] = []

        def undo() -> None:
            while written:
                self.artifacts.delete(written.pop())

        def fn(s: Session) -> ModelVersion:
            now = utcnow()
            if run_id is not None:
                self._run(s, run_id)
            row = s.scalars(
                select(ModelRow).where(ModelRow.name == model).with_for_update()
            ).one_or_none()
            if row is None:
                row = ModelRow(name=model, description="", created_at=now, updated_at=now)
                s.add(row)
                s.flush()
                self._event(s, "model_created", model=model)
            latest = s.scalar(
                select(func.max(ModelVersionRow.version)).where(ModelVersionRow.model_id == row.id)
            )
            number = (latest or 0) + 1
            stored = self.artifacts.put_dir(Path(source_dir), model, number)
            written.append(stored.uri)
            mv = ModelVersionRow(
                model_id=row.id,
                version=number,
                run_id=run_id,
                artifact_uri=stored.uri,
                artifact_sha256=stored.sha256,
                size_bytes=stored.size_bytes,
                metrics=metrics_json,
                signature=signature_json,
                description=description,
                tags={},
                created_at=now,
            )
            s.add(mv)
            row.updated_at = now
            self._event(
                s,
                "version_registered",
                model=model,
                version=number,
                run_id=run_id,
                sha256=stored.sha256,
                size_bytes=stored.size_bytes,
            )
            s.flush()
            return convert.model_version(mv, model)

        result = self._write(f"register a version of model {model!r}", fn, on_fail=undo)
        return result

    def list_models(self) -> list[ModelSummary]:
        with self._read("list models") as s:
            stats = {
                model_id: (count, latest)
                for model_id, count, latest in s.execute(
                    select(
                        ModelVersionRow.model_id,
                        func.count(ModelVersionRow.id),
                        func.max(ModelVersionRow.version),
                    ).group_by(ModelVersionRow.model_id)
                ).all()
            }
            aliases: dict[int, dict[str, int]] = {}
            for model_id, alias, version in s.execute(
                select(AliasRow.model_id, AliasRow.alias, AliasRow.version).order_by(AliasRow.alias)
            ).all():
                aliases.setdefault(model_id, {})[alias] = version
            return [
                ModelSummary(
                    name=m.name,
                    description=m.description,
                    version_count=stats.get(m.id, (0, None))[0],
                    latest_version=stats.get(m.id, (0, None))[1],
                    aliases=aliases.get(m.id, {}),
                    created_at=m.created_at,
                    updated_at=m.updated_at,
                )
                for m in s.scalars(select(ModelRow).order_by(ModelRow.name)).all()
            ]

    def list_versions(self, model: str) -> list[ModelVersion]:
        with self._read(f"list versions of model {model!r}") as s:
            m = self._model(s, model)
            by_version: dict[int, list[str]] = {}
            for alias, version in self._aliases(s, m.id).items():
                by_version.setdefault(version, []).append(alias)
            rows = s.scalars(
                select(ModelVersionRow)
                .where(ModelVersionRow.model_id == m.id)
                .order_by(ModelVersionRow.version)
            ).all()
            return [convert.model_version(r, m.name, by_version.get(r.version, ())) for r in rows]

    def get_version(self, model: str, version: int | None = None) -> ModelVersion:
        with self._read(f"read model {model!r}") as s:
            m = self._model(s, model)
            return self._mv(s, self._version(s, m, version), m)

    def artifact_path(self, mv: ModelVersion, verify: bool = True) -> Path:
        if not verify:
            return self.artifacts.local_path(mv.artifact_uri)
        try:
            return self.artifacts.verify(mv.artifact_uri, mv.artifact_sha256)
        except RegistryError as exc:
            raise type(exc)(
                f"model {mv.model!r} version {mv.version}: {exc.message}", exc.hint
            ) from exc

    # -- aliases ----------------------------------------------------------------------------------

    def set_alias(self, model: str, alias: str, version: int) -> None:
        validate_name("alias", alias)

        def fn(s: Session) -> None:
            m = self._model(s, model, lock=True)
            self._version(s, m, validate_version(version))
            self._put_alias(s, m, alias, version)
            m.updated_at = utcnow()
            self._event(s, "alias_set", model=model, version=version, alias=alias)

        self._write(f"set alias {alias!r} of model {model!r}", fn)

    def get_alias(self, model: str, alias: str) -> int | None:
        with self._read(f"read alias {alias!r} of model {model!r}") as s:
            return self._aliases(s, self._model(s, model).id).get(alias)

    # -- verdicts ---------------------------------------------------------------------------------

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
        candidate = validate_number("candidate_value", candidate_value)
        baseline = (
            None if baseline_value is None else validate_number("baseline_value", baseline_value)
        )
        details_json = validate_json("details", details)

        def fn(s: Session) -> Verdict:
            m = self._model(s, model)
            self._version(s, m, validate_version(candidate_version))
            if baseline_version is not None:
                self._version(s, m, validate_version(baseline_version))
            row = VerdictRow(
                model_id=m.id,
                candidate_version=candidate_version,
                baseline_version=baseline_version,
                metric=metric,
                candidate_value=candidate,
                baseline_value=baseline,
                passed=bool(passed),
                forced=bool(forced),
                reason=reason,
                details=details_json,
                created_at=utcnow(),
            )
            s.add(row)
            s.flush()
            self._event(
                s,
                "verdict_recorded",
                model=model,
                version=candidate_version,
                verdict_id=row.id,
                baseline_version=baseline_version,
                metric=metric,
                passed=bool(passed),
                forced=bool(forced),
            )
            return convert.verdict(row, model)

        return self._write(f"record a verdict for model {model!r}", fn)

    def latest_verdict(self, model: str, version: int) -> Verdict | None:
        with self._read(f"read verdicts of model {model!r}") as s:
            m = self._model(s, model)
            row = s.scalars(
                select(VerdictRow)
                .where(VerdictRow.model_id == m.id, VerdictRow.candidate_version == version)
                .order_by(VerdictRow.id.desc())
                .limit(1)
            ).first()
            return None if row is None else convert.verdict(row, m.name)

    def list_verdicts(self, model: str) -> list[Verdict]:
        with self._read(f"list verdicts of model {model!r}") as s:
            m = self._model(s, model)
            rows = s.scalars(
                select(VerdictRow).where(VerdictRow.model_id == m.id).order_by(VerdictRow.id)
            ).all()
            return [convert.verdict(r, m.name) for r in rows]

    # -- deployments ------------------------------------------------------------------------------

    def deploy(
        self, model: str, version: int, *, endpoint: str = "local", verdict_id: int | None = None
    ) -> Deployment:
        if not isinstance(endpoint, str) or not endpoint.strip():
            raise RegistryError(f"invalid endpoint {endpoint!r}: expected a non-empty name")

        def fn(s: Session) -> Deployment:
            m = self._model(s, model, lock=True)
            self._version(s, m, validate_version(version))
            if verdict_id is not None:
                verdict = s.get(VerdictRow, verdict_id)
                if verdict is None or verdict.model_id != m.id:
                    raise RegistryError(f"verdict {verdict_id} of model {model!r} not found")
            now = utcnow()
            old = s.scalars(
                select(DeploymentRow).where(
                    DeploymentRow.model_id == m.id,
                    DeploymentRow.endpoint == endpoint,
                    DeploymentRow.active.is_(True),
                )
            ).one_or_none()
            if old is not None:
                old.active, old.retired_at = False, now
                s.flush()  # before the insert: one active deployment per (model, endpoint)
            row = DeploymentRow(
                model_id=m.id,
                version=version,
                endpoint=endpoint,
                verdict_id=verdict_id,
                active=True,
                deployed_at=now,
            )
            s.add(row)
            champion = self._aliases(s, m.id).get(CHAMPION)
            if champion is not None and champion != version:
                self._put_alias(s, m, PREVIOUS, champion)
            self._put_alias(s, m, CHAMPION, version)
            m.updated_at = now
            s.flush()
            self._event(
                s,
                "deployed",
                model=model,
                version=version,
                endpoint=endpoint,
                deployment_id=row.id,
                verdict_id=verdict_id,
                replaced_version=None if old is None else old.version,
                previous_champion=champion,
            )
            return convert.deployment(row, model)

        return self._write(f"deploy model {model!r} version {version}", fn)

    def active_deployment(self, model: str, endpoint: str = "local") -> Deployment | None:
        with self._read(f"read deployments of model {model!r}") as s:
            row = s.scalars(
                select(DeploymentRow)
                .join(ModelRow, DeploymentRow.model_id == ModelRow.id)
                .where(
                    ModelRow.name == model,
                    DeploymentRow.endpoint == endpoint,
                    DeploymentRow.active.is_(True),
                )
            ).one_or_none()
            return None if row is None else convert.deployment(row, model)

    def list_deployments(
        self, endpoint: str | None = None, active_only: bool = True
    ) -> list[Deployment]:
        query = (
            select(DeploymentRow, ModelRow.name)
            .join(ModelRow, DeploymentRow.model_id == ModelRow.id)
            .order_by(DeploymentRow.id.desc())
        )
        if endpoint is not None:
            query = query.where(DeploymentRow.endpoint == endpoint)
        if active_only:
            query = query.where(DeploymentRow.active.is_(True))
        with self._read("list deployments") as s:
            return [convert.deployment(row, name) for row, name in s.execute(query).all()]

    # -- events -----------------------------------------------------------------------------------

    def list_events(self, model: str | None = None, limit: int = 100) -> list[Event]:
        query = select(EventRow).order_by(EventRow.id.desc()).limit(validate_limit(limit))
        if model is not None:
            query = query.where(EventRow.model == model)
        with self._read("list events") as s:
            return [convert.event(row) for row in s.scalars(query).all()]
