"""A pipeline on digits end to end through the real CLI: ingest → validate → train → compare →
deploy; a rerun on the same data reuses train and compare (cached) and deploys nothing; a run
killed during train resumes from the training run's checkpoint and finishes; a drift gate stops
a pipeline whose new data drifted from the champion's training data.

One project for the module, so the steps build on each other in order; a small search (a DNN,
one iteration of few steps) keeps the three trainings cheap.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

EXPERIMENT = """
[experiment]
name = "digits"
[data]
source = "digits"
label = "label"
key = "id"
features = [{ name = "pixels", shape = [64] }]
[data.split]
eval = 0.1
test = 0.2
[search]
generator = "dnn"
layer_size = 32
max_depth = 1
iterations = 1
steps_per_iteration = 120
baseline = false
[promotion]
metric = "accuracy"
[promotion.significance]
required = false
"""

PIPELINE = """
[pipeline]
name = "digits-nightly"
experiment = "digits-small.toml"
[ingest]
source = "{source}"
table = "digits"
[validate]
on_drift = "stop"
[train]
when = "always"
[compare]
[deploy]
traffic = 100
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    home = tmp_path_factory.mktemp("pipeline-project")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("MLKIT_REGISTRY_URL", "MLKIT_WAREHOUSE", "MLKIT_ARTIFACTS", "MLKIT_RUNS",
                     "MLKIT_ENDPOINT_URL"):  # fmt: skip
            patch.delenv(name, raising=False)
        patch.setenv("MLKIT_HOME", str(home))
        patch.setenv("COLUMNS", "200")
        (home / "digits-small.toml").write_text(EXPERIMENT)
        (home / "pipeline.toml").write_text(PIPELINE.format(source="digits"))
        yield home


def show(cli, run: int) -> dict:
    result = cli("pipeline", "show", str(run), "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def statuses(shown: dict) -> dict[str, str]:
    return {s["name"]: s["status"] for s in shown["steps"]}


def test_a_full_run_ingests_validates_trains_compares_and_deploys(project, cli):
    result = cli("pipeline", "run", project / "pipeline.toml")
    assert result.code == 0, result.err
    shown = show(cli, 1)
    assert shown["status"] == "finished"
    assert statuses(shown) == dict.fromkeys(
        ("ingest", "validate", "train", "compare", "deploy"), "succeeded"
    )
    steps = {s["name"]: s for s in shown["steps"]}
    assert steps["ingest"]["outputs"]["rows"] == 1797
    assert steps["train"]["inputs"]["data_sha256"] == steps["validate"]["outputs"]["data_sha256"]
    assert steps["train"]["cache_key"] and steps["compare"]["cache_key"]
    # the pipeline run links the training run, the version, the verdict and the deployment
    assert (shown["run_id"], shown["model"], shown["version"]) == (1, "digits", 1)
    assert shown["verdict_id"] == steps["compare"]["outputs"]["verdict"]
    assert shown["deployment_id"] == steps["deploy"]["outputs"]["deployment"]
    served = json.loads(cli("endpoints", "list", "--json").out)
    assert [(d["model"], d["version"], d["traffic_percent"]) for d in served] == [
        ("digits", 1, 100)
    ]


def test_a_rerun_on_the_same_data_skips_train_and_everything_after(project, cli):
    started = time.monotonic()
    result = cli("pipeline", "run", project / "pipeline.toml")
    assert result.code == 0, result.err
    shown = show(cli, 2)
    assert statuses(shown) == {
        "ingest": "succeeded", "validate": "succeeded", "train": "cached",
        "compare": "cached", "deploy": "skipped",
    }  # fmt: skip
    steps = {s["name"]: s for s in shown["steps"]}
    assert steps["train"]["cached_from"] == 1 and steps["train"]["outputs"]["version"] == 1
    assert steps["deploy"]["reason"] == "version 1 already serves on local"
    versions = json.loads(cli("models", "versions", "digits", "--json").out)
    assert [v["version"] for v in versions] == [1]
    assert time.monotonic() - started < 120  # no training, no evaluation


def test_if_drift_does_nothing_when_the_data_did_not_drift(project, cli):
    result = cli("pipeline", "run", project / "pipeline.toml", "--if-drift")
    assert result.code == 0, result.err
    assert "no drift: nothing to do" in result.out
    assert statuses(show(cli, 3))["train"] == "skipped"


def test_a_run_killed_during_train_resumes_from_the_checkpoint_and_finishes(project, cli):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    log = (project / "killed.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlkit", "pipeline", "run", str(project / "pipeline.toml"),
         "--no-cache"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=project,
    )  # fmt: skip
    run_dir = project / "runs" / "2"
    deadline = time.monotonic() + 600
    while process.poll() is None and time.monotonic() < deadline:
        if (run_dir / "checkpoint").exists() and list(run_dir.glob("model.ckpt-*.index")):
            break  # a whole checkpoint is written (its index comes last)
        time.sleep(0.2)
    assert process.poll() is None, (project / "killed.log").read_text()[-2000:]
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed = show(cli, 4)
    assert killed["status"] == "failed" and "ended without finishing it" in killed["message"]
    before = {s["name"]: s for s in killed["steps"]}
    assert before["train"]["status"] == "running"

    result = cli("pipeline", "run", project / "pipeline.toml", "--resume", "4")
    assert result.code == 0, result.err
    assert "resuming training run 2 from its last checkpoint" in result.out
    assert "training anew" not in result.out, result.out
    shown = show(cli, 4)
    assert shown["status"] == "finished"
    steps = {s["name"]: s for s in shown["steps"]}
    for name in ("ingest", "validate"):  # done before the kill: not run again
        assert steps[name]["started_at"] == before[name]["started_at"]
    assert steps["train"]["status"] == "succeeded"  # --no-cache holds for the resumed run
    assert steps["train"]["outputs"]["run"] == 2 and steps["train"]["outputs"]["resumed_run"] == 2
    assert steps["compare"]["status"] == "succeeded"
    assert shown["run_id"] == 2 and shown["version"] == 2


def test_resume_refuses_a_finished_run_and_another_file(project, cli):
    result = cli("pipeline", "run", project / "pipeline.toml", "--resume", "1")
    assert result.code == 5 and "pipeline run 1 has finished" in result.err
    other = project / "other.toml"
    other.write_text(PIPELINE.format(source="digits").replace("digits-nightly", "other"))
    result = cli("pipeline", "run", other, "--resume", "4")
    assert result.code == 2 and "ran another pipeline file" in result.err


def test_a_drift_gate_stops_the_pipeline_before_train(project, cli):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlkit.data.bundled import bundled_table

    table = bundled_table("digits")
    pixels = table["pixels"].combine_chunks()
    inverted = pa.compute.subtract(pa.scalar(16, pixels.type.value_type), pixels.flatten())
    flipped = pa.FixedSizeListArray.from_arrays(inverted, 64) if pa.types.is_fixed_size_list(
        pixels.type
    ) else pa.ListArray.from_arrays(pixels.offsets, inverted)  # fmt: skip
    drifted = table.set_column(table.column_names.index("pixels"), "pixels", flipped)
    pq.write_table(drifted, project / "drifted.parquet")
    path = project / "drifted.toml"
    path.write_text(PIPELINE.format(source=project / "drifted.parquet"))

    result = cli("pipeline", "run", path)
    assert result.code == 3, result.out + result.err
    assert "the drift gate stopped pipeline digits-nightly" in result.err
    shown = show(cli, 5)
    assert shown["status"] == "stopped"
    assert statuses(shown) == {
        "ingest": "succeeded", "validate": "succeeded", "train": "skipped",
        "compare": "skipped", "deploy": "skipped",
    }  # fmt: skip
    validate = next(s for s in shown["steps"] if s["name"] == "validate")
    assert validate["outputs"]["drift_fired"] and "pixels" in validate["outputs"]["drifted"]
    versions = json.loads(cli("models", "versions", "digits", "--json").out)
    assert sorted(v["version"] for v in versions) == [1, 2]  # nothing new was trained
