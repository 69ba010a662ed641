"""The prediction log on the real local warehouse: batches written in the background, sampling,
drops counted when the warehouse cannot be written, and close() flushing what waits."""

from __future__ import annotations

import time
from pathlib import Path

from mlkit.data import LocalWarehouse
from mlkit.monitoring.log import LOG_TABLE, PredictionLogger
from mlkit.monitoring.served import read_served
from mlkit.serving.observe import Answered, Feedback


def answer(n: int, model: str = "shop", instances: int = 2) -> Answered:
    return Answered(
        request_id=f"r{n}",
        model=model,
        version=1 + n % 2,
        route="tfserving",
        status=200,
        latency_s=0.002,
        instances=[{"x": float(n), "y": 0.5}] * instances,
        predictions=[{"class_id": n % 2}] * instances,
        at=time.time(),
    )


def test_every_answer_is_written_on_close(tmp_path: Path) -> None:
    warehouse = LocalWarehouse(tmp_path / "w.duckdb")
    log = PredictionLogger(warehouse, flush_interval_s=60.0)  # nothing before close
    for n in range(300):
        log.answered(answer(n))
    log.feedback([Feedback("r3", "shop", 1, 0, time.time())])
    log.close(60.0)
    served = read_served(warehouse, LOG_TABLE, "shop")
    assert served.rows.num_rows == 600  # two instances per request
    assert served.versions == [1, 2]
    assert len(set(served.rows.column("request_id").to_pylist())) == 300
    assert served.instances(2)[0] == {"x": 1.0, "y": 0.5}  # request 1 went to version 2
    assert log.counts().logged == 600 and log.counts().dropped == 0
    assert read_served(warehouse, LOG_TABLE, "shop", since=time.time() + 60).rows.num_rows == 0
    assert read_served(warehouse, LOG_TABLE, "other").rows.num_rows == 0
    labels = warehouse.read_table(f"{LOG_TABLE}_labels")
    assert labels.column("request_id").to_pylist() == ["r3"]


def test_batches_are_written_every_flush_interval(tmp_path: Path) -> None:
    warehouse = LocalWarehouse(tmp_path / "w.duckdb")
    log = PredictionLogger(warehouse, flush_interval_s=0.05)
    try:
        for n in range(10):
            log.answered(answer(n, instances=1))
        deadline = time.monotonic() + 10
        while log.counts().logged < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert read_served(warehouse, LOG_TABLE, "shop").rows.num_rows == 10
    finally:
        log.close(60.0)


def test_sampling_logs_about_that_share(tmp_path: Path) -> None:
    log = PredictionLogger(LocalWarehouse(tmp_path / "w.duckdb"), sample=0.25, seed=3)
    for n in range(2000):
        log.answered(answer(n, instances=1))
    log.close(60.0)
    counts = log.counts()
    assert counts.logged + counts.sampled_out == 2000
    assert 400 <= counts.logged <= 600


def test_a_warehouse_that_cannot_be_written_counts_drops_and_never_blocks(tmp_path: Path) -> None:
    broken = tmp_path / "a-folder.duckdb"
    broken.mkdir()  # DuckDB cannot open a folder as its file
    reported: list[int] = []
    log = PredictionLogger(
        LocalWarehouse(broken), flush_interval_s=0.02, on_dropped=reported.append
    )
    started = time.perf_counter()
    for n in range(50):
        log.answered(answer(n, instances=1))
    assert time.perf_counter() - started < 0.5  # enqueue only
    log.close(60.0)
    assert log.counts().dropped == 50 and log.counts().logged == 0
    assert reported and reported[-1] == 50


def test_a_full_queue_drops_instead_of_growing(tmp_path: Path) -> None:
    log = PredictionLogger(
        LocalWarehouse(tmp_path / "w.duckdb"), flush_interval_s=60.0, max_queue=10
    )
    for n in range(8):
        log.answered(answer(n))  # 2 instances each: the 6th and later do not fit
    log.close(60.0)
    assert log.counts().logged == 10 and log.counts().dropped == 6


def test_the_counts_are_on_metrics(tmp_path: Path) -> None:
    from mlkit.serving.metrics import EndpointMetrics

    broken = tmp_path / "folder.duckdb"
    broken.mkdir()
    log = PredictionLogger(LocalWarehouse(broken), flush_interval_s=60.0)
    metrics = EndpointMetrics()
    metrics.watch_values("mlkit_endpoint_prediction_log", lambda: {"dropped": log.counts().dropped})
    for n in range(3):
        log.answered(answer(n, instances=1))
    log.close(60.0)
    assert b"mlkit_endpoint_prediction_log_dropped 3.0" in metrics.exposition()


def test_rows_are_one_per_instance_whatever_the_requests_hold() -> None:
    from mlkit.monitoring.log import log_rows

    empty = Answered("e", "shop", 1, "tfserving", 400, 0.001, [], [], 1.0)
    one, two = answer(1, instances=1), answer(2, instances=2)
    rows = log_rows([one, two, empty]).to_pylist()
    assert [(r["request_id"], r["instance_index"]) for r in rows] == [
        ("r1", 0), ("r2", 0), ("r2", 1), ("e", 0),
    ]  # fmt: skip
    assert rows[1]["instance"] == '{"x":2.0,"y":0.5}' and rows[1]["prediction"] == '{"class_id":0}'
    assert rows[3]["instance"] is None and rows[3]["status"] == 400
    single = log_rows([one, answer(2, instances=1)]).to_pylist()  # the one-instance path
    assert single[0] == rows[0] and {**single[1], "at": 0} == {**rows[1], "at": 0}


def test_every_answer_is_committed_within_one_flush_interval(tmp_path: Path) -> None:
    """The bound a SIGKILL relies on: the writer takes the queue early enough (the interval less
    the time writes take) that no answer waits longer than one interval for its commit."""
    log = PredictionLogger(LocalWarehouse(tmp_path / "w.duckdb"), flush_interval_s=1.0)
    try:
        assert log.take_every_s() < 1.0
        began, n = time.monotonic(), 0
        while time.monotonic() - began < 3.0:
            log.answered(answer(n, instances=1))
            n += 1
            time.sleep(0.005)
        deadline = time.monotonic() + 10
        while log.counts().logged < n and time.monotonic() < deadline:
            time.sleep(0.02)
        assert log.counts().logged == n
        # Within one interval; the slack is for a loaded 2-core CI machine (a writer that waited
        # for a second take, as a fixed cadence does after a quiet spell, takes 2 intervals).
        assert 0.0 < log.counts().max_delay_s <= 1.5
        assert log.cost.writes >= 3 and log.cost.rows == n
    finally:
        log.close(60.0)


def test_a_prediction_is_logged_as_the_answer_encoded_it() -> None:
    """The server encodes the predictions once (the answer's body); the log takes the one
    prediction's text from it instead of encoding it again, and more than one are encoded."""
    import json

    from mlkit.monitoring.log import log_rows
    from mlkit.serving.predicting import answer_body

    predictions: list[object] = [{"probabilities": [0.25, 0.75], "class_ids": [1], "class_id": 1}]
    fields: dict[str, object] = {"model": "shop", "version": 1, "request_id": "r1"}
    encoded = json.dumps(predictions)
    assert (
        answer_body(encoded, fields) == json.dumps({"predictions": predictions, **fields}).encode()
    )
    one = Answered("r1", "shop", 1, "predict", 200, 0.001, [{"x": 1.0}], predictions, 1.0, encoded)
    two = Answered("r2", "shop", 1, "predict", 200, 0.001, [{"x": 1.0}] * 2, predictions * 2, 1.0,
                   json.dumps(predictions * 2))  # fmt: skip
    for answers in ([one], [one, two]):
        rows = log_rows(answers).to_pylist()
        assert rows[0]["prediction"] == json.dumps(predictions[0])  # the answer's own text
        assert [json.loads(r["prediction"]) for r in rows] == predictions * len(rows)


def test_a_lone_instance_is_logged_as_the_client_sent_it() -> None:
    """A body of one instance and nothing else gives the log the instance's own text; any other
    body (more keys, the key twice, escapes) has the instance encoded again."""
    import json

    from mlkit.monitoring.log import log_rows

    instance = {"x": 1.5, "y": -2.0, "name": "a b"}

    def logged(body: bytes) -> str:
        record = Answered("r", "shop", 1, "predict", 200, 0.001, [instance], [{"c": 1}], 1.0,
                          body=body)  # fmt: skip
        return str(log_rows([record]).column("instance")[0].as_py())

    sent = b' {"instances" : [ {"x": 1.5, "y": -2.0,  "name": "a b"} ] }\n'
    assert logged(sent) == '{"x": 1.5, "y": -2.0,  "name": "a b"}'
    assert json.loads(logged(sent)) == instance
    encoded = '{"x":1.5,"y":-2.0,"name":"a b"}'
    for body in (
        b'{"instances": [{"x": 9}], "instances": [{"x": 1.5, "y": -2.0, "name": "a b"}]}',
        b'{"instances": [{"x": 9}], "\\u0069nstances": [{"x": 1.5}]}',
        b'{"instances": [{"x": 1.5, "y": -2.0, "name": "a b"}], "parameters": {}}',
        b"",
    ):
        assert logged(body) == encoded


def test_a_queued_lone_answer_keeps_no_dict_of_the_request_alive(tmp_path: Path) -> None:
    """A one-instance answer waits as its row (strings and numbers): the request's dicts and
    lists are not kept until the flush (they would reach the garbage collector's oldest
    generation and make its full collections, which stop the endpoint, come more often); the
    row written is the same as from the record."""
    import json
    import weakref

    from mlkit.monitoring.log import log_rows

    class Instance(dict):  # a dict that can be watched with a weak reference
        pass

    log = PredictionLogger(LocalWarehouse(tmp_path / "w.duckdb"), flush_interval_s=60.0)
    try:
        instance = Instance(x=1.5, y=-2.0)
        predictions = [{"class_id": 1}]
        record = Answered("r1", "shop", 1, "tfserving", 200, 0.002, [instance], predictions,
                          time.time(), json.dumps(predictions),
                          json.dumps({"instances": [instance]}).encode())  # fmt: skip
        expected = log_rows([record]).to_pylist()
        kept = weakref.ref(instance)
        log.answered(record)
        del record, instance
        assert kept() is None
        log.answered(answer(2, instances=2))  # any other answer waits as the record
        log.flush()
        rows = read_served(log.warehouse, LOG_TABLE, "shop").rows.to_pylist()
        assert rows[0] == expected[0] and json.loads(rows[0]["instance"]) == {"x": 1.5, "y": -2.0}
        assert [r["request_id"] for r in rows] == ["r1", "r2", "r2"]
    finally:
        log.close(60.0)


def test_the_writer_takes_the_queue_from_the_oldest_answer_and_sleeps_when_idle(
    tmp_path: Path,
) -> None:
    """No write while nothing waits; an answer after a quiet spell is committed within one
    interval of being answered (the take is planned from the oldest answer waiting)."""
    log = PredictionLogger(LocalWarehouse(tmp_path / "w.duckdb"), flush_interval_s=1.0)
    try:
        time.sleep(1.2)
        assert log.cost.writes == 0
        for n in range(3):
            log.answered(answer(n, instances=1))
            deadline = time.monotonic() + 10
            while log.counts().logged < n + 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert log.counts().logged == n + 1
            time.sleep(1.1)  # quiet: the next answer is the oldest of a new take
        # Within one interval; the slack is for a loaded 2-core CI machine (a writer that waited
        # for a second take, as a fixed cadence does after a quiet spell, takes 2 intervals).
        assert 0.0 < log.counts().max_delay_s <= 1.5
        assert log.cost.writes == 3
    finally:
        log.close(60.0)
