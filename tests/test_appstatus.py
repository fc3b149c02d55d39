"""Reading an Application object into an `AppStatus`: pure, so every odd shape is cheap to try."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from promoter.appstatus import AppStatus, not_running

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


def test_a_multi_source_application_reads_its_first_sources_revision() -> None:
    status = {"sync": {"status": "Synced", "revisions": ["first", "second", "third"]}}
    read = AppStatus.from_object({**META, "status": status})
    assert (read.revision, read.revisions) == ("first", ("first", "second", "third"))


def test_the_last_operations_phase_is_read_and_none_is_none() -> None:
    running = {"operationState": {"phase": "Running", "finishedAt": "2026-03-02T09:10:51Z"}}
    read = AppStatus.from_object({**META, "status": running})
    assert (read.operation, read.synced_at) == (
        "Running",
        datetime(2026, 3, 2, 9, 10, 51, tzinfo=UTC),
    )
    assert AppStatus.from_object({**META, "status": {"operationState": {}}}).operation is None


COMMIT = "c0ffee" + "1" * 34
REVISION = "abcdef" + "2" * 34


def holds(revision: str, commit: str) -> bool:
    return revision == REVISION and commit == COMMIT


@pytest.mark.parametrize(
    ("sync", "health", "revision", "why"),
    [
        ("Synced", "Healthy", REVISION, None),
        ("OutOfSync", "Healthy", REVISION, "Argo CD app web-dev is OutOfSync, not Synced"),
        ("Unknown", "Healthy", REVISION, "Argo CD app web-dev is Unknown, not Synced"),
        ("Synced", "Progressing", REVISION, "Argo CD app web-dev is Progressing, not Healthy"),
        ("Synced", "Degraded", REVISION, "Argo CD app web-dev is Degraded, not Healthy"),
        ("Synced", "Missing", REVISION, "Argo CD app web-dev is Missing, not Healthy"),
        ("Synced", "Suspended", REVISION, "Argo CD app web-dev is Suspended, not Healthy"),
        ("Synced", "Healthy", None, "Argo CD app web-dev has synced no revision yet"),
        (
            "Synced",
            "Healthy",
            "0" * 40,
            "Argo CD app web-dev synced 000000000000, which does not hold c0ffee111111 yet",
        ),
    ],
)
def test_an_app_runs_the_commit_only_synced_healthy_at_a_revision_that_holds_it(
    sync: str, health: str, revision: str | None, why: str | None
) -> None:
    app = AppStatus("web-dev", "argocd", sync=sync, health=health, revision=revision)
    assert not_running(app, COMMIT, contains=holds) == why
