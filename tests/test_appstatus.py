"""Reading an Application object into an `AppStatus`: pure, so every odd shape is cheap to try."""

from __future__ import annotations

from datetime import UTC, datetime

from promoter.appstatus import AppStatus

META = {"metadata": {"name": "web-dev", "namespace": "argocd"}}


def test_an_application_argo_cd_has_not_reconciled_yet_is_unknown() -> None:
    assert AppStatus.from_object(META) == AppStatus("web-dev", "argocd")
    assert AppStatus.from_object({**META, "status": {}}).sync == "Unknown"


def test_a_single_source_revision_wins_over_revisions() -> None:
    status = {"sync": {"status": "Synced", "revision": "abc", "revisions": ["def"]}}
    read = AppStatus.from_object({**META, "status": status})
    assert (read.revision, read.revisions) == ("abc", ("def",))


def test_times_read_as_utc_and_an_unreadable_one_as_none() -> None:
    status = {"reconciledAt": "2026-03-02T09:15:02Z", "operationState": {"finishedAt": "soon"}}
    read = AppStatus.from_object({**META, "status": status})
    assert read.reconciled_at == datetime(2026, 3, 2, 9, 15, 2, tzinfo=UTC)
    assert read.synced_at is None
    assert AppStatus.from_object({**META, "status": {"reconciledAt": 7}}).reconciled_at is None
