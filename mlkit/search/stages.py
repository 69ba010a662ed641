"""The stages of a training run, named and timed.

A stage starts when the previous one ends, so the stages add up to the run's wall time. Each has a
short key (what ``make bench-overhead`` and the run report add up: ``data``, ``reference_models``,
``train_graph``, ``train``, ``evaluate_candidates``, ``report``, ``grow``, ``test_evaluation``,
``export``, ``curves``, ``register``) and a message for people (``iteration 1: evaluating the
candidates on the eval split``). No TensorFlow here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

StageCallback = Callable[[str, str], None]  # (key, message)


@dataclass
class StageClock:
    """Called with ``(key, message)`` as each stage starts; ``seconds`` holds the totals by key.

    ``on_stage`` (the message) is told of each stage as it starts. Work in other threads adds
    its seconds with :meth:`add` or :meth:`timing` (safe from several threads at once; stages
    that overlap add up to more than the wall time): a search's reference models, a batch
    prediction's reading, decoding, predicting and writing."""

    on_stage: Callable[[str], None] | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    _current: tuple[str, float] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, key: str, message: str) -> None:
        self.finish()
        self._current = (key, time.perf_counter())
        if self.on_stage is not None:
            self.on_stage(message)

    def add(self, key: str, seconds: float) -> None:
        """Time spent beside the stages (work in a background thread)."""
        with self._lock:
            self.seconds[key] = self.seconds.get(key, 0.0) + seconds

    @contextmanager
    def timing(self, key: str) -> Iterator[None]:
        """:meth:`add` the seconds the block takes."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(key, time.perf_counter() - started)

    def rounded(self) -> dict[str, float]:
        """The totals so far, rounded to milliseconds."""
        with self._lock:
            return {k: round(v, 3) for k, v in self.seconds.items()}

    def finish(self) -> dict[str, float]:
        """End the current stage; the totals so far, rounded to milliseconds."""
        if self._current is not None:
            key, started = self._current
            self._current = None
            self.add(key, time.perf_counter() - started)
        return self.rounded()
