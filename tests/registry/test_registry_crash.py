"""A registering process killed (SIGKILL) mid-way leaves no version row pointing at a missing or
partial artifact, and the next registration works. The process pauses at a named point through
the test-only hook in ``mlkit.registry.hooks`` and is then killed for real."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlkit.registry import open_store

CHILD = """
import sys
from pathlib import Path
from mlkit.registry import open_store
store = open_store(sys.argv[1], Path(sys.argv[2]))
store.register_version("digits", Path(sys.argv[3]), metrics={"who": "killed"})
print("committed")
"""


def _register_and_kill(url: str, artifacts: Path, source: Path, point: str, tmp: Path) -> None:
    marker = tmp / f"paused-{point.replace(':', '-')}"
    env = {**os.environ, "MLKIT_TEST_PAUSE_AT": point, "MLKIT_TEST_PAUSE_FILE": str(marker)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(artifacts), str(source)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"the child ended before pausing: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the child never reached the pause point")
        time.sleep(0.05)
    assert int(marker.read_text()) == proc.pid
    os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert "committed" not in out


@pytest.mark.parametrize("point", ["artifact:copied", "register:before_commit"])
def test_killed_registration_leaves_nothing_half_registered(
    store, registry_url, artifacts_dir, saved_model, tmp_path, point
):
    store.register_version("digits", saved_model("one"))
    store.close()

    _register_and_kill(registry_url, artifacts_dir, saved_model("killed"), point, tmp_path)

    with open_store(registry_url, artifacts_dir) as again:
        assert [mv.version for mv in again.list_versions("digits")] == [1]
        assert [e.kind for e in again.list_events("digits")].count("version_registered") == 1
        # The next registration takes the number and gets a complete, verified artifact.
        mv = again.register_version("digits", saved_model("two"), metrics={"who": "next"})
        assert mv.version == 2
        for version in again.list_versions("digits"):
            path = again.artifact_path(version)  # hash checked against the row
            assert (path / "saved_model.pb").is_file()
        assert (again.artifact_path(mv) / "saved_model.pb").read_bytes() == b"graph two"
