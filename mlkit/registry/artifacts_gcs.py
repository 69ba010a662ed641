"""Artifacts in Google Cloud Storage: ``MLKIT_ARTIFACTS=gs://bucket/prefix``.

Each registration uploads under a fresh name, ``<prefix>/<model>/<version>-<random>/``, so an
upload cut short by a crash never mixes with a later one and a version's URI names exactly the
objects it was hashed from. The directory is copied to a local staging directory and hashed
before the upload, so the hash describes what was uploaded. Reading downloads the objects into a
local cache (``~/.cache/mlkit/artifacts`` or ``MLKIT_ARTIFACT_CACHE``) and checks the hash there.

Uses the real ``google-cloud-storage`` client with the environment's credentials;
``STORAGE_EMULATOR_HOST`` points it at an emulator (the tests run a fake JSON API on loopback).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from mlkit.errors import ArtifactError
from mlkit.registry.artifacts import ArtifactStore, StoredArtifact, check_digest, copy_digest


def _split(uri: str) -> tuple[str, str]:
    rest = uri[len("gs://") :] if uri.startswith("gs://") else ""
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ArtifactError(
            f"invalid Cloud Storage URI {uri!r}", hint="expected gs://BUCKET or gs://BUCKET/PREFIX"
        )
    return bucket, prefix.strip("/")


class GcsArtifactStore(ArtifactStore):
    def __init__(self, uri: str, cache_dir: Path | None = None) -> None:
        self.bucket_name, self.prefix = _split(uri)
        default_cache = Path.home() / ".cache" / "mlkit" / "artifacts"
        self.cache_dir = Path(cache_dir or os.environ.get("MLKIT_ARTIFACT_CACHE") or default_cache)
        self._bucket: Any = None

    @property
    def bucket(self) -> Any:
        if self._bucket is None:
            from google.cloud import storage

            project = os.environ.get("GOOGLE_CLOUD_PROJECT")
            try:
                client = storage.Client(project=project)
            except Exception as exc:  # missing credentials, mostly
                raise ArtifactError(
                    f"cannot reach Cloud Storage for gs://{self.bucket_name}: {exc}",
                    hint="run `gcloud auth application-default login` or set "
                    "GOOGLE_APPLICATION_CREDENTIALS",
                ) from exc
            self._bucket = client.bucket(self.bucket_name)
        return self._bucket

    def _fail(self, action: str, exc: Exception) -> ArtifactError:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return ArtifactError(f"cannot {action} gs://{self.bucket_name}: {message}")

    def put_dir(self, source_dir: Path, model: str, version: int) -> StoredArtifact:
        source = Path(source_dir)
        if not source.is_dir():
            raise ArtifactError(
                f"cannot register {source}: not a directory",
                hint="pass the exported SavedModel directory",
            )
        name = "/".join(p for p in (self.prefix, model, f"{version}-{uuid.uuid4().hex[:12]}") if p)
        with tempfile.TemporaryDirectory(prefix="mlkit-upload-") as tmp:
            staging = Path(tmp) / "a"
            sha256, size = copy_digest(source, staging)
            try:
                for path in sorted(p for p in staging.rglob("*") if p.is_file()):
                    blob = self.bucket.blob(f"{name}/{path.relative_to(staging).as_posix()}")
                    blob.upload_from_filename(str(path), checksum=None)
            except ArtifactError:
                raise
            except Exception as exc:
                self.delete(f"gs://{self.bucket_name}/{name}")
                raise self._fail(f"upload {source} to", exc) from exc
        return StoredArtifact(uri=f"gs://{self.bucket_name}/{name}", sha256=sha256, size_bytes=size)

    def _objects(self, uri: str) -> tuple[str, list[Any]]:
        bucket, name = _split(uri)
        if bucket != self.bucket_name or not name:
            raise ArtifactError(f"artifact URI {uri} is not in gs://{self.bucket_name}")
        try:
            return name, list(self.bucket.client.list_blobs(self.bucket, prefix=f"{name}/"))
        except ArtifactError:
            raise
        except Exception as exc:
            raise self._fail("list", exc) from exc

    def local_path(self, uri: str) -> Path:
        dest = self.cache_dir / hashlib.sha256(uri.encode()).hexdigest()[:32]
        if dest.is_dir():
            return dest
        name, blobs = self._objects(uri)
        if not blobs:
            raise ArtifactError(
                f"artifact {uri} is missing", hint="the bucket was cleaned; check MLKIT_ARTIFACTS"
            )
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        staging = self.cache_dir / f".{dest.name}-{uuid.uuid4().hex}"
        try:
            for blob in blobs:
                target = staging / blob.name[len(name) + 1 :]
                target.parent.mkdir(parents=True, exist_ok=True)
                blob.download_to_filename(str(target), checksum=None)
            if not dest.exists():
                staging.rename(dest)
        except Exception as exc:
            raise self._fail(f"download {uri} from", exc) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return dest

    def verify(self, uri: str, sha256: str) -> Path:
        path = self.local_path(uri)
        try:
            return check_digest(path, sha256, uri)
        except ArtifactError:
            # The cached copy may be the damaged one: fetch the objects again and check those.
            shutil.rmtree(path, ignore_errors=True)
            return check_digest(self.local_path(uri), sha256, uri)

    def delete(self, uri: str) -> None:
        _, blobs = self._objects(uri)
        for blob in blobs:
            try:
                blob.delete()
            except Exception as exc:
                raise self._fail(f"delete {uri} from", exc) from exc
        shutil.rmtree(self.cache_dir / hashlib.sha256(uri.encode()).hexdigest()[:32], True)
