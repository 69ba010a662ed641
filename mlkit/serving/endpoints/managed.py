"""What the endpoint kinds run by a cloud service (Vertex AI, Cloud Run) share.

Such a kind talks to its service through one client (``connect`` builds it from the kind's
settings when the endpoint is opened) and takes no ``--url``/``--token``: those are the local
endpoint's. ``local_only`` is the kind's one-line refusal of them.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from mlkit.config import Settings
from mlkit.errors import UsageError
from mlkit.serving.endpoints.base import Endpoint, StoreSource

if TYPE_CHECKING:  # typing.Self is 3.11's; mlkit also runs on 3.10
    from typing_extensions import Self

ClientT = TypeVar("ClientT")


class ManagedEndpoint(Endpoint, Generic[ClientT]):
    """An endpoint kind whose service runs the versions; ``client`` is its SDK layer."""

    local_only: ClassVar[str]
    """The UsageError for options only the local endpoint takes."""

    def __init__(self, store: StoreSource, client: ClientT) -> None:
        super().__init__(store)
        self.client = client

    @classmethod
    def open(
        cls,
        store: StoreSource,
        *,
        settings: Settings | None = None,
        url: str | None = None,
        token: str | None = None,
    ) -> Self:
        if url:
            raise UsageError(cls.local_only)
        return cls(store, cls.connect())

    @classmethod
    @abstractmethod
    def connect(cls) -> ClientT:
        """The kind's client, configured from its settings (UsageError on a bad setting)."""
