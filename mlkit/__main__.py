"""``python -m mlkit``: the ``mlkit`` command (the local cluster launcher starts its tasks so)."""

from mlkit.cli import run

if __name__ == "__main__":
    run()
