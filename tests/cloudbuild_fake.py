"""A stand-in for the Cloud Build API on loopback: `GET` of a build, in both URL forms.

No Cloud Build API runs here. The answers are made with the client library's own `Build` type
(`Build.to_json`), so they have the API's shape; the promoter reaches this server through the
real client, by `CLOUDBUILD_EMULATOR_HOST`.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.cloud.devtools.cloudbuild_v1 import Build

_PATH = re.compile(r"^/v1/projects/([^/]+)/(?:locations/([^/]+)/)?builds/([^/?]+)")


def api_build(body: dict[str, Any]) -> str:
    """`body` (a Build as our tests write it) as the API renders it: through the `Build` type."""
    build = Build.from_json(json.dumps(body), ignore_unknown_fields=True)
    return str(Build.to_json(build, use_integers_for_enums=False))


@dataclass
class FakeCloudBuild:
    """Builds by (project, id); `status` forces an HTTP status for every request."""

    builds: dict[tuple[str, str], str] = field(default_factory=dict)
    status: int | None = None
    requests: list[str] = field(default_factory=list)
    host: str = ""

    def add(self, body: dict[str, Any]) -> None:
        self.builds[(body["projectId"], body["id"])] = api_build(body)


@contextlib.contextmanager
def serving() -> Iterator[FakeCloudBuild]:
    fake = FakeCloudBuild()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake.requests.append(self.path)
            match = _PATH.match(self.path)
            found = fake.builds.get((match[1], match[3])) if match else None
            code = fake.status or (200 if found else 404)
            if code == 200 and found:
                self._answer(200, found)
            else:
                error = {"error": {"code": code, "message": f"fake: {code}", "status": "ERROR"}}
                self._answer(code, json.dumps(error))

        def _answer(self, code: int, text: str) -> None:
            data = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.host = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
