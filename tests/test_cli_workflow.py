"""The main job end to end through the real CLI: load → train → list → deploy → serve → predict.

A small step budget keeps it quick; everything else is the real path (DuckDB warehouse, AdaNet on
TensorFlow, SQLite registry, the local endpoint over HTTP).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import registry_endpoint

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = REPO / "experiments" / "digits.toml"
SAMPLE = REPO / "experiments" / "digits-sample.json"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """One project folder for the whole story, so the steps build on each other in order."""
    home = tmp_path_factory.mktemp("project")
    with pytest.MonkeyPatch.context() as patch:
        for name in (
            "MLKIT_REGISTRY_URL",
            "MLKIT_WAREHOUSE",
            "MLKIT_ARTIFACTS",
            "MLKIT_RUNS",
            "MLKIT_ENDPOINT_URL",
        ):
            patch.delenv(name, raising=False)
        patch.setenv("MLKIT_HOME", str(home))
        patch.setenv("COLUMNS", "200")
        yield home


@pytest.fixture(scope="module")
def endpoint(project):
    """The registry-driven local endpoint on a free port, as `mlkit serve` runs it."""
    with registry_endpoint() as url:
        yield url


def versions_json(cli, name="digits"):
    result = cli("models", "versions", name, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_load_puts_bundled_digits_into_the_warehouse(project, cli):
    result = cli("data", "load", "digits")
    assert result.code == 0, result.err
    assert "Loaded 1,797 rows of digits into table digits" in result.out
    assert (project / "warehouse.duckdb").is_file()
    tables = json.loads(cli("data", "tables", "--json").out)
    assert [(t["name"], t["rows"]) for t in tables] == [("digits", 1797)]


def test_train_runs_the_search_and_registers_version_1(project, cli):
    result = cli("train", EXPERIMENT, "--iterations", "2", "--steps", "150", "--json")
    assert result.code == 0, result.err
    outcome = json.loads(result.out)
    assert outcome["version"]["model"] == "digits"
    assert outcome["version"]["version"] == 1
    assert outcome["run"]["status"] == "finished"
    assert outcome["rows"]["test"] + outcome["rows"]["train"] + outcome["rows"]["eval"] == 1797
    assert outcome["metrics"]["accuracy"] > 0.85  # 300 steps already learn digits well
    assert outcome["architecture"]["subnetworks"], "the final ensemble names its subnetworks"
    assert (project / "registry.db").is_file()
    artifact = Path(outcome["version"]["artifact_uri"].removeprefix("file://"))
    assert (artifact / "saved_model.pb").is_file()
    assert outcome["run"]["data_fingerprint"]["rows"] == 1797
    # The run's stages, timed (bench/overhead.py reads them), add up to its wall time.
    stages = outcome["stages"]
    assert {"data", "train_graph", "train", "evaluate_candidates", "export"} <= set(stages)
    assert all(seconds >= 0 for seconds in stages.values())
    # Finished: the folder keeps the latest checkpoint and the events, not the graph copies.
    run_dir = project / "runs" / str(outcome["run"]["id"])
    assert not (run_dir / "graph.pbtxt").exists()
    assert {p.name.split(".")[1] for p in run_dir.glob("model.ckpt-*")} == {"ckpt-300"}


def test_models_list_and_versions_show_it(cli):
    listed = cli("models", "list")
    assert listed.code == 0 and "digits" in listed.out
    models = json.loads(cli("models", "list", "--json").out)
    assert [(m["name"], m["version_count"], m["latest_version"]) for m in models] == [
        ("digits", 1, 1)
    ]
    table = cli("models", "versions", "digits")
    assert table.code == 0 and "Versions of digits" in table.out
    (v1,) = versions_json(cli)
    assert v1["version"] == 1 and v1["run_id"] == 1 and v1["verdict"] is None


def test_first_deploy_has_no_baseline_and_goes_live(cli):
    result = cli("deploy", "digits")
    assert result.code == 0, result.err
    assert "Deployed digits version 1 to the local endpoint (its verdict passed)" in result.out
    assert "smoke test" in result.out and "nothing was deployed before" in result.out
    (v1,) = versions_json(cli)
    assert "champion" in v1["aliases"]
    assert v1["verdict"]["passed"] is True
    again = cli("deploy", "digits")
    assert again.code == 0 and "already deployed" in again.out


def test_lineage_links_the_version_to_its_run_data_and_deployment(cli):
    shown = cli("models", "show", "digits@champion", "--json")
    assert shown.code == 0, shown.err
    lineage = json.loads(shown.out)
    assert lineage["version"]["version"] == 1
    assert lineage["run"]["experiment_path"].endswith("digits.toml")
    assert len(lineage["run"]["data_fingerprint"]["content_sha256"]) == 64
    assert [(d["endpoint"], d["active"]) for d in lineage["deployments"]] == [("local", True)]
    run = json.loads(cli("runs", "show", "1", "--json").out)
    assert run["run"]["environment"]["packages"]["tensorflow"].startswith("2.15.")
    assert [step for step, _ in run["metrics_by_step"]["accuracy"]] == [300]  # 2 x 150 steps
    # Each iteration's best candidate on the eval split, at the step the iteration ended.
    assert [step for step, _ in run["metrics_by_step"]["eval_accuracy"]] == [150, 300]
    assert all(0 <= value <= 1 for _, value in run["metrics_by_step"]["eval_accuracy"])
    assert [v["version"] for v in run["versions"]] == [1]


def test_predict_goes_over_http_to_the_deployed_version(cli, endpoint):
    result = cli("predict", "digits", "--instances", SAMPLE, "--url", endpoint, "--json")
    assert result.code == 0, result.err
    answer = json.loads(result.out)
    assert answer["version"] == 1
    predictions = answer["predictions"]
    assert len(predictions) == 5
    assert all(len(p["probabilities"]) == 10 for p in predictions)
    # The sample holds the dataset's first five images, digits 0 to 4.
    assert sum(p["class_id"] == i for i, p in enumerate(predictions)) >= 4


def test_a_losing_version_is_refused_with_both_metrics(cli, endpoint):
    trained = cli("train", EXPERIMENT, "--iterations", "1", "--steps", "2", "--json")
    assert trained.code == 0, trained.err
    assert json.loads(trained.out)["version"]["version"] == 2

    result = cli("deploy", "digits")
    assert result.code == 6
    assert "digits: version 2 vs version 1 on" in result.out
    accuracy_row = next(line for line in result.out.splitlines() if "accuracy" in line)
    candidate, deployed = (float(x) for x in accuracy_row.split("│")[2:4])
    assert candidate < deployed
    assert result.err.startswith("Error: digits version 2 was not deployed: failed ")
    assert "accuracy beats v1: accuracy " in result.err
    assert 'Hint: deploy it anyway with --force --reason "why"' in result.err
    assert "Traceback" not in result.err

    v1, v2 = versions_json(cli)
    assert v2["verdict"]["passed"] is False and "worse than" in v2["verdict"]["reason"]
    assert "champion" in v1["aliases"]
    served = cli("predict", "digits", "-i", SAMPLE, "--url", endpoint, "--json")
    assert json.loads(served.out)["version"] == 1


def test_force_deploys_and_the_endpoint_switches_without_restart(cli, endpoint):
    result = cli("deploy", "digits", "--version", "2", "--force", "--reason", "workflow test")
    assert result.code == 0, result.err
    assert "forced over a failed verdict" in result.out
    v1, v2 = versions_json(cli)
    assert "champion" in v2["aliases"] and v2["verdict"]["forced"] is True
    served = cli("predict", "digits", "-i", SAMPLE, "--url", endpoint, "--json")
    assert json.loads(served.out)["version"] == 2

    back = cli("deploy", "digits", "--version", "1")
    assert back.code == 0, "version 1 beats the forced version 2"
    assert (
        json.loads(cli("predict", "digits", "-i", SAMPLE, "--url", endpoint, "--json").out)[
            "version"
        ]
        == 1
    )


def test_compare_rollback_and_the_verdicts_of_real_trained_versions(cli, endpoint, project):
    shown = cli("compare", "digits", "--candidate", "2", "--baseline", "1")
    assert shown.code == 0, shown.err
    assert "recall_9" in shown.out and "McNemar" in shown.out
    assert "Verdict" in shown.out and "FAIL" in shown.out
    plot = Path(shown.out.split("Plot: ")[1].split()[0])
    assert plot.is_file() and plot.parent == project / "runs" / "verdicts"

    # Deployments so far: v1, v2 (forced), v1 again. Rolling back restores v2, then v1.
    back = cli("rollback", "digits")
    assert back.code == 0, back.err
    assert "version 1 → version 2" in back.out
    served = cli("predict", "digits", "-i", SAMPLE, "--url", endpoint, "--json")
    assert json.loads(served.out)["version"] == 2
    again = cli("rollback", "digits")
    assert again.code == 0, again.err
    assert "version 2 → version 1" in again.out, again.out
    served = cli("predict", "digits", "-i", SAMPLE, "--url", endpoint, "--json")
    assert json.loads(served.out)["version"] == 1


def test_the_python_api_loads_the_champion_and_predicts_on_a_frame_and_arrays(project):
    """A notebook's view (docs/python-api.md): the champion from the registry, its hash checked;
    a DataFrame with a list per cell, or the arrays; runs and versions with the CLI's filters."""
    import numpy as np
    import pandas as pd

    import mlkit

    model = mlkit.load_model("digits@champion")
    assert model.name == "digits" and "champion" in model.version.aliases
    sample = json.loads(SAMPLE.read_text())["instances"]
    frame = pd.DataFrame({"pixels": [row["pixels"] for row in sample]})
    classes = model.predict(frame)
    assert classes.shape == (len(sample),) and classes.dtype.kind == "i"
    pixels = np.asarray(frame["pixels"].tolist(), dtype=np.float32)
    assert (model.predict(pixels) == classes).all()
    assert model.predict_proba({"pixels": pixels}).shape == (len(sample), 10)
    assert [r.id for r in mlkit.runs(where="status = 'finished'", sort="id")][:2] == [1, 2]
    best = mlkit.models("digits", where="metrics.accuracy > 0.85", sort="metrics.loss")
    assert [v.version for v in best][0] == 1


def test_import_mlkit_and_searching_do_not_import_tensorflow(project):
    import subprocess
    import sys

    code = (
        "import sys, mlkit; mlkit.runs(); mlkit.models('digits'); m = mlkit.load_model('digits');"
        "print('tensorflow' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_a_saved_model_trained_elsewhere_registers_and_is_judged_like_any_other(cli, project):
    """`mlkit models register`: the signature checked, copied and hashed, then compared."""
    source = project / "artifacts" / "digits" / "1"
    result = cli("models", "register", "digits-ext", source, "-e", EXPERIMENT, "--json")
    assert result.code == 0, result.err
    version = json.loads(result.out)
    assert (version["model"], version["version"]) == ("digits-ext", 1)
    assert version["signature"]["task"] == "classification"
    assert version["signature"]["inputs"] == {"pixels": [64]}
    assert version["tags"] == {"source": "external"}
    compared = cli("compare", "digits-ext", "--json")
    assert compared.code == 0, compared.err
    verdict = json.loads(compared.out)["verdict"]
    assert verdict["passed"] and verdict["details"]["candidate"]["metrics"]["accuracy"] > 0.85
