"""Pull-request mode's pure part: the `write:` block, head branches, titles and bodies."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promoter.audit import FileChange
from promoter.errors import ConfigError
from promoter.pullrequests import (
    INTERVENTIONS,
    MAX_BODY_CHANGES,
    WriteMode,
    body,
    from_message,
    head_branch,
    intervention_branch,
    title,
)

from .conftest import WEB, WORKER, digest_of


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
        ({"forge": "bitbucket"}, "write.forge: expected github or gitlab, got 'bitbucket'"),
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
    assert from_message(message) == (
        "Hold web in clusters/prod/**",
        "launch freeze\n\nHold: x\nHold-Path: y\n",
    )


def test_title_names_image_digest_and_base() -> None:
    digest = digest_of("web")
    assert title(base="main", repository=WEB, digest=digest) == (
        f"Promote {WEB}@{digest[7:19]} to main"
    )


def test_body_lists_the_changes_on_single_lines() -> None:
    change = FileChange(
        "overlays/dev/web.yaml", WEB, f"{WEB}@{digest_of(1)}", f"{WEB}@{digest_of(2)}"
    )
    text = body(
        base="main", repository=WEB, digest=digest_of(2), build="b-1\n# injected", changes=[change]
    )
    assert "- Build: `b-1 # injected`" in text
    assert f"- `overlays/dev/web.yaml`: `{WEB}@{digest_of(1)}` -> `{WEB}@{digest_of(2)}`" in text


def test_body_summarises_many_changes() -> None:
    changes = [FileChange(f"f{n}.yaml", WORKER, "a", "b") for n in range(MAX_BODY_CHANGES + 3)]
    text = body(base="main", repository=WORKER, digest=digest_of(3), build="b", changes=changes)
    assert "- and 3 more (see the commit)" in text
    assert f"- Files: {MAX_BODY_CHANGES + 3}" in text
