"""Reclaiming the space of run directories: ``mlkit runs delete RUN`` and ``mlkit runs gc``.

A finished run keeps what ``keep_after_run`` says (``mlkit.search.run_files``); training trims
its directory as it finishes. ``gc`` trims the finished runs written before that (or under
another setting) and removes folders of ``runs/`` that no run of the registry owns. Nothing is
touched that a run still needs: a run still training, a failed run that can be resumed (unless
``force`` for ``delete``), or a registered version whose artifact lies inside the folder. The
registry keeps every run's record (lineage): only files go.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from mlkit.config import Settings
from mlkit.errors import RegistryError, UsageError
from mlkit.registry import Run, open_store
from mlkit.search.run_files import prune, size_of
from mlkit.workflows.views import is_resumable, run_directory


@dataclass(frozen=True)
class Reclaimed:
    """One folder trimmed or removed (or, with ``dry_run``, that would be)."""

    run_id: int | None  # None: a folder no run of the registry owns
    path: str
    action: str  # "deleted" | "trimmed" | "kept"
    bytes_freed: int
    reason: str = ""


def _artifacts_inside(store, folder: Path) -> list[str]:
    """Registered versions (``model:version``) whose artifact lies inside ``folder``."""
    inside = []
    root = folder.resolve()
    for model in store.list_models():
        for version in store.list_versions(model.name):
            uri = version.artifact_uri.removeprefix("file://")
            if "://" not in uri and Path(uri).resolve().is_relative_to(root):
                inside.append(f"{model.name}:{version.version}")
    return inside


def _why_kept(run: Run, settings: Settings, folder: Path, store, force: bool) -> str | None:
    if run.status == "running" and not run.dead:
        return f"run {run.id} is still training"
    if is_resumable(run, settings) and not force:
        return f"run {run.id} can be resumed (mlkit train --resume {run.id})"
    versions = _artifacts_inside(store, folder)
    if versions:
        return f"registered version {', '.join(versions)} is stored in {folder}"
    return None


def delete_run_files(settings: Settings, run_id: int, *, force: bool = False) -> Reclaimed:
    """Remove run ``run_id``'s folder; UsageError (nothing removed) when something needs it."""
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        run = store.get_run(run_id)
        folder = run_directory(run, settings)
        why = _why_kept(run, settings, folder, store, force)
    if why is not None:
        hint = "--force deletes it anyway" if "resumed" in why else None
        raise UsageError(f"not deleting the files of run {run_id}: {why}", hint=hint)
    if not folder.exists():
        raise RegistryError(f"run {run_id} has no files left ({folder} does not exist)")
    freed = size_of(folder)
    shutil.rmtree(folder)
    return Reclaimed(run_id, str(folder), "deleted", freed)


def collect(settings: Settings, *, dry_run: bool = False) -> list[Reclaimed]:
    """Trim finished runs to ``settings.keep_after_run``; remove folders of ``runs/`` that no
    run owns; keep (and say why) what a run or a version still needs."""
    done: list[Reclaimed] = []
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        runs = {run.id: run for run in store.list_runs(limit=1_000_000)}
        folders = sorted(p for p in settings.runs_dir.glob("*") if p.is_dir() and p.name.isdigit())
        for folder in folders:
            run = runs.get(int(folder.name))
            if run is not None and run_directory(run, settings).resolve() != folder.resolve():
                run = None
            if run is None:
                versions = _artifacts_inside(store, folder)
                if versions:
                    done.append(Reclaimed(None, str(folder), "kept", 0, f"holds {versions[0]}"))
                    continue
                freed = size_of(folder)
                if not dry_run:
                    shutil.rmtree(folder)
                done.append(Reclaimed(None, str(folder), "deleted", freed, "no run owns it"))
                continue
            why = _why_kept(run, settings, folder, store, force=False)
            if why is not None or run.status != "finished":
                done.append(Reclaimed(run.id, str(folder), "kept", 0, why or run.status))
                continue
            if dry_run:
                done.append(Reclaimed(run.id, str(folder), "trimmed", 0, "dry run"))
                continue
            freed = prune(folder, settings.keep_after_run)
            done.append(Reclaimed(run.id, str(folder), "trimmed", freed, settings.keep_after_run))
    return done
