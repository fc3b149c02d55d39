"""Objects of the workspace: files read from a tip's tree, new blobs, trees and the commit.

Loose objects are read and written in-process (`looseobjects`): a git process per object costs
more than the rest of a promotion's Python work. A packed object is read by git's own `cat-file`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from git import Actor, Repo
from git.objects import Commit, Tree

from promoter import signing
from promoter.gitdir import OBJECT_ID, REGULAR_MODES, SYMLINK_MODE, GitDir
from promoter.gittree import rewrite_tree
from promoter.looseobjects import LooseObjects
from promoter.remote import Remote


@dataclass(frozen=True)
class Identity:
    """Who the promotion commits are by, and the SSH key that signs them (PROMOTER_SIGNING_KEY)."""

    name: str = "promoter"
    email: str = "promoter@noreply.invalid"
    signing_key: Path | None = None  # a private key file; set, every commit is signed


@dataclass(frozen=True)
class Blob:
    """A file in the fetched tree."""

    path: str
    mode: str
    sha: str
    size: int


class Objects(GitDir):
    """Read the files of a tip; write new blobs and trees and a commit over them."""

    def __init__(self, path: Path, remote: Remote, repo: Repo, *, timeout: float) -> None:
        super().__init__(path, remote, repo, timeout=timeout)
        self._loose = LooseObjects(path / "objects")
        self._listed: dict[tuple[str, str], Blob | None] = {}  # (tip, path) -> what ls-tree said
        self._links: dict[tuple[str, str], str] = {}  # (tip, path) -> blob id of a symlink

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
            if kind != "blob" or (tip, path) not in self._listed:
                continue
            if mode in REGULAR_MODES:
                self._listed[(tip, path)] = Blob(path, mode, sha, int(size))
            elif mode == SYMLINK_MODE:
                self._links[(tip, path)] = sha

    def link_target(self, tip: str, path: str) -> str | None:
        """Where `path` points in `tip` if it is a symlink (its target's text), else None."""
        self.blobs(tip, [path])
        sha = self._links.get((tip, path))
        if sha is None:
            return None
        return self.read_object(bytes.fromhex(sha)).decode("utf-8", "surrogateescape")

    def read(self, blob: Blob) -> bytes:
        """The contents of `blob`."""
        return self.read_object(bytes.fromhex(blob.sha))

    def commit(
        self, tip: str, files: Mapping[str, bytes], *, message: str, identity: Identity
    ) -> str:
        """Write `files` over the tree of `tip` and commit it as a child of `tip`."""
        modes = {b.path: b.mode.encode() for b in self.blobs(tip, list(files))}
        blobs = {
            path: (modes.get(path, b"100644"), self._store(b"blob", data))
            for path, data in files.items()
        }
        tree = rewrite_tree(self._root_tree(tip), blobs, read=self.read_object, store=self._store)
        # GitPython writes the same bytes as `git commit-tree -m` (which ends the message with a
        # line break, and honours GIT_AUTHOR_DATE/GIT_COMMITTER_DATE), without a process.
        actor = Actor(identity.name, identity.email)
        commit = Commit.create_from_tree(
            self._repo,
            Tree(self._repo, tree, mode=0o40000, path=""),
            message if message.endswith("\n") else message + "\n",
            parent_commits=[Commit(self._repo, bytes.fromhex(tip))],
            author=actor,
            committer=actor,
        )
        if identity.signing_key is None:
            return str(commit.hexsha)
        return self._signed(commit.binsha, identity.signing_key)

    def _signed(self, unsigned: bytes, key: Path) -> str:
        """The commit `unsigned` with an SSH signature by `key`, stored; its id.

        As git signs: the commit's bytes are signed and the signature is added as a header. The
        unsigned object stays behind, unreferenced: never pushed, and pruned by `git gc --auto`.
        """
        data = self.read_object(unsigned)
        signature = signing.sign(data, key=key, timeout=self.timeout)
        return self._store(b"commit", signing.with_signature(data, signature)).hex()

    def _root_tree(self, commit: str) -> bytes:
        # A commit object starts with "tree <id>": reading it saves a `git rev-parse`.
        header = self.read_object(bytes.fromhex(commit)).split(b"\n", 1)[0]
        kind, _, tree = header.partition(b" ")
        if kind != b"tree" or not OBJECT_ID.fullmatch(tree.decode("ascii", "replace")):
            return bytes.fromhex(self._git("rev-parse", f"{commit}^{{tree}}"))
        return bytes.fromhex(tree.decode())

    def read_object(self, sha: bytes) -> bytes:
        try:
            data = self._loose.read(sha)
        except Exception:  # unreadable here: git's own cat-file reads it (or says why)
            data = None
        if data is None:  # packed
            data = bytes(self._repo.odb.stream(sha).read())
        return data

    def _store(self, kind: bytes, data: bytes) -> bytes:
        return self._loose.write(kind, data)
