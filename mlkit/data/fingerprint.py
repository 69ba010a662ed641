"""A content hash of Arrow data that does not depend on chunking, slicing or the backend."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def type_string(dtype: pa.DataType) -> str:
    """Like ``str(dtype)`` but without list child names, which differ between backends."""
    if pa.types.is_fixed_size_list(dtype):
        return f"fixed_size_list<{type_string(dtype.value_type)}>[{dtype.list_size}]"
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return f"list<{type_string(dtype.value_type)}>"
    return str(dtype)


def schema_string(schema: pa.Schema) -> str:
    return ", ".join(f"{field.name}: {type_string(field.type)}" for field in schema)


def _is_list(dtype: pa.DataType) -> bool:
    return (
        pa.types.is_list(dtype)
        or pa.types.is_large_list(dtype)
        or pa.types.is_fixed_size_list(dtype)
    )


def _hash_array(h: hashlib._Hash, array: pa.Array) -> None:
    h.update(np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=np.uint8).tobytes())
    if _is_list(array.type):
        lengths = pc.list_value_length(array).fill_null(0).to_numpy(zero_copy_only=False)
        h.update(np.asarray(lengths, dtype=np.int64).tobytes())
        _hash_array(h, array.flatten())
    elif (
        pa.types.is_string(array.type)
        or pa.types.is_large_string(array.type)
        or pa.types.is_binary(array.type)
    ):
        binary = array.cast(pa.large_binary())
        lengths = pc.binary_length(binary).fill_null(0).to_numpy(zero_copy_only=False)
        h.update(np.asarray(lengths, dtype=np.int64).tobytes())
        offsets = np.frombuffer(binary.buffers()[1], dtype=np.int64)
        start, end = offsets[binary.offset], offsets[binary.offset + len(binary)]
        if end > start:
            h.update(memoryview(binary.buffers()[2])[start:end])
    else:
        h.update(np.ascontiguousarray(array.to_numpy(zero_copy_only=False)).data)


def content_sha256(table: pa.Table) -> str:
    """SHA-256 over column names, types and values, in the table's row order."""
    h = hashlib.sha256()
    h.update(schema_string(table.schema).encode())
    for column in table.columns:
        _hash_array(h, column.combine_chunks())
    return h.hexdigest()
