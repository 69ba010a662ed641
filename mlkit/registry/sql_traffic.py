"""Traffic split between the active versions of a model on an endpoint, and undeployment.

A model may have several active deployments on one endpoint (a canary), one per version, whose
``traffic_percent`` sum to 100. ``set_traffic`` replaces the whole split in one transaction: a
version that keeps serving keeps its deployment row (only its share changes), a version left out
is retired, a new one gets a new row. A version given all the traffic becomes the ``champion``
(the old champion becomes ``previous``), as with ``deploy``. Deployments on Vertex AI also carry
the Vertex resource names (model, model version, endpoint, deployed model id).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mlkit.errors import RegistryError
from mlkit.registry import convert
from mlkit.registry.entities import Deployment
from mlkit.registry.schema import DeploymentRow, ModelRow, utcnow
from mlkit.registry.sql_base import CHAMPION, PREVIOUS, SqlBase
from mlkit.registry.validation import validate_version

VERTEX_FIELDS = {
    "model": "vertex_model",
    "model_version": "vertex_model_version",
    "endpoint": "vertex_endpoint",
    "deployed_model_id": "vertex_deployed_model_id",
}


def validate_split(split: Mapping[int, int]) -> dict[int, int]:
    """``{version: percent}`` with whole percents from 0 to 100 summing to 100."""
    if not isinstance(split, Mapping) or not split:
        raise RegistryError("a traffic split needs at least one version")
    clean: dict[int, int] = {}
    for version, percent in split.items():
        v = validate_version(version)
        if type(percent) is not int or not 0 <= percent <= 100:
            raise RegistryError(
                f"invalid traffic share {percent!r} for version {v}: expected a whole percent "
                "from 0 to 100"
            )
        clean[v] = percent
    total = sum(clean.values())
    if total != 100:
        shares = ", ".join(f"v{v}={p}" for v, p in sorted(clean.items()))
        raise RegistryError(f"traffic shares must sum to 100, got {total} ({shares})")
    return clean


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


def _check_endpoint(endpoint: object) -> str:
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise RegistryError(f"invalid endpoint {endpoint!r}: expected a non-empty name")
    return endpoint


class TrafficMixin(SqlBase):
    def set_traffic(
        self,
        model: str,
        split: Mapping[int, int],
        *,
        endpoint: str = "local",
        verdict_id: int | None = None,
        vertex: Mapping[int, Mapping[str, str]] | None = None,
    ) -> list[Deployment]:
        """Serve ``model`` on ``endpoint`` with ``split`` (``{version: percent}``, summing to 100).

        Versions with 0 percent are retired. ``vertex`` gives Vertex AI resource names per version
        (keys ``model``, ``model_version``, ``endpoint``, ``deployed_model_id``). Returns the
        active deployments, most traffic first.
        """
        shares = validate_split(split)
        _check_endpoint(endpoint)
        names = {validate_version(v): dict(n) for v, n in (vertex or {}).items()}
        for v, fields in names.items():
            unknown = sorted(set(fields) - set(VERTEX_FIELDS))
            if unknown:
                raise RegistryError(
                    f"unknown Vertex resource field {unknown[0]!r} for version {v} "
                    f"(expected: {', '.join(VERTEX_FIELDS)})"
                )

        def fn(s: Session) -> list[Deployment]:
            m = self._model(s, model, lock=True)
            for v in shares:
                self._version(s, m, v)
            now = utcnow()
            before = {row.version: row for row in active_rows(s, m.id, endpoint)}
            old_split = {
                v: 100 if r.traffic_percent is None else r.traffic_percent
                for v, r in before.items()
            }
            for v, row in before.items():
                if shares.get(v, 0) == 0:
                    row.active, row.retired_at = False, now
            s.flush()
            for v, percent in shares.items():
                if percent == 0:
                    continue
                row = before.get(v)
                if row is None:
                    row = DeploymentRow(
                        model_id=m.id,
                        version=v,
                        endpoint=endpoint,
                        verdict_id=verdict_id,
                        active=True,
                        deployed_at=now,
                    )
                    s.add(row)
                row.traffic_percent = percent
                for key, value in names.get(v, {}).items():
                    setattr(row, VERTEX_FIELDS[key], value)
            full = [v for v, p in shares.items() if p == 100]
            champion = self._aliases(s, m.id).get(CHAMPION)
            if full and full[0] != champion:
                if champion is not None:
                    self._put_alias(s, m, PREVIOUS, champion)
                self._put_alias(s, m, CHAMPION, full[0])
                # What `mlkit rollback` restores: the champion's deployment this one replaced.
                replaced = before.get(champion) if champion is not None else None
                row = next(r for r in active_rows(s, m.id, endpoint) if r.version == full[0])
                row.action = row.action or "traffic"
                row.previous_version = champion
                row.rollback_to_id = None if replaced is None else replaced.id
            m.updated_at = now
            s.flush()
            self._event(
                s,
                "traffic_split",
                model=model,
                version=max(shares, key=lambda v: (shares[v], v)),
                endpoint=endpoint,
                split={str(v): p for v, p in sorted(shares.items()) if p},
                previous_split={str(v): p for v, p in sorted(old_split.items())},
                verdict_id=verdict_id,
            )
            return [convert.deployment(r, model) for r in active_rows(s, m.id, endpoint)]

        return self._write(f"set the traffic split of model {model!r}", fn)

    def traffic(self, model: str, endpoint: str = "local") -> list[Deployment]:
        """The active deployments of ``model`` on ``endpoint``, most traffic first."""
        _check_endpoint(endpoint)
        with self._read(f"read the traffic split of model {model!r}") as s:
            m = s.scalars(select(ModelRow).where(ModelRow.name == model)).one_or_none()
            if m is None:
                return []
            return [convert.deployment(r, model) for r in active_rows(s, m.id, endpoint)]

    def undeploy(
        self, model: str, *, endpoint: str = "local", version: int | None = None
    ) -> list[Deployment]:
        """Retire ``version`` (default: every version) of ``model`` on ``endpoint``.

        The traffic of a retired version goes to the remaining ones in proportion to their shares.
        Returns what stays active. RegistryError when nothing of that kind is deployed there.
        """
        _check_endpoint(endpoint)

        def fn(s: Session) -> list[Deployment]:
            m = self._model(s, model, lock=True)
            rows = active_rows(s, m.id, endpoint)
            gone = [r for r in rows if version is None or r.version == version]
            if not gone:
                what = f"version {version} of {model!r}" if version else repr(model)
                raise RegistryError(f"{what} is not deployed on endpoint {endpoint!r}")
            now = utcnow()
            for row in gone:
                row.active, row.retired_at = False, now
            stay = [r for r in rows if r not in gone]
            _rescale(stay)
            s.flush()
            self._event(
                s,
                "undeployed",
                model=model,
                version=version,
                endpoint=endpoint,
                retired=[r.version for r in gone],
                split={str(r.version): r.traffic_percent for r in stay},
            )
            return [convert.deployment(r, model) for r in active_rows(s, m.id, endpoint)]

        return self._write(f"undeploy model {model!r}", fn)


def _rescale(rows: list[DeploymentRow]) -> None:
    """Give ``rows`` whole percents summing to 100, in proportion to their current shares."""
    if not rows:
        return
    weights = [100 if r.traffic_percent is None else r.traffic_percent for r in rows]
    total = sum(weights) or len(rows)
    weights = weights if sum(weights) else [1] * len(rows)
    exact = [w * 100 / total for w in weights]
    shares = [int(x) for x in exact]
    order = sorted(range(len(rows)), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in order[: 100 - sum(shares)]:
        shares[i] += 1
    for row, share in zip(rows, shares, strict=True):
        row.traffic_percent = share
