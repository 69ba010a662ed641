"""Runs' search reports and reference models (migration 0003), and reopening a run to resume it."""

from __future__ import annotations

import pytest

from mlkit.errors import RegistryError


def _run(store):
    return store.create_run("digits", spec_text="x", params={"a": 1})


def test_report_and_reference_models_are_stored_and_read_back(store):
    run = _run(store)
    assert run.report == {} and run.reference_models == {}
    store.record_run_report(run.id, reference_models={"best": "svc", "value": 0.99})
    stored = store.record_run_report(run.id, report={"iterations": [{"iteration": 0}]})
    assert stored.reference_models == {"best": "svc", "value": 0.99}  # None keeps what is stored
    again = store.get_run(run.id)
    assert again.report == {"iterations": [{"iteration": 0}]}
    assert store.list_runs()[0].reference_models["best"] == "svc"


def test_a_report_that_is_not_json_is_refused(store):
    run = _run(store)
    with pytest.raises(RegistryError, match="invalid report"):
        store.record_run_report(run.id, report={"x": float("nan")})


def test_reopen_a_failed_run_then_finish_it(store):
    run = _run(store)
    store.finish_run(run.id, status="failed", error="interrupted")
    reopened = store.reopen_run(run.id)
    assert reopened.status == "running" and reopened.error is None
    assert store.finish_run(run.id, status="finished").status == "finished"
    with pytest.raises(RegistryError, match="has finished; there is nothing to resume"):
        store.reopen_run(run.id)
    kinds = [e.kind for e in store.list_events() if e.run_id == run.id]
    assert "run_resumed" in kinds


def test_reopen_an_unknown_run(store):
    with pytest.raises(RegistryError, match="run 99 not found"):
        store.reopen_run(99)
