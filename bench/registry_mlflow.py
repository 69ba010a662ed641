"""MLflow's model registry on SQLite, timed like mlkit's: ``create_model_version`` N times.

Runs in its own environment (MLflow's pins clash with TensorFlow's), started by
``bench/registry.py``:

    uv run --isolated --no-project --python python3.11 --with mlflow-skinny==3.17.2 \
        --with sqlalchemy --with alembic python bench/registry_mlflow.py DIR SOURCE N

The registered model is created (and MLflow's schema migrated) before the clock starts. MLflow
records the source location; it does not copy or hash the files, which mlkit does. Prints one
JSON object.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path


def main() -> None:
    workdir, source, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    import mlflow
    from mlflow import MlflowClient

    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("bench")
    start = time.perf_counter()
    for i in range(count):
        mv = client.create_model_version("bench", source=source.as_uri(), tags={"i": str(i)})
    seconds = time.perf_counter() - start
    assert int(mv.version) == count, mv.version
    print(
        json.dumps({"mlflow_version": mlflow.__version__, "register_s": seconds, "versions": count})
    )


if __name__ == "__main__":
    main()
