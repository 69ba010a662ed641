"""The lean SQLite reader behind `mlkit models list` / `models versions` and the store return the
same entities, field by field, on one registry with several models, versions, aliases, tags,
metrics, verdicts and deployments."""

from __future__ import annotations

import dataclasses

import pytest

from mlkit.registry import open_store
from mlkit.registry.listing import SqliteReader, open_reader


def _build(store, saved_model) -> None:
    run = store.create_run("digits", spec_text="", params={"search": {"iterations": 2}})
    for i in range(4):
        store.register_version(
            "digits",
            saved_model(f"d{i}"),
            run_id=run.id,
            metrics={"accuracy": 0.9 + i / 100, "average_loss": 0.5 - i / 10},
            signature={"inputs": {"pixels": [64]}, "n_classes": 10},
            description=f"version {i + 1}",
            tags={"team": "vision", "round": str(i)},
        )
    store.finish_run(run.id, status="finished", metrics={"accuracy": 0.93})
    store.register_version("wine", saved_model("w"), metrics={"accuracy": 0.8})
    store.register_version("wine", saved_model("w2"))
    store.register_version("iris", saved_model("i"))  # a model with one version, then none
    store.delete_version("iris", 1)
    store.describe("digits", "handwritten digits")
    store.set_tags("digits", 2, {"stage": "canary"}, remove=("round",))
    first = store.record_verdict(
        "digits", 1, None, metric="accuracy", candidate_value=0.9, baseline_value=None,
        passed=True, reason="first version", details={"checks": []},
        data_fingerprint={"table": "digits", "rows": 360},
    )  # fmt: skip
    store.deploy("digits", 1, verdict_id=first.id)
    failed = store.record_verdict(
        "digits", 3, 1, metric="accuracy", candidate_value=0.92, baseline_value=0.9,
        passed=False, reason="not significant", details={"p_value": 0.2},
        forced=True, forced_by="ada", force_reason="hotfix",
        data_fingerprint={"table": "digits", "rows": 360},
    )  # fmt: skip
    store.deploy("digits", 3, verdict_id=failed.id, action="forced", actor="ada", reason="hotfix")
    store.record_verdict(
        "digits", 4, 3, metric="accuracy", candidate_value=0.93, baseline_value=0.92,
        passed=True, reason="better",
    )  # fmt: skip
    store.set_alias("digits", "challenger", 4)
    store.deploy("wine", 2)


def _fields(value) -> dict:
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


def _assert_same(lean, full) -> None:
    assert type(lean) is type(full)
    for name, value in _fields(full).items():
        assert getattr(lean, name) == value, f"{type(full).__name__}.{name}"
        assert type(getattr(lean, name)) is type(value), f"{type(full).__name__}.{name} type"


def _assert_all_same(lean: list, full: list) -> None:
    assert len(lean) == len(full)
    for a, b in zip(lean, full, strict=True):
        _assert_same(a, b)


def test_store_listings_agree_with_its_row_by_row_reads(store, saved_model):
    """On every database: the listing queries against the store's ORM reads."""
    _build(store, saved_model)
    models = store.list_models()
    assert [m.name for m in models] == ["digits", "iris", "wine"]
    for m in models:
        versions = store.list_versions(m.name)
        _assert_all_same(versions, [store.get_version(m.name, v.version) for v in versions])
        assert m.version_count == len(versions) == store.count_versions(m.name)
        assert m.latest_version == (versions[-1].version if versions else None)
        for alias, number in m.aliases.items():
            assert store.get_alias(m.name, alias) == number
        for verdict in store.list_verdicts(m.name):
            latest = store.latest_verdict(m.name, verdict.candidate_version)
            if latest is not None and latest.id == verdict.id:
                _assert_same(verdict, latest)
    digits = next(m for m in models if m.name == "digits")
    assert digits.aliases == {"challenger": 4, "champion": 3, "previous": 1}


def test_the_lean_reader_returns_what_the_store_returns(store, saved_model, registry_url, tmp_path):
    if not registry_url.startswith("sqlite"):
        pytest.skip("the lean reader reads SQLite files only; other databases use the store")
    _build(store, saved_model)
    reader = open_reader(registry_url, tmp_path / "artifacts")
    assert isinstance(reader, SqliteReader)
    try:
        _assert_all_same(reader.list_models(), store.list_models())
        for model in ("digits", "iris", "wine"):
            _assert_all_same(reader.list_versions(model), store.list_versions(model))
            _assert_all_same(reader.list_versions(model, newest=2), store.list_versions(model, 2))
            assert reader.count_versions(model) == store.count_versions(model)
            _assert_all_same(reader.list_verdicts(model), store.list_verdicts(model))
        forced = [v for v in reader.list_verdicts("digits") if v.forced]
        assert [(v.forced_by, v.force_reason) for v in forced] == [("ada", "hotfix")]
        assert forced[0].data_fingerprint == {"table": "digits", "rows": 360}
    finally:
        reader.close()
    with open_store(registry_url, tmp_path / "artifacts") as again:  # and after a reopen
        _assert_all_same(again.list_versions("digits"), store.list_versions("digits"))


def test_models_versions_json_is_the_same_on_both_paths(
    store, saved_model, registry_url, mlkit_home, monkeypatch, cli, tmp_path
):
    """`models versions --json` through the lean reader and through the store (a URL with
    options is not read by the lean reader) print the same document."""
    if not registry_url.startswith("sqlite:///"):
        pytest.skip("compares the lean SQLite reader with the store on the same file")
    _build(store, saved_model)
    monkeypatch.setenv("MLKIT_ARTIFACTS", str(tmp_path / "artifacts"))
    lean = cli("--registry", registry_url, "models", "versions", "digits", "--json")
    full = cli("--registry", f"{registry_url}?timeout=30", "models", "versions", "digits", "--json")
    assert (lean.code, full.code) == (0, 0), (lean.err, full.err)
    assert lean.out == full.out
    assert '"forced_by": "ada"' in lean.out
    lean = cli("--registry", registry_url, "models", "list", "--json")
    full = cli("--registry", f"{registry_url}?timeout=30", "models", "list", "--json")
    assert lean.out == full.out and '"challenger": 4' in lean.out
