"""The churn CSV (text columns, empty cells, a yes/no label) as a trained project, shared by the
tabular end-to-end tests: one project per warehouse (local, or BigQuery on the emulator), trained
through the real CLI, and the check that a SavedModel's raw-row signature answers as its features
signature does on the loader's encoded rows."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

REPO = Path(__file__).resolve().parents[1]
CSV = REPO / "examples" / "churn.csv"
INSTANCES = REPO / "examples" / "churn-instances.json"


@contextlib.contextmanager
def trained_churn(
    request: Any, tmp_path_factory: Any, *, dataset: str, search: str, stream: bool = False
) -> Iterator[tuple[str, str, dict]]:
    """Load the churn CSV into the warehouse ``request.param`` names ("local" or "bigquery": the
    emulator, in BigQuery dataset ``dataset``), train it with the ``[search]`` section ``search``
    and yield (warehouse, table, the training's JSON outcome) with ``MLKIT_HOME`` set to it."""
    from mlkit.cli import main

    home = tmp_path_factory.mktemp(f"{dataset}-{request.param}")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("MLKIT_REGISTRY_URL", "MLKIT_WAREHOUSE", "MLKIT_ARTIFACTS", "MLKIT_RUNS"):
            patch.delenv(name, raising=False)
        patch.setenv("MLKIT_HOME", str(home))
        patch.setenv("COLUMNS", "200")
        source = "churn"
        if request.param == "bigquery":
            emulator = request.getfixturevalue("bq_emulator")
            for key, value in emulator.env().items():
                patch.setenv(key, value)
            source = f"bq://test.{dataset}.churn"
        assert main(["data", "load", str(CSV), "--table", source]) == 0
        experiment = home / f"{dataset}.toml"
        experiment.write_text(
            f'[experiment]\nname = "churn"\n\n[data]\nsource = "{source}"\nlabel = "churned"\n'
            f"stream = {str(stream).lower()}\n\n[search]\n{search}"
        )
        out = home / "train.json"
        with out.open("w") as handle, contextlib.redirect_stdout(handle):
            code = main(["train", str(experiment), "--json"])
        assert code == 0, out.read_text()
        yield request.param, source, json.loads(out.read_text())


def raw_rows_answer_as_encoded(outcome: dict, table: pa.Table) -> tuple[Any, Any, dict]:
    """Call the registered version's ``serving_default`` on ``table``'s raw values and its
    ``features`` signature on the loader's encoding of the same rows; assert equal
    probabilities and return (served, direct, encoded)."""
    import tensorflow as tf

    from mlkit.config import load_settings
    from mlkit.data.columns import ColumnPlan, encode
    from mlkit.data.tabular import serving_values
    from mlkit.registry import open_store

    settings = load_settings()
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        path = store.artifact_path(store.get_version("churn", outcome["version"]["version"]))
    plan = ColumnPlan.from_json(outcome["run"]["data_fingerprint"]["columns"])
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
    return served, direct, encoded
