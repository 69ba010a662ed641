"""The pipeline on Vertex AI Pipelines: compiled to a KFP v2 spec that KFP's own loader reads back,
whose components' commands really run mlkit's steps; submitted as a PipelineJob and scheduled
through the real google-cloud-aiplatform SDK against fakes on loopback (Vertex AI Pipelines, and
Cloud Storage for the pipeline root)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.fakes.vertex_pipelines import FakeVertexPipelines
from tests.registry.fake_gcs import FakeGcs

REPO = Path(__file__).resolve().parents[2]
EXPERIMENT = REPO / "experiments" / "digits.toml"
EXAMPLE = REPO / "examples" / "digits-pipeline.toml"
IMAGE = "us-docker.pkg.dev/demo/mlkit/train:1"


@pytest.fixture
def vertex(monkeypatch):
    with FakeVertexPipelines() as fake, FakeGcs() as gcs:
        monkeypatch.setenv("MLKIT_VERTEX_PROJECT", "demo-project")
        monkeypatch.setenv("MLKIT_VERTEX_LOCATION", "us-central1")
        monkeypatch.setenv("MLKIT_VERTEX_STAGING_BUCKET", "gs://demo-bucket")
        monkeypatch.setenv("MLKIT_VERTEX_IMAGE", IMAGE)
        monkeypatch.setenv("MLKIT_VERTEX_API_ENDPOINT", fake.url)
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
        yield fake


def test_compile_writes_a_spec_that_kfps_loader_reads_back(mlkit_home, cli, monkeypatch):
    from kfp import components

    monkeypatch.setenv("MLKIT_VERTEX_IMAGE", IMAGE)
    monkeypatch.setenv("MLKIT_REGISTRY_URL", "postgresql://mlkit@db.internal/registry")
    out = mlkit_home / "spec" / "digits.yaml"
    result = cli("pipeline", "compile", EXAMPLE, "-o", out)
    assert result.code == 0, result.err
    assert "components begin, ingest, validate, train, compare, deploy, end" in " ".join(
        result.out.split()
    )
    loaded = components.load_component_from_file(str(out))
    assert loaded.name == "digits-nightly"
    assert sorted(loaded.component_spec.inputs) == ["experiment_toml", "pipeline_toml"]
    spec = yaml.safe_load(out.read_text())
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {f"mlkit-{s}" for s in ("begin", "ingest", "validate", "train",
                                                  "compare", "deploy", "end")}  # fmt: skip
    assert tasks["mlkit-train"]["dependentTasks"] == ["mlkit-validate"]
    assert tasks["mlkit-train"]["inputs"]["parameters"]["run_id"]["taskOutputParameter"] == {
        "outputParameterKey": "next_run", "producerTask": "mlkit-validate",
    }  # fmt: skip
    assert all(not t.get("cachingOptions", {}).get("enableCache") for t in tasks.values())
    train = spec["deploymentSpec"]["executors"]["exec-mlkit-train"]["container"]
    assert train["image"] == IMAGE
    assert {"name": "MLKIT_REGISTRY_URL", "value": "postgresql://mlkit@db.internal/registry"} in (
        train["env"]
    )
    assert "mlkit pipeline step train" in " ".join(train["command"])


def test_compile_without_an_image_says_what_to_set(mlkit_home, cli, monkeypatch):
    monkeypatch.delenv("MLKIT_VERTEX_IMAGE", raising=False)
    result = cli("pipeline", "compile", EXAMPLE, "-o", mlkit_home / "p.yaml")
    assert result.code == 2 and "set MLKIT_VERTEX_IMAGE" in result.err


def _run_component(spec: dict, step: str, values: dict[str, str], home: Path) -> str:
    """Run a compiled component's container command here, as the container would (mlkit on the
    PATH, the arguments KFP substitutes); return the run id it passes on."""
    container = spec["deploymentSpec"]["executors"][f"exec-mlkit-{step}"]["container"]
    out = home / f"{step}-run-id"
    args = [values["pipeline_toml"], values["experiment_toml"], values.get("run_id", ""), str(out)]
    env = {**os.environ, "MLKIT_HOME": str(home), "PYTHONPATH": str(REPO),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}  # fmt: skip
    done = subprocess.run(
        [*container["command"], *args], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return out.read_text()


def test_the_compiled_components_run_the_steps_into_one_pipeline_run(mlkit_home, cli, monkeypatch):
    monkeypatch.setenv("MLKIT_VERTEX_IMAGE", IMAGE)
    pipeline = mlkit_home / "checks.toml"
    pipeline.write_text(
        f'[pipeline]\nname = "checks"\nexperiment = "{EXPERIMENT}"\n'
        '[ingest]\nsource = "digits"\n[validate]\n'
    )
    out = mlkit_home / "checks.yaml"
    assert cli("pipeline", "compile", pipeline, "-o", out).code == 0
    spec = yaml.safe_load(out.read_text())
    values = {"pipeline_toml": pipeline.read_text(), "experiment_toml": EXPERIMENT.read_text()}
    run_id = _run_component(spec, "begin", values, mlkit_home)
    assert run_id == "1"
    for step in ("ingest", "validate", "end"):
        assert _run_component(spec, step, {**values, "run_id": run_id}, mlkit_home) == run_id
    shown = json.loads(cli("pipeline", "show", "1", "--json").out)
    assert (shown["status"], shown["backend"]) == ("finished", "vertex")
    assert [(s["name"], s["status"]) for s in shown["steps"]] == [
        ("ingest", "succeeded"), ("validate", "succeeded"),
    ]  # fmt: skip
    assert shown["steps"][0]["outputs"]["rows"] == 1797


def test_run_backend_vertex_submits_a_pipeline_job(vertex, mlkit_home, cli):
    result = cli("pipeline", "run", EXAMPLE, "--backend", "vertex", "--json")
    assert result.code == 0, result.err
    submitted = json.loads(result.out)
    assert submitted["job"].startswith(
        "projects/demo-project/locations/us-central1/pipelineJobs/digits-nightly-"
    )
    assert submitted["state"] == "PIPELINE_STATE_PENDING"
    assert submitted["pipeline_root"] == "gs://demo-bucket/pipeline-root"
    method, path, body = vertex.requests[0]
    assert (method, path.split("?")[0]) == (
        "POST", "/v1/projects/demo-project/locations/us-central1/pipelineJobs",
    )  # fmt: skip
    assert body["displayName"] == "mlkit-digits-nightly"
    assert body["labels"] == {"mlkit-pipeline": "digits-nightly"}
    runtime = body["runtimeConfig"]
    assert runtime["gcsOutputDirectory"] == "gs://demo-bucket/pipeline-root"
    assert runtime["parameterValues"]["pipeline_toml"] == EXAMPLE.read_text()
    assert runtime["parameterValues"]["experiment_toml"] == EXPERIMENT.read_text()
    assert body["pipelineSpec"]["pipelineInfo"]["name"] == "digits-nightly"
    assert "mlkit-train" in body["pipelineSpec"]["root"]["dag"]["tasks"]


def test_schedule_creates_a_vertex_schedule_and_refuses_a_bad_cron(vertex, mlkit_home, cli):
    bad = cli("pipeline", "schedule", EXAMPLE, "--cron", "every night")
    assert bad.code == 2 and "--cron: expected five fields" in bad.err
    assert vertex.requests == []
    result = cli("pipeline", "schedule", EXAMPLE, "--cron", "0 3 * * *", "--json")
    assert result.code == 0, result.err
    created = json.loads(result.out)
    assert created["name"] == "projects/demo-project/locations/us-central1/schedules/2000"
    assert (created["cron"], created["state"]) == ("0 3 * * *", "ACTIVE")
    method, path, body = vertex.requests[0]
    assert (method, path.split("?")[0]) == (
        "POST", "/v1/projects/demo-project/locations/us-central1/schedules",
    )  # fmt: skip
    assert body["cron"] == "0 3 * * *"
    job = body["createPipelineJobRequest"]["pipelineJob"]
    assert job["runtimeConfig"]["parameterValues"]["pipeline_toml"] == EXAMPLE.read_text()


def test_vertex_needs_its_settings(mlkit_home, cli, monkeypatch):
    monkeypatch.delenv("MLKIT_VERTEX_PROJECT", raising=False)
    result = cli("pipeline", "run", EXAMPLE, "--backend", "vertex")
    assert result.code == 2 and "--backend vertex needs MLKIT_VERTEX_PROJECT" in result.err


PACKAGE = "gs://demo-bucket/packages/mlkit-0.1.0-py3-none-any.whl"
PREBUILT = "us-docker.pkg.dev/vertex-ai/training/tf-cpu.2-15.py310:latest"


def test_without_an_image_the_components_install_mlkits_package_in_the_prebuilt_image(
    vertex, mlkit_home, cli, monkeypatch
):
    monkeypatch.delenv("MLKIT_VERTEX_IMAGE")
    monkeypatch.setenv("MLKIT_VERTEX_PACKAGE", PACKAGE)  # built and staged already: used as is
    result = cli("pipeline", "run", EXAMPLE, "--backend", "vertex", "--json")
    assert result.code == 0, result.err
    body = vertex.requests[0][2]
    executors = body["pipelineSpec"]["deploymentSpec"]["executors"]
    assert len(executors) == 7
    for executor in executors.values():
        container = executor["container"]
        assert container["image"] == PREBUILT
        script = container["command"][-1]
        assert script.startswith(
            "pip install --quiet --no-warn-script-location "
            "/gcs/demo-bucket/packages/mlkit-0.1.0-py3-none-any.whl "
            "/gcs/demo-bucket/mlkit-packages/"
        )
        assert "/adanet-0.9.0-py3-none-any.whl && " in script  # staged next to it
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["MLKIT_VERTEX_RUN_PACKAGE"] == PACKAGE
        assert env["MLKIT_VERTEX_RUN_IMAGE"] == PREBUILT


def test_a_component_with_a_package_installs_it_then_runs_its_step(mlkit_home, monkeypatch):
    """The compiled shell line really runs: pip (a stand-in that records its arguments) gets the
    package's /gcs path, then the step runs as it does in an own image."""
    from mlkit.workflows.pipeline.kfp_spec import compile_pipeline

    pipeline = mlkit_home / "checks.toml"
    pipeline.write_text(
        f'[pipeline]\nname = "checks"\nexperiment = "{EXPERIMENT}"\n[ingest]\nsource = "digits"\n'
    )
    out = mlkit_home / "checks.yaml"
    compile_pipeline(pipeline, out, image=PREBUILT, env={}, packages=[PACKAGE])
    spec = yaml.safe_load(out.read_text())
    bin_dir = mlkit_home / "bin"
    bin_dir.mkdir()
    (bin_dir / "pip").write_text(f'#!/bin/sh\necho "$@" > {mlkit_home}/pip-args\n')
    (bin_dir / "pip").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    values = {"pipeline_toml": pipeline.read_text(), "experiment_toml": EXPERIMENT.read_text()}
    assert _run_component(spec, "begin", values, mlkit_home) == "1"
    assert (mlkit_home / "pip-args").read_text().split() == [
        "install", "--quiet", "--no-warn-script-location",
        "/gcs/demo-bucket/packages/mlkit-0.1.0-py3-none-any.whl",
    ]  # fmt: skip
