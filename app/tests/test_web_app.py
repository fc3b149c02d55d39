"""The page and the health endpoint, through Flask's test client."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_index_serves_the_static_page(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert b"<title>Demo Shop</title>" in response.data
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_healthz_answers_ok_as_json(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"status": "ok"}


def test_healthz_is_read_only(client: FlaskClient) -> None:
    assert client.post("/healthz").status_code == 405


def test_unknown_path_is_not_found(client: FlaskClient) -> None:
    assert client.get("/admin").status_code == 404


def test_static_page_is_also_served_under_static(client: FlaskClient) -> None:
    # Flask's default static route: the image must carry web/static/ next to the code.
    response = client.get("/static/index.html")
    assert response.status_code == 200
    assert b"Demo Shop" in response.data
