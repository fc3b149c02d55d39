"""Make `web` importable however pytest is started: from app/, the repo root, or /app/tests in
the image. No __init__.py here on purpose, so these modules never clash with the repo's `tests`
package."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from flask.testing import FlaskClient

APP_ROOT = Path(__file__).resolve().parent.parent
if str(APP_ROOT) not in sys.path:
    sys.path.insert(0, str(APP_ROOT))

from web import create_app  # noqa: E402


@pytest.fixture
def client() -> FlaskClient:
    app = create_app()
    app.config.update(TESTING=True)
    return app.test_client()
