"""``mlkit predict NAME --table SOURCE --output TABLE``: a registered version over a whole table in
process; local tables, BigQuery (the emulator), CSV and Parquet files; resuming without
duplicates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlkit.config import load_settings
from mlkit.data import LocalWarehouse
from mlkit.data.ingest import pixels_column
from mlkit.registry import open_store
from mlkit.workflows.batch_predict import BatchRequest, batch_predict

N = 3000


def _rows(n: int = N, seed: int = 0) -> tuple[pa.Table, np.ndarray]:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 16, size=(n, 64))
    table = pa.table(
        {"id": pa.array(np.arange(100, 100 + n)), "pixels": pixels_column(pixels, "string")}
    )
    return table, pixels[:, :10].argmax(axis=1)  # digits_v1: the brightest of pixels 0..9


@pytest.fixture
def registered(mlkit_home: Path, digits_v1: Path) -> Path:
    settings = load_settings()
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        store.register_version("digits", digits_v1)
    return mlkit_home


def _check(table: pa.Table, expected: np.ndarray, first_id: int = 100) -> None:
    table = table.sort_by("id")
    ids = table.column("id").to_numpy()
    assert len(ids) == len(expected) and len(set(ids.tolist())) == len(ids)  # no duplicates
    assert (ids == np.arange(first_id, first_id + len(expected))).all()
    assert (table.column("prediction").to_numpy() == expected).all()
    assert set(table.column("model_version").to_pylist()) == {1}
    probs = table.column("probabilities").to_pylist()
    assert np.allclose([sum(p) for p in probs], 1.0, atol=1e-4)


def test_local_table_to_local_table_through_the_cli(registered: Path, cli) -> None:
    table, expected = _rows()
    warehouse = LocalWarehouse(load_settings().warehouse_path)
    warehouse.write_table("scans", table)
    result = cli("predict", "digits:1", "--table", "scans", "--output", "scans_pred")
    assert result.code == 0, result.err
    assert f"{N:,} rows predicted into scans_pred" in result.out
    _check(warehouse.read_table("scans_pred"), expected)
    again = cli("predict", "digits", "--table", "scans", "--output", "scans_pred")
    assert again.code == 0 and f"0 rows predicted into scans_pred, {N:,} already there" in again.out


def test_an_interrupted_job_resumes_without_duplicates(registered: Path) -> None:
    table, expected = _rows()
    warehouse = LocalWarehouse(load_settings().warehouse_path)
    warehouse.write_table("scans", table)
    request = BatchRequest("digits", "scans", "out", batch_rows=500, write_rows=500)
    seen = []

    def stop_after_two_batches(done: int, total: int) -> None:
        seen.append(done)
        if done >= 1000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        batch_predict(request, load_settings(), on_progress=stop_after_two_batches)
    assert warehouse.count_rows("out") == 1000
    outcome = batch_predict(request, load_settings())
    assert (outcome.written, outcome.skipped) == (N - 1000, 1000)
    stages = outcome.stages  # seconds per stage of the pipeline, for --json and the bench
    assert {"read", "decode", "predict", "build", "write", "warm_up"} <= set(stages)
    assert all(seconds >= 0 for seconds in stages.values()) and stages["predict"] > 0
    _check(warehouse.read_table("out"), expected)


def test_files_in_and_out(registered: Path, tmp_path: Path, cli) -> None:
    table, expected = _rows(700)
    source = tmp_path / "scans.parquet"
    pq.write_table(table, source)
    out = tmp_path / "pred.csv"
    result = cli("predict", "digits", "--table", source, "--output", out, "--batch-rows", "256")
    assert result.code == 0, result.err
    import pyarrow.csv as pacsv

    written = pacsv.read_csv(out)
    columns = ["id", "prediction", "confidence", "probabilities", "model_version"]
    assert written.column_names == columns
    assert not (tmp_path / "pred.csv.parts").exists()
    csv_in = tmp_path / "scans.csv"
    pacsv.write_csv(table, csv_in)
    parquet_out = tmp_path / "pred.parquet"
    result = cli("predict", "digits", "--table", csv_in, "--output", parquet_out)
    assert result.code == 0, result.err
    _check(pq.read_table(parquet_out), expected)
    assert (written.sort_by("id").column("prediction").to_numpy() == expected).all()


def test_errors_are_one_line(registered: Path, cli) -> None:
    table, _ = _rows(10)
    LocalWarehouse(load_settings().warehouse_path).write_table("scans", table)
    no_output = cli("predict", "digits", "--table", "scans")
    assert no_output.code != 0 and "--table needs --output" in no_output.err
    bad_key = cli("predict", "digits", "--table", "scans", "--output", "o", "--key", "row")
    assert bad_key.code != 0 and "column 'row' not found" in bad_key.err
    nothing = cli("predict", "digits")
    assert nothing.code != 0 and "give --instances FILE" in nothing.err
    LocalWarehouse(load_settings().warehouse_path).write_table("taken", table)
    taken = cli("predict", "digits", "--table", "scans", "--output", "taken")
    assert taken.code != 0 and "does not hold mlkit predictions" in taken.err
    assert "Traceback" not in taken.err + bad_key.err + no_output.err


def test_bigquery_table_to_bigquery_table_on_the_emulator(
    registered: Path, bq_emulator, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    from mlkit.data import BigQueryWarehouse

    for name, value in bq_emulator.env().items():
        monkeypatch.setenv(name, value)
    warehouse = BigQueryWarehouse(bq_emulator.config(dataset="batch"))
    table, expected = _rows(1200)
    warehouse.write_table("scans", table)
    source, output = "bq://test.batch.scans", "bq://test.batch.scans_pred"
    first = cli("predict", "digits", "--table", source, "--output", output, "--batch-rows", "500")
    assert first.code == 0, first.err
    assert "1,200 rows predicted into bq://test.batch.scans_pred" in first.out
    _check(warehouse.read_table("scans_pred"), expected)
    again = cli("predict", "digits", "--table", source, "--output", output)
    assert again.code == 0 and "1,200 already there" in again.out
    assert warehouse.count_rows("scans_pred") == 1200


def test_vertex_batch_prediction_job_bigquery_in_and_out(
    registered: Path, bq_emulator, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    """The real aiplatform SDK creates a BatchPredictionJob on the fake Vertex AI; the fake runs
    the uploaded SavedModel over the emulator's table and writes the destination table there."""
    from mlkit.data import BigQueryWarehouse
    from tests.fakes.vertex_endpoints import running_fake

    warehouse = BigQueryWarehouse(bq_emulator.config(dataset="vx"))
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 16, size=(50, 64))
    ids = np.arange(50)
    warehouse.write_table(
        "scans", pa.table({"id": ids, "pixels": pa.array(list(pixels), pa.list_(pa.int64()))})
    )

    def run_job(fake, artifact_uri: str, source: str, destination: str) -> tuple[str, int, int]:
        rows = warehouse.read_table(source.removeprefix("bq://test.vx.")).to_pylist()
        answers = fake._run(artifact_uri, rows)
        out = pa.table(
            {
                "id": [r["id"] for r in rows],
                "prediction": [int(a["class_ids"][0]) for a in answers],
            }
        )
        warehouse.write_table("predictions_1", out)
        return "predictions_1", out.num_rows - 2, 2  # as if two instances had failed

    with running_fake(monkeypatch) as vertex:
        vertex.batch_runner = run_job
        result = cli(
            "predict",
            "digits",
            "--table",
            "bq://test.vx.scans",
            "--output",
            "bq://test.vx",
            "--target",
            "vertex",
        )
        assert result.code == 0, result.err
        assert "Vertex AI job projects/proj-1/locations/" in result.out
        # the job's own counts (completionStats), not a count of the table
        assert "wrote 48 rows to bq://predictions_1, 2 failed" in " ".join(result.out.split())
        job = next(iter(vertex.batch_jobs.values()))
        assert job["inputConfig"]["bigquerySource"]["inputUri"] == "bq://test.vx.scans"
        assert job["model"].startswith("projects/proj-1/locations/")
        uploads = [c for c in vertex.calls if c[1].endswith("/models:upload")]
        again = cli(
            "predict",
            "digits",
            "--table",
            "bq://test.vx.scans",
            "--output",
            "bq://test.vx",
            "--target",
            "vertex",
        )
        assert again.code == 0, again.err
        assert [c for c in vertex.calls if c[1].endswith("/models:upload")] == uploads  # once
    written = warehouse.read_table("predictions_1").sort_by("id")
    assert written.column("prediction").to_pylist() == pixels[:, :10].argmax(axis=1).tolist()
    bad = cli("predict", "digits", "--table", "scans", "--output", "o", "--target", "vertex")
    assert bad.code != 0 and "--target vertex reads and writes BigQuery" in bad.err
