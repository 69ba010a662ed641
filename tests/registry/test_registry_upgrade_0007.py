"""Migration 0007 on a registry at 0006 (what main writes today) holding Vertex AI deployments: the
four ``vertex_*`` columns move into the generic ``resources`` field and are dropped, with the
traffic split, who and why intact; the upgraded schema is exactly the models'; downgrading brings
the columns back."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from mlkit.registry import HEAD_REVISION, open_store
from mlkit.registry.db import MIGRATIONS_DIR, create_registry_engine, stored_revision

PARENT = "projects/p/locations/us-central1"
V2 = {
    "model": f"{PARENT}/models/7",
    "model_version": "2",
    "endpoint": f"{PARENT}/endpoints/8",
    "deployed_model_id": "902",
}
V3 = {**V2, "model_version": "3", "deployed_model_id": "903"}
V1_OLD = {**V2, "model_version": "1", "deployed_model_id": "901"}
VERTEX_COLUMNS = ("vertex_model", "vertex_model_version", "vertex_endpoint",
                  "vertex_deployed_model_id")  # fmt: skip


def _alembic(engine, action: str, target: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        getattr(command, action)(config, target)


def make_0006_registry(url: str) -> None:
    """Schema 0006 by Alembic; digits 1..3; local serves v2; Vertex served v1 and now splits
    v2 90 % / v3 10 % (a forced canary: who and why on the row), each with its resource names."""
    engine = create_registry_engine(url)
    _alembic(engine, "upgrade", "0006")
    now = "2026-11-20 10:00:00"
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO models VALUES (1, 'digits', '', '{now}', '{now}', 3)"))
        for v in (1, 2, 3):
            conn.execute(
                text(
                    "INSERT INTO model_versions (model_id, version, artifact_uri, "
                    "artifact_sha256, size_bytes, description, created_at) VALUES "
                    f"(1, {v}, 'file:///a/{v}', '{v:064d}', 10, '', '{now}')"
                )
            )
        conn.execute(text(f"INSERT INTO aliases VALUES (1, 1, 'champion', 2, '{now}')"))
        conn.execute(text(f"INSERT INTO aliases VALUES (2, 1, 'previous', 1, '{now}')"))
        rows = [  # id, version, endpoint, active, percent, action, actor, reason, names
            (1, 1, "vertex", False, None, "promote", "ada", None, V1_OLD),
            (2, 2, "vertex", True, 90, "promote", "ada", None, V2),
            (3, 3, "vertex", True, 10, "forced", "bob", "canary of the hotfix", V3),
            (4, 2, "local", True, None, "promote", "ada", None, None),
        ]
        for id_, v, endpoint, active, percent, action, actor, reason, names in rows:
            names = names or {}
            conn.execute(
                text(
                    "INSERT INTO deployments (id, model_id, version, endpoint, active, "
                    "deployed_at, action, actor, reason, traffic_percent, vertex_model, "
                    "vertex_model_version, vertex_endpoint, vertex_deployed_model_id) VALUES "
                    "(:id, 1, :v, :endpoint, :active, :at, :action, :actor, :reason, :percent, "
                    ":m, :mv, :e, :d)"
                ),
                {
                    "id": id_,
                    "v": v,
                    "endpoint": endpoint,
                    "active": active,
                    "at": now,
                    "action": action,
                    "actor": actor,
                    "reason": reason,
                    "percent": percent,
                    "m": names.get("model"),
                    "mv": names.get("model_version"),
                    "e": names.get("endpoint"),
                    "d": names.get("deployed_model_id"),
                },  # fmt: skip
            )
    assert stored_revision(engine) == "0006"
    engine.dispose()


def test_0006_registry_with_vertex_deployments_upgrades_to_resources(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    make_0006_registry(url)
    with open_store(url, tmp_path / "artifacts", on_upgrade=lambda *a: None) as store:
        vertex = store.traffic("digits", "vertex")
        assert [(d.version, d.traffic_percent, d.resources) for d in vertex] == [
            (2, 90, V2),
            (3, 10, V3),
        ]
        canary = vertex[1]
        assert (canary.action, canary.actor, canary.reason) == (
            "forced",
            "bob",
            "canary of the hotfix",
        )
        history = store.list_deployments(endpoint="vertex", active_only=False)
        assert [d.resources for d in history if not d.active] == [V1_OLD]
        (local,) = store.traffic("digits", "local")
        assert (local.version, local.traffic_percent, local.resources) == (2, 100, {})
        # The upgraded registry takes the new writes: a version keeps its resources.
        store.set_traffic("digits", {2: 50, 3: 50}, endpoint="vertex")
        assert [d.resources for d in store.traffic("digits", "vertex")] == [V2, V3]
    engine = create_registry_engine(url)
    assert stored_revision(engine) == HEAD_REVISION
    columns = {c["name"] for c in inspect(engine).get_columns("deployments")}
    assert "resources" in columns and not columns & set(VERTEX_COLUMNS)
    indexes = {i["name"]: i for i in inspect(engine).get_indexes("deployments")}
    assert indexes["uq_deployments_active"]["unique"]
    engine.dispose()


def test_upgraded_schema_matches_the_models_and_downgrades(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from mlkit.registry.schema import Base

    url = f"sqlite:///{tmp_path / 'registry.db'}"
    make_0006_registry(url)
    engine = create_registry_engine(url)
    _alembic(engine, "upgrade", "head")
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    _alembic(engine, "downgrade", "0006")
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT id, {', '.join(VERTEX_COLUMNS)} FROM deployments ORDER BY id")
        ).all()
    assert [tuple(r) for r in rows] == [
        (1, *V1_OLD.values()),
        (2, *V2.values()),
        (3, *V3.values()),
        (4, None, None, None, None),
    ]
    _alembic(engine, "upgrade", "head")
    engine.dispose()
