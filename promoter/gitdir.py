"""A bare repo and the git processes run in it: git's failures said as ours, the token redacted."""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from git import Repo
from git.exc import GitCommandError

from promoter.errors import GitUnavailable
from promoter.remote import Remote

TIP_REF = "refs/promoter/tip"
OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
REGULAR_MODES = ("100644", "100755")  # a file; symlinks and submodules are never read as files
SYMLINK_MODE = "120000"


class GitDir:
    """Runs git in the workspace at `path`, which talks to `remote`."""

    def __init__(self, path: Path, remote: Remote, repo: Repo) -> None:
        self.path = path
        self.remote = remote
        self._repo = repo
        self._env = remote.git_env()

    def _git(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        try:
            output = self._repo.git.execute(["git", *args], env={**self._env, **(env or {})})
        except GitCommandError as err:
            if args[0] == "fetch":
                raise
            reset(self.path)  # a local failure: the next attempt starts from a fresh clone
            raise GitUnavailable(
                f"git {args[0]} failed in {self.path}: {self._tail(str(err.stderr))}"
            ) from None
        return str(output)

    def _run(self, *args: str) -> tuple[int, str, str]:
        status, out, err = self._repo.git.execute(
            ["git", *args], env=self._env, with_extended_output=True, with_exceptions=False
        )
        return int(status), str(out), str(err)

    def _unavailable(self, action: str, err: GitCommandError) -> GitUnavailable:
        return GitUnavailable(
            f"git {action} from {self.remote.display} failed: {self._tail(str(err.stderr))}"
        )

    def _tail(self, stderr: str) -> str:
        return self.remote.git_error(stderr)


def reset(path: Path) -> None:
    """Remove a workspace: the next attempt starts from a fresh clone."""
    shutil.rmtree(path, ignore_errors=True)
