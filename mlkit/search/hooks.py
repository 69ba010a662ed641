"""Session hooks for a search: progress per iteration, budgets (steps, wall clock), Ctrl-C."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tensorflow as tf

from mlkit.search.reports import best_candidate_metric


@dataclass(frozen=True)
class SearchProgress:
    """Where a search is: the iteration (0-based), steps in it, and the best metric so far."""

    iteration: int
    iterations: int
    step: int  # within the iteration
    steps_per_iteration: int
    global_step: int
    total_steps: int
    best_metric: tuple[str, float] | None


Progress = Callable[[SearchProgress], None]

BUDGET_FILE = "budget.json"


def seconds_used(model_dir: Path) -> float:
    """Training seconds spent in this run directory by earlier processes (for resumed runs)."""
    path = Path(model_dir) / BUDGET_FILE
    try:
        return float(json.loads(path.read_text())["seconds"])
    except (OSError, ValueError, KeyError):
        return 0.0


class SearchHook(tf.compat.v1.train.SessionRunHook):
    """Reports progress, stops at the wall-clock budget or on Ctrl-C, and books the time used.

    AdaNet builds a new graph for every iteration and calls ``begin`` again on the same hook.
    """

    def __init__(
        self,
        *,
        model_dir: Path,
        iterations: int,
        steps_per_iteration: int,
        total_steps: int,
        max_seconds: float | None,
        callback: Progress | None,
        should_stop: Callable[[], bool],
        on_session: Callable[[int], None] | None = None,
    ) -> None:
        self._model_dir = Path(model_dir)
        self._iterations = iterations
        self._steps = steps_per_iteration
        self._total = total_steps
        self._max_seconds = max_seconds
        self._callback = callback
        self._should_stop = should_stop
        self._on_session = on_session  # told the iteration (0-based) once its graph is ready
        self._used_before = seconds_used(model_dir)
        self._started = time.monotonic()
        self._booked = self._started
        self.stopped_by: str | None = None
        self._best: tuple[str, float] | None = None

    @property
    def seconds(self) -> float:
        return self._used_before + time.monotonic() - self._started

    def begin(self):
        self._step = tf.compat.v1.train.get_global_step()
        self._best = best_candidate_metric(self._model_dir)

    def after_create_session(self, session, coord):
        if self._on_session is not None:
            step = int(session.run(self._step))
            self._on_session(min(step, self._total - 1) // self._steps)

    def before_run(self, run_context):
        return tf.compat.v1.train.SessionRunArgs(self._step)

    def after_run(self, run_context, run_values):
        step = int(run_values.results) + 1  # the step that just ran
        if self._callback:
            iteration = min(step - 1, self._total - 1) // self._steps
            self._callback(
                SearchProgress(
                    iteration=iteration,
                    iterations=self._iterations,
                    step=step - iteration * self._steps,
                    steps_per_iteration=self._steps,
                    global_step=step,
                    total_steps=self._total,
                    best_metric=self._best,
                )
            )
        now = time.monotonic()
        if now - self._booked > 2.0:
            self.book()
        if self._max_seconds is not None and self.seconds >= self._max_seconds:
            self.stopped_by = "max_seconds"
            run_context.request_stop()  # AdaNet checkpoints and returns from train()
        if self._should_stop():
            run_context.request_stop()

    def end(self, session):
        self.book()

    def book(self) -> None:
        """Write the seconds used so far, so that a resumed run keeps its wall-clock budget."""
        self._booked = time.monotonic()
        path = self._model_dir / BUDGET_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"seconds": round(self.seconds, 3)}))
        tmp.replace(path)


class Interrupts:
    """Ctrl-C during training: the first stops cleanly after the current step, the second at once.

    A KeyboardInterrupt raised at an arbitrary point inside TensorFlow can surface as an unrelated
    error from its clean-up code; stopping between steps always ends as an interruption.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt
