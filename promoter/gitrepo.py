"""The config repo adapter: a warm, locked, bare workspace per remote and branch.

Nothing is checked out. Files are read from the fetched tip's tree, new blobs and the tree are
written in-process, and the commit is pushed fast-forward only. With no work tree there is
nothing to clean after a crash and no symlink to follow out of the repo. The parts: `gitdir`
(running git), `gitobjects` (reading and writing objects), `gittransport` (fetch and push);
here, the workspace's life (lock, clean-up after a killed process) and which files name which
image, kept from one tip to the next.
"""

from __future__ import annotations

import configparser
import contextlib
import fcntl
import functools
import os
import time
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import ParamSpec, TypeVar

from git import Repo
from git.exc import InvalidGitRepositoryError, NoSuchPathError
from git.objects import Commit
from git.refs.symbolic import SymbolicReference
from gitdb.exc import ODBError  # type: ignore[import-untyped]

from promoter import processes
from promoter.candidates import CandidateIndex
from promoter.errors import ConfigError, GitUnavailable, WorkspaceDamaged
from promoter.gitdir import DEFAULT_TIMEOUT, REGULAR_MODES, TIP_REF, GitDir, reset
from promoter.githistory import Commits, HistoryReader
from promoter.gitobjects import Blob, Identity, ObjectDB, Objects
from promoter.gittransport import Transport
from promoter.images import grep_pattern
from promoter.manifests import MANIFEST_PATHSPECS, is_manifest
from promoter.remote import Remote

__all__ = ["Blob", "Identity", "Workspace"]

LOCK_WAIT_FACTOR = 2
# What GitPython and gitdb raise on a workspace damaged on disk: HEAD, objects/ or refs/ gone or
# garbage (InvalidGitRepositoryError), a garbage config (configparser.Error), an empty ref file
# (AssertionError), a truncated object (ODBError, zlib.error, ValueError), files gone (OSError).
_DAMAGE = (
    InvalidGitRepositoryError,
    NoSuchPathError,
    configparser.Error,
    ODBError,
    zlib.error,
    AssertionError,
    ValueError,
    OSError,
)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _reads_workspace(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """`method` with the library's errors on a damaged workspace raised as WorkspaceDamaged."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except _DAMAGE as err:
            raise _damaged(err, getattr(args[0], "path", None)) from err

    return wrapper


class Workspace(GitDir):
    """One bare clone of one remote branch; use it only inside `Workspace.open`."""

    def __init__(self, path: Path, remote: Remote, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(path, remote, Repo(path, odbt=ObjectDB), timeout=timeout)
        self._objects = Objects(path, remote, self._repo, timeout=timeout)
        self._transport = Transport(path, remote, self._repo, timeout=timeout)
        self._history = HistoryReader(path, remote, self._repo, timeout=timeout)
        self._index: CandidateIndex | None = None
        self._made: dict[str, tuple[str, Mapping[str, bytes]]] = {}  # commit -> (parent, files)

    @classmethod
    @contextlib.contextmanager
    def open(
        cls,
        workdir: Path,
        remote: Remote,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        fresh: bool = False,
    ) -> Iterator[Workspace]:
        """Lock the workspace for `remote` (threads and processes alike) and yield it.

        Each git process gets `timeout` seconds; waiting for the lock, LOCK_WAIT_FACTOR times
        that (another event holding it makes a few git calls), then the event is retried later.
        `fresh`: discard the workspace first (it was found damaged); the next fetch clones.
        A workspace that cannot be opened or read raises WorkspaceDamaged.
        """
        path = workdir.resolve() / remote.workspace_name()
        try:
            workdir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise _unusable(workdir, err) from None
        with _locked(path.with_name(path.name + ".lock"), timeout * LOCK_WAIT_FACTOR):
            if fresh:
                reset(path)
            try:
                _prepare(path)
                workspace = cls(path, remote, timeout=timeout)
            except _DAMAGE as err:
                raise _damaged(err, path) from err
            try:
                yield workspace
            finally:
                workspace._repo.close()

    @_reads_workspace
    def fetch(self, *, moved: bool = False) -> str:
        """Fetch the branch tip and return its commit id (see `Transport.fetch`)."""
        return self._transport.fetch(moved=moved)

    @_reads_workspace
    def commits_of_build(self, tip: str, build_id: str, *, since: int) -> set[str]:
        """Files changed by commits of `tip` whose Build-Id trailer is `build_id`."""
        return self._transport.commits_of_build(tip, build_id, since=since)

    @_reads_workspace
    def history(self, tip: str, *, enough: Callable[[Commits], bool]) -> Commits:
        """Commits of `tip`, newest first, deepening a shallow workspace until `enough`."""
        return self._history.commits(tip, self._transport, enough=enough)

    def parents(self, commit: str) -> list[str]:
        """The parents `commit` names, read from its object (so also where it is shallow)."""
        header = self._commit_object(commit).partition("\n\n")[0]
        return [line[7:] for line in header.splitlines() if line.startswith("parent ")]

    def message(self, commit: str) -> str:
        """The message of `commit`."""
        return self._commit_object(commit).partition("\n\n")[2]

    def _commit_object(self, commit: str) -> str:
        status, out, err = self._run("cat-file", "commit", commit)
        if status != 0:
            raise WorkspaceDamaged(f"git cat-file commit {commit[:12]} failed: {err.strip()}")
        return out

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """True when `descendant` contains `ancestor` (false too when either is unknown here)."""
        status, _, _ = self._run("merge-base", "--is-ancestor", ancestor, descendant)
        return status == 0

    @_reads_workspace
    def blobs(self, tip: str, paths: Collection[str]) -> list[Blob]:
        """The regular files among `paths` in `tip` (symlinks and submodules are left out)."""
        return self._objects.blobs(tip, paths)

    @_reads_workspace
    def link_target(self, tip: str, path: str) -> str | None:
        """Where `path` points in `tip` if it is a symlink, else None."""
        return self._objects.link_target(tip, path)

    @_reads_workspace
    def read(self, blob: Blob) -> bytes:
        """The contents of `blob`."""
        return self._objects.read(blob)

    def commit(
        self, tip: str, files: Mapping[str, bytes], *, message: str, identity: Identity
    ) -> str:
        """Write `files` over the tree of `tip` and commit it as a child of `tip`."""
        commit = self._objects.commit(tip, files, message=message, identity=identity)
        self._made[commit] = (tip, files)
        return commit

    @_reads_workspace
    def tip_at_hand(self) -> str | None:
        """The tip this process pushed last, unchecked (see `Transport.tip_at_hand`)."""
        return self._transport.tip_at_hand()

    @_reads_workspace
    def push(self, commit: str) -> None:
        """Fast-forward the remote branch to `commit`, made here on the tip it must still be at;
        never forced."""
        parent, _ = self._made[commit]
        self._transport.push(commit, onto=parent)
        self._note_pushed(commit)

    @_reads_workspace
    def branch_tips(self, prefix: str) -> dict[str, str]:
        """Our head branches on the remote named `prefix`..., and their tips (not fetched)."""
        return self._transport.branch_tips(prefix)

    @_reads_workspace
    def fetch_branch(self, name: str) -> str:
        """Fetch our head branch `name` from the remote; its tip."""
        return self._transport.fetch_branch(name)

    @_reads_workspace
    def push_branch(self, commit: str, name: str, *, expected: str | None) -> None:
        """Set our head branch `name` to `commit` if it is still at `expected` (a lease)."""
        self._transport.push_branch(commit, name, expected=expected)

    @_reads_workspace
    def manifests_naming(self, tip: str, needles: Collection[str]) -> set[str]:
        """Paths of the regular manifests of `tip` that name any of the repositories `needles`."""
        if not needles:
            return set()
        index = self._index = CandidateIndex.load(self._index_file)
        known = index.tip == tip and index.paths.keys() >= set(needles)
        if index.tip != tip:
            changed = self._changed_manifests(index.tip, tip) if index.tip else None
            index.advance(tip, changed, lambda path: self._read_changed(changed, path))
        paths = index.lookup(needles, lambda needle: self._grep(tip, needle))
        if not known:  # most often the index is already at our own last push: nothing to write
            index.save(self._index_file)
        return paths

    @property
    def _index_file(self) -> Path:
        return self.path / "promoter-candidates.json"

    def _note_pushed(self, commit: str) -> None:
        # The remote's tip is now `commit`, complete here: the next event starts from it without
        # a fetch, and the index moves to it from what it changed, without a `git diff-tree`.
        parent, files = self._made[commit]
        # In-process (GitPython writes the loose ref through a lock file): we hold the lock. On
        # failure the next event fetches.
        with contextlib.suppress(OSError):
            tip_ref = SymbolicReference(self._repo, TIP_REF)
            tip_ref.set_reference(Commit(self._repo, bytes.fromhex(commit)))
        index = self._index
        if index is not None and index.tip == parent:
            index.advance(commit, [path for path in files if is_manifest(path)], files.get)
            index.save(self._index_file)

    def _grep(self, tip: str, repository: str) -> set[str]:
        pattern = grep_pattern(repository)
        status, out, _ = self._run(
            "grep", "-l", "-z", "-E", "--no-color", "-e", pattern, tip, "--", *MANIFEST_PATHSPECS
        )
        if status not in (0, 1):
            raise GitUnavailable(f"git grep failed in workspace {self.path}")
        paths = (entry.split(":", 1)[1] for entry in out.split("\0") if entry)
        return {path for path in paths if is_manifest(path)}

    def _changed_manifests(self, old: str, new: str) -> dict[str, str | None] | None:
        """Manifests changed from `old` to `new`, each with its new regular blob's id (or None)."""
        status, out, _ = self._run("diff-tree", "-r", "-z", "--no-renames", old, new)
        if status != 0:
            return None  # the old tip is gone (a fresh or pruned workspace): search everything
        # Raw output, two fields per file: ":<old mode> <new mode> <old id> <new id> <status>" and
        # the path. The new id is the blob to search: no ls-tree per changed file.
        fields = out.split("\0")
        changed: dict[str, str | None] = {}
        for meta, path in zip(fields[0::2], fields[1::2], strict=False):
            if is_manifest(path):
                _, mode, _, sha, _ = meta.split(" ")
                changed[path] = sha if mode in REGULAR_MODES else None
        return changed

    def _read_changed(self, changed: Mapping[str, str | None] | None, path: str) -> bytes | None:
        sha = (changed or {}).get(path)
        return self._objects.read_object(bytes.fromhex(sha)) if sha else None


def _unusable(path: Path, err: OSError) -> ConfigError:
    return ConfigError(f"PROMOTER_WORKDIR: cannot use {path} ({err.strerror or err})")


def _damaged(err: BaseException, path: Path | None = None) -> WorkspaceDamaged:
    where = f"workspace {path} " if path else "the workspace "
    return WorkspaceDamaged(f"{where}is damaged ({type(err).__name__}: {err})")


@contextlib.contextmanager
def _locked(lock_path: Path, wait: float) -> Iterator[None]:
    # flock on a fresh descriptor excludes other threads of this process as well. Polled, not
    # blocking: a holder stuck past every deadline must not hold its waiters forever.
    deadline = time.monotonic() + wait
    pause = 0.005
    try:
        handle = open(lock_path, "a+b")  # noqa: SIM115 - closed by the with below
    except OSError as err:
        raise _unusable(lock_path, err) from None
    with handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                processes.check_running()
                if time.monotonic() >= deadline:
                    raise GitUnavailable(
                        f"the workspace {lock_path.with_suffix('')} stayed locked for {wait:g} s"
                        " by another event of this workdir; retry later"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _prepare(path: Path) -> None:
    """Make `path` a usable bare repo, clearing what a killed process may have left."""
    if path.exists() and not (path / "HEAD").is_file():
        reset(path)
    for unfinished in path.parent.glob(path.name + ".new-*"):  # a process killed mid-init
        reset(unfinished)
    if not path.exists():
        tmp = path.with_name(path.name + f".new-{os.getpid()}")
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
