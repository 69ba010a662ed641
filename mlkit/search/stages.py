"""The stages of a training run, named and timed.

A stage starts when the previous one ends, so the stages add up to the run's wall time. Each has a
short key (what ``make bench-overhead`` and the run report add up: ``data``, ``reference_models``,
``train_graph``, ``train``, ``evaluate_candidates``, ``report``, ``grow``, ``test_evaluation``,
``export``, ``curves``, ``register``) and a message for people (``iteration 1: evaluating the
candidates on the eval split``). No TensorFlow here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

StageCallback = Callable[[str, str], None]  # (key, message)


@dataclass
class StageClock:
    """Called with ``(key, message)`` as each stage starts; ``seconds`` holds the totals by key.

    ``on_stage`` (the message) is told of each stage as it starts."""

    on_stage: Callable[[str], None] | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    _current: tuple[str, float] | None = None

    def __call__(self, key: str, message: str) -> None:
        self.finish()
        self._current = (key, time.perf_counter())
        if self.on_stage is not None:
            self.on_stage(message)

    def add(self, key: str, seconds: float) -> None:
        """Time spent beside the stages (work in a background thread)."""
        self.seconds[key] = self.seconds.get(key, 0.0) + seconds

    def finish(self) -> dict[str, float]:
        """End the current stage; the totals so far, rounded to milliseconds."""
        if self._current is not None:
            key, started = self._current
            self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - started
            self._current = None
        return {k: round(v, 3) for k, v in self.seconds.items()}
