"""Command-line interface. Importing it must not import TensorFlow."""

import sys

from mlkit.config import quiet_tensorflow

quiet_tensorflow()  # before any command imports TensorFlow

from mlkit.cli.app import app, main  # noqa: E402

__all__ = ["app", "main", "run"]


def run() -> None:
    sys.exit(main())
