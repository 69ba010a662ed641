"""The artifact store: immutable version directories, behind one interface.

``ArtifactStore`` has four operations: ``put_dir`` (copy and hash a directory as a version),
``verify`` (the local directory of a URI after checking its hash), ``local_path`` (the same
without the check) and ``delete``. ``open_artifacts`` picks the implementation from the location:

- a local directory (default ``artifacts/``): ``<root>/<model>/<version>/`` holds a copy of the
  registered directory (a SavedModel; its contents are opaque here). Copies are written into
  ``<root>/.staging/`` and renamed into place, so a reader never sees half a version. URIs are
  ``file://`` URIs.
- ``gs://bucket/prefix``: ``artifacts_gcs.GcsArtifactStore``, objects in Cloud Storage, downloaded
  into a local cache to be read.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from mlkit.errors import ArtifactError
from mlkit.registry.hooks import pause_point

_CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredArtifact:
    uri: str
    sha256: str
    size_bytes: int


def tree_digest(root: Path) -> tuple[str, int]:
    """sha256 over every file (sorted relative POSIX path, NUL, length, contents) and total size."""
    digest = hashlib.sha256()
    total = 0
    files = sorted(
        (p for p in root.rglob("*") if p.is_file()), key=lambda p: p.relative_to(root).as_posix()
    )
    for path in files:
        size = path.stat().st_size
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(size.to_bytes(8, "big"))
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
        total += size
    return digest.hexdigest(), total


def copy_digest(source: Path, dest: Path) -> tuple[str, int]:
    """Copy the tree ``source`` to a new directory ``dest`` and return ``tree_digest(dest)``,
    reading each file once (the digest is of the bytes written)."""
    digest = hashlib.sha256()
    total = 0
    dest.mkdir(parents=True)
    made = {dest}
    entries = sorted(source.rglob("*"), key=lambda p: p.relative_to(source).as_posix())
    for path in entries:
        rel = path.relative_to(source)
        target = dest / rel
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            made.add(target)
            continue
        if not path.is_file():
            continue
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        with path.open("rb") as src, target.open("wb") as out:
            size = os.fstat(src.fileno()).st_size
            digest.update(rel.as_posix().encode() + b"\0")
            digest.update(size.to_bytes(8, "big"))
            copied = 0
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                copied += len(chunk)
        if copied != size:
            raise ArtifactError(
                f"{path} changed while it was being copied", hint="register it again"
            )
        total += size
    return digest.hexdigest(), total


class ArtifactStore(ABC):
    """Where versions' directories are kept; URIs identify them."""

    @abstractmethod
    def put_dir(self, source_dir: Path, model: str, version: int) -> StoredArtifact:
        """Copy ``source_dir`` as ``model`` version ``version``; only a complete copy gets a URI."""

    @abstractmethod
    def local_path(self, uri: str) -> Path:
        """A local directory with the artifact's files (not checked)."""

    @abstractmethod
    def verify(self, uri: str, sha256: str) -> Path:
        """``local_path`` after checking the files hash to ``sha256``; ArtifactError if not."""

    @abstractmethod
    def delete(self, uri: str) -> None:
        """Remove the artifact (undoing a failed registration, or deleting a version)."""


def open_artifacts(location: Path | str | ArtifactStore) -> ArtifactStore:
    """The artifact store for ``location``: a ``gs://bucket/prefix`` URI or a local directory."""
    if isinstance(location, ArtifactStore):
        return location
    text = str(location)
    if text.startswith("gs://"):
        from mlkit.registry.artifacts_gcs import GcsArtifactStore

        return GcsArtifactStore(text)
    if "://" in text:
        raise ArtifactError(
            f"unsupported artifact location {text!r}",
            hint="use a local directory or a gs://bucket/prefix URI (MLKIT_ARTIFACTS)",
        )
    return LocalArtifactStore(Path(text))


def check_digest(path: Path, sha256: str, label: str) -> Path:
    actual, _ = tree_digest(path)
    if actual != sha256:
        raise ArtifactError(
            f"artifact {label} was modified (sha256 {actual[:12]}, registered {sha256[:12]})",
            hint="versions are immutable; register the changed model as a new version",
        )
    return path


class LocalArtifactStore(ArtifactStore):
    """Version directories on the local filesystem."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()

    def put_dir(self, source_dir: Path, model: str, version: int) -> StoredArtifact:
        """Copy ``source_dir`` to ``<root>/<model>/<version>/`` (staging dir + rename) and hash it.

        A directory already at the destination is a leftover of a registration that never
        committed (the caller holds the model's version lock), so it is replaced.
        """
        source = Path(source_dir)
        if not source.is_dir():
            raise ArtifactError(
                f"cannot register {source}: not a directory",
                hint="pass the exported SavedModel directory",
            )
        staging_root = self.root / ".staging"
        staging = staging_root / f"{model}-{version}-{uuid.uuid4().hex}"
        dest = self.root / model / str(version)
        try:
            sha256, size = copy_digest(source, staging)  # creates the staging root if needed
            pause_point("artifact:copied")
            if not dest.parent.is_dir():
                dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.exists():
                shutil.rmtree(dest)
            staging.rename(dest)
        except (OSError, ArtifactError) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, ArtifactError):
                raise
            raise ArtifactError(
                f"cannot copy {source} into the artifact store {self.root}: {exc.strerror or exc}"
            ) from exc
        return StoredArtifact(uri=dest.as_uri(), sha256=sha256, size_bytes=size)

    def local_path(self, uri: str) -> Path:
        """The local directory behind ``uri``."""
        parsed = urlparse(uri)
        if parsed.scheme != "file":
            raise ArtifactError(
                f"artifact URI {uri} is not a file:// URI",
                hint="this artifact store only reads local files",
            )
        return Path(unquote(parsed.path))

    def verify(self, uri: str, sha256: str) -> Path:
        """The local directory behind ``uri`` after checking it still hashes to ``sha256``."""
        path = self.local_path(uri)
        if not path.is_dir():
            raise ArtifactError(
                f"artifact {path} is missing",
                hint="the artifact store was moved or cleaned; check MLKIT_ARTIFACTS",
            )
        return check_digest(path, sha256, str(path))

    def delete(self, uri: str) -> None:
        """Remove the directory behind ``uri`` (used to undo a registration that failed)."""
        shutil.rmtree(self.local_path(uri), ignore_errors=True)
