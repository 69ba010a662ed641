"""Pipeline files through the real CLI, without training: one line per error, the steps that need
no model (ingest, validate, notify), their records, and the options that are refused."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXPERIMENT = REPO / "experiments" / "digits.toml"


def write(folder: Path, text: str, name: str = "pipeline.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_a_bad_pipeline_file_gets_one_line_per_error(mlkit_home, cli):
    path = write(
        mlkit_home,
        f"""
[pipeline]
name = "Nightly"
experment = "{EXPERIMENT}"
[ingest]
[validate]
on_drift = "maybe"
[deploy]
trafic = 5
[notify]
webhook = "ftp://example.com"
""",
    )
    result = cli("pipeline", "run", path)
    assert result.code == 2
    lines = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert [line.split(": ", 2)[2] for line in lines] == [
        "pipeline.name: must be lowercase letters, digits, '-' or '_', starting with a letter "
        "(got 'Nightly')",
        "pipeline.experiment: required key is missing",
        "pipeline.experment: unknown key (did you mean 'experiment'?)",
        "ingest: give exactly one of source (a dataset or file) or query",
        "validate.on_drift: must be 'stop' or 'warn' (got 'maybe')",
        "deploy.trafic: unknown key (did you mean 'traffic'?)",
        "notify.webhook: must be an http:// or https:// URL (got 'ftp://example.com')",
    ]
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[deploy]\n", "[deploy] needs [compare]"),
        ("[compare]\n", "[compare] needs [train]"),
        ("[notify]\ncommand = 'true'\n", "no steps"),
        ('[ingest]\nsource = "digits"\nparams = { a = 1 }\n', "params go with query"),
    ],
)
def test_steps_that_cannot_run_together_are_refused(mlkit_home, cli, body, message):
    path = write(mlkit_home, f'[pipeline]\nname = "p"\nexperiment = "{EXPERIMENT}"\n{body}')
    result = cli("pipeline", "run", path)
    assert result.code == 2 and message in result.err
    assert len([line for line in result.err.splitlines() if line.startswith("Error:")]) == 1


def test_a_missing_experiment_is_named_relative_to_the_pipeline_file(mlkit_home, cli):
    path = write(mlkit_home, '[pipeline]\nname = "p"\nexperiment = "nope.toml"\n[train]\n')
    result = cli("pipeline", "run", path)
    assert result.code == 2
    assert f"experiment file {mlkit_home / 'nope.toml'} does not exist" in result.err


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()


def test_ingest_and_validate_run_record_and_notify_without_a_model(mlkit_home, cli):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
    marker = mlkit_home / "notified.txt"
    checks = write(
        mlkit_home,
        f"""
[pipeline]
name = "digits-checks"
experiment = "{EXPERIMENT}"
[ingest]
source = "digits"
[validate]
[notify]
command = "echo $MLKIT_PIPELINE_RUN $MLKIT_PIPELINE_STATUS > {marker}"
""",
    )
    try:
        result = cli("pipeline", "run", checks)
        assert result.code == 0, result.err
        assert "ingest succeeded: 1,797 rows into digits" in result.out
        assert "validate succeeded: no champion yet" in result.out
        assert marker.read_text().split() == ["1", "finished"]

        hooked = write(mlkit_home, checks.read_text().replace(
            f'command = "echo $MLKIT_PIPELINE_RUN $MLKIT_PIPELINE_STATUS > {marker}"',
            f'webhook = "{hook}"\non = ["finished"]',
        ), "hooked.toml")  # fmt: skip
        assert cli("pipeline", "run", hooked).code == 0
        assert [(r["pipeline_run"], r["status"]) for r in _Hook.received] == [(2, "finished")]
        assert _Hook.received[0]["steps"]["ingest"]["rows"] == 1797
    finally:
        server.shutdown()
        server.server_close()

    shown = json.loads(cli("pipeline", "show", "1", "--json").out)
    assert (shown["status"], shown["pipeline"], shown["trigger"]) == (
        "finished", "digits-checks", "manual",
    )  # fmt: skip
    steps = {s["name"]: s for s in shown["steps"]}
    assert [s["name"] for s in shown["steps"]] == ["ingest", "validate", "notify"]
    assert steps["validate"]["outputs"]["data_sha256"]
    assert steps["notify"]["inputs"] == {"status": "finished"}
    listed = json.loads(cli("pipeline", "runs", "--json").out)
    assert [r["id"] for r in listed] == [2, 1]
    table = cli("pipeline", "runs")
    assert "digits-checks" in table.out and "validate:succeeded" in table.out

    # --if-drift: no champion, so no drift: nothing after validate runs
    drift = cli("pipeline", "run", checks, "--if-drift")
    assert drift.code == 0, drift.err
    assert "no drift: nothing to do" in drift.out
    assert json.loads(cli("pipeline", "show", "3", "--json").out)["trigger"] == "drift"


def test_options_that_do_not_apply_are_refused(mlkit_home, cli):
    train_only = write(
        mlkit_home, f'[pipeline]\nname = "p"\nexperiment = "{EXPERIMENT}"\n[train]\n'
    )
    result = cli("pipeline", "run", train_only, "--if-drift")
    assert result.code == 2 and "--if-drift needs a [validate] step" in result.err
    result = cli("pipeline", "run", train_only, "--backend", "vertex", "--no-cache")
    assert result.code == 2 and "run a pipeline here (--backend local)" in result.err
    result = cli("pipeline", "run", train_only, "--backend", "mars")
    assert result.code == 2 and "unknown backend 'mars'" in result.err
    result = cli("pipeline", "show", "7")
    assert result.code == 5 and "pipeline run 7 not found" in result.err


def test_listing_pipeline_runs_imports_neither_tensorflow_nor_kfp_nor_aiplatform(mlkit_home):
    import subprocess
    import sys

    from tests.conftest import home_env

    code = (
        "import sys; from mlkit.cli import main; main(['pipeline', 'runs']); "
        "print(sorted(m for m in ('tensorflow', 'kfp', 'google.cloud.aiplatform') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=home_env(mlkit_home),
        cwd=mlkit_home, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_ingest_runs_a_query_with_params_into_a_table(mlkit_home, cli):
    assert cli("data", "load", "digits").code == 0
    path = write(
        mlkit_home,
        f"""
[pipeline]
name = "subset"
experiment = "{EXPERIMENT}"
[ingest]
query = "SELECT * FROM digits WHERE label < @n"
params = {{ n = 3 }}
table = "digits_low"
""",
    )
    result = cli("pipeline", "run", path)
    assert result.code == 0, result.err
    tables = {t["name"]: t["rows"] for t in json.loads(cli("data", "tables", "--json").out)}
    assert 0 < tables["digits_low"] < 1797
    empty = write(mlkit_home, path.read_text().replace("@n", "@n - 10"), "empty.toml")
    result = cli("pipeline", "run", empty)
    assert result.code == 3 and "ingest.query returned no rows" in result.err
    assert "--resume 2" in result.err  # the exact command that continues it
