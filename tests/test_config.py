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


# -- the project found from a subfolder, mlkit.toml, `mlkit config` (issue 19, item 4) --------


def _no_env(monkeypatch) -> None:
    for name in ("MLKIT_HOME", "MLKIT_REGISTRY_URL", "MLKIT_WAREHOUSE", "MLKIT_ARTIFACTS",
                 "MLKIT_RUNS", "MLKIT_ENDPOINT_URL", "MLKIT_KEEP_AFTER_RUN"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def test_a_subfolder_uses_the_project_above_it_and_creates_no_registry(monkeypatch, tmp_path, cli):
    _no_env(monkeypatch)
    (tmp_path / "mlkit.toml").write_text("")
    deeper = tmp_path / "notebooks" / "week1"
    deeper.mkdir(parents=True)
    monkeypatch.chdir(deeper)
    settings = load_settings()
    assert settings.home == tmp_path.resolve()
    assert settings.sources["home"] == f"nearest folder up from {deeper} holding mlkit.toml"
    assert cli("models", "list").code == 0
    assert not (deeper / "registry.db").exists()
    assert (tmp_path / "registry.db").exists()


def test_mlkit_toml_sets_locations_relative_to_itself_and_the_environment_wins(
    monkeypatch, tmp_path
):
    _no_env(monkeypatch)
    (tmp_path / "mlkit.toml").write_text(
        '[mlkit]\nwarehouse = "data/w.duckdb"\nruns = "/scratch/runs"\nkeep_after_run = "events"\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLKIT_RUNS", str(tmp_path / "elsewhere"))
    settings = load_settings()
    assert settings.warehouse_path == tmp_path.resolve() / "data" / "w.duckdb"
    assert settings.sources["warehouse_path"] == str(tmp_path.resolve() / "mlkit.toml")
    assert settings.runs_dir == tmp_path / "elsewhere"
    assert settings.sources["runs_dir"] == "MLKIT_RUNS"
    assert settings.keep_after_run == "events"


def test_a_bad_mlkit_toml_is_one_line_exit_2(monkeypatch, tmp_path, cli):
    _no_env(monkeypatch)
    (tmp_path / "mlkit.toml").write_text('[mlkit]\nregistry = "x"\n')
    monkeypatch.chdir(tmp_path)
    result = cli("models", "list")
    assert result.code == 2
    assert result.err.strip().startswith(f"Error: {tmp_path.resolve() / 'mlkit.toml'}: unknown key")
    assert len(result.err.strip().splitlines()) == 1


def test_mlkit_config_shows_each_setting_and_its_source(mlkit_home, monkeypatch, cli):
    import json

    monkeypatch.setenv("MLKIT_WAREHOUSE", "/data/w.duckdb")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "proj-9")
    monkeypatch.delenv("MLKIT_VERTEX_PROJECT", raising=False)
    monkeypatch.delenv("MLKIT_BIGQUERY_PROJECT", raising=False)
    monkeypatch.setenv("MLKIT_CLOUDRUN_PROJECT", "run-proj")
    shown = json.loads(cli("config", "--json").out)
    assert shown["home"] == {"value": str(mlkit_home.resolve()), "source": "MLKIT_HOME"}
    assert shown["warehouse_path"] == {"value": "/data/w.duckdb", "source": "MLKIT_WAREHOUSE"}
    assert shown["runs_dir"]["source"] == "default"
    for target in ("bigquery_project", "vertex_project", "gcs_project"):
        assert shown[target] == {"value": "proj-9", "source": "GOOGLE_CLOUD_PROJECT"}
    assert shown["cloudrun_project"] == {"value": "run-proj", "source": "MLKIT_CLOUDRUN_PROJECT"}
    table = cli("config")
    assert table.code == 0 and "MLKIT_WAREHOUSE" in table.out and "setting" in table.out


def test_a_read_only_command_outside_any_project_creates_nothing(monkeypatch, tmp_path, cli):
    """Reading commands in a folder with no project above: one line, exit 5, no file left;
    the commands that write (data load) start the project there as before."""
    _no_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    for command in (["models", "list"], ["models", "versions", "x"], ["runs", "list"],
                    ["endpoints", "list"], ["models", "show", "x"]):  # fmt: skip
        result = cli(*command)
        assert result.code == 5, command
        assert f"no mlkit project in {tmp_path.resolve()} nor in a folder above it" in result.err
        assert result.err.count("Error:") == 1
    assert cli("config").code == 0
    assert cli("data", "tables").code == 0  # an empty listing of a warehouse that is not there
    assert list(tmp_path.iterdir()) == []
    assert cli("data", "load", "iris").code == 0
    assert (tmp_path / "warehouse.duckdb").exists()
    assert cli("models", "list").code == 0  # a project now: its registry is created as before
    assert (tmp_path / "registry.db").exists()
