"""Every user mistake gets one clear line and a non-zero exit code, never a traceback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import home_env

REPO = Path(__file__).resolve().parents[1]


def one_error(result, code: int) -> str:
    assert result.code == code, (result.out, result.err)
    assert "Traceback" not in result.err
    first, *rest = result.err.strip().splitlines()
    assert first.startswith("Error: ")
    assert all(line.startswith("Hint: ") for line in rest)
    return first


def test_missing_experiment_file(mlkit_home, cli):
    line = one_error(cli("train", mlkit_home / "nope.toml"), 2)
    assert line == f"Error: experiment file {mlkit_home / 'nope.toml'} does not exist"


def test_malformed_experiment_file(mlkit_home, cli):
    bad = mlkit_home / "bad.toml"
    bad.write_text("[experiment\nname = 1\n")
    line = one_error(cli("train", bad), 2)
    assert line.startswith(f"Error: {bad}: invalid TOML: ")


def test_invalid_experiment_names_the_field(mlkit_home, cli):
    bad = mlkit_home / "bad.toml"
    bad.write_text(
        '[experiment]\nname = "digits"\n[data]\nsource = "digits"\n'
        'label = "label"\n[search]\niterations = "three"\n'
    )
    line = one_error(cli("train", bad), 2)
    assert line.startswith(f"Error: {bad}: search.iterations: must be a valid integer")


def test_missing_table(mlkit_home, cli):
    result = cli("train", REPO / "experiments" / "digits.toml")
    assert "table 'digits' not found in local warehouse" in one_error(result, 3)
    assert "Hint: load it with `mlkit data load digits`" in result.err


def test_unknown_bundled_dataset(mlkit_home, cli):
    line = one_error(cli("data", "load", "digitz"), 3)
    assert "digitz" in line and "digits" in line


def test_unknown_model(mlkit_home, cli):
    line = one_error(cli("models", "versions", "nope"), 5)
    assert line == "Error: model 'nope' not found"
    one_error(cli("deploy", "nope"), 5)


def test_unknown_version(mlkit_home, cli, tmp_path):
    from mlkit.config import load_settings
    from mlkit.registry import open_store

    settings = load_settings()
    artifact = tmp_path / "sm"
    artifact.mkdir()
    (artifact / "saved_model.pb").write_bytes(b"x")
    open_store(settings.registry_url, settings.artifacts_dir).register_version("digits", artifact)
    line = one_error(cli("deploy", "digits", "--version", "7"), 5)
    assert line == "Error: model 'digits' has no version 7"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_predict_with_no_endpoint_running(mlkit_home, cli):
    url = f"http://127.0.0.1:{free_port()}"
    sample = REPO / "experiments" / "digits-sample.json"
    line = one_error(cli("predict", "digits", "-i", sample, "--url", url), 7)
    assert line == f"Error: no endpoint is listening at {url}"


def test_predict_with_unreadable_instances(mlkit_home, cli):
    bad = mlkit_home / "bad.json"
    bad.write_text("{not json")
    line = one_error(cli("predict", "digits", "-i", bad), 2)
    assert line.startswith(f"Error: {bad} is not valid JSON")
    bad.write_text(json.dumps({"instances": []}))
    one_error(cli("predict", "digits", "-i", bad), 2)


def test_bad_argument_is_a_usage_error(mlkit_home, cli):
    result = cli("deploy", "digits", "--version", "zero")
    assert result.code == 2
    assert "Traceback" not in result.err


@pytest.mark.parametrize("args", [["models", "versions", "nope"], ["train", "missing.toml"]])
def test_the_installed_command_prints_one_line_without_traceback(mlkit_home, args):
    mlkit = Path(sys.executable).with_name("mlkit")
    done = subprocess.run(
        [str(mlkit), *args],
        capture_output=True,
        text=True,
        env=home_env(mlkit_home),
        cwd=mlkit_home,
        timeout=120,
    )
    assert done.returncode in (2, 5)
    assert done.stderr.startswith("Error: ")
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_registry_commands_do_not_import_tensorflow(mlkit_home):
    code = (
        "import sys; from mlkit.cli import main; main(['models', 'list']); "
        "print('tensorflow' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=home_env(mlkit_home),
        cwd=mlkit_home,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_registry_upgrade_creates_and_reports_the_revision(mlkit_home, cli):
    from mlkit.registry import HEAD_REVISION

    result = cli("registry", "upgrade")
    assert result.code == 0, result.err
    assert f"schema revision {HEAD_REVISION}" in result.out
    assert (mlkit_home / "registry.db").is_file()
    assert cli("registry", "upgrade").code == 0
