"""The deployment defects of issue 12, each through the real CLI on a real SQLite registry:
rollback during a canary, rollback after deleting an older version, `champion`/`previous` set by
hand, `champion` left on a small share, undeploy's message, and traffic moved to a version whose
artifact was modified or deleted. Artifacts are plain directories (nothing here loads a model)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlkit.config import load_settings
from mlkit.registry import open_store


@pytest.fixture
def store(mlkit_home: Path):
    """digits versions 1..4 (different bytes each); 1 then 2 deployed as `mlkit deploy` does."""
    settings = load_settings()
    source = mlkit_home / "export"
    source.mkdir()
    with open_store(settings.registry_url, settings.artifacts_dir) as s:
        for i in range(1, 5):
            (source / "saved_model.pb").write_bytes(f"model {i}".encode())
            s.register_version("digits", source)
        s.deploy("digits", 1)
        s.deploy("digits", 2)
        yield s


def split_of(store, endpoint: str = "local") -> dict[int, int]:
    return {d.version: d.traffic_percent for d in store.traffic("digits", endpoint)}


def aliases(store) -> tuple[int | None, int | None]:
    return store.get_alias("digits", "champion"), store.get_alias("digits", "previous")


def artifact_dir(store, version: int) -> Path:
    return store.artifact_path(store.get_version("digits", version), verify=False)


def one_line_error(result, code: int, message: str) -> None:
    assert result.code == code, (result.code, result.out, result.err)
    assert result.err.startswith("Error: ") and message in result.err, result.err
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) <= 2


@pytest.mark.parametrize("command", [("rollback",), ("endpoints", "rollback")])
def test_rollback_during_a_canary_goes_back_to_previous(cli, store, command) -> None:
    # A canary bigger than the champion's share: version 3 takes 60 % and becomes champion.
    assert cli("endpoints", "traffic", "digits", "2=40,3=60").code == 0
    assert aliases(store) == (3, 2)
    result = cli(*command, "digits", "--reason", "v3 misbehaves")
    assert result.code == 0, result.err
    assert split_of(store) == {2: 100}
    assert aliases(store) == (2, 1)
    restored = store.active_deployment("digits")
    assert (restored.action, restored.reason) == ("rollback", "v3 misbehaves")
    # A small canary keeps the champion; a rollback then restores the champion before it.
    store.set_traffic("digits", {2: 90, 4: 10})
    assert aliases(store) == (2, 1)
    assert cli(*command, "digits").code == 0
    assert split_of(store) == {1: 100} and aliases(store) == (1, None)


@pytest.mark.parametrize("command", [("rollback",), ("endpoints", "rollback")])
def test_rollback_of_a_canary_beside_a_first_deployment_retires_the_canary(
    cli, mlkit_home, command
) -> None:
    with open_store(load_settings().registry_url, load_settings().artifacts_dir) as s:
        source = mlkit_home / "export1"
        source.mkdir()
        for i in (1, 2):
            (source / "saved_model.pb").write_bytes(f"model {i}".encode())
            s.register_version("wine", source)
        s.deploy("wine", 1)  # the first deployment: it replaced nothing
        s.set_traffic("wine", {1: 90, 2: 10})
        result = cli(*command, "wine", "--reason", "the canary misbehaves")
        assert result.code == 0, result.err
        assert {d.version: d.traffic_percent for d in s.traffic("wine")} == {1: 100}
        assert (s.get_alias("wine", "champion"), s.get_alias("wine", "previous")) == (1, None)
        restored = s.active_deployment("wine")
        assert (restored.action, restored.reason) == ("rollback", "the canary misbehaves")
        again = cli(*command, "wine")  # one version serves, and it replaced nothing
        one_line_error(again, 5, "there is nothing to roll back to")


def test_rollback_after_the_version_to_restore_was_deleted_is_one_line(cli, store) -> None:
    assert cli("models", "delete", "digits:1").code == 0
    result = cli("rollback", "digits")
    one_line_error(result, 5, "version 1 of model 'digits', which version 2 replaced on endpoint")
    assert "was deleted; there is nothing to roll back to" in result.err
    assert "FOREIGN KEY" not in result.err
    assert split_of(store) == {2: 100} and aliases(store) == (2, None)


@pytest.mark.parametrize("alias", ["champion", "previous"])
def test_champion_and_previous_cannot_be_moved_by_hand(cli, store, alias) -> None:
    before = aliases(store)
    result = cli("models", "alias", "digits", alias, "4")
    one_line_error(result, 2, f"cannot set alias '{alias}' of model 'digits' by hand")
    assert "moves only with the deployments" in result.err
    deleted = cli("models", "alias", "digits", alias, "--delete")
    one_line_error(deleted, 2, f"cannot delete alias '{alias}' of model 'digits' by hand")
    assert aliases(store) == before
    assert cli("models", "alias", "digits", "challenger", "4").code == 0, "other aliases move"


def test_champion_follows_the_largest_share_after_every_traffic_change(cli, store) -> None:
    assert cli("endpoints", "traffic", "digits", "2=10,3=90").code == 0
    assert aliases(store) == (3, 2)
    listed = json.loads(cli("models", "versions", "digits", "--json").out)
    assert [v["aliases"] for v in listed if v["version"] == 3] == [["champion"]]
    # A tie keeps the champion where it is.
    assert cli("endpoints", "traffic", "digits", "2=50,3=50").code == 0
    assert aliases(store) == (3, 2)
    # Undeploying the champion moves it to what still serves.
    assert cli("endpoints", "undeploy", "digits", "--version", "3").code == 0
    assert split_of(store) == {2: 100} and aliases(store) == (2, 3)
    # Undeploying everything: nothing serves, so there is no champion.
    assert cli("endpoints", "undeploy", "digits").code == 0
    assert aliases(store)[0] is None


def test_undeploy_says_what_it_did(cli, store) -> None:
    store.set_traffic("digits", {2: 70, 3: 30})
    one = cli("endpoints", "undeploy", "digits", "--version", "3")
    assert one.code == 0, one.err
    assert "Undeployed digits version 3 from local." in one.out and "not deployed" not in one.out
    assert "100%" in one.out  # what stays: version 2 with all the traffic
    every = cli("endpoints", "undeploy", "digits")
    assert every.code == 0 and "Undeployed digits from local." in every.out
    assert "not deployed" not in every.out
    again = cli("endpoints", "undeploy", "digits")
    one_line_error(again, 5, "'digits' is not deployed on endpoint 'local'")


@pytest.mark.parametrize("damage", ["modified", "deleted"])
@pytest.mark.parametrize(
    "command",
    [("rollback", "digits"), ("endpoints", "rollback", "digits"),
     ("endpoints", "traffic", "digits", "1=100"), ("endpoints", "traffic", "digits", "2=80,1=20")],
)  # fmt: skip
def test_traffic_never_moves_to_a_damaged_artifact(cli, store, damage, command) -> None:
    path = artifact_dir(store, 1)
    if damage == "modified":
        (path / "saved_model.pb").write_bytes(b"tampered")
    else:
        shutil.rmtree(path)
    events = len(store.list_events("digits"))
    result = cli(*command)
    one_line_error(result, 5, "model 'digits' version 1: artifact")
    assert ("was modified" if damage == "modified" else "is missing") in result.err
    assert "no traffic was moved to it" in result.err
    assert split_of(store) == {2: 100} and aliases(store) == (2, 1)
    assert len(store.list_events("digits")) == events, "nothing was written"
