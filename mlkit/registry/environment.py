"""Where a run ran: Python, platform and the versions of the packages that shape a model.

Read from package metadata, so nothing (TensorFlow included) is imported.
"""

from __future__ import annotations

import os
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
    found: dict[str, object] = {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": packages,
    }
    # A Vertex AI job's replica (mlkit/workflows/launch/vertex_job.py passes these): the image it
    # ran in and, in Google's prebuilt image, the mlkit package it installed.
    vertex = {
        key: os.environ[name]
        for key, name in (
            ("job", "CLOUD_ML_JOB_ID"),
            ("image", "MLKIT_VERTEX_RUN_IMAGE"),
            ("package", "MLKIT_VERTEX_RUN_PACKAGE"),
        )
        if os.environ.get(name)
    }
    if "image" in vertex:
        found["vertex"] = vertex
    return found
