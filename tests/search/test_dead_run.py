"""A `mlkit train` killed before its first checkpoint: the run shows as failed (its process died)
and not resumable, through the real CLI, instead of `running` forever."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import home_env

REPO = Path(__file__).resolve().parents[2]


def _run_recorded(registry: Path) -> bool:
    try:
        with sqlite3.connect(registry) as conn:
            return conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] > 0
    except sqlite3.Error:
        return False


def test_a_run_killed_before_its_first_checkpoint_shows_as_failed(mlkit_home, cli):
    assert cli("data", "load", "iris").code == 0
    mlkit = Path(sys.executable).with_name("mlkit")
    process = subprocess.Popen(
        [str(mlkit), "train", str(REPO / "experiments" / "iris.toml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=home_env(mlkit_home),
        cwd=mlkit_home,
    )
    try:
        deadline = time.monotonic() + 120
        while not _run_recorded(mlkit_home / "registry.db") and process.poll() is None:
            assert time.monotonic() < deadline, "no run recorded within 2 minutes"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
    assert process.returncode == -signal.SIGKILL
    assert not (mlkit_home / "runs" / "1" / "checkpoint").exists()

    [run] = json.loads(cli("runs", "list", "--json").out)
    assert (run["id"], run["status"], run["dead"], run["resumable"]) == (1, "failed", True, False)
    assert run["error"].startswith(f"its process {process.pid} on ")
    assert "failed (process died)" in cli("runs", "list").out
    assert json.loads(cli("runs", "list", "--where", "status = 'running'", "--json").out) == []
    shown = cli("runs", "show", "1")
    assert shown.code == 0, shown.err
    assert "Run 1 of experiment iris: failed" in shown.out
    assert "ended without finishing it (killed or crashed)" in shown.out
    assert "resumable" not in shown.out
    assert json.loads(cli("runs", "show", "1", "--json").out)["resumable"] is False
    again = cli("train", "--resume", "1")
    assert again.code == 4
    assert again.err.startswith("Error: run 1 has no checkpoint in ")
