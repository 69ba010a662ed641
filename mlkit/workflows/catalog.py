"""``mlkit models tag / alias / describe / delete``: the few things about a registered model that
change, each checked and applied in one registry session."""

from __future__ import annotations

from collections.abc import Sequence

from mlkit.config import Settings
from mlkit.errors import UsageError
from mlkit.registry import ModelVersion, RegistryStore, open_store

__all__ = ["delete_version", "describe", "move_alias", "parse_tags", "tag_version"]


def _store(settings: Settings) -> RegistryStore:
    return open_store(settings.registry_url, settings.artifacts_dir)


def parse_tags(items: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` arguments → tags; UsageError naming the first one that is not."""
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"invalid tag {item!r}: expected KEY=VALUE", hint="e.g. team=vision")
        pairs[key] = value
    return pairs


def tag_version(
    settings: Settings, ref: str, tags: Sequence[str], remove: Sequence[str]
) -> ModelVersion:
    """Set the ``KEY=VALUE`` ``tags`` of the version ``ref`` names; remove the ``remove`` keys."""
    pairs = parse_tags(tags)
    if not pairs and not remove:
        raise UsageError("nothing to do: give KEY=VALUE tags or --remove KEY")
    with _store(settings) as store:
        mv = store.resolve(ref)
        return store.set_tags(mv.model, mv.version, pairs, tuple(remove))


def move_alias(
    settings: Settings, model: str, alias: str, version: int | None, *, delete: bool
) -> None:
    """Point ``alias`` at ``version``, or remove it (``delete``): exactly one of the two."""
    if delete == (version is not None):
        raise UsageError(
            "give either a VERSION to point the alias at or --delete",
            hint="e.g. mlkit models alias digits challenger 4",
        )
    with _store(settings) as store:
        if version is None:
            store.delete_alias(model, alias)
        else:
            store.set_alias(model, alias, version)


def describe(settings: Settings, ref: str, text: str) -> tuple[str, int | None]:
    """Describe the model (``NAME``) or one version (``NAME:VERSION``, ``NAME@ALIAS``); return
    the model and the version described (None: the model)."""
    from mlkit.registry.validation import parse_ref

    name, version, alias_name = parse_ref(ref)
    with _store(settings) as store:
        if alias_name is not None:
            version = store.resolve(ref).version
        store.describe(name, text, version)
    return name, version


def delete_version(settings: Settings, ref: str) -> ModelVersion:
    """Delete the version ``ref`` names (``NAME:VERSION``, ``NAME@ALIAS``; a bare name is refused:
    it would mean the latest) and its artifact."""
    from mlkit.registry.validation import parse_ref

    name, version, alias_name = parse_ref(ref)
    if version is None and alias_name is None:
        raise UsageError(
            f"name the version to delete: {name}:VERSION or {name}@ALIAS",
            hint=f"see the versions with `mlkit models versions {name}`",
        )
    with _store(settings) as store:
        mv = store.resolve(ref)
        store.delete_version(mv.model, mv.version)
    return mv
