"""A fake of Cloud Storage's JSON API on loopback, enough for google-cloud-storage's upload
(multipart), list, download (alt=media) and delete. The real client talks to it through
``STORAGE_EMULATOR_HOST``; nothing in mlkit is patched."""

from __future__ import annotations

import json
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse


class FakeGcs:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGcs:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _resource(self, bucket: str, name: str) -> dict:
        return {
            "kind": "storage#object",
            "bucket": bucket,
            "name": name,
            "size": str(len(self.objects[(bucket, name)])),
            "generation": "1",
        }

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes = b"", kind: str = "application/json"):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, data: dict) -> None:
                self._send(status, json.dumps(data).encode())

            def _path(self) -> tuple[list[str], dict[str, list[str]]]:
                parsed = urlparse(self.path)
                fake.requests.append(f"{self.command} {parsed.path}")
                return [unquote(p) for p in parsed.path.split("/")], parse_qs(parsed.query)

            def do_POST(self) -> None:
                parts, query = self._path()
                # /upload/storage/v1/b/BUCKET/o?uploadType=multipart
                if parts[1:5] != ["upload", "storage", "v1", "b"] or query.get("uploadType") != [
                    "multipart"
                ]:
                    return self._json(400, {"error": {"message": f"unsupported {self.path}"}})
                body = self.rfile.read(int(self.headers["Content-Length"]))
                head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
                message = BytesParser(policy=HTTP).parsebytes(head + body)
                meta_part, media_part = list(message.iter_parts())
                meta = json.loads(meta_part.get_payload(decode=True))
                bucket, name = parts[5], meta["name"]
                fake.objects[(bucket, name)] = media_part.get_payload(decode=True)
                self._json(200, fake._resource(bucket, name))

            def do_GET(self) -> None:
                parts, query = self._path()
                if parts[1:4] == ["storage", "v1", "b"] and len(parts) == 5:  # a bucket exists
                    return self._json(200, {"kind": "storage#bucket", "name": parts[4]})
                if parts[1:4] == ["storage", "v1", "b"] and len(parts) == 6 and parts[5] == "o":
                    bucket, prefix = parts[4], query.get("prefix", [""])[0]
                    items = [
                        fake._resource(b, n)
                        for (b, n) in sorted(fake.objects)
                        if b == bucket and n.startswith(prefix)
                    ]
                    return self._json(200, {"kind": "storage#objects", "items": items})
                if parts[1:4] == ["storage", "v1", "b"] and len(parts) >= 7 and parts[5] == "o":
                    key = (parts[4], "/".join(parts[6:]))  # an object's metadata
                    if key not in fake.objects:
                        return self._json(
                            404, {"error": {"code": 404, "message": "No such object"}}
                        )
                    return self._json(200, fake._resource(*key))
                if parts[1:5] == ["download", "storage", "v1", "b"] and len(parts) >= 8:
                    key = (parts[5], "/".join(parts[7:]))
                    if key not in fake.objects:
                        return self._json(
                            404, {"error": {"code": 404, "message": "No such object"}}
                        )
                    return self._send(200, fake.objects[key], "application/octet-stream")
                self._json(404, {"error": {"code": 404, "message": f"unsupported {self.path}"}})

            def do_DELETE(self) -> None:
                parts, _ = self._path()
                key = (parts[4], "/".join(parts[6:]))
                if fake.objects.pop(key, None) is None:
                    return self._json(404, {"error": {"code": 404, "message": "No such object"}})
                self._send(204)

        return Handler
