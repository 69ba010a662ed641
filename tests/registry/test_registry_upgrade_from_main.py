"""A registry written by the CLI of main before the endpoint interface (commit f374ba4, schema
0006), upgraded by ``mlkit registry upgrade``.

``data/registry-main-f374ba4.db`` was made with that commit's real CLI: ``mlkit data load digits``,
two ``mlkit train`` runs, ``mlkit deploy digits`` (local), ``mlkit deploy digits --version 1
--target vertex`` and ``mlkit deploy digits --target vertex --traffic 10 --force --reason "legacy
canary"`` against the fake Vertex AI (tests/fakes/vertex_endpoints.py). Its artifacts are not
kept: the upgrade touches the database only.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

FIXTURE = Path(__file__).with_name("data") / "registry-main-f374ba4.db"
PARENT = "projects/proj-1/locations/us-central1"


@pytest.fixture
def registry(tmp_path: Path, mlkit_home: Path) -> str:
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE, path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0006",)
    return f"sqlite:///{path}"


def test_upgrade_keeps_every_deployment_with_its_resources_and_who_forced_it(cli, registry) -> None:
    import json

    result = cli("--registry", registry, "registry", "upgrade")
    assert result.code == 0, result.err
    assert "0009" in result.out

    listed = cli("--registry", registry, "endpoints", "list", "--json")
    assert listed.code == 0, listed.err
    rows = {(d["endpoint"], d["version"]): d for d in json.loads(listed.out)}
    assert set(rows) == {("local", 1), ("vertex", 1), ("vertex", 2)}
    assert rows[("local", 1)]["traffic_percent"] == 100
    assert rows[("local", 1)]["resources"] == {}
    assert rows[("vertex", 1)]["traffic_percent"] == 90
    assert rows[("vertex", 2)]["traffic_percent"] == 10
    for version, deployed_model_id, model_version in ((1, "1004", "1"), (2, "1007", "2")):
        assert rows[("vertex", version)]["resources"] == {
            "model": f"{PARENT}/models/1002",
            "model_version": model_version,
            "endpoint": f"{PARENT}/endpoints/1000",
            "deployed_model_id": deployed_model_id,
        }
    canary = rows[("vertex", 2)]
    assert (canary["action"], canary["actor"], canary["reason"]) == (
        "forced", "root", "legacy canary",
    )  # fmt: skip
    assert rows[("vertex", 1)]["actor"] is None  # not forced: nothing to recover

    shown = cli("--registry", registry, "models", "versions", "digits", "--json")
    assert shown.code == 0, shown.err
    assert {v["version"] for v in json.loads(shown.out)} == {1, 2}


def test_an_old_registry_is_upgraded_once_and_then_opens_as_is(cli, registry) -> None:
    assert cli("--registry", registry, "registry", "upgrade").code == 0
    again = cli("--registry", registry, "registry", "upgrade")
    assert again.code == 0, again.err
    assert "0009" in again.out


def test_old_rows_show_one_loss_in_tables_json_filters_and_runs(cli, registry) -> None:
    """Rows stored both the Estimator's per-batch ``loss`` (0.0735) and ``average_loss``
    (0.0719): every reader shows one ``loss``, the mean per-example loss (mlkit.quantities)."""
    import json

    assert cli("--registry", registry, "registry", "upgrade").code == 0
    shown = json.loads(cli("--registry", registry, "models", "versions", "digits", "--json").out)
    assert [v["metrics"]["loss"] for v in shown] == pytest.approx([0.0719, 0.0719], abs=1e-4)
    assert all("average_loss" not in v["metrics"] for v in shown)
    kept = cli(
        "--registry", registry, "models", "versions", "digits", "--where", "metrics.loss < 0.072"
    )
    assert kept.code == 0 and "2 of 2 versions match" in kept.out, kept.out
    assert "metrics.loss" in kept.out and "0.0719" in kept.out
    runs = json.loads(cli("--registry", registry, "runs", "list", "--json").out)
    assert runs and all(r["metrics"]["loss"] == pytest.approx(0.0719, abs=1e-4) for r in runs)
