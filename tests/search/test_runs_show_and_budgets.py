"""A run stopped by its wall-clock budget finishes normally; `mlkit runs show` renders its report
(candidates per iteration, final ensemble, baselines) and the learning-curve plot exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_wall_clock_budget_then_runs_show(mlkit_home, cli):
    assert cli("data", "load", "wine").code == 0
    result = cli(
        "train",
        REPO / "experiments" / "wine.toml",
        "--iterations",
        "2",
        "--steps",
        "100000",
        "--max-seconds",
        "20",
        "--json",
    )
    assert result.code == 0, result.err
    outcome = json.loads(result.out)
    assert outcome["stopped_by"] == "max_seconds"
    assert outcome["run"]["status"] == "finished"
    assert outcome["metrics"]["accuracy"] > 0.5
    assert outcome["reference_models"]["metric"] == "accuracy"
    assert set(outcome["reference_models"]["models"]) >= {"logistic_regression", "random_forest"}
    plot = Path(outcome["plot"])
    assert plot.is_file() and plot.stat().st_size > 10_000
    assert list((mlkit_home / "runs" / "1").glob("events.out.tfevents.*"))  # TensorBoard

    shown = cli("runs", "show", "1")
    assert shown.code == 0, shown.err
    out = shown.out
    assert "Run 1 of experiment wine: finished" in out
    assert "Iteration 0: candidates (metrics on the evaluation split)" in out
    assert "joined ensemble" in out and "complexity" in out
    assert "dnn_1x64" in out and "dnn_2x64" in out and "dnn_1x128" in out
    assert "Final ensemble:" in out
    assert "stopped at its wall-clock budget" in out
    assert "Reference models (scikit-learn, same split, test metric)" in out
    assert f"learning curves: {plot}" in out

    plot.unlink()  # redrawn from the stored report
    redrawn = cli("runs", "show", "1")
    assert "learning curves:" in redrawn.out
    assert (mlkit_home / "runs" / "1" / "run-1-learning_curves.png").is_file()

    data = json.loads(cli("runs", "show", "1", "--json").out)
    first = data["run"]["report"]["iterations"][0]["candidates"]
    assert any(c["joined_ensemble"] for c in first)
    assert all(c["complexity"] is not None for c in first)


def test_runs_show_errors_are_one_line(mlkit_home, cli):
    bad = cli("runs", "show", "abc")
    assert bad.code == 2
    assert bad.err.strip() == "Error: RUN: expected a run id (a positive whole number), got 'abc'"
    missing = cli("runs", "show", "7")
    assert missing.code == 5
    assert missing.err.strip() == "Error: run 7 not found"


def test_resume_needs_exactly_one_of_file_or_run(mlkit_home, cli):
    both = cli("train", REPO / "experiments" / "wine.toml", "--resume", "1")
    assert both.code == 2
    assert both.err.startswith("Error: give either an experiment file or --resume RUN")
    unknown = cli("train", "--resume", "3")
    assert unknown.code == 5
    assert unknown.err.strip() == "Error: run 3 not found"
