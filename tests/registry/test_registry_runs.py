"""Runs: create, finish, read, list."""

from __future__ import annotations

from datetime import timezone

import pytest

from mlkit.errors import RegistryError


def test_run_lifecycle(store):
    run = store.create_run(
        "digits",
        spec_text="[data]\nsource = 'digits'\n",
        params={"max_iterations": 3},
        experiment_path="experiments/digits.toml",
        code_version="abc123",
        run_dir="runs/1",
    )
    assert run.status == "running"
    assert run.experiment == "digits"
    assert run.params == {"max_iterations": 3}
    assert run.started_at.tzinfo is timezone.utc
    assert run.finished_at is None

    done = store.finish_run(
        run.id,
        status="finished",
        metrics={"accuracy": 0.97},
        data_fingerprint={"rows": 1797, "sha256": "ab"},
    )
    assert done.status == "finished"
    assert done.metrics == {"accuracy": 0.97}
    assert done.data_fingerprint == {"rows": 1797, "sha256": "ab"}
    assert done.finished_at is not None and done.finished_at >= done.started_at
    assert store.get_run(run.id) == done


def test_failed_run_keeps_its_error(store):
    run = store.create_run("digits", spec_text="s", params={})
    failed = store.finish_run(run.id, status="failed", error="SearchError: out of budget")
    assert failed.status == "failed"
    assert failed.error == "SearchError: out of budget"
    assert failed.metrics == {}


def test_finish_twice_or_with_a_bad_status_is_refused(store):
    run = store.create_run("digits", spec_text="s", params={})
    with pytest.raises(RegistryError, match="invalid run status 'done'"):
        store.finish_run(run.id, status="done")
    store.finish_run(run.id, status="finished")
    with pytest.raises(RegistryError, match=f"run {run.id} is already finished"):
        store.finish_run(run.id, status="failed")


def test_missing_run(store):
    with pytest.raises(RegistryError) as info:
        store.get_run(12)
    assert info.value.message == "run 12 not found"
    with pytest.raises(RegistryError, match="run 12 not found"):
        store.finish_run(12, status="finished")


def test_list_runs_newest_first_and_by_experiment(store):
    ids = [store.create_run(name, spec_text="s", params={}).id for name in ("a", "b", "a", "a")]
    assert [r.id for r in store.list_runs()] == ids[::-1]
    assert [r.id for r in store.list_runs("a")] == [ids[3], ids[2], ids[0]]
    assert [r.id for r in store.list_runs("a", limit=2)] == [ids[3], ids[2]]
    assert store.list_runs("nope") == []
    with pytest.raises(RegistryError, match="invalid limit"):
        store.list_runs(limit=0)


def test_params_and_metrics_must_be_json(store):
    with pytest.raises(RegistryError, match="invalid params: Object of type object"):
        store.create_run("digits", spec_text="s", params={"x": object()})
    assert store.list_runs() == []
    run = store.create_run("digits", spec_text="s", params={})
    with pytest.raises(RegistryError, match="invalid metrics"):
        store.finish_run(run.id, status="finished", metrics={"loss": float("nan")})
    assert store.get_run(run.id).status == "running"


@pytest.mark.parametrize("value", [True, "0.5", b"0.5", bytearray(b"0.5"), None, [0.5]])
def test_a_metric_is_a_number_not_text_or_a_bool(store, value):
    run = store.create_run("digits", spec_text="s", params={})
    with pytest.raises(RegistryError, match=r"^invalid metric 'loss' .*: expected a finite number"):
        store.log_metrics(run.id, {"loss": value}, step=0)
    store.log_metrics(run.id, {"loss": 0.5}, step=0)


def test_numpy_values_are_stored_as_plain_json(store):
    np = pytest.importorskip("numpy")
    run = store.create_run("digits", spec_text="s", params={"shape": np.array([8, 8])})
    done = store.finish_run(
        run.id, status="finished", metrics={"accuracy": np.float32(0.5), "steps": np.int64(3)}
    )
    assert run.params == {"shape": [8, 8]}
    assert done.metrics == {"accuracy": 0.5, "steps": 3}


def test_data_statistics_go_through_the_store_with_their_event(store):
    run = store.create_run("digits", spec_text="", params={})
    assert store.run_data_stats(run.id) is None
    stats = {"rows": 10, "features": {"a": {"mean": 1.5}, "b": {"mean": 2.0}}, "label": None}
    store.record_run_data_stats(run.id, stats)
    assert store.run_data_stats(run.id) == stats
    event = store.list_events()[0]
    assert (event.kind, event.run_id, event.payload) == (
        "run_data_stats",
        run.id,
        {"rows": 10, "features": ["a", "b"]},
    )
    store.record_run_data_stats(run.id, {"rows": 3, "features": {}})  # replaces
    assert store.run_data_stats(run.id) == {"rows": 3, "features": {}}
    with pytest.raises(RegistryError, match="run 99 not found"):
        store.record_run_data_stats(99, stats)
    with pytest.raises(RegistryError, match="run 99 not found"):
        store.run_data_stats(99)
    with pytest.raises(RegistryError, match="invalid data statistics"):
        store.record_run_data_stats(run.id, {"rows": float("nan")})
    assert store.run_data_stats(run.id) == {"rows": 3, "features": {}}  # nothing half-written
