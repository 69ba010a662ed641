"""A fake Cloud Run Admin API (v2, REST) on loopback, whose services answer predictions.

The real google-cloud-run client is pointed at it with ``client_options={"api_endpoint":
"http://127.0.0.1:PORT"}``, ``transport="rest"`` and anonymous credentials; google-cloud-storage
at the fake Cloud Storage of ``tests/registry/fake_gcs.py`` with ``STORAGE_EMULATOR_HOST``. It
implements what the SDK sends for mlkit's Cloud Run target:

- services: create (``?serviceId=``), get, list, patch (update), delete; each create or update
  whose template names a new revision creates that revision;
- revisions: list, per service;
- long-running operations: every mutating call answers a finished operation.

Like the real service it refuses a traffic split that does not sum to 100 or names a revision
that does not exist (and is not the one being created), a revision name that is taken by a
different template, and a template without a container. The **service URL** is a real mlkit
local endpoint (it speaks TensorFlow Serving's REST API): it serves, for each service, the
SavedModel each revision mounts (read from the fake Cloud Storage at the revision's
``only-dir``), following the service's traffic split; a tag's URL (``vN``) is the same endpoint,
which the client asks for that version. ``calls`` records ``(METHOD, path)``; ``cold_starts``
counts first requests to a revision with no instance (scale from zero).
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mlkit.serving.routing import Target

RUN = "type.googleapis.com/google.cloud.run.v2."
_LOC = r"/v2/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
_REVISION = 2  # TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
_LATEST = 1


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeError(Exception):
    def __init__(self, code: int, message: str, status: str = "INVALID_ARGUMENT") -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _kind(value: object) -> int:
    """The allocation type, sent as a number (the SDK's enum-encoding=int) or a name."""
    if isinstance(value, int):
        return value
    return _REVISION if str(value).endswith("REVISION") else _LATEST


class FakeCloudRun:
    def __init__(self, gcs: Any) -> None:
        self.gcs = gcs  # tests/registry/fake_gcs.FakeGcs
        self.services: dict[str, dict] = {}  # full name -> Service JSON
        self.revisions: dict[str, dict] = {}  # full name -> Revision JSON
        self.calls: list[tuple[str, str]] = []
        self.bodies: list[dict] = []
        self.cold_starts = 0
        self._warm: set[str] = set()
        self._lock = threading.Lock()
        self._dirs = tempfile.TemporaryDirectory(prefix="fake-cloud-run-")
        self._server: ThreadingHTTPServer | None = None
        self.endpoint: Any = None  # the mlkit local endpoint behind every service URL

    # -- lifecycle -------------------------------------------------------------------------------

    def serve(self) -> str:
        from mlkit.serving.server import make_server

        self.endpoint = make_server(self.resolve, self.deployed, port=0)
        threading.Thread(target=self.endpoint.serve_forever, daemon=True).start()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self.endpoint is not None:
            self.endpoint.shutdown()
            self.endpoint.server_close()
        self._dirs.cleanup()

    # -- what the service URL serves ------------------------------------------------------------

    def _service_of(self, model: str) -> dict | None:
        for service in self.services.values():
            env = service["template"]["containers"][0].get("env", [])
            if any(e.get("name") == "MODEL_NAME" and e.get("value") == model for e in env):
                return service
        return None

    def resolve(self, model: str) -> list[Target]:
        with self._lock:
            service = self._service_of(model)
            if service is None:
                return []
            targets = []
            for status in service["trafficStatuses"]:
                if status["percent"] <= 0:
                    continue
                revision = self.revisions[f"{service['name']}/revisions/{status['revision']}"]
                version, path = self._mounted(revision)
                if status["revision"] not in self._warm:
                    self._warm.add(status["revision"])
                    self.cold_starts += 1
                targets.append(Target(version, path, status["percent"], status["revision"]))
            return targets

    def deployed(self) -> list[dict]:
        return []

    def _mounted(self, revision: dict) -> tuple[int, Path]:
        """The SavedModel a revision's TensorFlow Serving would load: the one numbered version
        directory under the GCS volume's ``only-dir``."""
        volume = revision["volumes"][0]["gcs"]
        only = next(o.split("=", 1)[1] for o in volume["mountOptions"] if o.startswith("only-dir="))
        root = Path(self._dirs.name) / revision["name"].rsplit("/", 1)[-1]
        if not root.exists():
            for (bucket, name), data in self.gcs.objects.items():
                if bucket == volume["bucket"] and name.startswith(only + "/"):
                    target = root / name[len(only) + 1 :]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
        (version_dir,) = [p for p in root.iterdir() if p.name.isdigit()]
        return int(version_dir.name), version_dir

    # -- the Admin API -------------------------------------------------------------------------

    def _operation(self, location: str, response: dict) -> dict:
        return {
            "name": f"{location}/operations/op-{len(self.calls)}",
            "done": True,
            "response": {"@type": RUN + "Service", **response},
        }

    def _revise(self, service: dict, template: dict) -> None:
        """Create the template's revision unless it exists with this template."""
        if not template.get("containers"):
            raise FakeError(400, "template.containers: a container is required")
        short = (
            template.get("revision")
            or f"{service['name'].rsplit('/', 1)[-1]}-{len(self.revisions):05d}"
        )
        full = f"{service['name']}/revisions/{short}"
        existing = self.revisions.get(full)
        if existing is not None:
            if existing["template"] != template:
                raise FakeError(409, f"Revision named '{short}' with different configuration "
                                "already exists.", "ALREADY_EXISTS")  # fmt: skip
            return
        self.revisions[full] = {
            "name": full,
            "service": service["name"].rsplit("/", 1)[-1],
            "template": template,
            "volumes": template.get("volumes", []),
            "scaling": template.get("scaling", {}),
            "createTime": _now(),
        }
        service["latestCreatedRevision"] = full
        service["latestReadyRevision"] = full

    def _route(self, service: dict, traffic: list[dict]) -> None:
        """Check and set the split; statuses name revisions, tags get their own URL."""
        own = {n.rsplit("/", 1)[-1] for n in self.revisions if n.startswith(service["name"] + "/")}
        statuses = []
        for t in traffic or [{"type": _LATEST, "percent": 100}]:
            kind = _kind(t.get("type", _LATEST))
            name = t.get("revision", "")
            if kind == _LATEST:
                name = service["latestReadyRevision"].rsplit("/", 1)[-1]
            elif name not in own:
                raise FakeError(400, f"Revision '{name}' does not exist.", "NOT_FOUND")
            status = {"type": kind, "revision": name, "percent": int(t.get("percent", 0))}
            if t.get("tag"):
                status["tag"] = t["tag"]
                status["uri"] = self.endpoint.url  # the tag's URL: the same local endpoint
            statuses.append(status)
        if sum(s["percent"] for s in statuses) != 100:
            raise FakeError(400, "Traffic percentages must sum to 100.")
        service["traffic"] = traffic
        service["trafficStatuses"] = statuses

    def _handle(self, method: str, path: str, query: dict, body: dict) -> tuple[int, dict]:
        self.calls.append((method, path))
        self.bodies.append(body)
        if m := re.fullmatch(_LOC + r"/services", path):
            location = path.rsplit("/services", 1)[0].removeprefix("/v2/")
            if method == "GET":
                return 200, {"services": list(self.services.values())}
            sid = (query.get("serviceId") or [""])[0]
            name = f"{location}/services/{sid}"
            if not re.fullmatch(r"[a-z]([-a-z0-9]{0,47}[a-z0-9])?", sid):
                raise FakeError(400, f"service id '{sid}' is not valid")
            if name in self.services:
                raise FakeError(409, f"Resource '{sid}' already exists.", "ALREADY_EXISTS")
            service = {**body, "name": name, "uid": f"uid-{sid}", "generation": "1"}
            service.update(uri=self.endpoint.url, createTime=_now(), updateTime=_now())
            self._revise(service, body.get("template", {}))
            self._route(service, body.get("traffic", []))
            self.services[name] = service
            return 200, self._operation(location, service)
        if m := re.fullmatch(_LOC + r"/services/(?P<sid>[^/]+)/revisions", path):
            parent = path.removeprefix("/v2/").rsplit("/revisions", 1)[0]
            found = [r for n, r in self.revisions.items() if n.startswith(parent + "/")]
            return 200, {"revisions": [{k: v for k, v in r.items() if k != "template"}
                                       for r in found]}  # fmt: skip
        if m := re.fullmatch(_LOC + r"/services/(?P<sid>[^/]+)", path):
            name = path.removeprefix("/v2/")
            location = name.rsplit("/services/", 1)[0]
            service = self.services.get(name)
            if service is None:
                raise FakeError(404, f"Resource '{m['sid']}' does not exist.", "NOT_FOUND")
            if method == "GET":
                return 200, service
            if method == "DELETE":
                del self.services[name]
                for n in [n for n in self.revisions if n.startswith(name + "/")]:
                    del self.revisions[n]
                return 200, self._operation(location, service)
            if method == "PATCH":
                changed = {k: body[k] for k in ("template", "traffic", "labels") if k in body}
                updated = {**service, **changed}
                self._revise(updated, updated["template"])
                self._route(updated, updated.get("traffic", []))
                updated["generation"] = str(int(service["generation"]) + 1)
                updated["updateTime"] = _now()
                self.services[name] = updated
                return 200, self._operation(location, updated)
        raise FakeError(404, f"unsupported {method} {path}", "NOT_FOUND")

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else {}
                    with fake._lock:
                        status, answer = fake._handle(
                            self.command, parts.path, parse_qs(parts.query), body
                        )
                except FakeError as exc:
                    status = exc.code
                    answer = {"error": {"code": exc.code, "message": exc.message,
                                        "status": exc.status}}  # fmt: skip
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

        return Handler


@contextlib.contextmanager
def running_cloud_run(monkeypatch, project: str = "proj-cloudrun"):
    """A fake Cloud Storage and Cloud Run on loopback, with the ``MLKIT_CLOUDRUN_*`` settings
    and ``GOOGLE_CLOUD_PROJECT`` pointing the real clients at them for the test."""
    from tests.registry.fake_gcs import FakeGcs

    with FakeGcs() as gcs:
        run = FakeCloudRun(gcs)
        url = run.serve()
        for key, value in {
            "GOOGLE_CLOUD_PROJECT": project,
            "MLKIT_CLOUDRUN_BUCKET": "gs://mlkit-models/serving",
            "MLKIT_CLOUDRUN_API_ENDPOINT": url,
            "MLKIT_CLOUDRUN_CREDENTIALS": "anonymous",
            "MLKIT_CLOUDRUN_MAX_INSTANCES": "4",
            "MLKIT_CLOUDRUN_CONCURRENCY": "16",
            "STORAGE_EMULATOR_HOST": gcs.url,
        }.items():
            monkeypatch.setenv(key, value)
        try:
            yield run
        finally:
            run.close()
