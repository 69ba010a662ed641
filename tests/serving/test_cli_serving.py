"""`mlkit endpoints`, `mlkit predict` (both targets) and `mlkit deploy --target vertex` through the
real CLI, against a real local endpoint and the fake Vertex REST server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mlkit.config import load_settings
from mlkit.errors import ServingError
from mlkit.registry import open_store
from mlkit.serving.server import make_server
from mlkit.workflows.serve import RegistryResolver
from tests.fakes.vertex_endpoints import running_fake
from tests.serving.test_endpoint_http import pixels_for

REPO = Path(__file__).resolve().parents[2]


def _default_sigint() -> None:
    """Ctrl-C's default in the child: a shell that started the tests in the background (``&``,
    ``nohup``) makes SIGINT ignored, and a child inherits that, so SIGINT would not stop it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def registered(mlkit_home: Path, digits_v1: Path, digits_v2: Path) -> Path:
    settings = load_settings()
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        store.register_version("digits", digits_v1)
        store.register_version("digits", digits_v2)
        store.deploy("digits", 1)
    return mlkit_home


@pytest.fixture
def instances(tmp_path: Path) -> Path:
    path = tmp_path / "instances.json"
    path.write_text(json.dumps({"instances": [pixels_for(3), pixels_for(8)]}))
    return path


@pytest.fixture
def fake(monkeypatch):
    with running_fake(monkeypatch, seed=5) as vertex:
        yield vertex


@pytest.fixture
def endpoint(registered):
    resolver = RegistryResolver(load_settings())
    server = make_server(
        resolver.resolve, resolver.deployed, port=0, labels=resolver.labels, token="tok"
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.url
    server.shutdown()
    server.server_close()


def test_endpoints_traffic_rollback_undeploy(cli, registered) -> None:
    result = cli("endpoints", "traffic", "digits", "1=90,2=10", "--json")
    assert result.code == 0, result.err
    assert {d["version"]: d["traffic_percent"] for d in json.loads(result.out)} == {1: 90, 2: 10}
    table = cli("endpoints", "list")
    assert table.code == 0 and "90%" in table.out and "10%" in table.out
    assert cli("endpoints", "traffic", "digits", "2=100").code == 0
    back = cli("endpoints", "rollback", "digits", "--json")
    assert back.code == 0, back.err
    assert [(d["version"], d["traffic_percent"]) for d in json.loads(back.out)] == [(1, 100)]
    gone = cli("endpoints", "undeploy", "digits")
    assert gone.code == 0 and "Undeployed digits from local." in gone.out
    assert "not deployed" not in gone.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("traffic", "digits", "1=90,2=20"), "the traffic shares must sum to 100, got 110"),
        (("traffic", "digits", "1:90"), "cannot read traffic share '1:90': expected VERSION="),
        (("traffic", "digits", "1=50,1=50"), "version 1 appears twice"),
        (("traffic", "digits", "9=100"), "version 9"),
        (("traffic", "digits", "1=100", "--target", "gcp"), "unknown --target 'gcp'"),
        (
            ("rollback", "digits"),
            "replaced no earlier deployment; there is nothing to roll back to",
        ),
        (("undeploy", "digits", "--version", "2"), "version 2 of 'digits' is not deployed"),
    ],
)
def test_endpoints_errors_are_one_line(cli, registered, args, message) -> None:
    result = cli("endpoints", *args)
    assert result.code != 0
    assert result.err.startswith("Error: ") and message in result.err
    assert "Traceback" not in result.err


def test_predict_on_the_local_endpoint_with_a_token(cli, endpoint, instances) -> None:
    refused = cli("predict", "digits", "-i", instances, "--url", endpoint)
    assert refused.code == 7 and "missing bearer token" in refused.err
    assert "Hint: pass the endpoint's token with --token" in refused.err
    result = cli("predict", "digits", "-i", instances, "--url", endpoint, "--token", "tok")
    assert result.code == 0, result.err and "digits version 1" in result.out
    answer = json.loads(
        cli(
            "predict",
            "digits",
            "-i",
            instances,
            "--url",
            endpoint,
            "--token",
            "tok",
            "--label",
            "champion",
            "--json",
        ).out
    )
    assert answer["version"] == 1 and [p["class_id"] for p in answer["predictions"]] == [3, 8]
    bad = cli("predict", "digits", "-i", instances, "--version", "1", "--label", "x")
    assert bad.code == 2 and "give --version or --label, not both" in bad.err


def test_predict_on_vertex_through_the_cli(cli, registered, fake, instances) -> None:
    from mlkit.serving.endpoints import open_endpoint

    settings = load_settings()
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        open_endpoint("vertex", store).deploy("digits", 2)
    result = cli("predict", "digits", "-i", instances, "--target", "vertex", "--json")
    assert result.code == 0, result.err
    answer = json.loads(result.out)
    assert answer["version"] == 2
    assert [int(p["class_ids"][0]) for p in answer["predictions"]] == [7, 7]
    table = cli("predict", "digits", "-i", instances, "--target", "vertex")
    assert table.code == 0 and "on Vertex AI" in table.out
    listed = json.loads(cli("endpoints", "list", "--target", "vertex", "--json").out)
    assert listed[0]["resources"]["endpoint"].startswith("projects/proj-1/locations/us-central1/")
    wrong = cli("predict", "digits", "-i", instances, "--target", "vertex", "--version", "1")
    assert wrong.code == 2 and "Vertex AI picks the version" in wrong.err


def test_vertex_without_a_project_says_what_to_set(cli, registered, instances, monkeypatch):
    monkeypatch.delenv("MLKIT_VERTEX_PROJECT", raising=False)
    result = cli("predict", "digits", "-i", instances, "--target", "vertex")
    assert result.code == 2
    assert (
        "neither MLKIT_VERTEX_PROJECT nor GOOGLE_CLOUD_PROJECT is set" in result.err
        and "docs/serving.md" in result.err
    )


def test_predict_on_vertex_imports_no_tensorflow(registered, fake, instances) -> None:
    from mlkit.serving.endpoints import open_endpoint

    settings = load_settings()
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        open_endpoint("vertex", store).deploy("digits", 1)
    code = (
        "import sys\n"
        "from mlkit.cli import main\n"
        f"code = main(['predict', 'digits', '-i', {str(instances)!r}, '--target', 'vertex',"
        " '--json'])\n"
        "assert code == 0, code\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["version"] == 1


@pytest.mark.slow
def test_deploy_target_vertex_after_training(cli, mlkit_home, fake) -> None:
    assert cli("data", "load", "digits").code == 0
    trained = cli(
        "train", REPO / "experiments" / "digits.toml", "--iterations", "1", "--steps", "30"
    )
    assert trained.code == 0, trained.err
    result = cli("deploy", "digits", "--target", "vertex")
    assert result.code == 0, result.err
    assert "Deployed digits version 1 to Vertex AI" in result.out
    listed = cli("endpoints", "list", "--target", "vertex", "--json")
    assert listed.code == 0, listed.err
    (deployment,) = json.loads(listed.out)
    assert deployment["version"] == 1 and deployment["traffic_percent"] == 100
    names = {"model", "model_version", "endpoint", "deployed_model_id"}
    assert set(deployment["resources"]) == names
    sample = REPO / "experiments" / "digits-sample.json"
    predicted = cli("predict", "digits", "-i", sample, "--target", "vertex", "--json")
    assert predicted.code == 0, predicted.err
    answer = json.loads(predicted.out)
    assert answer["version"] == 1 and len(answer["predictions"]) == 5

    again = cli("train", REPO / "experiments" / "digits.toml", "--iterations", "1", "--steps", "2")
    assert again.code == 0, again.err
    canary = cli("deploy", "digits", "--version", "2", "--target", "vertex", "--traffic", "20")
    if canary.code == 6:  # 2 steps rarely win; a canary of a loser needs --force
        assert "Hint: deploy it anyway with --force" in canary.err
        canary = cli(
            "deploy",
            "digits",
            "--version",
            "2",
            "--target",
            "vertex",
            "--traffic",
            "20",
            "--force",
            "--reason",
            "canary of a tiny model in a test",
        )
    assert canary.code == 0, canary.err
    assert "to Vertex AI with 20% of the traffic" in canary.out
    listed = json.loads(cli("endpoints", "list", "--target", "vertex", "--json").out)
    assert {d["version"]: d["traffic_percent"] for d in listed} == {1: 80, 2: 20}
    (endpoint,) = fake.endpoints.values()
    assert sorted(endpoint["trafficSplit"].values()) == [20, 80]


def test_mlkit_serve_with_a_token_until_interrupted(registered, instances) -> None:
    import os

    from mlkit.serving import client

    code = (
        "import sys\n"
        "from mlkit.cli import main\n"
        "sys.exit(main(['serve', '--port', '0', '--token', 'tok', '--idle-unload', '0']))\n"
    )
    env = {**os.environ, "MLKIT_HOME": str(registered), "COLUMNS": "300"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
        preexec_fn=_default_sigint,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("Local endpoint listening on http://127.0.0.1:"), line
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        assert client.health(url)
        with pytest.raises(ServingError, match="missing bearer token"):
            client.predict(url, "digits", [pixels_for(3)])
        answer = client.predict(url, "digits", [pixels_for(3)], token="tok", vertex=True)
        assert answer["modelVersionId"] == "1" and answer["predictions"][0]["class_id"] == 3
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0  # Ctrl-C is how the endpoint is meant to stop: a clean exit
