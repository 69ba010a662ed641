"""The models and runs commands end to end, on the registry under test (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mlkit.registry import open_store


@pytest.fixture
def home(mlkit_home, registry_url, artifacts_dir, monkeypatch, saved_model):
    """A registry with digits versions 1-3 from one run, version 2 deployed and tagged."""
    monkeypatch.setenv("MLKIT_REGISTRY_URL", registry_url)
    monkeypatch.setenv("MLKIT_ARTIFACTS", str(artifacts_dir))
    with open_store(registry_url, artifacts_dir, create=True) as store:
        run = store.create_run(
            "digits",
            spec_text="[experiment]",
            params={"search": {"iterations": 2}},
            experiment_path="experiments/digits.toml",
            environment={"python": "3.11.7"},
        )
        store.log_metrics(run.id, {"accuracy": 0.6}, step=50)
        store.log_metrics(run.id, {"accuracy": 0.95}, step=100)
        store.finish_run(
            run.id,
            status="finished",
            metrics={"accuracy": 0.95},
            data_fingerprint={"table": "digits", "content_sha256": "f00d" * 16},
        )
        for i, team in enumerate(["vision", "ml", "ops"]):
            store.register_version(
                "digits",
                saved_model(team),
                run_id=run.id,
                metrics={"accuracy": 0.97 + i / 100},
                tags={"team": team},
            )
        store.deploy("digits", 2)
    return mlkit_home


def test_models_list_and_versions_json(home, cli):
    out = cli("models", "list", "--json")
    assert out.code == 0, out.err
    [model] = json.loads(out.out)
    assert (model["name"], model["version_count"], model["aliases"]) == (
        "digits",
        3,
        {"champion": 2},
    )
    out = cli("models", "versions", "digits", "--json")
    assert [v["version"] for v in json.loads(out.out)] == [1, 2, 3]


def test_versions_where_sort_limit(home, cli):
    where = "metrics.accuracy > 0.975 and (tags.team = 'vision' or tags.team = 'ml')"
    out = cli("models", "versions", "digits", "--where", where, "--json")
    assert [v["version"] for v in json.loads(out.out)] == [2]
    ranked = ("models", "versions", "digits", "--sort", "metrics.accuracy:desc", "--limit", "2")
    assert [v["version"] for v in json.loads(cli(*ranked, "--json").out)] == [3, 2]
    out = cli(*ranked)
    assert out.code == 0
    assert out.out.index("team=ops") < out.out.index("team=ml")
    assert "team=vision" not in out.out
    assert "2 of 3 versions shown; --limit 0 shows all." in out.out
    out = cli("models", "versions", "digits", "--where", "tags.team =")
    assert out.code == 2
    assert out.err.startswith("Error: invalid --where 'tags.team =' at position 12")


def test_show_by_alias_with_lineage(home, cli):
    out = cli("models", "show", "digits@champion")
    assert out.code == 0, out.err
    assert "digits version 2" in out.out
    assert (
        "Lineage digits:2 → run 1 (finished) → experiment digits (experiments/digits.toml) → "
        "data digits sha256 f00df00df00d → deployed on local"
    ) in out.out
    data = json.loads(cli("models", "show", "digits:1", "--json").out)
    assert data["version"]["version"] == 1
    assert data["run"]["data_fingerprint"]["table"] == "digits"
    assert data["deployments"] == []


def test_show_errors(home, cli):
    out = cli("models", "show", "digits:9")
    assert (out.code, out.err.splitlines()[0]) == (5, "Error: model 'digits' has no version 9")
    out = cli("models", "show", "Digits@x")
    assert out.code == 2
    assert "must match ^[a-z][a-z0-9_-]{0,62}$" in out.err  # not eaten as rich markup
    out = cli("models", "show", "digts")
    assert "did you mean 'digits'?" in out.err


def test_tag_alias_describe_delete(home, cli):
    assert cli("models", "tag", "digits:3", "owner=ana", "--remove", "team").code == 0
    out = cli("models", "alias", "digits", "challenger", "3")
    assert (out.code, out.out.strip()) == (0, "digits@challenger → version 3.")
    assert cli("models", "describe", "digits", "Digit classifier").code == 0
    assert cli("models", "describe", "digits@challenger", "candidate").code == 0
    shown = json.loads(cli("models", "show", "digits@challenger", "--json").out)["version"]
    assert (shown["tags"], shown["description"]) == ({"owner": "ana"}, "candidate")
    assert json.loads(cli("models", "list", "--json").out)[0]["description"] == "Digit classifier"

    refused = cli("models", "delete", "digits@champion")
    assert refused.code == 5
    assert refused.err.splitlines()[0] == (
        "Error: cannot delete model 'digits' version 2: it is deployed on local"
    )
    out = cli("models", "delete", "digits:3")
    assert (out.code, out.out.strip()) == (0, "Deleted digits version 3.")
    versions = json.loads(cli("models", "versions", "digits", "--json").out)
    assert [v["version"] for v in versions] == [1, 2]
    out = cli("models", "delete", "digits")
    assert (out.code, out.err.splitlines()[0]) == (
        2,
        "Error: name the version to delete: digits:VERSION or digits@ALIAS",
    )
    assert cli("models", "tag", "digits:1", "oops").err.startswith("Error: invalid tag 'oops'")
    assert cli("models", "alias", "digits", "x").code == 2


def test_runs_list_and_show(home, cli):
    out = cli("runs", "list", "--where", "metrics.accuracy > 0.9", "--json")
    assert [r["id"] for r in json.loads(out.out)] == [1]
    assert json.loads(cli("runs", "list", "--where", "status = 'failed'", "--json").out) == []
    out = cli("runs", "show", "1")
    assert out.code == 0, out.err
    for text in (
        "experiments/digits.toml",
        "search.iterations",
        "Metrics by step",
        "0.6000",
        "content_sha256",
        "3.11.7",
        "Versions produced",
        "Deployments",
    ):
        assert text in out.out
    data = json.loads(cli("runs", "show", "1", "--json").out)
    assert data["metrics_by_step"] == {"accuracy": [[50, 0.6], [100, 0.95]]}
    assert [v["version"] for v in data["versions"]] == [1, 2, 3]
    assert [d["version"] for d in data["deployments"]] == [2]
    out = cli("runs", "show", "7")
    assert (out.code, out.err.strip()) == (5, "Error: run 7 not found")


def test_registry_option_overrides_the_environment(home, cli, monkeypatch, tmp_path):
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert cli("--registry", other, "registry", "upgrade").code == 0  # creates it
    out = cli("--registry", other, "models", "list", "--json")
    assert (out.code, json.loads(out.out)) == (0, [])
    assert len(json.loads(cli("models", "list", "--json").out)) == 1  # not sticky


def test_a_named_registry_that_does_not_exist_is_not_created(home, cli, tmp_path, monkeypatch):
    typo = tmp_path / "regsitry.db"
    url = f"sqlite:///{typo}"
    for args in (
        ("--registry", url, "models", "list"),
        ("--registry", url, "models", "versions", "digits"),
        ("--registry", url, "runs", "list"),
        ("--registry", url, "models", "tag", "digits:1", "a=b"),
    ):
        out = cli(*args)
        assert (out.code, out.err.splitlines()[0]) == (5, f"Error: no registry at {typo}"), args
        assert f"`mlkit --registry {url} registry upgrade`" in out.err
    monkeypatch.setenv("MLKIT_REGISTRY_URL", url)  # the same for the environment variable
    assert cli("models", "list").code == 5
    assert cli("models", "versions", "digits").code == 5  # the fast path too
    assert not typo.exists()
    typo.touch()  # a file that holds no registry (an empty database) is not made one either
    assert cli("--registry", url, "models", "list").err.startswith(f"Error: no registry at {typo}")
    with sqlite3.connect(typo) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []
    # The default location is created on first use, as ever.
    monkeypatch.delenv("MLKIT_REGISTRY_URL")
    monkeypatch.setenv("MLKIT_HOME", str(tmp_path / "fresh"))
    (tmp_path / "fresh").mkdir()
    assert (cli("models", "list", "--json").out.strip(), cli("runs", "list").code) == ("[]", 0)
    assert (tmp_path / "fresh" / "registry.db").is_file()


def test_listings_on_sqlite_import_neither_sqlalchemy_nor_tensorflow(home, is_sqlite):
    if not is_sqlite:
        pytest.skip("the lean reader is for SQLite registries")
    code = (
        "import sys; from mlkit.cli import main; main(['models', 'versions', 'digits']); "
        "main(['models', 'list']); "
        "print([m for m in ('sqlalchemy', 'alembic', 'tensorflow') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert "champion" in out.stdout
    # The installed script answers them before typer (and every other command) is even imported.
    script = str(Path(sys.executable).with_name("mlkit"))
    for args in (["models", "list"], ["models", "versions", "digits", "--where", "version > 1"]):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", script, *args], capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        loaded = {line.split("|")[-1].strip().split(".")[0] for line in out.stderr.splitlines()}
        assert loaded & {"typer", "sqlalchemy", "alembic", "tensorflow", "pydantic"} == set()
        assert "digits" in out.stdout


def test_listing_options_outside_the_fast_path_still_go_through_typer(home, cli):
    out = cli("models", "versions", "digits", "--limit", "-1")
    assert out.code == 2
    assert "--limit" in out.err
    out = cli("models", "versions", "digits", "--help")
    assert out.code == 0
    assert "--where" in out.out
    out = cli("models", "list", "--bogus")
    assert (out.code, "No such option: --bogus" in out.err) == (2, True)
    # Root options before the command (not the fast path) give the same answer as without.
    assert json.loads(cli("-v", "models", "versions", "digits", "--json").out) == json.loads(
        cli("models", "versions", "digits", "--json").out
    )


def test_out_of_range_numbers_and_deep_filters_are_one_line_exit_2(home, cli):
    huge = "99999999999999999999"
    deep = "(" * 300 + "version = 1" + ")" * 300
    for args, first in (
        (("models", "show", f"digits:{huge}"), f"invalid model reference 'digits:{huge}': "),
        (("models", "delete", f"digits:{huge}"), f"invalid model reference 'digits:{huge}': "),
        (("models", "alias", "digits", "x", huge), f"invalid version {huge}: versions are whole"),
        (("runs", "show", huge), f"invalid run id {huge}: run ids are whole numbers"),
        (("train", "--resume", huge), f"invalid run id {huge}: run ids are whole numbers"),
        (("models", "versions", "digits", "--where", deep), "invalid --where '(((((("),
        (("runs", "list", "--where", "not " * 1000 + "id = 1"), "invalid --where 'not not"),
    ):
        out = cli(*args)
        lines = out.err.splitlines()
        assert (out.code, lines[0][:7]) == (2, "Error: "), (args, out.err)
        assert lines[0][7:].startswith(first), lines[0]
        assert len(lines) <= 2 and "Traceback" not in out.err
    assert "nest more than 32 deep" in cli("models", "versions", "digits", "-w", deep).err
    # Limits beyond any count are simply "all".
    out = cli("models", "versions", "digits", "--limit", huge, "--json")
    assert [v["version"] for v in json.loads(out.out)] == [1, 2, 3]
    assert [r["id"] for r in json.loads(cli("runs", "list", "--limit", huge, "--json").out)] == [1]


def test_tags_are_validated_and_shown_as_written(home, cli):
    out = cli("models", "tag", "digits:1", "te\x1b[31mam=x")
    assert out.code == 2
    assert out.err.splitlines()[0] == (
        "Error: invalid tag name 'te\\x1b[31mam': control character '\\x1b' at position 3"
    )
    assert cli("models", "tag", "digits:1", "team=a\u202eb").code == 2
    assert "\x1b" not in cli("models", "versions", "digits").out
    # Brackets are text, not rich markup: stored and shown as written, no crash.
    out = cli("models", "tag", "digits:1", "note=[/bold]x[red]y")
    shown = "digits version 1 tags: note=[/bold]x[red]y, team=vision"
    assert (out.code, out.out.strip()) == (0, shown)
    for args in (("models", "versions", "digits"), ("models", "show", "digits:1")):
        out = cli(*args)
        assert out.code == 0 and "[/bold]x[red]y" in out.out, out.err


def test_lineage_and_endpoint_tables_are_headed_by_the_json_field_names(home, cli):
    from tests.conftest import table_headers

    shown = json.loads(cli("models", "show", "digits:2", "--json").out)
    out = cli("models", "show", "digits:2").out
    version, run, fingerprint, deployments = table_headers(out)
    assert version == run == fingerprint == ["field", "value"]
    for name in ("created_at", "artifact_uri", "artifact_sha256", "size_bytes"):
        assert f"│ {name} " in out and name in shown["version"]
    for name in ("experiment_path", "started_at", "finished_at"):
        assert f"│ {name} " in out and name in shown["run"]
    assert deployments == [
        "model", "version", "endpoint", "active", "deployed_at", "retired_at", "verdict_id"
    ]  # fmt: skip
    assert set(deployments) <= set(shown["deployments"][0])
    listed = json.loads(cli("endpoints", "list", "--json").out)
    [headers] = table_headers(cli("endpoints", "list").out)
    assert "traffic_percent" in headers and set(headers) <= set(listed[0])
