"""Where a run ran: Python, platform and the versions of the packages that shape a model.

Read from package metadata, so nothing (TensorFlow included) is imported.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata

PACKAGES = (
    "mlkit",
    "tensorflow",
    "tensorflow-estimator",
    "adanet",
    "numpy",
    "scikit-learn",
    "pyarrow",
    "duckdb",
    "google-cloud-bigquery",
)


def capture() -> dict[str, object]:
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": packages,
    }
