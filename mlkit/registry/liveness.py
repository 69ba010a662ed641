"""Recognising a dead run: one stored as ``running`` whose process will never finish it.

The process running a run records its process id and host with it (``create_run`` and
``reopen_run`` take them) and then beats every ``HEARTBEAT_SECONDS`` (``RegistryStore.heartbeat``).
A ``running`` run is dead when

- it ran on this host and its process no longer exists (killed, crashed, machine restarted), or
- its last heartbeat is older than ``STALE_AFTER``, wherever it ran (a process on another host,
  or a stopped one).

Runs that never recorded a process (written by another tool, or before registry schema 0008) are
taken as they are stored. The judgement is made on every read and never written: a dead run is
shown as ``failed`` with the reason, and can still be resumed (``mlkit train --resume``), which
records the new process.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta, timezone

HEARTBEAT_SECONDS = 30.0
STALE_AFTER = timedelta(minutes=5)


def this_host() -> str:
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else (or cannot tell: assume alive)
    return True


def death(
    status: str,
    pid: int | None,
    hostname: str | None,
    heartbeat_at: datetime | None,
    *,
    now: datetime | None = None,
) -> str | None:
    """Why a run with these stored fields is dead, or None when it is not (or cannot be told)."""
    if status != "running" or heartbeat_at is None:
        return None
    if pid is not None and hostname == this_host() and not pid_alive(pid):
        return f"its process {pid} on {hostname} ended without finishing it (killed or crashed)"
    now = now or datetime.now(timezone.utc)
    if now - heartbeat_at > STALE_AFTER:
        since = heartbeat_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        return (
            f"no sign of life from its process {pid} on {hostname} since {since} UTC "
            f"(it beats every {HEARTBEAT_SECONDS:g} s)"
        )
    return None
