"""The dashboard in a real headless Chromium (Debian's, driven by Playwright) on a registry with
trained versions, verdicts, a canary and a rollback: every page renders its key content with no
console errors, filters and links work, charts answer the mouse, compare shows both sides, and
the registry is not written."""

from __future__ import annotations

import hashlib
import json
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mlkit.config import load_settings
from tests.ui.conftest import running_dashboard

pytestmark = pytest.mark.slow  # the registry comes from real training

# Each page and what it must show (a CSS selector, and text inside it).
PAGES = [
    ("/", "#t-models", "iris"),
    ("/models/iris", "#versions-chart", ""),
    ("/models/iris", "#t-versions", "team=ml"),
    ("/models/iris/versions/2", "svg.lineage", "run 2"),
    ("/models/iris/versions/2", "article.verdict", "Significance test"),
    ("/models/iris/versions/1", "#t-inputs", "sepal"),
    ("/runs", "#t-runs", "finished"),
    ("/runs/1", "#curves", ""),
    ("/runs/1", "#t-iteration-0", "linear"),
    ("/runs/1", "#t-final_ensemble", ""),
    ("/runs/1", "#t-reference_models", "logistic_regression"),
    ("/runs/1/data", "#t-features", "petal"),
    ("/compare?model=iris&a=1&b=2", ".side[data-side=right]", "iris:2"),
    ("/compare?run_a=1&run_b=2", "figure.plot figcaption", "run 2:"),
    ("/endpoints", "#t-traffic", "iris"),
    ("/endpoints", "main", "rollback"),
]


def snapshot(db: Path) -> tuple[str, int]:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        newest = conn.execute("SELECT MAX(id) FROM events").fetchone()[0]
    conn.close()
    return hashlib.sha256(db.read_bytes()).hexdigest(), newest


@pytest.fixture(scope="module")
def before(browser, trained_home):  # the browser first: no training when it is skipped
    return snapshot(trained_home / "registry.db")


@pytest.fixture(scope="module")
def url(before, trained_home):
    with running_dashboard(load_settings(trained_home)) as url:
        yield url


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.errors = []  # console errors and uncaught exceptions, for the test to check
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("requestfailed", lambda r: page.errors.append(f"failed {r.url}"))
    yield page
    context.close()


def test_every_page_renders_its_key_content_without_console_errors(url, page):
    for path, selector, text in PAGES:
        response = page.goto(url + path)
        assert response is not None and response.status == 200, path
        element = page.locator(selector).first
        assert element.is_visible(), (path, selector)
        if text:
            assert text in (element.text_content() or ""), (path, selector, text)
    assert page.errors == []


def test_the_canary_and_the_rollback_show_on_the_endpoints_page(url, page):
    page.goto(url + "/endpoints")
    history = page.locator("table[data-table^=history-local-iris]")
    actions = history.locator("tbody tr td:nth-child(7)").all_inner_texts()
    assert "rollback" in actions and "forced" in actions, actions
    assert page.locator("svg.share rect").count() >= 1


def test_links_lead_from_models_to_a_version_and_its_run(url, page):
    page.goto(url + "/")
    page.click("#t-models a:text-is('iris')")
    assert page.url.endswith("/models/iris")
    page.click("#t-versions tbody tr:last-child td:first-child a")
    assert "/models/iris/versions/1" in page.url
    page.click("svg.lineage a[href='/runs/1']")
    assert page.url.endswith("/runs/1")
    page.click("a:text('feature statistics and drift')")
    assert page.url.endswith("/runs/1/data")
    assert page.errors == []


def test_the_where_filter_and_sort_work_and_bad_input_says_why(url, page):
    page.goto(url + "/models/iris")
    page.fill("input[name=where]", "tags.team = 'ml'")
    page.fill("input[name=sort]", "version:desc")
    page.click("form.filters button[type=submit] >> nth=0")
    rows = page.locator("#t-versions tbody tr")
    assert rows.count() == 1 and rows.first.locator("td").first.inner_text() == "2"
    assert "1 of 2 versions match" in page.locator("#t-versions caption").inner_text()
    page.fill("input[name=where]", "nope > 1")
    page.click("form.filters button[type=submit] >> nth=0")
    assert "unknown field 'nope'" in page.locator("p.error").inner_text()


def test_charts_show_values_on_hover_and_series_toggle(url, page):
    page.goto(url + "/runs/1")
    page.locator("#curves g.series").last.locator("circle.pt").last.hover()  # the one on top
    tip = page.locator("div.tip")
    assert tip.is_visible() and "→" in tip.inner_text()
    button = page.locator("button.toggle[data-chart=curves]").first
    button.click()
    assert page.locator("#curves g.series.off").count() == 1
    button.click()
    assert page.locator("#curves g.series.off").count() == 0
    page.goto(url + "/models/iris")
    page.select_option("select[name=metric]", "average_loss")
    page.wait_for_url("**metric=average_loss**")
    assert page.locator("svg#versions-chart").get_attribute("aria-label") == (
        "average_loss by version"
    )
    assert page.errors == []


def test_compare_shows_both_sides(url, page):
    page.goto(url + "/compare")
    page.fill("input[name=model]", "iris")
    page.fill("input[name=a]", "1")
    page.fill("input[name=b]", "2")
    page.click("button:text('compare versions')")
    assert page.locator(".side[data-side=left] h2").inner_text() == "iris:1"
    assert page.locator(".side[data-side=right] h2").inner_text() == "iris:2"
    assert page.locator("#t-metrics thead th").all_inner_texts()[1:3] == ["iris:1", "iris:2"]
    overlaid = " ".join(page.locator("button.toggle").all_inner_texts())
    assert "iris:1:" in overlaid and "iris:2:" in overlaid
    page.click("a:text('compare their runs')")
    legend = " ".join(page.locator("button.toggle").all_inner_texts())
    assert "run 1:" in legend and "run 2:" in legend
    assert page.errors == []


def test_a_table_downloads_as_json(url, page):
    page.goto(url + "/models/iris/versions/2")
    href = page.locator("#t-metrics a.json").get_attribute("href")
    rows = json.loads(page.request.get(url + href).text())
    assert {r["metric"] for r in rows} >= {"accuracy"}


def test_browsing_wrote_nothing_to_the_registry(url, page, trained_home, before):
    for path, _, _ in PAGES:
        page.goto(url + path)
    assert snapshot(trained_home / "registry.db") == before


def test_tensorboard_starts_from_the_locked_environment_and_reads_a_run(trained_home):
    """The locked setuptools still has pkg_resources, which TensorBoard 2.15 imports."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(trained_home / "runs"),
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    board = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        runs: list[str] = []
        while time.monotonic() < deadline and board.poll() is None:
            try:
                runs = httpx.get(f"http://127.0.0.1:{port}/data/runs", timeout=5).json()
                if runs:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert board.poll() is None, board.stdout.read() if board.stdout else ""
        assert any(r == "1" or r.startswith("1/") for r in runs), runs
    finally:
        board.terminate()
        board.wait(10)


def test_the_data_page_shows_statistics_and_a_drift_report(url, page):
    page.goto(url + "/runs/1/data")
    assert page.locator("#t-features svg.hist").count() == 4  # iris: four measurements
    page.click("a.drift")
    caption = page.locator("#t-drift caption").inner_text()
    assert "against run 1: 0 drifted" in caption  # its own source, unchanged
    names = page.locator("#t-drift tbody tr td:first-child").all_inner_texts()
    assert {"sepal_length_cm", "petal_width_cm"} <= set(names), names
    assert page.errors == []
