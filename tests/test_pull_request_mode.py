"""Pull-request mode end to end: the real CLI, a real bare repo, and the stand-in forges at their
real paths (tests/forge_fake.py). The base branch is never pushed to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from promoter.holds import HOLDS_PATH, Holds
from promoter.pullrequests import head_branch, intervention_branch

from .conftest import WEB, build, digest_of, git, promote_cli, show, tip
from .forge_fake import SSM_REPOSITORY, ForgeFake, serving

TOKEN = "forge-token-e2e-7d1c"
OTHER = "europe-west1-docker.pkg.dev/demo-shop/apps/other"
POLICY = """\
write:
  mode: pull-request
  forge: {kind}
  repository: demo-shop/shop
"""
DEV = "clusters/dev/deployment.yaml"


def promote(remote: Path, fake: ForgeFake, workdir: Path, n: int, **fields: Any) -> Any:
    event = build(
        create_time=f"2026-03-02T09:{n:02}:00Z", digest=digest_of(n), build_id=f"b{n}", **fields
    )
    env = {**os.environ, "PROMOTER_FORGE_API": fake.url, "PROMOTER_FORGE_TOKEN": TOKEN}
    done = promote_cli(event, remote, workdir, env=env)
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stdout + done.stderr
    return json.loads(done.stdout)


def head_tip(remote: Path, image: str = WEB) -> str:
    return git("--git-dir", remote, "rev-parse", f"refs/heads/{head_branch('main', image)}")


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_a_build_is_proposed_then_a_newer_one_updates_the_same_pull_request(
    make_config_repo, tmp_path, kind
):
    remote = make_config_repo({"promoter.yaml": POLICY.format(kind=kind)})
    base = tip(remote)
    with serving(kind, token=TOKEN) as fake:
        started = time.monotonic()
        first = promote(remote, fake, tmp_path / "w", 1)
        elapsed = time.monotonic() - started
        assert first["outcome"] == "proposed"
        assert first["pullRequest"]["number"] == 1 and first["pullRequest"]["url"].startswith(
            "https://"
        )
        assert tip(remote) == base  # the protected branch is never pushed to
        assert first["commit"] == head_tip(remote)
        assert git("--git-dir", remote, "rev-parse", f"{first['commit']}^") == base
        trailers = git("--git-dir", remote, "log", "-1", "--format=%(trailers)", first["commit"])
        assert "Build-Id: b1" in trailers
        [pull] = fake.open_pulls()
        assert digest_of(1)[7:19] in json.dumps(pull)

        newer = promote(remote, fake, tmp_path / "w2", 2)  # another instance's workdir
        assert (newer["outcome"], newer["pullRequest"]["number"]) == ("proposed", 1)
        assert len(fake.open_pulls()) == 1 and len(fake.pulls) == 1
        assert digest_of(2) in git("--git-dir", remote, "show", f"{head_tip(remote)}:{DEV}")

        older = promote(remote, fake, tmp_path / "w", 1)
        assert older["outcome"] == "unchanged" and "newer build" in older["reason"]
        assert digest_of(2) in git("--git-dir", remote, "show", f"{head_tip(remote)}:{DEV}")

        proposed = head_tip(remote)
        again = promote(remote, fake, tmp_path / "w", 2)  # redelivered: the same PR, no commit
        assert (again["outcome"], again["pullRequest"]["number"]) == ("proposed", 1)
        assert (again["commit"], head_tip(remote)) == (None, proposed)
        assert len(fake.pulls) == 1
        # After the merge, the next build opens a new pull request.
        fake.merge(1)
        git("--git-dir", remote, "update-ref", "refs/heads/main", head_tip(remote))
        third = promote(remote, fake, tmp_path / "w", 3)
        assert (third["outcome"], third["pullRequest"]["number"]) == ("proposed", 2)
        assert git("--git-dir", remote, "rev-parse", f"{third['commit']}^") == tip(remote)
        # Headers carry the token; nothing else does.
        assert all(TOKEN not in seen.path + seen.body for seen in fake.seen)
    print(f"\n{kind}: event -> pull request {elapsed:.2f} s")


def test_each_image_gets_its_own_pull_request(make_config_repo, tmp_path):
    pod = (
        f"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: o\n      image: {OTHER}:1\n"
    )
    remote = make_config_repo(
        {"promoter.yaml": POLICY.format(kind="github"), "apps/other/pod.yaml": pod}
    )
    images = [(WEB, "1", digest_of("w")), (OTHER, "1", digest_of("o"))]
    with serving("github", token=TOKEN) as fake:
        result = promote(remote, fake, tmp_path / "w", 1, images=images)
        assert result["outcome"] == "proposed"
        assert [pr["number"] for pr in result["pullRequests"]] == [1, 2]
        assert {p["head"]["ref"] for p in fake.open_pulls()} == {
            head_branch("main", WEB),
            head_branch("main", OTHER),
        }
        assert digest_of("o") not in git("--git-dir", remote, "show", f"{head_tip(remote)}:{DEV}")


def test_without_the_token_it_is_a_config_error_and_nothing_is_pushed(make_config_repo, tmp_path):
    remote = make_config_repo({"promoter.yaml": POLICY.format(kind="github")})
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOTER_FORGE")}
    done = promote_cli(build(digest=digest_of(1)), remote, tmp_path / "w", env=env)
    assert done.returncode == 2
    assert done.stderr.startswith("promoter: error: PROMOTER_FORGE_TOKEN: required")
    refs = git("--git-dir", remote, "for-each-ref", "--format=%(refname)")
    assert refs == "refs/heads/main"


def ask(verb: str, remote: Path, fake: ForgeFake, workdir: Path, *args: str) -> Any:
    """`promoter hold|release|rollback` in pull-request mode, as a person runs it."""
    env = {**os.environ, "PROMOTER_FORGE_API": fake.url, "PROMOTER_FORGE_TOKEN": TOKEN}
    argv = [sys.executable, "-m", "promoter", verb, "--repo", str(remote)]
    done = subprocess.run(
        [*argv, "--workdir", str(workdir), "--image", WEB, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert TOKEN not in done.stdout
    return json.loads(done.stdout)


def branch_file(remote: Path, branch: str, path: str) -> str:
    return git("--git-dir", remote, "show", f"refs/heads/{branch}:{path}")


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_a_hold_is_a_pull_request_that_closes_the_images_and_holds_at_once(
    make_config_repo, tmp_path, kind
):
    remote = make_config_repo({"promoter.yaml": POLICY.format(kind=kind)})
    base = tip(remote)
    holds_branch = intervention_branch("main", WEB, "holds")
    with serving(kind, token=TOKEN) as fake:
        assert promote(remote, fake, tmp_path / "w", 1)["pullRequest"]["number"] == 1
        held = ask("hold", remote, fake, tmp_path / "w", "--reason", "launch freeze")
        assert held["outcome"] == "proposed" and holds_branch in held["reason"]
        assert held["pullRequest"]["number"] == 2
        assert held["closedPullRequests"] == [fake_json(fake, 1)]
        assert [_head_of(p) for p in fake.open_pulls()] == [holds_branch]
        assert tip(remote) == base  # the protected branch is never pushed to
        record = json.loads(branch_file(remote, holds_branch, HOLDS_PATH))
        assert (record["repository"], record["reason"]) == (WEB, "launch freeze")
        message = git("--git-dir", remote, "log", "-1", "--format=%B", f"refs/heads/{holds_branch}")
        assert message.startswith("Hold web\n") and f"Hold: {WEB}" in message

        # While its pull request is open, the hold is in force for every instance.
        ignored = promote(remote, fake, tmp_path / "w2", 2)
        assert (ignored["outcome"], ignored["reason"]) == (
            "ignored",
            f"held: {WEB} is held in ** (launch freeze)",
        )
        assert len(fake.pulls) == 2 and head_tip_or_none(remote) is not None
        again = ask("hold", remote, fake, tmp_path / "w", "--reason", "launch freeze")
        assert again["outcome"] == "unchanged"

        # A release before the merge withdraws the hold's pull request; builds flow again.
        released = ask("release", remote, fake, tmp_path / "w2")
        assert released["outcome"] == "released" and "withdrawn" in released["reason"]
        assert released["closedPullRequests"] == [fake_json(fake, 2)]
        assert fake.open_pulls() == []
        third = promote(remote, fake, tmp_path / "w", 3)
        assert (third["outcome"], third["pullRequest"]["number"]) == ("proposed", 3)
        assert tip(remote) == base


def test_a_merged_hold_is_released_by_a_pull_request_and_holds_until_it_is_merged(
    make_config_repo, tmp_path
):
    remote = make_config_repo({"promoter.yaml": POLICY.format(kind="github")})
    holds_branch = intervention_branch("main", WEB, "holds")
    with serving("github", token=TOKEN) as fake:
        held = ask("hold", remote, fake, tmp_path / "w", "--path", "clusters/prod/**")
        fake.merge(held["pullRequest"]["number"])
        git("--git-dir", remote, "update-ref", "refs/heads/main", held["commit"])

        released = ask("release", remote, fake, tmp_path / "w")
        assert (released["outcome"], released["pullRequest"]["number"]) == ("proposed", 2)
        assert branch_file(remote, holds_branch, HOLDS_PATH) == ""
        assert "closedPullRequests" not in released
        # A pending release does not release yet: the merged hold still stands.
        assert Holds.from_text(show(remote, HOLDS_PATH)).of(WEB)
        again = ask("release", remote, fake, tmp_path / "w")
        assert (again["outcome"], again["reason"]) == ("unchanged", f"{WEB} is not held")


def test_a_rollback_is_a_pull_request_beside_the_images_and_closes_a_pending_build(
    make_config_repo, tmp_path
):
    remote = make_config_repo({"promoter.yaml": POLICY.format(kind="github")})
    rollback_branch = intervention_branch("main", WEB, "rollback")
    with serving("github", token=TOKEN) as fake:
        for n in (1, 2):  # two builds proposed and merged
            proposed = promote(remote, fake, tmp_path / "w", n)
            fake.merge(proposed["pullRequest"]["number"])
            git("--git-dir", remote, "update-ref", "refs/heads/main", proposed["commit"])
        merged = tip(remote)
        assert promote(remote, fake, tmp_path / "w", 3)["pullRequest"]["number"] == 3

        rolled = ask("rollback", remote, fake, tmp_path / "w", "--hold", "--reason", "5xx")
        assert rolled["outcome"] == "proposed" and rolled["pullRequest"]["number"] == 4
        assert rolled["closedPullRequests"] == [fake_json(fake, 3)]
        assert tip(remote) == merged
        assert digest_of(1) in branch_file(remote, rollback_branch, DEV)
        assert digest_of(2) in show(remote, DEV)
        trailers = git(
            "--git-dir",
            remote,
            "log",
            "-1",
            "--format=%(trailers)",
            f"refs/heads/{rollback_branch}",
        )
        assert f"Rollback-Of: {merged}" in trailers
        assert f"Removed-Image: {WEB}@{digest_of(2)}" in trailers
        # Its hold is in force while it waits: a newer build opens nothing.
        held = promote(remote, fake, tmp_path / "w2", 4)
        assert held["outcome"] == "ignored" and "held" in held["reason"]
        assert [_head_of(p) for p in fake.open_pulls()] == [rollback_branch]


def fake_json(fake: ForgeFake, number: int) -> dict[str, Any]:
    """A pull request of the stand-in as the result's JSON names it."""
    pull = fake.pulls[number]
    return {"number": number, "url": pull["html_url"] if "html_url" in pull else pull["web_url"]}


def _head_of(pull: dict[str, Any]) -> str:
    return str(pull["head"]["ref"] if "head" in pull else pull["source_branch"])


def head_tip_or_none(remote: Path) -> str | None:
    refs = git("--git-dir", remote, "for-each-ref", "--format=%(refname)", "refs/heads/promoter")
    return refs or None


SSM_POLICY = f"""\
write:
  mode: pull-request
  forge: ssm
  repository: {SSM_REPOSITORY}
"""


def test_secure_source_manager_proposes_then_a_newer_build_updates_it(make_config_repo, tmp_path):
    remote = make_config_repo({"promoter.yaml": SSM_POLICY})
    base = tip(remote)
    with serving("ssm", token=TOKEN) as fake:
        fake.running_polls = 1  # each write's operation is still running when first answered
        first = promote(remote, fake, tmp_path / "w", 1)
        assert first["outcome"] == "proposed" and tip(remote) == base
        assert first["pullRequest"] == {"number": 1, "url": f"{SSM_REPOSITORY}/pullRequests/1"}
        [pull] = fake.open_pulls()
        assert (pull["head"]["ref"], pull["base"]["ref"]) == (head_branch("main", WEB), "main")
        assert digest_of(1)[7:19] in pull["title"] and first["commit"] == head_tip(remote)

        newer = promote(remote, fake, tmp_path / "w2", 2)  # another instance's workdir
        assert (newer["outcome"], newer["pullRequest"]["number"]) == ("proposed", 1)
        assert len(fake.pulls) == 1 and digest_of(2)[7:19] in fake.pulls[1]["title"]
        assert digest_of(2) in git("--git-dir", remote, "show", f"{head_tip(remote)}:{DEV}")
        assert any("updateMask=title%2Cbody" in s.path for s in fake.seen if s.method == "PATCH")
        assert all(TOKEN not in seen.path + seen.body for seen in fake.seen)
