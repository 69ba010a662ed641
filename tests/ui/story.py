"""A registry with what the dashboard shows, built through the real CLI in one process (so
TensorFlow is imported once): iris loaded, two real (tiny) trainings, a first deployment, a canary
forced over its verdict, and a rollback. Shared by the browser tests and the docs' screenshots.

    python -m tests.ui.story DIR     # build it in DIR (MLKIT_HOME)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXPERIMENT = REPO / "experiments" / "iris.toml"

STEPS = (
    ("data", "load", "iris"),
    ("train", str(EXPERIMENT), "--iterations", "2", "--steps", "12"),
    ("train", str(EXPERIMENT), "--iterations", "1", "--steps", "12"),
    ("models", "tag", "iris:2", "team=ml"),
    ("deploy", "iris", "--version", "1"),
    ("deploy", "iris", "--version", "2", "--traffic", "20", "--force", "--reason", "canary"),
    ("rollback", "iris", "--reason", "canary looked worse"),
)


def build() -> None:
    """Run the story in ``MLKIT_HOME`` (set by the caller); raises when a step fails."""
    from mlkit.cli import main

    for step in STEPS:
        code = main(list(step))
        if code != 0:
            raise RuntimeError(f"mlkit {' '.join(step)} exited {code}")


if __name__ == "__main__":
    os.environ["MLKIT_HOME"] = str(Path(sys.argv[1]).resolve())
    build()
