"""Checks at the store's entry and the not-found errors, with their hints."""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from mlkit.errors import ModelNotFound, RegistryError, UsageError, VersionNotFound

NAME_RULE = "^[a-z][a-z0-9_-]{0,62}$"
_NAME = re.compile(NAME_RULE)
_NAME_WORDS = "a lowercase letter, then up to 62 lowercase letters, digits, '_' or '-'"
TRAIN_HINT = "the registry is empty; train a model with `mlkit train experiments/digits.toml`"


def _suggest(name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", name.strip().lower()).strip("-_")
    if cleaned and not cleaned[0].isalpha():
        cleaned = f"m-{cleaned}"
    return cleaned[:63]


def validate_name(kind: str, name: object) -> str:
    """``name`` if it is a valid model or alias name; a one-line RegistryError otherwise."""
    if isinstance(name, str) and _NAME.fullmatch(name):
        return name
    suggestion = _suggest(name) if isinstance(name, str) else ""
    raise RegistryError(
        f"invalid {kind} name {name!r}: it must match {NAME_RULE} ({_NAME_WORDS})",
        hint=f"for example {suggestion!r}" if suggestion and _NAME.fullmatch(suggestion) else None,
    )


def validate_version(version: object) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise RegistryError(f"invalid version {version!r}: versions are integers from 1")
    return version


def validate_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise RegistryError(f"invalid limit {limit!r}: expected a positive integer")
    return limit


def validate_json(field: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy of ``value`` (a dict, empty for None) after checking it is JSON: the same rule on
    every database, with the field named in the error."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RegistryError(f"invalid {field}: expected a dict, got {type(value).__name__}")
    try:
        return json.loads(json.dumps(dict(value), allow_nan=False, default=_plain))
    except (TypeError, ValueError) as exc:
        raise RegistryError(f"invalid {field}: {exc} (NaN and infinity are not JSON)") from exc


def _plain(value: Any) -> Any:
    """NumPy scalars and arrays (duck-typed, numpy is not imported) as Python values."""
    for method in ("tolist", "item"):
        if callable(getattr(value, method, None)):
            return getattr(value, method)()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def validate_number(field: str, value: object) -> float:
    try:
        number = float(value) if not isinstance(value, bool | str | bytes) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise RegistryError(f"invalid {field} {value!r}: expected a finite number")
    return number


def model_not_found(name: str, known: Sequence[str]) -> ModelNotFound:
    if not known:
        return ModelNotFound(f"model {name!r} not found", hint=TRAIN_HINT)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"known models: {', '.join(known)}"
    if close:
        hint = f"did you mean {close[0]!r}? {hint}"
    return ModelNotFound(f"model {name!r} not found", hint=hint)


def version_not_found(name: str, version: int | None, versions: Sequence[int]) -> VersionNotFound:
    if version is None or not versions:
        return VersionNotFound(f"model {name!r} has no versions")
    return VersionNotFound(
        f"model {name!r} has no version {version}",
        hint=f"versions: {', '.join(str(v) for v in versions)}",
    )


def validate_metric_key(key: object) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > 255:
        raise RegistryError(f"invalid metric name {key!r}: expected 1 to 255 characters")
    return key


def parse_ref(ref: object) -> tuple[str, int | None, str | None]:
    """``NAME``, ``NAME:VERSION`` or ``NAME@ALIAS`` → (name, version, alias)."""
    text = ref if isinstance(ref, str) else ""
    name, version, alias = text, None, None
    try:
        if "@" in text:
            name, alias = text.split("@", 1)
            validate_name("alias", alias)
        elif ":" in text:
            name, number = text.split(":", 1)
            version = validate_version(int(number) if number.isdigit() else number)
        validate_name("model", name)
    except RegistryError as exc:
        raise UsageError(
            f"invalid model reference {ref!r}: {exc.message}",
            hint="expected NAME, NAME:VERSION (digits:3) or NAME@ALIAS (digits@champion)",
        ) from exc
    return name, version, alias
