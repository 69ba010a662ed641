"""The local endpoint (``mlkit serve``): the registry is its whole state.

Moving traffic is only the registry write: the running endpoint reads the deployments on its
next request (``mlkit.workflows.serve.RegistryResolver``). Predictions go over HTTP to the
endpoint's URL (``--url``, else ``MLKIT_ENDPOINT_URL``, default ``http://127.0.0.1:8765``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlkit.config import Settings, load_settings
from mlkit.serving.endpoints.base import Endpoint, StoreSource

if TYPE_CHECKING:  # typing.Self is 3.11's; mlkit also runs on 3.10
    from typing_extensions import Self

DEFAULT_URL = "http://127.0.0.1:8765"


class LocalEndpoint(Endpoint):
    kind = "local"
    title = "the local endpoint"

    def __init__(
        self, store: StoreSource, *, url: str | None = None, token: str | None = None
    ) -> None:
        super().__init__(store)
        self.url = url or DEFAULT_URL
        self.token = token

    @classmethod
    def open(
        cls,
        store: StoreSource,
        *,
        settings: Settings | None = None,
        url: str | None = None,
        token: str | None = None,
    ) -> Self:
        default = (settings or load_settings()).endpoint_url
        return cls(store, url=url or default, token=token)

    def _apply(self, model: str, split: dict[int, int]) -> dict[int, dict[str, str]]:
        return {}  # the endpoint follows the registry

    def predict(
        self,
        model: str,
        instances: list[Any],
        *,
        version: int | None = None,
        label: str | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        from mlkit.serving.client import predict

        answer: dict[str, Any] = predict(
            self.url,
            model,
            instances,
            version=version,
            label=label,
            token=self.token,
            parameters=parameters,
            complete_rows=True,  # so that a TF Serving URL answers rows with missing values
        )
        return answer
