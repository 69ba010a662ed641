from pathlib import Path

from mlkit.config import DEFAULT_ENDPOINT_PORT, load_settings


def test_everything_defaults_to_the_project_folder(mlkit_home):
    settings = load_settings()
    assert settings.home == mlkit_home.resolve()
    assert settings.registry_url == f"sqlite:///{mlkit_home.resolve() / 'registry.db'}"
    assert settings.warehouse_path == mlkit_home.resolve() / "warehouse.duckdb"
    assert settings.artifacts_dir == mlkit_home.resolve() / "artifacts"
    assert settings.endpoint_url == f"http://127.0.0.1:{DEFAULT_ENDPOINT_PORT}"


def test_current_directory_is_the_default_home(monkeypatch, tmp_path):
    monkeypatch.delenv("MLKIT_HOME", raising=False)
    monkeypatch.delenv("MLKIT_REGISTRY_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    assert load_settings().registry_url.endswith(f"{tmp_path.resolve()}/registry.db")


def test_environment_overrides_each_location(mlkit_home, monkeypatch, tmp_path):
    monkeypatch.setenv("MLKIT_REGISTRY_URL", "postgresql+psycopg://u@127.0.0.1/reg")
    monkeypatch.setenv("MLKIT_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("MLKIT_ENDPOINT_URL", "http://127.0.0.1:9000")
    settings = load_settings()
    assert settings.registry_url == "postgresql+psycopg://u@127.0.0.1/reg"
    assert settings.warehouse_path == Path(tmp_path / "w.duckdb")
    assert settings.endpoint_url == "http://127.0.0.1:9000"
