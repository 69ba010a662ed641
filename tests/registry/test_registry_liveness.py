"""Dead runs: a run stored as running whose process is gone is read back as failed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from mlkit.registry import liveness
from mlkit.registry.liveness import STALE_AFTER, death, this_host
from mlkit.workflows.heartbeat import Heartbeat


def _gone_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_run_whose_process_is_gone_reads_as_failed_and_can_be_resumed(store):
    host, pid = this_host(), _gone_pid()
    run = store.create_run("digits", spec_text="", params={}, pid=pid, hostname=host)
    dead = store.get_run(run.id)
    assert (dead.status, dead.dead, dead.pid, dead.hostname) == ("failed", True, pid, host)
    assert (
        dead.error == f"its process {pid} on {host} ended without finishing it (killed or crashed)"
    )
    assert [r.id for r in store.list_runs(where="status = 'failed'")] == [run.id]
    assert store.list_runs(where="status = 'running'") == []
    # Resuming records the new process; the event keeps what it looked like before.
    again = store.reopen_run(run.id, pid=os.getpid(), hostname=host)
    assert (again.status, again.dead, again.pid, again.error) == (
        "running",
        False,
        os.getpid(),
        None,
    )
    resumed = store.list_events()[0]
    assert resumed.kind == "run_resumed"
    assert resumed.payload == {"previous_status": "failed", "pid": os.getpid(), "hostname": host}
    done = store.finish_run(run.id, status="finished")
    assert (done.status, done.dead) == ("finished", False)


def test_the_process_running_a_run_keeps_it_alive(store):
    run = store.create_run("digits", spec_text="", params={}, pid=os.getpid(), hostname=this_host())
    alive = store.get_run(run.id)
    assert (alive.status, alive.dead) == ("running", False)
    assert alive.heartbeat_at is not None
    with Heartbeat(store, run.id, interval=0.05):
        time.sleep(0.3)
    assert store.get_run(run.id).heartbeat_at > alive.heartbeat_at
    event = [e for e in store.list_events() if e.kind == "run_started"][0]
    assert event.payload["pid"] == os.getpid()
    assert [e.kind for e in store.list_events()].count("run_started") == 1  # beats log nothing


def test_runs_without_a_process_are_taken_as_stored(store):
    run = store.create_run("digits", spec_text="", params={})  # another tool, or before 0008
    assert (store.get_run(run.id).status, store.get_run(run.id).dead) == ("running", False)
    with pytest.raises(Exception, match="invalid process id"):
        store.create_run("digits", spec_text="", params={}, pid=0, hostname="h")
    with pytest.raises(Exception, match="invalid host name"):
        store.create_run("digits", spec_text="", params={}, pid=12, hostname=None)


def test_heartbeats_judge_processes_on_other_hosts():
    now = datetime(2026, 11, 29, 7, 0, tzinfo=timezone.utc)
    fresh, stale = now - timedelta(seconds=40), now - STALE_AFTER - timedelta(seconds=1)
    other = "another-host.example"
    assert death("running", 123, other, fresh, now=now) is None
    assert "no sign of life from its process 123 on another-host.example since 2026-11-29 " in (
        death("running", 123, other, stale, now=now) or ""
    )
    # A live process here with a stale heartbeat (stopped with Ctrl-Z, or a reused pid): dead.
    assert death("running", os.getpid(), this_host(), stale, now=now) is not None
    assert death("running", os.getpid(), this_host(), fresh, now=now) is None
    for status in ("finished", "failed"):
        assert death(status, _gone_pid(), this_host(), fresh, now=now) is None
    assert death("running", None, None, None, now=now) is None
    assert liveness.pid_alive(os.getpid()) and not liveness.pid_alive(_gone_pid())
