"""load_splits: arrays, validation messages and fingerprints, against real DuckDB files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from mlkit.data import FeatureSpec, LocalWarehouse, load_bundled, load_splits, open_warehouse
from mlkit.errors import DataError

PIXELS = [FeatureSpec("pixels", (64,))]


@pytest.fixture
def wh(tmp_path: Path) -> LocalWarehouse:
    return LocalWarehouse(tmp_path / "warehouse.duckdb")


def load(wh: LocalWarehouse, table: str = "t", **kwargs: object):
    options: dict[str, object] = {
        "label": "label",
        "features": None,
        "key": "id",
        "eval_fraction": 0.2,
        "test_fraction": 0.2,
    }
    options.update(kwargs)
    return load_splits(wh, table, **options)  # type: ignore[arg-type]


def small(n: int = 60) -> dict[str, pa.Array]:
    ids = np.arange(n, dtype=np.int64)
    return {
        "id": pa.array(ids),
        "a": pa.array(ids * 1.5),
        "b": pa.array(ids % 7, pa.int32()),
        "label": pa.array(ids % 3),
    }


def test_digits(wh: LocalWarehouse) -> None:
    load_bundled("digits", wh)
    data = load(wh, "digits", features=PIXELS, eval_fraction=0.1, test_fraction=0.1)
    parts = [data.train, data.eval, data.test]
    assert sum(len(p) for p in parts) == 1797
    assert len(data.train) > len(data.eval) > 100 and len(data.test) > 100
    for part in parts:
        pixels = part.features["pixels"]
        assert pixels.dtype == np.float32 and pixels.shape == (len(part), 64)
        assert pixels.min() == 0 and pixels.max() == 16
        assert part.labels.dtype == np.int64
    assert data.label_values == list(range(10)) and data.n_classes == 10
    assert data.feature_specs == PIXELS
    fp = data.fingerprint
    assert fp["source"] == wh.describe() and fp["table"] == "digits" and fp["rows"] == 1797
    assert fp["schema"] == "id: int64, label: int64, pixels: list<int64>"
    assert fp["split_rows"] == {
        "train": len(data.train),
        "eval": len(data.eval),
        "test": len(data.test),
    }
    assert (fp["eval_fraction"], fp["test_fraction"]) == (0.1, 0.1)
    assert len(fp["content_sha256"]) == 64
    json.dumps(fp)  # recordable in the registry as it is


def test_digits_as_images_and_by_default(wh: LocalWarehouse) -> None:
    load_bundled("digits", wh)
    images = load(wh, "digits", features=[FeatureSpec("pixels", (8, 8))])
    assert images.train.features["pixels"].shape == (len(images.train), 8, 8)
    default = load(wh, "digits")
    assert default.feature_specs == PIXELS
    np.testing.assert_array_equal(
        default.train.features["pixels"], images.train.features["pixels"].reshape(-1, 64)
    )


def test_tabular_default_features(wh: LocalWarehouse) -> None:
    load_bundled("iris", wh)
    data = load(wh, "iris")
    assert [s.name for s in data.feature_specs] == [
        "sepal_length_cm",
        "sepal_width_cm",
        "petal_length_cm",
        "petal_width_cm",
    ]
    assert all(s.shape == () for s in data.feature_specs)
    assert data.train.features["sepal_width_cm"].shape == (len(data.train),)
    assert data.n_classes == 3


def test_rows_follow_the_key_not_the_storage_order(tmp_path: Path) -> None:
    table = pa.table(small(200))
    shuffled = table.take(np.random.default_rng(1).permutation(200))
    one = open_warehouse(tmp_path / "one.duckdb")
    two = open_warehouse(tmp_path / "two.duckdb")
    one.write_table("t", table)
    two.write_table("t", shuffled)
    a, b = load(one), load(two)
    for split in ("train", "eval", "test"):
        np.testing.assert_array_equal(getattr(a, split).labels, getattr(b, split).labels)
        np.testing.assert_array_equal(
            getattr(a, split).features["a"], getattr(b, split).features["a"]
        )
    assert a.fingerprint["content_sha256"] == b.fingerprint["content_sha256"]
    assert a.fingerprint["source"] != b.fingerprint["source"]


def test_fingerprint_stable_and_sensitive(wh: LocalWarehouse) -> None:
    load_bundled("digits", wh)
    first = load(wh, "digits", features=PIXELS).fingerprint
    assert load(wh, "digits", features=PIXELS).fingerprint == first
    table = wh.read_table("digits")
    pixels = table["pixels"].combine_chunks()
    values = pixels.flatten().to_numpy().copy()
    values[1000] += 1
    changed = pa.ListArray.from_arrays(pixels.offsets, pa.array(values))
    wh.write_table("digits", table.set_column(2, "pixels", changed))
    second = load(wh, "digits", features=PIXELS).fingerprint
    assert second["content_sha256"] != first["content_sha256"]
    assert {k: v for k, v in second.items() if k != "content_sha256"} == {
        k: v for k, v in first.items() if k != "content_sha256"
    }
    other_split = load(wh, "digits", features=PIXELS, eval_fraction=0.3).fingerprint
    # the hash covers the splits as trained on: other fractions, other hash
    assert other_split["content_sha256"] != second["content_sha256"]
    assert other_split["split_rows"] != second["split_rows"]


def test_splits_keep_rows_when_the_table_grows(wh: LocalWarehouse) -> None:
    wh.write_table("t", pa.table(small(300)))
    before = load(wh)
    wh.write_table("t", pa.table(small(600)))
    after = load(wh)
    for split in ("train", "eval", "test"):
        old = getattr(before, split).features["a"]
        new = getattr(after, split).features["a"]
        np.testing.assert_array_equal(new[new < 300 * 1.5], old)


def raises(wh: LocalWarehouse, message: str, **kwargs: object) -> None:
    with pytest.raises(DataError) as info:
        load(wh, **kwargs)
    assert str(info.value) == message
    assert "\n" not in str(info.value)


def test_label_missing(wh: LocalWarehouse) -> None:
    wh.write_table("t", pa.table(small()))
    raises(
        wh,
        "label column 'target' not found in table 't' (columns: id, a, b, label)",
        label="target",
    )


def test_key_missing(wh: LocalWarehouse) -> None:
    wh.write_table("t", pa.table(small()))
    raises(
        wh, "key column 'row_id' not found in table 't' (columns: id, a, b, label)", key="row_id"
    )


def test_feature_missing_suggests_close_matches(wh: LocalWarehouse) -> None:
    load_bundled("digits", wh)
    raises(
        wh,
        "feature column 'pixel' not found in table 'digits'; did you mean 'pixels'?",
        table="digits",
        features=[FeatureSpec("pixel", (64,))],
    )
    raises(
        wh,
        "feature column 'zzz' not found in table 'digits'; (columns: id, label, pixels)",
        table="digits",
        features=[FeatureSpec("zzz")],
    )


def test_null_label(wh: LocalWarehouse) -> None:
    columns = small()
    columns["label"] = pa.array([None if i == 4 else i % 3 for i in range(60)], pa.int64())
    wh.write_table("t", pa.table(columns))
    raises(wh, "label column 'label' in table 't': 1 row has a NULL label; every row needs one")


def test_null_feature(wh: LocalWarehouse) -> None:
    columns = small()
    columns["a"] = pa.array([None if i % 5 == 0 else float(i) for i in range(60)])
    wh.write_table("t", pa.table(columns))
    data = load(wh)  # NULLs imputed with the training split's mean, and an indicator
    assert data.columns is not None and data.fingerprint["kinds"]["a"] == "numeric"
    (a,) = [c for c in data.columns.columns if c.name == "a"]
    train = data.train.features
    present = train["a__missing"] == 0
    assert a.indicator and a.impute[0] == pytest.approx(float(train["a"][present].mean()))
    assert (
        sum(int((getattr(data, s).features["a__missing"]).sum()) for s in ("train", "eval", "test"))
        == 12
    )


def test_null_inside_a_list(wh: LocalWarehouse) -> None:
    columns = small(30)
    columns["v"] = pa.array([[1, None]] + [[1, 2]] * 29, pa.list_(pa.int64()))
    wh.write_table("t", pa.table(columns))
    raises(
        wh,
        "feature column 'v' in table 't' has 1 null values inside its lists",
        features=[FeatureSpec("v", (2,))],
    )


def test_non_numeric_feature(wh: LocalWarehouse) -> None:
    columns = small()
    columns["name"] = pa.array([f"n{i}" for i in range(60)])
    columns["when"] = pa.array(np.arange(60).astype("datetime64[s]"))
    columns["tags"] = pa.array([["x"]] * 60, pa.list_(pa.string()))
    wh.write_table("t", pa.table(columns))
    message = (
        "feature column 'name' in table 't' has 'n0' in row 0; a STRING feature must hold "
        "comma-separated numbers"
    )
    raises(wh, message, features=[FeatureSpec("a"), FeatureSpec("name", (1,))])
    raises(
        wh,
        "feature column 'tags' in table 't' is list<string>; expected a number, STRING, "
        "BOOL, TIMESTAMP, DATE, a list of numbers or BYTES",
    )
    assert len(load(wh, features=[FeatureSpec("a")]).train) > 0
    kinds = load(wh, features=[FeatureSpec("name"), FeatureSpec("when")]).fingerprint["kinds"]
    assert kinds == {"name": "categorical", "when": "timestamp"}


def test_wrong_list_length_names_feature_expected_and_found(wh: LocalWarehouse) -> None:
    columns = small(40)
    columns["v"] = pa.array([[1, 2, 3]] * 39 + [[1, 2]], pa.list_(pa.int64()))
    wh.write_table("t", pa.table(columns))
    raises(
        wh,
        "feature 'v' in table 't' expects 3 values per row (shape (3,)), found 2 in row 39",
        features=[FeatureSpec("v", (3,))],
    )
    raises(
        wh,
        "feature 'v' in table 't' expects 4 values per row (shape (2, 2)), found 3 in row 0",
        features=[FeatureSpec("v", (2, 2))],
    )


def test_shape_must_fit_the_column(wh: LocalWarehouse) -> None:
    load_bundled("digits", wh)
    raises(
        wh,
        "feature column 'pixels' in table 'digits' holds lists; give its shape, e.g. (64,)",
        table="digits",
        features=[FeatureSpec("pixels")],
    )
    raises(
        wh,
        "feature column 'id' in table 'digits' holds single numbers, not shape (3,)",
        table="digits",
        features=[FeatureSpec("id", (3,))],
    )


def test_labels_must_be_integers_from_zero(wh: LocalWarehouse) -> None:
    columns = small()
    columns["label"] = pa.array(np.arange(60) % 3 + 1)
    wh.write_table("t", pa.table(columns))
    raises(
        wh,
        "label column 'label' in table 't' has values 1, 2, 3; "
        "classification labels must be integers 0..K-1 with K >= 2",
    )
    columns["label"] = pa.array((np.arange(60) % 2).astype(np.float64))
    wh.write_table("t", pa.table(columns))
    raises(
        wh,
        "label column 'label' in table 't' is double; "
        "classification labels must be integers 0..K-1",
    )


def test_empty_split(wh: LocalWarehouse) -> None:
    wh.write_table("t", pa.table(small(6)))
    raises(
        wh,
        "split 'eval' of table 't' is empty (6 rows, eval_fraction 0.01, test_fraction 0.2); "
        "use more rows or a larger fraction",
        eval_fraction=0.01,
    )
    assert len(load(wh, eval_fraction=0.0, test_fraction=0.0).eval) == 0


def test_an_empty_split_of_vector_features_loads_and_hashes(wh: LocalWarehouse) -> None:
    # The content hash once cast each split's (0, 64) array to bytes, which a memoryview
    # refuses when a dimension is 0: a vector feature with test_fraction 0 raised TypeError.
    load_bundled("digits", wh)
    data = load(wh, "digits", features=PIXELS, eval_fraction=0.1, test_fraction=0.0)
    assert len(data.test) == 0 and data.test.features["pixels"].shape == (0, 64)
    assert len(data.train) + len(data.eval) == 1797
    again = load(wh, "digits", features=PIXELS, eval_fraction=0.1, test_fraction=0.0)
    assert again.fingerprint["content_sha256"] == data.fingerprint["content_sha256"]
    with_test = load(wh, "digits", features=PIXELS, eval_fraction=0.1, test_fraction=0.1)
    assert with_test.fingerprint["content_sha256"] != data.fingerprint["content_sha256"]


def test_invalid_fractions_and_missing_table(wh: LocalWarehouse) -> None:
    raises(wh, "test_fraction must be in [0, 1), got 1.5", test_fraction=1.5)
    with pytest.raises(DataError, match=r"^table 't' not found in local warehouse "):
        load(wh)


def test_string_keys(wh: LocalWarehouse) -> None:
    columns = small(100)
    columns["id"] = pa.array([f"k{i}" for i in range(100)])
    wh.write_table("t", pa.table(columns))
    data = load(wh)
    assert sum(data.fingerprint["split_rows"].values()) == 100


def test_byte_valued_features_hash_and_summarise_alike_in_every_type(wh: LocalWarehouse) -> None:
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (400, 12))
    ids = pa.array(np.arange(400, dtype=np.int64))
    labels = pa.array(np.arange(400) % 3)
    forms = {
        "bytes": pa.array([bytes(r) for r in pixels.astype(np.uint8)], pa.binary()),
        "floats": pa.array(pixels.astype(np.float64).tolist(), pa.list_(pa.float64())),
        "ints": pa.array(pixels.tolist(), pa.list_(pa.int64())),
    }
    loaded = {}
    for name, column in forms.items():
        wh.write_table(name, pa.table({"id": ids, "label": labels, "pixels": column}))
        loaded[name] = load(wh, name, features=[FeatureSpec("pixels", (12,))])
    first = loaded["bytes"]
    for data in loaded.values():
        assert data.fingerprint["content_sha256"] == first.fingerprint["content_sha256"]
        assert data.stats == first.stats
        np.testing.assert_array_equal(data.train.features["pixels"], first.train.features["pixels"])
    # one value off the byte range: hashed as float32, a different hash for different content
    off = pixels.astype(np.float64)
    off[7, 3] = 255.5
    wh.write_table(
        "off",
        pa.table({"id": ids, "label": labels, "pixels": pa.array(off.tolist())}),
    )
    moved = load(wh, "off", features=[FeatureSpec("pixels", (12,))])
    assert moved.fingerprint["content_sha256"] != first.fingerprint["content_sha256"]
    assert moved.stats["features"]["pixels"]["max"] == 255.5


def test_regression_targets_are_hashed_as_they_are(wh: LocalWarehouse) -> None:
    table = small(80)
    table["label"] = pa.array(np.arange(80) * 0.25)
    wh.write_table("t", pa.table(table))
    first = load(wh, regression=True).fingerprint["content_sha256"]
    table["label"] = pa.array(np.arange(80) * 0.25 + 0.1)  # the same integer parts
    wh.write_table("t", pa.table(table))
    assert load(wh, regression=True).fingerprint["content_sha256"] != first


def test_bytes_only_tables_load_in_one_pass_like_the_others(wh: LocalWarehouse) -> None:
    """BYTES features are read in one pass (keys, labels and bytes together); the result is the
    two-pass result for the same values stored as ARRAY<INT64>, also with shuffled, repeated keys
    and an extra column."""
    rng = np.random.default_rng(9)
    n = 5000  # more than one record batch
    pixels = rng.integers(0, 256, (n, 10)).astype(np.uint8)
    ids = rng.permutation(n) // 2  # every key twice, in no order
    common = {"id": pa.array(ids), "label": pa.array(ids % 4), "region": pa.array(ids % 7)}
    wh.write_table("b", pa.table({**common, "px": pa.array([bytes(r) for r in pixels])}))
    wh.write_table("a", pa.table({**common, "px": pa.array(pixels.astype(np.int64).tolist())}))
    options = {"features": [FeatureSpec("px", (10,))], "extra_columns": ["region"]}
    one, two = load(wh, "b", **options), load(wh, "a", **options)
    for split in ("train", "eval", "test"):
        a, b = getattr(one, split), getattr(two, split)
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_array_equal(a.extras["region"], b.extras["region"])
        np.testing.assert_array_equal(a.features["px"], b.features["px"])
    assert one.fingerprint["content_sha256"] == two.fingerprint["content_sha256"]
    assert one.stats == two.stats
