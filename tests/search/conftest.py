"""A finished two-iteration search shared by the tests that read its checkpoints."""

from __future__ import annotations

import pytest

from mlkit.experiment import SearchSpec

FINISHED_SPEC = SearchSpec(
    generator=["linear", "dnn"],
    strategy=["grow", "solo"],
    iterations=2,
    steps_per_iteration=10,
    batch_size=32,
    layer_size=8,
)


@pytest.fixture(scope="session")
def finished_search(tmp_path_factory):
    """``(model_dir, train, eval, test)`` of a finished search of :data:`FINISHED_SPEC` on three
    blobs; read it, do not write to it (copy it first)."""
    from mlkit.search.runner import run_search
    from tests.search.test_compat import blobs

    model_dir = tmp_path_factory.mktemp("finished") / "run"
    train, evaluation, test = blobs(150, 0), blobs(60, 1), blobs(40, 2)
    run_search(FINISHED_SPEC, train, evaluation, test, n_classes=3, model_dir=model_dir)
    return model_dir, train, evaluation, test
