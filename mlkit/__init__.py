"""mlkit: AutoML experiments with a SQL model registry.

From Python: ``mlkit.load_model("digits@champion")``, ``mlkit.runs(...)``, ``mlkit.models(...)``
(``mlkit.api``, loaded on first use so that ``import mlkit`` stays light; docs/python-api.md).
"""

import importlib
from typing import Any

__all__ = ["__version__", "load_model", "models", "runs"]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("load_model", "runs", "models"):
        # Loaded by name: the package's own modules (``from mlkit import __version__``) must not
        # depend on the Python API, which sits above them (pyproject's layers).
        return getattr(importlib.import_module("mlkit.api"), name)
    raise AttributeError(f"module 'mlkit' has no attribute {name!r}")
