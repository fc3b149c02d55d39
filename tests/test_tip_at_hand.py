"""A long-lived instance (the function, the worker) decides its next event on its own last push
without asking the remote first; the push's lease checks that tip, and any answer that pushes
nothing is given only on a tip the remote confirmed. In-process, as those instances run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promoter.envpromotion import Request, promote_env
from promoter.errors import GateClosed
from promoter.events import from_envelope
from promoter.interventions import hold, release
from promoter.service import Result, promote
from promoter.settings import Settings

from .conftest import WEB, WORKER, build, count_commits, digest_of, git, show, tip
from .envs import PROD, dev_prod_repo, promoted_in_dev


def settings_for(remote: Path, workdir: Path) -> Settings:
    return Settings.build(repo=str(remote), workdir=str(workdir), environ={})


def promoted(remote: Path, workdir: Path, n: int, image: str = WEB) -> Result:
    event = build(create_time=f"2026-03-02T09:{n:02}:00Z", digest=digest_of(n), image=image)
    return promote(from_envelope(event), settings_for(remote, workdir))


def git_commands(trace: Path) -> list[str]:
    """The git subcommands an event ran, from git's own trace (top-level processes only)."""
    if not trace.exists():
        return []
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    starts = [e for e in events if e["event"] == "start" and e.get("sid", "").count("/") == 0]
    return [next(a for a in e["argv"][1:] if not a.startswith("-")) for e in starts]


@pytest.fixture
def traced(monkeypatch, tmp_path):
    """`trace()`: the git commands run since the last call (GIT_TRACE2_EVENT)."""
    path = tmp_path / "trace.json"
    monkeypatch.setenv("GIT_TRACE2_EVENT", str(path))

    def trace() -> list[str]:
        commands = git_commands(path)
        path.unlink(missing_ok=True)
        return commands

    return trace


def test_the_next_event_asks_the_remote_nothing_before_its_push(make_config_repo, tmp_path, traced):
    remote = make_config_repo()
    git(
        "--git-dir", remote, "config", "receive.denyNonFastForwards", "true"
    )  # the lease forces nothing
    traced()
    assert promoted(remote, tmp_path / "a", 1).outcome == "promoted"
    assert "fetch" in traced()  # a new instance clones
    result = promoted(remote, tmp_path / "a", 2)
    assert (result.outcome, result.attempts) == ("promoted", 1)
    commands = traced()
    assert "push" in commands and not {"ls-remote", "fetch"} & set(commands), commands
    assert result.commit == tip(remote) and count_commits(remote) == 3


def test_a_push_by_another_instance_meanwhile_is_found_by_the_lease(make_config_repo, tmp_path):
    remote = make_config_repo()
    promoted(remote, tmp_path / "a", 1)
    other = promoted(remote, tmp_path / "b", 2, image=WORKER)  # a's tip is now behind
    result = promoted(remote, tmp_path / "a", 3)
    assert (result.outcome, result.attempts) == ("promoted", 1)
    assert git("--git-dir", remote, "rev-parse", "main^") == other.commit
    assert digest_of(2) in show(remote, "apps/worker/job.yaml")
    assert digest_of(3) in show(remote, "clusters/prod/deployment.yaml")
    assert git("--git-dir", remote, "rev-list", "--merges", "main") == ""


def test_a_branch_set_back_meanwhile_stays_set_back(make_config_repo, tmp_path):
    """Someone force-pushes the branch back to an ancestor of our last push: a child of our
    last push would be a fast-forward there and bring the dropped commit back. The lease
    refuses it; the event lands on the branch as it now is."""
    remote = make_config_repo()
    first = promoted(remote, tmp_path / "a", 1).commit
    dropped = promoted(remote, tmp_path / "a", 2).commit
    assert first is not None and dropped is not None
    git("--git-dir", remote, "update-ref", "refs/heads/main", first)  # set back
    result = promoted(remote, tmp_path / "a", 3, image=WORKER)
    assert result.outcome == "promoted"
    assert git("--git-dir", remote, "rev-parse", "main^") == first
    ancestor = git("--git-dir", remote, "branch", "--contains", dropped)
    assert ancestor == "", "the commit someone dropped came back"
    assert digest_of(2) not in show(remote, "clusters/prod/deployment.yaml")


def test_an_answer_that_pushes_nothing_is_given_on_the_remotes_tip(make_config_repo, tmp_path):
    """Our last push held the image; another instance released it since. Decided on our own
    tip alone, the build would be acknowledged as held and never promoted."""
    remote = make_config_repo()
    ours, theirs = settings_for(remote, tmp_path / "a"), settings_for(remote, tmp_path / "b")
    assert hold(ours, image=WEB, path=None, reason="audit").outcome == "held"
    assert release(theirs, image=WEB, path=None).outcome == "released"
    result = promoted(remote, tmp_path / "a", 5)
    assert result.outcome == "promoted", result.reason
    assert digest_of(5) in show(remote, "clusters/prod/deployment.yaml")


def test_a_gate_closed_on_our_own_tip_is_checked_on_the_remotes(make_config_repo, tmp_path):
    remote = dev_prod_repo(make_config_repo)
    promoted_in_dev(remote, tmp_path / "w", 1)
    ours, theirs = settings_for(remote, tmp_path / "a"), settings_for(remote, tmp_path / "b")
    hold(ours, image=WEB, path="clusters/prod/**", reason="audit")
    with pytest.raises(GateClosed, match="held"):
        promote_env(ours, Request(to="prod"))  # on the remote's tip too: the gate stands
    release(theirs, image=WEB, path=None)
    assert promote_env(ours, Request(to="prod")).outcome == "promoted"
    assert digest_of(1) in show(remote, PROD)
