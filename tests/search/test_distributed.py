"""Distributed training through TF_CONFIG with the real `mlkit train`: a chief, a worker and a
parameter server as three local processes on loopback ports (slow), and the boundary checks of
TF_CONFIG and the cluster flags (fast)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlkit.errors import UsageError
from mlkit.search.cluster import ClusterTask, shared_model_dir, task_from_env

REPO = Path(__file__).resolve().parents[2]
CLUSTER = {"chief": ["h:1"], "worker": ["h:2", "h:3"], "ps": ["h:4"]}


def tf_config(task_type: str, index: int = 0, cluster=None) -> dict[str, str]:
    return {
        "TF_CONFIG": json.dumps(
            {"cluster": cluster or CLUSTER, "task": {"type": task_type, "index": index}}
        )
    }


@pytest.mark.slow
def test_mlkit_train_processes_train_one_search_and_only_the_chief_registers(mlkit_home, cli):
    from mlkit.config import load_settings
    from mlkit.data.experiment_data import load_experiment_data
    from mlkit.registry import open_store
    from mlkit.savedmodel import SavedModelRunner
    from mlkit.workflows.launch.local_cluster import launch_local_cluster

    assert cli("data", "load", "iris").code == 0
    # A wall-clock budget, not a step count, ends this search: how fast the chief runs its steps
    # and when the worker joins (TensorFlow staggers workers and polls for the chief's variables
    # every 30 s) depend on the machine's load, so a short step count can end before the worker
    # has joined. The chief stops at 75 s and marks the shared model directory; the worker stops
    # at its next step.
    summary = launch_local_cluster(
        REPO / "experiments" / "iris.toml",
        mlkit_home / "cluster",
        workers=1,
        ps=1,
        train_args=["--iterations", "2", "--steps", "100000", "--max-seconds", "75"],
    )
    tasks = summary["tasks"]
    assert set(tasks) == {"chief0", "worker0", "ps0"}
    assert all(t["exit"] is not None for t in tasks.values())  # every process has ended
    chief, worker = tasks["chief0"], tasks["worker0"]
    assert chief["exit"] == 0 and worker["exit"] == 0, tasks
    assert tasks["ps0"]["result"] is None  # it served until stopped and reported nothing

    # The worker trained on the parameter server's variables. How the steps divide between it and
    # the chief depends on scheduling; only that it ran some is certain.
    work = worker["result"]
    assert work["task"] == "worker" and work["index"] == 0
    assert work["steps_run_here"] > 0
    assert work["stopped_by"] == "chief"
    assert "run" not in work and "version" not in work
    assert work["model_dir"] == summary["model_dir"]

    # Exactly one run and one version, both the chief's.
    settings = load_settings()
    store = open_store(settings.registry_url, settings.artifacts_dir)
    runs = store.list_runs()
    assert len(runs) == 1
    run = runs[0]
    assert run.status == "finished"
    assert run.environment["cluster"] == {
        "roles": {"chief": 1, "worker": 1, "ps": 1},
        "tasks": 3,
    }
    assert run.report["stopped_by"] == "max_seconds"
    versions = store.list_versions("iris")
    assert [v.version for v in versions] == [1] and versions[0].run_id == run.id
    assert chief["result"]["run"]["id"] == run.id
    assert chief["result"]["version"]["version"] == 1

    # The registered SavedModel predicts the held-out rows as well as the chief measured.
    from mlkit.experiment import load_experiment

    experiment, _ = load_experiment(REPO / "experiments" / "iris.toml")
    test = load_experiment_data(experiment.data, settings).test
    outputs = SavedModelRunner(store.artifact_path(versions[0])).predict_arrays(test.features)
    accuracy = float(np.mean(np.argmax(outputs["probabilities"], axis=1) == test.labels))
    assert accuracy == pytest.approx(run.metrics["accuracy"], abs=1e-6)
    assert accuracy > 0.8


def test_tf_config_gives_each_task_its_role():
    assert task_from_env({}) is None
    assert task_from_env({"TF_CONFIG": ""}) is None
    # A chief alone (what a one-replica job may get) is plain single-process training.
    assert task_from_env(tf_config("chief", cluster={"chief": ["h:1"]})) is None
    chief = task_from_env(tf_config("chief"))
    assert chief.is_chief and chief.counts == {"chief": 1, "worker": 2, "ps": 1}
    worker = task_from_env(tf_config("worker", 1))
    assert (worker.task_type, worker.index, worker.is_chief) == ("worker", 1, False)
    master = task_from_env(tf_config("master", cluster={"master": ["h:1"], "ps": ["h:2"]}))
    assert master.is_chief and master.describe() == {"roles": {"chief": 1, "ps": 1}, "tasks": 2}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TF_CONFIG": "{cluster"}, "TF_CONFIG: not JSON"),
        (tf_config("worker", 2), "TF_CONFIG: task {'type': 'worker', 'index': 2} is not one of"),
        (tf_config("evaluator"), "TF_CONFIG: task {'type': 'evaluator', 'index': 0} is not one"),
        (
            tf_config("chief", cluster={**CLUSTER, "evaluator": ["h:9"]}),
            "TF_CONFIG: role 'evaluator' is not supported",
        ),
        (
            tf_config("chief", cluster={"chief": ["h:1"], "worker": ["h:2"]}),
            "TF_CONFIG: workers need at least one parameter server",
        ),
        (
            tf_config("worker", cluster={"worker": ["h:1"], "ps": ["h:2"]}),
            "TF_CONFIG: the cluster needs exactly one chief",
        ),
    ],
)
def test_a_bad_tf_config_is_one_line(env, message):
    with pytest.raises(UsageError) as caught:
        task_from_env(env)
    assert caught.value.message.startswith(message)
    assert "\n" not in caught.value.message


def test_the_shared_model_dir_comes_from_the_flag_or_vertex(tmp_path):
    assert shared_model_dir(tmp_path / "m", {"AIP_CHECKPOINT_DIR": "gs://b/x"}) == tmp_path / "m"
    # Vertex AI sets the same AIP_CHECKPOINT_DIR in every replica; Cloud Storage FUSE mounts it.
    got = shared_model_dir(None, {"AIP_CHECKPOINT_DIR": "gs://bucket/job/checkpoints/"})
    assert got == Path("/gcs/bucket/job/checkpoints")
    with pytest.raises(UsageError, match="no shared model directory"):
        shared_model_dir(None, {})
    with pytest.raises(UsageError, match="AIP_CHECKPOINT_DIR: expected a gs:// URI or a path"):
        shared_model_dir(None, {"AIP_CHECKPOINT_DIR": "s3://bucket/x"})


def test_cluster_flags_are_checked_at_the_boundary(mlkit_home, cli, monkeypatch):
    iris = str(REPO / "experiments" / "iris.toml")
    result = cli("train", iris, "--model-dir", str(mlkit_home / "m"))
    assert result.code == 2
    assert result.err.startswith(
        "Error: --model-dir is for the tasks of a TF_CONFIG cluster, and TF_CONFIG names none"
    )
    result = cli("train", iris, "--workers", "2")
    assert result.code == 2
    assert "Error: --workers/--ps size a Vertex AI job (--backend vertex)" in result.err
    monkeypatch.setenv("TF_CONFIG", tf_config("worker")["TF_CONFIG"])
    monkeypatch.delenv("AIP_CHECKPOINT_DIR", raising=False)
    result = cli("train", iris)
    assert result.code == 2
    assert result.err.startswith(
        "Error: TF_CONFIG names a cluster, but its tasks have no shared model directory"
    )
    result = cli("train", "--resume", "1")
    assert result.code == 2
    assert result.err.startswith("Error: --resume continues a single-process run")
    monkeypatch.setenv("TF_CONFIG", "[1, 2]")
    result = cli("train", iris, "--model-dir", str(mlkit_home / "m"))
    assert result.code == 2 and result.err.startswith("Error: TF_CONFIG: expected {")


def test_each_training_task_takes_one_share_of_a_streamed_split():
    two_workers = {"chief": 1, "worker": 2, "ps": 1}
    assert ClusterTask("chief", 0, two_workers).share() == (0, 3)
    assert ClusterTask("worker", 0, two_workers).share() == (1, 3)
    assert ClusterTask("worker", 1, two_workers).share() == (2, 3)


def test_the_launcher_refuses_a_used_model_dir(tmp_path):
    from mlkit.workflows.launch.local_cluster import launch_local_cluster

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "checkpoint").write_text("")
    with pytest.raises(UsageError, match="is not empty: a cluster starts a new search"):
        launch_local_cluster(REPO / "experiments" / "iris.toml", tmp_path, workers=1)
    with pytest.raises(UsageError, match="--ps 0: workers need at least one parameter server"):
        launch_local_cluster(REPO / "experiments" / "iris.toml", tmp_path / "o", ps=0)


MEMORY_CAP_MB = 2500  # per process: TensorFlow and the estimator, not the table


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["local", "bigquery"])
def test_a_streamed_search_in_a_cluster_reads_one_shard_per_task(
    mlkit_home, cli, backend, request, monkeypatch
):
    """A chief and two workers (and a ps) train a streamed experiment: each streams its own
    third of the training split; the chief registers the one version."""
    from mlkit.workflows.launch.local_cluster import launch_local_cluster

    text = (REPO / "experiments" / "digits-stream.toml").read_text()
    if backend == "bigquery":
        emulator = request.getfixturevalue("bq_emulator")
        for key, value in emulator.env().items():
            monkeypatch.setenv(key, value)
        assert cli("data", "load", "digits", "-t", "bq://test.shards.digits").code == 0
        text = text.replace('source = "digits"', 'source = "bq://test.shards.digits"')
    else:
        assert cli("data", "load", "digits").code == 0
    experiment = mlkit_home / "stream.toml"
    experiment.write_text(text)
    summary = launch_local_cluster(
        experiment,
        mlkit_home / "cluster",
        workers=2,
        ps=1,
        train_args=["--iterations", "1", "--steps", "100000", "--max-seconds", "60"],
    )
    tasks = summary["tasks"]
    assert {n: t["exit"] for n, t in tasks.items() if n != "ps0"} == {
        "chief0": 0,
        "worker0": 0,
        "worker1": 0,
    }, tasks
    shards = sorted(tasks[w]["result"]["shard"] for w in ("worker0", "worker1"))
    assert shards == ["1/3", "2/3"]  # the chief streams shard 0/3
    for name in ("worker0", "worker1"):
        assert tasks[name]["result"]["peak_rss_mb"] < MEMORY_CAP_MB
        # no scan of its own: the chief's constants (stream_constants.json), then its shard
        assert tasks[name]["result"]["rows_read_at_start"] == 0
        assert tasks[name]["result"]["rows_read"] > 0
    assert tasks["chief0"]["result"]["version"]["version"] == 1


@pytest.mark.slow
def test_a_streamed_tabular_search_in_a_cluster(mlkit_home, cli):
    """The churn CSV (categories, NULLs, a text label) streamed by a chief and a worker (and a
    ps): the worker takes the chief's fitted preprocessing; the version serves raw rows."""
    from mlkit.workflows.launch.local_cluster import launch_local_cluster

    assert cli("data", "load", REPO / "examples" / "churn.csv", "--table", "churn").code == 0
    experiment = mlkit_home / "churn-stream.toml"
    experiment.write_text(
        '[experiment]\nname = "churn"\n[data]\nsource = "churn"\nlabel = "churned"\n'
        'stream = true\n[search]\ngenerator = ["dnn"]\nlayer_size = 8\nbatch_size = 32\n'
    )
    summary = launch_local_cluster(
        experiment,
        mlkit_home / "cluster",
        workers=1,
        ps=1,
        train_args=["--iterations", "1", "--steps", "100000", "--max-seconds", "45"],
    )
    tasks = summary["tasks"]
    assert {n: t["exit"] for n, t in tasks.items() if n != "ps0"} == {"chief0": 0, "worker0": 0}
    worker = tasks["worker0"]["result"]
    assert worker["shard"] == "1/2" and worker["rows_read_at_start"] == 0
    version = tasks["chief0"]["result"]["version"]
    assert version["signature"]["classes"] == ["no", "yes"]
    assert version["signature"]["kinds"]["plan"] == "categorical"
