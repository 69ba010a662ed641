"""A registry filled through the store API alone (no training, no TensorFlow): runs with metrics
by step and a search report, versions with metrics and tags, verdicts, a deployment, a canary and
a rollback. For the dashboard's HTTP tests and ``bench/ui.py``; the browser tests use a trained
registry (``tests/ui/story.py``)."""

from __future__ import annotations

import os
from pathlib import Path

from mlkit.registry import RegistryStore


def make_source(path: Path) -> Path:
    """A directory shaped like a small SavedModel."""
    (path / "variables").mkdir(parents=True, exist_ok=True)
    (path / "saved_model.pb").write_bytes(os.urandom(512))
    (path / "variables" / "variables.index").write_bytes(os.urandom(64))
    return path


REPORT = {
    "iterations": [
        {
            "iteration": 0,
            "candidates": [
                {"name": "linear", "hparams": {"kind": "linear"}, "complexity": 1.0,
                 "metrics": {"accuracy": 0.8, "loss": 0.5}, "joined_ensemble": True},
                {"name": "dnn_1x16", "hparams": {"kind": "dnn", "layers": 1, "width": 16},
                 "complexity": 2.0, "metrics": {"accuracy": 0.7, "loss": 0.6},
                 "joined_ensemble": False},
            ],
        }
    ],
    "final": {"subnetworks": ["linear"], "members": [{"name": "linear", "iteration": 0}]},
    "curves": {"t0_linear": [[1, 1.2], [5, 0.8], [10, 0.5]], "t0_dnn_1x16": [[1, 1.3], [5, 0.9]]},
}  # fmt: skip

VERDICT = {
    "rows": 30,
    "metric": "accuracy",
    "candidate": {"metrics": {"accuracy": 0.9, "recall_yes": 1.0},
                  "slices": {"a": {"rows": 10, "accuracy": 0.9}},
                  "confusion": {"classes": ["no", "yes"], "matrix": [[12, 3], [0, 15]]}},
    "baseline": {"metrics": {"accuracy": 0.8}, "slices": {"a": {"rows": 10, "accuracy": 0.8}}},
    "differences": {"accuracy": 0.1},
    "intervals": {"level": 0.95, "accuracy": [0.02, 0.18]},
    "significance": {"method": "mcnemar exact", "p_value": 0.03},
    "checks": [{"name": "accuracy beats the baseline", "status": "pass", "reason": "0.9 > 0.8"}],
}  # fmt: skip


def fill(store: RegistryStore, workdir: Path, versions: int = 3, runs: int = 2) -> None:
    """``runs`` runs of experiment ``toy`` and ``versions`` versions of model ``toy`` (spread
    over the runs): version 1 deployed, 2 deployed over a failed verdict (forced) and rolled
    back, then 3 as a 20% canary beside 1."""
    source = make_source(workdir / "source")
    run_ids = []
    for r in range(runs):
        run = store.create_run("toy", spec_text="", params={"search": {"iterations": r + 1}})
        store.log_metrics(run.id, {"loss": 1.0 / (r + 1)}, step=1)
        store.log_metrics(run.id, {"loss": 0.5 / (r + 1)}, step=10)
        store.record_run_report(run.id, report=REPORT, reference_models={
            "metric": "accuracy", "best": "logistic_regression", "value": 0.85,
            "models": {"logistic_regression": {"accuracy": 0.85, "seconds": 0.1}}})  # fmt: skip
        fingerprint = {"table": "toy", "rows": 100, "content_sha256": "ab" * 32}
        store.finish_run(
            run.id, status="finished", metrics={"accuracy": 0.8 + r / 100},
            data_fingerprint=fingerprint,
        )  # fmt: skip
        store.record_run_data_stats(run.id, {"features": {"x": {
            "count": 100, "missing": 0, "mean": 0.5, "std": 0.1, "min": 0.0, "max": 1.0,
            "histogram": {"edges": [0, 0.5, 1], "counts": [40, 60]}}}})  # fmt: skip
        run_ids.append(run.id)
    for i in range(versions):
        store.register_version(
            "toy",
            source,
            run_id=run_ids[i % runs],
            metrics={"accuracy": 0.8 + (i % 100) / 1000, "loss": 0.5 - (i % 50) / 1000},
            signature={"inputs": {"x": [1]}, "task": "classification", "n_classes": 2},
            tags={"team": "ml" if i % 2 else "vision"},
        )
    if versions >= 2:
        v1 = store.record_verdict(
            "toy", 1, None, metric="accuracy", candidate_value=0.8, baseline_value=None,
            passed=True, reason="nothing is deployed",
        )  # fmt: skip
        store.deploy("toy", 1, verdict_id=v1.id)
        v2 = store.record_verdict("toy", 2, 1, metric="accuracy", candidate_value=0.9,
                                  baseline_value=0.8, passed=False, reason="failed 1 of 1 checks",
                                  details=VERDICT, forced=True, forced_by="tester",
                                  force_reason="try it")  # fmt: skip
        store.deploy("toy", 2, verdict_id=v2.id, action="forced", actor="tester", reason="try")
        store.rollback("toy", actor="tester", reason="version 2 looked worse")
    if versions >= 3:
        v3 = store.record_verdict(
            "toy", 3, 1, metric="accuracy", candidate_value=0.9, baseline_value=0.8,
            passed=True, reason="passed 1 checks", details=VERDICT,
        )  # fmt: skip
        store.set_traffic("toy", {1: 80, 3: 20}, version=3, verdict_id=v3.id, action="promote")
