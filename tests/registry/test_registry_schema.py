"""Schema creation, the revision check, upgrade, and the migrated schema against the ORM models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

import mlkit.registry
from mlkit.errors import RegistryError
from mlkit.registry import HEAD_REVISION, open_store, upgrade
from mlkit.registry.db import KNOWN_REVISIONS, MIGRATIONS_DIR, create_registry_engine
from mlkit.registry.schema import Base

TABLES = {
    "experiments",
    "runs",
    "models",
    "model_versions",
    "aliases",
    "verdicts",
    "deployments",
    "events",
    "pipeline_runs",
    "pipeline_steps",
    "alembic_version",
}


def _set_revision(url: str, revision: str) -> None:
    engine = create_registry_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


def test_open_creates_the_schema_at_head(store, registry_url):
    engine = create_registry_engine(registry_url)
    try:
        assert set(inspect(engine).get_table_names()) >= TABLES
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
                HEAD_REVISION
            )
    finally:
        engine.dispose()


def test_reopen_keeps_the_data(store, registry_url, artifacts_dir):
    run = store.create_run("digits", spec_text="s", params={})
    store.close()
    with open_store(registry_url, artifacts_dir) as again:
        assert again.get_run(run.id).experiment == "digits"


def test_sqlite_file_gets_its_directory_wal_and_foreign_keys(tmp_path):
    url = f"sqlite:///{tmp_path / 'deep' / 'er' / 'registry.db'}"
    with open_store(url, tmp_path / "artifacts") as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 30_000
    assert (tmp_path / "deep" / "er" / "registry.db").is_file()


def test_head_revision_constant_matches_the_migrations():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(config)
    assert script.get_current_head() == HEAD_REVISION
    assert [rev.revision for rev in script.walk_revisions()][::-1] == list(KNOWN_REVISIONS)


def test_migrated_schema_matches_the_models(store, registry_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_registry_engine(registry_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_an_older_revision_is_refused_with_the_upgrade_hint(
    store, registry_url, artifacts_dir, monkeypatch
):
    store.close()
    _set_revision(registry_url, "0000")
    # Pretend 0000 is a revision this code knows (an older one).
    monkeypatch.setattr(mlkit.registry.db, "KNOWN_REVISIONS", ("0000", *KNOWN_REVISIONS))
    with pytest.raises(RegistryError) as info:
        open_store(registry_url, artifacts_dir, on_upgrade=None)
    assert "schema revision 0000" in info.value.message
    assert "mlkit registry upgrade" in (info.value.hint or "")
    assert "\n" not in info.value.message


def test_an_unknown_revision_is_refused(store, registry_url, artifacts_dir):
    store.close()
    _set_revision(registry_url, "9999")
    with pytest.raises(RegistryError, match="unknown schema revision '9999'") as info:
        open_store(registry_url, artifacts_dir)
    assert "newer mlkit" in (info.value.hint or "")
    with pytest.raises(RegistryError, match="unknown schema revision"):
        upgrade(registry_url)


def test_upgrade_creates_then_is_a_no_op(registry_url, artifacts_dir):
    assert upgrade(registry_url) == HEAD_REVISION
    assert upgrade(registry_url) == HEAD_REVISION
    with open_store(registry_url, artifacts_dir) as store:
        assert store.list_models() == []


def test_reopening_does_not_import_alembic(store, registry_url, artifacts_dir):
    store.close()
    code = (
        "import sys; from pathlib import Path; from mlkit.registry import open_store; "
        f"s = open_store({registry_url!r}, Path({str(artifacts_dir)!r})); s.list_models(); "
        "print('alembic' in sys.modules, 'tensorflow' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path.cwd()
    )
    assert out.stdout.split() == ["False", "False"]


def test_a_bad_url_is_one_line(tmp_path):
    with pytest.raises(RegistryError, match="invalid registry URL"):
        open_store("not a url", tmp_path)


def test_public_api():
    assert sorted(mlkit.registry.__all__) == [
        "ArtifactStore",
        "Deployment",
        "Event",
        "HEAD_REVISION",
        "Lineage",
        "MetricPoint",
        "ModelSummary",
        "ModelVersion",
        "PipelineRun",
        "PipelineStep",
        "RegistryStore",
        "Run",
        "SqlRegistryStore",
        "Verdict",
        "open_store",
        "upgrade",
    ]
