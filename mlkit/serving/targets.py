"""Endpoint targets behind one interface: the local endpoint (default) and Vertex AI.

A target changes what serves a model and records it in the registry, in one place:

- ``deploy(model, version, percent=100)``: ``version`` takes ``percent`` of the model's traffic
  (100: all of it, the others are retired; less: a canary, the others keep the rest in
  proportion);
- ``set_traffic(model, split)``: an explicit ``{version: percent}`` split (0 retires a version);
- ``rollback(model)``: all traffic back to the ``previous`` alias's version;
- ``undeploy(model, version=None)``: stop serving one version (its traffic goes to the others) or
  the model.

``LocalTarget`` only writes the registry: the local endpoint reads it on the next request.
``VertexTarget`` changes the Vertex endpoint through the SDK first, then records the split and the
Vertex resource names (model, model version, endpoint, deployed model id) in the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlkit.errors import RegistryError, ServingError, UsageError
from mlkit.registry.entities import Deployment

LOCAL, VERTEX = "local", "vertex"
TARGETS = (LOCAL, VERTEX)


def canary_split(current: Mapping[int, int], version: int, percent: int) -> dict[int, int]:
    """``version`` at ``percent``, the other versions sharing the rest in proportion."""
    if type(percent) is not int or not 1 <= percent <= 100:
        raise UsageError(f"the traffic share must be a whole percent from 1 to 100, got {percent}")
    others = {v: p for v, p in current.items() if v != version and p > 0}
    rest = 100 - percent
    split = {version: percent}
    if rest == 0:
        return split
    if not others:
        raise UsageError(
            f"version {version} cannot take only {percent}% of the traffic: nothing else is "
            "deployed to take the rest",
            hint="deploy it with 100% first",
        )
    total = sum(others.values())
    exact = {v: p * rest / total for v, p in others.items()}
    shares = {v: int(x) for v, x in exact.items()}
    for v in sorted(exact, key=lambda v: exact[v] - shares[v], reverse=True)[
        : rest - sum(shares.values())
    ]:
        shares[v] += 1
    split.update({v: s for v, s in shares.items() if s > 0})
    return split


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
    if sum(split.values()) != 100:
        raise UsageError(f"the traffic shares must sum to 100, got {sum(split.values())} ({text})")
    return split


class LocalTarget:
    """The local endpoint: the registry is the whole state."""

    name = LOCAL

    def __init__(self, store: Any) -> None:
        self.store = store

    def current(self, model: str) -> list[Deployment]:
        return self.store.traffic(model, self.name)

    def deploy(
        self, model: str, version: int, percent: int = 100, *, verdict_id: int | None = None
    ) -> list[Deployment]:
        self.store.get_version(model, version)  # ModelNotFound / VersionNotFound first
        current = {d.version: d.traffic_percent for d in self.current(model)}
        split = canary_split(current, version, percent)
        return self.set_traffic(model, split, verdict_id=verdict_id)

    def set_traffic(
        self, model: str, split: Mapping[int, int], *, verdict_id: int | None = None
    ) -> list[Deployment]:
        return self.store.set_traffic(model, split, endpoint=self.name, verdict_id=verdict_id)

    def rollback(self, model: str) -> list[Deployment]:
        return self.deploy(model, _previous(self.store, model))

    def undeploy(self, model: str, version: int | None = None) -> list[Deployment]:
        return self.store.undeploy(model, endpoint=self.name, version=version)


def _previous(store: Any, model: str) -> int:
    previous = store.get_alias(model, "previous")
    if previous is None:
        raise ServingError(
            f"model '{model}' has no previous version to roll back to",
            hint="a rollback needs an earlier deployment (the 'previous' alias)",
        )
    return previous


class VertexTarget:
    """Vertex AI: one Vertex model (versions = registry versions) and one endpoint per model."""

    name = VERTEX

    def __init__(self, store: Any, client: Any) -> None:
        self.store = store
        self.client = client

    def current(self, model: str) -> list[Deployment]:
        return self.store.traffic(model, self.name)

    # -- what the registry remembers of Vertex -------------------------------------------------

    def _history(self, model: str) -> list[Deployment]:
        return [
            d
            for d in self.store.list_deployments(endpoint=self.name, active_only=False)
            if d.model == model and d.vertex
        ]

    def _resource(self, model: str, key: str) -> str | None:
        for d in self.current(model) + self._history(model):
            if d.vertex.get(key):
                return d.vertex[key]
        return None

    def _uploaded(self, model: str, version: int) -> tuple[str, str]:
        """The Vertex model and version id of a registry version, uploading it if needed."""
        for d in self._history(model):
            if d.version == version and d.vertex.get("model") and d.vertex.get("model_version"):
                return d.vertex["model"], d.vertex["model_version"]
        mv = self.store.get_version(model, version)
        parent = self._resource(model, "model") or self.client.find_model(model)
        return self.client.upload(
            model,
            version,
            self.store.artifact_path(mv, verify=True),
            parent_model=parent,
            description=mv.description,
        )

    # -- operations ----------------------------------------------------------------------------

    def deploy(
        self, model: str, version: int, percent: int = 100, *, verdict_id: int | None = None
    ) -> list[Deployment]:
        self.store.get_version(model, version)
        current = {d.version: d.traffic_percent for d in self.current(model)}
        return self.set_traffic(
            model, canary_split(current, version, percent), verdict_id=verdict_id
        )

    def set_traffic(
        self, model: str, split: Mapping[int, int], *, verdict_id: int | None = None
    ) -> list[Deployment]:
        """Make the Vertex endpoint serve ``split``, then record it (with resource names)."""
        from mlkit.registry.sql_traffic import validate_split

        try:
            split = validate_split(split)
        except RegistryError as exc:
            raise UsageError(exc.message) from exc
        for version in split:
            self.store.get_version(model, version)
        endpoint = self.client.endpoint(model, self._resource(model, "endpoint"))
        live = self.client.deployed(endpoint)
        names: dict[int, dict[str, str]] = {}
        by_version: dict[int, str] = {}  # registry version -> deployed model id
        for version in (v for v, p in split.items() if p > 0):
            vertex_model, vertex_version = self._uploaded(model, version)
            names[version] = {
                "model": vertex_model,
                "model_version": vertex_version,
                "endpoint": endpoint.resource_name,
            }
            same = [
                d for d in live if d.model == vertex_model and d.model_version == vertex_version
            ]
            if same:
                by_version[version] = same[0].id
                continue
            # A new deployed model: it gets its share, the ones already there keep theirs
            # scaled into the rest until the final split is set below.
            taking = {d.id: d.percent for d in live if d.percent > 0}
            new_split = _with_new(taking, split[version] if taking else 100)
            by_version[version] = self.client.deploy(
                endpoint,
                vertex_model,
                vertex_version,
                display_name=f"{model}-v{version}",
                split=new_split,
            )
            live = self.client.deployed(endpoint)
        final = {by_version[v]: p for v, p in split.items() if p > 0}
        if {d.id: d.percent for d in live if d.percent > 0} != final:
            self.client.set_traffic(endpoint, final)
        ours = {n["model"] for n in names.values()}
        for d in self.client.deployed(endpoint):
            if d.id not in final and d.model in ours:  # no traffic: stop paying for its nodes
                self.client.undeploy(endpoint, d.id, final)
        for version, deployed_model_id in by_version.items():
            names[version]["deployed_model_id"] = deployed_model_id
        full = [v for v, p in split.items() if p == 100]
        if full:
            self.client.set_alias(
                names[full[0]]["model"], names[full[0]]["model_version"], "champion"
            )
        return self.store.set_traffic(
            model, split, endpoint=self.name, verdict_id=verdict_id, vertex=names
        )

    def rollback(self, model: str) -> list[Deployment]:
        return self.deploy(model, _previous(self.store, model))

    def undeploy(self, model: str, version: int | None = None) -> list[Deployment]:
        active = self.current(model)
        gone = [d for d in active if version is None or d.version == version]
        if not gone:
            what = f"version {version} of '{model}'" if version else f"'{model}'"
            raise ServingError(f"{what} is not deployed on Vertex AI")
        endpoint = self.client.endpoint(model, gone[0].vertex.get("endpoint"))
        stay = {
            d.vertex.get("deployed_model_id"): d.traffic_percent
            for d in active
            if d not in gone and d.vertex.get("deployed_model_id")
        }
        rest = _rescale(stay)
        for d in gone:
            deployed_model_id = d.vertex.get("deployed_model_id")
            if deployed_model_id:
                self.client.undeploy(endpoint, deployed_model_id, rest)
        return self.store.undeploy(model, endpoint=self.name, version=version)

    def predict(self, model: str, instances: list, parameters: dict | None = None) -> dict:
        endpoint = self._resource(model, "endpoint") if self.current(model) else None
        if endpoint is None:
            raise ServingError(
                f"model '{model}' is not deployed on Vertex AI",
                hint=f"deploy it with `mlkit deploy {model} --target vertex`",
            )
        answer = self.client.predict(endpoint, instances, parameters)
        for d in self.current(model):  # which registry version answered
            if d.vertex.get("deployed_model_id") == answer.get("deployedModelId"):
                answer["version"] = d.version
        return answer


def _with_new(split: Mapping[str, int], percent: int) -> dict[str, int]:
    """A Vertex deploy split: ``"0"`` (the new deployed model) at ``percent``, the rest scaled."""
    scaled = _rescale(split, 100 - percent)
    return {"0": percent, **scaled}


def _rescale(split: Mapping[str, int], total: int = 100) -> dict[str, int]:
    """Whole percents summing to ``total``, in proportion to ``split`` (empty stays empty)."""
    if not split or total == 0:
        return {}
    weight = sum(split.values()) or len(split)
    exact = {k: (v if sum(split.values()) else 1) * total / weight for k, v in split.items()}
    shares = {k: int(x) for k, x in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - shares[k], reverse=True)[
        : total - sum(shares.values())
    ]:
        shares[k] += 1
    return {k: v for k, v in shares.items() if v > 0}


def make_target(name: str, store: Any) -> LocalTarget | VertexTarget:
    """The target called ``name`` (``local`` or ``vertex``) on ``store``."""
    if name == LOCAL:
        return LocalTarget(store)
    if name == VERTEX:
        from mlkit.serving.vertex import VertexClient, vertex_settings

        return VertexTarget(store, VertexClient(vertex_settings()))
    raise UsageError(f"unknown target {name!r}: expected one of {', '.join(TARGETS)}")
