"""make bench-data-stream: `mlkit train` (the real AdaNet search) on a table bigger than a memory
cap.

A local-warehouse table of synthetic MNIST-like rows (28x28 pixels stored as BYTES; 1,000,000 rows
by default, 2.92 GiB once decoded to float32) is trained on by ``mlkit train`` with an experiment
that says ``[data] stream = true``, in a child process whose memory is capped (1.5 GiB by default,
TensorFlow included):

- the cap: a cgroup (v1 ``memory.limit_in_bytes`` or v2 ``memory.max``) when this process may
  create one (root), so the kernel enforces it; otherwise a watchdog that samples the child's
  resident memory every 20 ms and kills it above the cap. Which one is printed;
- the peak: the child's ``ru_maxrss`` from ``wait4`` (the kernel's high-water mark of its
  resident memory, shared libraries' pages included), the highest sample of its anonymous
  resident memory (``RssAnon``: what it allocated), and the cgroup's high-water mark (what the
  cap counts: anonymous memory and the page cache charged to it).

For contrast the in-memory path (the same experiment without ``stream``) is started under the same
cap and must fail: the table does not fit. The last line printed is one JSON object of figures.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CAP_MIB = 1536
SIDE = 28
PIXELS = SIDE * SIDE

EXPERIMENT = """
[experiment]
name = "big-stream"
description = "bench: a table bigger than the memory cap, streamed"

[data]
source = "big"
label = "label"
key = "id"
features = [{{ name = "pixels", shape = [{pixels}] }}]
stream = {stream}
{streaming}

[data.split]
eval = 0.02
test = 0.03

[search]
generator = "dnn"
layer_size = 64
max_depth = 2
learning_rate = 0.003
batch_size = {batch_size}
iterations = {iterations}
steps_per_iteration = {steps}
seed = 0
"""


def synthetic_digits(rows: int, seed: int) -> tuple:
    """Ten fixed blurred stroke templates (the same in every chunk), half of each shared by all
    classes; each image a template with its own brightness, a shift of up to two pixels and
    noise, clipped (about a third of the pixels non-zero). Not separable: a logistic regression on
    4,000 images scores about 0.8."""
    import numpy as np

    templates = np.random.default_rng(12345).random((10, SIDE, SIDE)) ** 6
    for _ in range(2):
        templates = (
            templates
            + np.roll(templates, 1, 1)
            + np.roll(templates, -1, 1)
            + np.roll(templates, 1, 2)
            + np.roll(templates, -1, 2)
        ) / 5
    templates = (0.5 * templates + 0.5 * templates.mean(axis=0, keepdims=True)).astype(np.float32)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, rows)
    base = templates[labels] * rng.uniform(0.7, 1.3, (rows, 1, 1)).astype(np.float32)
    shift = rng.integers(-2, 3, (rows, 2))
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            sel = (shift[:, 0] == dy) & (shift[:, 1] == dx)
            base[sel] = np.roll(base[sel], (dy, dx), axis=(1, 2))
    noisy = base + 0.1 * rng.standard_normal(base.shape, dtype=np.float32)
    top = noisy.max(axis=(1, 2), keepdims=True)
    scaled = np.clip(noisy / top * 1.6 - 0.6, 0, 1)
    return (scaled * 255).astype(np.uint8).reshape(rows, PIXELS), labels


def make_table(path: Path, rows: int) -> float:
    import numpy as np
    import pyarrow as pa
    from rich.progress import Progress

    from mlkit.data import LocalWarehouse
    from mlkit.data.ingest import pixels_column

    warehouse = LocalWarehouse(path)
    chunk = 50_000
    started = time.perf_counter()
    with Progress(transient=True) as progress:
        task = progress.add_task("writing the table", total=rows)
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            images, labels = synthetic_digits(n, seed=start + 1)
            table = pa.table(
                {
                    "id": pa.array(np.arange(start, start + n, dtype=np.int64)),
                    "label": pa.array(labels),
                    "pixels": pixels_column(images, "bytes"),
                }
            )
            warehouse.write_table("big", table, replace=start == 0)
            progress.advance(task, n)
    return time.perf_counter() - started


class MemoryCap:
    """A cgroup memory limit for one child process, where this process may create one."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.path: Path | None = None
        self.how = "watchdog (VmRSS sampled every 20 ms, kill above the cap)"
        name = f"mlkit-bench-{os.getpid()}-{time.monotonic_ns()}"
        for root, limit, how in (
            (Path("/sys/fs/cgroup/memory"), "memory.limit_in_bytes", "cgroup v1 memory limit"),
            (Path("/sys/fs/cgroup"), "memory.max", "cgroup v2 memory.max"),
        ):
            if not (root / limit).exists() and not (root / "cgroup.procs").exists():
                continue
            try:
                path = root / name
                path.mkdir()
            except OSError:
                continue
            try:
                (path / limit).write_text(str(cap))
                if (path / "memory.swappiness").exists():
                    (path / "memory.swappiness").write_text("0")
            except OSError:
                path.rmdir()
                continue
            self.path, self.how = path, f"{how} ({path})"
            break

    def enter(self) -> None:  # runs in the child, before exec
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def max_usage(self) -> int | None:
        """The cgroup's high-water mark (anonymous memory and page cache charged to it)."""
        if self.path is None:
            return None
        for name in ("memory.max_usage_in_bytes", "memory.peak"):
            if (self.path / name).exists():
                return int((self.path / name).read_text())
        return None

    def remove(self) -> None:
        if self.path is not None:
            for _ in range(50):
                try:
                    self.path.rmdir()
                    return
                except OSError:
                    time.sleep(0.1)


def _memory(pid: int) -> tuple[int, int]:
    """Resident memory in all, and anonymous (what the process allocated, not mapped files)."""
    found = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "RssAnon:")):
                    found[line.split(":")[0]] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return found.get("VmRSS", 0), found.get("RssAnon", 0)


def run_capped(args: list[str], env: dict, cap: int, label: str) -> dict:
    """Run ``args`` under the cap; its exit status, output, peak resident memory and seconds."""
    limit = MemoryCap(cap)
    started = time.perf_counter()
    out_file = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - read back after the child
    err_file = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
    child = subprocess.Popen(
        args, env=env, stdout=out_file, stderr=err_file, preexec_fn=limit.enter, cwd=ROOT
    )
    sampled = [0, 0]
    killed = [False]

    def watch() -> None:
        while child.poll() is None:
            rss, anon = _memory(child.pid)
            sampled[0] = max(sampled[0], rss)
            sampled[1] = max(sampled[1], anon)
            if rss > cap and limit.path is None:
                killed[0] = True
                os.kill(child.pid, signal.SIGKILL)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    watcher.join()
    seconds = time.perf_counter() - started
    charged = limit.max_usage()
    limit.remove()
    out_file.seek(0)
    err_file.seek(0)
    print(f"{label}: exit {child.returncode} after {seconds:.0f} s", flush=True)
    return {
        "code": child.returncode,
        "stdout": out_file.read(),
        "stderr": err_file.read(),
        "peak_rss": max(usage.ru_maxrss * 1024, sampled[0]),
        "ru_maxrss": usage.ru_maxrss * 1024,
        "peak_anon": sampled[1],
        "cgroup_max_usage": charged,
        "killed": killed[0] or child.returncode in (-9, 137),
        "seconds": seconds,
        "cap_by": limit.how,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cap-mib", type=int, default=CAP_MIB)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument(
        "--steps", type=int, default=0, help="per iteration (0: one epoch over all iterations)"
    )
    parser.add_argument("--skip-in-memory", action="store_true")
    args = parser.parse_args()
    cap = args.cap_mib * 2**20
    train_rows = int(args.rows * 0.95)
    steps = args.steps or -(-train_rows // (args.batch_size * args.iterations))

    with tempfile.TemporaryDirectory() as home:
        home_path = Path(home)
        write_seconds = make_table(home_path / "warehouse.duckdb", args.rows)
        decoded = args.rows * PIXELS * 4
        stored = (home_path / "warehouse.duckdb").stat().st_size
        print(
            f"table 'big': {args.rows:,} rows, {stored / 2**20:,.0f} MiB on disk, "
            f"{decoded / 2**30:.2f} GiB decoded (float32); cap {cap / 2**30:.2f} GiB; "
            f"search: {args.iterations} iterations x {steps:,} steps of {args.batch_size}",
            flush=True,
        )
        env = {**os.environ, "MLKIT_HOME": home, "COLUMNS": "120", "PYTHONUNBUFFERED": "1"}
        fill = dict(
            pixels=PIXELS, batch_size=args.batch_size, iterations=args.iterations, steps=steps
        )
        streamed_spec = home_path / "streamed.toml"
        streamed_spec.write_text(
            EXPERIMENT.format(
                stream="true", streaming="shuffle_buffer = 20000\nsample_rows = 2000", **fill
            )
        )
        mlkit = [sys.executable, "-c", "from mlkit.cli import run; run()"]
        streamed = run_capped(
            [*mlkit, "train", str(streamed_spec), "--json"], env, cap, "mlkit train (stream)"
        )
        if streamed["code"] != 0:
            sys.stderr.write(streamed["stderr"][-3000:])
            raise SystemExit(f"the streamed training failed or went over the cap: {streamed}")
        outcome = json.loads(streamed["stdout"][streamed["stdout"].index("{") :])
        in_memory = None
        if not args.skip_in_memory:
            memory_spec = home_path / "in_memory.toml"
            memory_spec.write_text(EXPERIMENT.format(stream="false", streaming="", **fill))
            in_memory = run_capped(
                [*mlkit, "train", str(memory_spec), "--json"], env, cap, "mlkit train (in memory)"
            )

    metrics = outcome["metrics"]
    trained = args.iterations * steps * args.batch_size
    peak = streamed["peak_rss"]
    figures = {
        "rows": args.rows,
        "decoded_gib": round(decoded / 2**30, 2),
        "stored_mib": round(stored / 2**20),
        "cap_gib": round(cap / 2**30, 2),
        "cap_enforced_by": streamed["cap_by"],
        "peak_rss_gib": round(peak / 2**30, 3),
        "ru_maxrss_gib": round(streamed["ru_maxrss"] / 2**30, 3),
        "peak_anon_gib": round(streamed["peak_anon"] / 2**30, 3),
        "cgroup_max_usage_gib": None
        if streamed["cgroup_max_usage"] is None
        else round(streamed["cgroup_max_usage"] / 2**30, 3),
        "peak_over_decoded": round(peak / decoded, 3),
        "decoded_over_cap": round(decoded / cap, 2),
        "train_seconds_total": round(streamed["seconds"], 1),
        "search_train_seconds": metrics.get("train_seconds"),
        "examples_trained": trained,
        "train_rows_per_s": round(trained / metrics["train_seconds"]),
        "rows_per_s_end_to_end": round(args.rows / streamed["seconds"]),
        "test_accuracy": round(metrics["accuracy"], 4),
        "reference_accuracy": round(outcome["reference_models"]["value"], 4),
        "reference_sample_rows": outcome["reference_models"]["sample"]["train_rows"],
        "split_rows": outcome["rows"],
        "architecture": outcome["architecture"].get("subnetworks"),
        "write_seconds": round(write_seconds, 1),
        "in_memory_under_cap": None
        if in_memory is None
        else {
            "exit": in_memory["code"],
            "failed": in_memory["code"] != 0,
            "peak_rss_gib": round(in_memory["peak_rss"] / 2**30, 3),
            "seconds": round(in_memory["seconds"], 1),
        },
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
