"""`promoter status`'s rows on their own (promoter.status): the state in words for each case, the
JSON, and the table people read (each a survivor of the status mutation run; docs/TESTING.md)."""

from __future__ import annotations

import pytest

from promoter.status import Row, table

from .conftest import WEB, digest_of

COMMIT = "c0ffee" + "1" * 34
REVISION = "abcdef" + "2" * 34


def row(**fields: object) -> Row:
    given: dict[str, object] = {
        "environment": "dev",
        "image": WEB,
        "digest": digest_of(1),
        "build_id": "b1-0123456789",
        "commit": COMMIT,
    }
    return Row(**{**given, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "state"),
    [
        ({"digest": None, "build_id": None, "commit": None}, "nothing promoted"),
        ({}, "promoted"),  # no Argo CD app for the environment
        ({"sync": "Synced", "health": "Healthy"}, "promoted, Argo CD has no revision"),
        (
            {"sync": "OutOfSync", "synced_revision": REVISION, "in_sync": False},
            "promoted, not yet synced",
        ),
        ({"sync": "Synced", "health": "Healthy", "in_sync": True}, "synced"),
        ({"sync": "Synced", "in_sync": True}, "synced"),
        ({"sync": "Synced", "health": "Degraded", "in_sync": True}, "synced, Degraded"),
    ],
)
def test_the_state_says_first_what_a_person_wants_to_know(fields, state):
    found = row(**fields)
    assert found.state == state
    assert found.to_json()["state"] == state


def test_the_json_names_every_fact():
    found = row(sync="Synced", health="Healthy", synced_revision=REVISION, in_sync=True)
    assert found.to_json() == {
        "environment": "dev",
        "image": WEB,
        "digest": digest_of(1),
        "build_id": "b1-0123456789",
        "commit": COMMIT,
        "sync": "Synced",
        "health": "Healthy",
        "syncedRevision": REVISION,
        "inSync": True,
        "state": "synced",
    }


def test_the_table_shortens_ids_and_aligns_every_column_but_the_last():
    rows = [
        row(sync="Synced", health="Healthy", synced_revision=REVISION, in_sync=True),
        row(environment="production", digest=None, build_id=None, commit=None),
    ]
    short = digest_of(1)[7:19]
    assert table(rows).split("\n") == [
        "ENV         IMAGE  DIGEST        BUILD     COMMIT        SYNC    HEALTH   STATE",
        f"dev         web    {short}  b1-01234  c0ffee111111  Synced  Healthy  synced",
        "production  web    -             -         -             -       -        nothing"
        " promoted",
    ]
    assert table([]) == "ENV  IMAGE  DIGEST  BUILD  COMMIT  SYNC  HEALTH  STATE"
    assert table([row(image="busybox")]).split("\n")[1].split()[:2] == ["dev", "busybox"]
