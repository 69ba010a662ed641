"""Makes AdaNet 0.9.0 (2020) run on TensorFlow 2.15 and numpy 1.26. Call ``apply()`` before use.

AdaNet's last release predates two moves:
1. ``adanet.core.estimator`` imports ``tensorflow.python.training.tracking.graph_view``, which
   TensorFlow 2.14 moved to ``tensorflow.python.checkpoint.graph_view``. Without an alias the
   first ``train()`` crashes with ModuleNotFoundError.
2. ``adanet.core.report_accessor`` checks ``isinstance(value, np.float)``; numpy 1.24 removed
   ``np.float``, so materialising reports crashes. We give that one module a numpy view that
   still has ``float``, leaving the real numpy untouched.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from mlkit.config import quiet_tensorflow

_OLD_PACKAGE = "tensorflow.python.training.tracking"


class _NumpyWithFloat(types.ModuleType):
    """numpy, plus the ``float`` alias that numpy 1.24 removed."""

    def __init__(self, numpy_module: types.ModuleType) -> None:
        super().__init__("numpy")
        self._numpy = numpy_module
        self.float = float

    def __getattr__(self, name: str):
        return getattr(self._numpy, name)


def apply() -> Any:
    """Install both fixes (idempotent) and return the ``adanet`` module."""
    quiet_tensorflow()
    import numpy as np
    import tensorflow as tf
    from tensorflow.python.checkpoint import graph_view

    tf.get_logger().setLevel("ERROR")
    if _OLD_PACKAGE not in sys.modules:
        package = types.ModuleType(_OLD_PACKAGE)
        package.__path__ = []  # a package, so "from ... import graph_view" resolves
        sys.modules[_OLD_PACKAGE] = package
    # The package's attribute, set through its namespace (ModuleType declares no graph_view).
    vars(sys.modules[_OLD_PACKAGE])["graph_view"] = graph_view
    sys.modules[f"{_OLD_PACKAGE}.graph_view"] = graph_view

    import adanet
    from adanet.core import report_accessor

    if not hasattr(report_accessor.np, "float"):
        report_accessor.np = _NumpyWithFloat(np)
    return adanet
