"""Every top-level dependency imports together.

A resolver can pick a Google library generated for protobuf 5, which fails to import under
TensorFlow 2.15's protobuf 4 (``cannot import name 'runtime_version'``); this catches it.
"""

import importlib

import pytest

MODULES = [
    "tensorflow",
    "tensorflow_estimator",
    "adanet",
    "google.cloud.bigquery",
    "google.cloud.bigquery_storage",
    "google.cloud.aiplatform",
    "google.cloud.storage",
    "sqlalchemy",
    "alembic",
    "typer",
    "rich",
    "pydantic",
    "duckdb",
    "pyarrow",
    "sklearn",
    "farmhash",
]


@pytest.mark.parametrize("name", MODULES)
def test_dependency_imports(name):
    importlib.import_module(name)


def test_pinned_stack():
    import google.protobuf
    import numpy
    import tensorflow as tf

    assert tf.__version__.startswith("2.15.")
    assert numpy.__version__.startswith("1.")
    assert google.protobuf.__version__.startswith("4.")
