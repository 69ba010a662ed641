"""Statistics pushed down into the warehouse (SQL on DuckDB and on BigQuery through the emulator)
equal the streamed pass's, and no row reaches the client."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from mlkit.data import Warehouse
from mlkit.data.ingest import pixels_column
from mlkit.data.stats import relation_stats
from mlkit.data.stats_sql import pushdown_stats, statistics
from mlkit.data.warehouse import Query

N = 2000


def _table(n: int = N, shift: float = 0.0, seed: int = 0) -> pa.Table:
    """Every column kind: numbers with NULLs and NaN, a boolean, a date, a timestamp (naive and
    zoned), a category with NULLs and empty strings, pixels as STRING and BYTES, an array."""
    rng = np.random.default_rng(seed)
    a = rng.normal(10 + shift, 2, n)
    days = rng.integers(18_000, 19_000, n)
    seconds = rng.integers(0, 86_400, n) * 1_000_000 + days * 86_400 * 1_000_000
    return pa.table(
        {
            "id": pa.array(np.arange(n)),
            "a": pa.array(
                [None if i % 10 == 0 else (np.nan if i % 17 == 0 else v) for i, v in enumerate(a)],
                pa.float64(),
            ),
            "b": pa.array(rng.integers(0, 5, n)),
            "flag": pa.array([None if i % 7 == 0 else bool(v) for i, v in enumerate(a > 10)]),
            "day": pa.array(
                [None if i % 9 == 0 else int(d) for i, d in enumerate(days)], pa.date32()
            ),
            "at": pa.array(seconds, pa.timestamp("us")),
            "utc": pa.array(seconds, pa.timestamp("us", tz="UTC")),
            "text": pixels_column(rng.integers(0, 200, size=(n, 6)), "string"),
            "raw": pixels_column(rng.integers(0, 256, size=(n, 5)), "bytes"),
            "arr": pa.array(list(rng.integers(-3, 50, size=(n, 4))), pa.list_(pa.int64())),
            "color": pa.array(
                [["red", "green", "blue", None, ""][i % 5] for i in range(n)], pa.string()
            ),
            "plan": pa.array([f"p{int(v)}" for v in rng.zipf(1.5, n) % 80]),
            "label": pa.array(np.arange(n) % 3),
        }
    )


def _close(streamed: object, pushed: object, where: str) -> None:
    """Equal structure and keys; floats within 1e-5 relative; quantiles checked apart."""
    if isinstance(streamed, dict):
        assert isinstance(pushed, dict) and set(pushed) == set(streamed), where
        for key, value in streamed.items():
            if key == "quantiles":
                assert set(pushed[key]) == set(value), where
                continue
            _close(value, pushed[key], f"{where}.{key}")
    elif isinstance(streamed, list):
        assert isinstance(pushed, list) and len(pushed) == len(streamed), where
        for i, (s, p) in enumerate(zip(streamed, pushed, strict=True)):
            _close(s, p, f"{where}[{i}]")
    elif isinstance(streamed, float):
        assert pushed == pytest.approx(streamed, rel=1e-5, abs=1e-6), where
    else:
        assert pushed == streamed, where


def _assert_same(streamed: dict, pushed: dict, bigquery: bool, table: pa.Table) -> None:
    """The pushed-down statistics equal the streamed pass's; on BigQuery (float64 only),
    timestamp histograms may move a value across a bin edge (the streamed pass bins float32
    days: ~3 minutes apart) and quantiles are values of the data within 1% of the exact rank."""
    for name, s in streamed["features"].items():
        p = pushed["features"][name]
        if s.get("kind") == "timestamp" and bigquery:
            diff = np.abs(np.subtract(s["histogram"]["counts"], p["histogram"]["counts"]))
            assert diff.sum() <= 4, name
            p["histogram"]["counts"] = s["histogram"]["counts"]
        for q, v in (p.get("quantiles") or {}).items():
            exact = s["quantiles"][q]
            if bigquery and s["kind"] == "numeric":  # APPROX_QUANTILES: within 1% of the ranks
                values = table.column(name).to_numpy(zero_copy_only=False).astype(float)
                values = values[~np.isnan(values)]
                rank = int(q[1:]) / 100
                below, upto = np.mean(values < v), np.mean(values <= v)
                assert below - 0.01 <= rank <= upto + 0.01, (name, q, v)
            elif bigquery:
                assert s["min"] <= v <= s["max"], (name, q)
            else:
                assert v == pytest.approx(exact, rel=1e-5, abs=1e-4), (name, q)
    _close(streamed, pushed, "stats")


def _no_rows(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("a row was read by the client")

    monkeypatch.setattr(warehouse, "iter_batches", refuse)
    monkeypatch.setattr(warehouse, "read_table", refuse)


def test_pushdown_equals_streamed_pass(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = _table()
    warehouse.write_table("t", table)
    streamed = relation_stats(warehouse, "t", label="label", skip=["id"])
    kinds = {k: v["kind"] for k, v in streamed["features"].items()}
    assert kinds == {
        "a": "numeric", "b": "numeric", "flag": "boolean", "day": "date", "at": "timestamp",
        "utc": "timestamp", "text": "image", "raw": "image", "arr": "array",
        "color": "categorical", "plan": "categorical",
    }  # fmt: skip
    _no_rows(warehouse, monkeypatch)
    pushed = pushdown_stats(warehouse, "t", label="label", skip=["id"])
    dialect = warehouse.sql_dialect()
    assert dialect is not None
    bigquery = dialect.name == "bigquery"
    _assert_same(streamed, pushed, bigquery, table)
    color = pushed["features"]["color"]
    assert (color["count"], color["missing"], color["distinct"]) == (1200, 800, 3)
    assert len(pushed["features"]["arr"]["positions"]) == 4
    assert statistics(warehouse, "t", label="label", skip=["id"])["rows"] == N  # pushed down


def test_pushdown_on_given_edges_and_a_query(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drift's shape: the run's edges, a parametrised query as the source."""
    warehouse.write_table("base", _table(seed=1))
    moved = _table(shift=3.0, seed=2)
    warehouse.write_table("moved", moved)
    before = relation_stats(warehouse, "base", label="label", skip=["id"])
    edges = {k: v["histogram"]["edges"] for k, v in before["features"].items() if "histogram" in v}
    dialect = warehouse.sql_dialect()
    assert dialect is not None
    source = "moved" if dialect.name == "duckdb" else f"`{warehouse.table_id('moved')}`"
    query = Query(f"SELECT * FROM {source} WHERE b < @top", {"top": 4})
    streamed = relation_stats(warehouse, query, label="label", skip=["id"], edges=edges)
    _no_rows(warehouse, monkeypatch)
    pushed = statistics(warehouse, query, label="label", skip=["id"], edges=edges)
    kept = moved.filter(pc.less(moved["b"], 4))
    _assert_same(streamed, pushed, dialect.name == "bigquery", kept)
    assert pushed["features"]["a"]["histogram"]["edges"] == edges["a"]


def test_statistics_of_chosen_features_only(warehouse: Warehouse) -> None:
    warehouse.write_table("t", _table(300))
    stats = statistics(warehouse, "t", label="label", features=["b", "arr"])
    assert set(stats["features"]) == {"b", "arr"}
    assert stats["label"]["distribution"] == {"0": 100, "1": 100, "2": 100}
