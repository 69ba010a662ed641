"""Tabular sources on both warehouses (DuckDB and the BigQuery emulator): column kinds from the
schema, NULLs, vocabularies from the training split, text labels, statistics and drift per kind."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from mlkit.data import FeatureSpec, LocalWarehouse, Warehouse, load_splits
from mlkit.data.columns import MISSING_ID, OOV_ID, ColumnPlan
from mlkit.data.stats import compare, relation_stats
from mlkit.data.tabular import TabularOptions
from mlkit.data.validation import FeatureTypeError, LabelValuesError, NullValuesError

N = 120


def churn(n: int = N, seed: int = 0) -> pa.Table:
    """A churn-like table: text, integers, floats with NULLs, booleans, times, a text label."""
    rng = np.random.default_rng(seed)
    plans = np.where(rng.random(n) < 0.4, "pro", "basic")
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    return pa.table(
        {
            "id": pa.array(np.arange(n), pa.int64()),
            "plan": pa.array([None if i % 10 == 3 else p for i, p in enumerate(plans)]),
            "store": pa.array(rng.integers(1, 4, n), pa.int64()),
            "fee": pa.array([None if i % 7 == 0 else float(i % 13) for i in range(n)]),
            "autopay": pa.array(rng.random(n) < 0.5),
            "seen": pa.array(
                [start + dt.timedelta(hours=int(h)) for h in rng.integers(0, 5000, n)],
                pa.timestamp("us", tz="UTC"),
            ),
            "born": pa.array(
                [dt.date(1980, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 9000, n)],
                pa.date32(),
            ),
            "churned": pa.array(np.where(rng.random(n) < 0.3, "yes", "no")),
        }
    )


def load(warehouse: Warehouse, table: str = "churn", **kwargs):
    args = dict(label="churned", features=None, key="id", eval_fraction=0.1, test_fraction=0.2)
    return load_splits(warehouse, table, **{**args, **kwargs})


KINDS = {
    "plan": "categorical",
    "store": "numeric",
    "fee": "numeric",
    "autopay": "boolean",
    "seen": "timestamp",
    "born": "date",
}


def test_kinds_splits_and_encoding_are_the_same_on_both_warehouses(
    local_warehouse: LocalWarehouse, bq_warehouse: Warehouse
) -> None:
    loaded = []
    for warehouse in (local_warehouse, bq_warehouse):
        warehouse.write_table("churn", churn())
        loaded.append(load(warehouse))
    local, bigquery = loaded
    assert local.fingerprint["kinds"] == bigquery.fingerprint["kinds"] == KINDS
    assert local.fingerprint["content_sha256"] == bigquery.fingerprint["content_sha256"]
    assert local.columns == bigquery.columns and local.classes == ["no", "yes"]
    assert sorted(local.train.features) == [
        "autopay",
        "born__days",
        "born__dow",
        "born__month",
        "fee",
        "fee__missing",
        "plan",
        "seen__days",
        "seen__dow",
        "seen__hour",
        "seen__month",
        "store",
    ]
    assert local.stats["features"]["plan"]["missing"] == 12
    for split in ("train", "eval", "test"):
        a, b = getattr(local, split), getattr(bigquery, split)
        for name, values in a.features.items():
            np.testing.assert_array_equal(values, b.features[name], err_msg=name)


def test_nulls_vocabulary_and_time_parts(local_warehouse: LocalWarehouse) -> None:
    table = churn()
    # a plan that only the rows outside the training split have: out of vocabulary there
    local_warehouse.write_table("churn", table)
    first = load(local_warehouse)
    test_ids = set(first.test.keys.tolist())
    plans = [
        ("gold" if i in test_ids and i % 2 else p) for i, p in enumerate(table["plan"].to_pylist())
    ]
    local_warehouse.write_table("churn", table.set_column(1, "plan", pa.array(plans)))
    data = load(local_warehouse)
    plan = {c.name: c for c in data.columns.columns}["plan"]
    assert plan.vocabulary == ("basic", "pro") or plan.vocabulary == ("pro", "basic")
    test_plans = data.test.features["plan"]
    gold = np.array([plans[k] == "gold" for k in data.test.keys])
    assert gold.any() and (test_plans[gold] == OOV_ID).all()
    nulls = np.array([plans[k] is None for k in data.train.keys])
    assert (data.train.features["plan"][nulls] == MISSING_ID).all()
    # numbers: NULL -> the training split's mean, with an indicator
    fee = {c.name: c for c in data.columns.columns}["fee"]
    train_fee = np.array([table["fee"][k].as_py() for k in data.train.keys], dtype=object)
    present = np.array([v is not None for v in train_fee])
    assert fee.impute[0] == pytest.approx(np.mean(train_fee[present].astype(float)), rel=1e-6)
    assert (data.train.features["fee__missing"] == (~present).astype(np.float32)).all()
    # times: days since 1970, day of week (Monday 0), hour, month
    row = int(data.train.keys[0])
    seen = table["seen"][row].as_py()
    parts = [data.train.features[f"seen__{p}"][0] for p in ("days", "dow", "hour", "month")]
    days = (seen - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)).total_seconds() / 86400
    assert parts == pytest.approx([days, seen.weekday(), seen.hour, seen.month], abs=1e-3)
    assert ColumnPlan.from_json(data.columns.to_json()) == data.columns


def test_vocabulary_cap_and_min_count(local_warehouse: LocalWarehouse) -> None:
    n = 200
    table = pa.table(
        {
            "id": pa.array(np.arange(n)),
            "city": pa.array([f"c{i % 3}" if i % 10 else f"rare{i}" for i in range(n)]),
            "label": pa.array(np.arange(n) % 2),
        }
    )
    local_warehouse.write_table("cities", table)
    data = load(local_warehouse, "cities", label="label", tabular=TabularOptions(2, 2))
    (city,) = data.columns.columns
    assert len(city.vocabulary) == 2 and all(v.startswith("c") for v in city.vocabulary)
    assert (data.train.features["city"] == OOV_ID).sum() > 0


def test_a_null_label_names_the_rows_and_the_query_that_fixes_it(warehouse: Warehouse) -> None:
    table = churn()
    labels = [None if i in (5, 9) else v for i, v in enumerate(table["churned"].to_pylist())]
    warehouse.write_table("churn", table.set_column(7, "churned", pa.array(labels)))
    with pytest.raises(NullValuesError) as info:
        load(warehouse)
    assert str(info.value) == (
        "label column 'churned' in table 'churn': 2 rows have a NULL label; every row needs one"
    )
    assert info.value.hint == (
        "read it through the query `SELECT * FROM churn WHERE churned IS NOT NULL`"
    )


def test_declared_kinds(local_warehouse: LocalWarehouse) -> None:
    local_warehouse.write_table("churn", churn())
    features = [FeatureSpec("store", kind="categorical"), FeatureSpec("plan")]
    data = load(local_warehouse, features=features)
    assert data.fingerprint["kinds"] == {"store": "categorical", "plan": "categorical"}
    store = data.columns.columns[0]
    assert sorted(store.vocabulary) == ["1", "2", "3"]
    with pytest.raises(FeatureTypeError) as info:
        load(local_warehouse, features=[FeatureSpec("plan", kind="numeric")])
    assert str(info.value) == (
        "feature 'plan' in table 'churn' is string, which cannot be kind 'numeric' "
        "(expected categorical or image)"
    )


def test_boolean_labels_and_exclude(local_warehouse: LocalWarehouse) -> None:
    table = churn()
    table = table.set_column(7, "churned", pa.array(table["churned"].to_numpy() == "yes"))
    local_warehouse.write_table("churn", table)
    data = load(local_warehouse, exclude=["seen", "born"])
    assert data.classes == ["false", "true"] and data.n_classes == 2
    assert set(data.fingerprint["kinds"]) == {"plan", "store", "fee", "autopay"}
    with pytest.raises(LabelValuesError):
        load(local_warehouse, label="seen", features=[FeatureSpec("plan")])


def test_statistics_and_drift_of_categories(warehouse: Warehouse) -> None:
    table = churn(400)
    lists = pa.array([[i % 5, 10 + i % 2] for i in range(400)], pa.list_(pa.int64()))
    warehouse.write_table("churn", table.append_column("v", lists))
    stats = relation_stats(warehouse, "churn", label="churned", skip=["id"])
    plan = stats["features"]["plan"]
    assert plan["kind"] == "categorical" and plan["distinct"] == 2 and plan["missing"] == 40
    assert plan["missing_share"] == 0.1 and sum(t["count"] for t in plan["top"]) == 360
    fee = stats["features"]["fee"]
    assert fee["kind"] == "numeric" and fee["missing"] == 58 and set(fee["quantiles"]) >= {"p50"}
    assert stats["features"]["seen"]["kind"] == "timestamp"
    v = stats["features"]["v"]
    assert v["kind"] == "array" and v["count"] == 800 and len(v["positions"]) == 2
    assert v["positions"][1]["min"] == 10 and v["positions"][1]["max"] == 11
    # a new category in the new data is drift
    plans = ["enterprise" if i % 4 == 0 else p for i, p in enumerate(table["plan"].to_pylist())]
    warehouse.write_table("later", table.set_column(1, "plan", pa.array(plans)))
    after = relation_stats(warehouse, "later", label="churned", skip=["id"])
    drift = {d.feature: d for d in compare(stats, after)}
    assert drift["plan"].drifted and "new categories 'enterprise'" in drift["plan"].reason
    assert not drift["store"].drifted


def test_bundled_penguins(local_warehouse: LocalWarehouse) -> None:
    from mlkit.data import load_bundled

    assert load_bundled("penguins", local_warehouse).rows == 344
    data = load(local_warehouse, "penguins", label="species", exclude=["year"])
    assert data.classes == ["Adelie", "Chinstrap", "Gentoo"]
    kinds = data.fingerprint["kinds"]
    assert kinds["island"] == kinds["sex"] == "categorical" and kinds["body_mass_g"] == "numeric"
    assert data.stats["features"]["sex"]["missing"] == 11
