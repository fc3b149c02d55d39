"""Trees rewritten in-process must equal what git's own index writes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from git import Repo

from promoter.gittree import format_tree, parse_tree, rewrite_tree

from .conftest import git


def test_rewritten_tree_equals_gits_own(tmp_path: Path):
    work = tmp_path / "w"
    for path in ["a/x.yaml", "a.b", "a-b/y.yaml", "a0", "deep/er/still/z.yaml", "top.yaml"]:
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(path)
    os.chmod(work / "top.yaml", 0o755)
    git("init", "-q", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "x", cwd=work)
    with Repo(work) as repo:  # closed: its git cat-file processes end with the test
        ours = _rewrite(repo, work)

    for path, data in CHANGES.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_bytes(data)
    git("add", "-A", cwd=work)
    assert ours.hex() == git("write-tree", cwd=work)
    subprocess.run(["git", "-C", str(work), "fsck", "--strict", "--no-dangling"], check=True)


CHANGES = {
    "deep/er/still/z.yaml": b"new z",
    "a/new.yaml": b"new",
    ".promoter/ledger.jsonl": b"l",
}


def _rewrite(repo: Repo, work: Path) -> bytes:
    changes = CHANGES

    def store(kind: bytes, data: bytes) -> bytes:
        from io import BytesIO

        from gitdb import IStream  # type: ignore[import-untyped]

        return bytes(repo.odb.store(IStream(kind, len(data), BytesIO(data))).binsha)

    blobs = {p: (b"100644", store(b"blob", d)) for p, d in changes.items()}
    root = bytes.fromhex(git("rev-parse", "HEAD^{tree}", cwd=work))
    return rewrite_tree(root, blobs, read=lambda sha: repo.odb.stream(sha).read(), store=store)


def test_parse_and_format_round_trip(tmp_path: Path):
    raw = b"100644 b\0" + b"\1" * 20 + b"40000 b-c\0" + b"\2" * 20
    assert format_tree(parse_tree(raw)) == b"100644 b\0" + b"\1" * 20 + b"40000 b-c\0" + b"\2" * 20
