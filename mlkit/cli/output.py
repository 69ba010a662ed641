"""Rendering: rich tables for people, ``--json`` for scripts, one-line errors on stderr."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import traceback
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

# Piped or captured output is not a terminal, and rich would wrap tables at 80 columns; logs and
# pipes read better unwrapped. A terminal keeps its own width.
_WIDTH = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", 160))
console = Console(width=_WIDTH)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 1000)


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def print_json(value: Any) -> None:
    print(json.dumps(to_jsonable(value), indent=2, sort_keys=True))


# Characters a terminal would act on rather than show (ESC, other C0/C1 controls but newline,
# line separators, bidirectional overrides): shown as escapes, whatever a registry holds.
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with the characters a terminal would act on written as escapes (``\\x1b``)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def print_table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, markup: bool = True
) -> None:
    """A titled table. ``markup=False`` for cells holding what users stored (tags, names,
    descriptions): they are shown as written, ``[/bold]`` included, never read as rich markup."""

    def cell(value: Any) -> str:
        text = printable(str(value))
        return text if markup else escape(text)

    # The title goes on its own line: as a table title rich would wrap it to the table's width.
    console.print(f"[bold]{cell(title)}[/]", highlight=False)
    table = Table(header_style="bold")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if value is None else cell(value) for value in row))
    console.print(table)


def print_text(text: str) -> None:
    """One line of what users stored, shown as written (no markup, no control characters)."""
    console.print(escape(printable(text)), highlight=False)


def fmt_metric(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def fmt_time(value: datetime | None) -> str:
    return "" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def fmt_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


def stage_printer(enabled: bool):
    """A callback printing a workflow's stages as dim bullet lines (silent under ``--json``)."""

    def on_stage(message: str) -> None:
        if enabled:
            console.print(f"[dim]·[/] {message}")

    return on_stage


def error(message: str, hint: str | None = None) -> None:
    for line in message.splitlines() or [""]:
        err_console.print(
            f"[bold red]Error:[/] {escape(line)}", highlight=False, markup=True, soft_wrap=True
        )
    if hint:
        err_console.print(f"[yellow]Hint:[/] {escape(hint)}", highlight=False, soft_wrap=True)


def report_error(exc: BaseException, *, verbose: bool = False) -> int:
    """Print ``exc`` as one line (its traceback too with ``verbose``); return its exit code from
    the one table, :data:`mlkit.errors.EXIT_CODES`."""
    from mlkit.errors import INTERRUPTED, MlkitError, exit_code

    code = exit_code(exc)
    if verbose and code != INTERRUPTED:
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, MlkitError):
        error(exc.message, exc.hint)
    elif code == INTERRUPTED:
        error("interrupted")
    else:  # a bug: still one line
        error(
            f"unexpected {type(exc).__name__}: {_one_line(exc)}",
            hint=None if verbose else "run with --verbose for the traceback",
        )
    return code


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


class StepProgress:
    """A progress bar that appears on the first update, so early errors print nothing else."""

    def __init__(self, description: str, *, enabled: bool = True) -> None:
        self._description = description
        self._enabled = enabled
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def update(self, completed: int, total: int) -> None:
        if not self._enabled:
            return
        if self._progress is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self._description, total=total)
        if self._task is not None:
            self._progress.update(self._task, completed=completed, total=total)

    def __enter__(self) -> StepProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
