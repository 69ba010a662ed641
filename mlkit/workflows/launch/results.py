"""What a launch returns besides a registered run: a cluster task's share, a submitted job.

Their fields are what ``mlkit train --json`` prints (the local cluster launcher reads a task's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["JobSubmitted", "TaskResult"]


@dataclass(frozen=True)
class TaskResult:
    """A worker's or parameter server's share of a ``TF_CONFIG`` cluster's search."""

    experiment: str
    cluster: dict[str, Any]  # the roles and how many tasks each had
    task: str  # "worker" or "ps"
    index: int
    steps_run_here: int  # training steps this process ran itself
    stopped_by: str | None  # "chief" when the chief's end stopped it
    model_dir: str
    shard: str | None = None  # a streamed source: "INDEX/COUNT", this task's share of the rows
    peak_rss_mb: float | None = None  # this process's peak resident memory
    # a streamed source: rows this process received from the warehouse before training (0: it
    # took the chief's constants instead of scanning) and in all
    rows_read_at_start: int | None = None
    rows_read: int | None = None

    @property
    def name(self) -> str:
        return f"{self.task}{self.index}"


@dataclass(frozen=True)
class JobSubmitted:
    """A Vertex AI CustomJob that trains the experiment."""

    name: str  # the job's resource name
    state: str
    display_name: str
    dashboard: str  # the job's page in the Cloud console
    worker_pools: int
    replicas: dict[str, int]  # chief, worker, ps
    image: str | None = None  # the container the replicas run in (own, or Google's prebuilt)
    package: str | None = None  # gs:// URI of mlkit's staged package (the prebuilt image's)
