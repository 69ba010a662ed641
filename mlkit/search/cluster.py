"""This process's role in a training cluster, read from ``TF_CONFIG`` (no TensorFlow imported).

Vertex AI (and ``python -m mlkit.workflows.launch.local_cluster`` locally) starts ``mlkit train``
once per task with ``TF_CONFIG`` naming the cluster and the task. ``mlkit train`` then takes
that role: the chief runs the search and registers the result, workers train, parameter
servers serve.

All tasks must share one model directory (checkpoints live there and the chief writes them; a
worker reads them to follow AdaNet's iterations). It is, in this order: ``--model-dir``; else
``AIP_CHECKPOINT_DIR``, which Vertex AI sets to the same ``<base output>/checkpoints/`` in every
replica of a CustomJob. A ``gs://BUCKET/PATH`` there is read as ``/gcs/BUCKET/PATH``, the Cloud
Storage FUSE mount Vertex AI gives every training container: the chief also writes reports, a
plot and the export next to the checkpoints with ordinary file operations.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlkit.errors import UsageError

ROLES = ("chief", "worker", "ps")
# Written by the chief into the shared model directory when its training ends (all steps run,
# a budget reached, Ctrl-C or a failure): workers stop at their next step instead of training
# on (or waiting for an iteration that will not come) after the chief is gone.
CHIEF_DONE_FILE = "chief_done.json"
_CHIEF_ALIASES = ("chief", "master")


@dataclass(frozen=True)
class ClusterTask:
    task_type: str  # "chief", "worker" or "ps"
    index: int
    counts: dict[str, int]  # tasks per role, e.g. {"chief": 1, "worker": 2, "ps": 1}

    @property
    def is_chief(self) -> bool:
        return self.task_type == "chief"

    @property
    def name(self) -> str:
        return f"{self.task_type}{self.index}"

    def share(self) -> tuple[int, int]:
        """``(index, count)`` of this task among the tasks that read training rows (the chief
        first, then the workers; a parameter server reads none): a streamed source's training
        split is cut into ``count`` disjoint shards, one per task."""
        count = 1 + self.counts.get("worker", 0)
        return (self.index + 1 if self.task_type == "worker" else 0), count

    def describe(self) -> dict[str, Any]:
        """What a run records: the roles and how many tasks each had."""
        return {"roles": dict(self.counts), "tasks": sum(self.counts.values())}


def task_from_env(env: Mapping[str, str] | None = None) -> ClusterTask | None:
    """The task ``TF_CONFIG`` gives this process, or None when it names no cluster of several
    tasks (not set, or a chief alone: plain single-process training)."""
    env = os.environ if env is None else env
    text = (env.get("TF_CONFIG") or "").strip()
    if not text:
        return None
    expected = 'expected {"cluster": {"chief": [...], ...}, "task": {"type": ..., "index": 0}}'
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"TF_CONFIG: not JSON ({error.msg}); {expected}") from error
    if not isinstance(config, dict):
        raise UsageError(f"TF_CONFIG: {expected}")
    cluster = config.get("cluster") or {}
    if not isinstance(cluster, dict) or not all(isinstance(v, list) for v in cluster.values()):
        raise UsageError(f"TF_CONFIG: 'cluster' must map roles to lists of host:port; {expected}")
    counts: dict[str, int] = {}
    for role, hosts in cluster.items():
        role = "chief" if role in _CHIEF_ALIASES else role
        if role not in ROLES:
            raise UsageError(
                f"TF_CONFIG: role {role!r} is not supported; expected chief, worker and ps",
                hint="mlkit evaluates on the chief; leave out evaluator tasks",
            )
        if hosts:
            counts[role] = counts.get(role, 0) + len(hosts)
    if sum(counts.values()) <= 1:
        return None
    if counts.get("chief") != 1:
        raise UsageError(f"TF_CONFIG: the cluster needs exactly one chief, got {counts}")
    if counts.get("worker") and not counts.get("ps"):
        raise UsageError(
            "TF_CONFIG: workers need at least one parameter server (ps) to share variables",
            hint="add a ps task, e.g. "
            "python -m mlkit.workflows.launch.local_cluster EXPERIMENT --workers 1",
        )
    task = config.get("task") or {}
    task_type = task.get("type") if isinstance(task, dict) else None
    task_type = "chief" if task_type in _CHIEF_ALIASES else task_type
    index = task.get("index", 0) if isinstance(task, dict) else None
    if task_type not in counts or not isinstance(index, int) or not 0 <= index < counts[task_type]:
        raise UsageError(
            f"TF_CONFIG: task {task!r} is not one of the cluster's tasks {counts}; {expected}"
        )
    return ClusterTask(task_type=task_type, index=index, counts=counts)


def shared_model_dir(flag: Path | None, env: Mapping[str, str] | None = None) -> Path:
    """The model directory every task of the cluster uses (see the module docstring)."""
    env = os.environ if env is None else env
    if flag is not None:
        return Path(flag).expanduser().resolve()
    given = (env.get("AIP_CHECKPOINT_DIR") or "").strip()
    if not given:
        raise UsageError(
            "TF_CONFIG names a cluster, but its tasks have no shared model directory",
            hint="give every task the same --model-dir DIR (Vertex AI sets AIP_CHECKPOINT_DIR)",
        )
    if given.startswith("gs://"):
        return Path("/gcs") / given[len("gs://") :].strip("/")
    if "://" in given:
        raise UsageError(f"AIP_CHECKPOINT_DIR: expected a gs:// URI or a path, got {given!r}")
    return Path(given).expanduser().resolve()


def mark_chief_done(model_dir: Path, **details: Any) -> None:
    path = Path(model_dir) / CHIEF_DONE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(details))
    tmp.replace(path)


def chief_done(model_dir: Path) -> bool:
    return (Path(model_dir) / CHIEF_DONE_FILE).is_file()
