"""The prediction log's retention (`mlkit data prune-log`): what is older than the cut-off goes,
from the log and its labels, on the local warehouse beside a serving endpoint and on the BigQuery
emulator through the real client; bad arguments and tables that are not a log are refused."""

from __future__ import annotations

import json
import time

import pyarrow as pa
import pytest

from mlkit.config import load_settings
from mlkit.data import LocalWarehouse
from tests.monitoring.test_monitor_endpoint import flushed, post, replay

pytest.importorskip("tensorflow")

DAY = 86400.0


def _aged(table: pa.Table, days: float) -> pa.Table:
    """The same rows, recorded ``days`` earlier (ids changed so they stay distinct)."""
    at = pa.array([t - days * DAY for t in table.column("at").to_pylist()], pa.float64())
    ids = pa.array([f"old{days:g}-{r}" for r in table.column("request_id").to_pylist()])
    table = table.set_column(table.schema.get_field_index("at"), "at", at)
    return table.set_column(table.schema.get_field_index("request_id"), "request_id", ids)


def test_prune_keeps_the_recent_answers_and_labels_and_the_endpoint_keeps_logging(
    shop, cli
) -> None:
    sent = replay(shop, rows=40)
    status, _, _ = post(
        f"{shop.url}/v1/models/shop:feedback",
        {"request_ids": [r for r, _ in sent], "labels": [label for _, label in sent]},
    )
    assert status == 200
    flushed(shop)
    warehouse = LocalWarehouse(load_settings().warehouse_path)
    recent_log, recent_labels = (
        warehouse.read_table("prediction_log"),
        warehouse.read_table("prediction_log_labels"),
    )
    for days in (40, 90):  # answers and truths from older days, as a long-running log holds
        warehouse.write_table("prediction_log", _aged(recent_log, days), replace=False)
        warehouse.write_table("prediction_log_labels", _aged(recent_labels, days), replace=False)
    assert warehouse.count_rows("prediction_log") == 3 * 40

    result = cli("data", "prune-log", "--older-than", "30d", "--json")

    assert result.code == 0, result.err
    pruned = json.loads(result.out)
    assert pruned["deleted"] == 80 and pruned["labels_deleted"] == 80
    assert abs(pruned["before"] - (time.time() - 30 * DAY)) < 60
    kept = warehouse.read_table("prediction_log")
    assert sorted(kept.column("request_id").to_pylist()) == sorted(r for r, _ in sent)
    assert warehouse.count_rows("prediction_log_labels") == 40
    # the endpoint writes on after the prune, and monitor says the log was pruned
    replay(shop, rows=5, seed=9)
    flushed(shop)
    assert warehouse.count_rows("prediction_log") == 45
    shown = cli("monitor", "shop")
    assert shown.code == 0, shown.err
    assert "The log was pruned: nothing answered before" in shown.out
    again = cli("data", "prune-log", "--older-than", "30d")
    assert again.code == 0 and "Deleted 0 rows of 'prediction_log'" in again.out


def test_bad_cut_offs_and_tables_that_are_not_a_log_are_refused(mlkit_home, cli) -> None:
    warehouse = LocalWarehouse(load_settings().warehouse_path)
    warehouse.write_table("sales", pa.table({"at": [1.0, 2.0], "amount": [3.0, 4.0]}))

    for args, says in (
        (["--older-than", "a while"], "--older-than 'a while' is not a time"),
        (["--older-than", "2999-01-01"], "is in the future"),
        (["--older-than", "30d", "--log", "sales"], "table 'sales' is not a prediction log"),
        (["--older-than", "30d", "--log", "nothing_here"], "table 'nothing_here' not found"),
    ):
        result = cli("data", "prune-log", *args)
        assert result.code != 0, args
        assert says in result.err, result.err
        assert "Traceback" not in result.err
    assert warehouse.count_rows("sales") == 2  # refused before anything was deleted


def test_prune_on_bigquery_through_the_real_client(
    mlkit_home, bq_emulator, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    from mlkit.data import BigQueryWarehouse

    for name, value in bq_emulator.env().items():
        monkeypatch.setenv(name, value)
    warehouse = BigQueryWarehouse(bq_emulator.config(dataset="logs"))
    now = time.time()
    ats = [now - d * DAY for d in (0.1, 1, 29, 31, 60, 400)]
    rows = {
        "request_id": [f"r{i}" for i in range(len(ats))],
        "at": ats,
        "model": ["shop"] * len(ats),
        "version": [1] * len(ats),
        "instance": ['{"x": 1.0}'] * len(ats),
        "prediction": ['{"class_id": 0}'] * len(ats),
    }
    warehouse.write_table("prediction_log", pa.table(rows))

    result = cli(
        "data", "prune-log", "--older-than", "30d", "--log", "bq://test.logs.prediction_log"
    )

    assert result.code == 0, result.err
    assert "Deleted 3 rows of 'prediction_log'" in result.out
    left = warehouse.read_table("prediction_log").column("request_id").to_pylist()
    assert sorted(left) == ["r0", "r1", "r2"]
