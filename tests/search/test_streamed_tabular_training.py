"""The churn CSV (text columns, empty cells, a yes/no label) trained with ``[data] stream =
true`` on the local warehouse and on BigQuery (the emulator): the preprocessing is fitted in the
warehouse, applied per streamed batch, and the registered SavedModel takes raw rows (a JSON null,
an unseen category) as an in-memory run's does."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from tests.churn import INSTANCES, raw_rows_answer_as_encoded, trained_churn
from tests.conftest import registry_endpoint

pytestmark = pytest.mark.slow

SEARCH = """generator = ["dnn"]
layer_size = 8
iterations = 1
steps_per_iteration = 20
batch_size = 32
"""


@pytest.fixture(scope="module", params=["local", "bigquery"])
def streamed(request, tmp_path_factory):
    """One streamed churn model per warehouse: the training outcome."""
    with trained_churn(
        request, tmp_path_factory, dataset="churnstream", search=SEARCH, stream=True
    ) as (kind, _source, outcome):
        yield kind, outcome


def test_a_streamed_churn_run_registers_and_predicts_raw_rows(streamed, cli) -> None:
    _kind, outcome = streamed
    fingerprint = outcome["run"]["data_fingerprint"]
    assert fingerprint["streamed"] is True
    assert fingerprint["kinds"]["plan"] == "categorical"
    assert fingerprint["kinds"]["signed_up"] == "date"
    assert fingerprint["columns"]["classes"] == ["no", "yes"]
    assert outcome["rows"] == {"train": 281, "eval": 41, "test": 78}
    assert outcome["version"]["signature"]["classes"] == ["no", "yes"]

    with registry_endpoint() as url:
        deployed = cli("deploy", "churn")
        assert deployed.code == 0, (deployed.out, deployed.err)
        result = cli("predict", "churn", "-i", INSTANCES, "--url", url, "--json")
        assert result.code == 0, result.err
        predictions = json.loads(result.out)["predictions"]
        assert len(predictions) == 2  # the second: region null, plan "enterprise" (unseen)
        for p in predictions:
            assert p["class"] == ["no", "yes"][p["class_id"]]
            assert sum(p["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)

    # The SavedModel's raw-row signature equals its features signature on the encoded rows.
    table = pa.table(
        {
            "plan": pa.array(["pro", None, "enterprise"]),
            "region": pa.array(["us", None, "mars"]),
            "tenure_months": pa.array([12, None, 40], pa.int64()),
            "monthly_fee": pa.array([None, 20.5, 49.0]),
            "support_calls": pa.array([0, 7, 2], pa.int64()),
            "autopay": pa.array([True, None, False]),
            "signed_up": pa.array(["2024-03-01", None, "2023-12-31"]).cast(pa.date32()),
        }
    )
    _, _, encoded = raw_rows_answer_as_encoded(outcome, table)
    assert encoded["plan"][2] == 0 and encoded["plan"][1] == 1  # out of vocabulary, missing
