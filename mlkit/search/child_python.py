"""A module of this mlkit run in a new Python process (the search's helpers on the other core)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def start_module(
    module: str, *args: str, stdin: int | None = subprocess.PIPE
) -> subprocess.Popen[bytes]:
    """``python -m MODULE ARGS`` with this interpreter, importing this checkout's mlkit (its
    folder first on ``PYTHONPATH``); stdout and stderr piped."""
    path = os.pathsep.join(p for p in (_PACKAGE_ROOT, os.environ.get("PYTHONPATH")) if p)
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": path},
    )


__all__ = ["start_module"]
