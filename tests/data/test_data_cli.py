"""mlkit data load / tables / stats / drift through the real CLI, locally and on BigQuery (the
emulator, reached through the MLKIT_BIGQUERY_* settings), and a training run's lineage."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from mlkit.config import load_settings
from mlkit.data import LocalWarehouse
from mlkit.registry import open_store
from tests.conftest import table_headers

_datasets = itertools.count()


def _json(result) -> object:
    assert result.code == 0, result.err
    return json.loads(result.out)


def _one_line_error(result, code: int = 3) -> str:
    assert result.code == code, (result.out, result.err)
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert lines[0].startswith("Error: ")
    assert all(line.startswith(("Error: ", "Hint: ")) for line in lines), result.err
    return lines[0]


def test_load_tables_and_stats_locally(cli, mlkit_home: Path) -> None:
    loaded = _json(cli("data", "load", "digits", "--pixels", "string", "-t", "digits_s", "--json"))
    assert loaded["rows"] == 1797 and loaded["table"] == "digits_s"
    tables = _json(cli("data", "tables", "--json"))
    assert [(t["name"], t["rows"]) for t in tables] == [("digits_s", 1797)]
    stats = _json(cli("data", "stats", "digits_s", "--label", "label", "--json"))
    pixels = stats["features"]["pixels"]
    assert pixels["count"] == 1797 * 64 and pixels["values_per_row"] == 64
    assert (pixels["min"], pixels["max"]) == (0, 16)
    assert sum(stats["label"]["distribution"].values()) == 1797
    query = _json(
        cli("data", "stats", "SELECT * FROM digits_s WHERE label < @m", "-p", "m=2", "--json")
    )
    assert query["rows"] == 178 + 182
    shown = cli("data", "stats", "digits_s", "--label", "label")
    assert shown.code == 0 and "pixels [64]" in shown.out and "115,008" in shown.out
    # The headers are the --json field names (of each feature's statistics; feature: its key).
    features, _label = table_headers(shown.out)
    assert features[0] == "feature"
    for name in features[1:]:
        head, _, rest = name.partition(".")
        # quantiles (numbers), distinct and top (categories): keys of other kinds' statistics
        assert head in pixels or head in ("quantiles", "distinct", "top"), name
        assert not rest or rest == "p50", name
    [headers] = table_headers(cli("data", "tables").out)
    assert set(headers) == set(tables[0])


def test_errors_are_one_line(cli, mlkit_home: Path) -> None:
    line = _one_line_error(cli("data", "stats", "nope"))
    assert line.startswith("Error: table 'nope' not found in local warehouse")
    line = _one_line_error(cli("data", "load", "digitz"))
    assert line == (
        "Error: no bundled dataset or file named 'digitz' "
        "(bundled: breast_cancer, diabetes, digits, iris, penguins, wine)"
    )
    line = _one_line_error(cli("data", "stats", "SELECT 1 AS a WHERE @x", "--json"))
    assert line == "Error: query parameter @x has no value"
    line = _one_line_error(cli("data", "stats", "digits", "-p", "oops"), code=2)
    assert line.startswith("Error: invalid --param 'oops': expected NAME=VALUE")
    line = _one_line_error(cli("data", "load", "digits", "-t", "bq://a"))
    assert line == "Error: invalid BigQuery source 'bq://a': expected bq://project.dataset.table"


def test_bigquery_through_the_cli(cli, mlkit_home: Path, bq_env) -> None:
    dataset = f"cli{next(_datasets)}"
    loaded = _json(
        cli(
            "data",
            "load",
            "digits",
            "--pixels",
            "bytes",
            "-t",
            f"bq://test.{dataset}.digits",
            "--json",
        )
    )
    assert loaded["rows"] == 1797
    tables = _json(cli("data", "tables", "-w", f"bq://test.{dataset}", "--json"))
    assert [(t["name"], t["rows"]) for t in tables] == [("digits", 1797)]
    stats = _json(cli("data", "stats", f"bq://test.{dataset}.digits", "-l", "label", "--json"))
    assert stats["features"]["pixels"]["count"] == 1797 * 64
    assert stats["features"]["pixels"]["mean"] == pytest.approx(4.884, abs=1e-3)


def _run_with_stats(table: str) -> int:
    from mlkit.data import FeatureSpec, load_splits

    settings = load_settings()
    data = load_splits(
        LocalWarehouse(settings.warehouse_path),
        table,
        label="label",
        features=[FeatureSpec("a"), FeatureSpec("b")],
        key="id",
        eval_fraction=0.1,
        test_fraction=0.2,
    )
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        run = store.create_run("drifty", spec_text="", params={})
        store.record_run_data_stats(run.id, data.stats)
        store.finish_run(run.id, status="finished", data_fingerprint=data.fingerprint)
        assert store.run_data_stats(run.id) == data.stats
        return run.id


def _frame(n: int, shift: float, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "id": pa.array(np.arange(n)),
            "a": pa.array(rng.normal(shift, 1.0, n)),
            "b": pa.array(rng.integers(0, 10, n)),
            "label": pa.array(np.arange(n) % 2),
        }
    )


def test_drift_against_a_run(cli, mlkit_home: Path) -> None:
    warehouse = LocalWarehouse(load_settings().warehouse_path)
    warehouse.write_table("train", _frame(3000, 0.0, 1))
    warehouse.write_table("same", _frame(3000, 0.0, 2))
    warehouse.write_table("moved", _frame(3000, 1.0, 3))
    run_id = _run_with_stats("train")
    steady = _json(cli("data", "drift", "same", "--against", run_id, "--json"))
    assert steady["drifted"] == 0 and [f["feature"] for f in steady["features"]] == [
        "a",
        "b",
        "label (label)",
    ]
    moved = _json(
        cli("data", "drift", "moved", "--against", run_id, "--json", "--no-fail-on-drift")
    )
    assert [f["feature"] for f in moved["features"] if f["drifted"]] == ["a"]
    shown = cli("data", "drift", "moved", "--against", run_id)  # drift fails by default: exit 8
    assert shown.code == 8 and "1 of 3 features drifted" in shown.out
    [headers] = table_headers(shown.out)
    assert "psi" in headers and set(headers) <= set(moved["features"][0])
    assert shown.err.startswith(f"Error: 1 of 3 features drifted against run {run_id}: a")
    with open_store(load_settings().registry_url, load_settings().artifacts_dir) as store:
        bare = store.create_run("drifty", spec_text="", params={}).id
    line = _one_line_error(cli("data", "drift", "same", "--against", bare))
    assert line == f"Error: run {bare} has no data statistics"
    _one_line_error(cli("data", "drift", "same", "--against", 999), code=5)


@pytest.mark.slow
def test_training_from_bigquery_records_lineage_and_stats(
    cli, mlkit_home: Path, bq_env, tmp_path: Path
) -> None:
    dataset = f"train{next(_datasets)}"
    assert (
        cli(
            "data", "load", "digits", "--pixels", "string", "-t", f"bq://test.{dataset}.digits"
        ).code
        == 0
    )
    experiment = tmp_path / "digits-bq.toml"
    experiment.write_text(
        f"""
[experiment]
name = "digits-bq"
[data]
source = "SELECT * FROM `test.{dataset}.digits` WHERE label < @classes"
params = {{ classes = 5 }}
backend = "bigquery"
dataset = "{dataset}"
label = "label"
features = [{{ name = "pixels", shape = [64] }}]
[search]
iterations = 1
steps_per_iteration = 10
"""
    )
    trained = _json(cli("train", str(experiment), "--json"))
    run_id = trained["run"]["id"]
    fingerprint = trained["run"]["data_fingerprint"]
    assert fingerprint["source"].startswith("BigQuery test")
    assert fingerprint["query"] == f"SELECT * FROM `test.{dataset}.digits` WHERE label < @classes"
    assert fingerprint["params"] == {"classes": 5}
    assert fingerprint["rows"] == 178 + 182 + 177 + 183 + 181
    assert fingerprint["storage_forms"] == {"pixels": "string"}
    assert len(fingerprint["content_sha256"]) == 64
    settings = load_settings()
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        stats = store.run_data_stats(run_id)
    assert stats["rows"] == fingerprint["rows"]
    assert list(stats["label"]["distribution"]) == ["0", "1", "2", "3", "4"]
    # all ten classes now: the label distribution moved, the pixels barely
    drift = _json(
        cli(
            "data", "drift", f"bq://test.{dataset}.digits", "--against", run_id, "--json",
            "--no-fail-on-drift",
        )
    )  # fmt: skip
    flagged = [f["feature"] for f in drift["features"] if f["drifted"]]
    assert flagged == ["label (label)"]


def test_churn_stats_and_drift_are_pushed_down(
    cli, mlkit_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The churn example (categories with empty values, a boolean, a date, a text label) through
    `mlkit data stats` and `mlkit data drift`: computed in DuckDB, equal to the streamed pass,
    and no row reaches the client."""
    import pyarrow.compute as pc

    from mlkit.data.stats import relation_stats

    csv = Path(__file__).resolve().parents[2] / "examples" / "churn.csv"
    assert cli("data", "load", csv, "-t", "churn").code == 0
    warehouse = LocalWarehouse(load_settings().warehouse_path)
    table = warehouse.read_table("churn")
    moved = table.set_column(
        table.schema.get_field_index("plan"),
        "plan",
        pc.if_else(pc.equal(table["plan"], "basic"), "gold", table["plan"]),
    )
    warehouse.write_table("churn_moved", moved)
    streamed = relation_stats(warehouse, "churn", label="churned", skip=["id"])
    with open_store(load_settings().registry_url, load_settings().artifacts_dir) as store:
        run = store.create_run("churn", spec_text="", params={})
        store.record_run_data_stats(run.id, streamed)
        store.finish_run(run.id, status="finished", data_fingerprint={"key": "id"})

    def refuse(*args, **kwargs):
        raise AssertionError("a row was read by the client")

    monkeypatch.setattr(LocalWarehouse, "iter_batches", refuse)
    monkeypatch.setattr(LocalWarehouse, "read_table", refuse)
    stats = _json(cli("data", "stats", "churn", "--label", "churned", "--json"))
    assert {k: v["kind"] for k, v in stats["features"].items()} == {
        k: v["kind"] for k, v in streamed["features"].items()
    }
    assert stats["features"]["plan"] == streamed["features"]["plan"]
    assert stats["features"]["signed_up"]["kind"] == "date"
    assert stats["label"] == streamed["label"]
    for name in ("tenure_months", "monthly_fee", "autopay", "signed_up"):
        s, p = streamed["features"][name], stats["features"][name]
        assert p["histogram"] == s["histogram"], name
        assert p["mean"] == pytest.approx(s["mean"], rel=1e-5), name
    same = _json(cli("data", "drift", "churn", "--against", run.id, "--json"))
    assert same["drifted"] == 0
    drifted = _json(
        cli("data", "drift", "churn_moved", "--against", run.id, "--json", "--no-fail-on-drift")
    )
    assert [f["feature"] for f in drifted["features"] if f["drifted"]] == ["plan"]
