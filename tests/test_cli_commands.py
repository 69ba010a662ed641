"""The command line as a new user meets it: --version, global options on either side of the
command, one usage error for a missing NAME, shell completion (issue 19, item 3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlkit import __version__
from mlkit.cli.argv import normalize

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["models", "list", "--verbose"], ["--verbose", "models", "list"]),
        (["--json", "models", "list"], ["models", "list", "--json"]),
        (["runs", "list", "-v", "--registry", "sqlite:///x.db"],
         ["-v", "--registry", "sqlite:///x.db", "runs", "list"]),
        (["predict", "m", "--", "--verbose"], ["predict", "m", "--", "--verbose"]),
        (["--json", "predict", "m", "--", "-x"], ["predict", "m", "--json", "--", "-x"]),
        (["train", "f.toml", "--json"], ["train", "f.toml", "--json"]),
    ],
)  # fmt: skip
def test_global_options_move_before_the_command_and_json_after_it(argv, expected):
    assert normalize(argv) == expected


def test_version_prints_and_exits_zero(cli):
    result = cli("--version")
    assert (result.code, result.out.strip()) == (0, f"mlkit {__version__}")


def test_verbose_and_json_are_accepted_after_and_before_the_command(mlkit_home, cli):
    after = cli("models", "list", "--verbose")
    assert after.code == 0, after.err
    before = cli("--json", "models", "list")
    assert before.code == 0 and json.loads(before.out) == []
    both = cli("runs", "list", "--json", "--verbose")
    assert both.code == 0 and json.loads(both.out) == []


def test_models_versions_without_a_name_is_one_usage_error(mlkit_home):
    """Through the installed entry point (the fast path runs first): one message, exit 2."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "MLKIT_HOME": str(mlkit_home)}
    done = subprocess.run(
        [sys.executable, "-c", "from mlkit.cli import run; run()", "models", "versions"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("rror") == 1, done.stderr
    assert "Missing argument 'name'" in done.stderr


def test_shell_completion_installs_and_completes(mlkit_home, tmp_path):
    # Without a shell above it (pytest), typer takes the shell named after the option.
    env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(tmp_path), "SHELL": "/bin/bash",
           "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}  # fmt: skip
    install = subprocess.run(
        [sys.executable, "-m", "mlkit", "--install-completion", "bash"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    assert (tmp_path / ".bash_completions" / "mlkit.sh").is_file()
    complete = subprocess.run(
        [sys.executable, "-m", "mlkit"],
        capture_output=True, text=True, timeout=60,
        env={**env, "_MLKIT_COMPLETE": "complete_bash", "COMP_WORDS": "mlkit models ver",
             "COMP_CWORD": "2"},
    )  # fmt: skip
    assert complete.stdout.split() == ["versions"]


def test_register_refuses_a_folder_that_is_no_saved_model_in_one_line(mlkit_home, cli, tmp_path):
    result = cli("models", "register", "outside", tmp_path, "-e", REPO / "experiments/iris.toml")
    assert result.code == 2
    assert (
        result.err.strip()
        == f"Error: PATH: {tmp_path} is not a SavedModel directory (no saved_model.pb)"
    )
    assert not (mlkit_home / "artifacts").exists()
