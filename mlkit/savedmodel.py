"""Loading an exported SavedModel and calling its signatures on arrays or JSON instances.

Shared by the local endpoint (``mlkit.serving.server``) and by promotion's evaluation. An mlkit
export (see docs/architecture.md, "The exported SavedModel") has two signatures:

- ``serving_default`` takes each feature as the warehouse stores it: floats ``[None, *shape]`` for
  numbers and arrays, one tf.string per instance (``[None]``) for a STRING feature
  (comma-separated numbers) or a BYTES feature (one byte per value), decoded in the graph. JSON
  instances give a STRING value as a JSON string and a BYTES value as ``{"b64": "..."}`` (the
  TensorFlow Serving / Vertex AI convention);
- ``features`` takes the decoded float arrays the data loader gives.

``assets.extra/mlkit_inputs.json`` names each input's storage form. Older exports (one float
signature, no ``features``) and plain float SavedModels are served the same way as before.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from mlkit.errors import InvalidPayload, ServingError
from mlkit.signature_call import SignatureCall

INPUTS_FILE = Path("assets.extra") / "mlkit_inputs.json"
"""Per input of ``serving_default``: ``{"form": "scalar"|"array"|"bytes"|"string", "shape"}``."""
FEATURES_SIGNATURE = "features"
"""The signature on decoded float arrays (mlkit's evaluation feeds it loader arrays)."""
ENCODED_FORMS = ("string", "bytes")
"""Storage forms that ``serving_default`` takes as one tf.string per instance."""
TEXT_FORMS = ("category", "time")
"""Raw tabular inputs taken as one tf.string per instance: a category's value, an ISO time."""
COLUMNS_FILE = Path("assets.extra") / "mlkit_columns.json"
"""A tabular model's preprocessing and class names (``mlkit.data.columns.ColumnPlan``)."""

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
        for item in value:  # the common case inline (a call per value costs more than the check)
            if type(item) is not float and type(item) is not int and not _is_number(item):
                return f"must be numbers, got {_short(item)}{where}"
        return None
    for i, item in enumerate(value):
        problem = _check_value(item, inner, (*at, i))
        if problem:
            return problem
    return None


_NUMBER = r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*"
_NUMBER_LIST = re.compile(rf"{_NUMBER}(?:,{_NUMBER})*")
_ONE_NUMBER = re.compile(_NUMBER)


def _stored_string(value: object, width: int) -> tuple[bytes | None, str | None]:
    """A STRING feature's JSON value → its bytes, or what is wrong with it."""
    if isinstance(value, dict) and set(value) == {"b64"}:  # TF Serving accepts it for any string
        raw, problem = _b64(value)
        if problem:
            return None, problem
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None, "has 'b64' bytes that are not text"
    if not isinstance(value, str):
        return None, f"must be a string of {width} comma-separated numbers, got {_short(value)}"
    count = value.count(",") + 1
    if count != width:
        return None, f"has {count} comma-separated values, expected {width}"
    if not _NUMBER_LIST.fullmatch(value):
        for i, token in enumerate(value.split(",")):
            if not _ONE_NUMBER.fullmatch(token):
                return None, f"has {_short(token.strip(), 20)} at position {i}, not a number"
    return value.encode("utf-8"), None


def _b64(value: dict) -> tuple[bytes, str | None]:
    text = value["b64"]
    if not isinstance(text, str):
        return b"", f"has a 'b64' that is not a string, got {_short(text)}"
    try:
        return base64.b64decode(text, validate=True), None
    except (binascii.Error, ValueError):
        return b"", f"has a 'b64' value that is not valid base64: {_short(text)}"


def _stored_bytes(value: object, width: int) -> tuple[bytes | None, str | None]:
    """A BYTES feature's JSON value (``{"b64": ...}``) → its bytes, or what is wrong with it."""
    if not (isinstance(value, dict) and set(value) == {"b64"}):
        return None, (
            f'must be {{"b64": "<base64 of {width} bytes>"}} (BYTES, one byte per value), '
            f"got {_short(value)}"
        )
    raw, problem = _b64(value)
    if problem:
        return None, problem
    if len(raw) != width:
        return None, f"has {len(raw)} bytes, expected {width} (one byte per value)"
    return raw, None


_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]00:?00)?")


def _raw_text(value: object, form: str) -> tuple[str | None, str | None]:
    """A raw categorical or time value → its text ("" for null), or what is wrong with it."""
    if value is None:
        return "", None
    if form == "category":
        if isinstance(value, bool):
            return ("true" if value else "false"), None
        if isinstance(value, str):
            return value, None
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            return str(int(value)), None
        return None, f"must be a category (text, an integer or null), got {_short(value)}"
    if isinstance(value, str) and (value == "" or _ISO_TIME.fullmatch(value.strip())):
        return value.strip(), None
    return None, (
        "must be an ISO date or time in UTC (e.g. 2024-05-01 or 2024-05-01T13:45:00Z) or null, "
        f"got {_short(value)}"
    )


def _raw_number(value: object) -> tuple[float | None, str | None]:
    """A raw numeric or boolean value → a float (NaN for null), or what is wrong with it."""
    if value is None:
        return math.nan, None
    if isinstance(value, bool):
        return float(value), None
    if isinstance(value, int | float | np.number):
        return float(value), None
    return None, f"must be a number, true/false or null, got {_short(value)}"


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _graph_error(message: str) -> tuple[str, bool]:
    """The line of a TensorFlow error that says what went wrong; True for a failed assertion
    (a wrong input, e.g. a stored value of the wrong length)."""
    found = re.search(r"assertion failed: \[(.*?)\]", message)
    if found:
        return found.group(1).replace("\\'", "'"), True
    noise = ("Graph execution error", "Detected at node", "File ", "[[", "(most recent call")
    for line in message.splitlines():
        line = line.strip()
        if line and not line.startswith(noise) and not line.startswith(("Node:", "Op:")):
            return line, False
    return "unknown error", False


def _is_text_array(array: np.ndarray) -> bool:
    return array.dtype.kind in "OSU"


class SavedModelRunner:
    """One loaded SavedModel and the signatures mlkit calls on it.

    ``signature_name`` is what the endpoint calls on JSON instances: ``serving_default`` when it
    takes float features or (an mlkit export) stored STRING/BYTES values, otherwise ``predict``
    (AdaNet/Estimator exports with a raw-tensor receiver only have ``predict``; a
    ``serving_default`` on serialized tf.Example is skipped). ``features_signature`` is what
    :meth:`predict_arrays` calls on decoded float arrays: ``features`` when the export has it,
    else the serving signature when that takes floats.
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
        self.storage_forms = self._read_forms()
        signatures = dict(self._loaded.signatures)
        for name in _SIGNATURE_PREFERENCE:
            if name in signatures and self._takes_stored_values(signatures[name]):
                self.signature_name = name
                self._fn = signatures[name]
                break
        else:
            found = ", ".join(sorted(signatures)) or "none"
            raise ServingError(
                f"the SavedModel at {self.path} has no 'serving_default' or 'predict' signature "
                f"taking float feature inputs or stored STRING/BYTES values named in "
                f"{INPUTS_FILE} (signatures: {found})"
            )
        self._shapes, self._dtypes = self._specs(self._fn)
        self._kinds: dict[str, str | None] = {
            name: (self.storage_forms.get(name) if self._dtypes[name].kind == "O" else "float")
            for name in self._shapes
        }
        features = signatures.get(FEATURES_SIGNATURE)
        self.features_signature: str | None
        if any(m.get("kind") for m in self._inputs_meta.values()):
            # Raw tabular rows: mlkit reads and sends them as a client does (no decoded arrays).
            self.features_signature, self._features_fn = None, None
        elif features is not None and self._takes_floats(features):
            self.features_signature, self._features_fn = FEATURES_SIGNATURE, features
        elif all(kind == "float" for kind in self._kinds.values()):
            self.features_signature, self._features_fn = self.signature_name, self._fn
        else:
            self.features_signature, self._features_fn = None, None
        self._call = SignatureCall(self._fn)
        # used only when there is a features signature (predict_arrays), often the same one
        features_fn = self._features_fn
        same = features_fn is None or features_fn is self._fn
        self._features_call = self._call if same else SignatureCall(features_fn)
        if self._features_fn is not None:
            self._feature_shapes, self._feature_dtypes = self._specs(self._features_fn)
        elif self._inputs_meta and any(m.get("kind") for m in self._inputs_meta.values()):
            self._feature_shapes, self._feature_dtypes = dict(self._shapes), dict(self._dtypes)
        else:  # decoded shapes from the inputs file
            self._feature_shapes = {
                n: tuple(self._inputs_meta.get(n, {}).get("shape") or ()) for n in self._shapes
            }
            self._feature_dtypes = {n: np.dtype(np.float32) for n in self._shapes}
        self._widths = {
            n: math.prod(d or 1 for d in self._feature_shapes.get(n, ())) for n in self._shapes
        }
        self.output_names = sorted(self._fn.structured_outputs)
        self.classes = self._read_classes()
        self._nullable = {n for n, m in self._inputs_meta.items() if m.get("nullable")}

    def _read_classes(self) -> list[str] | None:
        """The label's class names of a model trained on text or boolean labels (else None)."""
        path = self.path / COLUMNS_FILE
        if not path.is_file():
            return None
        try:
            classes = json.loads(path.read_text(encoding="utf-8")).get("classes")
        except (OSError, ValueError, AttributeError) as exc:
            raise ServingError(f"cannot read {path}: {exc}") from exc
        return None if classes is None else [str(c) for c in classes]

    @property
    def raw_columns(self) -> dict[str, str]:
        """``{column: kind}`` of a model whose ``serving_default`` takes raw tabular rows
        (categories, NULLs, times); empty for other models."""
        return {
            n: str(m["kind"])
            for n, m in self._inputs_meta.items()
            if m.get("kind") and n in self._shapes
        }

    def _read_forms(self) -> dict[str, str]:
        self._inputs_meta: dict[str, dict] = {}
        path = self.path / INPUTS_FILE
        if not path.is_file():
            return {}
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ServingError(f"cannot read {path}: {exc}") from exc
        if not isinstance(meta, dict) or not all(isinstance(v, dict) for v in meta.values()):
            raise ServingError(f"{path} is not an object of inputs")
        self._inputs_meta = meta
        return {name: str(entry.get("form")) for name, entry in meta.items()}

    def _specs(self, fn: Any) -> tuple[dict[str, tuple[int | None, ...]], dict[str, np.dtype]]:
        specs = fn.structured_input_signature[1]
        shapes: dict[str, tuple[int | None, ...]] = {}
        dtypes: dict[str, np.dtype] = {}
        for name in sorted(specs):
            spec = specs[name]
            if spec.shape.rank is None or spec.shape.rank < 1:
                raise ServingError(
                    f"the SavedModel at {self.path}: input '{name}' has no batch dimension"
                )
            shapes[name] = tuple(spec.shape.as_list()[1:])
            dtypes[name] = (
                np.dtype(object) if spec.dtype == tf.string else np.dtype(spec.dtype.as_numpy_dtype)
            )
        return shapes, dtypes

    @staticmethod
    def _takes_floats(fn: Any) -> bool:
        args, kwargs = fn.structured_input_signature
        return (
            not args
            and bool(kwargs)
            and all(
                isinstance(spec, tf.TensorSpec) and spec.dtype.is_floating
                for spec in kwargs.values()
            )
        )

    def _takes_stored_values(self, fn: Any) -> bool:
        """Float features, or one string per instance where the inputs file names a STRING or
        BYTES feature (a string input without it is a tf.Example receiver)."""
        args, kwargs = fn.structured_input_signature
        if args or not kwargs:
            return False
        for name, spec in kwargs.items():
            if not isinstance(spec, tf.TensorSpec):
                return False
            if spec.dtype.is_floating:
                continue
            if not (
                spec.dtype == tf.string
                and spec.shape.rank == 1
                and self.storage_forms.get(name) in ENCODED_FORMS + TEXT_FORMS
            ):
                return False
        return True

    @property
    def input_spec(self) -> dict[str, tuple[int | None, ...]]:
        """``{feature: decoded shape without the batch dimension}`` (``None``: a free dimension):
        what :meth:`predict_arrays` takes, and what promotion reads evaluation rows as."""
        return dict(self._feature_shapes)

    @property
    def input_dtypes(self) -> dict[str, np.dtype]:
        """The dtypes :meth:`predict_arrays` takes the decoded features in."""
        return dict(self._feature_dtypes)

    @property
    def serving_spec(self) -> dict[str, tuple[tuple[int | None, ...], str]]:
        """``{input: (shape without the batch dimension, dtype name)}`` of the serving signature:
        ``((64,), 'float32')`` for floats, ``((), 'string')`` for a STRING or BYTES feature."""
        return {
            name: (shape, "string" if self._dtypes[name].kind == "O" else self._dtypes[name].name)
            for name, shape in self._shapes.items()
        }

    # -- arrays ------------------------------------------------------------------------------

    def predict_arrays(
        self, features: dict[str, np.ndarray], batch_size: int = 1024
    ) -> dict[str, np.ndarray]:
        """Run the model over whole arrays in batches; one array per output, rows aligned.

        ``features`` are the decoded float arrays (run through ``features_signature``), or the
        serving signature's inputs as :meth:`parse_instances` gives them (bytes or str for the
        STRING/BYTES features; run through ``signature_name``)."""
        names = set(self._shapes)
        unknown = sorted(set(features) - names)
        missing = sorted(names - set(features))
        expected = ", ".join(sorted(names))
        if unknown:
            raise InvalidPayload(f"unknown feature '{unknown[0]}' (expected: {expected})")
        if missing:
            raise InvalidPayload(f"missing feature '{missing[0]}' (expected: {expected})")
        encoded = sorted(n for n, kind in self._kinds.items() if kind != "float")
        stored = bool(encoded) and all(
            _is_text_array(np.asarray(features[n], dtype=None)) for n in encoded
        )
        if stored or self._features_fn is None:
            if not stored and encoded:
                raise InvalidPayload(
                    f"feature '{encoded[0]}' must be given as stored "
                    f"({str(self._kinds[encoded[0]]).upper()} values): "
                    f"the SavedModel at {self.path} "
                    f"has no '{FEATURES_SIGNATURE}' signature on decoded arrays"
                )
            call, shapes, dtypes = self._call, self._shapes, self._dtypes
        else:
            call, shapes, dtypes = self._features_call, self._feature_shapes, self._feature_dtypes
        try:
            arrays = {n: np.asarray(features[n], dtype=dtypes[n]) for n in sorted(names)}
        except (ValueError, TypeError) as exc:
            raise InvalidPayload(f"features do not convert to arrays: {exc}") from exc
        rows = {len(a) if a.ndim else -1 for a in arrays.values()}
        if len(rows) != 1 or -1 in rows:
            raise InvalidPayload("every feature must have the same number of rows")
        for name, array in arrays.items():
            want = shapes[name]
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
            try:
                out = call({k: v[start : start + batch_size] for k, v in arrays.items()})
            except tf.errors.OpError as exc:
                line, wrong_input = _graph_error(exc.message)
                if wrong_input or (stored and isinstance(exc, tf.errors.InvalidArgumentError)):
                    raise InvalidPayload(f"rows {start}..: {line}") from exc
                raise ServingError(f"the model failed on rows {start}..: {line}") from exc
            for key, tensor in out.items():
                chunks.setdefault(key, []).append(tensor.numpy())
        if not chunks:  # zero rows: run nothing, return empty outputs of the right kind
            return {k: np.zeros((0,)) for k in self.output_names}
        return {k: np.concatenate(v, axis=0) for k, v in chunks.items()}

    # -- JSON instances ----------------------------------------------------------------------

    @property
    def nullable(self) -> frozenset[str]:
        """Raw tabular inputs that may be missing or null in a row (NaN: missing, for numbers)."""
        return frozenset(self._nullable)

    def parse_instances(self, instances: object) -> dict[str, np.ndarray]:
        """Validate a payload's ``instances`` and stack them into one array per serving input
        (float arrays; object arrays of bytes for STRING and BYTES features)."""
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
            bare_b64 = (
                len(names) == 1
                and isinstance(instance, dict)
                and set(instance) == {"b64"}
                and names[0] != "b64"
            )
            if isinstance(instance, dict) and not bare_b64:
                for key in instance:
                    if key not in self._shapes:
                        raise InvalidPayload(
                            f"instance {i}: unknown feature {_short(key)} (expected: {expected})"
                        )
                for name in names:
                    if name not in instance and name not in self._nullable:
                        raise InvalidPayload(
                            f"instance {i}: missing feature '{name}' (expected: {expected})"
                        )
                values = {n: instance.get(n) for n in names}
            elif len(names) == 1:
                values = {names[0]: instance}
            else:
                raise InvalidPayload(
                    f"instance {i}: must be an object with the features ({expected}), "
                    f"got {type(instance).__name__ if instance is not None else 'null'}"
                )
            for name in names:
                value = values[name]
                kind = self._kinds[name]
                if kind in TEXT_FORMS:
                    value, problem = _raw_text(value, kind)
                elif name in self._nullable and self._shapes[name] == ():
                    value, problem = _raw_number(value)
                elif kind == "string":
                    value, problem = _stored_string(value, self._widths[name])
                elif kind == "bytes":
                    value, problem = _stored_bytes(value, self._widths[name])
                else:
                    shape = self._shapes[name]
                    if shape == (1,) and _is_number(value):
                        value = [value]  # a one-value feature may be given as a bare number
                    problem = _check_value(value, shape)
                if problem:
                    raise InvalidPayload(f"instance {i}: feature '{name}' {problem}")
                columns[name].append(value)
        arrays: dict[str, np.ndarray] = {}
        for n in names:
            if self._kinds[n] != "float":
                arrays[n] = np.empty(len(columns[n]), dtype=object)
                arrays[n][:] = columns[n]
                continue
            try:
                arrays[n] = np.asarray(columns[n], dtype=self._dtypes[n])
            except (ValueError, TypeError) as exc:  # free dimensions of different lengths
                raise InvalidPayload(f"instances do not stack into arrays: {exc}") from exc
        return arrays

    def predict_instances(self, instances: object) -> list[dict]:
        """Predictions for JSON instances, JSON-ready, one dict per instance."""
        outputs = self.predict_arrays(self.parse_instances(instances))
        return format_predictions(outputs, self.classes)

    def stored_instances(self, features: dict[str, np.ndarray], rows: list[int]) -> list[dict]:
        """JSON instances of decoded feature arrays' ``rows``, in the form a client sends them:
        numbers, a comma-separated string for a STRING feature, ``{"b64": ...}`` for BYTES."""
        instances: list[dict] = []
        for r in rows:
            instance: dict[str, object] = {}
            for name in sorted(self._shapes):
                values = np.asarray(features[name][r])
                kind = self._kinds[name]
                if kind in TEXT_FORMS:  # raw rows (mlkit.data.tabular.serving_values)
                    text = features[name][r]
                    instance[name] = None if text in ("", None) else str(text)
                elif name in self._nullable and self._shapes[name] == ():
                    number = float(values)
                    instance[name] = None if math.isnan(number) else number
                elif kind == "string":
                    instance[name] = ",".join(_number_text(v) for v in values.ravel().tolist())
                elif kind == "bytes":
                    flat = values.ravel()
                    if flat.size and (flat.min() < 0 or flat.max() > 255 or (flat % 1).any()):
                        raise InvalidPayload(
                            f"feature '{name}' holds values outside 0..255 in row {r}; "
                            "it cannot be sent as BYTES"
                        )
                    raw = flat.astype(np.uint8).tobytes()
                    instance[name] = {"b64": base64.b64encode(raw).decode("ascii")}
                else:
                    instance[name] = values.tolist()
            instances.append(instance)
        return instances


def _jsonable(value: np.ndarray) -> Any:
    if value.dtype.kind in "SO":
        return np.vectorize(
            lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else v, otypes=[object]
        )(value).tolist()
    return value.tolist()


def format_predictions(
    outputs: dict[str, np.ndarray], classes: list[str] | None = None
) -> list[dict]:
    """Turn a signature's output arrays into one JSON-ready dict per row: ``{"class_id",
    "probabilities": [...]}`` for a classifier, ``{"class", "class_id", "probabilities":
    {name: p}}`` for one with class names (``classes``), ``{"value"}`` for a regression."""
    if classes is not None and "class_ids" in outputs and "probabilities" in outputs:
        class_ids = outputs["class_ids"].reshape(len(outputs["class_ids"]), -1)[:, 0]
        return [
            {
                "class": classes[int(c)],
                "class_id": int(c),
                "probabilities": {
                    name: float(p) for name, p in zip(classes, row.tolist(), strict=True)
                },
            }
            for c, row in zip(class_ids, outputs["probabilities"], strict=True)
        ]
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
