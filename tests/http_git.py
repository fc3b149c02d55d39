"""A real git smart-HTTP server on loopback: `git http-backend` behind Basic auth."""

from __future__ import annotations

import base64
import contextlib
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def pkt_line(text: str) -> bytes:
    data = text.encode()
    return b"%04x" % (len(data) + 4) + data


@contextlib.contextmanager
def serving(
    root: Path,
    token: str | None,
    tls: ssl.SSLContext | None = None,
    *,
    refuse_with: str | None = None,
) -> Iterator[tuple[str, list[str]]]:
    """`serve` for the length of a `with`: yields the base URL and the Authorization headers."""
    server, seen = serve(root, token, tls, refuse_with=refuse_with)
    scheme = "https" if tls is not None else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def serve(
    root: Path,
    token: str | None,
    tls: ssl.SSLContext | None = None,
    *,
    refuse_with: str | None = None,
) -> tuple[ThreadingHTTPServer, list[str]]:
    """Serve bare repos under `root`; if `token` is set, demand it as the Basic password.

    `refuse_with`: answer every authenticated request with this git protocol error (`ERR`).
    """
    seen_auth: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._backend()

        def do_POST(self) -> None:
            self._backend()

        def log_message(self, *args: object) -> None:
            pass

        def _backend(self) -> None:
            auth = self.headers.get("Authorization", "")
            seen_auth.append(auth)
            if (
                token
                and auth != "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
            ):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.end_headers()
                return
            if refuse_with is not None:
                service = "git-upload-pack"
                body = pkt_line(f"# service={service}\n") + b"0000" + pkt_line(f"ERR {refuse_with}")
                self.send_response(200)
                self.send_header("Content-Type", f"application/x-{service}-advertisement")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            env = {
                "GIT_PROJECT_ROOT": str(root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_USER": "x-access-token",
                "REMOTE_ADDR": "127.0.0.1",
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "http.receivepack",
                "GIT_CONFIG_VALUE_0": "true",
            }
            encoding = self.headers.get("Content-Encoding")
            if encoding:
                env["HTTP_CONTENT_ENCODING"] = encoding
            if self.headers.get("Git-Protocol"):
                env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
            done = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
            head, _, payload = done.stdout.partition(b"\r\n\r\n")
            status = 200
            headers = []
            for line in head.decode().split("\r\n"):
                name, _, value = line.partition(": ")
                if name.lower() == "status":
                    status = int(value.split()[0])
                elif name:
                    headers.append((name, value))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen_auth
