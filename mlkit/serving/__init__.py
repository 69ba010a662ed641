"""The local endpoint and its client.

``mlkit.serving.client`` imports no TensorFlow; ``make_server``/``serve`` are imported lazily and
load TensorFlow only when the first model is served.
"""

from __future__ import annotations

from typing import Any

from mlkit.serving.client import health, models, predict

__all__ = ["health", "make_server", "models", "predict", "serve"]


def __getattr__(name: str) -> Any:
    if name in ("make_server", "serve"):
        from mlkit.serving import server

        return getattr(server, name)
    raise AttributeError(f"module 'mlkit.serving' has no attribute {name!r}")
