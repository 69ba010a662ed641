"""Where mlkit keeps things. A project is a folder: the nearest one from the current folder up that
holds ``mlkit.toml``, ``registry.db`` or ``warehouse.duckdb`` (else the current folder), or
``MLKIT_HOME``. Its optional ``mlkit.toml`` sets locations; ``MLKIT_*`` variables override it;
command-line options override the environment. ``mlkit config`` shows the result and the source
of each setting (docs/configuration.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlkit.compat import tomllib

DEFAULT_ENDPOINT_PORT = 8765


def quiet_tensorflow() -> None:
    """Hide TensorFlow's C++ start-up chatter (CUDA probing on CPU machines); must run before
    TensorFlow is imported. Real failures still surface as Python exceptions. A user's own
    ``TF_CPP_MIN_LOG_LEVEL`` wins."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


_overrides: dict[str, str] = {}


def set_registry_url(url: str | None) -> None:
    """The registry URL given on the command line (``mlkit --registry URL``); None clears it."""
    if url:
        _overrides["registry_url"] = url
    else:
        _overrides.pop("registry_url", None)


def default_registry_url(home: Path) -> str:
    """The registry of a project folder: ``registry.db`` in it."""
    return f"sqlite:///{home / 'registry.db'}"


def named_registry_url() -> str | None:
    """The registry URL the user named (``--registry``, else ``MLKIT_REGISTRY_URL``), if any."""
    return _overrides.get("registry_url") or os.environ.get("MLKIT_REGISTRY_URL") or None


def set_starts_project(starts: bool | None) -> None:
    """Whether this command may start a project in a folder with none above it (the CLI: only
    the commands that write one, ``mlkit train``, ``mlkit data load``...; the Python API: yes,
    as None restores)."""
    if starts is None:
        _overrides.pop("starts_project", None)
    else:
        _overrides["starts_project"] = "yes" if starts else "no"


def outside_any_project(url: str) -> bool:
    """``url`` is the default registry of the current folder, which is in no project (no folder
    from it up holds mlkit's files, and neither ``MLKIT_HOME`` nor ``--registry`` names one)."""
    home, source = project_home()
    return source == NO_PROJECT and url == default_registry_url(home)


def may_create_registry(url: str) -> bool:
    """Whether opening ``url`` may create a registry there when there is none.

    Yes for the project folder's own ``registry.db`` (the default location) and for URLs the user
    did not name; no for one named with ``--registry`` or ``MLKIT_REGISTRY_URL``, so that a
    mistyped name is reported instead of answered from a new, empty registry; and no for a
    command that only reads (``set_starts_project(False)``) in a folder outside any project, so
    that ``mlkit models list`` there leaves no ``registry.db`` behind.
    ``mlkit registry upgrade`` creates a registry at any URL.
    """
    if url != named_registry_url():
        return _overrides.get("starts_project") != "no" or not outside_any_project(url)
    return url == default_registry_url(project_home()[0])


# -- the project: where it is and what it says -----------------------------------------------

PROJECT_FILE = "mlkit.toml"
# What marks a folder as a project when it has no mlkit.toml: files mlkit itself writes there.
PROJECT_MARKERS = (PROJECT_FILE, "registry.db", "warehouse.duckdb")
# mlkit.toml's [mlkit] keys: (Settings field, its MLKIT_* variable, a path relative to the file?)
PROJECT_KEYS = {
    "registry_url": ("registry_url", "MLKIT_REGISTRY_URL", False),
    "warehouse": ("warehouse_path", "MLKIT_WAREHOUSE", True),
    "artifacts": ("artifacts_dir", "MLKIT_ARTIFACTS", True),
    "runs": ("runs_dir", "MLKIT_RUNS", True),
    "endpoint_url": ("endpoint_url", "MLKIT_ENDPOINT_URL", False),
    "keep_after_run": ("keep_after_run", "MLKIT_KEEP_AFTER_RUN", False),
}
KEEP_CHOICES = ("all", "resume", "events")
NO_PROJECT = "current folder (no project found above it)"


def find_project(start: Path) -> Path | None:
    """The nearest folder from ``start`` up holding ``mlkit.toml``, ``registry.db`` or
    ``warehouse.duckdb``; None when no folder above holds one. The filesystem's root is not
    looked at (stray files there would capture every folder of the machine)."""
    start = start.resolve()
    for folder in (start, *start.parents[:-1]):
        if any((folder / marker).exists() for marker in PROJECT_MARKERS):
            return folder
    return None


def project_home(home: Path | str | None = None) -> tuple[Path, str]:
    """The project folder and where it came from: ``home`` given, ``MLKIT_HOME``, the nearest
    project folder from the current one up, else the current folder (a new project)."""
    if home:
        return Path(home).resolve(), "given"
    if os.environ.get("MLKIT_HOME"):
        return Path(os.environ["MLKIT_HOME"]).resolve(), "MLKIT_HOME"
    cwd = Path.cwd()
    found = find_project(cwd)
    if found is None:
        return cwd.resolve(), NO_PROJECT
    marker = next(m for m in PROJECT_MARKERS if (found / m).exists())
    if found == cwd.resolve():
        return found, f"current folder (holds {marker})"
    return found, f"nearest folder up from {cwd} holding {marker}"


def _project_file(root: Path) -> dict[str, str]:
    """The ``[mlkit]`` table of ``root/mlkit.toml`` (empty without one); UsageError if bad."""
    path = root / PROJECT_FILE
    if not path.is_file():
        return {}
    from mlkit.errors import UsageError

    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: not a readable TOML file ({exc})") from exc
    table = raw.get("mlkit", {})
    unknown = sorted({*raw} - {"mlkit"}) + sorted(k for k in table if k not in PROJECT_KEYS)
    if unknown or not isinstance(table, dict):
        raise UsageError(
            f"{path}: unknown key {unknown[0] if unknown else 'mlkit'!r} "
            f"(expected an [mlkit] table with {', '.join(PROJECT_KEYS)})"
        )
    bad = [k for k, v in table.items() if not isinstance(v, str) or not v]
    if bad:
        raise UsageError(f"{path}: [mlkit] {bad[0]} must be a non-empty string")
    keep = table.get("keep_after_run")
    if keep is not None and keep not in KEEP_CHOICES:
        raise UsageError(
            f"{path}: [mlkit] keep_after_run must be one of {', '.join(KEEP_CHOICES)}, got {keep!r}"
        )
    return dict(table)


@dataclass(frozen=True)
class Settings:
    home: Path
    registry_url: str
    warehouse_path: Path
    artifacts_dir: Path
    runs_dir: Path
    endpoint_url: str
    # What a finished run's directory keeps (mlkit.search.run_files): "all"; "resume" (the
    # default: the latest checkpoint and TensorBoard's scalars); "events" (TensorBoard's only).
    keep_after_run: str = "resume"
    # Where each setting came from (``mlkit config``): "default", "MLKIT_RUNS", "mlkit.toml"...
    sources: dict[str, str] = field(default_factory=dict, compare=False)


def load_settings(home: Path | str | None = None) -> Settings:
    """Resolve locations: the command line (``--registry``), then ``MLKIT_*`` variables, then
    the project's ``mlkit.toml``, then defaults in the project folder (``project_home``)."""
    root, root_source = project_home(home)
    in_file = _project_file(root)
    values: dict[str, str | Path] = {
        "registry_url": default_registry_url(root),
        "warehouse_path": root / "warehouse.duckdb",
        "artifacts_dir": root / "artifacts",
        "runs_dir": root / "runs",
        "endpoint_url": f"http://127.0.0.1:{DEFAULT_ENDPOINT_PORT}",
        "keep_after_run": "resume",
    }
    sources = {"home": root_source, **dict.fromkeys(values, "default")}
    for key, (name, variable, is_path) in PROJECT_KEYS.items():
        if key in in_file:
            text = in_file[key]
            values[name] = (root / text).resolve() if is_path else text
            sources[name] = str(root / PROJECT_FILE)
        if os.environ.get(variable):
            values[name] = Path(os.environ[variable]) if is_path else os.environ[variable]
            sources[name] = variable
    if _overrides.get("registry_url"):
        values["registry_url"], sources["registry_url"] = _overrides["registry_url"], "--registry"
    keep = str(values["keep_after_run"])
    if keep not in KEEP_CHOICES:
        from mlkit.errors import UsageError

        raise UsageError(
            f"{sources['keep_after_run']}: keep_after_run must be one of "
            f"{', '.join(KEEP_CHOICES)}, got {keep!r}"
        )
    return Settings(
        home=root,
        registry_url=str(values["registry_url"]),
        warehouse_path=Path(values["warehouse_path"]),
        artifacts_dir=Path(values["artifacts_dir"]),
        runs_dir=Path(values["runs_dir"]),
        endpoint_url=str(values["endpoint_url"]),
        keep_after_run=keep,
        sources=sources,
    )


def google_project(specific: str, env: Mapping[str, str] | None = None) -> tuple[str | None, str]:
    """The Google Cloud project a target uses and where it came from: its own variable
    (``MLKIT_VERTEX_PROJECT``...), else ``GOOGLE_CLOUD_PROJECT``, as every Google client does."""
    env = os.environ if env is None else env
    for name in (specific, "GOOGLE_CLOUD_PROJECT"):
        value = (env.get(name) or "").strip()
        if value:
            return value, name
    return None, "not set"


# The Google targets and the variable naming each one's own project (Cloud Storage artifacts take
# GOOGLE_CLOUD_PROJECT itself).
GOOGLE_TARGETS = {
    "bigquery_project": "MLKIT_BIGQUERY_PROJECT",
    "vertex_project": "MLKIT_VERTEX_PROJECT",
    "cloudrun_project": "MLKIT_CLOUDRUN_PROJECT",
    "gcs_project": "GOOGLE_CLOUD_PROJECT",
}


def effective_settings(settings: Settings) -> list[tuple[str, str, str]]:
    """``(setting, value, where it came from)`` for every setting a command uses."""
    rows = [
        (name, str(getattr(settings, name)), settings.sources.get(name, "default"))
        for name in (
            "home",
            "registry_url",
            "warehouse_path",
            "artifacts_dir",
            "runs_dir",
            "endpoint_url",
            "keep_after_run",
        )
    ]
    for name, variable in GOOGLE_TARGETS.items():
        project, source = google_project(variable)
        rows.append((name, project or "", source if project else "not set (Google's default)"))
    return rows
