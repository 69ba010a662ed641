"""Endpoint kinds behind one interface (``Endpoint``, in ``base``), one module each.

    endpoint = open_endpoint("vertex", store)
    endpoint.deploy("digits", 4, 10, verdict_id=7, baseline=3, actor="ada")  # a canary

Adding a kind is one module with an ``Endpoint`` subclass and one line in ``ENDPOINT_KINDS``
(docs/serving.md, "Adding an endpoint kind"). Importing this package imports no cloud SDK and no
TensorFlow: a kind loads its SDK when it is opened.
"""

from __future__ import annotations

from mlkit.config import Settings
from mlkit.errors import UsageError
from mlkit.serving.endpoints.base import Endpoint, StoreSource, parse_split
from mlkit.serving.endpoints.cloudrun import CloudRunEndpoint
from mlkit.serving.endpoints.local import LocalEndpoint
from mlkit.serving.endpoints.vertex import VertexEndpoint

__all__ = [
    "ENDPOINT_KINDS",
    "CloudRunEndpoint",
    "LOCAL",
    "Endpoint",
    "LocalEndpoint",
    "StoreSource",
    "VertexEndpoint",
    "endpoint_kind",
    "open_endpoint",
    "parse_split",
]

LOCAL = "local"

ENDPOINT_KINDS: dict[str, type[Endpoint]] = {
    LocalEndpoint.kind: LocalEndpoint,
    VertexEndpoint.kind: VertexEndpoint,
    CloudRunEndpoint.kind: CloudRunEndpoint,
}


def endpoint_kind(name: str) -> type[Endpoint]:
    """The class of endpoint kind ``name``; UsageError naming the known kinds otherwise."""
    kind = ENDPOINT_KINDS.get(name)
    if kind is None:
        raise UsageError(
            f"unknown --target {name!r}: expected {', '.join(ENDPOINT_KINDS)}",
        )
    return kind


def open_endpoint(
    name: str,
    store: StoreSource,
    *,
    settings: Settings | None = None,
    url: str | None = None,
    token: str | None = None,
) -> Endpoint:
    """The endpoint of kind ``name`` on ``store`` (a store, or a function that opens one when
    first needed), configured from ``settings``; ``url`` and ``token`` for the local endpoint."""
    return endpoint_kind(name).open(store, settings=settings, url=url, token=token)
