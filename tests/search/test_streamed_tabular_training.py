"""The churn CSV (text columns, empty cells, a yes/no label) trained with ``[data] stream =
true`` on the local warehouse and on BigQuery (the emulator): the preprocessing is fitted in the
warehouse, applied per streamed batch, and the registered SavedModel takes raw rows (a JSON null,
an unseen category) as an in-memory run's does."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from tests.conftest import registry_endpoint

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CSV = REPO / "examples" / "churn.csv"
INSTANCES = REPO / "examples" / "churn-instances.json"


def _experiment(home: Path, source: str) -> Path:
    path = home / "churn-stream.toml"
    path.write_text(
        f"""
[experiment]
name = "churn"

[data]
source = "{source}"
label = "churned"
stream = true

[search]
generator = ["dnn"]
layer_size = 8
iterations = 1
steps_per_iteration = 20
batch_size = 32
"""
    )
    return path


@pytest.fixture(scope="module", params=["local", "bigquery"])
def streamed(request, tmp_path_factory):
    """One streamed churn model per warehouse: the training outcome."""
    from mlkit.cli import main

    home = tmp_path_factory.mktemp(f"churn-stream-{request.param}")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("MLKIT_REGISTRY_URL", "MLKIT_WAREHOUSE", "MLKIT_ARTIFACTS", "MLKIT_RUNS"):
            patch.delenv(name, raising=False)
        patch.setenv("MLKIT_HOME", str(home))
        source = "churn"
        if request.param == "bigquery":
            emulator = request.getfixturevalue("bq_emulator")
            for key, value in emulator.env().items():
                patch.setenv(key, value)
            source = "bq://test.churnstream.churn"
        assert main(["data", "load", str(CSV), "--table", source]) == 0
        out = home / "train.json"
        with out.open("w") as handle, contextlib.redirect_stdout(handle):
            code = main(["train", str(_experiment(home, source)), "--json"])
        assert code == 0, out.read_text()
        yield request.param, json.loads(out.read_text())


def test_a_streamed_churn_run_registers_and_predicts_raw_rows(streamed, cli) -> None:
    import tensorflow as tf

    from mlkit.config import load_settings
    from mlkit.data.columns import ColumnPlan, encode
    from mlkit.data.tabular import serving_values
    from mlkit.registry import open_store

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
    settings = load_settings()
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        path = store.artifact_path(store.get_version("churn", outcome["version"]["version"]))
    plan = ColumnPlan.from_json(fingerprint["columns"])
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
    loaded = tf.saved_model.load(str(path))
    raw = {
        c.name: tf.constant(serving_values(table.column(c.name).combine_chunks(), c.kind))
        for c in plan.columns
    }
    served = loaded.signatures["serving_default"](**raw)
    encoded = encode(table, plan, "rows")
    direct = loaded.signatures["features"](
        **{
            n: tf.constant(v.astype(np.int64) if v.dtype.kind in "iu" else v)
            for n, v in encoded.items()
        }
    )
    np.testing.assert_allclose(
        served["probabilities"].numpy(), direct["probabilities"].numpy(), rtol=1e-5, atol=1e-6
    )
    assert encoded["plan"][2] == 0 and encoded["plan"][1] == 1  # out of vocabulary, missing
