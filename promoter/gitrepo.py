"""The config repo adapter: a warm, locked, bare workspace per remote and branch.

Nothing is checked out. Files are read from the fetched tip's tree, new blobs and the tree are
written with git plumbing in a private index, and the commit is pushed fast-forward only. With
no work tree there is nothing to clean after a crash and no symlink to follow out of the repo.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from git import Repo
from git.exc import GitCommandError
from gitdb import IStream  # type: ignore[import-untyped]

from promoter.candidates import CandidateIndex
from promoter.errors import ConfigError, GitUnavailable, PushRejected
from promoter.gittree import rewrite_tree
from promoter.remote import Remote

TIP_REF = "refs/promoter/tip"
YAML_PATHSPECS = ("*.yaml", "*.yml")
_REGULAR = ("100644", "100755")
_NETWORK_HINTS = (
    "could not read from remote",
    "unable to access",
    "could not resolve",
    "connection refused",
    "connection timed out",
    "unable to connect",
    "the remote end hung up",
    "early eof",
    "does not appear to be a git repository",
    "authentication failed",
    "repository not found",
    "permission denied",
    "couldn't connect",
    "failed to connect",
    "ssl",
)


@dataclass(frozen=True)
class Identity:
    """Who the promotion commits are by."""

    name: str = "promoter"
    email: str = "promoter@noreply.invalid"

    def env(self) -> dict[str, str]:
        return {
            "GIT_AUTHOR_NAME": self.name,
            "GIT_AUTHOR_EMAIL": self.email,
            "GIT_COMMITTER_NAME": self.name,
            "GIT_COMMITTER_EMAIL": self.email,
        }


@dataclass(frozen=True)
class Blob:
    """A file in the fetched tree."""

    path: str
    mode: str
    sha: str
    size: int


class Workspace:
    """One bare clone of one remote branch; use it only inside `Workspace.open`."""

    def __init__(self, path: Path, remote: Remote) -> None:
        self.path = path
        self.remote = remote
        self._repo = Repo(path)
        self._env = remote.git_env()

    @classmethod
    @contextlib.contextmanager
    def open(cls, workdir: Path, remote: Remote) -> Iterator[Workspace]:
        """Lock the workspace for `remote` (threads and processes alike) and yield it."""
        remote.check_scheme()
        path = workdir.resolve() / remote.workspace_name()
        workdir.mkdir(parents=True, exist_ok=True)
        with _locked(path.with_name(path.name + ".lock")):
            _prepare(path)
            workspace = cls(path, remote)
            try:
                yield workspace
            finally:
                workspace._repo.close()

    def fetch(self) -> str:
        """Fetch the branch tip and return its commit id.

        A new workspace takes one commit (depth 1); later fetches add only the new commits, so
        the history since the workspace was made stays local and connected.
        """
        self._fetch(*([] if self._has_tip() else ["--depth=1"]))
        return self._git("rev-parse", TIP_REF)

    def commits_of_build(self, tip: str, build_id: str, *, since: int) -> set[str]:
        """Files changed by commits of `tip` whose Build-Id trailer is `build_id`.

        `since` (epoch seconds) bounds the search: no build is promoted before it was created.
        History back to then is fetched first where the workspace does not have it.
        """
        self._deepen(tip, since)
        out = self._git(
            "log",
            f"--since=@{since}",
            "--format=",
            "--name-only",
            f"--grep=^Build-Id: {build_id}$",
            tip,
        )
        return {path for path in out.splitlines() if path}

    def _deepen(self, tip: str, since: int) -> None:
        shallow_file = self.path / "shallow"
        if not shallow_file.exists():
            return
        boundary = set(shallow_file.read_text().split())
        if boundary & set(self._git("rev-list", f"--since=@{since}", tip).split()):
            self._fetch(f"--shallow-since=@{since}")

    def _has_tip(self) -> bool:
        packed = self.path / "packed-refs"
        return (self.path / TIP_REF).exists() or (
            packed.exists() and f" {TIP_REF}\n" in packed.read_text()
        )

    def _fetch(self, *options: str) -> None:
        refspec = f"+refs/heads/{self.remote.branch}:{TIP_REF}"
        try:
            self._git("fetch", *options, "--no-tags", "--quiet", self.remote.url, refspec)
        except GitCommandError as err:
            stderr = str(err.stderr).lower()
            if "couldn't find remote ref" in stderr:
                raise ConfigError(
                    f"repo: branch {self.remote.branch!r} not found in {self.remote.display}"
                ) from None
            if not any(hint in stderr for hint in _NETWORK_HINTS):
                _reset(self.path)  # an unexpected failure: start from a clean clone next time
            raise self._unavailable("fetch", err) from None

    def yaml_files_naming(self, tip: str, needles: Collection[str]) -> list[Blob]:
        """Regular YAML files of `tip` whose text contains any of `needles`."""
        if not needles:
            return []
        index_file = self.path / "promoter-candidates.json"
        index = CandidateIndex.load(index_file)
        if index.tip != tip:
            changed = self._changed_yaml(index.tip, tip) if index.tip else None
            index.advance(tip, changed, lambda path: self._read_path(tip, path))
        paths = index.lookup(needles, lambda needle: self._grep(tip, needle))
        index.save(index_file)
        return self.blobs(tip, paths)

    def _grep(self, tip: str, needle: str) -> set[str]:
        status, out, _ = self._run(
            "grep", "-l", "-z", "-F", "--no-color", "-e", needle, tip, "--", *YAML_PATHSPECS
        )
        if status not in (0, 1):
            raise GitUnavailable(f"git grep failed in workspace {self.path}")
        return {entry.split(":", 1)[1] for entry in out.split("\0") if entry}

    def _changed_yaml(self, old: str, new: str) -> list[str] | None:
        status, out, _ = self._run("diff-tree", "-r", "-z", "--name-only", "--no-renames", old, new)
        if status != 0:
            return None  # the old tip is gone (a fresh or pruned workspace): search everything
        return [p for p in out.split("\0") if p.endswith((".yaml", ".yml"))]

    def _read_path(self, tip: str, path: str) -> bytes | None:
        blobs = self.blobs(tip, [path])
        return self.read(blobs[0]) if blobs else None

    def blobs(self, tip: str, paths: Collection[str]) -> list[Blob]:
        """The regular files among `paths` in `tip` (symlinks and submodules are left out)."""
        if not paths:
            return []
        out = self._git("--literal-pathspecs", "ls-tree", "-l", "-z", tip, "--", *paths)
        blobs = []
        for entry in filter(None, out.split("\0")):
            meta, path = entry.split("\t", 1)
            mode, kind, sha, size = meta.split()
            if kind == "blob" and mode in _REGULAR:
                blobs.append(Blob(path, mode, sha, int(size)))
        return blobs

    def read(self, blob: Blob) -> bytes:
        """The contents of `blob`."""
        return self._read_object(bytes.fromhex(blob.sha))

    def commit(
        self, tip: str, files: Mapping[str, bytes], *, message: str, identity: Identity
    ) -> str:
        """Write `files` over the tree of `tip` and commit it as a child of `tip`."""
        modes = {b.path: b.mode.encode() for b in self.blobs(tip, list(files))}
        blobs = {
            path: (modes.get(path, b"100644"), self._store(b"blob", data))
            for path, data in files.items()
        }
        root = bytes.fromhex(self._git("rev-parse", f"{tip}^{{tree}}"))
        tree = rewrite_tree(root, blobs, read=self._read_object, store=self._store)
        return self._git("commit-tree", tree.hex(), "-p", tip, "-m", message, env=identity.env())

    def push(self, commit: str) -> None:
        """Fast-forward the remote branch to `commit`; never forced."""
        dest = f"{commit}:refs/heads/{self.remote.branch}"
        status, out, err = self._run("push", "--porcelain", "--quiet", self.remote.url, dest)
        if status == 0:
            return
        text = f"{out}\n{err}".lower()
        if "[rejected]" in text or "cannot lock ref" in text or "failed to update ref" in text:
            raise PushRejected(f"push to {self.remote.display} rejected: the branch moved")
        raise GitUnavailable(f"git push to {self.remote.display} failed: {self._tail(err)}")

    def _read_object(self, sha: bytes) -> bytes:
        return bytes(self._repo.odb.stream(sha).read())

    def _store(self, kind: bytes, data: bytes) -> bytes:
        return bytes(self._repo.odb.store(IStream(kind, len(data), BytesIO(data))).binsha)

    def _git(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        try:
            output = self._repo.git.execute(["git", *args], env={**self._env, **(env or {})})
        except GitCommandError as err:
            if args[0] == "fetch":
                raise
            _reset(self.path)  # a local failure: the next attempt starts from a fresh clone
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
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        message = lines[-1] if lines else "no message from git"
        message = message.removeprefix("stderr: ")
        if message.count("'") % 2:  # GitPython quotes stderr: drop its unmatched quote
            message = message.removeprefix("'").removesuffix("'")
        return self.remote.redact(message)


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    # flock on a fresh descriptor excludes other threads of this process as well.
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _prepare(path: Path) -> None:
    """Make `path` a usable bare repo, clearing what a killed process may have left."""
    if path.exists() and not (path / "HEAD").is_file():
        _reset(path)
    if not path.exists():
        tmp = path.with_name(path.name + f".new-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        Repo.init(tmp, bare=True)
        tmp.rename(path)
        return
    # We hold the workspace lock, so any git lock file here is stale (a killed process).
    for stale in [
        *path.glob("*.lock"),
        *path.glob("refs/**/*.lock"),
        *path.glob("*.tmp"),
    ]:
        stale.unlink(missing_ok=True)


def _reset(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
