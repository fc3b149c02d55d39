"""Objects of the workspace: files read from a tip's tree, new blobs, trees and the commit.

Loose objects are read and written in-process (gitdb, the store GitPython is built on): a git
process per object costs more than the rest of a promotion's Python work. A packed object is
read by git's own `cat-file`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from git import Actor, Repo
from git.db import GitCmdObjectDB
from git.objects import Commit, Tree
from gitdb import IStream, LooseObjectDB  # type: ignore[import-untyped]

from promoter import signing
from promoter.gitdir import OBJECT_ID, REGULAR_MODES, SYMLINK_MODE, GitDir
from promoter.gittree import rewrite_tree
from promoter.kept import Kept
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


@dataclass
class _Listing:
    """What `ls-tree` said of the paths asked about in one commit."""

    blobs: dict[str, Blob | None] = field(default_factory=dict)  # None: no regular file there
    links: dict[str, str] = field(default_factory=dict)  # path -> blob id of a symlink


# The listings of the last commits, per workspace, kept from one event to the next: a commit's id
# names its tree, so a listing is never stale. A commit written here gets its listing from its
# parent's and the files written: the next event most often starts from our own last push, and
# then runs no `ls-tree` at all.
_LISTINGS: Kept[tuple[str, str], _Listing] = Kept(8)

# Objects read or written lately, by id, for every workspace of the process: an id names its
# bytes, so a kept copy is never stale. The next event of a warm instance starts from the commit
# it wrote itself, and then reads its trees and blobs without opening a file.
_OBJECTS: Kept[bytes, bytes] = Kept(16 * 2**20, size=len)
_KEEP_LARGEST = 2**20  # larger objects (a rendered manifest) are read again when needed


class Objects(GitDir):
    """Read the files of a tip; write new blobs and trees and a commit over them."""

    def __init__(self, path: Path, remote: Remote, repo: Repo, *, timeout: float) -> None:
        super().__init__(path, remote, repo, timeout=timeout)
        self._loose = LooseObjectDB(str(path / "objects"))

    def blobs(self, tip: str, paths: Collection[str]) -> list[Blob]:
        """The regular files among `paths` in `tip` (symlinks and submodules are left out)."""
        listing = self._listing(tip)
        wanted = [path for path in dict.fromkeys(paths) if path not in listing.blobs]
        if wanted:
            self._list(tip, listing, wanted)
        return [blob for path in paths if (blob := listing.blobs[path]) is not None]

    def _listing(self, commit: str) -> _Listing:
        listing = _LISTINGS.get((str(self.path), commit))
        return listing if listing is not None else self._keep(commit, _Listing())

    def _keep(self, commit: str, listing: _Listing) -> _Listing:
        return _LISTINGS.put((str(self.path), commit), listing)

    def _list(self, tip: str, listing: _Listing, paths: list[str]) -> None:
        # One ls-tree serves planning and the commit's file modes. Kept only once git answered.
        blobs: dict[str, Blob | None] = dict.fromkeys(paths)
        links: dict[str, str] = {}
        out = self._git("--literal-pathspecs", "ls-tree", "-l", "-z", tip, "--", *paths)
        for entry in filter(None, out.split("\0")):
            meta, path = entry.split("\t", 1)
            mode, kind, sha, size = meta.split()
            # A folder among `paths` also lists the requested files below it: keep only those.
            if kind != "blob" or path not in blobs:
                continue
            if mode in REGULAR_MODES:
                blobs[path] = Blob(path, mode, sha, int(size))
            elif mode == SYMLINK_MODE:
                links[path] = sha
        listing.links.update(links)
        listing.blobs.update(blobs)

    def link_target(self, tip: str, path: str) -> str | None:
        """Where `path` points in `tip` if it is a symlink (its target's text), else None."""
        self.blobs(tip, [path])
        sha = self._listing(tip).links.get(path)
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
        made = self._commit(tip, blobs, message=message, identity=identity)
        self._keep(made, _written(self._listing(tip), blobs, files))
        return made

    def _commit(
        self,
        tip: str,
        blobs: Mapping[str, tuple[bytes, bytes]],
        *,
        message: str,
        identity: Identity,
    ) -> str:
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
        data = _OBJECTS.get(sha)
        if data is not None:
            return data
        try:
            data = bytes(self._loose.stream(sha).read())
        except Exception:  # packed, or unreadable here: git's own cat-file reads it (or says why)
            data = bytes(self._repo.odb.stream(sha).read())
        _keep_object(sha, data)
        return data

    def _store(self, kind: bytes, data: bytes) -> bytes:
        """Store an object unless this workspace has it loose already (as git does); its id.

        Files that are alike (one overlay per cluster) make the same blobs and trees: each is
        written once.
        """
        digest = hashlib.sha1(b"%s %d\0" % (kind, len(data)))
        digest.update(data)
        sha = digest.digest()
        if not self._loose.has_object(sha):
            stored = bytes(self._loose.store(IStream(kind, len(data), BytesIO(data))).binsha)
            assert stored == sha, (stored.hex(), sha.hex())
        _keep_object(sha, data)
        return sha


def _keep_object(sha: bytes, data: bytes) -> None:
    if len(data) <= _KEEP_LARGEST:
        _OBJECTS.put(sha, data)


class ObjectDB(GitCmdObjectDB):
    """GitPython's object database for the workspace, storing new objects with gitdb's loose
    store in-process: GitPython 3.2's own store runs a `git hash-object` process for the commit
    that `Commit.create_from_tree` makes (outside our deadlines, and a process per promotion)."""

    store = LooseObjectDB.store


def _written(
    parent: _Listing, blobs: Mapping[str, tuple[bytes, bytes]], files: Mapping[str, bytes]
) -> _Listing:
    """The listing of a commit that wrote `blobs` (path -> (mode, id)) over `parent`."""

    # A file written where a folder was replaces what was listed below it: listed again if asked.
    def replaced(path: str) -> bool:
        return any(path[:at] in blobs for at, char in enumerate(path) if char == "/")

    listing = _Listing(
        {path: blob for path, blob in parent.blobs.items() if not replaced(path)},
        {path: sha for path, sha in parent.links.items() if not replaced(path)},
    )
    for path, (mode, sha) in blobs.items():
        listing.blobs[path] = Blob(path, mode.decode(), sha.hex(), len(files[path]))
        listing.links.pop(path, None)
    return listing
