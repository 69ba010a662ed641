"""Ingestion: MNIST-format IDX files (written here byte by byte), CSV, Parquet and bundled
datasets, into both backends, in every pixel form."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlkit.data import FeatureSpec, Warehouse, load_dataset, load_splits
from mlkit.data.ingest import pixels_column, read_idx
from mlkit.errors import DataError


def write_idx(path: Path, array: np.ndarray, code: int = 0x08, gz: bool = False) -> Path:
    """The IDX layout: 0, 0, type code, number of dimensions; big-endian sizes; the data."""
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


@pytest.fixture
def mnist_files(tmp_path: Path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, size=(120, 28, 28), dtype=np.uint8)
    labels = (np.arange(120) % 10).astype(np.uint8)
    return (
        write_idx(tmp_path / "train-images-idx3-ubyte", images, gz=True),
        write_idx(tmp_path / "train-labels-idx1-ubyte", labels),
        images,
        labels,
    )


def test_read_idx_types_and_byte_order(tmp_path: Path) -> None:
    values = np.arange(-6, 6, dtype=np.int32).reshape(3, 4) * 1000
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "a.idx", values, 0x0C)), values)
    floats = np.linspace(0, 1, 5).astype(np.float32)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "f.idx", floats, 0x0D)), floats)


def test_bad_idx_files(tmp_path: Path) -> None:
    bad = tmp_path / "x-idx3-ubyte"
    bad.write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(DataError, match=r"is not an IDX file \(bad magic number\)$"):
        read_idx(bad)
    short = write_idx(tmp_path / "s-idx3-ubyte", np.zeros((2, 3, 3), np.uint8))
    short.write_bytes(short.read_bytes()[:-1])
    with pytest.raises(DataError, match=r"holds 17 bytes of data, its header 2x3x3 says 18$"):
        read_idx(short)


@pytest.mark.parametrize("form", ["array", "bytes", "string"])
def test_mnist_idx_into_each_backend(warehouse: Warehouse, mnist_files, form: str) -> None:
    images_path, labels_path, images, labels = mnist_files
    summary = load_dataset(
        str(images_path), warehouse, "mnist", labels=str(labels_path), pixels_form=form
    )
    assert (summary.rows, summary.columns) == (120, ("id", "label", "pixels"))
    data = load_splits(
        warehouse,
        "mnist",
        label="label",
        features=[FeatureSpec("pixels", (28, 28))],
        key="id",
        eval_fraction=0.2,
        test_fraction=0.2,
        extra_columns=["id"],
    )
    assert data.fingerprint["storage_forms"] == {"pixels": form}
    for part in (data.train, data.eval, data.test):
        ids = part.extras["id"]
        np.testing.assert_array_equal(part.features["pixels"], images[ids].astype(np.float32))
        np.testing.assert_array_equal(part.labels, labels[ids])


def test_idx_needs_matching_labels(tmp_path: Path, local_warehouse: Warehouse, mnist_files) -> None:
    images_path = mnist_files[0]
    with pytest.raises(DataError, match=r"need their labels file$"):
        load_dataset(str(images_path), local_warehouse)
    few = write_idx(tmp_path / "few-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(DataError, match=r"holds \(5,\) values for 120 images"):
        load_dataset(str(images_path), local_warehouse, labels=str(few))


def test_csv_and_parquet(warehouse: Warehouse, tmp_path: Path) -> None:
    csv = tmp_path / "iris.csv"
    csv.write_text("sepal,petal,label\n" + "".join(f"{i}.5,{i % 4},{i % 3}\n" for i in range(30)))
    summary = load_dataset(str(csv), warehouse)
    assert summary.table == "iris" and summary.columns == ("id", "sepal", "petal", "label")
    table = warehouse.read_table("iris").sort_by("id")
    assert table["sepal"].to_pylist()[:3] == [0.5, 1.5, 2.5]
    parquet = tmp_path / "points.parquet"
    pq.write_table(
        pa.table({"key": ["a", "b", "c"], "v": pa.array([[1, 2], [3, 4], [5, 6]])}), parquet
    )
    load_dataset(str(parquet), warehouse, "points")
    back = warehouse.read_table("points").sort_by("key")
    assert back["v"].to_pylist() == [[1, 2], [3, 4], [5, 6]] and back["id"].to_pylist() == [0, 1, 2]


def test_unknown_source_and_form(local_warehouse: Warehouse, tmp_path: Path) -> None:
    with pytest.raises(
        DataError,
        match=r"^no bundled dataset or file named 'digitz' \(bundled: breast_cancer, diabetes, ",
    ):
        load_dataset("digitz", local_warehouse)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(DataError, match=r"expected a .csv, .parquet or IDX"):
        load_dataset(str(text), local_warehouse)
    with pytest.raises(DataError, match=r"^unknown pixel form 'png'"):
        load_dataset("digits", local_warehouse, pixels_form="png")
    with pytest.raises(DataError, match=r"holds integers 0..255 only"):
        pixels_column(np.array([[1, 300]]), "bytes")


def test_pixels_column_forms() -> None:
    values = np.array([[0, 7, 255], [10, 0, 1]])
    assert pixels_column(values, "string").to_pylist() == ["0,7,255", "10,0,1"]
    assert pixels_column(values, "bytes").to_pylist() == [b"\x00\x07\xff", b"\x0a\x00\x01"]
    assert pixels_column(values, "array").to_pylist() == [[0, 7, 255], [10, 0, 1]]
