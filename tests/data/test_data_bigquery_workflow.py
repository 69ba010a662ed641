"""A model trained on BigQuery, end to end through the real CLI against the emulator: load → train →
compare → deploy → serve → predict over HTTP → drift, for a ``bq://`` table source and for the
parametrised query of ``experiments/digits-bigquery.toml``; and a deploy refused on BigQuery data.

Every read (training, the verdict's test split, ``--data bq://...``, drift) goes through the data
layer's one resolution of a source, so nothing here may fall back to the local warehouse.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from mlkit.data import BigQueryWarehouse
from tests.conftest import registry_endpoint

REPO = Path(__file__).resolve().parents[2]
QUERY_EXPERIMENT = REPO / "experiments" / "digits-bigquery.toml"
DATASET = "e2e"  # the table source's dataset; the query's is mlkit_demo, as the experiment says
BUDGET = ("--iterations", "1", "--steps", "150")

pytestmark = pytest.mark.slow


def _table_experiment(home: Path) -> Path:
    path = home / "digits-bq-table.toml"
    path.write_text(
        f"""
[experiment]
name = "digits-bq-table"
model = "digits-bqt"

[data]
source = "bq://test.{DATASET}.digits"
label = "label"
features = [{{ name = "pixels", shape = [64] }}]

[search]
iterations = 1
steps_per_iteration = 150

[promotion]
at_least = {{ accuracy = 0.5 }}
"""
    )
    return path


@pytest.fixture(scope="module")
def project(tmp_path_factory, bq_emulator):
    """One project folder, its BigQuery the emulator (through the MLKIT_BIGQUERY_* settings)."""
    home = tmp_path_factory.mktemp("bq-project")
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
        for key, value in bq_emulator.env().items():
            patch.setenv(key, value)
        yield home


@pytest.fixture(scope="module")
def endpoint(project):
    """The registry-driven local endpoint on a free port, as `mlkit serve` runs it."""
    with registry_endpoint() as url:
        yield url


@pytest.fixture(scope="module")
def trained(project, bq_emulator):
    """Both models trained once for the module: {"table": outcome, "query": outcome}."""
    from mlkit.cli import main

    outcomes = {}
    for kind, table, experiment in (
        ("table", f"bq://test.{DATASET}.digits", _table_experiment(project)),
        ("query", "bq://test.mlkit_demo.digits", QUERY_EXPERIMENT),
    ):
        assert main(["data", "load", "digits", "--pixels", "string", "-t", table]) == 0
        out = project / f"train-{kind}.json"
        code = _to_file(main, ["train", str(experiment), *BUDGET, "--json"], out)
        assert code == 0, out.read_text()
        outcomes[kind] = json.loads(out.read_text())
    # Digits with the labels shuffled: no model reaches 50% accuracy on them.
    warehouse = BigQueryWarehouse(bq_emulator.config(dataset=DATASET))
    digits = warehouse.read_table("digits")
    labels = np.random.default_rng(0).permutation(digits["label"].to_numpy())
    shuffled = digits.set_column(
        digits.schema.get_field_index("label"), "label", pa.array(labels, pa.int64())
    )
    warehouse.write_table("shuffled", shuffled)
    return outcomes


def _to_file(main, args: list[str], path: Path) -> int:
    import contextlib

    with path.open("w") as handle, contextlib.redirect_stdout(handle):
        return main(args)


MODELS = {"table": "digits-bqt", "query": "digits-bq"}


def _json(result) -> dict:
    assert result.code == 0, (result.out, result.err)
    return json.loads(result.out)


@pytest.mark.parametrize("kind", ["table", "query"])
def test_train_reads_bigquery(trained, kind):
    outcome = trained[kind]
    assert outcome["version"]["model"] == MODELS[kind] and outcome["version"]["version"] == 1
    fingerprint = outcome["run"]["data_fingerprint"]
    assert fingerprint["source"].startswith("BigQuery test")
    assert fingerprint["storage_forms"] == {"pixels": "string"}
    if kind == "table":
        assert fingerprint["table"] == f"test.{DATASET}.digits" and fingerprint["rows"] == 1797
    else:
        assert fingerprint["params"] == {"classes": 6} and fingerprint["rows"] == 1083
    assert outcome["metrics"]["accuracy"] > 0.6


@pytest.mark.parametrize("kind", ["table", "query"])
def test_compare_judges_on_the_bigquery_test_split(trained, cli, kind):
    verdict = _json(cli("compare", MODELS[kind], "--json"))["verdict"]
    assert verdict["passed"] is True and verdict["baseline_version"] is None
    data = verdict["data_fingerprint"]
    assert data["source"].startswith("BigQuery test")
    assert data["selection"] == "test split (eval 0.1, test 0.2)"
    assert data["rows"] == trained[kind]["rows"]["test"]
    if kind == "query":
        assert data["params"] == {"classes": 6} and data["query"].startswith("SELECT id")


def test_a_deploy_judged_on_a_bigquery_table_where_the_model_fails_is_refused(trained, cli):
    result = cli("deploy", "digits-bqt", "--data", f"bq://test.{DATASET}.shuffled")
    assert result.code == 6, (result.out, result.err)
    assert "all rows of bq://test.e2e.shuffled" in result.out
    assert result.err.startswith("Error: digits-bqt version 1 was not deployed: failed ")
    assert "Traceback" not in result.err
    versions = _json(cli("models", "versions", "digits-bqt", "--json"))
    assert versions[0]["aliases"] == [] and versions[0]["verdict"]["passed"] is False
    # compare --data on a BigQuery table reads every row of it, on the same BigQuery
    verdict = _json(
        cli("compare", "digits-bqt", "--data", f"bq://test.{DATASET}.digits", "--json")
    )["verdict"]
    assert verdict["data_fingerprint"]["rows"] == 1797
    assert verdict["data_fingerprint"]["selection"] == "all rows"


@pytest.mark.parametrize("kind", ["table", "query"])
def test_deploy_serve_and_predict_over_http(trained, cli, endpoint, bq_emulator, project, kind):
    deployed = cli("deploy", MODELS[kind])
    assert deployed.code == 0, (deployed.out, deployed.err)
    assert f"Deployed {MODELS[kind]} version 1 to the local endpoint" in deployed.out
    # Rows as the warehouse stores them (comma-separated pixel strings), as a client has them.
    dataset = DATASET if kind == "table" else "mlkit_demo"
    rows = BigQueryWarehouse(bq_emulator.config(dataset=dataset)).read_table("digits")
    rows = rows.sort_by("id").slice(0, 4)
    sample = project / f"sample-{kind}.json"
    sample.write_text(
        json.dumps({"instances": [{"pixels": p} for p in rows["pixels"].to_pylist()]})
    )
    answer = _json(cli("predict", MODELS[kind], "-i", sample, "--url", endpoint, "--json"))
    assert answer["version"] == 1 and len(answer["predictions"]) == 4
    classes = [p["class_id"] for p in answer["predictions"]]
    assert sum(c == t for c, t in zip(classes, rows["label"].to_pylist(), strict=True)) >= 2


@pytest.mark.parametrize("kind", ["table", "query"])
def test_drift_against_the_run_reads_its_own_source(trained, cli, kind):
    run = trained[kind]["run"]["id"]
    steady = _json(cli("data", "drift", "--against", run, "--json"))
    assert steady["drifted"] == 0, steady
    if kind == "query":
        # the run's query with another parameter, then the whole table: ten classes, not six
        for args in (["-p", "classes=10"], ["bq://test.mlkit_demo.digits"]):
            moved = _json(
                cli("data", "drift", *args, "--against", run, "--json", "--no-fail-on-drift")
            )
            assert [f["feature"] for f in moved["features"] if f["drifted"]] == ["label (label)"]
