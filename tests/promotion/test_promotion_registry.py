"""The registry side of promotion: forced verdicts need who and why, deployments remember what
they replaced, and rollback undoes one deployment at a time, each in one transaction."""

from __future__ import annotations

import pytest

from mlkit.errors import RegistryError
from tests.registry.conftest import (  # noqa: F401 - fixtures: SQLite, or the PostgreSQL
    artifacts_dir,  # database named by MLKIT_TEST_REGISTRY_URL
    make_saved_model,
    registry_url,
)
from tests.registry.conftest import store as empty_store  # noqa: F401


@pytest.fixture
def store(empty_store, tmp_path):  # noqa: F811
    for i in range(4):
        empty_store.register_version("m", make_saved_model(tmp_path / f"v{i}", f"v{i}"))
    return empty_store


def _verdict(store, version, **kwargs):
    return store.record_verdict(
        "m", version, None, metric="accuracy", candidate_value=0.5, baseline_value=None,
        passed=False, reason="lost", **kwargs,
    )  # fmt: skip


def test_a_forced_verdict_needs_who_and_why(store):
    with pytest.raises(RegistryError, match="needs who forced it and why"):
        _verdict(store, 1, forced=True, forced_by="ada")
    with pytest.raises(RegistryError, match="needs who forced it and why"):
        _verdict(store, 1, forced=True, force_reason="   ", forced_by="ada")
    verdict = _verdict(
        store, 1, forced=True, forced_by="ada", force_reason="why", data_fingerprint={"rows": 3}
    )
    assert (verdict.forced_by, verdict.force_reason) == ("ada", "why")
    assert store.latest_verdict("m", 1).data_fingerprint == {"rows": 3}
    event = store.list_events("m", limit=1)[0]
    assert event.payload["forced_by"] == "ada" and event.payload["force_reason"] == "why"
    # Who and why are kept only for a forced verdict.
    plain = _verdict(store, 2, forced_by="ada", force_reason="ignored")
    assert (plain.forced_by, plain.force_reason) == (None, None)


def test_a_forced_deployment_needs_who_and_why_and_a_known_action(store):
    with pytest.raises(RegistryError, match="a forced deployment needs who forced it and why"):
        store.deploy("m", 1, action="forced", actor="ada")
    with pytest.raises(RegistryError, match="invalid deployment action 'rollback'"):
        store.deploy("m", 1, action="rollback")
    assert store.active_deployment("m") is None
    d = store.deploy("m", 1, action="forced", actor="ada", reason="outage")
    assert (d.action, d.actor, d.reason, d.previous_version, d.rollback_to_id) == (
        "forced",
        "ada",
        "outage",
        None,
        None,
    )


def test_rollback_walks_back_through_the_deployments(store):
    d1 = store.deploy("m", 1)
    d2 = store.deploy("m", 2)
    d3 = store.deploy("m", 3, actor="ada")
    assert (d2.previous_version, d2.rollback_to_id) == (1, d1.id)
    assert (d3.previous_version, d3.rollback_to_id) == (2, d2.id)

    r1 = store.rollback("m", actor="bob", reason="v3 is slow")
    assert (r1.version, r1.action, r1.actor, r1.reason) == (2, "rollback", "bob", "v3 is slow")
    assert (r1.previous_version, r1.rollback_to_id) == (1, d1.id)
    assert store.active_deployment("m") == r1
    assert (store.get_alias("m", "champion"), store.get_alias("m", "previous")) == (2, 1)
    assert [d.active for d in store.list_deployments(active_only=False)] == [
        True,
        False,
        False,
        False,
    ]

    r2 = store.rollback("m")
    assert r2.version == 1 and r2.rollback_to_id is None
    assert store.get_alias("m", "champion") == 1 and store.get_alias("m", "previous") is None
    with pytest.raises(RegistryError, match="nothing to roll back to"):
        store.rollback("m")
    assert store.active_deployment("m") == r2

    # A new promotion after rollbacks can itself be rolled back to what it replaced.
    d4 = store.deploy("m", 4)
    assert (d4.previous_version, d4.rollback_to_id) == (1, r2.id)
    assert store.rollback("m").version == 1


def test_rollback_is_per_endpoint_and_needs_a_deployment(store):
    with pytest.raises(RegistryError, match="has nothing deployed on endpoint 'local'"):
        store.rollback("m")
    store.deploy("m", 1, endpoint="vertex")
    store.deploy("m", 2, endpoint="vertex")
    store.deploy("m", 3)
    with pytest.raises(RegistryError, match="nothing to roll back to"):
        store.rollback("m")
    assert store.rollback("m", endpoint="vertex").version == 1
    assert store.active_deployment("m").version == 3
    events = [e.kind for e in store.list_events("m", limit=1)]
    assert events == ["rolled_back"]
