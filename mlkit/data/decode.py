"""Vectorised decoding of feature columns (Arrow → float32 numpy), with no per-row Python.

Three storage forms of a fixed-size vector such as an image's pixels are read:

- ``list<number>`` (BigQuery ``ARRAY<INT64>`` / ``ARRAY<FLOAT64>``): the flat child values,
  reshaped;
- ``binary`` (BigQuery ``BYTES``): one unsigned byte per value;
- ``string`` (BigQuery ``STRING``): comma-separated decimal integers, ``"0,0,17,255"`` (the
  layout of existing BigQuery MNIST tables).

The STRING parser works on the Arrow values buffer as bytes: the commas give the end of every token
and the row offsets the end of each row's last one; each token's value is summed from its digits
gathered right to left. Anything that is not plain non-negative integers (signs, decimals, spaces)
goes through Arrow's own split-and-cast kernels instead, still vectorised.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlkit.data.validation import (
    FeatureNullsError,
    FeatureShapeError,
    FeatureTypeError,
    NullValuesError,
)

# Rows decoded at a time from a STRING column: small enough that the scratch arrays stay in the
# allocator's heap (no page faults on fresh memory), large enough to amortise numpy's overhead.
STRING_CHUNK_ROWS = 1024
_COMMA, _ZERO = 44, 48


def is_list(dtype: pa.DataType) -> bool:
    return (
        pa.types.is_list(dtype)
        or pa.types.is_large_list(dtype)
        or pa.types.is_fixed_size_list(dtype)
    )


def is_number(dtype: pa.DataType) -> bool:
    return pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_boolean(dtype)


def is_text(dtype: pa.DataType) -> bool:
    return pa.types.is_string(dtype) or pa.types.is_large_string(dtype)


def is_bytes(dtype: pa.DataType) -> bool:
    return (
        pa.types.is_binary(dtype)
        or pa.types.is_large_binary(dtype)
        or pa.types.is_fixed_size_binary(dtype)
    )


def storage_form(dtype: pa.DataType) -> str | None:
    """``'scalar'``, ``'array'``, ``'bytes'``, ``'string'``, or None for a type no form reads."""
    if is_number(dtype):
        return "scalar"
    if is_list(dtype):
        return "array" if is_number(dtype.value_type) else None
    if is_bytes(dtype):
        return "bytes"
    if is_text(dtype):
        return "string"
    return None


def _combine(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def _shape_error(name: str, table: str, shape: tuple[int, ...], found: int, row: int) -> Exception:
    return FeatureShapeError(
        f"feature '{name}' in {table} expects {math.prod(shape)} values per row "
        f"(shape {shape}), found {found} in row {row}",
        hint=f"give the feature's real shape in data.features, e.g. shape = [{found}]",
        feature=name,
        found=found,
    )


def decode_column(
    column: pa.ChunkedArray | pa.Array,
    name: str,
    shape: tuple[int, ...],
    table: str,
    out: np.ndarray | None = None,
    first_row: int = 0,
) -> np.ndarray:
    """``column`` as float32 of shape ``(rows, *shape)``, written into ``out`` when given.

    ``table`` names the source in messages (``"table 'mnist'"``); ``first_row`` is the row number
    of the column's first value there, for messages."""
    values = decode_rows(column, name, shape, table, first_row)
    rows = len(values)
    if out is None:
        out = np.empty((rows, *shape), dtype=np.float32)
    out.reshape(rows, values.shape[1])[...] = values
    return out


def decode_rows(
    column: pa.ChunkedArray | pa.Array,
    name: str,
    shape: tuple[int, ...],
    table: str,
    first_row: int = 0,
) -> np.ndarray:
    """``column``'s values, validated, as a ``(rows, prod(shape))`` array whose every value casts
    exactly to a finite float32: a zero-copy view of the Arrow buffer where there is one (uint8
    for BYTES, the list's child values), int32 for STRING integers, float32 otherwise.

    The caller casts it into its float32 destination in one step (e.g. only the rows of one
    split), so the data is copied once."""
    array = _combine(column)
    rows = len(array)
    if array.null_count:
        raise FeatureNullsError(
            f"feature column '{name}' in {table} has {array.null_count} null values",
            hint="fill or filter them in the source (e.g. a query with WHERE ... IS NOT NULL)",
        )
    form = storage_form(array.type)
    width = math.prod(shape)
    if form == "scalar":
        if shape:
            raise FeatureShapeError(
                f"feature column '{name}' in {table} holds single numbers, not shape {shape}",
                hint="leave the shape out for a scalar feature",
            )
        values = array.to_numpy(zero_copy_only=False).reshape(rows, 1)
    elif form == "array":
        values = _decode_list(array, name, shape, table, width, first_row)
    elif form == "bytes":
        return _decode_bytes(array, name, shape, table, width, first_row)
    elif form == "string":
        values = np.empty((rows, width), dtype=np.int32)
        for start in range(0, rows, STRING_CHUNK_ROWS):
            part = array.slice(start, STRING_CHUNK_ROWS)
            parsed = _decode_string(part, name, shape, table, width, first_row + start)
            if parsed.dtype != values.dtype:  # not plain integers: numbers as float64 from here
                values = values.astype(np.float64)
            values[start : start + len(part)] = parsed
    else:
        raise FeatureTypeError(
            f"feature column '{name}' in {table} is {array.type}; features must be "
            "numbers, lists of numbers, BYTES (one byte per value) or comma-separated STRING",
            hint="leave the column out of data.features, or cast it in a query",
        )
    return _finite_float32(values, name, table)


def _finite_float32(values: np.ndarray, name: str, table: str) -> np.ndarray:
    """Integers (at most 64 bits) are finite in float32 as they are; anything else is cast to
    float32 here and checked for NaN and infinities (including overflow in the cast)."""
    if values.dtype.kind in "iub":
        return values
    with np.errstate(over="ignore"):  # overflow becomes inf, reported just below
        values = values.astype(np.float32, copy=False)
    if not np.isfinite(values).all():
        raise FeatureTypeError(
            f"feature column '{name}' in {table} has NaN or infinite values (as float32)",
            hint="clean the column in the source",
        )
    return values


def _decode_list(
    array: pa.Array, name: str, shape: tuple[int, ...], table: str, width: int, first_row: int
) -> np.ndarray:
    if pa.types.is_fixed_size_list(array.type):
        lengths = np.full(len(array), array.type.list_size)
    else:
        lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(lengths != width)
    if bad.size:
        raise _shape_error(name, table, shape, int(lengths[bad[0]]), first_row + int(bad[0]))
    values = array.flatten()
    if values.null_count:
        raise NullValuesError(
            f"feature column '{name}' in {table} has {values.null_count} null values "
            "inside its lists",
            hint="fill or filter them in the source",
        )
    return values.to_numpy(zero_copy_only=False).reshape(-1, width)


def _offsets(array: pa.Array) -> np.ndarray:
    large = pa.types.is_large_string(array.type) or pa.types.is_large_binary(array.type)
    dtype = np.int64 if large else np.int32
    return np.frombuffer(
        array.buffers()[1],
        dtype=dtype,
        count=len(array) + 1,
        offset=array.offset * dtype().itemsize,
    ).astype(np.int64)


def _decode_bytes(
    array: pa.Array, name: str, shape: tuple[int, ...], table: str, width: int, first_row: int
) -> np.ndarray:
    """A zero-copy uint8 view of the values buffer, one row per value (lengths checked)."""
    rows = len(array)
    if rows == 0:
        return np.empty((0, width), dtype=np.uint8)
    if pa.types.is_fixed_size_binary(array.type):
        if array.type.byte_width != width:
            raise _shape_error(name, table, shape, array.type.byte_width, first_row)
        start = array.offset * width
        data = np.frombuffer(array.buffers()[1], dtype=np.uint8, count=rows * width, offset=start)
    else:
        offsets = _offsets(array)
        if int(offsets[-1] - offsets[0]) != rows * width or np.any(np.diff(offsets) != width):
            lengths = np.diff(offsets)
            bad = np.flatnonzero(lengths != width)
            raise _shape_error(name, table, shape, int(lengths[bad[0]]), first_row + int(bad[0]))
        data = np.frombuffer(
            array.buffers()[2], dtype=np.uint8, count=rows * width, offset=int(offsets[0])
        )
    return data.reshape(rows, width)


def _decode_string(
    array: pa.Array, name: str, shape: tuple[int, ...], table: str, width: int, first_row: int
) -> np.ndarray:
    """int32 values when every token is a plain non-negative integer, else Arrow's float64."""
    rows = len(array)
    if rows == 0:
        return np.empty((0, width), dtype=np.int32)
    offsets = _offsets(array)
    base = int(offsets[0])
    buf = np.frombuffer(
        array.buffers()[2], dtype=np.uint8, count=int(offsets[-1]) - base, offset=base
    )
    commas = np.flatnonzero(buf == _COMMA)
    row_ends = offsets[1:] - base
    if commas.size != rows * (width - 1):
        return _string_slow(array, name, shape, table, width, first_row)
    # End (exclusive) of every token: the commas, then each row's end for its last token. A chunk's
    # text is far below 2 GiB, so int32 positions do.
    ends = np.empty((rows, width), dtype=np.int32)
    ends[:, : width - 1] = commas.reshape(rows, width - 1)
    ends[:, width - 1] = row_ends
    lengths = np.empty_like(ends)
    np.subtract(ends[:, 1:], ends[:, :-1], out=lengths[:, 1:])
    lengths[:, 1:] -= 1
    lengths[:, 0] = ends[:, 0] - (offsets[:-1] - base)
    digits = buf - np.uint8(_ZERO)  # wraps non-digits to values above 9
    longest = int(lengths.max())
    if (
        lengths.min() <= 0
        or longest > 9
        or np.count_nonzero(digits <= 9) != buf.size - commas.size  # only digits and commas
    ):
        return _string_slow(array, name, shape, table, width, first_row)
    # At most 9 digits, so every value and partial sum fits in int32. Digit k (from the right) of
    # a token ends at end - 1 - k; for shorter tokens that byte belongs to something else: masked.
    ends -= 1
    value = digits[ends].astype(np.int32)
    for k in range(1, longest):
        ends -= 1
        place = digits[ends]
        place *= lengths > k
        value += place.astype(np.int32) * np.int32(10**k)
    return value


def _string_slow(
    array: pa.Array, name: str, shape: tuple[int, ...], table: str, width: int, first_row: int
) -> np.ndarray:
    """Signs, decimals, spaces or a wrong count: Arrow's split and cast (vectorised, slower)."""
    parts = pc.split_pattern(array, ",")
    lengths = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(lengths != width)
    if bad.size:
        raise _shape_error(name, table, shape, int(lengths[bad[0]]), first_row + int(bad[0]))
    tokens = pc.utf8_trim_whitespace(parts.flatten())
    try:
        values = tokens.cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        valid = pc.match_substring_regex(tokens, r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
        where = int(np.flatnonzero(~valid.to_numpy(zero_copy_only=False))[0])
        raise FeatureTypeError(
            f"feature column '{name}' in {table} has {tokens[where].as_py()!r} in row "
            f"{first_row + where // width}; a STRING feature must hold comma-separated numbers",
            hint='store pixels as "0,12,255,..." (or as BYTES / ARRAY<INT64>)',
        ) from None
    return values.to_numpy(zero_copy_only=False).reshape(-1, width)
