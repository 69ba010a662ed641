"""``make bench-pipeline``: what recording a pipeline costs, beside the work of its steps.

1. The same work two ways, ``--repeat`` times each (interleaved; medians), on the bundled digits
   in a fresh project: the steps' functions called directly (load the table, its statistics), and
   ``mlkit.workflows.pipeline.runner.run_pipeline`` on an ingest + validate pipeline, which also
   opens the registry, records the pipeline run and each step (inputs, outputs) and keeps a
   heartbeat. The difference, per run, is the pipeline's overhead.
2. The cache lookup with history: ``--history`` pipeline runs with a train step each are written to
   the registry, then the median time of ``cached_pipeline_step`` (a hit and a miss) and of listing
   the newest 50 pipeline runs with their steps (what ``when = "data_changed"`` reads).

No training. The last line printed is one JSON object of figures; timings on a shared machine are
noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "experiments" / "digits.toml"


def _median_s(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--history", type=int, default=2000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mlkit-bench-pipeline-"))
    try:
        os.environ["MLKIT_HOME"] = str(tmp)
        for name in ("MLKIT_REGISTRY_URL", "MLKIT_WAREHOUSE", "MLKIT_ARTIFACTS", "MLKIT_RUNS"):
            os.environ.pop(name, None)
        from mlkit.config import load_settings
        from mlkit.data.experiment_data import experiment_source
        from mlkit.data.stats import relation_stats
        from mlkit.experiment import load_experiment
        from mlkit.registry import open_store
        from mlkit.workflows.ingest import load_table
        from mlkit.workflows.pipeline.runner import run_pipeline

        settings = load_settings()
        experiment = load_experiment(EXPERIMENT)[0]
        pipeline = tmp / "checks.toml"
        pipeline.write_text(
            f'[pipeline]\nname = "checks"\nexperiment = "{EXPERIMENT}"\n'
            '[ingest]\nsource = "digits"\n[validate]\n'
        )

        def direct() -> None:
            load_table(settings, "digits", "digits")
            source = experiment_source(experiment.data, settings)
            relation_stats(source.warehouse, source.relation, label="label", skip=["id"])

        direct()  # warm-up: imports, the warehouse file
        run_pipeline(pipeline, settings)  # warm-up: the registry's schema
        # Interleaved, so that a load that comes and goes on a shared machine hits both alike.
        pairs = [
            (_median_s(direct, 1), _median_s(lambda: run_pipeline(pipeline, settings), 1))
            for _ in range(args.repeat)
        ]
        direct_s = statistics.median(d for d, _ in pairs)
        pipeline_s = statistics.median(p for _, p in pairs)
        overhead_s = statistics.median(p - d for d, p in pairs)

        with open_store(settings.registry_url, settings.artifacts_dir) as store:
            start = time.perf_counter()
            for i in range(args.history):
                run = store.create_pipeline_run("history", spec_text="", spec_sha256="0" * 64)
                store.start_pipeline_step(
                    run.id, "train", position=1, inputs={"i": i}, cache_key=f"{i:064d}"
                )
                store.finish_pipeline_step(run.id, "train", status="succeeded", outputs={"i": i})
                store.finish_pipeline_run(run.id, status="finished")
            write_s = time.perf_counter() - start
            middle = f"{args.history // 2:064d}"
            hit_s = _median_s(lambda: store.cached_pipeline_step("train", middle), 21)
            miss_s = _median_s(lambda: store.cached_pipeline_step("train", "f" * 64), 21)
            list_s = _median_s(lambda: store.list_pipeline_runs("history", limit=50), 11)
            assert store.cached_pipeline_step("train", middle) is not None

        result = {
            "bench": "pipeline",
            "steps_direct_s": round(direct_s, 4),
            "pipeline_run_s": round(pipeline_s, 4),
            "overhead_per_run_ms": round(overhead_s * 1000, 1),
            "overhead_fraction": round(overhead_s / direct_s, 3),
            "history_pipeline_runs": args.history,
            "record_one_pipeline_run_ms": round(write_s / args.history * 1000, 2),
            "cache_hit_ms": round(hit_s * 1000, 3),
            "cache_miss_ms": round(miss_s * 1000, 3),
            "list_50_runs_with_steps_ms": round(list_s * 1000, 2),
        }
        print(
            f"ingest + validate on digits: {direct_s:.3f} s directly, {pipeline_s:.3f} s as a "
            f"recorded pipeline run; cache lookup among {args.history} runs: hit "
            f"{hit_s * 1000:.2f} ms, miss {miss_s * 1000:.2f} ms"
        )
        print(json.dumps(result))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
