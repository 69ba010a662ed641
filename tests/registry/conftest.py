"""Fixtures for the registry tests: a real database (a temporary SQLite file, or the one named by
MLKIT_TEST_REGISTRY_URL, which is emptied before each test) and tiny fake SavedModel directories.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from mlkit.registry import RegistryStore, open_store
from mlkit.registry.db import create_registry_engine
from mlkit.registry.schema import Base

ENV_URL = "MLKIT_TEST_REGISTRY_URL"


def _empty_database(url: str) -> None:
    engine = create_registry_engine(url)
    try:
        Base.metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        engine.dispose()


@pytest.fixture
def registry_url(tmp_path: Path) -> str:
    url = os.environ.get(ENV_URL)
    if url:
        _empty_database(url)
        return url
    return f"sqlite:///{tmp_path / 'registry' / 'registry.db'}"


@pytest.fixture
def is_sqlite(registry_url: str) -> bool:
    return registry_url.startswith("sqlite")


@pytest.fixture
def artifacts_dir(tmp_path: Path) -> Path:
    return tmp_path / "artifacts"


@pytest.fixture
def store(registry_url: str, artifacts_dir: Path) -> Iterator[RegistryStore]:
    with open_store(registry_url, artifacts_dir) as opened:
        yield opened


def make_saved_model(path: Path, content: str = "v1") -> Path:
    """A directory shaped like a SavedModel; the registry treats the files as opaque bytes."""
    (path / "variables").mkdir(parents=True)
    (path / "assets").mkdir()
    (path / "saved_model.pb").write_bytes(f"graph {content}".encode())
    (path / "variables" / "variables.index").write_bytes(b"index")
    (path / "variables" / "variables.data-00000-of-00001").write_bytes(content.encode() * 100)
    return path


@pytest.fixture
def saved_model(tmp_path: Path) -> Callable[[str], Path]:
    counter = iter(range(1_000_000))

    def make(content: str = "v1") -> Path:
        return make_saved_model(tmp_path / f"export-{next(counter)}", content)

    return make
