"""Pull-request mode end to end: the promoter's head branches under concurrent instances."""

from __future__ import annotations

import pytest

from promoter.errors import PushRejected
from promoter.gitobjects import Identity
from promoter.gitrepo import Workspace
from promoter.pullrequests import head_branch
from promoter.remote import Remote

from .conftest import WEB, git, tip

HEAD = head_branch("main", WEB)


def test_the_head_branch_lease_holds_against_another_instances_push(make_config_repo, tmp_path):
    """What makes the race safe, without timing: a head branch is set only from the tip this
    instance saw, and a branch that appeared or moved since is left as the other one set it."""
    remote = make_config_repo()
    with Workspace.open(tmp_path / "w", Remote(str(remote))) as workspace:
        base = workspace.fetch()
        assert workspace.branch_tip(HEAD) is None
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
