"""The demo shop's web front: one static page and a health endpoint for Kubernetes probes."""

from __future__ import annotations

from flask import Flask, Response


def create_app() -> Flask:
    """Build the app; gunicorn calls this as `web:create_app()`."""
    app = Flask(__name__)

    @app.get("/")
    def index() -> Response:
        return app.send_static_file("index.html")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        # No dependencies to check: if this process answers, it can serve the page.
        return {"status": "ok"}

    @app.after_request
    def no_sniffing(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    return app
