"""Kill a real `mlkit train` process with SIGKILL mid-search, then `mlkit train --resume RUN`
continues from its last checkpoint and ends like an uninterrupted run."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import home_env

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _checkpoint_step(run_dir: Path) -> int:
    try:
        text = (run_dir / "checkpoint").read_text()
    except OSError:
        return 0
    match = re.search(r'model_checkpoint_path: "model.ckpt-(\d+)"', text)
    return int(match.group(1)) if match else 0


def test_sigkilled_training_resumes_from_its_checkpoint_and_finishes(mlkit_home, cli):
    assert cli("data", "load", "iris").code == 0
    mlkit = Path(sys.executable).with_name("mlkit")
    process = subprocess.Popen(
        [str(mlkit), "train", str(REPO / "experiments" / "iris.toml"), "--steps", "3000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=home_env(mlkit_home),
        cwd=mlkit_home,
    )
    run_dir = mlkit_home / "runs" / "1"
    try:
        deadline = time.monotonic() + 300
        while _checkpoint_step(run_dir) < 400 and process.poll() is None:
            assert time.monotonic() < deadline, "no checkpoint at step 400 within 5 minutes"
            time.sleep(0.05)
        killed_at = _checkpoint_step(run_dir)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
    assert process.returncode == -signal.SIGKILL
    assert 400 <= killed_at < 6000  # killed mid-search, before its 2 x 3,000 steps

    from mlkit.config import load_settings
    from mlkit.registry import open_store

    settings = load_settings()
    store = open_store(settings.registry_url, settings.artifacts_dir)
    killed = store.get_run(1)  # nobody could record the kill; its process is gone though
    assert (killed.status, killed.dead) == ("failed", True)
    assert store.list_models() == []
    listed = json.loads(cli("runs", "list", "--json").out)
    assert [(r["status"], r["dead"], r["resumable"]) for r in listed] == [("failed", True, True)]
    assert "failed (process died), resumable" in cli("runs", "list").out
    assert "yes: mlkit train --resume 1" in cli("runs", "show", "1").out

    result = cli("train", "--resume", "1", "--json")
    assert result.code == 0, result.err
    outcome = json.loads(result.out)
    assert outcome["resumed"] is True
    assert outcome["resumed_from_step"] >= killed_at
    assert outcome["run"]["id"] == 1 and outcome["run"]["status"] == "finished"
    assert outcome["version"]["version"] == 1
    assert outcome["metrics"]["accuracy"] >= 0.9
    assert _checkpoint_step(run_dir) == 6000  # the full budget, no more
    run = store.get_run(1)
    assert run.status == "finished" and run.report["resumed"] is True
    assert run.report["iterations"] and run.reference_models["best"]
    kinds = [e.kind for e in store.list_events() if e.run_id == 1]  # newest first
    assert kinds[0] == "run_finished" and "run_resumed" in kinds
    again = cli("train", "--resume", "1")
    assert again.code == 4
    assert again.err.startswith("Error: run 1 has finished; there is nothing to resume")
