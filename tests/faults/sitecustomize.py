"""A bug of ours, on demand, for the tests of the entry points' bug path.

Python imports this module at start-up when a test puts this folder on PYTHONPATH. While the file
named by PROMOTER_TEST_BUG exists, opening a git repository raises an exception that nothing
classifies, as a bug of ours would (or, if the file says "damaged", the error GitPython raises on
a damaged repository, every time: a damage that a fresh clone does not cure); removing the file
is deploying the fix. Everything we can provoke from outside (bad messages, damaged workspaces,
dead remotes) is classified, so a bug can only be put in, and it is put in here, in the test's
own process tree, never in promoter/.
"""

from __future__ import annotations

import os
from typing import Any


def _install(trigger: str) -> None:
    import git

    original = git.Repo.__init__

    def init(self: git.Repo, *args: Any, **kwargs: Any) -> None:
        if os.path.exists(trigger):
            with open(trigger) as found:
                if found.read().strip() == "damaged":
                    raise git.exc.InvalidGitRepositoryError(f"{args[0]} (put in by the test)")
            raise RuntimeError(f"a bug of ours, put in by the test ({trigger} exists)")
        original(self, *args, **kwargs)

    git.Repo.__init__ = init  # type: ignore[method-assign]


if os.environ.get("PROMOTER_TEST_BUG"):
    _install(os.environ["PROMOTER_TEST_BUG"])
