"""Where mlkit keeps things. Everything defaults to the current directory, so a project is a folder.

Environment variables override each location; command-line options override the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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


def may_create_registry(url: str) -> bool:
    """Whether opening ``url`` may create a registry there when there is none.

    Yes for the project folder's own ``registry.db`` (the default location) and for URLs the user
    did not name; no for one named with ``--registry`` or ``MLKIT_REGISTRY_URL``, so that a
    mistyped name is reported instead of answered from a new, empty registry.
    ``mlkit registry upgrade`` creates a registry at any URL.
    """
    if url != named_registry_url():
        return True
    home = Path(os.environ.get("MLKIT_HOME") or Path.cwd()).resolve()
    return url == default_registry_url(home)


@dataclass(frozen=True)
class Settings:
    home: Path
    registry_url: str
    warehouse_path: Path
    artifacts_dir: Path
    runs_dir: Path
    endpoint_url: str


def load_settings(home: Path | str | None = None) -> Settings:
    """Resolve locations from ``MLKIT_*`` environment variables, defaulting to ``home`` (cwd)."""
    root = Path(home or os.environ.get("MLKIT_HOME") or Path.cwd()).resolve()
    return Settings(
        home=root,
        registry_url=named_registry_url() or default_registry_url(root),
        warehouse_path=Path(os.environ.get("MLKIT_WAREHOUSE") or root / "warehouse.duckdb"),
        artifacts_dir=Path(os.environ.get("MLKIT_ARTIFACTS") or root / "artifacts"),
        runs_dir=Path(os.environ.get("MLKIT_RUNS") or root / "runs"),
        endpoint_url=os.environ.get("MLKIT_ENDPOINT_URL")
        or f"http://127.0.0.1:{DEFAULT_ENDPOINT_PORT}",
    )
