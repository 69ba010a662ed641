"""The interface every endpoint kind implements, and what all kinds share.

An ``Endpoint`` changes what serves a model and records it in the registry, always the same way:

1. read the split that serves now (``current``);
2. compute the new split (``traffic_split.canary_split`` for a deploy with a share, the explicit
   split, the version a rollback restores, the rest after an undeploy);
3. check every version that will get traffic exists and that its artifact still has the sha256
   recorded at registration (ArtifactError, exit 5, nothing changed);
4. let the kind make its endpoint serve that split (``_apply``: nothing for the local endpoint,
   which reads the registry; SDK calls for Vertex AI) and say what it calls each deployment;
5. record it with one registry write (``RegistryStore.set_traffic``/``rollback``/``undeploy``,
   one write path) with the verdict, action, actor, reason and the kind's identifiers, as a
   compare-and-swap against the split read in 1 (TrafficConflict when it moved meanwhile).

A kind implements ``_apply`` and ``predict`` (and may name its deployments for listings with
``resource_of``); see docs/serving.md, "Adding an endpoint kind".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from mlkit.config import Settings
from mlkit.errors import ArtifactError, RegistryError, TrafficConflict, UsageError
from mlkit.registry.entities import Deployment
from mlkit.registry.store import RegistryStore
from mlkit.registry.traffic_split import canary_split, validate_split, without

if TYPE_CHECKING:  # typing.Self is 3.11's; mlkit also runs on 3.10
    from typing_extensions import Self

StoreSource = RegistryStore | Callable[[], RegistryStore]


def parse_split(text: str) -> dict[int, int]:
    """``"3=90,4=10"`` (or ``v3=90``) as ``{3: 90, 4: 10}``; UsageError naming the bad part."""
    split: dict[int, int] = {}
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        version, sep, percent = part.partition("=")
        version = version.strip().removeprefix("v")
        if not sep or not version.isdigit() or not percent.strip().isdigit():
            raise UsageError(
                f"cannot read traffic share {part!r}: expected VERSION=PERCENT, e.g. 3=90,4=10"
            )
        if int(version) in split:
            raise UsageError(f"version {version} appears twice in the traffic split")
        split[int(version)] = int(percent)
    if not split:
        raise UsageError("the traffic split is empty: expected VERSION=PERCENT, e.g. 3=90,4=10")
    return validate_split(split, UsageError)


class Endpoint(ABC):
    """Where versions of models serve predictions, of one kind (``kind``, e.g. ``local``)."""

    kind: ClassVar[str]
    """The endpoint's name in the registry and on the command line (``--target``)."""
    title: ClassVar[str]
    """How messages name it, e.g. ``the local endpoint``."""

    def __init__(self, store: StoreSource) -> None:
        self._store = store

    @classmethod
    def open(
        cls,
        store: StoreSource,
        *,
        settings: Settings | None = None,
        url: str | None = None,
        token: str | None = None,
    ) -> Self:
        """The endpoint on ``store``, configured from ``settings`` (default: ``load_settings()``);
        ``url``/``token`` are for kinds that take them (UsageError from those that do not).
        Checks the kind's own settings up front."""
        return cls(store)

    @property
    def store(self) -> RegistryStore:
        if not isinstance(self._store, RegistryStore):
            self._store = self._store()
        return self._store

    # -- reads --------------------------------------------------------------------------------

    def current(self, model: str) -> list[Deployment]:
        """The model's active deployments here, most traffic first."""
        return self.store.traffic(model, self.kind)

    def split(self, model: str) -> dict[int, int]:
        return {d.version: d.traffic_percent for d in self.current(model)}

    def serving(self, model: str) -> Deployment | None:
        """What serves the model here: the deployment with the largest share (the champion)."""
        return self.store.active_deployment(model, self.kind)

    def list_deployments(self, model: str | None = None) -> list[Deployment]:
        """Active deployments here (of one model, or all), newest first."""
        return [
            d
            for d in self.store.list_deployments(endpoint=self.kind)
            if model is None or d.model == model
        ]

    @classmethod
    def resource_of(cls, deployment: Deployment) -> str:
        """What the kind calls a deployment, for listings (nothing for a kind whose deployments
        live in the registry only)."""
        return ""

    # -- moves of traffic ---------------------------------------------------------------------

    def deploy(
        self,
        model: str,
        version: int,
        percent: int = 100,
        *,
        verdict_id: int | None = None,
        baseline: int | None = None,
        action: str = "promote",
        actor: str | None = None,
        reason: str | None = None,
    ) -> list[Deployment]:
        """``version`` takes ``percent`` of the model's traffic (100: all of it; less: a canary,
        the others keep the rest in proportion). With ``verdict_id``, ``baseline`` is the version
        the verdict compared with: TrafficConflict when another one serves now."""
        self.store.get_version(model, version)  # ModelNotFound / VersionNotFound first
        current = self.split(model)
        if verdict_id is not None:
            serving = self.serving(model)
            now = None if serving is None else serving.version
            if now != baseline:
                raise TrafficConflict(
                    f"the verdict compared version {version} of {model!r} with "
                    + ("nothing deployed" if baseline is None else f"version {baseline}")
                    + f", but {self.title} serves "
                    + ("nothing" if now is None else f"version {now}")
                    + " now; nothing was deployed",
                    hint=f"deploy again to compare with what serves now: mlkit deploy {model}",
                )
        split = canary_split(current, version, percent)
        resources = self._move(model, split)
        return self.store.set_traffic(
            model, split, endpoint=self.kind, version=version, verdict_id=verdict_id,
            action=action, actor=actor, reason=reason, resources=resources, expect=current,
        )  # fmt: skip

    def set_traffic(
        self,
        model: str,
        split: Mapping[int, int],
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> list[Deployment]:
        """Serve the model with ``split`` (``{version: percent}`` summing to 100; 0 retires)."""
        shares = validate_split(split, UsageError)
        current = self.split(model)
        resources = self._move(model, {v: p for v, p in shares.items() if p > 0})
        return self.store.set_traffic(
            model, shares, endpoint=self.kind, actor=actor, reason=reason, resources=resources,
            expect=current,
        )  # fmt: skip

    def rollback(
        self, model: str, *, actor: str | None = None, reason: str | None = None
    ) -> Deployment:
        """All traffic back to the version the serving one replaced (the ``previous`` alias).
        When the serving version replaced nothing but a canary shares the traffic, the canary is
        retired and the serving version takes all of it back."""
        current = self.split(model)
        serving = self.serving(model)
        if serving is not None and serving.rollback_to_id is None and len(current) > 1:
            return self._end_canary(model, serving.version, current, actor, reason)
        target = self.store.rollback_target(model, self.kind)
        resources = self._move(model, {target: 100})
        return self.store.rollback(
            model, endpoint=self.kind, actor=actor, reason=reason,
            resources=resources.get(target), expect=current,
        )  # fmt: skip

    def _end_canary(
        self,
        model: str,
        champion: int,
        current: Mapping[int, int],
        actor: str | None,
        reason: str | None,
    ) -> Deployment:
        """The champion takes all the traffic back from the canaries beside it."""
        resources = self._move(model, {champion: 100})
        rows = self.store.set_traffic(
            model, {champion: 100}, endpoint=self.kind, version=champion, action="rollback",
            actor=actor, reason=reason, resources=resources, expect=current,
        )  # fmt: skip
        return next(d for d in rows if d.version == champion)

    def undeploy(
        self,
        model: str,
        version: int | None = None,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> list[Deployment]:
        """Stop serving ``version`` (its traffic goes to the others) or the whole model."""
        current = self.split(model)
        gone = {v for v in current if version is None or v == version}
        if not gone:
            what = f"version {version} of {model!r}" if version else repr(model)
            raise RegistryError(f"{what} is not deployed on endpoint {self.kind!r}")
        self._move(model, without(current, gone))
        return self.store.undeploy(
            model, endpoint=self.kind, version=version, actor=actor, reason=reason, expect=current
        )

    def _move(self, model: str, split: Mapping[int, int]) -> dict[int, dict[str, str]]:
        """Check the artifacts of the versions that get traffic, then let the kind apply it."""
        for version in sorted(split):
            mv = self.store.get_version(model, version)
            try:
                self.store.artifact_path(mv, verify=True)
            except ArtifactError as exc:
                raise ArtifactError(
                    f"{exc.message}; no traffic was moved to it",
                    hint=exc.hint or f"deploy another version of {model}",
                ) from exc
        return self._apply(model, dict(split))

    # -- what a kind implements ---------------------------------------------------------------

    @abstractmethod
    def _apply(self, model: str, split: dict[int, int]) -> dict[int, dict[str, str]]:
        """Make this endpoint serve ``split`` (versions with a positive share; empty: nothing),
        before the registry records it. Returns what the kind calls each version's deployment
        (stored in ``Deployment.resources``; ``{}`` when it names them by nothing more)."""

    def log_requests(self, model: str, table: str | None, sampling_rate: float = 1.0) -> str:
        """Have the endpoint log each request and answer of ``model`` to the BigQuery table
        ``table`` (``bq://project.dataset.table``; None: the kind's default); returns the table.
        The local endpoint logs with its own prediction log (``mlkit serve --log``)."""
        raise UsageError(
            f"the {self.title} endpoint logs requests with `mlkit serve --log TABLE`, not here",
            hint="--log-requests is for --target vertex",
        )

    @abstractmethod
    def predict(
        self,
        model: str,
        instances: list[Any],
        *,
        version: int | None = None,
        label: str | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Ask the endpoint for predictions: ``{"predictions": [...], "version": N, ...}``."""
