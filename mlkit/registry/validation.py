"""Checks at the store's entry and the not-found errors, with their hints."""

from __future__ import annotations

import difflib
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, SupportsFloat, SupportsIndex

from mlkit.errors import MlkitError, ModelNotFound, RegistryError, UsageError, VersionNotFound

# The largest number the registry's INTEGER columns hold on every database (PostgreSQL's int4):
# version numbers, run ids and steps beyond it are refused before any SQL runs.
MAX_INT = 2**31 - 1
TAG_KEY_MAX = 255
# Characters that would act on a terminal rather than show: C0/C1 controls, line and paragraph
# separators, surrogates, and the bidirectional overrides that reorder what is displayed.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_UNPRINTABLE = frozenset(("Cc", "Cs", "Zl", "Zp"))

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
    """``version`` if it is a version number the registry can hold; UsageError otherwise."""
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_INT:
        raise UsageError(
            f"invalid version {version!r}: versions are whole numbers from 1 to {MAX_INT}"
        )
    return version


def validate_run_id(run_id: object) -> int:
    """``run_id`` if it is a number a run id can be (``run N not found`` is the store's answer
    for numbers that could be one); UsageError for anything else."""
    if isinstance(run_id, bool) or not isinstance(run_id, int) or run_id > MAX_INT:
        raise UsageError(f"invalid run id {run_id!r}: run ids are whole numbers up to {MAX_INT}")
    return run_id


def validate_process(pid: object, hostname: object) -> None:
    """The process running a run: both a process id and a host name, or neither."""
    if pid is None and hostname is None:
        return
    if isinstance(pid, bool) or not isinstance(pid, int) or not 1 <= pid <= MAX_INT:
        raise RegistryError(f"invalid process id {pid!r}: expected a whole number from 1")
    if not isinstance(hostname, str) or not hostname or len(hostname) > 255:
        raise RegistryError(f"invalid host name {hostname!r}: expected 1 to 255 characters")


def unprintable(text: str) -> tuple[int, str] | None:
    """The position and character of the first character of ``text`` that a terminal would act
    on instead of showing (controls such as ESC, line separators, bidirectional overrides)."""
    for i, char in enumerate(text):
        if char in _BIDI or unicodedata.category(char) in _UNPRINTABLE:
            return i, char
    return None


def validate_tags(tags: Mapping[str, Any] | None, remove: Iterable[object] = ()) -> dict[str, Any]:
    """A JSON copy of ``tags`` after checking the keys (and the keys to ``remove``): 1 to 255
    characters, none a control character; and that no text value holds one either, since tags
    are printed to terminals. UsageError naming the tag otherwise."""
    tags_json = validate_json("tags", tags)
    for key in [*tags_json, *remove]:
        if not isinstance(key, str) or not key.strip() or len(key) > TAG_KEY_MAX:
            raise UsageError(
                f"invalid tag name {key!r}: expected 1 to {TAG_KEY_MAX} characters, not all spaces"
            )
        found = unprintable(key)
        if found is not None:
            raise UsageError(
                f"invalid tag name {key!r}: control character {found[1]!r} at position "
                f"{found[0] + 1}",
                hint="tag names and values are printed to terminals; use printable text",
            )
    for key, value in tags_json.items():
        found = unprintable(value) if isinstance(value, str) else None
        if found is not None:
            raise UsageError(
                f"invalid value of tag {key!r}: control character {found[1]!r} at position "
                f"{found[0] + 1}",
                hint="tag names and values are printed to terminals; use printable text",
            )
    return tags_json


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
    # Numbers only: text (str, bytes, bytearray) is not read as a number, nor is a bool.
    number = math.nan
    try:
        if isinstance(value, SupportsFloat | SupportsIndex) and not isinstance(value, bool):
            number = float(value)
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
    except MlkitError as exc:
        raise UsageError(
            f"invalid model reference {ref!r}: {exc.message}",
            hint="expected NAME, NAME:VERSION (digits:3) or NAME@ALIAS (digits@champion)",
        ) from exc
    return name, version, alias
