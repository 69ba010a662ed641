"""Verdicts, deployments (which move the champion and previous aliases) and the event log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from mlkit.errors import RegistryError
from mlkit.registry import convert
from mlkit.registry.entities import Deployment, Event, Verdict
from mlkit.registry.schema import (
    AliasRow,
    DeploymentRow,
    EventRow,
    ModelRow,
    VerdictRow,
    utcnow,
)
from mlkit.registry.sql_base import CHAMPION, PREVIOUS, SqlBase
from mlkit.registry.sql_traffic import active_rows
from mlkit.registry.validation import (
    validate_json,
    validate_limit,
    validate_number,
    validate_version,
)


class PromotionMixin(SqlBase):
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
        forced_by: str | None = None,
        force_reason: str | None = None,
        data_fingerprint: dict[str, Any] | None = None,
    ) -> Verdict:
        if forced and not (_text(force_reason) and _text(forced_by)):
            raise RegistryError(
                "a forced verdict needs who forced it and why (forced_by and force_reason)"
            )
        fingerprint_json = validate_json("data_fingerprint", data_fingerprint)
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
                forced_by=forced_by if forced else None,
                force_reason=force_reason if forced else None,
                data_fingerprint=fingerprint_json,
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
                forced_by=row.forced_by,
                force_reason=row.force_reason,
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
        self,
        model: str,
        version: int,
        *,
        endpoint: str = "local",
        verdict_id: int | None = None,
        action: str = "promote",
        actor: str | None = None,
        reason: str | None = None,
    ) -> Deployment:
        if not isinstance(endpoint, str) or not endpoint.strip():
            raise RegistryError(f"invalid endpoint {endpoint!r}: expected a non-empty name")
        if action not in ("promote", "forced"):
            raise RegistryError(f"invalid deployment action {action!r}: expected promote or forced")
        if action == "forced" and not (_text(actor) and _text(reason)):
            raise RegistryError("a forced deployment needs who forced it and why (actor, reason)")

        def fn(s: Session) -> Deployment:
            m = self._model(s, model, lock=True)
            self._version(s, m, validate_version(version))
            if verdict_id is not None:
                verdict = s.get(VerdictRow, verdict_id)
                if verdict is None or verdict.model_id != m.id:
                    raise RegistryError(f"verdict {verdict_id} of model {model!r} not found")
            now = utcnow()
            old = self._retire_active(s, m.id, endpoint, now)
            champion = self._aliases(s, m.id).get(CHAMPION)
            replaced = champion if champion is not None and champion != version else None
            if replaced is None and champion == version and old is not None:
                replaced = old.previous_version  # redeploying the champion keeps its history
            row = DeploymentRow(
                model_id=m.id,
                version=version,
                endpoint=endpoint,
                verdict_id=verdict_id,
                active=True,
                deployed_at=now,
                action=action,
                previous_version=replaced,
                actor=actor,
                reason=reason,
                rollback_to_id=None if old is None else old.id,
            )
            s.add(row)
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
                action=action,
                actor=actor,
                reason=reason,
            )
            return convert.deployment(row, model)

        return self._write(f"deploy model {model!r} version {version}", fn)

    def rollback(
        self,
        model: str,
        *,
        endpoint: str = "local",
        actor: str | None = None,
        reason: str | None = None,
    ) -> Deployment:
        def fn(s: Session) -> Deployment:
            m = self._model(s, model, lock=True)
            actives = active_rows(s, m.id, endpoint)
            active = actives[0] if actives else None
            if active is None:
                raise RegistryError(
                    f"model {model!r} has nothing deployed on endpoint {endpoint!r} to roll back",
                    hint=f"deploy a version first: mlkit deploy {model}",
                )
            restore = (
                None
                if active.rollback_to_id is None
                else s.get(DeploymentRow, active.rollback_to_id)
            )
            if restore is None:
                raise RegistryError(
                    f"version {active.version} of model {model!r} on endpoint {endpoint!r} "
                    "replaced no earlier deployment; there is nothing to roll back to"
                )
            target, before = restore.version, restore.previous_version
            now = utcnow()
            self._retire_active(s, m.id, endpoint, now)
            row = DeploymentRow(
                model_id=m.id,
                version=target,
                endpoint=endpoint,
                verdict_id=None,
                active=True,
                deployed_at=now,
                action="rollback",
                previous_version=before,
                actor=actor,
                reason=reason,
                rollback_to_id=restore.rollback_to_id,
            )
            s.add(row)
            self._put_alias(s, m, CHAMPION, target)
            if before is None:
                s.execute(
                    delete(AliasRow).where(AliasRow.model_id == m.id, AliasRow.alias == PREVIOUS)
                )
            else:
                self._put_alias(s, m, PREVIOUS, before)
            m.updated_at = now
            s.flush()
            self._event(
                s,
                "rolled_back",
                model=model,
                version=target,
                endpoint=endpoint,
                deployment_id=row.id,
                rolled_back_version=active.version,
                actor=actor,
                reason=reason,
            )
            return convert.deployment(row, model)

        return self._write(f"roll back model {model!r} on endpoint {endpoint!r}", fn)

    @staticmethod
    def _retire_active(s: Session, model_id: int, endpoint: str, now) -> DeploymentRow | None:
        """Retire every active deployment (a canary too); return the one with the most traffic."""
        actives = active_rows(s, model_id, endpoint)
        for row in actives:
            row.active, row.retired_at = False, now
        if actives:
            s.flush()  # before the insert: one active deployment per (model, endpoint, version)
        return actives[0] if actives else None

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
                .order_by(
                    func.coalesce(DeploymentRow.traffic_percent, 100).desc(),
                    DeploymentRow.id.desc(),
                )
                .limit(1)  # with a canary: the version with the most traffic
            ).first()
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


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())
