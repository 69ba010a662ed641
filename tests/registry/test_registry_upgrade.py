"""A registry created by the foundation's mlkit (schema 0001), with data in it, upgrades to the
current schema with its data intact: by `mlkit registry upgrade`, or on opening (SQLite)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import insert, text

from mlkit.errors import RegistryError
from mlkit.registry import HEAD_REVISION, open_store
from mlkit.registry.artifacts import LocalArtifactStore
from mlkit.registry.db import MIGRATIONS_DIR, create_registry_engine, stored_revision
from mlkit.registry.schema import (
    AliasRow,
    DeploymentRow,
    EventRow,
    ExperimentRow,
    ModelRow,
    ModelVersionRow,
    RunRow,
)


def make_0001_registry(url: str, artifacts: Path, saved_model) -> None:
    """Schema 0001 by Alembic, then rows as the foundation wrote them: one run, versions 1 and 2
    of digits (version 3 was deleted: numbers stop at 2), an alias and a deployment."""
    from alembic import command
    from alembic.config import Config

    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    engine = create_registry_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    store = LocalArtifactStore(artifacts)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(insert(ExperimentRow.__table__).values(id=1, name="digits", created_at=now))
        conn.execute(
            insert(RunRow.__table__).values(
                id=1,
                experiment_id=1,
                experiment_path="experiments/digits.toml",
                spec_text="[experiment]",
                params={"search": {"iterations": 3}},
                status="finished",
                metrics={"accuracy": 0.97},
                data_fingerprint={"table": "digits"},
                code_version="mlkit 0.1.0",
                started_at=now,
                finished_at=now,
            )
        )
        conn.execute(
            insert(ModelRow.__table__).values(
                id=1, name="digits", description="old", created_at=now, updated_at=now
            )
        )
        for number in (1, 2):
            stored = store.put_dir(saved_model(f"v{number}"), "digits", number)
            conn.execute(
                insert(ModelVersionRow.__table__).values(
                    model_id=1,
                    version=number,
                    run_id=1,
                    artifact_uri=stored.uri,
                    artifact_sha256=stored.sha256,
                    size_bytes=stored.size_bytes,
                    metrics={"accuracy": 0.9 + number / 100},
                    signature={},
                    description="",
                    tags={},
                    created_at=now,
                )
            )
        conn.execute(
            insert(AliasRow.__table__).values(
                model_id=1, alias="champion", version=2, updated_at=now
            )
        )
        conn.execute(
            insert(DeploymentRow.__table__).values(
                model_id=1, version=2, endpoint="local", active=True, deployed_at=now
            )
        )
        conn.execute(
            insert(EventRow.__table__).values(at=now, kind="deployed", model="digits", version=2)
        )
    assert stored_revision(engine) == "0001"
    engine.dispose()


def assert_data_intact(store) -> None:
    [model] = store.list_models()
    assert (model.name, model.description, model.version_count, model.aliases) == (
        "digits",
        "old",
        2,
        {"champion": 2},
    )
    versions = store.list_versions("digits")
    assert [(v.version, v.metrics) for v in versions] == [
        (1, {"accuracy": 0.91}),
        (2, {"accuracy": 0.92}),
    ]
    for v in versions:
        store.artifact_path(v)  # hashes still match
    run = store.get_run(1)
    assert (run.params, run.data_fingerprint, run.environment) == (
        {"search": {"iterations": 3}},
        {"table": "digits"},
        {},
    )
    assert store.active_deployment("digits").version == 2
    assert [e.kind for e in store.list_events("digits")] == ["deployed"]
    assert store.lineage("digits", 2).run.experiment_path == "experiments/digits.toml"


def test_registry_upgrade_command(
    registry_url, artifacts_dir, saved_model, mlkit_home, monkeypatch, cli
):
    make_0001_registry(registry_url, artifacts_dir, saved_model)
    monkeypatch.setenv("MLKIT_REGISTRY_URL", registry_url)
    out = cli("registry", "upgrade")
    assert out.code == 0, out.err
    assert f"is at schema revision {HEAD_REVISION}." in out.out
    with open_store(registry_url, artifacts_dir, on_upgrade=None) as store:
        assert_data_intact(store)
        # Numbering continues from the versions present; the new tables work.
        assert store.register_version("digits", saved_model("new")).version == 3
        store.log_metrics(1, {"accuracy": 0.97}, step=3000)
        assert [p.value for p in store.metric_history(1)] == [0.97]


def test_opening_an_old_sqlite_registry_upgrades_it_with_a_message(
    registry_url, artifacts_dir, saved_model, is_sqlite, capsys
):
    make_0001_registry(registry_url, artifacts_dir, saved_model)
    if not is_sqlite:
        # A team's database is upgraded on purpose, not by whoever opens it first.
        with pytest.raises(RegistryError, match="has schema revision 0001") as info:
            open_store(registry_url, artifacts_dir)
        assert "mlkit registry upgrade" in (info.value.hint or "")
        return
    with open_store(registry_url, artifacts_dir) as store:
        assert_data_intact(store)
    err = capsys.readouterr().err
    assert f"from schema 0001 to {HEAD_REVISION}." in err
    assert err.startswith("Upgrading the registry at sqlite:///")
    engine = create_registry_engine(registry_url)
    assert stored_revision(engine) == HEAD_REVISION
    engine.dispose()


def test_the_cli_listing_upgrades_an_old_sqlite_registry(
    registry_url, artifacts_dir, saved_model, is_sqlite, mlkit_home, monkeypatch, cli
):
    if not is_sqlite:
        pytest.skip("automatic upgrades are for SQLite registries")
    make_0001_registry(registry_url, artifacts_dir, saved_model)
    monkeypatch.setenv("MLKIT_REGISTRY_URL", registry_url)
    out = cli("models", "versions", "digits", "--json")
    assert out.code == 0, out.err
    assert [v["version"] for v in json.loads(out.out)] == [1, 2]
    assert "from schema 0001 to" in out.err


def test_downgrade_to_0001_and_back(registry_url, artifacts_dir, saved_model):
    from alembic import command
    from alembic.config import Config

    make_0001_registry(registry_url, artifacts_dir, saved_model)
    engine = create_registry_engine(registry_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    for target in ("head", "0001", "head"):
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            (command.upgrade if target == "head" else command.downgrade)(config, target)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT last_version FROM models")).scalar() == 2
    engine.dispose()
