"""Loose objects written in-process are git's own, byte for byte; GitPython's too."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from git import Actor, Git, Repo
from git.db import GitCmdObjectDB
from git.objects import Commit, Tree

from promoter.looseobjects import LooseObjects, ObjectDB

from .conftest import git

SAMPLES = {
    "empty": b"",
    "a line": b"image: web:1\n",
    "100 KB": hashlib.sha256(b"seed").digest() * 3200,
    "3 MB of one byte": b"a" * 3_000_000,
}


def _bare(tmp_path: Path) -> Path:
    bare = tmp_path / "r.git"
    git("init", "-q", "--bare", bare)
    return bare


def _object_file(bare: Path, hexsha: str) -> Path:
    return bare / "objects" / hexsha[:2] / hexsha[2:]


@pytest.mark.parametrize("data", SAMPLES.values(), ids=list(SAMPLES))
def test_an_object_is_written_as_git_writes_it(tmp_path: Path, data: bytes):
    bare = _bare(tmp_path)
    hexsha = (
        subprocess.run(
            ["git", "--git-dir", str(bare), "hash-object", "-w", "--stdin"],
            input=data,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    file = _object_file(bare, hexsha)
    gits = file.read_bytes()
    file.chmod(0o644)
    file.unlink()

    assert LooseObjects(bare / "objects").write(b"blob", data).hex() == hexsha
    assert file.read_bytes() == gits
    assert file.stat().st_mode & 0o777 == 0o444
    assert list(file.parent.glob("tmp_obj_*")) == []
    git("--git-dir", bare, "fsck", "--strict", "--no-dangling")


def test_an_object_git_wrote_reads_back_and_one_written_twice_stays(tmp_path: Path):
    bare = _bare(tmp_path)
    loose = LooseObjects(bare / "objects")
    hexsha = (
        subprocess.run(
            ["git", "--git-dir", str(bare), "hash-object", "-w", "--stdin"],
            input=b"from git\n",
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    assert loose.read(bytes.fromhex(hexsha)) == b"from git\n"
    before = _object_file(bare, hexsha).stat()
    assert loose.write(b"blob", b"from git\n").hex() == hexsha
    assert _object_file(bare, hexsha).stat().st_ino == before.st_ino


def test_a_missing_object_is_none_and_a_damaged_one_raises(tmp_path: Path):
    bare = _bare(tmp_path)
    loose = LooseObjects(bare / "objects")
    assert loose.read(b"\1" * 20) is None  # not loose here: packed, or absent
    damaged = loose.write(b"blob", b"x" * 100)
    file = _object_file(bare, damaged.hex())
    file.chmod(0o644)
    file.write_bytes(file.read_bytes()[:-5])
    with pytest.raises(Exception):  # noqa: B017 - zlib.error or ValueError: the caller asks git
        loose.read(damaged)


def test_gitpythons_commit_is_stored_in_process_with_the_same_id(tmp_path: Path, monkeypatch):
    # Fixed dates: the two commits must be the same object, made with and without a process.
    monkeypatch.setenv("GIT_AUTHOR_DATE", "1772439051 +0100")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "1772439051 +0100")
    bare = _bare(tmp_path)
    tree = bytes.fromhex("4b825dc642cb6eb9a060e54bf8d69288fbee4904")  # git's empty tree
    made = []
    for odbt in (ObjectDB, GitCmdObjectDB):  # ours, then GitPython's own
        with monkeypatch.context() as patch, Repo(bare, odbt=odbt) as repo:
            if odbt is ObjectDB:  # a tripwire: no `git hash-object` process
                patch.setattr(Git, "hash_object", _no_process, raising=False)
            commit = Commit.create_from_tree(
                repo,
                Tree(repo, tree, mode=0o40000, path=""),
                "Promote web\n",
                parent_commits=[],
                author=Actor("promoter", "promoter@noreply.invalid"),
                committer=Actor("promoter", "promoter@noreply.invalid"),
            )
            made.append(commit.hexsha)
        if odbt is ObjectDB:  # removed, so that the second one is written, not found
            file = _object_file(bare, commit.hexsha)
            file.chmod(0o644)
            file.unlink()
    assert made[0] == made[1]
    assert git("--git-dir", bare, "cat-file", "-t", made[0]) == "commit"


def _no_process(*args: object, **kwargs: object) -> None:
    raise AssertionError("git hash-object ran")
