"""Distributed estimator training through TF_CONFIG: a chief, a worker and a parameter server as
three local processes on loopback ports."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_chief_worker_and_parameter_server_train_one_search_together(tmp_path):
    from mlkit.search.distributed import launch_local_cluster

    summary = launch_local_cluster(
        tmp_path, workers=1, spec_overrides={"iterations": 2, "steps_per_iteration": 150}
    )
    assert set(summary["cluster"]) == {"chief", "worker", "ps"}
    chief, worker = summary["results"]["chief0"], summary["results"]["worker0"]
    assert chief["task"] == "chief" and worker["task"] == "worker"
    # Both trained on the parameter server's variables (a worker holds none of its own). How the
    # 300 steps divide between them depends on scheduling: AdaNet starts each worker about 5 s
    # late, and on a loaded machine the chief can run every counted step itself.
    assert chief["steps_run_here"] > 0 and worker["steps_run_here"] > 0
    assert chief["global_step"] >= 300
    assert chief["accuracy"] > 0.6
