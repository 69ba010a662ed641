"""Deployments: which versions of a model serve on an endpoint, with which share of its traffic.

Every change of an endpoint's traffic, whatever the endpoint kind and whatever the command
(deploy, canary, explicit split, rollback, undeploy), is written by one function, ``_move``, in
one transaction with its event:

- the new split replaces the active one: a version that keeps serving keeps its deployment row
  (only its share changes), a version left out is retired, a version newly put there gets a new
  row; the version a deploy or rollback is about (``subject``) always gets a new row carrying the
  verdict, the action, who (``actor``) and why (``reason``);
- ``resources`` keeps what the endpoint kind calls each deployment (for Vertex AI its resource
  names) in one JSON field;
- the aliases that mean "what serves" follow: ``champion`` is the version with the largest share
  (see ``traffic_split.champion_of`` for ties) and, when it changes, ``previous`` becomes the old
  champion and the new champion's row remembers the deployment it replaced (what a rollback
  restores);
- compare-and-swap: ``expect`` (the split the caller computed from) and the verdict's baseline
  are checked against what serves inside the transaction; TrafficConflict when it moved.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from mlkit.errors import RegistryError, TrafficConflict
from mlkit.registry import convert
from mlkit.registry.entities import Deployment
from mlkit.registry.schema import (
    AliasRow,
    DeploymentRow,
    ModelRow,
    ModelVersionRow,
    VerdictRow,
    utcnow,
)
from mlkit.registry.sql_base import CHAMPION, PREVIOUS, SqlBase
from mlkit.registry.traffic_split import champion_of, validate_split, without
from mlkit.registry.validation import validate_version

Resources = Mapping[int, Mapping[str, str]]
ACTIONS = ("promote", "forced", "traffic", "rollback")


def active_rows(s: Session, model_id: int, endpoint: str) -> list[DeploymentRow]:
    """A model's active deployments on ``endpoint``, the biggest traffic share first."""
    return list(
        s.scalars(
            select(DeploymentRow)
            .where(
                DeploymentRow.model_id == model_id,
                DeploymentRow.endpoint == endpoint,
                DeploymentRow.active.is_(True),
            )
            .order_by(
                func.coalesce(DeploymentRow.traffic_percent, 100).desc(), DeploymentRow.version
            )
        ).all()
    )


def share(row: DeploymentRow) -> int:
    return 100 if row.traffic_percent is None else row.traffic_percent


def serving_row(rows: list[DeploymentRow], champion: int | None) -> DeploymentRow | None:
    """Of a model's active rows on one endpoint, the one that is "what serves" (the champion)."""
    if not rows:
        return None
    newest = max(rows, key=lambda r: r.id).version
    top = champion_of({r.version: share(r) for r in rows}, champion, newest)
    return next(r for r in rows if r.version == top)


def _check_endpoint(endpoint: object) -> str:
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise RegistryError(f"invalid endpoint {endpoint!r}: expected a non-empty name")
    return endpoint


def _check_resources(resources: Resources | None) -> dict[int, dict[str, str]]:
    clean: dict[int, dict[str, str]] = {}
    for version, fields in (resources or {}).items():
        if not isinstance(fields, Mapping) or not all(
            isinstance(k, str) and k and isinstance(v, str) for k, v in fields.items()
        ):
            raise RegistryError(
                f"invalid resources for version {version}: expected an object of strings"
            )
        clean[validate_version(version)] = dict(fields)
    return clean


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _shown(split: Mapping[int, int]) -> str:
    return ", ".join(f"v{v}={p}" for v, p in sorted(split.items())) or "nothing"


class TrafficMixin(SqlBase):
    # -- the one write path -----------------------------------------------------------------------

    def _move(
        self,
        s: Session,
        m: ModelRow,
        endpoint: str,
        shares: Mapping[int, int],
        *,
        event: str,
        subject: int | None = None,
        verdict_id: int | None = None,
        action: str = "traffic",
        actor: str | None = None,
        reason: str | None = None,
        resources: Resources | None = None,
        restore: DeploymentRow | None = None,
        expect: Mapping[int, int] | None = None,
        **payload: Any,
    ) -> list[DeploymentRow]:
        """Make ``shares`` (versions with a positive share) the traffic of ``m`` on ``endpoint``."""
        now = utcnow()
        before_rows = active_rows(s, m.id, endpoint)
        before = {r.version: r for r in before_rows}
        old_split = {v: share(r) for v, r in before.items()}
        names = _check_resources(resources)
        champion = self._aliases(s, m.id).get(CHAMPION)
        old_top = serving_row(before_rows, champion)
        if verdict_id is not None:
            self._check_verdict(s, m, verdict_id, subject, endpoint, old_top)
        if expect is not None and dict(expect) != old_split:
            raise TrafficConflict(
                f"the traffic of model {m.name!r} on endpoint {endpoint!r} changed while this "
                f"change was prepared (now {_shown(old_split)}, expected {_shown(expect)}); "
                "nothing was changed",
                hint="look at `mlkit endpoints list` and try again",
            )
        for v in shares:
            self._version(s, m, v)
        rows = self._replace_rows(
            s, m, endpoint, shares, before, now, subject=subject, verdict_id=verdict_id,
            action=action, actor=actor, reason=reason, resources=names,
        )  # fmt: skip
        newest = subject if subject in rows else None
        if newest is None and rows:
            newest = max(rows.values(), key=lambda r: r.id).version
        top = champion_of(shares, champion, newest)
        self._follow_aliases(s, m, endpoint, rows, top, champion, before, restore)
        m.updated_at = now
        s.flush()
        self._event(
            s,
            event,
            model=m.name,
            version=subject if subject is not None else top,
            endpoint=endpoint,
            deployment_id=None if subject not in rows else rows[subject].id,
            verdict_id=verdict_id,
            action=action,
            actor=actor,
            reason=reason,
            split={str(v): p for v, p in sorted(shares.items())},
            previous_split={str(v): p for v, p in sorted(old_split.items())},
            replaced_version=None if old_top is None else old_top.version,
            previous_champion=champion,
            resources={str(v): n for v, n in sorted(names.items())},
            **payload,
        )
        return active_rows(s, m.id, endpoint)

    def _replace_rows(
        self,
        s: Session,
        m: ModelRow,
        endpoint: str,
        shares: Mapping[int, int],
        before: dict[int, DeploymentRow],
        now: datetime,
        *,
        subject: int | None,
        verdict_id: int | None,
        action: str,
        actor: str | None,
        reason: str | None,
        resources: dict[int, dict[str, str]],
    ) -> dict[int, DeploymentRow]:
        """Retire the rows of versions leaving (and the subject's), add rows for the versions
        arriving (and the subject), set every share. Returns the active rows by version."""
        for v, old in before.items():
            if shares.get(v, 0) == 0 or v == subject:
                old.active, old.retired_at = False, now
        s.flush()  # before the inserts: one active deployment per (model, endpoint, version)
        rows: dict[int, DeploymentRow] = {}
        row: DeploymentRow | None
        for v, percent in shares.items():
            row = before.get(v)
            if row is None or v == subject:
                fresh = DeploymentRow(
                    model_id=m.id,
                    version=v,
                    endpoint=endpoint,
                    verdict_id=verdict_id if v == subject else None,
                    active=True,
                    deployed_at=now,
                    action=action if v == subject else "traffic",
                    actor=actor,
                    reason=reason,
                )
                if row is not None:  # redeploying a serving version keeps what it replaced
                    fresh.previous_version = row.previous_version
                    fresh.rollback_to_id = row.rollback_to_id
                    fresh.resources = row.resources
                s.add(fresh)
                row = fresh
            row.traffic_percent = percent
            if v in resources:
                row.resources = {**(row.resources or {}), **resources[v]}
            rows[v] = row
        s.flush()
        return rows

    def _follow_aliases(
        self,
        s: Session,
        m: ModelRow,
        endpoint: str,
        rows: dict[int, DeploymentRow],
        top: int | None,
        champion: int | None,
        before: dict[int, DeploymentRow],
        restore: DeploymentRow | None,
    ) -> None:
        """``champion`` to ``top`` (the largest share); when it moves, ``previous`` to the old
        champion and the new champion's row remembers the row it replaced. A rollback
        (``restore``) takes both from the deployment it restores instead."""
        if restore is not None and top is not None:  # a rollback walks back through history
            row = rows[top]
            row.previous_version = restore.previous_version
            row.rollback_to_id = restore.rollback_to_id
            self._put_alias(s, m, CHAMPION, top)
            self._set_or_drop(s, m, PREVIOUS, restore.previous_version)
        elif top is not None and top != champion:
            row = rows[top]
            row.previous_version = champion
            row.rollback_to_id = before[champion].id if champion in before else None
            if champion is not None:
                self._put_alias(s, m, PREVIOUS, champion)
            self._put_alias(s, m, CHAMPION, top)
        elif top is None:
            self._put_alias_elsewhere(s, m, endpoint, champion)

    def _check_verdict(
        self,
        s: Session,
        m: ModelRow,
        verdict_id: int,
        subject: int | None,
        endpoint: str,
        serving: DeploymentRow | None,
    ) -> None:
        """The verdict exists, is about ``subject``, and was judged against what serves now."""
        verdict = s.get(VerdictRow, verdict_id)
        if verdict is None or verdict.model_id != m.id:
            raise RegistryError(f"verdict {verdict_id} of model {m.name!r} not found")
        if subject is not None and verdict.candidate_version != subject:
            raise RegistryError(
                f"verdict {verdict_id} is about version {verdict.candidate_version} of "
                f"{m.name!r}, not version {subject}"
            )
        now_serving = None if serving is None else serving.version
        if verdict.baseline_version != now_serving:
            judged = (
                "nothing deployed"
                if verdict.baseline_version is None
                else f"version {verdict.baseline_version}"
            )
            now = "nothing" if now_serving is None else f"version {now_serving}"
            raise TrafficConflict(
                f"verdict {verdict_id} compared version {verdict.candidate_version} of "
                f"{m.name!r} with {judged}, but endpoint {endpoint!r} serves {now} now; "
                "nothing was deployed",
                hint=f"deploy again to compare with what serves now: mlkit deploy {m.name}",
            )

    def _set_or_drop(self, s: Session, m: ModelRow, alias: str, version: int | None) -> None:
        if version is None:
            s.execute(delete(AliasRow).where(AliasRow.model_id == m.id, AliasRow.alias == alias))
        else:
            self._put_alias(s, m, alias, version)

    def _put_alias_elsewhere(
        self, s: Session, m: ModelRow, endpoint: str, champion: int | None
    ) -> None:
        """Nothing serves on ``endpoint`` any more: ``champion`` follows another endpoint that
        serves the model (the one changed last), and is removed when none does."""
        rows = s.scalars(
            select(DeploymentRow)
            .where(
                DeploymentRow.model_id == m.id,
                DeploymentRow.endpoint != endpoint,
                DeploymentRow.active.is_(True),
            )
            .order_by(DeploymentRow.id.desc())
        ).all()
        if not rows:
            self._set_or_drop(s, m, CHAMPION, None)
            return
        if champion in {r.version for r in rows}:
            return
        last = [r for r in rows if r.endpoint == rows[0].endpoint]
        top = serving_row(last, champion)
        self._put_alias(s, m, CHAMPION, top.version if top else rows[0].version)

    def _locked(self, s: Session, model: str) -> ModelRow:
        return self._model(s, model, lock=True)

    # -- the operations -----------------------------------------------------------------------

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
        resources: Resources | None = None,
        expect: Mapping[int, int] | None = None,
    ) -> list[Deployment]:
        """Serve ``model`` on ``endpoint`` with ``split`` (``{version: percent}``, summing to 100;
        0 retires a version). Returns the active deployments, most traffic first.

        ``version`` names the version this change deploys (a promotion or a canary: it gets a new
        deployment row with ``verdict_id``, ``action`` ``promote`` or ``forced``, ``actor`` and
        ``reason``); without it the change is an explicit split (action ``traffic``).
        ``resources`` gives the endpoint kind's identifiers per version. With ``expect`` (the
        split the change was computed from) or a verdict, TrafficConflict when what serves moved.
        """
        shares = validate_split(split)
        _check_endpoint(endpoint)
        subject = None if version is None else validate_version(version)
        action = action or ("promote" if subject is not None else "traffic")
        if subject is not None and shares.get(subject, 0) == 0:
            raise RegistryError(f"version {subject} is deployed with no traffic share")
        if action == "rollback" and (expect is None or expect.get(subject or 0, 0) == 0):
            raise RegistryError(
                "invalid deployment action 'rollback': only a version that serves beside a "
                "canary takes its traffic back this way (mlkit rollback)"
            )
        if (
            subject is None
            and action != "traffic"
            or subject is not None
            and action
            not in (
                "promote",
                "forced",
                "rollback",
            )
        ):
            raise RegistryError(
                f"invalid deployment action {action!r}: expected promote or forced"
                if subject is not None
                else f"invalid action {action!r} for a traffic split: expected traffic"
            )
        if action == "forced" and not (_text(actor) and _text(reason)):
            raise RegistryError("a forced deployment needs who forced it and why (actor, reason)")
        positive = {v: p for v, p in shares.items() if p > 0}

        def fn(s: Session) -> list[Deployment]:
            m = self._locked(s, model)
            rows = self._move(
                s, m, endpoint, positive,
                event="deployed" if subject is not None else "traffic_split",
                subject=subject, verdict_id=verdict_id, action=action, actor=actor,
                reason=reason, resources=resources, expect=expect,
            )  # fmt: skip
            return [convert.deployment(r, model) for r in rows]

        return self._write(f"set the traffic split of model {model!r}", fn)

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
        _check_endpoint(endpoint)
        v = validate_version(version)
        rows = self.set_traffic(
            model, {v: 100}, endpoint=endpoint, version=v, verdict_id=verdict_id, action=action,
            actor=actor, reason=reason, resources=None if resources is None else {v: resources},
            expect=expect,
        )  # fmt: skip
        return next(d for d in rows if d.version == v)

    def rollback_target(self, model: str, endpoint: str = "local") -> int:
        with self._read(f"read deployments of model {model!r}") as s:
            m = self._model(s, model)
            return self._restore_row(s, m, endpoint).version

    def _restore_row(self, s: Session, m: ModelRow, endpoint: str) -> DeploymentRow:
        """The deployment a rollback on ``endpoint`` restores; RegistryError when there is none."""
        rows = active_rows(s, m.id, endpoint)
        top = serving_row(rows, self._aliases(s, m.id).get(CHAMPION))
        if top is None:
            raise RegistryError(
                f"model {m.name!r} has nothing deployed on endpoint {endpoint!r} to roll back",
                hint=f"deploy a version first: mlkit deploy {m.name}",
            )
        restore = None if top.rollback_to_id is None else s.get(DeploymentRow, top.rollback_to_id)
        if restore is None:
            raise RegistryError(
                f"version {top.version} of model {m.name!r} on endpoint {endpoint!r} "
                "replaced no earlier deployment; there is nothing to roll back to"
            )
        exists = s.scalar(
            select(func.count())
            .select_from(ModelVersionRow)
            .where(ModelVersionRow.model_id == m.id, ModelVersionRow.version == restore.version)
        )
        if not exists:
            raise RegistryError(
                f"version {restore.version} of model {m.name!r}, which version {top.version} "
                f"replaced on endpoint {endpoint!r}, was deleted; there is nothing to roll back to",
                hint=f"deploy the version you want instead: mlkit deploy {m.name} --version N",
            )
        return restore

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
        _check_endpoint(endpoint)

        def fn(s: Session) -> Deployment:
            m = self._locked(s, model)
            before = active_rows(s, m.id, endpoint)
            serving = serving_row(before, self._aliases(s, m.id).get(CHAMPION))
            restore = self._restore_row(s, m, endpoint)
            target = restore.version
            rows = self._move(
                s, m, endpoint, {target: 100}, event="rolled_back", subject=target,
                action="rollback", actor=actor, reason=reason,
                resources=None if resources is None else {target: resources}, restore=restore,
                expect=expect, rolled_back_version=None if serving is None else serving.version,
            )  # fmt: skip
            return convert.deployment(rows[0], model)

        return self._write(f"roll back model {model!r} on endpoint {endpoint!r}", fn)

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
        """Retire ``version`` (default: every version) of ``model`` on ``endpoint``.

        The traffic of a retired version goes to the remaining ones in proportion to their shares.
        Returns what stays active. RegistryError when nothing of that kind is deployed there.
        """
        _check_endpoint(endpoint)

        def fn(s: Session) -> list[Deployment]:
            m = self._locked(s, model)
            current = {r.version: share(r) for r in active_rows(s, m.id, endpoint)}
            gone = {v for v in current if version is None or v == version}
            if not gone:
                what = f"version {version} of {model!r}" if version else repr(model)
                raise RegistryError(f"{what} is not deployed on endpoint {endpoint!r}")
            rows = self._move(
                s, m, endpoint, without(current, gone), event="undeployed", actor=actor,
                reason=reason, expect=expect, retired=sorted(gone),
            )  # fmt: skip
            return [convert.deployment(r, model) for r in rows]

        return self._write(f"undeploy model {model!r}", fn)

    # -- reads --------------------------------------------------------------------------------

    def traffic(self, model: str, endpoint: str = "local") -> list[Deployment]:
        """The active deployments of ``model`` on ``endpoint``, most traffic first."""
        _check_endpoint(endpoint)
        with self._read(f"read the traffic split of model {model!r}") as s:
            m = s.scalars(select(ModelRow).where(ModelRow.name == model)).one_or_none()
            if m is None:
                return []
            return [convert.deployment(r, model) for r in active_rows(s, m.id, endpoint)]

    def active_deployment(self, model: str, endpoint: str = "local") -> Deployment | None:
        """What serves ``model`` on ``endpoint``: the deployment with the largest share."""
        with self._read(f"read deployments of model {model!r}") as s:
            m = s.scalars(select(ModelRow).where(ModelRow.name == model)).one_or_none()
            if m is None:
                return None
            row = serving_row(active_rows(s, m.id, endpoint), self._aliases(s, m.id).get(CHAMPION))
            return None if row is None else convert.deployment(row, model)
