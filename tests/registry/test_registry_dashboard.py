"""The dashboard's read models and pages on this suite's database (SQLite, or PostgreSQL through
MLKIT_TEST_REGISTRY_URL in `make test`'s second pass): every page answers, and nothing is written
(the event log does not move)."""

from __future__ import annotations

import dataclasses

import httpx

from mlkit.config import load_settings
from mlkit.registry import open_store
from tests.ui.conftest import running_dashboard
from tests.ui.synthetic import fill

PAGES = (
    "/",
    "/models/toy",
    "/models/toy?where=tags.team+%3D+%27ml%27&sort=metrics.accuracy:desc",
    "/models/toy/versions/2",
    "/runs",
    "/runs/1",
    "/runs/1/data",
    "/compare?model=toy&a=1&b=3",
    "/compare?run_a=1&run_b=2",
    "/endpoints",
)


def test_every_dashboard_page_reads_this_database(registry_url, artifacts_dir, tmp_path):
    with open_store(registry_url, artifacts_dir) as store:
        fill(store, tmp_path, versions=4)
        newest = store.list_events(limit=1)[0].id
    settings = dataclasses.replace(
        load_settings(tmp_path), registry_url=registry_url, artifacts_dir=artifacts_dir
    )
    with running_dashboard(settings) as url:
        for path in PAGES:
            r = httpx.get(url + path)
            assert r.status_code == 200, (path, r.text)
        versions = httpx.get(url + "/models/toy?format=json").json()
        assert [r["version"]["version"] for r in versions["rows"]] == [4, 3, 2, 1]
        assert versions["deployed"] == {"1": ["local"], "3": ["local"]}
    with open_store(registry_url, artifacts_dir) as store:
        assert store.list_events(limit=1)[0].id == newest
