"""What a Vertex AI job runs in Google's prebuilt training container (``python_package_spec``):
``python -m mlkit.workflows.launch.vertex_task [FLAG ...]`` writes the experiment's text
(``MLKIT_EXPERIMENT_TOML``) to a file and runs ``mlkit train FILE FLAG ...`` in its place, as the
own image's ``/bin/sh -c`` command does (mlkit/workflows/launch/vertex_job.py)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

__all__ = ["main", "train_argv"]


def train_argv(experiment_file: Path, flags: list[str]) -> list[str]:
    return [sys.executable, "-m", "mlkit", "train", str(experiment_file), *flags]


def main(argv: list[str] | None = None) -> None:
    text = os.environ.get("MLKIT_EXPERIMENT_TOML")
    if not text:
        sys.exit("mlkit vertex task: MLKIT_EXPERIMENT_TOML is not set (the job passes it)")
    folder = Path(tempfile.mkdtemp(prefix="mlkit-job-"))
    experiment = folder / "experiment.toml"
    experiment.write_text(text, encoding="utf-8")
    argv = train_argv(experiment, list(sys.argv[1:] if argv is None else argv))
    os.execv(argv[0], argv)  # the job's exit status is mlkit train's


if __name__ == "__main__":
    main()
