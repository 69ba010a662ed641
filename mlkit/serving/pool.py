"""Loaded model versions: load on first use, unload after an idle time (scale to zero).

Every load, the first and each one after an idle unload, first calls ``verify(model, version,
path)`` (the registry checks the artifact's sha256 there): a version whose artifact changed is
refused, never served under its old number, and ``refused()`` says which and why.

The first request for a version loads it while any other request for the same version waits for
that one load (no request fails because a model is cold). A version unused for ``idle_unload_s``
seconds is unloaded by a background reaper; so is the least recently used version of a model
beyond ``keep_versions``. A request that already holds a version finishes with it even if it is
unloaded meanwhile: unloading only drops the pool's reference and stops the batcher once its
queued requests are answered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mlkit.serving.batching import Batcher

logger = logging.getLogger("mlkit.serving")

Key = tuple[str, int]
Verify = Callable[[str, int, Path], None]
"""Raises (an ``ArtifactError``) when a version's artifact must not be loaded."""


class PoolEvents(Protocol):
    """What the pool reports (metrics): loads and unloads with their seconds, batches."""

    def loaded(self, model: str, version: int, seconds: float) -> None: ...

    def unloaded(self, model: str, version: int, seconds: float, why: str) -> None: ...

    def batch(self, model: str, version: int, requests: int, rows: int) -> None: ...


def load_runner(path: Path) -> Any:
    from mlkit.savedmodel import SavedModelRunner  # TensorFlow: only when a model is served

    return SavedModelRunner(path)


@dataclass
class Loaded:
    """One version in memory, with the batcher that runs its requests."""

    model: str
    version: int
    path: Path
    runner: Any
    batcher: Batcher
    loaded_at: float
    last_used: float = field(default=0.0)

    def predict_instances(self, instances: object) -> list[dict]:
        """Validate JSON instances (on the caller's thread), then predict through the batcher."""
        from mlkit.savedmodel import format_predictions

        arrays = self.runner.parse_instances(instances)
        return format_predictions(
            self.batcher.predict(arrays), getattr(self.runner, "classes", None)
        )


class ModelPool:
    def __init__(
        self,
        loader: Callable[[Path], Any] = load_runner,
        *,
        keep_versions: int = 3,
        idle_unload_s: float = 0.0,
        max_batch_rows: int = 256,
        batch_wait_s: float = 0.002,
        clock: Callable[[], float] = time.monotonic,
        verify: Verify | None = None,
        events: PoolEvents | None = None,
    ) -> None:
        self._loader = loader
        self.verify = verify
        self.events = events
        self._refused: dict[Key, str] = {}
        self._keep = max(1, keep_versions)
        self.idle_unload_s = max(0.0, idle_unload_s)
        self._max_batch_rows = max_batch_rows
        self._batch_wait_s = batch_wait_s
        self._clock = clock
        self._lock = threading.Lock()
        self._key_locks: dict[Key, threading.Lock] = {}
        self._loading: set[Key] = set()
        self._loaded: OrderedDict[Key, Loaded] = OrderedDict()
        self.load_count = 0
        self.unload_count = 0
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None

    # -- use -----------------------------------------------------------------------------------

    def get(self, model: str, version: int, path: Path) -> Loaded:
        """The loaded version, loading it first if needed (concurrent callers share one load)."""
        key = (model, version)
        hit = self._hit(key, Path(path))
        if hit is not None:
            return hit
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            hit = self._hit(key, Path(path))  # someone else may have loaded it while we waited
            if hit is not None:
                return hit
            with self._lock:
                self._loading.add(key)
            try:
                logger.info("loading model '%s' version %d from %s", model, version, path)
                started = time.perf_counter()
                self._verify(key, Path(path))
                runner = self._loader(Path(path))
                seconds = time.perf_counter() - started
                logger.info("loaded model '%s' version %d in %.2f s", model, version, seconds)
            finally:
                with self._lock:
                    self._loading.discard(key)
            if self.events is not None:
                self.events.loaded(model, version, seconds)
            batcher = Batcher(
                runner.predict_arrays,
                max_batch_rows=self._max_batch_rows,
                max_wait_s=self._batch_wait_s,
                name=f"{model}-v{version}",
                on_batch=self._batch_reporter(model, version),
            )
            now = self._clock()
            entry = Loaded(model, version, Path(path), runner, batcher, now, now)
            with self._lock:
                self.load_count += 1
                old = self._loaded.pop(key, None)
                self._loaded[key] = entry
                evicted = [old] if old is not None else []
                same_model = [k for k in self._loaded if k[0] == model]
                for k in same_model[: max(0, len(same_model) - self._keep)]:
                    evicted.append(self._loaded.pop(k))
            for gone in evicted:
                self._unloaded(gone, f"to keep at most {self._keep} versions")
            return entry

    def _verify(self, key: Key, path: Path) -> None:
        """The registry's check of the artifact, before every load; remembers a refusal."""
        if self.verify is None:
            return
        try:
            self.verify(key[0], key[1], path)
        except Exception as exc:
            with self._lock:
                self._refused[key] = str(getattr(exc, "message", exc)).splitlines()[0]
            raise
        with self._lock:
            self._refused.pop(key, None)

    def _batch_reporter(self, model: str, version: int) -> Callable[[int, int], None] | None:
        events = self.events
        if events is None:
            return None
        return lambda requests, rows: events.batch(model, version, requests, rows)

    def lookup(self, model: str, version: int, path: Path) -> Loaded | None:
        """The version if it is in memory (from ``path``), without loading; marks it used."""
        return self._hit((model, version), path if isinstance(path, Path) else Path(path))

    def _hit(self, key: Key, path: Path) -> Loaded | None:
        with self._lock:
            hit = self._loaded.get(key)
            if hit is None or hit.path != path:
                return None
            hit.last_used = self._clock()
            self._loaded.move_to_end(key)
            return hit

    # -- state ---------------------------------------------------------------------------------

    def state(self, model: str, version: int) -> str:
        """``AVAILABLE`` (in memory), ``LOADING`` or ``UNLOADED`` (loads on the next request)."""
        with self._lock:
            if (model, version) in self._loaded:
                return "AVAILABLE"
            return "LOADING" if (model, version) in self._loading else "UNLOADED"

    def refused(self) -> dict[Key, str]:
        """Versions whose last load was refused (their artifact failed the check), and why."""
        with self._lock:
            return dict(self._refused)

    def loaded(self) -> list[Key]:
        with self._lock:
            return list(self._loaded)

    def peek(self, model: str, version: int) -> Loaded | None:
        with self._lock:
            return self._loaded.get((model, version))

    # -- scale to zero -------------------------------------------------------------------------

    def unload_idle(self) -> list[Key]:
        """Unload every version unused for ``idle_unload_s`` (0: never); returns what went."""
        if not self.idle_unload_s:
            return []
        now = self._clock()
        with self._lock:
            idle = [k for k, e in self._loaded.items() if now - e.last_used >= self.idle_unload_s]
            gone = [self._loaded.pop(k) for k in idle]
        for entry in gone:
            self._unloaded(entry, f"after {self.idle_unload_s:g} s idle")
        return [(e.model, e.version) for e in gone]

    def start_reaper(self) -> None:
        if not self.idle_unload_s or self._reaper is not None:
            return
        interval = min(5.0, max(0.05, self.idle_unload_s / 4))

        def reap() -> None:
            while not self._stop.wait(interval):
                try:
                    self.unload_idle()
                except Exception:  # never let the reaper die
                    logger.exception("unloading idle models failed")

        self._reaper = threading.Thread(target=reap, name="idle-unloader", daemon=True)
        self._reaper.start()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            gone = list(self._loaded.values())
            self._loaded.clear()
        for entry in gone:
            entry.batcher.close()

    def _unloaded(self, entry: Loaded, why: str) -> None:
        started = time.perf_counter()
        entry.batcher.close()
        with self._lock:
            self.unload_count += 1
        seconds = time.perf_counter() - started
        logger.info("unloaded model '%s' version %d %s", entry.model, entry.version, why)
        if self.events is not None:
            self.events.unloaded(entry.model, entry.version, seconds, why)
