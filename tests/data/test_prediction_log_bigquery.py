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
