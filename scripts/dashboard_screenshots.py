"""Screenshots of the dashboard for docs/dashboard.md, taken by Playwright in Debian's chromium.

    python -m tests.ui.story /tmp/story                      # a trained registry (minutes)
    MLKIT_HOME=/tmp/story python scripts/dashboard_screenshots.py docs/img

Writes dashboard-version.png (a version page: lineage, metrics, signature), dashboard-verdict.png
(one verdict: metrics with intervals, checks, significance test) and dashboard-compare.png (two
versions side by side), plus dashboard-versions.png and dashboard-run.png.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from mlkit.config import load_settings
from mlkit.ui.app import make_app

SHOTS = (
    ("dashboard-versions.png", "/models/iris", None),
    ("dashboard-version.png", "/models/iris/versions/2", None),
    ("dashboard-verdict.png", "/models/iris/versions/2", "article.verdict"),
    ("dashboard-compare.png", "/compare?model=iris&a=1&b=2", None),
    ("dashboard-run.png", "/runs/1", None),
)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    server = uvicorn.Server(uvicorn.Config(make_app(load_settings()), port=0, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    chromium = os.environ.get("MLKIT_CHROMIUM") or shutil.which("chromium") or "chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        for name, path, selector in SHOTS:
            page.goto(url + path)
            if selector:
                page.locator(selector).first.screenshot(path=str(out / name))
            else:
                page.screenshot(path=str(out / name), full_page=False)
            print(out / name)
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img"))
