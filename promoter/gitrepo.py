"""The config repo adapter: a warm, locked, bare workspace per remote and branch.

Nothing is checked out. Files are read from the fetched tip's tree, new blobs and the tree are
written with git plumbing in a private index, and the commit is pushed fast-forward only. With
no work tree there is nothing to clean after a crash and no symlink to follow out of the repo.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from git import Repo
from git.exc import GitCommandError
from git.refs.symbolic import SymbolicReference
from gitdb import IStream, LooseObjectDB  # type: ignore[import-untyped]

from promoter.candidates import CandidateIndex
from promoter.errors import ConfigError, GitUnavailable, PushRejected, RemoteLocked
from promoter.gittree import rewrite_tree
from promoter.images import grep_pattern
from promoter.remote import Remote

TIP_REF = "refs/promoter/tip"
YAML_PATHSPECS = ("*.yaml", "*.yml")
_REGULAR = ("100644", "100755")
_LOOSE_PER_FOLDER = (6700 + 255) // 256  # gc.auto's default, as `git gc --auto` samples it
_PACK_LIMIT = 50  # gc.autoPackLimit's default
_HISTORY_FILE = "promoter-history.json"  # since when history is complete, for which boundary
_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
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
        # Loose objects are read and written in-process: a git process per object costs more
        # than the rest of a promotion's Python work.
        self._loose = LooseObjectDB(str(path / "objects"))
        self._env = remote.git_env()
        self._listed: dict[tuple[str, str], Blob | None] = {}  # (tip, path) -> what ls-tree said
        self._index: CandidateIndex | None = None
        self._made: dict[str, tuple[str, Mapping[str, bytes]]] = {}  # commit -> (parent, files)

    @classmethod
    @contextlib.contextmanager
    def open(cls, workdir: Path, remote: Remote) -> Iterator[Workspace]:
        """Lock the workspace for `remote` (threads and processes alike) and yield it."""
        path = workdir.resolve() / remote.workspace_name()
        workdir.mkdir(parents=True, exist_ok=True)
        with _locked(path.with_name(path.name + ".lock")):
            _prepare(path)
            workspace = cls(path, remote)
            try:
                yield workspace
            finally:
                workspace._repo.close()

    def fetch(self, *, moved: bool = False) -> str:
        """Fetch the branch tip and return its commit id.

        A new workspace takes one commit (depth 1); later fetches add only the new commits, so
        the history since the workspace was made stays local and connected. `moved`: the caller
        knows the branch moved since the last fetch (its push was rejected), so asking the remote
        whether it did would be a wasted round trip.
        """
        known = None if moved else self._local_tip()
        if known is not None and self._remote_tip() == known:
            # Already here (most often: our own last push). A fetch would transfer nothing yet
            # still negotiate and check connectivity, at a cost that grows with the repo.
            self._maintain()
            return known
        (self.path / "FETCH_HEAD").unlink(missing_ok=True)
        self._fetch(*([] if self._has_tip() else ["--depth=1"]))
        return self._fetched_tip() or self._git("rev-parse", TIP_REF)

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
        shallow = shallow_file.read_text()
        complete = self._complete_since(shallow)
        if complete is not None and complete <= since:
            return  # known complete back to then; fetches since added only whole commits
        if set(shallow.split()) & set(self._git("rev-list", f"--since=@{since}", tip).split()):
            self._fetch(f"--shallow-since=@{since}")
            shallow = shallow_file.read_text() if shallow_file.exists() else ""
        (self.path / _HISTORY_FILE).write_text(json.dumps({"shallow": shallow, "since": since}))

    def _complete_since(self, shallow: str) -> int | None:
        """Since when the history is known to be here, for this shallow boundary (None: unknown).

        Without it, a boundary inside the searched time (a new instance that started at a recent
        tip) would have every promotion fetch the same history again for an hour.
        """
        try:
            record = json.loads((self.path / _HISTORY_FILE).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("shallow") != shallow:
            return None
        since = record.get("since")
        return since if isinstance(since, int) else None

    def _has_tip(self) -> bool:
        packed = self.path / "packed-refs"
        return (self.path / TIP_REF).exists() or (
            packed.exists() and f" {TIP_REF}\n" in packed.read_text()
        )

    def _fetch(self, *options: str) -> None:
        refspec = f"+refs/heads/{self.remote.branch}:{TIP_REF}"
        try:
            # --no-auto-gc: `_maintain` starts git's maintenance only when it has work to do.
            args = ("fetch", *options, "--no-tags", "--no-auto-gc", "--quiet", self.remote.url)
            self._git(*args, refspec)
        except GitCommandError as err:
            stderr = str(err.stderr).lower()
            if "couldn't find remote ref" in stderr:
                raise ConfigError(
                    f"repo: branch {self.remote.branch!r} not found in {self.remote.display}"
                ) from None
            if not any(hint in stderr for hint in _NETWORK_HINTS):
                _reset(self.path)  # an unexpected failure: start from a clean clone next time
            raise self._unavailable("fetch", err) from None
        self._maintain()

    def _local_tip(self) -> str | None:
        """The tip fetched (or pushed) last, read from the ref without a git process."""
        try:
            return SymbolicReference.dereference_recursive(self._repo, TIP_REF)
        except (OSError, ValueError):
            return None

    def _remote_tip(self) -> str | None:
        """The branch's commit id on the remote, asked without fetching (None: not known)."""
        ref = f"refs/heads/{self.remote.branch}"
        status, out, err = self._run("ls-remote", self.remote.url, ref)
        if status != 0 and any(hint in err.lower() for hint in _NETWORK_HINTS):
            raise GitUnavailable(f"git fetch from {self.remote.display} failed: {self._tail(err)}")
        tips = [line.split("\t")[0] for line in out.splitlines() if line.endswith(f"\t{ref}")]
        return tips[0] if status == 0 and tips else None  # else the fetch finds out what is wrong

    def _maintain(self) -> None:
        """Start `git gc --auto` when git's own tests say it has work to do."""
        # Loose objects pile up (one of the 256 object folders, sampled) or packs do. Testing
        # here saves the process a fetch starts every time to find out that it has nothing to do.
        objects = self.path / "objects"
        sample = objects / "17"
        loose = len(os.listdir(sample)) if sample.is_dir() else 0
        packs = sum(1 for _ in (objects / "pack").glob("*.pack"))
        if loose > _LOOSE_PER_FOLDER or packs > _PACK_LIMIT:
            self._run("gc", "--auto", "--quiet")

    def _fetched_tip(self) -> str | None:
        # fetch wrote the tip to FETCH_HEAD: reading it saves a `git rev-parse` per event.
        try:
            first = (self.path / "FETCH_HEAD").read_text().split("\t", 1)[0]
        except (OSError, UnicodeDecodeError):
            return None
        return first if _OBJECT_ID.fullmatch(first) else None

    def yaml_paths_naming(self, tip: str, needles: Collection[str]) -> set[str]:
        """Paths of the regular YAML files of `tip` that name any of the repositories `needles`."""
        if not needles:
            return set()
        index = self._index = CandidateIndex.load(self._index_file)
        if index.tip != tip:
            changed = self._changed_yaml(index.tip, tip) if index.tip else None
            index.advance(tip, changed, lambda path: self._read_changed(changed, path))
        paths = index.lookup(needles, lambda needle: self._grep(tip, needle))
        index.save(self._index_file)
        return paths

    @property
    def _index_file(self) -> Path:
        return self.path / "promoter-candidates.json"

    def _note_pushed(self, commit: str) -> None:
        # The remote's tip is now `commit`, complete here: the next event starts from it without
        # a fetch, and the index moves to it from what it changed, without a `git diff-tree`.
        parent, files = self._made.get(commit, (None, {}))
        if parent is None:
            return
        self._run("update-ref", TIP_REF, commit, parent)  # on failure the next event fetches
        index = self._index
        if index is not None and index.tip == parent:
            yaml = [path for path in files if path.endswith((".yaml", ".yml"))]
            index.advance(commit, yaml, files.get)
            index.save(self._index_file)

    def _grep(self, tip: str, repository: str) -> set[str]:
        pattern = grep_pattern(repository)
        status, out, _ = self._run(
            "grep", "-l", "-z", "-E", "--no-color", "-e", pattern, tip, "--", *YAML_PATHSPECS
        )
        if status not in (0, 1):
            raise GitUnavailable(f"git grep failed in workspace {self.path}")
        return {entry.split(":", 1)[1] for entry in out.split("\0") if entry}

    def _changed_yaml(self, old: str, new: str) -> dict[str, str | None] | None:
        """YAML paths changed from `old` to `new`, each with its new regular blob's id (or None)."""
        status, out, _ = self._run("diff-tree", "-r", "-z", "--no-renames", old, new)
        if status != 0:
            return None  # the old tip is gone (a fresh or pruned workspace): search everything
        # Raw output, two fields per file: ":<old mode> <new mode> <old id> <new id> <status>" and
        # the path. The new id is the blob to search: no ls-tree per changed file.
        fields = out.split("\0")
        changed: dict[str, str | None] = {}
        for meta, path in zip(fields[0::2], fields[1::2], strict=False):
            if path.endswith((".yaml", ".yml")):
                _, mode, _, sha, _ = meta.split(" ")
                changed[path] = sha if mode in _REGULAR else None
        return changed

    def _read_changed(self, changed: Mapping[str, str | None] | None, path: str) -> bytes | None:
        sha = (changed or {}).get(path)
        return self._read_object(bytes.fromhex(sha)) if sha else None

    def blobs(self, tip: str, paths: Collection[str]) -> list[Blob]:
        """The regular files among `paths` in `tip` (symlinks and submodules are left out)."""
        wanted = [path for path in dict.fromkeys(paths) if (tip, path) not in self._listed]
        if wanted:
            self._list(tip, wanted)
        return [blob for path in paths if (blob := self._listed[(tip, path)]) is not None]

    def _list(self, tip: str, paths: list[str]) -> None:
        # Remembered per (tip, path): one ls-tree serves planning and the commit's file modes.
        self._listed.update(((tip, path), None) for path in paths)
        out = self._git("--literal-pathspecs", "ls-tree", "-l", "-z", tip, "--", *paths)
        for entry in filter(None, out.split("\0")):
            meta, path = entry.split("\t", 1)
            mode, kind, sha, size = meta.split()
            # A folder among `paths` also lists the requested files below it: keep only those.
            if kind == "blob" and mode in _REGULAR and (tip, path) in self._listed:
                self._listed[(tip, path)] = Blob(path, mode, sha, int(size))

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
        tree = rewrite_tree(self._root_tree(tip), blobs, read=self._read_object, store=self._store)
        commit = self._git("commit-tree", tree.hex(), "-p", tip, "-m", message, env=identity.env())
        self._made[commit] = (tip, files)
        return commit

    def _root_tree(self, commit: str) -> bytes:
        # A commit object starts with "tree <id>": reading it saves a `git rev-parse`.
        header = self._read_object(bytes.fromhex(commit)).split(b"\n", 1)[0]
        kind, _, tree = header.partition(b" ")
        if kind != b"tree" or not _OBJECT_ID.fullmatch(tree.decode("ascii", "replace")):
            return bytes.fromhex(self._git("rev-parse", f"{commit}^{{tree}}"))
        return bytes.fromhex(tree.decode())

    def push(self, commit: str) -> None:
        """Fast-forward the remote branch to `commit`; never forced."""
        dest = f"{commit}:refs/heads/{self.remote.branch}"
        status, out, err = self._run("push", "--porcelain", "--quiet", self.remote.url, dest)
        if status == 0:
            self._note_pushed(commit)
            return
        text = f"{out}\n{err}".lower()
        if "unable to create" in text and ".lock" in text and "file exists" in text:
            # A push running there holds the lock for milliseconds; a lock that stays was left
            # by a crashed server process. The caller tells the two apart by retrying.
            raise RemoteLocked(
                f"the remote is locked: refs/heads/{self.remote.branch}.lock exists in"
                f" {self.remote.display}; if no push is running there, remove that file"
            )
        if "[rejected]" in text or "cannot lock ref" in text or "failed to update ref" in text:
            raise PushRejected(f"push to {self.remote.display} rejected: the branch moved")
        raise GitUnavailable(f"git push to {self.remote.display} failed: {self._tail(err)}")

    def _read_object(self, sha: bytes) -> bytes:
        try:
            return bytes(self._loose.stream(sha).read())
        except Exception:  # packed, or unreadable here: git's own cat-file reads it (or says why)
            return bytes(self._repo.odb.stream(sha).read())

    def _store(self, kind: bytes, data: bytes) -> bytes:
        return bytes(self._loose.store(IStream(kind, len(data), BytesIO(data))).binsha)

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
        return self.remote.git_error(stderr)


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
    for unfinished in path.parent.glob(path.name + ".new-*"):  # a process killed mid-init
        _reset(unfinished)
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


def _reset(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
