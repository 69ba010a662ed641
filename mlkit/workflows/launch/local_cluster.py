"""A ``TF_CONFIG`` cluster on one machine: real ``mlkit train`` processes on loopback ports.

Vertex AI (and any cluster manager) starts one ``mlkit train EXPERIMENT`` per task with
``TF_CONFIG`` naming the cluster and the task; each takes its role (see mlkit/search/cluster.py).
This launcher does the same locally: it starts a chief, N workers and M parameter servers as
``mlkit train EXPERIMENT --model-dir OUT/model --json`` processes, each with its own
``TF_CONFIG``, all with this process's environment (so the same MLKIT_HOME: warehouse and
registry). It waits for the chief and the workers, then stops the parameter servers (they serve
until stopped, as on Vertex AI, where the job ends when its chief does).

    python -m mlkit.workflows.launch.local_cluster experiments/iris.toml --workers 1 --steps 100

Each task's output goes to ``OUT/<task>.json`` (its ``--json`` result) and ``OUT/<task>.log``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from mlkit.errors import MlkitError, SearchError, UsageError, exit_code
from mlkit.workflows.train import checkpoint_step

if TYPE_CHECKING:
    from rich.status import Status

__all__ = ["cluster_spec", "launch_local_cluster", "main"]

# Workers end on their own when the search has run all its steps; after the chief has finished
# (or stopped at its budget) they get this long before they are stopped.
WORKER_GRACE_S = 60.0


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def cluster_spec(workers: int, ps: int = 1) -> dict[str, list[str]]:
    """A chief, ``workers`` workers and ``ps`` parameter servers on free loopback ports."""
    hosts = [f"127.0.0.1:{p}" for p in _free_ports(1 + workers + ps)]
    cluster = {"chief": hosts[:1]}
    if workers:
        cluster["worker"] = hosts[1 : 1 + workers]
    if ps:
        cluster["ps"] = hosts[1 + workers :]
    return cluster


def _mlkit_command() -> list[str]:
    """The ``mlkit`` command in this interpreter: a process, not an import of the CLI."""
    return [sys.executable, "-m", "mlkit"]


def launch_local_cluster(
    experiment: Path,
    out: Path,
    *,
    workers: int = 1,
    ps: int = 1,
    train_args: list[str] | None = None,
    timeout: float = 900.0,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Run ``mlkit train EXPERIMENT`` as a local cluster; return the cluster and each task's
    exit code and ``--json`` result. Raises SearchError when the chief or a worker fails."""
    if workers < 0 or ps < 0:
        raise UsageError("--workers and --ps: expected 0 or more")
    if workers and not ps:
        raise UsageError(
            "--ps 0: workers need at least one parameter server to share the variables",
            hint="give --ps 1",
        )
    experiment = Path(experiment).resolve()
    if not experiment.is_file():
        raise UsageError(f"{experiment}: no such experiment file")
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    model_dir = out / "model"
    if model_dir.exists() and any(model_dir.iterdir()):
        raise UsageError(
            f"{model_dir} is not empty: a cluster starts a new search in its model directory",
            hint="give another --out",
        )
    cluster = cluster_spec(workers, ps)
    processes: dict[str, subprocess.Popen] = {}
    files: list[IO[str]] = []
    try:
        for task_type, hosts in cluster.items():
            for index in range(len(hosts)):
                name = f"{task_type}{index}"
                env = {
                    **os.environ,
                    "TF_CONFIG": json.dumps(
                        {"cluster": cluster, "task": {"type": task_type, "index": index}}
                    ),
                }
                env.pop("AIP_CHECKPOINT_DIR", None)  # --model-dir names the shared directory
                stdout = open(out / f"{name}.json", "w")  # noqa: SIM115 - closed below
                stderr = open(out / f"{name}.log", "w")  # noqa: SIM115 - closed below
                files += [stdout, stderr]
                processes[name] = subprocess.Popen(
                    [
                        *_mlkit_command(),
                        "train",
                        str(experiment),
                        "--model-dir",
                        str(model_dir),
                        "--json",
                        *(train_args or []),
                    ],
                    env=env,
                    stdout=stdout,
                    stderr=stderr,
                    stdin=subprocess.DEVNULL,
                )
        deadline = time.monotonic() + timeout
        chief = processes["chief0"]
        with _Status(processes, model_dir, enabled=show_progress) as status:
            status.wait([chief], deadline)
            worker_deadline = min(deadline, time.monotonic() + WORKER_GRACE_S)
            worker_processes = [p for n, p in processes.items() if n.startswith("worker")]
            status.wait(worker_processes, worker_deadline)
    finally:
        _stop_all(processes)
        for f in files:
            f.close()
    tasks = {
        name: {"exit": process.returncode, "result": _result(out / f"{name}.json")}
        for name, process in processes.items()
    }
    if chief.returncode != 0:
        raise SearchError(
            f"the chief failed (exit {chief.returncode}): {_last_line(out / 'chief0.log')}",
            hint=f"see {out / 'chief0.log'}",
        )
    return {"cluster": cluster, "model_dir": str(model_dir), "tasks": tasks}


class _Status:
    """A status line while the cluster trains: each task's state and the latest checkpoint."""

    def __init__(self, processes: dict[str, subprocess.Popen], model_dir: Path, enabled: bool):
        self._processes = processes
        self._model_dir = model_dir
        self._started = time.monotonic()
        self._status: Status | None = None
        if enabled:
            from rich.console import Console

            self._status = Console(stderr=True).status(self._text())

    def __enter__(self) -> _Status:
        if self._status is not None:
            self._status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.stop()

    def _text(self) -> str:
        states = ", ".join(
            f"{name} {'running' if p.poll() is None else f'exit {p.returncode}'}"
            for name, p in self._processes.items()
        )
        step = checkpoint_step(self._model_dir)
        seconds = time.monotonic() - self._started
        return f"cluster: {states}; checkpoint at step {step:,}; {seconds:.0f} s"

    def wait(self, processes: list[subprocess.Popen], deadline: float) -> None:
        while any(p.poll() is None for p in processes) and time.monotonic() < deadline:
            if self._status is not None:
                self._status.update(self._text())
            time.sleep(0.5)


def _stop_all(processes: dict[str, subprocess.Popen]) -> None:
    """Stop every task still running (parameter servers always are): SIGTERM, then SIGKILL."""
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    for process in processes.values():
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _result(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlkit.workflows.launch.local_cluster",
        description="Run `mlkit train EXPERIMENT` as a local TF_CONFIG cluster "
        "(chief, workers, parameter servers) on loopback ports.",
    )
    parser.add_argument("experiment", type=Path, help="the experiment file")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--ps", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("cluster"), help="logs and model dir")
    for flag in ("--iterations", "--steps", "--max-steps", "--max-seconds"):
        parser.add_argument(flag, help=f"passed to mlkit train {flag}")
    args = parser.parse_args(argv)
    train_args: list[str] = []
    for flag in ("iterations", "steps", "max_steps", "max_seconds"):
        value = getattr(args, flag)
        if value is not None:
            train_args += [f"--{flag.replace('_', '-')}", value]
    try:
        summary = launch_local_cluster(
            args.experiment,
            args.out,
            workers=args.workers,
            ps=args.ps,
            train_args=train_args,
            show_progress=sys.stderr.isatty(),
        )
    except MlkitError as error:
        print(f"Error: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"Hint: {error.hint}", file=sys.stderr)
        return exit_code(error)
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
