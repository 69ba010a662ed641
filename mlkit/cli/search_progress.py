"""What a training run shows while it runs.

In a terminal: a live display that never sits still (a spinner with the current stage and its
seconds, one bar per AdaNet iteration with the best evaluation metric so far), and a permanent
``· stage (2.3 s)`` line for every stage that took more than a second (building an iteration's
graph, evaluating the candidates, exporting...).

Without a terminal (a file, a CI log): plain timestamped lines as the run goes, one per stage and
one per iteration's progress at most every ``LOG_EVERY_S`` seconds (and when it completes).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mlkit.cli.output import console

if TYPE_CHECKING:
    from rich.progress import Progress

SHOW_AFTER_S = 1.0  # a stage at least this long leaves a line in a terminal
LOG_EVERY_S = 10.0  # without a terminal: a progress line at most this often per iteration


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


class IterationProgress:
    """``stage`` (a message as each stage starts) and ``update`` (``SearchProgress``) callbacks.

    Nothing shows before the first call, so errors before training print nothing else."""

    def __init__(self, *, enabled: bool = True, terminal: bool | None = None) -> None:
        self._enabled = enabled
        self._terminal = console.is_terminal if terminal is None else terminal
        self._progress: Progress | None = None
        self._tasks: dict[int, Any] = {}
        self._stage_task: Any = None
        self._stage: tuple[str, float] | None = None
        self._logged: dict[int, float] = {}

    # -- stages ---------------------------------------------------------------------------------

    def stage(self, message: str) -> None:
        if not self._enabled:
            return
        self._end_stage()
        self._stage = (message, time.monotonic())
        if not self._terminal:
            console.print(f"{_stamp()} {message}", highlight=False, markup=False)
            return
        progress = self._live()
        if self._stage_task is None:
            self._stage_task = progress.add_task(message, total=None, best="")
        progress.update(self._stage_task, description=message)
        progress.reset(self._stage_task, total=None, description=message)

    def _end_stage(self) -> None:
        if self._stage is None:
            return
        message, started = self._stage
        self._stage = None
        seconds = time.monotonic() - started
        if self._terminal and self._progress is not None and seconds >= SHOW_AFTER_S:
            self._progress.console.print(f"[dim]·[/] {message} [dim]({seconds:.1f} s)[/]")

    # -- training steps -------------------------------------------------------------------------

    def update(self, event: Any) -> None:
        if not self._enabled:
            return
        best = ""
        if event.best_metric is not None:
            best = f"best eval {event.best_metric[0]} {event.best_metric[1]:.4f}"
        if not self._terminal:
            self._log(event, best)
            return
        progress = self._live()
        for number, task in self._tasks.items():  # earlier iterations are done
            if number < event.iteration:
                progress.update(task, completed=event.steps_per_iteration)
        task = self._tasks.get(event.iteration)
        if task is None:
            task = progress.add_task(
                f"iteration {event.iteration + 1}/{event.iterations}",
                total=event.steps_per_iteration,
                best=best,
            )
            self._tasks[event.iteration] = task
        progress.update(task, completed=event.step, best=best)

    def _log(self, event: Any, best: str) -> None:
        now = time.monotonic()
        done = event.step >= event.steps_per_iteration or event.global_step >= event.total_steps
        last = self._logged.get(event.iteration)
        if not done and last is not None and now - last < LOG_EVERY_S:
            return
        if done and last == float("inf"):
            return
        self._logged[event.iteration] = float("inf") if done else now
        console.print(
            f"{_stamp()} iteration {event.iteration + 1}/{event.iterations}: step "
            f"{event.step:,}/{event.steps_per_iteration:,}" + (f", {best}" if best else ""),
            highlight=False,
            markup=False,
        )

    # -- the live display -----------------------------------------------------------------------

    def _live(self) -> Progress:
        if self._progress is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[best]}"),
                console=console,
                transient=False,
            )
            self._progress.start()
        return self._progress

    def __enter__(self) -> IterationProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._end_stage()
        if self._progress is not None:
            if self._stage_task is not None:
                self._progress.remove_task(self._stage_task)
            self._progress.stop()
