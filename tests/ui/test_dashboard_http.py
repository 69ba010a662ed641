"""The dashboard over real HTTP (uvicorn on loopback) on a registry filled through the store API:
every page answers, JSON downloads, filters, paging, errors, the token, and nothing is written."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mlkit.config import load_settings
from mlkit.registry import open_store
from tests.ui.conftest import running_dashboard
from tests.ui.synthetic import fill

PAGES = [
    ("/", "toy"),
    ("/models/toy", "Versions of toy"),
    ("/models/toy/versions/2", "Verdict"),
    ("/runs", "Runs"),
    ("/runs/1", "Iteration 0: candidates"),
    ("/runs/1/data", "Feature statistics"),
    ("/compare", "compare versions"),
    ("/compare?model=toy&a=1&b=2", "toy:2"),
    ("/compare?run_a=1&run_b=2", "run 2"),
    ("/endpoints", "rollback"),
]


def snapshot(db: Path) -> tuple[str, int]:
    """The registry file's hash after folding its write-ahead log in, and its newest event."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        newest = conn.execute("SELECT MAX(id) FROM events").fetchone()[0]
    conn.close()
    return hashlib.sha256(db.read_bytes()).hexdigest(), newest


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("dash")
    settings = load_settings(home)
    with open_store(settings.registry_url, settings.artifacts_dir, create=True) as store:
        fill(store, home, versions=7)
    return home


@pytest.fixture(scope="module")
def url(home):
    with running_dashboard(load_settings(home)) as url:
        yield url


@pytest.mark.parametrize(("path", "text"), PAGES)
def test_every_page_answers_with_its_content(url, path, text):
    r = httpx.get(url + path)
    assert r.status_code == 200, r.text
    assert text in r.text
    assert r.headers["content-security-policy"].startswith("default-src 'self'")


def test_every_table_downloads_as_json(url):
    for path, _ in PAGES:
        page = httpx.get(url + path).text
        names = set(re.findall(r'data-table="([^"]+)"', page))
        for name in names:
            sep = "&" if "?" in path else "?"
            r = httpx.get(f"{url}{path}{sep}format=json&table={name}")
            assert r.status_code == 200, (path, name, r.text)
            assert isinstance(r.json(), list)
        whole = httpx.get(f"{url}{path}{'&' if '?' in path else '?'}format=json")
        assert whole.status_code == 200
    missing = httpx.get(f"{url}/models/toy?format=json&table=nope")
    assert missing.status_code == 404 and "versions" in missing.json()["tables"]


def test_versions_filter_sort_page_and_chart(url):
    rows = httpx.get(f"{url}/models/toy", params={"where": "tags.team = 'ml'", "sort":
                     "version:desc", "format": "json", "table": "versions"}).json()  # fmt: skip
    assert [r["version"] for r in rows] == [6, 4, 2]
    paged = httpx.get(f"{url}/models/toy", params={"per_page": 3, "page": 2, "format": "json"})
    data = paged.json()
    assert [r["version"]["version"] for r in data["rows"]] == [4, 3, 2]
    assert (data["pages"], data["matched"], data["total"]) == (3, 7, 7)
    assert data["metric"] == "accuracy" and len(data["chart"]) == 7
    assert data["deployed"] == {"1": ["local"], "3": ["local"]}  # 3 is a canary beside 1
    html = httpx.get(f"{url}/models/toy", params={"metric": "loss"}).text
    assert 'aria-label="loss by version"' in html and "deployed" in html


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"where": "nope = 1"}, "unknown field"),
        ({"sort": "nope"}, "nope"),
        ({"page": "x"}, "page must be a whole number"),
        ({"metric": "nope"}, "has metric"),
    ],
)
def test_bad_input_is_one_clear_line(url, params, message):
    r = httpx.get(f"{url}/models/toy", params=params)
    assert r.status_code == 400 and message in r.text
    assert "Traceback" not in r.text


def test_unknown_things_are_404(url):
    assert httpx.get(f"{url}/models/nope").status_code == 404
    assert httpx.get(f"{url}/models/toy/versions/99").status_code == 404
    assert httpx.get(f"{url}/runs/99?format=json").json()["error"] == "run 99 not found"
    assert httpx.post(f"{url}/models/toy").status_code == 405


def test_version_page_shows_lineage_verdict_and_deployments(url):
    data = httpx.get(f"{url}/models/toy/versions/2?format=json").json()
    kinds = [n["kind"] for n in data["lineage"]["nodes"]]
    assert kinds[:3] == ["experiment", "data", "run"] and "verdict" in kinds
    assert "deployment" in kinds
    html = httpx.get(f"{url}/models/toy/versions/2").text
    assert "Forced by tester: try it" in html and "p_value" in html and "95% interval" in html
    assert "recall_yes" in html and "true class" in html  # class names, the confusion table


def test_the_registry_is_not_written_and_a_missing_one_is_not_created(home, url, tmp_path):
    before = snapshot(home / "registry.db")
    for path, _ in PAGES:
        httpx.get(url + path)
    assert snapshot(home / "registry.db") == before
    code = subprocess.run(
        [sys.executable, "-m", "mlkit", "ui", "--port", "0"],
        cwd=tmp_path, env={"MLKIT_HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
                           "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert code.returncode == 5 and "no registry at" in code.stderr
    assert not (tmp_path / "registry.db").exists()


def _mlkit(home: Path, *args: str, **kw) -> subprocess.Popen:
    env = {"MLKIT_HOME": str(home), "PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1",
           "COLUMNS": "200", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}  # fmt: skip
    pipe = subprocess.PIPE
    command = [sys.executable, "-m", "mlkit", *args]
    return subprocess.Popen(command, cwd=home, env=env, stdout=pipe, stderr=pipe, text=True, **kw)


def test_mlkit_ui_serves_until_interrupted(home):
    proc = _mlkit(home, "ui", "--port", "0")
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, line
        assert "toy" in httpx.get(url.group()).text
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err


def test_a_port_in_use_is_one_line_and_exit_7(home):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        proc = _mlkit(home, "ui", "--port", str(held.getsockname()[1]))
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 7
    assert err.startswith("Error: cannot listen on 127.0.0.1:") and "Traceback" not in err


def test_a_token_is_required_when_set(home):
    with running_dashboard(load_settings(home), token="s3cret") as url:
        assert httpx.get(url + "/").status_code == 401
        assert httpx.get(url + "/", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        with httpx.Client() as browser:
            first = browser.get(url + "/?token=s3cret")
            assert first.status_code == 200
            assert browser.get(url + "/runs").status_code == 200  # the cookie carries it
        assert httpx.get(url + "/", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_mlkit_ui_imports_no_tensorflow(home):
    probe = (
        "import sys; from mlkit.ui.app import make_app; from mlkit.config import load_settings;"
        "from starlette.testclient import TestClient;"
        f"c = TestClient(make_app(load_settings({str(home)!r})));"
        "[c.get(p) for p in ('/', '/models/toy', '/models/toy/versions/2', '/runs/1', "
        "'/compare?run_a=1&run_b=2', '/endpoints', '/runs/1/data')];"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'tensorflow')))"
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", "import json;" + probe],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_endpoints_without_a_prediction_log_say_so_and_create_no_warehouse(home, url):
    warehouse = load_settings(home).warehouse_path
    assert not warehouse.exists()
    r = httpx.get(url + "/endpoints")
    assert r.status_code == 200
    assert "toy on local: no prediction log yet" in r.text
    assert httpx.get(url + "/endpoints?format=json&table=served").json() == []
    assert not warehouse.exists()


def _log_answers(warehouse_path: Path) -> None:
    """Requests as ``mlkit serve`` logs them: version 1 (80%) six, one an error; version 3 two."""
    from mlkit.data.local import LocalWarehouse
    from mlkit.monitoring.log import PredictionLogger
    from mlkit.serving.observe import Answered

    log = PredictionLogger(LocalWarehouse(warehouse_path), flush_interval_s=60.0)
    now = time.time()
    for n in range(8):
        version, status = (1, 500 if n == 5 else 200) if n < 6 else (3, 200)
        log.answered(
            Answered(
                request_id=f"r{n}",
                model="toy",
                version=version,
                route="predict",
                status=status,
                latency_s=0.010 * (n + 1),
                instances=[{"x": float(n)}] * 2,
                predictions=[] if status != 200 else [{"class_id": n % 2}] * 2,
                at=now + n,
            )  # fmt: skip
        )
    log.close(60.0)


def test_endpoints_show_requests_and_latency_per_version_from_the_log(tmp_path):
    settings = load_settings(tmp_path)
    with open_store(settings.registry_url, settings.artifacts_dir, create=True) as store:
        fill(store, tmp_path, versions=3)
    _log_answers(settings.warehouse_path)
    with running_dashboard(settings) as url:
        r = httpx.get(url + "/endpoints")
        assert r.status_code == 200, r.text
        assert 'data-table="served"' in r.text and 'class="counts"' in r.text
        assert "toy v1 (local): 6" in r.text and "toy v3 (local): 2" in r.text
        rows = httpx.get(url + "/endpoints?format=json&table=served").json()
        by_version = {row["version"]: row for row in rows}
        assert sorted(by_version) == [1, 3]
        one, three = by_version[1], by_version[3]
        assert (one["requests"], one["errors"], one["error_rate"]) == (6, 1, round(1 / 6, 6))
        assert (three["requests"], three["errors"]) == (2, 0)
        assert one["latency_p50_ms"] == pytest.approx(35.0)  # 10..60 ms
        assert three["latency_p50_ms"] == pytest.approx(75.0)  # 70, 80 ms
        assert three["latency_p99_ms"] == pytest.approx(79.9)
        assert one["predictions"] == {"0": 6.0, "1": 4.0}  # ok answers 0-4, two instances each
        assert "35.0000" in r.text and "0=6, 1=4" in r.text  # the p50 and predictions cells
        # The page is cached until the log changes, then read again.
        assert httpx.get(url + "/endpoints?format=json&table=served").json() == rows
        _log_answers(settings.warehouse_path)
        again = httpx.get(url + "/endpoints?format=json&table=served").json()
        assert {row["version"]: row["requests"] for row in again} == {1: 12, 3: 4}
        stamp = _file_state(settings.warehouse_path)
        httpx.get(url + "/endpoints")
    # Read-only: the dashboard leaves the warehouse file as it found it.
    assert _file_state(settings.warehouse_path) == stamp


def _file_state(path: Path) -> tuple[int, bytes]:
    return path.stat().st_mtime_ns, path.read_bytes()


def test_an_unreadable_prediction_log_is_one_line_and_the_page_still_renders(tmp_path):
    settings = load_settings(tmp_path)
    with open_store(settings.registry_url, settings.artifacts_dir, create=True) as store:
        fill(store, tmp_path, versions=3)
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    settings.warehouse_path.write_bytes(b"not a database" * 100)
    with running_dashboard(settings) as url:
        r = httpx.get(url + "/endpoints")
    assert r.status_code == 200
    assert "toy on local: prediction log not readable: cannot open local warehouse" in r.text
    assert "rollback" in r.text  # the history still renders
    assert settings.warehouse_path.read_bytes() == b"not a database" * 100
