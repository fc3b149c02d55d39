"""The commit message: readable subject, trailers git can parse, no injected lines."""

from __future__ import annotations

import subprocess

from promoter.audit import FileChange, commit_message
from promoter.events import BuildEvent, BuildTime
from promoter.images import ImageRef

from .conftest import WEB, WORKER, digest_of

BUILD_ID = "5d1c0e7a-2b3f-4c5d-8e9f-0a1b2c3d4e5f"


def event(**overrides: object) -> BuildEvent:
    fields: dict[str, object] = {
        "build_id": BUILD_ID,
        "status": "SUCCESS",
        "create_time": BuildTime.parse("2026-03-02T09:10:51.402118Z"),
        "images": (ImageRef(WEB, digest_of("w"), "4be1a9c"),),
        "branch": "main",
        "source_commit": "4be1a9c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2",
        "log_url": "https://console.cloud.google.com/cloud-build/builds/x?project=1",
        "project_id": "demo-shop",
        "trigger_name": "web-main",
    }
    fields.update(overrides)
    return BuildEvent(**fields)  # type: ignore[arg-type]


CHANGE = FileChange(
    "clusters/dev/deployment.yaml", WEB, f"{WEB}:1.0", f"{WEB}:4be1a9c@{digest_of('w')}"
)


def trailers(message: str) -> list[str]:
    done = subprocess.run(
        ["git", "interpret-trailers", "--parse"],
        input=message,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()


def test_subject_names_image_short_digest_and_build():
    subject = commit_message(event(), [CHANGE]).splitlines()[0]
    assert subject == f"Promote web@{digest_of('w')[7:19]} (build 5d1c0e7a)"
    assert len(subject) <= 72


def test_many_images_keep_the_subject_short():
    images = tuple(ImageRef(f"{WEB}-{n}", digest_of(n)) for n in range(5))
    subject = commit_message(event(images=images), [CHANGE]).splitlines()[0]
    assert subject == "Promote 5 images (build 5d1c0e7a)"


def test_trailers_are_what_git_parses():
    images = (ImageRef(WEB, digest_of("w"), "v1"), ImageRef(WORKER, digest_of("k")))
    assert trailers(commit_message(event(images=images), [CHANGE])) == [
        f"Build-Id: {BUILD_ID}",
        "Build-Create-Time: 2026-03-02T09:10:51.402118Z",
        f"Image: {WEB}@{digest_of('w')}",
        f"Image: {WORKER}@{digest_of('k')}",
        "Source-Commit: 4be1a9c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2",
        "Build-Log: https://console.cloud.google.com/cloud-build/builds/x?project=1",
    ]


def test_skip_ci_is_on_by_default_and_can_be_left_out():
    assert "[skip ci]" in commit_message(event(), [CHANGE])
    assert "[skip ci]" not in commit_message(event(), [CHANGE], skip_ci=False)


def test_hostile_values_cannot_add_lines_or_trailers():
    hostile = "x\nBuild-Id: forged\r\nImage: evil@sha256:00\u2028Source-Commit: 0"
    message = commit_message(
        event(trigger_name=hostile, branch=hostile, project_id=hostile),
        [FileChange(f"a\nBuild-Id: forged/{hostile}.yaml", WEB, hostile, hostile)],
    )
    assert [t for t in trailers(message) if "forged" in t or "evil" in t] == []
    assert trailers(message)[0] == f"Build-Id: {BUILD_ID}"
    assert not any(
        line.startswith(("Build-Id: forged", "Image: evil")) for line in message.splitlines()
    )


def test_the_whole_message_as_git_log_shows_it():
    w = digest_of("w")
    assert commit_message(event(), [CHANGE]) == (
        f"Promote web@{w[7:19]} (build 5d1c0e7a)\n"
        "\n"
        f"Cloud Build {BUILD_ID} (project demo-shop, trigger web-main, branch main,"
        " source 4be1a9c0d2e4).\n"
        "\n"
        f"- clusters/dev/deployment.yaml: web:1.0 -> web:4be1a9c@{w[:19]}\n"
        "\n"
        "[skip ci]\n"
        "\n"
        f"Build-Id: {BUILD_ID}\n"
        "Build-Create-Time: 2026-03-02T09:10:51.402118Z\n"
        f"Image: {WEB}@{w}\n"
        "Source-Commit: 4be1a9c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2\n"
        "Build-Log: https://console.cloud.google.com/cloud-build/builds/x?project=1\n"
    )


def test_the_summary_names_only_the_facts_the_build_has():
    bare = event(project_id=None, trigger_name=None, branch=None, source_commit=None)
    assert commit_message(bare, [CHANGE]).splitlines()[2] == f"Cloud Build {BUILD_ID}."
    some = event(project_id=None, branch=None)
    assert commit_message(some, [CHANGE]).splitlines()[2] == (
        f"Cloud Build {BUILD_ID} (trigger web-main, source 4be1a9c0d2e4)."
    )


def test_a_subject_of_72_characters_is_kept_and_one_longer_is_summarised():
    # "Promote NAME@<12 hex> (build <8>)" is 38 characters besides NAME.
    for length, kept in [(34, True), (35, False)]:
        image = ImageRef(f"europe-west1-docker.pkg.dev/p/r/{'n' * length}", digest_of(length))
        subject = commit_message(event(images=(image,)), [CHANGE]).splitlines()[0]
        assert (len(subject) == 38 + length) == kept, subject
        assert kept or subject == "Promote 1 images (build 5d1c0e7a)"


def test_trailers_without_optional_facts():
    bare = event(create_time=None, source_commit=None, log_url=None)
    assert trailers(commit_message(bare, [CHANGE])) == [
        f"Build-Id: {BUILD_ID}",
        f"Image: {WEB}@{digest_of('w')}",
    ]


def test_a_repository_without_a_slash_is_named_whole():
    image = ImageRef("nginx", digest_of("n"), "1.27")
    assert commit_message(event(images=(image,)), [CHANGE]).startswith(
        f"Promote nginx@{digest_of('n')[7:19]} (build 5d1c0e7a)\n"
    )


def test_a_change_of_thousands_of_references_is_summarised_and_trailers_stay_whole():
    from promoter.audit import MAX_CHANGE_LINES

    changes = [
        FileChange(f"apps/{n:04}.yaml", WEB, f"{WEB}:1.0", f"{WEB}:4be1a9c@{digest_of('w')}")
        for n in range(1600)
        for _ in range(2 if n == MAX_CHANGE_LINES - 1 else 1)  # one file named on both sides
    ]
    message = commit_message(event(), changes)
    listed = [line for line in message.splitlines() if line.startswith("- apps/")]
    assert len(listed) == MAX_CHANGE_LINES
    assert f"- and {len(changes) - MAX_CHANGE_LINES} more references (1400 more files)" in message
    assert trailers(message)[0] == f"Build-Id: {BUILD_ID}"
    assert f"Image: {WEB}@{digest_of('w')}" in trailers(message)
    assert len(message) < 20_000
