"""Artifacts in Cloud Storage (``gs://``) through the same store API, with the real
google-cloud-storage client talking to a fake of the JSON API on loopback."""

from __future__ import annotations

import shutil

import pytest

from mlkit.errors import ArtifactError
from mlkit.registry import open_store
from tests.registry.fake_gcs import FakeGcs


@pytest.fixture
def gcs(monkeypatch, tmp_path):
    with FakeGcs() as fake:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake.url)
        monkeypatch.setenv("MLKIT_ARTIFACT_CACHE", str(tmp_path / "cache"))
        yield fake


def test_register_read_verify_delete_on_gcs(gcs, registry_url, saved_model, tmp_path):
    with open_store(registry_url, "gs://models-bucket/team/registry") as store:
        mv = store.register_version("digits", saved_model("weights"))
        assert mv.artifact_uri.startswith("gs://models-bucket/team/registry/digits/1-")
        names = sorted(n for _, n in gcs.objects)
        prefix = mv.artifact_uri[len("gs://models-bucket/") :]
        assert names == [
            f"{prefix}/saved_model.pb",
            f"{prefix}/variables/variables.data-00000-of-00001",
            f"{prefix}/variables/variables.index",
        ]
        path = store.artifact_path(mv)  # downloaded into the cache and hashed
        assert (path / "saved_model.pb").read_bytes() == b"graph weights"
        assert path.is_relative_to(tmp_path / "cache")

        # A changed object in the bucket is caught when the version is read back.
        gcs.objects[("models-bucket", f"{prefix}/saved_model.pb")] = b"tampered"
        shutil.rmtree(path)  # not cached any more: the next read downloads the changed object
        with pytest.raises(ArtifactError, match="model 'digits' version 1: artifact gs://.* was"):
            store.artifact_path(mv)

        mv2 = store.register_version("digits", saved_model("two"))
        store.delete_version("digits", 2)
        assert not any(
            n.startswith(mv2.artifact_uri[len("gs://models-bucket/") :]) for _, n in gcs.objects
        )


def test_a_damaged_cache_copy_is_fetched_again(gcs, registry_url, saved_model):
    with open_store(registry_url, "gs://models-bucket") as store:
        mv = store.register_version("digits", saved_model())
        path = store.artifact_path(mv)
        (path / "saved_model.pb").write_bytes(b"bit rot in the cache")
        again = store.artifact_path(mv)
        assert (again / "saved_model.pb").read_bytes() == b"graph v1"


def test_bad_locations_are_one_line(registry_url, tmp_path):
    with pytest.raises(ArtifactError, match="invalid Cloud Storage URI 'gs://'"):
        open_store(registry_url, "gs://")
    with pytest.raises(ArtifactError, match="unsupported artifact location 's3://b'"):
        open_store(registry_url, "s3://b")
