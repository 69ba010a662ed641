"""Pipeline runs and their steps in the registry (schema 0009), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mlkit.errors import RegistryError
from mlkit.registry.liveness import this_host


def _gone_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _start(store, **kw):
    return store.create_pipeline_run(
        "digits-nightly", spec_text="[pipeline]", spec_sha256="a" * 64, path="p.toml", **kw
    )


def test_a_pipeline_run_records_its_steps_in_order_and_links_what_it_made(store, saved_model):
    run = store.create_run("digits", spec_text="", params={})
    mv = store.register_version("digits", saved_model(), run_id=run.id)
    pipeline = _start(store)
    assert (pipeline.status, pipeline.backend, pipeline.trigger) == ("running", "local", "manual")
    store.start_pipeline_step(pipeline.id, "train", position=2, inputs={"d": 1}, cache_key="k1")
    store.finish_pipeline_step(pipeline.id, "train", status="succeeded", outputs={"version": 1})
    store.start_pipeline_step(pipeline.id, "ingest", position=1, inputs={}, cache_key=None)
    store.finish_pipeline_step(pipeline.id, "ingest", status="succeeded", outputs={"rows": 9})
    store.finish_pipeline_step(pipeline.id, "deploy", status="skipped", reason="verdict failed")
    store.link_pipeline_run(pipeline.id, run_id=run.id, model="digits", version=mv.version)
    store.link_pipeline_run(pipeline.id, resources={"job": "projects/p/pipelineJobs/1"})
    done = store.finish_pipeline_run(pipeline.id, status="finished", message="ok")
    assert [(s.name, s.status) for s in done.steps] == [
        ("deploy", "skipped"),
        ("ingest", "succeeded"),
        ("train", "succeeded"),
    ]  # fmt: skip  (a step skipped without starting has position 0)
    again = store.get_pipeline_run(pipeline.id)
    assert (again.status, again.message, again.run_id, again.model, again.version) == (
        "finished", "ok", run.id, "digits", 1,
    )  # fmt: skip
    assert again.resources == {"job": "projects/p/pipelineJobs/1"}
    train = next(s for s in again.steps if s.name == "train")
    assert (train.inputs, train.outputs, train.cache_key) == ({"d": 1}, {"version": 1}, "k1")
    kinds = [e.kind for e in store.list_events()]
    assert "pipeline_started" in kinds and "pipeline_finished" in kinds


def test_the_cache_finds_the_newest_step_that_ran_and_succeeded_with_the_key(store):
    first = _start(store)
    store.start_pipeline_step(first.id, "train", position=1, inputs={}, cache_key="k")
    store.finish_pipeline_step(first.id, "train", status="succeeded", outputs={"version": 1})
    store.finish_pipeline_run(first.id, status="finished")
    second = _start(store)
    store.start_pipeline_step(second.id, "train", position=1, inputs={}, cache_key="k")
    store.finish_pipeline_step(
        second.id, "train", status="cached", outputs={"version": 1}, cached_from=first.id
    )
    store.start_pipeline_step(second.id, "compare", position=2, inputs={}, cache_key="c")
    store.finish_pipeline_step(second.id, "compare", status="failed", reason="boom")
    hit = store.cached_pipeline_step("train", "k")
    assert hit is not None and (hit.pipeline_run_id, hit.outputs) == (first.id, {"version": 1})
    assert store.cached_pipeline_step("train", "other") is None
    assert store.cached_pipeline_step("compare", "c") is None  # it failed
    assert [r.id for r in store.list_pipeline_runs()] == [second.id, first.id]
    assert store.list_pipeline_runs("another") == []


def test_a_killed_pipeline_run_reads_as_failed_and_reopens_in_the_new_process(store):
    pid = _gone_pid()
    run = _start(store, pid=pid, hostname=this_host())
    store.start_pipeline_step(run.id, "train", position=1, inputs={}, cache_key="k")
    dead = store.get_pipeline_run(run.id)
    assert (dead.status, dead.dead) == ("failed", True)
    assert "ended without finishing it" in (dead.message or "")
    again = store.reopen_pipeline_run(run.id, pid=os.getpid(), hostname=this_host())
    assert (again.status, again.pid, [s.status for s in again.steps]) == (
        "running", os.getpid(), ["running"],
    )  # fmt: skip
    with pytest.raises(RegistryError, match="is still running"):  # this process is alive
        store.reopen_pipeline_run(run.id, pid=os.getpid(), hostname=this_host())
    store.finish_pipeline_run(run.id, status="finished")
    with pytest.raises(RegistryError, match="has finished; there is nothing to resume"):
        store.reopen_pipeline_run(run.id)


def test_bad_statuses_and_unknown_runs_are_one_line_errors(store):
    run = _start(store)
    with pytest.raises(RegistryError, match="invalid step status 'done'"):
        store.finish_pipeline_step(run.id, "train", status="done")
    with pytest.raises(RegistryError, match="invalid pipeline status 'running'"):
        store.finish_pipeline_run(run.id, status="running")
    with pytest.raises(RegistryError, match="pipeline run 99 not found") as info:
        store.get_pipeline_run(99)
    assert "mlkit pipeline runs" in (info.value.hint or "")
    with pytest.raises(RegistryError, match="invalid pipeline name"):
        store.create_pipeline_run("Bad Name", spec_text="", spec_sha256="")
    store.finish_pipeline_run(run.id, status="stopped", message="drift")
    with pytest.raises(RegistryError, match="is stopped, not running"):
        store.start_pipeline_step(run.id, "train", position=1, inputs={}, cache_key=None)
