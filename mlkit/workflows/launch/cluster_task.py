"""``mlkit train`` as a worker or parameter server of a ``TF_CONFIG`` cluster.

The chief goes through :func:`mlkit.workflows.train.train` (it creates the run, evaluates,
exports and registers). A worker or parameter server reads the same experiment and the same
split from the warehouse (splits are deterministic, so every task trains on identical rows; a
streamed source's training split is cut by a hash range of the key into one disjoint shard per
training task, so that together they read each row once per pass; a worker takes the streamed
source's constants from the chief, :mod:`mlkit.data.stream_constants`, instead of scanning it;
a parameter server reads no rows),
builds the same estimator and runs its share of ``tf.estimator.train_and_evaluate``. It never
opens the registry.
"""

from __future__ import annotations

from pathlib import Path

from mlkit.config import Settings
from mlkit.data.experiment_data import load_experiment_data, shared_stream_data
from mlkit.data.stream import rows_read
from mlkit.data.stream_constants import text_sha256, wait_constants
from mlkit.data.training import TrainingData
from mlkit.errors import SearchError
from mlkit.experiment import load_experiment
from mlkit.search.cluster import ClusterTask
from mlkit.workflows.launch.results import TaskResult
from mlkit.workflows.train import Budget, Stage

__all__ = ["train_task"]


def train_task(
    experiment_path: Path,
    settings: Settings,
    task: ClusterTask,
    model_dir: Path,
    *,
    budget: Budget,
    on_stage: Stage | None = None,
) -> TaskResult:
    """Train (worker) or serve variables (ps) until the search ends; return what this task did."""
    stage = on_stage or (lambda _msg: None)
    experiment, text = load_experiment(experiment_path)
    experiment = budget.apply(experiment)
    model_dir.mkdir(parents=True, exist_ok=True)
    if task.task_type == "ps":  # holds variables: reads no rows
        stage(f"{task.name}: serving variables in {model_dir}")
        from mlkit.search.cluster_task import serve_variables  # imports TensorFlow

        serve_variables(task)
        raise SearchError(f"{task.name}: the parameter server stopped serving")
    data: TrainingData
    if experiment.data.stream:  # the chief's constants (its one scan), then this task's shard
        stage(f"{task.name}: waiting for the chief's statistics of {experiment.data.source}")
        found = wait_constants(model_dir, experiment_sha256=text_sha256(text))
        streamed = shared_stream_data(experiment.data, settings, found)
        streamed.train.shard(*task.share())
        data = streamed
    else:
        stage(f"{task.name}: reading {experiment.data.source} from the warehouse")
        data = load_experiment_data(experiment.data, settings, task=experiment.search.task)
    read_at_start = rows_read()
    stage(f"{task.name}: training in {model_dir}")
    from mlkit.search.cluster_task import run_task  # imports TensorFlow

    result = run_task(
        experiment.search,
        data.train,
        data.eval,
        n_classes=data.n_classes,
        model_dir=model_dir,
        task=task,
        categorical=data.columns.categorical() if data.columns is not None else None,
    )
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return TaskResult(
        experiment=experiment.experiment.name,
        cluster=task.describe(),
        **result,
        shard="{}/{}".format(*task.share()) if experiment.data.stream else None,
        peak_rss_mb=round(peak, 1),
        rows_read_at_start=read_at_start if experiment.data.stream else None,
        rows_read=rows_read() if experiment.data.stream else None,
    )
