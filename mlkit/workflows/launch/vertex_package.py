"""``mlkit train --backend vertex`` without an own image: mlkit as a Python package in Google's
prebuilt TensorFlow 2.15 training container.

Without ``MLKIT_VERTEX_IMAGE`` (or ``[vertex] image``), the job's worker pools take a
``python_package_spec``: Vertex AI starts the prebuilt container (Python 3.10, TensorFlow 2.15; the
GPU build when the job has an accelerator), ``pip install``-s the package staged to Cloud Storage
and runs :data:`PACKAGE_MODULE` (``python -m mlkit.workflows.launch.vertex_task``), which writes the
experiment and runs ``mlkit train`` on it. Next to it goes AdaNet 0.9.0's wheel with the
requirements it really imports (:func:`adanet_wheel`): as published it asks for ``protobuf<4`` and
``absl-py<1.0``, which TensorFlow 2.15 refuses, so pip could not install mlkit beside it. The
package is mlkit's wheel, built from the source
checkout with ``uv build`` (``MLKIT_VERTEX_PACKAGE`` names one already built: a local file or a
``gs://`` URI), and staged under the staging bucket at a name that its content fixes, so an
unchanged mlkit is uploaded once.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from mlkit.errors import MlkitError, UsageError

__all__ = [
    "ADANET_REQUIRES",
    "PACKAGE_MODULE",
    "adanet_wheel",
    "build_package",
    "prebuilt_image",
    "stage_package",
    "staged_package",
    "staged_requirements",
]

PACKAGE_MODULE = "mlkit.workflows.launch.vertex_task"
# What AdaNet 0.9.0 really imports: pyproject's [[tool.uv.dependency-metadata]] (a test keeps
# the two equal).
ADANET_REQUIRES = ("absl-py", "numpy<2", "protobuf", "six")
# Google's prebuilt training containers for TensorFlow 2.15 (Python 3.10), one per continent.
_PREBUILT = "{region}-docker.pkg.dev/vertex-ai/training/tf-{kind}.2-15.py310:latest"


def prebuilt_image(location: str, accelerator_type: str | None) -> str:
    """The prebuilt TensorFlow 2.15 training image for ``location``: GPU with an accelerator."""
    region = {"europe": "europe", "asia": "asia", "australia": "asia"}.get(
        location.split("-", 1)[0], "us"
    )
    return _PREBUILT.format(region=region, kind="gpu" if accelerator_type else "cpu")


def _source_root() -> Path:
    root = Path(__file__).resolve().parents[3]  # mlkit/workflows/launch/ -> the checkout
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file() or 'name = "mlkit"' not in pyproject.read_text(encoding="utf-8"):
        raise UsageError(
            "--backend vertex without an image builds mlkit's package from its source checkout, "
            f"and this mlkit ({root}) has none",
            hint="set MLKIT_VERTEX_PACKAGE to a built mlkit wheel (`uv build --wheel` in the "
            "checkout) or MLKIT_VERTEX_IMAGE to an image with mlkit installed",
        )
    return root


def build_package(out_dir: Path, uv: str | None = None) -> Path:
    """Build mlkit's wheel from its source checkout into ``out_dir`` with ``uv build`` (``uv``,
    else ``MLKIT_UV``, else the ``uv`` on PATH)."""
    root = _source_root()
    uv = uv or os.environ.get("MLKIT_UV") or shutil.which("uv")
    if not uv:
        raise UsageError(
            "--backend vertex without an image builds mlkit's package with uv, "
            "and there is no `uv` on PATH",
            hint="install uv (https://docs.astral.sh/uv/), or set MLKIT_VERTEX_PACKAGE to a "
            "built mlkit wheel, or MLKIT_VERTEX_IMAGE to an image with mlkit installed",
        )
    try:
        done = subprocess.run(
            [uv, "build", "--wheel", "--out-dir", str(out_dir), str(root)],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise MlkitError(f"building mlkit's package with `uv build` failed: {exc}") from exc
    wheels = sorted(out_dir.glob("mlkit-*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        last = (done.stderr.strip().splitlines() or ["no wheel was written"])[-1]
        raise MlkitError(f"building mlkit's package with `uv build` failed: {last}")
    return wheels[0]


def stage_package(package: Path, staging_bucket: str, project: str | None = None) -> str:
    """Upload ``package`` under ``staging_bucket``/mlkit-packages/SHA/ (skipped when that object
    is there already); return its ``gs://`` URI. The file name stays the wheel's own: pip reads
    the version and tags from it."""
    digest = hashlib.sha256(package.read_bytes()).hexdigest()[:16]
    bucket_name, _, prefix = staging_bucket.removeprefix("gs://").partition("/")
    name = "/".join(p for p in (prefix.strip("/"), "mlkit-packages", digest, package.name) if p)
    from google.cloud import storage

    try:
        bucket = storage.Client(project=project).bucket(bucket_name)
        blob = bucket.blob(name)
        if not blob.exists():
            blob.upload_from_filename(str(package), content_type="application/zip")
    except Exception as exc:  # credentials, permissions, a missing bucket: one line
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MlkitError(
            f"cannot stage mlkit's package to gs://{bucket_name}/{name}: {message}",
            hint="check MLKIT_VERTEX_STAGING_BUCKET and `gcloud auth application-default login`",
        ) from exc
    return f"gs://{bucket_name}/{name}"


def staged_package(staging_bucket: str, project: str | None, given: str | None = None) -> str:
    """The ``gs://`` URI of the package the job installs: ``given`` (``MLKIT_VERTEX_PACKAGE``) as it
    is when it is in Cloud Storage, staged when it is a local file, else mlkit's wheel built now."""
    if given and given.startswith("gs://"):
        return given
    if given:
        path = Path(given).expanduser()
        if not path.is_file() or not path.name.endswith((".whl", ".tar.gz")):
            raise UsageError(
                f"MLKIT_VERTEX_PACKAGE: expected a built mlkit wheel or sdist (a .whl or .tar.gz "
                f"file, or a gs:// URI), got {given!r}"
            )
        return stage_package(path, staging_bucket, project)
    with tempfile.TemporaryDirectory(prefix="mlkit-package-") as tmp:
        return stage_package(build_package(Path(tmp)), staging_bucket, project)


def adanet_wheel(out_dir: Path) -> Path:
    """AdaNet as installed here, as a wheel whose ``Requires-Dist`` are :data:`ADANET_REQUIRES`
    (the code and the rest of its metadata unchanged)."""
    dist = metadata.distribution("adanet")
    info = f"adanet-{dist.version}.dist-info"
    skip = {f"{info}/RECORD", f"{info}/INSTALLER", f"{info}/REQUESTED", f"{info}/direct_url.json"}
    files = sorted(
        str(f)
        for f in dist.files or ()
        if str(f).startswith(("adanet/", f"{info}/"))
        and "__pycache__" not in str(f)
        and str(f) not in skip
    )
    if not any(f.startswith("adanet/") for f in files):
        raise MlkitError("cannot package AdaNet for the job: its installed files are not listed")
    wheel = out_dir / f"adanet-{dist.version}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as out:
        for name in files:
            data = Path(str(dist.locate_file(name))).read_bytes()
            if name == f"{info}/METADATA":
                lines = [
                    line
                    for line in data.decode("utf-8").split("\n")
                    if not line.startswith("Requires-Dist:")
                ]
                head = lines.index("") if "" in lines else len(lines)  # the body follows
                lines[head:head] = [f"Requires-Dist: {r}" for r in ADANET_REQUIRES]
                data = "\n".join(lines).encode("utf-8")
            out.writestr(_entry(name), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{name},sha256={digest.decode()},{len(data)}")
        record.append(f"{info}/RECORD,,")
        out.writestr(_entry(f"{info}/RECORD"), "\n".join(record) + "\n")
    return wheel


def _entry(name: str) -> zipfile.ZipInfo:
    """A zip entry with a fixed time: the same AdaNet gives the same bytes, so it is staged once."""
    entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    entry.compress_type = zipfile.ZIP_DEFLATED
    entry.external_attr = 0o644 << 16
    return entry


def staged_requirements(staging_bucket: str, project: str | None) -> tuple[str, ...]:
    """The ``gs://`` URIs of what the prebuilt image installs with mlkit: AdaNet's wheel."""
    with tempfile.TemporaryDirectory(prefix="mlkit-adanet-") as tmp:
        return (stage_package(adanet_wheel(Path(tmp)), staging_bucket, project),)
