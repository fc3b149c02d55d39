"""Pull-request mode end to end, beyond the first slice: auto-merge on each forge, and two
promoter processes racing on one image. The real CLI in its own processes, a real bare repo
whose hooks play the protected base (`update` refuses every ref but `promoter/*`,
`post-receive` logs each update made and whether it was forced), and the stand-in forges of
tests/forge_fake.py at their real paths."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from promoter.errors import PushRejected
from promoter.gitobjects import Identity
from promoter.gitrepo import Workspace
from promoter.pullrequests import head_branch
from promoter.remote import Remote

from .conftest import WEB, build, digest_of, git, promote_argv, promote_cli, tip
from .forge_fake import ForgeFake, Kind, Seen, serving

TOKEN = "forge-token-e2e-3f9a"
POLICY = """\
write:
  mode: pull-request
  forge: {kind}
  repository: demo-shop/shop
  autoMerge: {auto_merge}
"""
DEV = "clusters/dev/deployment.yaml"
HEAD = head_branch("main", WEB)
ZERO = "0" * 40
# Branch protection as a forge applies it, in the repo itself: the promoter may update its own
# head branches (forced too) and nothing else. `update` sees every ref a push asks for (and
# refuses all but `promoter/*`); `post-receive` sees the updates that were made.
PROTECTION = """\
#!/bin/sh
echo "$1" >> {log}.asked
case "$1" in
  refs/heads/promoter/*) exit 0 ;;
  *) echo "protected: $1" >&2; exit 1 ;;
esac
"""
RECEIVED = """\
#!/bin/sh
while read old new ref; do
  forced=no
  if [ "$old" != {zero} ] && [ "$new" != {zero} ] && ! git merge-base --is-ancestor "$old" "$new"
  then
    forced=yes
  fi
  echo "$ref $old $new $forced" >> {log}
done
"""
GITHUB_PULLS = "/repos/demo-shop/shop/pulls"
GITLAB_REQUESTS = "/api/v4/projects/demo-shop%2Fshop/merge_requests"


def protect(remote: Path) -> Path:
    """Install the hooks that keep everything but `promoter/*` and log what a push did."""
    log = remote.parent / f"{remote.name}.updates"
    for name, script in (("update", PROTECTION), ("post-receive", RECEIVED)):
        hook = remote / "hooks" / name
        hook.write_text(script.format(zero=ZERO, log=log))
        hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    Path(f"{log}.asked").touch()
    log.touch()
    return log


def updates(log: Path) -> list[tuple[str, str, str, bool]]:
    """Each ref update the remote made: ref, old, new, forced."""
    lines = [line.split() for line in log.read_text().splitlines()]
    return [(ref, old, new, forced == "yes") for ref, old, new, forced in lines]


def asked_refs(log: Path) -> set[str]:
    """Every ref a push asked the remote to update, made or not."""
    return set(Path(f"{log}.asked").read_text().split())


def forge_env(fake: ForgeFake) -> dict[str, str]:
    return {**os.environ, "PROMOTER_FORGE_API": fake.url, "PROMOTER_FORGE_TOKEN": TOKEN}


def event(n: int) -> dict[str, Any]:
    """Build `n` of the web image: a higher `n` is a newer build."""
    return build(create_time=f"2026-03-02T09:{n:02}:00Z", digest=digest_of(n), build_id=f"b{n}")


def promote(remote: Path, fake: ForgeFake, workdir: Path, n: int) -> dict[str, Any]:
    done = promote_cli(event(n), remote, workdir, env=forge_env(fake))
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stdout + done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def head_file(remote: Path, path: str = DEV) -> str:
    return git("--git-dir", remote, "show", f"refs/heads/{HEAD}:{path}")


def asked(fake: ForgeFake, method: str, path: str) -> list[Seen]:
    return [s for s in fake.seen if (s.method, s.path) == (method, path)]


def merge_path(kind: Kind, number: int) -> str:
    return f"{GITHUB_PULLS if kind == 'github' else GITLAB_REQUESTS}/{number}/merge"


# Auto-merge ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_auto_merge_is_asked_for_on_the_pull_request_it_opened(make_config_repo, tmp_path, kind):
    remote = make_config_repo({"promoter.yaml": POLICY.format(kind=kind, auto_merge="true")})
    log = protect(remote)
    base = tip(remote)
    with serving(kind, token=TOKEN) as fake:
        result = promote(remote, fake, tmp_path / "w", 1)
        assert result["outcome"] == "proposed" and result["pullRequest"]["number"] == 1
        assert result["pullRequest"]["autoMerge"] == "enabled"
        [pull] = fake.open_pulls(HEAD)  # still open: it waits for its checks
        if kind == "github":
            [ask] = asked(fake, "POST", "/graphql")
            sent = json.loads(ask.body)
            assert "enablePullRequestAutoMerge" in sent["query"]
            assert sent["variables"] == {"id": pull["node_id"]}
            assert ask.headers["authorization"] == f"Bearer {TOKEN}"
            assert pull["auto_merge"] is not None
        else:
            [ask] = asked(fake, "PUT", merge_path(kind, 1))
            sent = json.loads(ask.body)
            assert sent == {"merge_when_pipeline_succeeds": True, "auto_merge": True}
            assert ask.headers["private-token"] == TOKEN
            assert pull["merge_when_pipeline_succeeds"] is True
        # Asked after the pull request exists, and the merge itself is left to the forge.
        opened = [i for i, s in enumerate(fake.seen) if s.method == "POST" and s is not ask]
        assert opened and opened[0] < fake.seen.index(ask)
        assert not (kind == "github" and asked(fake, "PUT", merge_path(kind, 1)))

        newer = promote(remote, fake, tmp_path / "w", 2)  # the same pull request, asked again
        assert (newer["outcome"], newer["pullRequest"]["number"]) == ("proposed", 1)
        again = (
            asked(fake, "POST", "/graphql") if kind == "github" else asked(fake, "PUT", ask.path)
        )
        assert len(again) == 2 and len(fake.pulls) == 1
    assert tip(remote) == base
    assert asked_refs(log) == {ref for ref, *_ in updates(log)} == {f"refs/heads/{HEAD}"}


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_a_pull_request_mergeable_at_once_is_merged_at_once(make_config_repo, tmp_path, kind):
    remote = make_config_repo({"promoter.yaml": POLICY.format(kind=kind, auto_merge="true")})
    protect(remote)
    with serving(kind, token=TOKEN) as fake:
        fake.checks_pass = True  # no required check to wait for
        result = promote(remote, fake, tmp_path / "w", 1)
        assert result["outcome"] == "proposed" and result["pullRequest"]["number"] == 1
        assert result["pullRequest"]["autoMerge"] == "merged"
        assert fake.open_pulls() == [] and fake.pulls[1]["merged_at"] is not None
        merges = asked(fake, "PUT", merge_path(kind, 1))
        if kind == "github":  # auto-merge refused ("clean status"), so merged directly
            [refused] = asked(fake, "POST", "/graphql")
            assert fake.seen.index(refused) < fake.seen.index(merges[0])
            assert [json.loads(m.body) for m in merges] == [{}]
            assert fake.pulls[1]["merged"] is True
        else:  # GitLab merges at once when there is no pipeline to wait for
            assert [json.loads(m.body)["auto_merge"] for m in merges] == [True]
            assert fake.pulls[1]["state"] == "merged"
        assert ("PUT", merge_path(kind, 1), 200) in fake.answered

        # The forge's merge moves the base to the head's commit; the next build opens a new one.
        git("--git-dir", remote, "update-ref", "refs/heads/main", f"refs/heads/{HEAD}")
        fake.checks_pass = False
        after = promote(remote, fake, tmp_path / "w", 2)
        assert (after["outcome"], after["pullRequest"]["number"]) == ("proposed", 2)
        assert digest_of(2) in head_file(remote)


def test_github_still_deciding_fails_for_now_and_the_redelivery_asks_again(
    make_config_repo, tmp_path
):
    remote = make_config_repo({"promoter.yaml": POLICY.format(kind="github", auto_merge="true")})
    with serving("github", token=TOKEN) as fake:
        fake.auto_merge_refusal = (
            "UNPROCESSABLE",
            "Pull request Pull request is in unknown status",
        )
        done = promote_cli(event(1), remote, tmp_path / "w", env=forge_env(fake))
        assert done.returncode == 75, done.stderr  # transient: Pub/Sub delivers it again
        assert "unknown status" in done.stderr and TOKEN not in done.stderr
        assert len(fake.open_pulls(HEAD)) == 1  # opened before auto-merge was asked for
        fake.auto_merge_refusal = None
        again = promote(remote, fake, tmp_path / "w", 1)  # the redelivery
        assert (again["outcome"], again["pullRequest"]["number"]) == ("proposed", 1)
        assert len(fake.pulls) == 1 and fake.pulls[1]["auto_merge"] is not None


def test_github_refusing_auto_merge_for_the_repository_is_a_config_error(
    make_config_repo, tmp_path
):
    remote = make_config_repo({"promoter.yaml": POLICY.format(kind="github", auto_merge="true")})
    with serving("github", token=TOKEN) as fake:
        refusal = "Pull request Auto merge is not allowed for this repository"
        fake.auto_merge_refusal = ("UNPROCESSABLE", refusal)
        done = promote_cli(event(1), remote, tmp_path / "w", env=forge_env(fake))
        assert done.returncode == 2
        assert done.stderr.startswith("promoter: error: GitHub would not enable auto-merge")
        assert "Auto merge is not allowed" in done.stderr and TOKEN not in done.stderr
        assert not asked(fake, "PUT", merge_path("github", 1))  # nothing merged behind its back
        assert len(fake.open_pulls(HEAD)) == 1


# Two instances racing ------------------------------------------------------------------------


@dataclass
class Instance:
    """One promoter process, its event on stdin, its output in files."""

    child: subprocess.Popen[str]
    out: Path
    err: Path

    @classmethod
    def start(cls, remote: Path, fake: ForgeFake, workdir: Path, body: Any) -> Instance:
        workdir.mkdir(parents=True)
        out, err = workdir.parent / f"{workdir.name}.out", workdir.parent / f"{workdir.name}.err"
        with open(out, "w") as stdout, open(err, "w") as stderr:
            child = subprocess.Popen(
                promote_argv(remote, workdir),
                stdin=subprocess.PIPE,
                stdout=stdout,
                stderr=stderr,
                text=True,
                env=forge_env(fake),
            )
        assert child.stdin is not None
        child.stdin.write(json.dumps(body))
        child.stdin.close()
        return cls(child, out, err)

    def result(self) -> dict[str, Any]:
        """Its JSON, once it exited 0 without showing the token."""
        code = self.child.wait(timeout=120)
        out, err = self.out.read_text(), self.err.read_text()
        assert code == 0, err
        assert TOKEN not in out + err
        result: dict[str, Any] = json.loads(out)
        return result


def race(remote: Path, fake: ForgeFake, tmp_path: Path) -> dict[int, dict[str, Any]]:
    """Builds 1 (older) and 2 (newer) of one image, each in a promoter process of its own,
    started together; each build's JSON."""
    children = {
        n: Instance.start(remote, fake, tmp_path / f"instance-{n}", event(n)) for n in (1, 2)
    }
    return {n: child.result() for n, child in children.items()}


def wait_until(done: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + 60
    while not done():
        assert time.monotonic() < deadline, f"waited a minute for {what}"
        time.sleep(0.02)


def lists_asked(fake: ForgeFake) -> int:
    return sum(s.method == "GET" and "?" in s.path for s in fake.seen)


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_two_instances_racing_leave_one_pull_request_with_the_newer_build(
    make_config_repo, tmp_path, kind
):
    remote = make_config_repo({"promoter.yaml": POLICY.format(kind=kind, auto_merge="false")})
    log = protect(remote)
    base = tip(remote)
    with serving(kind, token=TOKEN) as fake:
        results = race(remote, fake, tmp_path)
        for result in results.values():
            assert result["outcome"] in ("proposed", "unchanged"), result
        [pull] = fake.open_pulls()
        assert len(fake.pulls) == 1 and _head_of(pull) == HEAD
        proposed = [r["pullRequest"]["number"] for r in results.values() if "pullRequest" in r]
        assert proposed and set(proposed) == {1}
        assert results[2]["outcome"] == "proposed"  # the newer build is never turned away
        # The head holds the newer build, on the base's tip, and the pull request names it.
        assert digest_of(2) in head_file(remote) and digest_of(1) not in head_file(remote)
        ledger = head_file(remote, ".promoter/ledger.jsonl")
        assert '"build":"b2"' in ledger and '"build":"b1"' not in ledger
        assert git("--git-dir", remote, "rev-parse", f"refs/heads/{HEAD}^") == base
        shape = sorted(status for method, _, status in fake.answered if method == "POST")
    # The base was never pushed to (the hook would have refused it), only the head was updated,
    # and a forced update happened only there.
    assert tip(remote) == base
    taken = updates(log)
    assert asked_refs(log) == {ref for ref, *_ in taken} == {f"refs/heads/{HEAD}"}
    assert all(ref.startswith("refs/heads/promoter/") for ref, _, _, forced in taken if forced)
    refs = git("--git-dir", remote, "for-each-ref", "--format=%(refname)").split()
    assert sorted(refs) == ["refs/heads/main", f"refs/heads/{HEAD}"]
    outcomes = {n: r["outcome"] for n, r in results.items()}
    forced = sum(f for *_, f in taken)
    print(f"\n{kind}: {outcomes}, head updated {len(taken)}x ({forced} forced), creates {shape}")


def _head_of(pull: dict[str, Any]) -> str:
    return str(pull["head"]["ref"] if "head" in pull else pull["source_branch"])


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_one_build_delivered_to_two_instances_that_both_ask_to_open_ends_in_one_pull_request(
    make_config_repo, tmp_path, kind
):
    """Pub/Sub delivers at least once: two instances may hold the same build. Here both find no
    pull request and both ask to open one: the forge's "already exists" is found and updated."""
    remote = make_config_repo({"promoter.yaml": POLICY.format(kind=kind, auto_merge="false")})
    protect(remote)
    with serving(kind, token=TOKEN) as fake:
        fake.gated_lists = 2  # each instance's first look finds nothing, until both looked
        both = [Instance.start(remote, fake, tmp_path / f"i{n}", event(1)) for n in (1, 2)]
        wait_until(lambda: lists_asked(fake) >= 2, "both instances to list the pull requests")
        fake.list_gate.set()
        results = [instance.result() for instance in both]
        assert [(r["outcome"], r["pullRequest"]["number"]) for r in results] == [
            ("proposed", 1)
        ] * 2
        creates = sorted(status for method, _, status in fake.answered if method == "POST")
        assert creates == [201, 422 if kind == "github" else 409]
        assert len(fake.open_pulls()) == len(fake.pulls) == 1
        assert digest_of(1) in head_file(remote)


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_an_older_build_overtaken_before_its_title_puts_the_newer_ones_back(
    make_config_repo, tmp_path, kind
):
    remote = make_config_repo({"promoter.yaml": POLICY.format(kind=kind, auto_merge="false")})
    protect(remote)
    with serving(kind, token=TOKEN) as fake:
        fake.gated_lists = 1  # the older build's instance is slow to hear from the forge
        older = Instance.start(remote, fake, tmp_path / "older", event(1))
        wait_until(lambda: head_exists(remote), "the older build's head branch")
        newer = Instance.start(remote, fake, tmp_path / "newer", event(2))
        wait_until(lambda: fake.pulls, "the newer build's pull request")
        fake.list_gate.set()
        results = [older.result(), newer.result()]
        assert [r["pullRequest"]["number"] for r in results] == [1, 1]
        [pull] = fake.open_pulls()
        assert digest_of(2) in head_file(remote)
        assert digest_of(2)[7:19] in pull["title"] and digest_of(1)[7:19] not in pull["title"]


def head_exists(remote: Path) -> bool:
    refs = git("--git-dir", remote, "for-each-ref", "--format=%(refname)", f"refs/heads/{HEAD}")
    return bool(refs)


# The lease under it all ------------------------------------------------------------------------


def test_the_head_branch_lease_holds_against_another_instances_push(make_config_repo, tmp_path):
    """What makes the race safe, without timing: a head branch is set only from the tip this
    instance saw, and a branch that appeared or moved since is left as the other one set it."""
    remote = make_config_repo()
    with Workspace.open(tmp_path / "w", Remote(str(remote))) as workspace:
        base = workspace.fetch()
        assert HEAD not in workspace.branch_tips(HEAD)
        mine = workspace.commit(base, {"a.txt": b"mine\n"}, message="m", identity=Identity())
        # Another instance creates the head branch first.
        git("--git-dir", remote, "update-ref", f"refs/heads/{HEAD}", base)
        with pytest.raises(PushRejected):
            workspace.push_branch(mine, HEAD, expected=None)
        assert git("--git-dir", remote, "rev-parse", f"refs/heads/{HEAD}") == base
        with pytest.raises(PushRejected):  # a lease on a tip it no longer has
            workspace.push_branch(mine, HEAD, expected=mine)
        assert git("--git-dir", remote, "rev-parse", f"refs/heads/{HEAD}") == base
        other = workspace.commit(base, {"a.txt": b"other\n"}, message="o", identity=Identity())
        workspace.push_branch(other, HEAD, expected=base)
        workspace.push_branch(mine, HEAD, expected=other)  # not a fast-forward: the lease allows
    assert git("--git-dir", remote, "rev-parse", f"refs/heads/{HEAD}") == mine
    assert tip(remote) == base
