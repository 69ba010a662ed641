"""Several processes registering versions of one model at once get gapless distinct numbers."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from mlkit.registry import open_store

WORKERS = 8


def _register(url: str, artifacts: str, source: str, barrier, results) -> None:
    name = Path(source).name
    try:
        with open_store(url, Path(artifacts)) as store:
            barrier.wait(timeout=60)
            mv = store.register_version("digits", Path(source), metrics={"worker": name})
        results.put((mv.version, name))
    except BaseException as exc:  # report it instead of leaving the parent waiting
        results.put((None, f"{type(exc).__name__}: {exc}"))
        raise


def test_concurrent_registrations_are_numbered_one_to_n(
    store, registry_url, artifacts_dir, saved_model
):
    sources = [saved_model(f"w{i}") for i in range(WORKERS)]
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=_register,
            args=(registry_url, str(artifacts_dir), str(source), barrier, results),
        )
        for source in sources
    ]
    for p in procs:
        p.start()
    got = [results.get(timeout=120) for _ in procs]
    assert [worker for v, worker in got if v is None] == []
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0

    assert sorted(v for v, _ in got) == list(range(1, WORKERS + 1))
    versions = store.list_versions("digits")
    assert [mv.version for mv in versions] == list(range(1, WORKERS + 1))
    by_version = dict(got)
    for mv in versions:
        assert mv.metrics == {"worker": by_version[mv.version]}
        store.artifact_path(mv)  # each artifact is the one its row describes
    assert len({mv.artifact_sha256 for mv in versions}) == WORKERS
    assert [e.kind for e in store.list_events("digits")].count("version_registered") == WORKERS
