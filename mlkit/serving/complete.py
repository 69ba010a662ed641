"""Raw rows made whole for endpoints that need every input in every instance.

A TensorFlow signature has no optional inputs: TensorFlow Serving's REST API (and Vertex AI's
TensorFlow container, which forwards to it) refuses an instance without one of the signature's
inputs, and has no JSON null for a tensor. mlkit's own endpoint takes a missing key or a null as
a NULL; so that a client gets the same answer from TF Serving, mlkit's client completes each row
before it sends it, from the signature's metadata (``GET /v1/models/NAME/metadata``, which TF
Serving and mlkit's endpoint both answer): an absent key or a null becomes what ``serving_default``
reads as missing (``mlkit.search.preprocess``): ``""`` for a STRING input (a category or a time),
``NaN`` for a number. TF Serving's JSON parser takes the ``NaN`` token (its REST API's "JSON
conformance": NaN and Infinity are accepted), and so does mlkit's endpoint. Strict JSON (Vertex
AI's public API) has no NaN: a row without a number cannot be sent there, and
:func:`complete_instances` says so in one line instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlkit.errors import InvalidPayload

TEXT, NUMBER = "text", "number"
_NUMBER_DTYPES = {"DT_FLOAT", "DT_DOUBLE", "DT_HALF", "DT_INT32", "DT_INT64"}


def input_forms(metadata: Mapping[str, Any]) -> dict[str, str]:
    """``{input: "text" | "number"}`` of the scalar inputs of a model's signature, from TF
    Serving's metadata answer (inputs of other shapes are left as the client gave them)."""
    outer = (metadata.get("metadata") or {}).get("signature_def") or {}
    defs = outer.get("signature_def") or {}
    name = (metadata.get("model_spec") or {}).get("signature_name") or "serving_default"
    signature = defs.get(name) or (next(iter(defs.values())) if len(defs) == 1 else {})
    forms: dict[str, str] = {}
    for key, tensor in (signature.get("inputs") or {}).items():
        dims = (tensor.get("tensor_shape") or {}).get("dim") or []
        if len(dims) != 1:  # [batch] only: a raw row's one value per column
            continue
        dtype = tensor.get("dtype")
        if dtype == "DT_STRING":
            forms[key] = TEXT
        elif dtype in _NUMBER_DTYPES:
            forms[key] = NUMBER
    return forms


INPUTS_FILE = Path("assets.extra") / "mlkit_inputs.json"  # as mlkit.savedmodel names it
_TEXT_FORMS = {"category", "time"}


def stored_forms(meta: Mapping[str, Any]) -> dict[str, str]:
    """``{input: "text" | "number"}`` of a raw tabular export's nullable one-value inputs, from
    its ``assets.extra/mlkit_inputs.json`` (what a client cannot ask Vertex AI for)."""
    forms: dict[str, str] = {}
    for name, entry in meta.items():
        if not isinstance(entry, Mapping) or not entry.get("nullable") or entry.get("shape"):
            continue
        forms[str(name)] = TEXT if entry.get("form") in _TEXT_FORMS else NUMBER
    return forms


def artifact_forms(path: Path) -> dict[str, str]:
    """:func:`stored_forms` of the SavedModel at ``path`` (empty without the file)."""
    try:
        meta = json.loads((path / INPUTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return stored_forms(meta) if isinstance(meta, dict) else {}


def needs_completion(instances: list[Any], forms: Mapping[str, str]) -> bool:
    """Whether some row lacks one of ``forms``' inputs or holds a null for one."""
    return any(
        isinstance(row, dict) and any(row.get(name) is None for name in forms) for row in instances
    )


def complete_instances(
    instances: list[Any], forms: Mapping[str, str], *, nan_allowed: bool = True
) -> list[Any]:
    """Each row (a JSON object) with every input of ``forms``: an absent key or a null becomes
    ``""`` (text) or NaN (a number). ``nan_allowed`` False (strict JSON): a missing number is an
    :class:`InvalidPayload` naming the row and the column."""
    out: list[Any] = []
    for i, row in enumerate(instances):
        if not isinstance(row, dict):
            out.append(row)
            continue
        whole = dict(row)
        for name, form in forms.items():
            if whole.get(name) is not None:
                continue
            if form == TEXT:
                whole[name] = ""
            elif nan_allowed:
                whole[name] = math.nan
            else:
                raise InvalidPayload(
                    f"instance {i}: feature '{name}' is missing or null, and this endpoint takes "
                    "strict JSON, which has no NaN for a missing number",
                    hint="send a value for it, or use the local endpoint or TF Serving",
                )
        out.append(whole)
    return out


__all__ = [
    "NUMBER",
    "TEXT",
    "artifact_forms",
    "complete_instances",
    "input_forms",
    "needs_completion",
    "stored_forms",
]
