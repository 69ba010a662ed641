"""``mlkit models export REF FILE`` / ``mlkit models import FILE``: a version with its registry
records, from one registry to another (another machine, a team's PostgreSQL registry).

The archive (``.tar.gz``) holds ``mlkit-version.json`` (the version's record: metrics, signature,
description, tags, SHA-256; and its run's: experiment text and parameters, metrics, data
fingerprint, search report, reference models) and the SavedModel under ``saved_model/``.
Importing checks the SavedModel against the recorded SHA-256 before anything is written, then
records the run (tagged ``source = import``) and registers the next version of the model (its
own name, or ``name``) with the same metrics, signature and tags. Verdicts and deployments stay
behind: they are about the other registry's versions and endpoints.
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from mlkit import __version__
from mlkit.config import Settings
from mlkit.errors import ArtifactError, UsageError
from mlkit.registry import ModelVersion, open_store
from mlkit.registry.artifacts import tree_digest

RECORD = "mlkit-version.json"
SAVED_MODEL = "saved_model"
FORMAT = 1


def export_version(settings: Settings, ref: str, archive: Path) -> ModelVersion:
    """Write version ``ref`` (its artifact checked) and its records into ``archive``."""
    archive = Path(archive)
    if archive.exists():
        raise UsageError(f"FILE: {archive} exists already (expected a new .tar.gz path)")
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        version = store.resolve(ref)
        artifact = store.artifact_path(version, verify=True)
        run = None if version.run_id is None else store.get_run(version.run_id)
    record: dict[str, Any] = {
        "format": FORMAT,
        "exported_by": f"mlkit {__version__}",
        "version": {
            "model": version.model,
            "version": version.version,
            "artifact_sha256": version.artifact_sha256,
            "metrics": version.metrics,
            "signature": version.signature,
            "description": version.description,
            "tags": version.tags,
        },
        "run": None
        if run is None
        else {
            "id": run.id,
            "experiment": run.experiment,
            "experiment_path": run.experiment_path,
            "spec_text": run.spec_text,
            "params": run.params,
            "metrics": run.metrics,
            "data_fingerprint": run.data_fingerprint,
            "code_version": run.code_version,
            "report": run.report,
            "reference_models": run.reference_models,
        },
    }
    archive.parent.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_name(archive.name + ".tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        data = json.dumps(record, indent=1, sort_keys=True, default=str).encode()
        info = tarfile.TarInfo(RECORD)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        tar.add(artifact, arcname=SAVED_MODEL)
    tmp.replace(archive)
    return version


def import_version(settings: Settings, archive: Path, name: str | None = None) -> ModelVersion:
    """Register the version in ``archive`` as the next version of its model (or ``name``)."""
    archive = Path(archive)
    if not archive.is_file():
        raise UsageError(f"FILE: {archive} is not a file (expected an mlkit models export)")
    with tempfile.TemporaryDirectory(prefix="mlkit-import-") as tmp:
        root = Path(tmp)
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(root, filter="data")
            record = json.loads((root / RECORD).read_text())
        except (tarfile.TarError, OSError, ValueError) as exc:
            raise UsageError(f"FILE: {archive} is not an mlkit models export ({exc})") from exc
        if record.get("format") != FORMAT:
            raise UsageError(f"FILE: {archive} has export format {record.get('format')!r}")
        v, run = record["version"], record.get("run")
        digest, _size = tree_digest(root / SAVED_MODEL)
        if digest != v["artifact_sha256"]:
            raise ArtifactError(
                f"the SavedModel in {archive} does not match its recorded SHA-256 "
                f"({digest[:12]} != {v['artifact_sha256'][:12]}): not imported"
            )
        with open_store(settings.registry_url, settings.artifacts_dir) as store:
            run_id = None
            if run is not None:
                created = store.create_run(
                    run["experiment"],
                    spec_text=run["spec_text"],
                    params=run["params"],
                    experiment_path=run.get("experiment_path"),
                    code_version=run.get("code_version"),
                    tags={"source": "import", "from": f"{v['model']}:{v['version']}"},
                )
                store.record_run_report(
                    created.id,
                    report=run.get("report") or {},
                    reference_models=run.get("reference_models") or {},
                )
                store.finish_run(
                    created.id,
                    status="finished",
                    metrics=run.get("metrics") or {},
                    data_fingerprint=run.get("data_fingerprint") or {},
                )
                run_id = created.id
            return store.register_version(
                name or v["model"],
                root / SAVED_MODEL,
                run_id=run_id,
                metrics=v["metrics"],
                signature=v["signature"],
                description=v["description"],
                tags={**v["tags"], "imported_from": f"{v['model']}:{v['version']}"},
            )
