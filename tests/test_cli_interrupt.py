"""Ctrl-C during a real training process: one line, exit 130, the run recorded as failed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import home_env

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("delay", [0.2, 4.0], ids=["while-building-the-graph", "mid-training"])
def test_interrupted_training_fails_its_run_and_registers_nothing(mlkit_home, cli, delay):
    assert cli("data", "load", "digits").code == 0
    env = {**home_env(mlkit_home), "PYTHONUNBUFFERED": "1"}
    mlkit = Path(sys.executable).with_name("mlkit")
    process = subprocess.Popen(
        [
            str(mlkit),
            "train",
            str(REPO / "experiments" / "digits.toml"),
            "--iterations",
            "1",
            "--steps",
            "1000000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=mlkit_home,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        for line in process.stdout:
            if "AdaNet search" in line:
                break
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert err.strip() == "Error: interrupted"

    from mlkit.config import load_settings
    from mlkit.registry import open_store

    settings = load_settings()
    store = open_store(settings.registry_url, settings.artifacts_dir)
    (run,) = store.list_runs()
    assert run.status == "failed" and run.error == "interrupted"
    assert store.list_models() == []
