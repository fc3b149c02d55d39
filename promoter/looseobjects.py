"""Loose objects written and read as git does, in a few system calls each.

A promotion writes an object per changed file, per tree on their paths and the commit (44 on the
families shape of issue 9) and reads about as many. gitdb's store makes a randomly named
temporary file, streams it through a compressor, calls `makedirs`, checks, renames and `chmod`s:
about 0.25 ms an object here, a tenth of the promotion's own work. Here: hash, one existence
check, compress at git's loose level (`core.looseCompression` defaults to 1, as gitdb's), write a
read-only file and rename it into place. The bytes on disk are gitdb's (shown equal in the tests).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import zlib
from pathlib import Path

from git.cmd import Git
from git.db import GitCmdObjectDB
from git.types import PathLike
from gitdb import IStream  # type: ignore[import-untyped]

_LOOSE_LEVEL = 1  # zlib's Z_BEST_SPEED: git's and gitdb's level for loose objects
_READ_ONLY = 0o444  # as git and gitdb leave an object file
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_names = itertools.count()  # temporary file names, unique within the process


class LooseObjects:
    """The loose objects under a repository's `objects/` folder."""

    def __init__(self, objects: Path) -> None:
        self._root = str(objects)

    def write(self, kind: bytes, data: bytes) -> bytes:
        """Store `data` as an object of `kind` (b"blob", b"tree", b"commit"); its binary id."""
        header = b"%s %d\0" % (kind, len(data))
        digest = hashlib.sha1(header)
        digest.update(data)
        hexsha = digest.hexdigest()
        folder, path = self._paths(hexsha)
        if os.path.exists(path):
            return digest.digest()  # written before: ids name contents
        compressed = zlib.compress(header + data, _LOOSE_LEVEL)  # a compressobj costs 5 times more
        tmp = os.path.join(folder, f"tmp_obj_{os.getpid()}_{next(_names)}")
        try:
            fd = os.open(tmp, _CREATE, _READ_ONLY)
        except FileNotFoundError:  # the first object in its fan-out folder
            os.makedirs(folder, exist_ok=True)
            fd = os.open(tmp, _CREATE, _READ_ONLY)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(compressed)
            os.rename(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return digest.digest()

    def read(self, binsha: bytes) -> bytes | None:
        """The contents of the object `binsha`; None when it is not loose here.

        A damaged object raises (zlib.error, ValueError): the caller asks git, which says why.
        """
        _, path = self._paths(binsha.hex())
        try:
            with open(path, "rb") as file:
                raw = file.read()
        except FileNotFoundError:
            return None
        data = zlib.decompress(raw)
        header, nul, body = data.partition(b"\0")
        _, _, size = header.partition(b" ")
        if not nul or not size.isdigit() or int(size) != len(body):
            raise ValueError(f"loose object {binsha.hex()} is damaged")
        return body

    def _paths(self, hexsha: str) -> tuple[str, str]:
        folder = os.path.join(self._root, hexsha[:2])
        return folder, os.path.join(folder, hexsha[2:])


class ObjectDB(GitCmdObjectDB):
    """GitPython's object database, its writes made here: without it, GitPython 3.2 stores the
    commit that `Commit.create_from_tree` makes through a `git hash-object` process."""

    def __init__(self, root_path: PathLike, git: Git) -> None:
        super().__init__(root_path, git)
        self._loose = LooseObjects(Path(root_path))

    def store(self, istream: IStream) -> IStream:
        if istream.binsha is not None or self.ostream() is not None:
            return super().store(istream)  # a copy of a known object: gitdb's own path
        kind = istream.type if isinstance(istream.type, bytes) else istream.type.encode("ascii")
        istream.binsha = self._loose.write(kind, istream.read(istream.size))
        return istream
