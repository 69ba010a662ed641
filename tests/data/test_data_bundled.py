"""The bundled scikit-learn datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from mlkit.data import LoadSummary, bundled_names, bundled_table, load_bundled, open_warehouse
from mlkit.data.bundled import snake_case
from mlkit.data.warehouse import NAME_PATTERN
from mlkit.errors import DataError


def test_names() -> None:
    assert bundled_names() == ["breast_cancer", "diabetes", "digits", "iris", "penguins", "wine"]


def test_diabetes_is_a_regression_table() -> None:
    table = bundled_table("diabetes")
    assert table.num_rows == 442
    assert table.column_names[0] == "id" and table.column_names[-1] == "label"
    assert len(table.column_names) == 12  # id, 10 features, label
    assert table.schema.field("label").type == pa.float64()
    labels = table["label"].to_numpy()
    assert 25 <= labels.min() < labels.max() <= 346 and len(set(labels.tolist())) > 100


def test_digits() -> None:
    table = bundled_table("digits")
    assert table.num_rows == 1797
    assert table.schema == pa.schema(
        [("id", pa.int64()), ("label", pa.int64()), ("pixels", pa.list_(pa.int64()))]
    )
    assert table["id"].to_pylist() == list(range(1797))
    labels = table["label"].to_numpy()
    assert sorted(set(labels.tolist())) == list(range(10))
    pixels = table["pixels"].combine_chunks()
    assert set(pa.compute.list_value_length(pixels).to_pylist()) == {64}
    values = pixels.flatten().to_numpy()
    assert values.min() == 0 and values.max() == 16
    from sklearn.datasets import load_digits

    np.testing.assert_array_equal(values.reshape(1797, 64), load_digits().data.astype(np.int64))


@pytest.mark.parametrize(
    ("name", "rows", "n_features", "n_classes", "some_column"),
    [
        ("iris", 150, 4, 3, "sepal_length_cm"),
        ("wine", 178, 13, 3, "od280_od315_of_diluted_wines"),
        ("breast_cancer", 569, 30, 2, "mean_concave_points"),
    ],
)
def test_tabular(name: str, rows: int, n_features: int, n_classes: int, some_column: str) -> None:
    table = bundled_table(name)
    assert table.num_rows == rows
    assert table.column_names[0] == "id" and table.column_names[-1] == "label"
    features = table.column_names[1:-1]
    assert len(features) == n_features
    assert some_column in features
    assert all(NAME_PATTERN.match(c) for c in features)
    assert all(table.schema.field(c).type == pa.float64() for c in features)
    assert table.schema.field("label").type == pa.int64()
    assert table.schema.field("id").type == pa.int64()
    assert sorted(set(table["label"].to_pylist())) == list(range(n_classes))


def test_snake_case() -> None:
    assert snake_case("sepal length (cm)") == "sepal_length_cm"
    assert snake_case("od280/od315_of_diluted_wines") == "od280_od315_of_diluted_wines"
    assert snake_case("Mean Radius") == "mean_radius"
    assert snake_case("2nd") == "f_2nd"


def test_unknown_name() -> None:
    with pytest.raises(DataError) as info:
        bundled_table("mnist")
    assert str(info.value) == (
        "unknown bundled dataset 'mnist': known ones are "
        "breast_cancer, diabetes, digits, iris, penguins, wine"
    )


def test_load_bundled(tmp_path: Path) -> None:
    wh = open_warehouse(tmp_path / "warehouse.duckdb")
    summary = load_bundled("digits", wh)
    assert summary == LoadSummary("digits", 1797, ("id", "label", "pixels"), "scikit-learn digits")
    assert wh.read_table("digits").equals(bundled_table("digits"))
    other = load_bundled("iris", wh, table="flowers")
    assert other.table == "flowers" and other.rows == 150
    assert [t.name for t in wh.list_tables()] == ["digits", "flowers"]
    # loading again replaces rather than duplicates
    load_bundled("digits", wh)
    assert wh.read_table("digits").num_rows == 1797
