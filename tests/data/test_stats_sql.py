"""Statistics pushed down into the warehouse (SQL on DuckDB and on BigQuery through the emulator)
equal the streamed pass's, and no row reaches the client."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from mlkit.data import Warehouse
from mlkit.data.ingest import pixels_column
from mlkit.data.stats import relation_stats
from mlkit.data.stats_sql import pushdown_stats, statistics
from mlkit.data.warehouse import Query

N = 2000


def _table(n: int = N, shift: float = 0.0, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    a = rng.normal(10 + shift, 2, n)
    return pa.table(
        {
            "id": pa.array(np.arange(n)),
            "a": pa.array([None if i % 10 == 0 else v for i, v in enumerate(a)], pa.float64()),
            "b": pa.array(rng.integers(0, 5, n)),
            "flag": pa.array(rng.integers(0, 2, n).astype(bool)),
            "text": pixels_column(rng.integers(0, 200, size=(n, 6)), "string"),
            "raw": pixels_column(rng.integers(0, 256, size=(n, 5)), "bytes"),
            "arr": pa.array(list(rng.integers(-3, 50, size=(n, 4))), pa.list_(pa.int64())),
            "color": pa.array([["red", "green", "blue", None][i % 4] for i in range(n)]),
            "label": pa.array(np.arange(n) % 3),
        }
    )


def _assert_same(streamed: dict, pushed: dict) -> None:
    assert pushed["rows"] == streamed["rows"]
    assert set(pushed["features"]) >= set(streamed["features"])
    for name, s in streamed["features"].items():
        p = pushed["features"][name]
        for field in ("count", "missing", "values_per_row"):
            assert p.get(field) == s.get(field), (name, field)
        for field in ("mean", "std", "min", "max"):
            assert p[field] == pytest.approx(s[field], rel=1e-5, abs=1e-6), (name, field)
        assert p["histogram"]["edges"] == pytest.approx(s["histogram"]["edges"])
        assert p["histogram"]["counts"] == s["histogram"]["counts"], name
    assert pushed["label"] == streamed["label"]


def _no_rows(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("a row was read by the client")

    monkeypatch.setattr(warehouse, "iter_batches", refuse)
    monkeypatch.setattr(warehouse, "read_table", refuse)


def test_pushdown_equals_streamed_pass(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse.write_table("t", _table())
    streamed = relation_stats(warehouse, "t", label="label", skip=["id", "color"])
    assert streamed["features"]["arr"]["values_per_row"] == 4
    _no_rows(warehouse, monkeypatch)
    pushed = pushdown_stats(warehouse, "t", label="label", skip=["id"], categorical=["color"])
    _assert_same(streamed, pushed)
    color = pushed["features"]["color"]
    assert color == {
        "count": 1500,
        "missing": 500,
        "distinct": 3,
        "categories": {"blue": 500, "green": 500, "red": 500},
    }
    q = pushed["features"]["a"]["quantiles"]
    assert len(q) == 11 and q == sorted(q)
    assert q[0] == pushed["features"]["a"]["min"] and q[-1] == pushed["features"]["a"]["max"]


def test_pushdown_on_given_edges_and_a_query(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drift's shape: the run's edges, a parametrised query as the source."""
    warehouse.write_table("base", _table(seed=1))
    warehouse.write_table("moved", _table(shift=3.0, seed=2))
    before = relation_stats(warehouse, "base", label="label", skip=["id", "color"])
    edges = {k: v["histogram"]["edges"] for k, v in before["features"].items()}
    dialect = warehouse.sql_dialect()
    assert dialect is not None
    source = "moved" if dialect.name == "duckdb" else f"`{warehouse.table_id('moved')}`"
    query = Query(f"SELECT * FROM {source} WHERE b < @top", {"top": 4})
    streamed = relation_stats(warehouse, query, label="label", skip=["id", "color"], edges=edges)
    _no_rows(warehouse, monkeypatch)
    pushed = statistics(
        warehouse, query, label="label", skip=["id", "color"], edges=edges, pushdown=True
    )
    _assert_same(streamed, pushed)
    assert pushed["features"]["a"]["histogram"]["edges"] == edges["a"]


def test_statistics_of_chosen_features_only(warehouse: Warehouse) -> None:
    warehouse.write_table("t", _table(300))
    stats = statistics(warehouse, "t", label="label", features=["b", "arr"])
    assert set(stats["features"]) == {"b", "arr"}
    assert stats["label"]["distribution"] == {"0": 100, "1": 100, "2": 100}
