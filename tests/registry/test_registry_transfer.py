"""`mlkit models export` / `mlkit models import`: a version and its records move between two
registries, its SHA-256 checked on the way in (issue 19, item 7). Real SQLite registries; the
artifact is a small directory (export and import check hashes, not TensorFlow)."""

from __future__ import annotations

import json
import tarfile

from mlkit.config import load_settings
from mlkit.registry import open_store


def _version(home):
    source = home / "model"
    (source / "variables").mkdir(parents=True)
    (source / "saved_model.pb").write_bytes(b"pb" * 100)
    (source / "variables" / "variables.index").write_bytes(b"ix")
    settings = load_settings()
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        run = store.create_run("digits", spec_text="[experiment]\n", params={"a": 1})
        store.record_run_report(run.id, reference_models={"best": "svc", "value": 0.99})
        store.finish_run(run.id, status="finished", metrics={"accuracy": 0.97, "loss": 0.09})
        return store.register_version(
            "digits", source, run_id=run.id, metrics={"accuracy": 0.97, "loss": 0.09},
            signature={"task": "classification"}, tags={"team": "vision"},
        )  # fmt: skip


def test_a_version_moves_with_its_records_and_its_hash(mlkit_home, cli, tmp_path, monkeypatch):
    made = _version(mlkit_home)
    archive = tmp_path / "digits-1.tar.gz"
    assert cli("models", "export", "digits:1", archive).code == 0
    again = cli("models", "export", "digits:1", archive)
    assert again.code == 2 and "exists already" in again.err

    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("MLKIT_HOME", str(other))
    result = cli("models", "import", archive, "--name", "digits-copy", "--json")
    assert result.code == 0, result.err
    version = json.loads(result.out)
    assert (version["model"], version["version"]) == ("digits-copy", 1)
    assert version["artifact_sha256"] == made.artifact_sha256
    assert version["metrics"] == {"accuracy": 0.97, "loss": 0.09}
    assert version["tags"] == {"team": "vision", "imported_from": "digits:1"}
    run = json.loads(cli("runs", "show", str(version["run_id"]), "--json").out)["run"]
    assert run["tags"]["source"] == "import" and run["reference_models"]["best"] == "svc"


def test_a_tampered_archive_is_refused_and_nothing_is_registered(
    mlkit_home, cli, tmp_path, monkeypatch
):
    _version(mlkit_home)
    archive = tmp_path / "digits-1.tar.gz"
    assert cli("models", "export", "digits:1", archive).code == 0
    unpacked = tmp_path / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    (unpacked / "saved_model" / "saved_model.pb").write_bytes(b"changed")
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(tampered, "w:gz") as tar:
        for path in unpacked.iterdir():
            tar.add(path, arcname=path.name)
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("MLKIT_HOME", str(other))
    result = cli("models", "import", tampered)
    assert result.code == 5
    assert "does not match its recorded SHA-256" in result.err and "not imported" in result.err
    assert json.loads(cli("models", "list", "--json").out) == []
