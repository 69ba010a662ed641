"""Tables with categories, NULLs, booleans, times and text labels → split training arrays.

The loader (``mlkit.data.loader``) hands a source here when one of its feature columns is
categorical, a timestamp or a date, when a numeric feature has NULLs, or when the label is text
or boolean. The rows are read once into Arrow (tabular rows are narrow), put in key order and
split exactly as the loader splits them (same keys, same split); the preprocessing
(``mlkit.data.columns``) is fitted on the training split only and applied to every split.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlkit.data.columns import MAX_CATEGORIES, MIN_COUNT, as_text, fit_and_encode
from mlkit.data.fingerprint import schema_string
from mlkit.data.split import SPLIT_NAMES, assign_splits
from mlkit.data.validation import FeatureTypeError, LabelValuesError, NullValuesError
from mlkit.data.warehouse import Query, Relation, Warehouse
from mlkit.errors import DataError

# One thread beside the loading one, for a table's statistics (see load_tabular).
_STATS_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlkit-stats")


@dataclass(frozen=True)
class TabularOptions:
    """How categorical vocabularies are cut (``data.max_categories``, ``data.min_count``)."""

    max_categories: int = MAX_CATEGORIES
    min_count: int = MIN_COUNT


def fixing_query(source: Relation, column: str) -> str:
    """A query that leaves out the rows where ``column`` is NULL."""
    inner = f"({' '.join(str(source).split())})" if isinstance(source, Query) else str(source)
    return f"SELECT * FROM {inner} WHERE {column} IS NOT NULL"


def read_all(warehouse: Warehouse, relation: Relation, columns: list[str]) -> pa.Table:
    batches = list(warehouse.iter_batches(relation, columns))
    if not batches:
        schema = warehouse.relation_schema(relation)
        return pa.table({c: pa.array([], schema.field(c).type) for c in columns})
    return pa.Table.from_batches(batches).combine_chunks()


def check_key(table: pa.Table, key: str, where: str) -> None:
    column = table.column(key)
    if not (pa.types.is_integer(column.type) or pa.types.is_string(column.type)):
        raise FeatureTypeError(
            f"key column '{key}' in {where} is {column.type}; expected integers or strings",
            hint="use a unique integer or string id column as the key",
        )
    if column.null_count:
        raise NullValuesError(
            f"key column '{key}' in {where} has {column.null_count} null values",
            hint="fill or filter them in the source (e.g. a query with WHERE ... IS NOT NULL)",
        )


def label_nulls_error(nulls: int, label: str, where: str, source: Relation) -> NullValuesError:
    """NULL labels: how many, and the query that leaves those rows out."""
    rows = "row has" if nulls == 1 else "rows have"
    name = source if where.startswith("table ") or isinstance(source, Query) else "(your query)"
    return NullValuesError(
        f"label column '{label}' in {where}: {nulls} {rows} a NULL label; every row needs one",
        hint=f"read it through the query `{fixing_query(name, label)}`",
    )


def check_label_nulls(table: pa.Table, label: str, where: str, source: Relation) -> None:
    nulls = table.column(label).null_count
    if nulls:
        raise label_nulls_error(nulls, label, where, source)


def key_order(table: pa.Table, key: str, label: str) -> pa.Table:
    """The rows in key order (then label), as the loader puts them (as read when the keys
    already increase: a table written in key order is not copied)."""
    keys = table.column(key)
    if pa.types.is_integer(keys.type) and keys.null_count == 0 and len(keys) > 1:
        values = keys.to_numpy()
        if bool((values[1:] > values[:-1]).all()):
            return table
    order = pc.sort_indices(table, sort_keys=[(key, "ascending"), (label, "ascending")])
    return table.take(order)


def class_labels(
    column: pa.Array, train: np.ndarray, label: str, where: str
) -> tuple[np.ndarray, list[int], tuple[str, ...] | None]:
    """Class ids, the id values and the class names (None for integer ids 0..K-1). Text and
    boolean labels: the classes are the training split's values, sorted; a value only outside
    the training split is an error."""
    dtype = column.type
    if pa.types.is_integer(dtype):
        labels = column.to_numpy(zero_copy_only=False).astype(np.int64)
        values = np.unique(labels)
        if values.size < 2 or values[0] != 0 or values[-1] != values.size - 1:
            shown = ", ".join(str(v) for v in values[:10]) + (", ..." if values.size > 10 else "")
            raise LabelValuesError(
                f"label column '{label}' in {where} has values {shown}; integer classification "
                "labels must be 0..K-1 with K >= 2 (or use text labels)",
                hint="map the classes to 0..K-1, or cast the label to STRING in a query",
            )
        return labels, values.tolist(), None
    if not (pa.types.is_string(dtype) or pa.types.is_boolean(dtype)):
        raise LabelValuesError(
            f"label column '{label}' in {where} is {dtype}; classification labels must be "
            "integers 0..K-1, text or booleans",
            hint='cast the label in a query, or set search.task = "regression"',
        )
    text = as_text(column)
    if text.null_count:  # the empty string
        raise LabelValuesError(
            f"label column '{label}' in {where} has {text.null_count} empty labels",
            hint="filter them in the source",
        )
    in_train = text.filter(pa.array(train))
    classes = tuple(sorted(str(v) for v in pc.unique(in_train).to_pylist()))
    if len(classes) < 2:
        raise LabelValuesError(
            f"label column '{label}' in {where} has {len(classes)} class in the training split; "
            "classification needs at least 2"
        )
    ids = pc.index_in(text, value_set=pa.array(list(classes), pa.string()))
    if ids.null_count:
        unseen = pc.unique(text.filter(ids.is_null())).to_pylist()
        raise LabelValuesError(
            f"label column '{label}' in {where} has {', '.join(map(repr, unseen[:5]))} outside "
            "the training split (classes are learned from it)",
            hint="use more rows, or filter the rare classes",
        )
    labels = ids.to_numpy(zero_copy_only=False).astype(np.int64)
    return labels, list(range(len(classes))), classes


def regression_labels(column: pa.Array, label: str, where: str) -> np.ndarray:
    dtype = column.type
    if not (
        pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype)
    ):
        raise LabelValuesError(
            f"label column '{label}' in {where} is {dtype}; regression targets must be numbers",
            hint="cast the target to FLOAT64 in the source or a query",
        )
    labels = column.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    if not np.isfinite(labels).all():
        raise LabelValuesError(f"label column '{label}' in {where} has NaN or infinite values")
    return labels


def load_tabular(
    warehouse: Warehouse,
    relation: Relation,
    source: Relation,
    schema: pa.Schema,
    *,
    where: str,
    label: str,
    key: str,
    kinds: Mapping[str, str],
    shapes: Mapping[str, tuple[int, ...]],
    fractions: tuple[float, float],
    extra_columns: Sequence[str],
    regression: bool,
    options: TabularOptions,
    with_stats: bool = True,
    table: pa.Table | None = None,
) -> Any:
    """The splits of a tabular source as :class:`mlkit.data.loader.SplitData`, with the fitted
    :class:`ColumnPlan` in its ``columns`` (and the class names in ``classes``). ``table``: the
    columns already read (key, label, features, extra columns)."""
    from mlkit.data.loader import Arrays, FeatureSpec, SplitData, _content_sha256, _source_fields
    from mlkit.data.stats import table_stats

    names = list(kinds)
    columns = list(dict.fromkeys([key, label, *names, *extra_columns]))
    if table is None:
        table = read_all(warehouse, relation, columns)
    if table.num_rows == 0:
        raise DataError(f"{where} has no rows")
    check_key(table, key, where)
    check_label_nulls(table, label, where, source)
    table = key_order(table, key, label)
    # The statistics need only the rows: computed on another thread (numpy and Arrow release
    # the GIL in most of it) while this one hashes the keys and encodes the columns.
    pending = (
        _STATS_POOL.submit(table_stats, table.select([*names, label]), dict(kinds), label)
        if with_stats
        else None
    )
    keys = table.column(key).combine_chunks()
    codes = assign_splits(keys.to_numpy(zero_copy_only=False), *fractions)
    for code, split in enumerate(SPLIT_NAMES):
        wanted = 1.0 if split == "train" else fractions[0 if split == "eval" else 1]
        if wanted > 0 and not (codes == code).any():
            raise DataError(
                f"split '{split}' of {where} is empty ({table.num_rows} rows, eval_fraction "
                f"{fractions[0]}, test_fraction {fractions[1]}); use more rows or a larger fraction"
            )
    label_column = table.column(label).combine_chunks()
    train_mask = codes == SPLIT_NAMES.index("train")
    if regression:
        labels, classes = regression_labels(label_column, label, where), None
        label_values: list[int] = []
    else:
        labels, label_values, classes = class_labels(label_column, train_mask, label, where)
    plan, encoded = fit_and_encode(
        table, train_mask, kinds, where, classes=classes, shapes=shapes,
        max_categories=options.max_categories, min_count=options.min_count,
    )  # fmt: skip
    parts: dict[str, Any] = {}
    # Rows grouped by split with one stable sort (each split keeps key order): one gather per
    # column and split instead of a boolean mask over every row per split.
    order = np.argsort(codes, kind="stable")
    ends = np.cumsum(np.bincount(codes, minlength=len(SPLIT_NAMES)))
    extra_arrays = {c: table.column(c).combine_chunks() for c in extra_columns}
    for code, split in enumerate(SPLIT_NAMES):
        rows = order[(ends[code - 1] if code else 0) : ends[code]]
        taken = pa.array(rows)
        parts[split] = Arrays(
            {n: v.take(rows, axis=0) for n, v in encoded.items()},
            labels.take(rows),
            {c: a.take(taken).to_numpy(zero_copy_only=False) for c, a in extra_arrays.items()},
            keys.take(taken).to_numpy(zero_copy_only=False),
        )
    feature_specs = [
        FeatureSpec(n, tuple(v.shape[1:]), "array" if v.ndim > 1 else "scalar")
        for n, v in encoded.items()
    ]
    feature_names = list(encoded)
    content = _content_sha256(keys, labels, parts, feature_names, {})
    loaded = pa.schema([schema.field(c) for c in columns])
    fingerprint = {
        "source": warehouse.describe(),
        **_source_fields(warehouse, source),
        "rows": table.num_rows,
        "schema": schema_string(loaded),
        "key": key,
        "label": label,
        "features": [{"name": s.name, "shape": list(s.shape)} for s in feature_specs],
        "kinds": dict(kinds),
        "columns": plan.to_json(),
        "storage_forms": {n: "scalar" for n in feature_names},
        "extra_columns": list(extra_columns),
        "content_sha256": content,
        "split_method": "ABS(MOD(FARM_FINGERPRINT(CAST(key AS STRING)), 1000))",
        "eval_fraction": fractions[0],
        "test_fraction": fractions[1],
        "split_rows": {split: len(parts[split]) for split in SPLIT_NAMES},
    }
    stats = pending.result() if pending is not None else {}
    return SplitData(
        train=parts["train"],
        eval=parts["eval"],
        test=parts["test"],
        label_values=label_values,
        n_classes=len(label_values),
        feature_specs=feature_specs,
        fingerprint=fingerprint,
        stats=stats,
        columns=plan,
        classes=None if classes is None else list(classes),
    )


def raw_rows(
    warehouse: Warehouse,
    relation: Relation,
    *,
    kinds: Mapping[str, str],
    classes: Sequence[str] | None,
    label: str,
    key: str,
    fractions: tuple[float, float] | None,
    extra_columns: Sequence[str],
    regression: bool,
    where: str,
) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray], np.ndarray, pa.Schema]:
    """The test split (or every row, ``fractions`` None) as a client would send it to the
    SavedModel's ``serving_default``: ``(inputs, labels, extras, keys, schema read)``. Labels
    of a model with class names are mapped to its class ids (an unknown class is an error)."""
    names = list(kinds)
    columns = list(dict.fromkeys([key, label, *names, *extra_columns]))
    schema = warehouse.relation_schema(relation)
    for name in columns:
        if name not in schema.names:
            raise DataError(
                f"{where} has no column '{name}', which the model reads "
                f"(columns: {', '.join(schema.names)})"
            )
    table = read_all(warehouse, relation, columns)
    check_key(table, key, where)
    check_label_nulls(table, label, where, relation)
    table = key_order(table, key, label)
    keys = table.column(key).combine_chunks()
    if fractions is not None:
        codes = assign_splits(keys.to_numpy(zero_copy_only=False), *fractions)
        table = table.filter(pa.array(codes == SPLIT_NAMES.index("test")))
        keys = table.column(key).combine_chunks()
    if len(table) == 0:
        raise DataError(f"the test split of {where} is empty")
    if pc.count_distinct(keys).as_py() != len(keys):
        raise DataError(
            f"key column '{key}' in {where} has repeated values; evaluation needs one row per key",
            hint="use a unique key column",
        )
    column = table.column(label).combine_chunks()
    if regression:
        labels = regression_labels(column, label, where)
    elif classes is not None:
        labels = class_ids(column, classes, label, where, of="a class of the model")
    else:
        labels = column.to_numpy(zero_copy_only=False).astype(np.int64)
    inputs = {n: serving_values(table.column(n).combine_chunks(), k) for n, k in kinds.items()}
    extras = {
        c: table.column(c).combine_chunks().to_numpy(zero_copy_only=False) for c in extra_columns
    }
    read = pa.schema([schema.field(c) for c in columns])
    return inputs, labels, extras, keys.to_numpy(zero_copy_only=False), read


def serving_values(column: pa.Array, kind: str) -> np.ndarray:
    """A column as ``serving_default`` takes it: float32 with NaN for NULL (numbers,
    booleans), text ("" for NULL) for categories, ISO text for times."""
    if kind == "categorical":
        text = as_text(column).fill_null("")
        out = np.empty(len(text), dtype=object)
        out[:] = text.to_pylist()
        return out
    if kind in ("timestamp", "date"):
        if kind == "date":
            text = pc.strftime(column.cast(pa.timestamp("s")), format="%Y-%m-%d")
        else:
            naive = column.cast(pa.timestamp("s", tz=column.type.tz)).cast(pa.int64())
            text = pc.strftime(naive.cast(pa.timestamp("s")), format="%Y-%m-%dT%H:%M:%S")
        out = np.empty(len(text), dtype=object)
        out[:] = text.fill_null("").to_pylist()
        return out
    if kind == "array":
        from mlkit.data.decode import is_list

        assert is_list(column.type)
        return np.asarray(column.to_pylist(), dtype=np.float32)
    if pa.types.is_boolean(column.type):
        column = column.cast(pa.int8())
    values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.float32)


def class_ids(
    column: pa.Array,
    classes: Sequence[str],
    label: str,
    where: str,
    *,
    of: str = "one of the classes of the training split",
) -> np.ndarray:
    """Text or boolean labels → their class ids; a label outside ``classes`` is a
    LabelValuesError naming it, "not ``of``"."""
    text = as_text(column)
    ids = pc.index_in(text, value_set=pa.array(list(classes), pa.string()))
    if ids.null_count:
        unknown = pc.unique(text.filter(ids.is_null())).to_pylist()
        raise LabelValuesError(
            f"label column '{label}' in {where} has {', '.join(map(repr, unknown[:5]))}, "
            f"not {of} ({', '.join(classes)})"
        )
    return ids.to_numpy(zero_copy_only=False).astype(np.int64)


__all__ = [
    "TabularOptions",
    "class_ids",
    "class_labels",
    "fixing_query",
    "load_tabular",
    "raw_rows",
    "serving_values",
]
