"""Loading an exported SavedModel and calling its signature on arrays or JSON instances.

Shared by the local endpoint (``mlkit.serving.server``) and by promotion's evaluation. The exported
model takes one float input per feature, shape ``[None, *feature.shape]`` (see
docs/architecture.md, "The exported SavedModel").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from mlkit.errors import InvalidPayload, ServingError

MAX_INSTANCES = 10_000
"""The most instances one ``parse_instances`` call (one prediction request) accepts."""

_SIGNATURE_PREFERENCE = ("serving_default", "predict")


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_number(value: object) -> bool:
    # JSON gives int, float, str, bool, None, list, dict; bool is an int but not a feature value.
    return type(value) in (int, float) or isinstance(value, np.number)


def _describe(shape: tuple[int | None, ...]) -> str:
    if not shape:
        return "a number"
    if len(shape) == 1:
        return "a list of numbers" if shape[0] is None else f"a list of {shape[0]} numbers"
    dims = "x".join("?" if d is None else str(d) for d in shape)
    return f"a nested list of numbers of shape {dims}"


def _check_value(
    value: object, shape: tuple[int | None, ...], at: tuple[int, ...] = ()
) -> str | None:
    """Return what is wrong with ``value`` for ``shape`` (without the feature's name), or None."""
    where = "" if not at else " at " + "".join(f"[{i}]" for i in at)
    if not shape:
        return None if _is_number(value) else f"must be numbers, got {_short(value)}{where}"
    if not isinstance(value, list | tuple):
        got = "a single number" if _is_number(value) else _short(value)
        return f"must be {_describe(shape)}{where}, got {got}"
    expected = shape[0]
    if expected is not None and len(value) != expected:
        return f"has {len(value)} values{where}, expected {expected}"
    inner = shape[1:]
    if not inner:
        for item in value:
            if not _is_number(item):
                return f"must be numbers, got {_short(item)}{where}"
        return None
    for i, item in enumerate(value):
        problem = _check_value(item, inner, (*at, i))
        if problem:
            return problem
    return None


class SavedModelRunner:
    """One loaded SavedModel and the signature mlkit calls on it.

    The signature is ``serving_default`` when it takes numeric (float) feature inputs, otherwise
    ``predict`` (AdaNet/Estimator exports with a raw-tensor receiver only have ``predict``).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise ServingError(f"no SavedModel at {self.path} (not a directory)")
        try:
            self._loaded = tf.saved_model.load(str(self.path))
        except Exception as exc:  # TF raises a variety of types for a bad directory
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ServingError(f"cannot load the SavedModel at {self.path}: {first}") from exc
        signatures = dict(self._loaded.signatures)
        for name in _SIGNATURE_PREFERENCE:
            if name in signatures and self._takes_float_features(signatures[name]):
                self.signature_name = name
                self._fn = signatures[name]
                break
        else:
            found = ", ".join(sorted(signatures)) or "none"
            raise ServingError(
                f"the SavedModel at {self.path} has no 'serving_default' or 'predict' signature "
                f"taking float feature inputs (signatures: {found})"
            )
        specs = self._fn.structured_input_signature[1]
        self._shapes: dict[str, tuple[int | None, ...]] = {}
        self._dtypes: dict[str, np.dtype] = {}
        for name in sorted(specs):
            spec = specs[name]
            if spec.shape.rank is None or spec.shape.rank < 1:
                raise ServingError(
                    f"the SavedModel at {self.path}: input '{name}' has no batch dimension"
                )
            self._shapes[name] = tuple(spec.shape.as_list()[1:])
            self._dtypes[name] = np.dtype(spec.dtype.as_numpy_dtype)
        self.output_names = sorted(self._fn.structured_outputs)

    @staticmethod
    def _takes_float_features(fn: object) -> bool:
        args, kwargs = fn.structured_input_signature  # type: ignore[attr-defined]
        return (
            not args
            and bool(kwargs)
            and all(
                isinstance(spec, tf.TensorSpec) and spec.dtype.is_floating
                for spec in kwargs.values()
            )
        )

    @property
    def input_spec(self) -> dict[str, tuple[int, ...]]:
        """``{feature_name: shape without the batch dimension}`` (``None``: a free dimension)."""
        return dict(self._shapes)  # type: ignore[arg-type]

    @property
    def input_dtypes(self) -> dict[str, np.dtype]:
        return dict(self._dtypes)

    # -- arrays ------------------------------------------------------------------------------

    def predict_arrays(
        self, features: dict[str, np.ndarray], batch_size: int = 1024
    ) -> dict[str, np.ndarray]:
        """Run the signature over whole arrays in batches; one array per output, rows aligned."""
        names = set(self._shapes)
        unknown = sorted(set(features) - names)
        missing = sorted(names - set(features))
        expected = ", ".join(sorted(names))
        if unknown:
            raise InvalidPayload(f"unknown feature '{unknown[0]}' (expected: {expected})")
        if missing:
            raise InvalidPayload(f"missing feature '{missing[0]}' (expected: {expected})")
        arrays = {n: np.asarray(features[n], dtype=self._dtypes[n]) for n in sorted(names)}
        rows = {len(a) if a.ndim else -1 for a in arrays.values()}
        if len(rows) != 1 or -1 in rows:
            raise InvalidPayload("every feature must have the same number of rows")
        for name, array in arrays.items():
            want = self._shapes[name]
            got = array.shape[1:]
            if len(got) != len(want) or any(
                w is not None and w != g for w, g in zip(want, got, strict=True)
            ):
                raise InvalidPayload(
                    f"feature '{name}' has shape {tuple(got)} per row, expected {want}"
                )
        n = rows.pop()
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        chunks: dict[str, list[np.ndarray]] = {}
        for start in range(0, n, batch_size):
            batch = {k: tf.constant(v[start : start + batch_size]) for k, v in arrays.items()}
            try:
                out = self._fn(**batch)
            except tf.errors.OpError as exc:
                first = (exc.message.strip().splitlines() or ["unknown error"])[0]
                raise ServingError(f"the model failed on rows {start}..: {first}") from exc
            for key, tensor in out.items():
                chunks.setdefault(key, []).append(tensor.numpy())
        if not chunks:  # zero rows: run nothing, return empty outputs of the right kind
            return {k: np.zeros((0,)) for k in self.output_names}
        return {k: np.concatenate(v, axis=0) for k, v in chunks.items()}

    # -- JSON instances ----------------------------------------------------------------------

    def parse_instances(self, instances: object) -> dict[str, np.ndarray]:
        """Validate a payload's ``instances`` and stack them into one array per feature."""
        if not isinstance(instances, list) or not instances:
            raise InvalidPayload("'instances' must be a non-empty list")
        if len(instances) > MAX_INSTANCES:
            raise InvalidPayload(
                f"'instances' has {len(instances)} items; at most {MAX_INSTANCES} per request"
            )
        names = sorted(self._shapes)
        expected = ", ".join(names)
        columns: dict[str, list[object]] = {n: [] for n in names}
        for i, instance in enumerate(instances):
            if isinstance(instance, dict):
                for key in instance:
                    if key not in self._shapes:
                        raise InvalidPayload(
                            f"instance {i}: unknown feature {_short(key)} (expected: {expected})"
                        )
                for name in names:
                    if name not in instance:
                        raise InvalidPayload(
                            f"instance {i}: missing feature '{name}' (expected: {expected})"
                        )
                values = instance
            elif len(names) == 1:
                values = {names[0]: instance}
            else:
                raise InvalidPayload(
                    f"instance {i}: must be an object with the features ({expected}), "
                    f"got {type(instance).__name__ if instance is not None else 'null'}"
                )
            for name in names:
                value = values[name]
                shape = self._shapes[name]
                if shape == (1,) and _is_number(value):
                    value = [value]  # a one-value feature may be given as a bare number
                problem = _check_value(value, shape)
                if problem:
                    raise InvalidPayload(f"instance {i}: feature '{name}' {problem}")
                columns[name].append(value)
        try:
            return {n: np.asarray(columns[n], dtype=self._dtypes[n]) for n in names}
        except (ValueError, TypeError) as exc:  # free dimensions of different lengths
            raise InvalidPayload(f"instances do not stack into arrays: {exc}") from exc

    def predict_instances(self, instances: object) -> list[dict]:
        """Predictions for JSON instances, JSON-ready, one dict per instance."""
        outputs = self.predict_arrays(self.parse_instances(instances))
        return format_predictions(outputs)


def _jsonable(value: np.ndarray) -> object:
    if value.dtype.kind in "SO":
        return np.vectorize(
            lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else v, otypes=[object]
        )(value).tolist()
    return value.tolist()


def format_predictions(outputs: dict[str, np.ndarray]) -> list[dict]:
    """Turn a signature's output arrays into one JSON-ready dict per row."""
    if "class_ids" in outputs and "probabilities" in outputs:
        class_ids = outputs["class_ids"].reshape(len(outputs["class_ids"]), -1)[:, 0]
        probs = outputs["probabilities"]
        return [
            {"class_id": int(c), "probabilities": [float(p) for p in row]}
            for c, row in zip(class_ids, probs, strict=True)
        ]
    predictions = outputs.get("predictions")
    if predictions is not None and predictions.dtype.kind == "f":
        values = predictions.reshape(len(predictions), -1)
        if values.shape[1] == 1:
            return [{"value": float(v)} for v in values[:, 0]]
    keys = sorted(outputs)
    n = len(outputs[keys[0]]) if keys else 0
    columns = {k: _jsonable(outputs[k]) for k in keys}
    return [{k: columns[k][i] for k in keys} for i in range(n)]
