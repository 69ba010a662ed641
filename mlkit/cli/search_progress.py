"""One progress bar per AdaNet iteration, each showing the best evaluation metric so far."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlkit.cli.output import console

if TYPE_CHECKING:
    from rich.progress import Progress


class IterationProgress:
    """Fed ``SearchProgress`` updates; a new bar starts when a new iteration does.

    Bars appear on the first update, so errors before training print nothing else.
    """

    def __init__(self, *, enabled: bool = True) -> None:
        self._enabled = enabled
        self._progress: Progress | None = None
        self._tasks: dict[int, Any] = {}

    def update(self, event: Any) -> None:
        if not self._enabled:
            return
        if self._progress is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[best]}"),
                console=console,
            )
            self._progress.start()
        best = ""
        if event.best_metric is not None:
            best = f"best eval {event.best_metric[0]} {event.best_metric[1]:.4f}"
        for number, task in self._tasks.items():  # earlier iterations are done
            if number < event.iteration:
                self._progress.update(task, completed=event.steps_per_iteration)
        task = self._tasks.get(event.iteration)
        if task is None:
            task = self._progress.add_task(
                f"iteration {event.iteration + 1}/{event.iterations}",
                total=event.steps_per_iteration,
                best=best,
            )
            self._tasks[event.iteration] = task
        self._progress.update(task, completed=event.step, best=best)

    def __enter__(self) -> IterationProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
