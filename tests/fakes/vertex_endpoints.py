"""A fake Vertex AI (and the bit of Cloud Storage it stages models in) over REST on loopback.

The real google-cloud-aiplatform SDK is pointed at it with ``api_endpoint="http://127.0.0.1:PORT"``,
``api_transport="rest"`` and anonymous credentials; google-cloud-storage with
``STORAGE_EMULATOR_HOST``. It implements the calls the SDK makes for mlkit's Vertex target:

- Cloud Storage: multipart object upload, object get (the staged SavedModel files);
- models: ``models:upload`` (new model or new version under ``parentModel``, with aliases), get
  (``ID`` or ``ID@VERSION``), list with a ``display_name`` filter, ``listVersions``,
  ``mergeVersionAliases``;
- endpoints: create, get, list with a ``display_name`` filter, patch (traffic split),
  ``deployModel`` and ``undeployModel`` with a traffic split, ``predict``;
- long-running operations: every mutating call answers a finished operation, and
  ``operations/ID`` returns it again;
- batch prediction jobs (BigQuery in and out): create and get. The job runs at once, through
  ``batch_runner(fake, artifact_dir, source, destination) -> (output table, successful,
  failed)`` when a test sets it (e.g. reading and writing the BigQuery emulator), and is then
  ``JOB_STATE_SUCCEEDED``, with those counts as its ``completionStats``.

Like the real service it refuses a traffic split that does not sum to 100 or names an unknown
deployed model, an unknown parent model or endpoint, and an alias used by another version.
``predict`` really runs the uploaded SavedModel (its ``serving_default`` or ``predict``
signature, as Vertex's prebuilt TensorFlow container does), picking the deployed model by the
endpoint's traffic split. ``calls`` records every request as ``(METHOD, path)``.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import json
import random
import re
import tempfile
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

V1 = "type.googleapis.com/google.cloud.aiplatform.v1."
_LOC = r"/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeError(Exception):
    def __init__(self, code: int, message: str, status: str = "INVALID_ARGUMENT") -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _not_found(what: str) -> FakeError:
    return FakeError(404, f"{what} not found", "NOT_FOUND")


def _display_name_filter(query: dict[str, list[str]]) -> str | None:
    raw = (query.get("filter") or [""])[0]
    m = re.search(r'display_name\s*=\s*"([^"]*)"', raw)
    return m.group(1) if m else None


class FakeVertex:
    """The fake's state; ``serve()`` starts it on a free loopback port."""

    def __init__(self, seed: int = 0) -> None:
        self.lock = threading.RLock()
        self.calls: list[tuple[str, str]] = []
        self.objects: dict[tuple[str, str], bytes] = {}
        self.models: dict[str, dict[str, Any]] = {}  # model id -> {versions: {vid: resource}}
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        self.batch_jobs: dict[str, dict[str, Any]] = {}
        self.batch_runner: Any = (
            None  # (fake, artifact_uri, source, destination) -> (table, ok, failed)
        )
        self._ids = iter(range(1000, 10**9))
        self._random = random.Random(seed)
        self._loaded: dict[str, Any] = {}
        self._scratch = Path(tempfile.mkdtemp(prefix="fake-vertex-"))
        self.server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def serve(self) -> str:
        fake = self

        class Handler(_Handler):
            state = fake

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def next_id(self) -> str:
        return str(next(self._ids))

    # -- operations ----------------------------------------------------------------------------

    def operation(self, parent: str, response_type: str, response: dict) -> dict:
        name = f"{parent}/operations/{self.next_id()}"
        op = {
            "name": name,
            "done": True,
            "metadata": {
                "@type": V1 + "GenericOperationMetadata",
                "genericMetadata": {"createTime": _now(), "updateTime": _now()},
            },
            "response": {"@type": V1 + response_type, **response},
        }
        self.operations[name] = op
        return op

    # -- storage -------------------------------------------------------------------------------

    def upload_object(self, bucket: str, content_type: str, body: bytes) -> dict:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        parts = list(message.iter_parts())
        if len(parts) != 2:
            raise FakeError(400, "a multipart upload needs a metadata part and a media part")
        meta = json.loads(parts[0].get_payload(decode=True))
        data = parts[1].get_payload(decode=True) or b""
        name = meta["name"]
        self.objects[(bucket, name)] = data
        return {
            "kind": "storage#object",
            "bucket": bucket,
            "name": name,
            "id": f"{bucket}/{name}/1",
            "size": str(len(data)),
            "generation": "1",
            "metageneration": "1",
            "contentType": parts[1].get_content_type(),
            "timeCreated": _now(),
            "updated": _now(),
        }

    def staged_dir(self, uri: str) -> Path:
        """Copy the objects under a ``gs://`` prefix to a local directory (to load a model)."""
        m = re.match(r"gs://([^/]+)/(.*)", uri)
        if not m:
            raise FakeError(400, f"artifactUri must be a gs:// URI, got {uri!r}")
        bucket, prefix = m.group(1), m.group(2).rstrip("/") + "/"
        found = {
            k[1]: v for k, v in self.objects.items() if k[0] == bucket and k[1].startswith(prefix)
        }
        if not found:
            raise FakeError(400, f"no objects under {uri}", "FAILED_PRECONDITION")
        target = self._scratch / re.sub(r"[^A-Za-z0-9_.-]", "_", uri)
        for name, data in found.items():
            path = target / name[len(prefix) :]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return target

    # -- models --------------------------------------------------------------------------------

    def upload_model(self, parent: str, body: dict) -> dict:
        model = dict(body.get("model") or {})
        if not model.get("displayName"):
            raise FakeError(400, "model.display_name is required")
        if not model.get("artifactUri", "").startswith("gs://"):
            raise FakeError(400, "model.artifact_uri must be a Cloud Storage URI")
        self.staged_dir(model["artifactUri"])  # the files must have been staged
        aliases = list(model.get("versionAliases") or [])
        parent_model = body.get("parentModel")
        if parent_model:
            model_id = parent_model.rsplit("/", 1)[-1]
            if model_id not in self.models:
                raise _not_found(f"parent model {parent_model}")
            entry = self.models[model_id]
        else:
            model_id = body.get("modelId") or self.next_id()
            entry = self.models.setdefault(model_id, {"versions": {}})
        version_id = str(len(entry["versions"]) + 1)
        name = f"{parent}/models/{model_id}"
        for alias in (a for a in aliases if a != "default"):  # "default" moves to the new one
            for other in entry["versions"].values():
                if alias in other["versionAliases"]:
                    raise FakeError(
                        400, f"alias {alias} is already used by version {other['versionId']}"
                    )
        if not entry["versions"] or "default" in aliases:
            for other in entry["versions"].values():
                other["versionAliases"] = [a for a in other["versionAliases"] if a != "default"]
            aliases = ["default", *[a for a in aliases if a != "default"]]
        resource = {
            **model,
            "name": name,
            "versionId": version_id,
            "versionAliases": aliases,
            # What Vertex reports for a model served by a (prebuilt) container.
            "supportedDeploymentResourcesTypes": ["DEDICATED_RESOURCES"],
            "createTime": _now(),
            "updateTime": _now(),
            "versionCreateTime": _now(),
            "versionUpdateTime": _now(),
        }
        entry["versions"][version_id] = resource
        return self.operation(
            parent, "UploadModelResponse", {"model": name, "modelVersionId": version_id}
        )

    def get_model(self, parent: str, ref: str) -> dict:
        model_id, _, version = ref.partition("@")
        entry = self.models.get(model_id)
        if entry is None:
            raise _not_found(f"model {parent}/models/{model_id}")
        versions = entry["versions"]
        if not version:
            version = next(v for v, r in versions.items() if "default" in r["versionAliases"])
        elif version not in versions:
            by_alias = [v for v, r in versions.items() if version in r["versionAliases"]]
            if not by_alias:
                raise _not_found(f"model version {parent}/models/{ref}")
            version = by_alias[0]
        resource = dict(versions[version])
        resource["deployedModels"] = [
            {"endpoint": ep["name"], "deployedModelId": dm["id"]}
            for ep in self.endpoints.values()
            for dm in ep["deployedModels"]
            if dm["model"] == resource["name"] and dm["modelVersionId"] == version
        ]
        return resource

    def list_models(self, query: dict) -> dict:
        wanted = _display_name_filter(query)
        found = []
        for model_id in sorted(self.models):
            versions = self.models[model_id]["versions"]
            default = next(r for r in versions.values() if "default" in r["versionAliases"])
            if wanted is None or default["displayName"] == wanted:
                found.append(default)
        return {"models": found}

    def list_versions(self, model_id: str) -> dict:
        entry = self.models.get(model_id)
        if entry is None:
            raise _not_found(f"model {model_id}")
        return {"models": list(entry["versions"].values())}

    def merge_aliases(self, model_id: str, version: str, body: dict) -> dict:
        entry = self.models.get(model_id)
        if entry is None or version not in entry["versions"]:
            raise _not_found(f"model version {model_id}@{version}")
        resource = entry["versions"][version]
        for alias in body.get("versionAliases") or []:
            if alias.startswith("-"):
                resource["versionAliases"] = [
                    a for a in resource["versionAliases"] if a != alias[1:]
                ]
                continue
            for other in entry["versions"].values():
                if other is not resource and alias in other["versionAliases"]:
                    other["versionAliases"].remove(alias)
            if alias not in resource["versionAliases"]:
                resource["versionAliases"].append(alias)
        return resource

    # -- endpoints -----------------------------------------------------------------------------

    def create_endpoint(self, parent: str, body: dict) -> dict:
        if not body.get("displayName"):
            raise FakeError(400, "endpoint.display_name is required")
        endpoint_id = self.next_id()
        resource = {
            **body,
            "name": f"{parent}/endpoints/{endpoint_id}",
            "deployedModels": [],
            "trafficSplit": {},
            "etag": "1",
            "createTime": _now(),
            "updateTime": _now(),
        }
        self.endpoints[endpoint_id] = resource
        return self.operation(parent, "Endpoint", resource)

    def endpoint(self, endpoint_id: str) -> dict:
        resource = self.endpoints.get(endpoint_id)
        if resource is None:
            raise _not_found(f"endpoint {endpoint_id}")
        return resource

    def list_endpoints(self, query: dict) -> dict:
        wanted = _display_name_filter(query)
        found = [e for _, e in sorted(self.endpoints.items()) if wanted in (None, e["displayName"])]
        return {"endpoints": found}

    @staticmethod
    def _check_split(split: dict[str, int], ids: set[str]) -> dict[str, int]:
        split = {k: int(v) for k, v in split.items()}
        unknown = sorted(set(split) - ids)
        if unknown:
            raise FakeError(400, f"traffic split names unknown deployed model {unknown[0]}")
        if split and sum(split.values()) != 100:
            raise FakeError(400, f"traffic split must sum to 100, got {sum(split.values())}")
        if any(v < 0 for v in split.values()):
            raise FakeError(400, "traffic split percentages must not be negative")
        return {k: v for k, v in split.items() if v > 0}

    def deploy_model(self, parent: str, endpoint_id: str, body: dict) -> dict:
        ep = self.endpoint(endpoint_id)
        deployed = dict(body.get("deployedModel") or {})
        ref = deployed.get("model", "")
        model_name, _, version = ref.partition("@")
        model_id = model_name.rsplit("/", 1)[-1]
        resource = self.get_model(parent, f"{model_id}@{version}" if version else model_id)
        if not (deployed.get("dedicatedResources") or deployed.get("automaticResources")):
            raise FakeError(400, "deployed_model needs dedicated_resources or automatic_resources")
        new_id = self.next_id()
        deployed.update(
            id=new_id,
            model=resource["name"],
            modelVersionId=resource["versionId"],
            createTime=_now(),
        )
        ids = {dm["id"] for dm in ep["deployedModels"]} | {"0"}
        split = body.get("trafficSplit")
        if split is None:
            split = {"0": 100} if not ep["deployedModels"] else {**ep["trafficSplit"], "0": 0}
        split = self._check_split(split, ids)
        ep["deployedModels"].append(deployed)
        ep["trafficSplit"] = {(new_id if k == "0" else k): v for k, v in split.items()}
        ep["etag"] = str(int(ep["etag"]) + 1)
        return self.operation(parent, "DeployModelResponse", {"deployedModel": deployed})

    def undeploy_model(self, parent: str, endpoint_id: str, body: dict) -> dict:
        ep = self.endpoint(endpoint_id)
        gone = body.get("deployedModelId")
        if gone not in {dm["id"] for dm in ep["deployedModels"]}:
            raise _not_found(f"deployed model {gone} on endpoint {endpoint_id}")
        rest = {dm["id"] for dm in ep["deployedModels"]} - {gone}
        split = body.get("trafficSplit")
        if split is None:
            split = {k: v for k, v in ep["trafficSplit"].items() if k != gone}
            if ep["trafficSplit"].get(gone) and rest:
                raise FakeError(
                    400,
                    f"deployed model {gone} still receives traffic; give a new traffic split",
                    "FAILED_PRECONDITION",
                )
        split = self._check_split(split, rest)
        ep["deployedModels"] = [dm for dm in ep["deployedModels"] if dm["id"] != gone]
        ep["trafficSplit"] = split
        ep["etag"] = str(int(ep["etag"]) + 1)
        return self.operation(parent, "UndeployModelResponse", {})

    def patch_endpoint(self, endpoint_id: str, body: dict, query: dict) -> dict:
        ep = self.endpoint(endpoint_id)
        mask = ",".join(query.get("updateMask") or query.get("update_mask") or [])
        fields = {f.strip() for f in mask.split(",") if f.strip()}
        if "traffic_split" in fields or "trafficSplit" in fields:
            ids = {dm["id"] for dm in ep["deployedModels"]}
            ep["trafficSplit"] = self._check_split(body.get("trafficSplit") or {}, ids)
        for key in ("displayName", "description", "labels"):
            if key in body and (key in fields or _snake(key) in fields):
                ep[key] = body[key]
        logging_key = "predictRequestResponseLoggingConfig"
        if logging_key in fields or _snake(logging_key) in fields:
            ep[logging_key] = self._check_logging(body.get(logging_key) or {})
        ep["etag"] = str(int(ep["etag"]) + 1)
        return ep

    @staticmethod
    def _check_logging(config: dict) -> dict:
        """Vertex AI's checks of a request-response logging config."""
        rate = float(config.get("samplingRate", 0.0))
        uri = (config.get("bigqueryDestination") or {}).get("outputUri", "")
        if config.get("enabled") and not 0.0 < rate <= 1.0:
            raise FakeError(400, "sampling_rate must be in (0, 1]")
        if config.get("enabled") and not re.fullmatch(r"bq://[\w.-]+\.\w+(\.\w+)?", uri):
            raise FakeError(400, f"invalid BigQuery destination {uri!r}")
        return config

    def predict(self, endpoint_id: str, body: dict) -> dict:
        ep = self.endpoint(endpoint_id)
        split = ep["trafficSplit"]
        if not split:
            raise FakeError(
                400,
                f"endpoint {endpoint_id} has no deployed model taking traffic",
                "FAILED_PRECONDITION",
            )
        instances = body.get("instances")
        if not isinstance(instances, list) or not instances:
            raise FakeError(400, "instances must be a non-empty list")
        ids = sorted(split)
        chosen = self._random.choices(ids, weights=[split[i] for i in ids], k=1)[0]
        deployed = next(dm for dm in ep["deployedModels"] if dm["id"] == chosen)
        model_id = deployed["model"].rsplit("/", 1)[-1]
        resource = self.models[model_id]["versions"][deployed["modelVersionId"]]
        predictions = self._run(resource["artifactUri"], instances)
        return {
            "predictions": predictions,
            "deployedModelId": chosen,
            "model": deployed["model"],
            "modelDisplayName": resource["displayName"],
            "modelVersionId": deployed["modelVersionId"],
        }

    def create_batch_job(self, parent: str, body: dict) -> dict:
        model_ref = body["model"].rsplit("/models/", 1)[1]
        model = self.get_model(parent, model_ref)
        source = body["inputConfig"]["bigquerySource"]["inputUri"]
        destination = body["outputConfig"]["bigqueryDestination"]["outputUri"]
        if body["inputConfig"].get("instancesFormat") != "bigquery":
            raise FakeError(400, "the fake runs BigQuery batch jobs only")
        table, counts = "", {}
        if self.batch_runner is not None:
            table, successful, failed = self.batch_runner(
                self, model["artifactUri"], source, destination
            )
            # int64 fields travel as JSON strings in Vertex AI's REST API
            counts = {"successfulCount": str(successful), "failedCount": str(failed)}
        job_id = self.next_id()
        job = {
            **body,
            "name": f"{parent}/batchPredictionJobs/{job_id}",
            "model": model["name"],
            "modelVersionId": model["versionId"],
            "state": "JOB_STATE_SUCCEEDED",
            "createTime": _now(),
            "startTime": _now(),
            "endTime": _now(),
            "outputInfo": {"bigqueryOutputDataset": destination, "bigqueryOutputTable": table},
            "completionStats": counts,
        }
        self.batch_jobs[job_id] = job
        return job

    def batch_job(self, parent: str, job_id: str) -> dict:
        if job_id not in self.batch_jobs:
            raise _not_found(f"batch prediction job {parent}/batchPredictionJobs/{job_id}")
        return self.batch_jobs[job_id]

    def _run(self, artifact_uri: str, instances: list) -> list:
        import numpy as np
        import tensorflow as tf

        if artifact_uri not in self._loaded:
            self._loaded[artifact_uri] = tf.saved_model.load(str(self.staged_dir(artifact_uri)))
        loaded = self._loaded[artifact_uri]
        signatures = loaded.signatures
        fn = None
        # A float signature first; then one on DT_STRING values (an mlkit export of STRING or
        # BYTES features), which TF Serving feeds from JSON strings and {"b64": ...}.
        for takes in (
            lambda s: s.dtype.is_floating,
            lambda s: s.dtype.is_floating or (s.dtype == tf.string and s.shape.rank == 1),
        ):
            for name in ("serving_default", "predict"):
                if fn is None and name in signatures:
                    spec = signatures[name].structured_input_signature[1]
                    if spec and all(takes(s) for s in spec.values()):
                        fn = signatures[name]
        if fn is None:
            raise FakeError(400, "the model has no signature taking float or string inputs")
        spec = fn.structured_input_signature[1]
        names = sorted(spec)
        if len(names) == 1 and not isinstance(instances[0], dict):
            instances = [{names[0]: i} for i in instances]
        try:
            inputs = {
                n: tf.constant(
                    [_string_value(i[n]) for i in instances]
                    if spec[n].dtype == tf.string
                    else np.asarray([i[n] for i in instances], dtype=np.float32)
                )
                for n in names
            }
            outputs = {k: _jsonable(v.numpy().tolist()) for k, v in fn(**inputs).items()}
        except (KeyError, ValueError, TypeError, tf.errors.OpError) as exc:
            raise FakeError(400, f"prediction failed: {str(exc).splitlines()[0]}") from exc
        return [{k: outputs[k][i] for k in sorted(outputs)} for i in range(len(instances))]


def _string_value(value: Any) -> bytes:
    """A JSON value for a DT_STRING input, as TF Serving's REST API reads it: ``{"b64": ...}`` is
    base64-decoded, a string is taken as UTF-8."""
    import base64

    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"a string input takes a string or {{'b64': ...}}, got {value!r:.40}")


def _jsonable(value: Any) -> Any:
    """Tensor values as JSON: strings (bytes in TensorFlow) decoded, as Vertex's container does."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


class _Handler(BaseHTTPRequestHandler):
    state: FakeVertex
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        raw = self._body()
        with self.state.lock:
            self.state.calls.append((self.command, path))
            try:
                self._reply(200, self._route(self.command, path, query, raw))
            except FakeError as exc:
                self._reply(
                    exc.code,
                    {"error": {"code": exc.code, "message": exc.message, "status": exc.status}},
                )
            except Exception as exc:  # a bug in the fake: answer 500 like a server would
                message = f"{type(exc).__name__}: {exc}"
                self._reply(500, {"error": {"code": 500, "message": message, "status": "INTERNAL"}})

    do_GET = do_POST = do_PATCH = do_DELETE = _handle

    def _route(self, method: str, path: str, query: dict, raw: bytes) -> dict:
        s = self.state
        body = json.loads(raw) if raw and not path.startswith("/upload/") else {}
        if method == "POST" and (m := re.fullmatch(r"/upload/storage/v1/b/([^/]+)/o", path)):
            return s.upload_object(m.group(1), self.headers.get("Content-Type", ""), raw)
        if method == "GET" and (m := re.fullmatch(r"/storage/v1/b/([^/]+)", path)):
            return {"kind": "storage#bucket", "name": m.group(1), "location": "US-CENTRAL1"}
        m = re.match(_LOC + r"(?P<rest>/.*)?$", path)
        if m is None:
            raise FakeError(404, f"the fake has no route {method} {path}", "NOT_FOUND")
        parent = f"projects/{m['project']}/locations/{m['location']}"
        rest = m["rest"] or ""
        routes: list[tuple[str, str, Any]] = [
            ("POST", r"/models:upload", lambda: s.upload_model(parent, body)),
            ("GET", r"/models", lambda: s.list_models(query)),
            ("GET", r"/models/([^/:]+):listVersions", lambda i: s.list_versions(i)),
            (
                "POST",
                r"/models/([^/:@]+)@([^/:]+):mergeVersionAliases",
                lambda i, v: s.merge_aliases(i, v, body),
            ),
            ("GET", r"/models/([^/:]+)", lambda ref: s.get_model(parent, ref)),
            ("POST", r"/endpoints", lambda: s.create_endpoint(parent, body)),
            ("GET", r"/endpoints", lambda: s.list_endpoints(query)),
            ("GET", r"/endpoints/([^/:]+)", lambda i: s.endpoint(i)),
            ("PATCH", r"/endpoints/([^/:]+)", lambda i: s.patch_endpoint(i, body, query)),
            ("POST", r"/endpoints/([^/:]+):deployModel", lambda i: s.deploy_model(parent, i, body)),
            (
                "POST",
                r"/endpoints/([^/:]+):undeployModel",
                lambda i: s.undeploy_model(parent, i, body),
            ),
            ("POST", r"/endpoints/([^/:]+):predict", lambda i: s.predict(i, body)),
            ("GET", r"/operations/([^/:]+)", lambda i: s.operations[f"{parent}/operations/{i}"]),
            ("POST", r"/batchPredictionJobs", lambda: s.create_batch_job(parent, body)),
            ("GET", r"/batchPredictionJobs/([^/:]+)", lambda i: s.batch_job(parent, i)),
        ]
        for verb, pattern, fn in routes:
            if verb == method and (hit := re.fullmatch(pattern, rest)):
                return fn(*hit.groups())
        raise FakeError(404, f"the fake has no route {method} {path}", "NOT_FOUND")


@contextlib.contextmanager
def running_fake(monkeypatch, seed: int = 5):
    """A fake Vertex AI on loopback, with the ``MLKIT_VERTEX_*`` settings pointing the real SDK
    (and google-cloud-storage) at it for the test."""
    vertex = FakeVertex(seed=seed)
    url = vertex.serve()
    for key, value in {
        "MLKIT_VERTEX_PROJECT": "proj-1",
        "MLKIT_VERTEX_STAGING_BUCKET": "gs://mlkit-staging",
        "MLKIT_VERTEX_API_ENDPOINT": url,
        "MLKIT_VERTEX_CREDENTIALS": "anonymous",
        "STORAGE_EMULATOR_HOST": url,
    }.items():
        monkeypatch.setenv(key, value)
    try:
        yield vertex
    finally:
        vertex.close()
