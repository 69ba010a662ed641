"""Files and bundled datasets → warehouse tables.

- bundled scikit-learn datasets (``digits``, ``breast_cancer``, ``wine``, ``iris``);
- MNIST-format IDX files (``train-images-idx3-ubyte[.gz]`` with ``--labels
  train-labels-idx1-ubyte[.gz]``): ``id``, ``label``, ``pixels``;
- CSV and Parquet files, as they are (an ``id`` column of row numbers is added when there is none).

Image pixels can be stored in three forms (``pixels_form``): ``array`` (ARRAY<INT64>), ``bytes``
(BYTES, one byte per pixel: the compact one), or ``string`` (comma-separated, the layout of existing
BigQuery MNIST tables). The loader reads all of them.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlkit.data.bundled import LoadSummary, bundled_names, bundled_table
from mlkit.data.warehouse import Warehouse
from mlkit.errors import DataError

PIXEL_FORMS = ("array", "bytes", "string")
_IDX_TYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
WRITE_ROWS = 200_000  # rows per write: loads stay a few big jobs, each of bounded memory


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def read_idx(path: Path | str) -> np.ndarray:
    """An IDX file (the MNIST distribution's format) as a numpy array of its shape."""
    path = Path(path)
    try:
        with _open(path) as f:
            data = f.read()
    except OSError as error:
        raise DataError(f"cannot read IDX file {path}: {error.strerror or error}") from error
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise DataError(
            f"{path} is not an IDX file (bad magic number)",
            hint="MNIST files look like train-images-idx3-ubyte(.gz)",
        )
    dtype, ndim = _IDX_TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"IDX file {path} is truncated (header of {ndim} dimensions)")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(data) - header != expected:
        raise DataError(
            f"IDX file {path} holds {len(data) - header} bytes of data, its header "
            f"{'x'.join(map(str, dims))} says {expected}"
        )
    return (
        np.frombuffer(data, dtype=dtype, offset=header)
        .reshape(dims)
        .astype(dtype.newbyteorder("="))
    )


def pixels_column(values: np.ndarray, form: str) -> pa.Array:
    """Rows of a 2-D+ integer array as one column in the given storage form."""
    if form not in PIXEL_FORMS:
        raise DataError(f"unknown pixel form '{form}': expected one of {', '.join(PIXEL_FORMS)}")
    rows = values.reshape(len(values), -1)
    width = rows.shape[1]
    if form == "bytes":
        if rows.size and (rows.min() < 0 or rows.max() > 255 or not _integral(rows)):
            raise DataError(
                "the bytes form holds integers 0..255 only; use the array or string form"
            )
        data = np.ascontiguousarray(rows, dtype=np.uint8).reshape(-1)
        offsets = np.arange(0, data.size + 1, width, dtype=np.int32)
        return pa.BinaryArray.from_buffers(
            pa.binary(), len(rows), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
        )
    if not _integral(rows):
        raise DataError("pixel values must be integers for the array and string forms")
    flat = pa.array(np.ascontiguousarray(rows, dtype=np.int64).reshape(-1))
    offsets = pa.array(np.arange(0, len(flat) + 1, width, dtype=np.int32))
    if form == "array":
        return pa.ListArray.from_arrays(offsets, flat)
    texts = pa.ListArray.from_arrays(offsets, flat.cast(pa.string()))
    return pc.binary_join(texts, ",")


def _integral(rows: np.ndarray) -> bool:
    return rows.dtype.kind in "iu" or bool(np.all(np.mod(rows, 1) == 0))


def idx_table(images: Path | str, labels: Path | str | None, form: str = "array") -> pa.Table:
    pixels = read_idx(images)
    if pixels.ndim < 2:
        raise DataError(f"{images} holds {pixels.ndim}-D data; expected images (3-D, N x H x W)")
    if labels is None:
        raise DataError(
            f"IDX images {images} need their labels file",
            hint="add --labels train-labels-idx1-ubyte.gz",
        )
    label_values = read_idx(labels)
    if label_values.ndim != 1 or len(label_values) != len(pixels):
        raise DataError(
            f"labels file {labels} holds {label_values.shape} values for {len(pixels)} images; "
            "expected one label per image"
        )
    return pa.table(
        {
            "id": pa.array(np.arange(len(pixels), dtype=np.int64)),
            "label": pa.array(label_values.astype(np.int64)),
            "pixels": pixels_column(pixels, form),
        }
    )


def file_table(path: Path) -> pa.Table:
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    try:
        if suffix.startswith(".csv"):
            import pyarrow.csv as pcsv

            table = pcsv.read_csv(path)
        elif suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        else:
            raise DataError(
                f"cannot load {path}: expected a .csv, .parquet or IDX (-ubyte) file, "
                f"or a bundled dataset ({', '.join(bundled_names())})"
            )
    except (OSError, pa.ArrowInvalid) as error:
        raise DataError(f"cannot read {path}: {' '.join(str(error).split())[:200]}") from error
    if "id" not in table.column_names:
        table = table.add_column(0, "id", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    return table


def _is_idx(path: Path) -> bool:
    name = path.name.removesuffix(".gz")
    return "idx" in name and ("ubyte" in name or name.endswith(".idx"))


def dataset_table(
    source: str, *, labels: str | None = None, pixels_form: str = "array"
) -> tuple[pa.Table, str]:
    """The table to load for a bundled name or a file path, and a description of where from."""
    if pixels_form not in PIXEL_FORMS:
        raise DataError(
            f"unknown pixel form '{pixels_form}': expected one of {', '.join(PIXEL_FORMS)}"
        )
    path = Path(source)
    if source in bundled_names() and not path.exists():
        table = bundled_table(source)
        if "pixels" in table.column_names and pixels_form != "array":
            pixels = table["pixels"].combine_chunks()
            values = pixels.flatten().to_numpy().reshape(len(pixels), -1)
            index = table.column_names.index("pixels")
            table = table.set_column(index, "pixels", pixels_column(values, pixels_form))
        return table, f"scikit-learn {source}"
    if not path.exists():
        raise DataError(
            f"no bundled dataset or file named '{source}' (bundled: {', '.join(bundled_names())})",
            hint="or give the path of a .csv, .parquet or IDX (-ubyte) file",
        )
    if _is_idx(path):
        return idx_table(path, labels, pixels_form), f"IDX {path.name}"
    return file_table(path), str(path.name)


def load_dataset(
    source: str,
    warehouse: Warehouse,
    table: str | None = None,
    *,
    labels: str | None = None,
    pixels_form: str = "array",
) -> LoadSummary:
    """Write a bundled dataset or a file to ``warehouse`` as ``table`` (replacing it)."""
    data, origin = dataset_table(source, labels=labels, pixels_form=pixels_form)
    target = table or _default_name(source)
    rows = 0
    for start in range(0, max(data.num_rows, 1), WRITE_ROWS):
        part = data.slice(start, WRITE_ROWS)
        rows += warehouse.write_table(target, part, replace=start == 0)
    return LoadSummary(table=target, rows=rows, columns=tuple(data.column_names), source=origin)


def _default_name(source: str) -> str:
    import re

    name = Path(source).name
    for suffix in (".gz", ".csv", ".parquet", ".pq", ".idx"):
        name = name.removesuffix(suffix)
    name = re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_") or "data"
    return name if not name[0].isdigit() else "t_" + name
