"""mlkit runs delete / mlkit runs gc: reclaim the space of run folders."""

from __future__ import annotations

import typer

from mlkit.cli.output import console, fmt_size, print_json, print_table
from mlkit.config import load_settings
from mlkit.errors import UsageError


def delete(
    run: str = typer.Argument(..., metavar="RUN", help="The run's number (see mlkit runs list)."),
    force: bool = typer.Option(False, "--force", help="Also a run that could be resumed."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Delete a run's folder (checkpoints, events); its registry record stays. Refused while it
    trains, while it can be resumed (without --force), or when a version's artifact is in it."""
    from mlkit.workflows.housekeeping import delete_run_files

    if not run.isdigit() or int(run) < 1:
        raise UsageError(f"RUN: expected a run id (a positive whole number), got {run!r}")
    done = delete_run_files(load_settings(), int(run), force=force)
    if as_json:
        print_json(done)
        return
    console.print(f"deleted {done.path} ({fmt_size(done.bytes_freed)}); run {run}'s record stays")


def gc(
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would go; change nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Trim finished runs to keep_after_run (mlkit config) and remove folders of runs/ that no
    run owns; keep what a resumable run or a registered version needs."""
    from mlkit.workflows.housekeeping import collect

    done = collect(load_settings(), dry_run=dry_run)
    if as_json:
        print_json(done)
        return
    print_table(
        "Run folders" + (" (dry run)" if dry_run else ""),
        ["run_id", "path", "action", "bytes_freed", "reason"],
        ([d.run_id, d.path, d.action, fmt_size(d.bytes_freed), d.reason] for d in done),
        markup=False,
    )
    console.print(f"{fmt_size(sum(d.bytes_freed for d in done))} freed")
