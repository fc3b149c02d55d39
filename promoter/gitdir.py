"""A bare repo and the git processes run in it: git's failures said as ours, the token redacted."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

from git import Repo

from promoter import processes
from promoter.errors import GitUnavailable, WorkspaceDamaged
from promoter.remote import Remote

TIP_REF = "refs/promoter/tip"
OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
REGULAR_MODES = ("100644", "100755")  # a file; symlinks and submodules are never read as files
SYMLINK_MODE = "120000"


_NETWORK_COMMANDS = {"fetch": "from", "ls-remote": "from", "push": "to"}
DEFAULT_TIMEOUT = 20.0  # seconds for one git process: well inside a function's 60 s default


class GitDir:
    """Runs git in the workspace at `path`, which talks to `remote`.

    Every git process has a deadline (`timeout` seconds, PROMOTER_GIT_TIMEOUT), after which it
    is killed with everything it started and the event is retried later.
    """

    def __init__(
        self, path: Path, remote: Remote, repo: Repo, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.path = path
        self.remote = remote
        self.timeout = timeout
        self._repo = repo
        # GIT_DIR: git never looks for a repository above a damaged workspace. LC_ALL: errors
        # are matched in English.
        self._env = {**os.environ, "LANGUAGE": "C", "GIT_DIR": str(path), **remote.git_env()}

    def _git(self, *args: str) -> str:
        """Run a local git command; its failure discards the workspace (see `reset`)."""
        status, out, err = self._run(*args)
        if status != 0:
            reset(self.path)  # a local failure: the workspace is damaged; clone it again
            raise WorkspaceDamaged(f"git {_command(args)} failed in {self.path}: {self._tail(err)}")
        return out

    def _run(self, *args: str) -> tuple[int, str, str]:
        """Run git in the workspace: its status, stdout and stderr, or a transient error when
        it outlives the deadline."""
        argv = ["git", *args]
        done = processes.run(argv, cwd=str(self.path), env=self._env, timeout=self.timeout)
        if done.timed_out:
            where = _NETWORK_COMMANDS.get(_command(args))
            subject = f"{where} {self.remote.display}" if where else f"in {self.path}"
            raise GitUnavailable(
                f"git {_command(args)} {subject} did not finish within {self.timeout:g} s"
                " (PROMOTER_GIT_TIMEOUT); it was stopped"
            )
        return done.status, done.out, done.err

    def _tail(self, stderr: str) -> str:
        return self.remote.git_error(stderr)


def _command(args: tuple[str, ...]) -> str:
    """git's subcommand among `args` (after options such as --literal-pathspecs)."""
    return next((arg for arg in args if not arg.startswith("-")), "")


def reset(path: Path) -> None:
    """Remove a workspace: the next attempt starts from a fresh clone."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:  # a file or a link where the workspace belongs: remove it, never what it points to
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
