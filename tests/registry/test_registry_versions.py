"""Models and versions: numbering, artifacts and their hashes, names, not-found errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlkit.errors import (
    ArtifactError,
    ModelNotFound,
    RegistryError,
    UsageError,
    VersionNotFound,
)


def test_versions_are_numbered_per_model(store, saved_model):
    assert [store.register_version("digits", saved_model()).version for _ in range(3)] == [1, 2, 3]
    assert store.register_version("mnist", saved_model()).version == 1
    assert [mv.version for mv in store.list_versions("digits")] == [1, 2, 3]
    assert store.get_version("digits").version == 3
    assert store.get_version("digits", 2).version == 2


def test_register_records_everything(store, saved_model, artifacts_dir):
    run = store.create_run("digits", spec_text="s", params={})
    mv = store.register_version(
        "digits",
        saved_model(),
        run_id=run.id,
        metrics={"accuracy": 0.97},
        signature={"inputs": {"pixels": [None, 64]}},
        description="first",
    )
    assert mv.model == "digits"
    assert mv.run_id == run.id
    assert mv.metrics == {"accuracy": 0.97}
    assert mv.signature == {"inputs": {"pixels": [None, 64]}}
    assert mv.description == "first"
    assert mv.tags == {}
    assert mv.aliases == ()
    assert mv.created_at.utcoffset().total_seconds() == 0
    assert mv.artifact_uri == (artifacts_dir / "digits" / "1").resolve().as_uri()
    assert len(mv.artifact_sha256) == 64
    assert store.get_version("digits", 1) == mv


def test_artifact_is_a_verified_copy(store, saved_model):
    source = saved_model("weights")
    mv = store.register_version("digits", source)
    path = store.artifact_path(mv)
    assert path != source
    files = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
    assert files == [
        "saved_model.pb",
        "variables/variables.data-00000-of-00001",
        "variables/variables.index",
    ]
    assert (path / "assets").is_dir()
    assert mv.size_bytes == sum(p.stat().st_size for p in source.rglob("*") if p.is_file())
    # Changing the source afterwards does not touch the version.
    (source / "saved_model.pb").write_bytes(b"changed")
    assert store.artifact_path(mv) == path


def test_same_content_same_hash(store, saved_model):
    a = store.register_version("digits", saved_model("same"))
    b = store.register_version("digits", saved_model("same"))
    c = store.register_version("digits", saved_model("other"))
    assert a.artifact_sha256 == b.artifact_sha256 != c.artifact_sha256


def test_verify_detects_a_modified_file(store, saved_model):
    mv = store.register_version("digits", saved_model())
    path = store.artifact_path(mv)
    (path / "variables" / "variables.index").write_bytes(b"tampered")
    with pytest.raises(ArtifactError, match="model 'digits' version 1: artifact .* was modified"):
        store.artifact_path(mv)
    assert store.artifact_path(mv, verify=False) == path


def test_verify_detects_an_added_file(store, saved_model):
    mv = store.register_version("digits", saved_model())
    (store.artifact_path(mv) / "extra.txt").write_text("x")
    with pytest.raises(ArtifactError, match="was modified"):
        store.artifact_path(mv)


def test_verify_detects_a_missing_artifact(store, saved_model, artifacts_dir):
    import shutil

    mv = store.register_version("digits", saved_model())
    shutil.rmtree(artifacts_dir / "digits" / "1")
    with pytest.raises(ArtifactError, match="is missing") as info:
        store.artifact_path(mv)
    assert info.value.hint


@pytest.mark.parametrize("name", ["Digits", "1digits", "", "a" * 64, "dig its", "../x", "d.x"])
def test_invalid_model_names(store, saved_model, name):
    with pytest.raises(RegistryError) as info:
        store.register_version(name, saved_model())
    message = info.value.message
    assert f"invalid model name {name!r}" in message
    assert "^[a-z][a-z0-9_-]{0,62}$" in message
    assert "\n" not in message
    assert store.list_models() == []


def test_valid_edge_names(store, saved_model):
    for name in ("a", "a" * 63, "digits_v2-small"):
        assert store.register_version(name, saved_model()).version == 1


def test_source_must_be_a_directory(store, tmp_path):
    with pytest.raises(RegistryError, match="not a directory"):
        store.register_version("digits", tmp_path / "nope")


def test_unknown_run_leaves_nothing(store, saved_model, artifacts_dir):
    with pytest.raises(RegistryError, match="run 42 not found"):
        store.register_version("digits", saved_model(), run_id=42)
    assert store.list_models() == []
    assert not (artifacts_dir / "digits").exists() or not any((artifacts_dir / "digits").iterdir())


def test_a_failed_insert_removes_the_copied_artifact(store, saved_model, artifacts_dir):
    store.register_version("digits", saved_model())
    with pytest.raises(RegistryError, match="invalid metrics"):
        store.register_version("digits", saved_model(), metrics={"bad": object()})
    # A database failure after the copy (here: a NOT NULL column) removes the copy.
    with pytest.raises(RegistryError, match="cannot register a version of model 'digits'") as info:
        store.register_version("digits", saved_model(), description=None)
    assert "\n" not in info.value.message and "INSERT" not in info.value.message
    assert not (artifacts_dir / "digits" / "2").exists()
    assert not any((artifacts_dir / ".staging").iterdir())
    assert [mv.version for mv in store.list_versions("digits")] == [1]
    assert [e.kind for e in store.list_events("digits")].count("version_registered") == 1
    # The number was not used up: numbering stays gapless.
    assert store.register_version("digits", saved_model()).version == 2


def test_model_not_found_on_an_empty_registry(store):
    with pytest.raises(ModelNotFound) as info:
        store.list_versions("digits")
    assert info.value.message == "model 'digits' not found"
    assert "mlkit train experiments/digits.toml" in (info.value.hint or "")


def test_model_not_found_lists_known_models(store, saved_model):
    store.register_version("digits", saved_model())
    store.register_version("mnist", saved_model())
    with pytest.raises(ModelNotFound) as info:
        store.get_version("digit")
    assert info.value.message == "model 'digit' not found"
    assert "did you mean 'digits'?" in info.value.hint
    assert "known models: digits, mnist" in info.value.hint
    for call in (
        lambda: store.get_alias("x", "champion"),
        lambda: store.list_verdicts("x"),
        lambda: store.deploy("x", 1),
        lambda: store.set_alias("x", "champion", 1),
    ):
        with pytest.raises(ModelNotFound):
            call()


def test_version_not_found(store, saved_model):
    for _ in range(3):
        store.register_version("digits", saved_model())
    with pytest.raises(VersionNotFound) as info:
        store.get_version("digits", 7)
    assert info.value.message == "model 'digits' has no version 7"
    assert info.value.hint == "versions: 1, 2, 3"
    # A number no version can have is an input error (exit 2), before any SQL runs.
    for bad in (0, -1, 2**31, 10**20, True):
        with pytest.raises(UsageError, match=f"invalid version {bad!r}: versions are whole"):
            store.get_version("digits", bad)


def test_list_models(store, saved_model):
    assert store.list_models() == []
    for _ in range(2):
        store.register_version("mnist", saved_model())
    store.register_version("digits", saved_model())
    store.deploy("mnist", 1)
    models = store.list_models()
    assert [m.name for m in models] == ["digits", "mnist"]
    mnist = models[1]
    assert (mnist.version_count, mnist.latest_version, mnist.aliases) == (2, 2, {"champion": 1})
    assert mnist.updated_at >= mnist.created_at
    assert models[0].aliases == {}


def test_artifacts_root_is_created(store, saved_model, artifacts_dir: Path):
    assert not artifacts_dir.exists()
    store.register_version("digits", saved_model())
    assert (artifacts_dir / "digits" / "1" / "saved_model.pb").is_file()
    assert not any((artifacts_dir / ".staging").iterdir())


def test_sizes_over_2_gib_fit(store, saved_model, registry_url):
    from sqlalchemy import text

    from mlkit.registry.db import create_registry_engine

    store.register_version("digits", saved_model())
    engine = create_registry_engine(registry_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE model_versions SET size_bytes = :n"), {"n": 5 * 2**30})
    engine.dispose()
    assert store.get_version("digits", 1).size_bytes == 5 * 2**30


def test_tags_with_control_characters_are_refused(store, saved_model):
    mv = store.register_version("digits", saved_model(), tags={"team": "vision"})
    for tags, what in (
        ({"te\x1b[31mam": "x"}, "invalid tag name 'te\\x1b[31mam': control character '\\x1b' at"),
        ({"team": "a\nb"}, "invalid value of tag 'team': control character '\\n' at position 2"),
        ({"team": "\u202eevil"}, "invalid value of tag 'team': control character '\\u202e'"),
        ({"": "x"}, "invalid tag name '': expected 1 to 255 characters"),
        ({"k" * 256: "x"}, "invalid tag name 'kkk"),
    ):
        with pytest.raises(UsageError) as info:
            store.set_tags("digits", mv.version, tags)
        assert info.value.message.startswith(what), info.value.message
        with pytest.raises(UsageError):
            store.register_version("digits", saved_model(), tags=tags)
    with pytest.raises(UsageError, match=r"invalid tag name 'a\\x00'"):
        store.set_tags("digits", mv.version, {}, remove=("a\x00",))
    with pytest.raises(UsageError, match="invalid tag name"):
        store.create_run("digits", spec_text="", params={}, tags={"\x07": "bell"})
    # Printable text of any script, brackets and emoji stay welcome.
    fine = {"équipe": "vision [beta] 🚀", "note": "tab\u00a0free"}
    assert store.set_tags("digits", mv.version, fine).tags == {"team": "vision", **fine}
    assert store.count_versions("digits") == 1  # the refused registrations left nothing
