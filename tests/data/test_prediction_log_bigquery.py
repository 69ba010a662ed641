"""The prediction log into BigQuery: the real client against the emulator (this folder's one
emulator for the session), written in the background and read back by `mlkit monitor`'s reader."""

from __future__ import annotations

import time

from mlkit.data import BigQueryWarehouse
from mlkit.monitoring.live import read_labels
from mlkit.monitoring.log import LOG_TABLE, PredictionLogger
from mlkit.monitoring.served import read_served
from mlkit.serving.observe import Answered, Feedback


def test_answers_and_feedback_land_in_bigquery_tables(bq_warehouse: BigQueryWarehouse) -> None:
    log = PredictionLogger(bq_warehouse, flush_interval_s=0.05)
    for n in range(40):
        log.answered(
            Answered(
                f"r{n}",
                "shop",
                1,
                "tfserving",
                200,
                0.001,
                [{"x": float(n)}],
                [{"class_id": n % 2}],
                time.time(),
            )  # fmt: skip
        )
    log.feedback([Feedback("r1", "shop", 1, 0, time.time())])
    log.close(60.0)
    assert log.counts().logged == 40 and log.counts().dropped == 0
    served = read_served(bq_warehouse, LOG_TABLE, "shop")
    assert served.rows.num_rows == 40
    assert sorted(i["x"] for i in served.instances(1)) == [float(n) for n in range(40)]
    assert read_labels(bq_warehouse, f"{LOG_TABLE}_labels") == {("r1", 0): 1}


def test_vertex_request_response_log_reads_as_the_prediction_log(
    bq_warehouse: BigQueryWarehouse,
) -> None:
    """The table Vertex AI writes (one row per request, payloads as JSON text) reads as the same
    rows as the local endpoint's log: one per instance, the version from the answer."""
    import json

    from google.cloud import bigquery

    schema = [
        bigquery.SchemaField("endpoint", "STRING"),
        bigquery.SchemaField("deployed_model_id", "STRING"),
        bigquery.SchemaField("logging_time", "TIMESTAMP"),
        bigquery.SchemaField("request_id", "NUMERIC"),
        bigquery.SchemaField("request_payload", "STRING", mode="REPEATED"),
        bigquery.SchemaField("response_payload", "STRING", mode="REPEATED"),
    ]
    table_id = bq_warehouse.table_id("shop_requests")
    client = bq_warehouse.client
    client.create_dataset(table_id.rsplit(".", 1)[0], exists_ok=True)
    client.create_table(bigquery.Table(table_id, schema=schema))
    answer_1 = {"predictions": [{"class_id": 0}, {"class_id": 1}], "modelVersionId": "1"}
    answer_2 = {"predictions": [{"class_id": 1}], "modelVersionId": "2"}
    rows = [
        {"endpoint": "projects/p/locations/l/endpoints/1", "deployed_model_id": "111",
         "logging_time": "2026-11-29T09:00:00Z", "request_id": 7,
         "request_payload": [json.dumps({"instances": [{"x": 1.0}, {"x": 2.0}]})],
         "response_payload": [json.dumps(answer_1)]},
        {"endpoint": "projects/p/locations/l/endpoints/1", "deployed_model_id": "222",
         "logging_time": "2026-11-29T09:00:01Z", "request_id": 8,
         "request_payload": [json.dumps({"instances": [{"x": 3.0}]})],
         "response_payload": [json.dumps(answer_2)]},
    ]  # fmt: skip
    assert client.insert_rows_json(table_id, rows) == []
    served = read_served(bq_warehouse, "shop_requests", "shop", vertex=True)
    assert served.versions == [1, 2]
    assert served.instances(1) == [{"x": 1.0}, {"x": 2.0}]
    assert served.rows.column("request_id").to_pylist() == ["7", "7", "8"]
