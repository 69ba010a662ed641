"""The registry's traffic split (migration 0006): several active versions of a model on an
endpoint, shares summing to 100, undeploy, and ``deploy`` replacing a canary."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from mlkit.errors import RegistryError, UsageError
from mlkit.registry import open_store
from mlkit.registry.db import create_registry_engine, run_upgrade
from tests.registry.conftest import ENV_URL, _empty_database


@pytest.fixture
def store(tmp_path: Path):
    """SQLite, or the database MLKIT_TEST_REGISTRY_URL names (emptied first), e.g. PostgreSQL."""
    source = tmp_path / "model"
    source.mkdir()
    (source / "saved_model.pb").write_bytes(b"not really a model")
    url = os.environ.get(ENV_URL)
    if url:
        _empty_database(url)
    url = url or f"sqlite:///{tmp_path / 'registry.db'}"
    with open_store(url, tmp_path / "artifacts") as s:
        for _ in range(3):
            s.register_version("digits", source)
        yield s


def shares(deployments) -> dict[int, int]:
    return {d.version: d.traffic_percent for d in deployments}


def test_a_canary_keeps_two_active_versions(store) -> None:
    store.deploy("digits", 1)
    split = store.set_traffic("digits", {1: 90, 2: 10})
    assert shares(split) == {1: 90, 2: 10}
    assert [d.version for d in split] == [1, 2], "most traffic first"
    assert store.active_deployment("digits").version == 1, "the primary is the biggest share"
    assert shares(store.traffic("digits")) == {1: 90, 2: 10}
    first = store.list_deployments(active_only=False)[-1]
    assert first.version == 1 and split[0].id == first.id, "a version keeps its row"
    assert store.get_alias("digits", "champion") == 1, "a canary does not move the champion"
    event = store.list_events("digits", limit=1)[0]
    assert event.kind == "traffic_split" and event.payload["split"] == {"1": 90, "2": 10}


def test_all_traffic_to_one_version_moves_champion_and_retires_the_rest(store) -> None:
    store.set_traffic("digits", {1: 90, 2: 10})
    (only,) = store.set_traffic("digits", {2: 100})
    assert only.version == 2 and only.traffic_percent == 100
    assert store.get_alias("digits", "champion") == 2
    retired = [d for d in store.list_deployments(active_only=False) if not d.active]
    assert [d.version for d in retired] == [1]


def test_deploy_replaces_a_whole_canary(store) -> None:
    store.set_traffic("digits", {1: 50, 2: 50})
    store.deploy("digits", 3)
    assert shares(store.traffic("digits")) == {3: 100}


@pytest.mark.parametrize(
    ("split", "message"),
    [
        ({1: 60, 2: 30}, "traffic shares must sum to 100, got 90"),
        ({1: 101}, "invalid traffic share 101 for version 1"),
        ({1: 50.5, 2: 49.5}, "expected a whole percent"),
        ({}, "needs at least one version"),
    ],
)
def test_bad_splits_are_refused(store, split, message) -> None:
    with pytest.raises(RegistryError, match=message):
        store.set_traffic("digits", split)
    assert store.traffic("digits") == []


def test_a_split_naming_an_impossible_version_is_an_input_error(store) -> None:
    for version in (0, 2**31):
        with pytest.raises(UsageError, match=f"invalid version {version}"):
            store.set_traffic("digits", {version: 100})
    assert store.traffic("digits") == []


def test_unknown_versions_and_models(store) -> None:
    with pytest.raises(RegistryError, match="version 9"):
        store.set_traffic("digits", {9: 100})
    with pytest.raises(RegistryError, match="mnist"):
        store.set_traffic("mnist", {1: 100})
    assert store.traffic("mnist") == []


def test_undeploy_gives_the_traffic_to_the_others(store) -> None:
    store.set_traffic("digits", {1: 60, 2: 30, 3: 10})
    assert shares(store.undeploy("digits", version=1)) == {2: 75, 3: 25}
    assert store.undeploy("digits") == []
    with pytest.raises(RegistryError, match="not deployed on endpoint 'local'"):
        store.undeploy("digits")


def test_endpoints_are_separate_and_resources_are_kept(store) -> None:
    store.deploy("digits", 1)
    names = {
        "model": "projects/p/locations/l/models/7",
        "model_version": "1",
        "endpoint": "projects/p/locations/l/endpoints/8",
        "deployed_model_id": "9",
    }
    (d,) = store.set_traffic("digits", {2: 100}, endpoint="vertex", resources={2: names})
    assert d.resources == names
    assert shares(store.traffic("digits", "local")) == {1: 100}
    (kept,) = store.set_traffic("digits", {2: 100}, endpoint="vertex")
    assert kept.resources == names, "a version that keeps serving keeps its resources"
    with pytest.raises(RegistryError, match="invalid resources for version 2"):
        store.set_traffic("digits", {2: 100}, endpoint="vertex", resources={2: {"zone": 3}})


def test_the_database_refuses_two_active_rows_of_one_version(store) -> None:
    store.deploy("digits", 1)
    with store.engine.begin() as conn, pytest.raises(IntegrityError, match="(?i)unique"):
        conn.execute(
            text(
                "INSERT INTO deployments (model_id, version, endpoint, active, deployed_at) "
                "SELECT model_id, version, endpoint, active, deployed_at FROM deployments"
            )
        )


def test_upgrade_from_0001_keeps_deployments(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from mlkit.registry.db import MIGRATIONS_DIR

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_registry_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(
            text("INSERT INTO models VALUES (1, 'digits', '', '2024-01-01', '2024-01-01')")
        )
        conn.execute(
            text(
                "INSERT INTO deployments (model_id, version, endpoint, active, deployed_at) "
                "VALUES (1, 1, 'local', 1, '2024-01-01')"
            )
        )
    run_upgrade(engine)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT version, traffic_percent FROM deployments")).one()
    assert tuple(row) == (1, None)  # NULL: the whole traffic
    engine.dispose()


def test_champion_is_the_largest_share_and_ties_keep_it(store) -> None:
    store.deploy("digits", 1)
    store.set_traffic("digits", {1: 40, 2: 60})
    assert (store.get_alias("digits", "champion"), store.get_alias("digits", "previous")) == (2, 1)
    assert store.active_deployment("digits").version == 2
    store.set_traffic("digits", {1: 50, 2: 50})
    assert store.get_alias("digits", "champion") == 2, "a tie keeps the champion"
    store.set_traffic("digits", {1: 50, 3: 50})
    assert store.get_alias("digits", "champion") == 3, "else the version deployed last"
    assert store.active_deployment("digits").version == 3


def test_every_move_records_who_and_why(store) -> None:
    store.deploy("digits", 1, actor="ada")
    split = store.set_traffic("digits", {1: 80, 2: 20}, actor="bob", reason="try v2")
    new = next(d for d in split if d.version == 2)
    assert (new.action, new.actor, new.reason) == ("traffic", "bob", "try v2")
    event = store.list_events("digits", limit=1)[0]
    assert (event.payload["actor"], event.payload["reason"]) == ("bob", "try v2")
    store.undeploy("digits", version=2, actor="cy", reason="v2 is slow")
    event = store.list_events("digits", limit=1)[0]
    assert (event.kind, event.payload["actor"], event.payload["retired"]) == (
        "undeployed",
        "cy",
        [2],
    )
    canary = store.set_traffic(
        "digits", {1: 90, 3: 10}, version=3, action="forced", actor="dee", reason="hotfix"
    )
    forced = next(d for d in canary if d.version == 3)
    assert (forced.action, forced.actor, forced.reason) == ("forced", "dee", "hotfix")
    with pytest.raises(RegistryError, match="a forced deployment needs who forced it and why"):
        store.set_traffic("digits", {1: 90, 3: 10}, version=3, action="forced", actor="dee")


def test_a_stale_verdict_or_split_is_refused_and_changes_nothing(store) -> None:
    from mlkit.errors import TrafficConflict

    store.deploy("digits", 1)
    verdict = store.record_verdict(
        "digits", 2, 1, metric="accuracy", candidate_value=0.9, baseline_value=0.8, passed=True,
        reason="better",
    )  # fmt: skip
    store.deploy("digits", 3)  # another deploy won the race
    events = len(store.list_events("digits"))
    with pytest.raises(TrafficConflict, match="compared version 2 of 'digits' with version 1, but"):
        store.deploy("digits", 2, verdict_id=verdict.id)
    with pytest.raises(TrafficConflict, match=r"changed while .* \(now v3=100, expected v1=100\)"):
        store.set_traffic("digits", {1: 90, 2: 10}, expect={1: 100})
    with pytest.raises(RegistryError, match="is about version 2 of 'digits', not version 1"):
        store.deploy("digits", 1, verdict_id=verdict.id)
    assert shares(store.traffic("digits")) == {3: 100}
    assert store.get_alias("digits", "champion") == 3
    assert len(store.list_events("digits")) == events


def test_undeploying_everywhere_removes_the_champion(store) -> None:
    store.deploy("digits", 1)
    store.deploy("digits", 2, endpoint="vertex")
    assert store.get_alias("digits", "champion") == 2
    store.undeploy("digits", endpoint="vertex")
    assert store.get_alias("digits", "champion") == 1, "it follows what still serves"
    store.undeploy("digits")
    assert store.get_alias("digits", "champion") is None
