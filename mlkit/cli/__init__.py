"""Command-line interface. Importing it must not import TensorFlow."""

import os
import sys

# TensorFlow's C++ start-up chatter (CUDA probing on CPU machines) is noise to a user; real
# failures still surface as Python exceptions. Set before any command imports TensorFlow.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from mlkit.cli.app import app, main  # noqa: E402

__all__ = ["app", "main", "run"]


def run() -> None:
    sys.exit(main())
