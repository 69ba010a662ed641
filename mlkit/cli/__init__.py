"""Command-line interface. Importing it must not import TensorFlow."""

import sys

from mlkit.cli.app import app, main

__all__ = ["app", "main", "run"]


def run() -> None:
    sys.exit(main())
