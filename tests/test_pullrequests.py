"""Pull-request mode's pure part: the `write:` block, head branches, titles and bodies."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promoter.audit import FileChange, commit_message
from promoter.errors import ConfigError
from promoter.events import from_envelope
from promoter.pullrequests import (
    INTERVENTIONS,
    MAX_BODY_LINES,
    PullRequest,
    WriteMode,
    describe,
    head_branch,
    intervention_branch,
    title,
)

from .conftest import WEB, WORKER, build, digest_of


def test_push_is_the_default() -> None:
    assert WriteMode.parse({}) == WriteMode()
    assert not WriteMode.parse({"mode": "push"}).proposes


@pytest.mark.parametrize(
    "forge, repository", [("github", "demo-shop/shop"), ("gitlab", "demo-shop/platform/shop")]
)
def test_pull_request_mode_names_forge_and_repository(forge: str, repository: str) -> None:
    block = {"mode": "pull-request", "forge": forge, "repository": repository, "autoMerge": True}
    assert WriteMode.parse(block) == WriteMode("pull-request", forge, repository, True)  # type: ignore[arg-type]
    assert WriteMode.parse(block).proposes


@pytest.mark.parametrize(
    "block, message",
    [
        ("pull-request", "promoter.yaml: write: expected a mapping"),
        ({"mode": "pr"}, "write.mode: expected push or pull-request, got 'pr'"),
        ({"mode": "pull-request", "repository": "a/b"}, "write.forge: required"),
        ({"mode": "pull-request", "forge": "github"}, "write.repository: required"),
        ({"forge": "bitbucket"}, "write.forge: expected github or gitlab or ssm, got 'bitbucket'"),
        ({"autoMerge": "yes"}, "write.autoMerge: expected true or false"),
        ({"automerge": True}, "write: unknown key 'automerge'"),
        ({"forge": "github", "repository": "a/b/c"}, "write.repository: expected owner/name"),
        ({"forge": "gitlab", "repository": "shop"}, "write.repository: expected a project path"),
        ({"forge": "github", "repository": "a/.."}, "write.repository: 'a/..' must not have"),
        ({"forge": "github", "repository": "https://github.com/a/b"}, "write.repository"),
        ({"forge": "github", "repository": 7}, "write.repository: expected owner/name, got 7"),
    ],
)
def test_write_block_errors_name_the_key(block: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        WriteMode.parse(block)
    assert message in str(caught.value)


SSM_REPOSITORY = "projects/demo-shop/locations/us-central1/repositories/shop"


@pytest.mark.parametrize(
    "repository",
    [
        SSM_REPOSITORY,
        "projects/123456789012/locations/europe-west4/repositories/config-repo",
        "projects/my-project-1/locations/northamerica-northeast1/repositories/a-b-c-d",
    ],
)
def test_secure_source_manager_takes_a_repositorys_resource_name(repository: str) -> None:
    block = {"mode": "pull-request", "forge": "ssm", "repository": repository}
    assert WriteMode.parse(block) == WriteMode("pull-request", "ssm", repository)


@pytest.mark.parametrize(
    "repository",
    [
        "demo-shop/shop",  # GitHub's shape
        "projects/demo-shop/locations/us-central1/repositories/abc",  # an ID is 4-63 long
        "projects/demo-shop/locations/us-central1/repositories/Shop",
        "projects/demo-shop/locations/us-central1/repositories/shop/pullRequests/1",
        "projects/demo-shop/locations/us-central1/repositories/shop/",
        "projects/demo-shop/locations/us-central1/repositories/sh.op",
        "projects/demo-shop/locations/../repositories/shop",
        "projects/demo-shop/locations/us-central1/instances/shop",
        "projects/Demo/locations/us-central1/repositories/shop",
        "projects/demo-shop/locations/us-central1/repositories/shop?x=1",
        "https://securesourcemanager.googleapis.com/v1/projects/p/locations/l/repositories/r",
    ],
)
def test_secure_source_manager_refuses_any_other_shape(repository: str) -> None:
    block = {"mode": "pull-request", "forge": "ssm", "repository": repository}
    with pytest.raises(ConfigError) as caught:
        WriteMode.parse(block)
    said = str(caught.value)
    assert said.startswith("promoter.yaml: write.repository: expected projects/PROJECT/")


def test_secure_source_manager_auto_merge_is_a_config_error() -> None:
    # It could only merge at once, unchecked: not what autoMerge promises.
    block = {"mode": "pull-request", "forge": "ssm", "repository": SSM_REPOSITORY}
    assert not WriteMode.parse(block | {"autoMerge": False}).auto_merge
    with pytest.raises(ConfigError, match=r"^promoter\.yaml: write\.autoMerge: .*no auto-merge"):
        WriteMode.parse(block | {"autoMerge": True})


def valid_ref(name: str) -> bool:
    done = subprocess.run(["git", "check-ref-format", f"refs/heads/{name}"], check=False)
    return done.returncode == 0


@pytest.mark.parametrize(
    "base, repository",
    [
        ("main", WEB),
        ("release/1.2", "localhost:5000/shop/web"),
        ("main", "ghcr.io/demo-shop/web.lock"),
        ("main", "nginx"),
    ],
)
def test_head_branches_are_valid_git_branches(base: str, repository: str) -> None:
    assert valid_ref(head_branch(base, repository))
    assert all(valid_ref(intervention_branch(base, repository, k)) for k in INTERVENTIONS)


def test_an_image_and_one_below_it_do_not_collide_as_refs() -> None:
    # git cannot hold promoter/main/x and promoter/main/x/y: one would be a file, one a folder.
    outer, inner = head_branch("main", WEB), head_branch("main", f"{WEB}/worker")
    assert not inner.startswith(outer + "/") and not outer.startswith(inner + "/")


_COMPONENT = st.sampled_from(["web", "a", "a.b", "a-b", "a_b", "a__b", "lock", "x.lock", "5000"])


@given(st.lists(_COMPONENT, min_size=1, max_size=4), st.lists(_COMPONENT, min_size=1, max_size=4))
def test_head_branches_are_one_per_repository(one: list[str], other: list[str]) -> None:
    a, b = "/".join(one), "/".join(other)
    assert (head_branch("main", a) == head_branch("main", b)) == (a == b)
    assert head_branch("main", a).removeprefix("promoter/main/").count("/") == 0


@given(st.lists(_COMPONENT, min_size=1, max_size=4), st.lists(_COMPONENT, min_size=1, max_size=4))
def test_intervention_branches_never_meet_a_promotion_branch(
    one: list[str], other: list[str]
) -> None:
    a, b = "/".join(one), "/".join(other)
    promotions = {head_branch("main", a), head_branch("main", b)}
    for kind in INTERVENTIONS:
        name = intervention_branch("main", a, kind)
        assert name not in promotions
        assert not any(name.startswith(p + "/") or p.startswith(name + "/") for p in promotions)
    assert intervention_branch("main", a, "holds") != intervention_branch("main", a, "rollback")


def test_an_interventions_title_and_body_come_from_its_commit_message() -> None:
    message = "Hold web in clusters/prod/**\n\nlaunch freeze\n\nHold: x\nHold-Path: y\n"
    assert describe("main", message) == (
        "Hold web in clusters/prod/**",
        "    launch freeze\n\n    Hold: x\n    Hold-Path: y\n",
    )


def test_title_names_image_digest_and_base() -> None:
    digest = digest_of("web")
    assert title(base="main", repository=WEB, digest=digest) == (
        f"Promote {WEB}@{digest[7:19]} to main"
    )


def test_a_promotions_pull_request_is_described_by_its_commit_alone() -> None:
    change = FileChange(
        "overlays/dev/web.yaml", WEB, f"{WEB}@{digest_of(1)}", f"{WEB}@{digest_of(2)}"
    )
    event = from_envelope(build(digest=digest_of(2)))
    message = commit_message(event, [change]).replace("Cloud Build", "```\n# Cloud Build `x`")
    text, body = describe("main", message)
    assert text == f"Promote {WEB}@{digest_of(2)[7:19]} to main"
    assert body.startswith(f"The promoter proposes `{WEB}@{digest_of(2)}` for `main`.\n\n")
    assert "    - overlays/dev/web.yaml: web@sha256:" in body
    assert "[skip ci]" not in body and "```" not in body
    block = body.split("\n\n", 1)[1].rsplit("\n\n", 1)[0]
    assert all(line.startswith("    ") or not line for line in block.splitlines())


def test_a_long_commit_is_cut_in_the_body() -> None:
    changes = [FileChange(f"f{n}.yaml", WORKER, "a", "b") for n in range(MAX_BODY_LINES + 3)]
    event = from_envelope(build(images=[(WORKER, "1", digest_of(3))]))
    _, body = describe("main", commit_message(event, changes))
    assert body.count("\n    - f") < MAX_BODY_LINES
    assert "more lines" in body


# Survivors of the pullrequests mutation run (docs/TESTING.md), each checked by applying it.


def _body_lines(n: int) -> list[str]:
    _, body = describe("main", "Hold web\n\n" + "\n".join(f"line {i}" for i in range(n)))
    return body.splitlines()


def test_a_body_of_the_most_lines_is_whole_and_one_more_is_cut_saying_how_many():
    assert _body_lines(MAX_BODY_LINES) == [f"    line {i}" for i in range(MAX_BODY_LINES)]
    cut = _body_lines(MAX_BODY_LINES + 1)
    assert cut == [*(f"    line {i}" for i in range(MAX_BODY_LINES)), "    ... and 1 more lines"]
    assert _body_lines(MAX_BODY_LINES + 450)[-1] == "    ... and 450 more lines"


def test_a_title_is_cut_at_250_characters():
    assert describe("main", "x" * 300 + "\n\nbody\n")[0] == "x" * 250
    assert describe("main", "x" * 250 + "\n\nbody\n")[0] == "x" * 250


def test_auto_merge_shows_in_the_json_only_when_asked_for():
    assert PullRequest(7, "https://forge/pr/7").to_json() == {
        "number": 7,
        "url": "https://forge/pr/7",
    }
    merged = PullRequest(7, "https://forge/pr/7", auto_merge="merged").to_json()
    assert merged == {"number": 7, "url": "https://forge/pr/7", "autoMerge": "merged"}
