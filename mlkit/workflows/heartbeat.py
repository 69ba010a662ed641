"""A training process's sign of life: a background thread that records a heartbeat of its run
every ``HEARTBEAT_SECONDS``, so that a run whose process was killed is recognised as dead
(``mlkit.registry.liveness``)."""

from __future__ import annotations

import threading
from types import TracebackType

from mlkit.registry import RegistryStore
from mlkit.registry.liveness import HEARTBEAT_SECONDS


class Heartbeat:
    """``with Heartbeat(store, run_id):`` beats while the block runs; a failed beat (the
    registry busy for a moment) is skipped, the next one tries again."""

    def __init__(
        self, store: RegistryStore, run_id: int, interval: float = HEARTBEAT_SECONDS
    ) -> None:
        self._store, self._run_id, self._interval = store, run_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"mlkit-heartbeat-run-{run_id}", daemon=True
        )

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._send()
            except Exception:  # noqa: BLE001 - the next beat tries again; training goes on
                continue

    def _send(self) -> None:
        self._store.heartbeat(self._run_id)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 5)

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class PipelineHeartbeat(Heartbeat):
    """The same for a pipeline run (``RegistryStore.pipeline_heartbeat``)."""

    def _send(self) -> None:
        self._store.pipeline_heartbeat(self._run_id)
