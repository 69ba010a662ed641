"""A churn-like CSV (text columns, empty cells, a yes/no label) end to end through the real CLI,
on the local warehouse and on BigQuery (the emulator): data stats → train → deploy → the local
endpoint → ``mlkit predict`` with a JSON null, a missing key and an unseen category; and the
SavedModel's raw-row signature against the estimator's own on rows with NULLs and unseen
categories."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from tests.churn import INSTANCES, raw_rows_answer_as_encoded, trained_churn
from tests.conftest import registry_endpoint

pytestmark = pytest.mark.slow

SEARCH = """layer_size = 16
iterations = 1
steps_per_iteration = 40
batch_size = 32
"""


def _json(result) -> dict:
    assert result.code == 0, (result.out, result.err)
    return json.loads(result.out)


@pytest.fixture(scope="module", params=["local", "bigquery"])
def project(request, tmp_path_factory):
    """One trained churn model per warehouse: its warehouse, table and training outcome."""
    with trained_churn(request, tmp_path_factory, dataset="churn", search=SEARCH) as trained:
        yield trained


def test_stats_train_deploy_and_predict_raw_rows(project, cli, tmp_path: Path) -> None:
    kind, source, outcome = project
    stats = _json(cli("data", "stats", source, "--label", "churned", "--json"))
    plan = stats["features"]["plan"]
    assert plan["kind"] == "categorical" and plan["distinct"] == 2 and plan["missing"] > 0
    assert stats["features"]["signed_up"]["kind"] == "date"
    fingerprint = outcome["run"]["data_fingerprint"]
    assert fingerprint["kinds"] == {
        "plan": "categorical",
        "region": "categorical",
        "tenure_months": "numeric",
        "monthly_fee": "numeric",
        "support_calls": "numeric",
        "autopay": "boolean",
        "signed_up": "date",
    }
    assert fingerprint["columns"]["classes"] == ["no", "yes"]
    assert outcome["reference_models"]["best"]
    assert outcome["beats_reference_models"] in (True, False)
    if kind == "local":  # class names, not ids, in the verdict (nothing deployed yet)
        verdict = _json(cli("compare", "churn", "--json"))["verdict"]
        metrics = verdict["details"]["candidate"]["metrics"]
        assert {"recall_no", "recall_yes"} <= set(metrics) and "recall_1" not in metrics
        # the run's test metrics (its SavedModel's features signature on the loader's arrays)
        # are what the served raw-row signature scores on the same test rows
        tested = outcome["metrics"]
        assert {"accuracy", "loss", "auc", "precision", "recall"} <= set(tested)
        assert tested["accuracy"] == pytest.approx(metrics["accuracy"], abs=1e-6)
        assert verdict["details"]["candidate"]["confusion"]["classes"] == ["no", "yes"]
        table = cli("compare", "churn")
        assert table.code == 0 and "recall_yes" in table.out and "Confusion" in table.out
    with registry_endpoint() as url:
        deployed = cli("deploy", "churn")
        assert deployed.code == 0, (deployed.out, deployed.err)
        answer = _json(cli("predict", "churn", "-i", INSTANCES, "--url", url, "--json"))
        predictions = answer["predictions"]
        assert [sorted(p) for p in predictions] == [["class", "class_id", "probabilities"]] * 2
        for p in predictions:
            assert set(p["probabilities"]) == {"no", "yes"}
            assert p["class"] == ["no", "yes"][p["class_id"]]
            assert sum(p["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        _tf_serving_rows(url, predictions)
        shown = cli("predict", "churn", "-i", INSTANCES, "--url", url)
        assert shown.code == 0 and ("yes (1)" in shown.out or "no (0)" in shown.out)
        payload = tmp_path / "bad.json"
        for instance, message in (
            ({"tenure_months": "ten"}, "feature 'tenure_months' must be a number, true/false"),
            ({"plan": [1]}, "feature 'plan' must be a category (text, an integer or null)"),
            ({"signed_up": "May 1"}, "feature 'signed_up' must be an ISO date or time in UTC"),
        ):
            payload.write_text(json.dumps({"instances": [instance]}))
            result = cli("predict", "churn", "-i", payload, "--url", url)
            assert result.code == 7, (kind, result.err)
            assert f"Error: instance 0: {message}" in result.err
            assert "pixel" not in result.err


def test_the_savedmodel_preprocesses_as_the_loader_does(project) -> None:
    """serving_default on raw rows (NULLs, missing values, an unseen category, ISO dates) gives
    what the estimator's own signature gives on the loader's encoded arrays."""
    from mlkit.data.columns import ColumnPlan

    kind, _, outcome = project
    plan = ColumnPlan.from_json(outcome["run"]["data_fingerprint"]["columns"])
    table = pa.table(
        {
            "plan": pa.array(["pro", None, "enterprise", "basic"]),
            "region": pa.array(["us", "eu", None, "mars"]),
            "tenure_months": pa.array([12, None, 40, 3], pa.int64()),
            "monthly_fee": pa.array([None, 20.5, 49.0, 18.0]),
            "support_calls": pa.array([0, 7, 2, 1], pa.int64()),
            "autopay": pa.array([True, None, False, True]),
            "signed_up": pa.array(
                [dt.date(2024, 3, 1), None, dt.date(2023, 12, 31), None],
                pa.date32(),
            ),
        }
    )
    served, direct, encoded = raw_rows_answer_as_encoded(outcome, table)
    assert encoded["plan"][2] == 0 and encoded["plan"][1] == 1  # out of vocabulary, missing
    assert [c.decode() for c in served["class"].numpy()] == [
        plan.classes[int(i)] for i in direct["class_ids"].numpy().reshape(-1)
    ]
    assert kind in ("local", "bigquery")


def _tf_serving_rows(url: str, predictions: list[dict]) -> None:
    """The rows as TF Serving needs them (every input; NaN and "" for the missing values,
    completed from the signature's metadata) answer as the rows with nulls and absent keys."""
    import urllib.request

    from mlkit.serving import client
    from mlkit.serving.complete import complete_instances, input_forms

    rows = json.loads(INSTANCES.read_text())["instances"]
    metadata = json.loads(urllib.request.urlopen(f"{url}/v1/models/churn/metadata").read())
    forms = input_forms(metadata)
    assert set(forms) == set(rows[0]) and forms["plan"] == "text"
    whole = complete_instances(rows, forms)
    assert set(whole[1]) == set(rows[0]) and whole[1]["region"] == ""
    assert np.isnan(whole[1]["tenure_months"]) and np.isnan(whole[1]["monthly_fee"])
    body = json.dumps({"instances": whole}).encode()  # NaN as TF Serving's JSON takes it
    request = urllib.request.Request(f"{url}/v1/models/churn:predict", data=body, method="POST")
    answer = json.loads(urllib.request.urlopen(request).read())
    for got, want in zip(answer["predictions"], predictions, strict=True):
        assert got["class"] == want["class"]
        assert got["probabilities"] == pytest.approx(want["probabilities"], abs=1e-6)
    completed = client.predict(url, "churn", rows, complete_rows=True)["predictions"]
    assert [p["class"] for p in completed] == [p["class"] for p in predictions]
