"""``make bench-ui``: the dashboard's server time with 10,000 versions registered, and page weight.

1. Fill a SQLite registry through the store API (``tests/ui/synthetic.py``: runs, verdicts, a
   deployment, a canary, a rollback), then register versions of model ``toy`` until it has
   ``--versions`` (each a small directory copied into the artifact store and hashed).
2. Serve the dashboard with uvicorn on loopback and time, over real HTTP, the models page (``/``)
   and the versions page (``/models/toy``: the newest 50, every version's metric on the chart):
   one first request (which reads every version), then the median of ``--repeat`` (the versions
   are cached until the registry's event log moves); and a filtered versions page. The time is
   the wall time of the request on loopback, so it includes HTTP; the target is under 150 ms.
3. Page weight: the bytes of the versions page with its stylesheet and script (no images, no
   other requests), and of the heaviest page of the set.

The last line printed is one JSON object of figures. Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlkit.config import load_settings  # noqa: E402
from mlkit.registry import open_store  # noqa: E402
from tests.ui.conftest import running_dashboard  # noqa: E402
from tests.ui.synthetic import fill, make_source  # noqa: E402

TARGET_MS = 150.0
PAGES = (
    "/",
    "/models/toy",
    "/models/toy/versions/2",
    "/runs/1",
    "/endpoints",
    "/compare?run_a=1&run_b=2",
)


def timed(client: httpx.Client, url: str, repeat: int) -> tuple[float, float, int]:
    """First request's ms, the median of ``repeat`` more, and the body's bytes."""
    start = time.perf_counter()
    first = client.get(url)
    first.raise_for_status()
    first_ms = (time.perf_counter() - start) * 1000
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        client.get(url).raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
    return first_ms, statistics.median(times), len(first.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlkit-bench-ui-") as tmp:
        home = Path(tmp)
        settings = load_settings(home)
        start = time.perf_counter()
        with open_store(settings.registry_url, settings.artifacts_dir, create=True) as store:
            fill(store, home, versions=3)
            source = make_source(home / "more")
            for i in range(3, args.versions):
                metrics = {"accuracy": 0.8 + (i % 100) / 1000, "average_loss": 0.5 - i % 50 / 1000}
                tags = {"team": "ml" if i % 2 else "vision"}
                store.register_version("toy", source, run_id=1 + i % 2, metrics=metrics, tags=tags)
                if i % 1000 == 0:
                    print(f"registered {i:,} versions", file=sys.stderr)
        print(f"registry filled in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        with running_dashboard(settings) as url, httpx.Client(timeout=60) as client:
            models_first, models_ms, _ = timed(client, url + "/", args.repeat)
            versions_first, versions_ms, page_bytes = timed(
                client, url + "/models/toy", args.repeat
            )
            where = "/models/toy?where=tags.team+%3D+%27ml%27+and+metrics.accuracy+%3E+0.85"
            _, filtered_ms, _ = timed(client, url + where, args.repeat)
            assets = sum(
                len(client.get(url + a).content) for a in ("/static/ui.css", "/static/ui.js")
            )
            weights = {p: len(client.get(url + p).content) for p in PAGES}
    result = {
        "versions": args.versions,
        "versions_page_ms": round(versions_ms, 1),
        "versions_page_first_ms": round(versions_first, 1),
        "versions_filtered_ms": round(filtered_ms, 1),
        "models_page_ms": round(models_ms, 1),
        "models_page_first_ms": round(models_first, 1),
        "page_bytes": page_bytes + assets,
        "versions_page_html_bytes": page_bytes,
        "assets_bytes": assets,
        "heaviest_page": max(weights, key=lambda p: weights[p]),
        "heaviest_page_bytes": max(weights.values()),
        "target_ms": TARGET_MS,
        "within_target": versions_ms < TARGET_MS and models_ms < TARGET_MS,
    }
    for name, value in result.items():
        print(f"{name:>26}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
