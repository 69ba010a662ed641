"""Shared fixtures: an isolated mlkit home and the real CLI, run in-process."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlkit.cli import main

_ENV = (
    "MLKIT_HOME",
    "MLKIT_REGISTRY_URL",
    "MLKIT_WAREHOUSE",
    "MLKIT_ARTIFACTS",
    "MLKIT_RUNS",
    "MLKIT_ENDPOINT_URL",
)


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def mlkit_home(tmp_path, monkeypatch) -> Path:
    """A fresh project folder: warehouse, registry, artifacts and runs all live in it."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLKIT_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


@pytest.fixture
def cli(capsys):
    """Run ``mlkit ARGS...`` through the real entry point; return exit code, stdout, stderr."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def home_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _ENV}
    env["MLKIT_HOME"] = str(home)
    return env


@contextlib.contextmanager
def registry_endpoint() -> Iterator[str]:
    """The registry-driven local endpoint on a free port, as `mlkit serve` runs it; yields its URL.

    poll_s=0: commands run in-process within milliseconds of each other, faster than the
    endpoint's default 50 ms between looks at the registry's event log."""
    from mlkit.config import load_settings
    from mlkit.serving.server import make_server
    from mlkit.workflows.serve import RegistryResolver

    resolver = RegistryResolver(load_settings(), poll_s=0)
    server = make_server(resolver.resolve, resolver.deployed, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def bq_emulator():
    """ONE bqemulator on loopback for the whole test session (started on first use)."""
    from tests.bq_emulator import BigQueryEmulator

    emulator = BigQueryEmulator()
    try:
        emulator.start()
    except RuntimeError as error:
        pytest.fail(f"the BigQuery emulator did not start: {error}", pytrace=False)
    yield emulator
    emulator.stop()


def table_headers(out: str) -> list[list[str]]:
    """The header cells of every rich table printed in ``out``, in order."""
    return [
        [cell.strip() for cell in line.strip().strip("┃").split("┃")]
        for line in out.splitlines()
        if line.lstrip().startswith("┃")
    ]
