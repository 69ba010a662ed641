"""The data tests' warehouses: the local DuckDB file, and BigQuery through the real client against
ONE bqemulator on loopback for the whole test session (started on first use, stopped at the end).

``warehouse`` is parametrized over both backends, so a test that takes it runs on each; every
BigQuery test gets a dataset of its own.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from mlkit.data import BigQueryWarehouse, LocalWarehouse, Warehouse
from tests.bq_emulator import BigQueryEmulator

_datasets = itertools.count()


@pytest.fixture
def bq_warehouse(bq_emulator: BigQueryEmulator) -> BigQueryWarehouse:
    return BigQueryWarehouse(bq_emulator.config(dataset=f"ds{next(_datasets)}"))


@pytest.fixture
def local_warehouse(tmp_path: Path) -> LocalWarehouse:
    return LocalWarehouse(tmp_path / "warehouse.duckdb")


@pytest.fixture(params=["local", "bigquery"])
def warehouse(request: pytest.FixtureRequest) -> Warehouse:
    if request.param == "local":
        return request.getfixturevalue("local_warehouse")
    return request.getfixturevalue("bq_warehouse")


@pytest.fixture
def bq_env(bq_emulator: BigQueryEmulator, monkeypatch: pytest.MonkeyPatch) -> BigQueryEmulator:
    """The environment variables that point mlkit (its CLI) at the emulator."""
    for key, value in bq_emulator.env().items():
        monkeypatch.setenv(key, value)
    return bq_emulator
