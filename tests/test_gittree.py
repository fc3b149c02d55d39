"""Trees rewritten in-process must equal what git's own index writes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from git import Repo
from hypothesis import given, settings
from hypothesis import strategies as st

from promoter.errors import ConfigError
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
    root = bytes.fromhex(git("rev-parse", "HEAD^{tree}", cwd=work))
    return _rewrite_with(repo, root, CHANGES, {})


def test_parse_and_format_round_trip(tmp_path: Path):
    raw = b"100644 b\0" + b"\1" * 20 + b"40000 b-c\0" + b"\2" * 20
    assert format_tree(parse_tree(raw)) == b"100644 b\0" + b"\1" * 20 + b"40000 b-c\0" + b"\2" * 20


# Names that sort differently as files and as folders in git's order ("a" < "a-b" < "a.b" <
# "a/" < "a0"), so that a wrong order, or a wrong kind, shows as a different tree id.
NAMES = ["a", "a-b", "a.b", "a0", "b", "b.yaml", "z"]


def _tree_of(work: Path) -> bytes:
    git("add", "-A", cwd=work)
    return bytes.fromhex(git("write-tree", cwd=work))


def _write(work: Path, files: dict[str, bytes], modes: dict[str, bool]) -> None:
    for path, data in files.items():
        target = work / path
        if target.is_dir():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        os.chmod(target, 0o755 if modes.get(path) else 0o644)


def _collide(p: str, q: str) -> bool:
    """True when `p` and `q` cannot both be files: one is a folder of the other."""
    return p != q and (p.startswith(q + "/") or q.startswith(p + "/"))


def _files(paths: set[str]) -> list[str]:
    kept: list[str] = []
    for path in sorted(paths):
        if not any(_collide(path, other) for other in kept):
            kept.append(path)
    return kept


PATHS = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map("/".join)


@settings(max_examples=25, deadline=None)
@given(
    existing=st.sets(PATHS, min_size=1, max_size=12),
    changed=st.sets(PATHS, min_size=1, max_size=6),
    executable=st.sets(st.sampled_from(NAMES), max_size=2),
)
def test_any_rewrite_equals_what_git_writes(tmp_path_factory, existing, changed, executable):
    before = _files(existing)
    after = [p for p in _files(changed) if not any(_collide(p, b) for b in before)]
    if not after:
        return
    work = tmp_path_factory.mktemp("tree")
    _write(work, {p: p.encode() for p in before}, {})
    git("init", "-q", cwd=work)
    old = _tree_of(work)
    new_files = {p: f"new {p}".encode() for p in after}
    modes = {p: p in executable for p in after}
    with Repo(work) as repo:
        ours = _rewrite_with(repo, old, new_files, modes)
    _write(work, new_files, modes)
    assert ours == _tree_of(work)


def _store(repo: Repo):
    from io import BytesIO

    from gitdb import IStream  # type: ignore[import-untyped]

    def store(kind: bytes, data: bytes) -> bytes:
        return bytes(repo.odb.store(IStream(kind, len(data), BytesIO(data))).binsha)

    return store


def _rewrite_with(
    repo: Repo, tree: bytes, files: dict[str, bytes], modes: dict[str, bool]
) -> bytes:
    store = _store(repo)
    blobs = {
        p: (b"100755" if modes.get(p) else b"100644", store(b"blob", d)) for p, d in files.items()
    }
    return rewrite_tree(tree, blobs, read=lambda sha: repo.odb.stream(sha).read(), store=store)


def test_a_large_folder_rewritten_again_from_memory_keeps_gits_order(tmp_path: Path):
    # Trees of 256 entries or more are remembered after writing: the next rewrite starts from
    # that memory (already in order) and must still sort a name it adds.
    work = tmp_path / "w"
    # "m2.yaml" sorts after a file "m2" and before a folder "m2" ("m2/").
    _write(work, {**{f"m{i:03}.yaml": b"x" for i in range(300)}, "m2.yaml": b"y"}, {})
    git("init", "-q", cwd=work)
    tree = _tree_of(work)
    steps = [
        {"m150.yaml": b"changed"},  # in place: the order holds
        {"m150-b.yaml": b"new", "a.yaml": b"first"},  # new names in the middle and in front
        {"m151.yaml": b"exec"},  # a mode change keeps its place
        {"m2/inner.yaml": b"folder"},  # a new folder sorts as "m2/"
        {"m2": b"a file where the folder was"},  # and a file as "m2"
    ]
    with Repo(work) as repo:
        for number, files in enumerate(steps):
            modes = {"m151.yaml": True} if number == 2 else {}
            tree = _rewrite_with(repo, tree, files, modes)
            _write(work, files, modes)
            assert tree == _tree_of(work), f"step {number}"


def test_a_file_in_the_way_of_a_folder_is_a_config_error(tmp_path: Path):
    # A config repo holding a file named `.promoter` cannot take the ledger below it.
    work = tmp_path / "w"
    _write(work, {".promoter": b"a file", "app.yaml": b"x"}, {})
    git("init", "-q", cwd=work)
    with (
        Repo(work) as repo,
        pytest.raises(ConfigError, match=r"^cannot write \.promoter/\.\.\.: it is a file$"),
    ):
        _rewrite_with(repo, _tree_of(work), {".promoter/ledger.jsonl": b"{}"}, {})


def test_a_large_tree_written_last_is_not_read_again(tmp_path: Path):
    work = tmp_path / "w"
    _write(work, {f"m{i:03}.yaml": b"x" for i in range(300)}, {})
    git("init", "-q", cwd=work)
    with Repo(work) as repo:
        store = _store(repo)
        reads: list[bytes] = []

        def read(sha: bytes) -> bytes:
            reads.append(sha)
            return bytes(repo.odb.stream(sha).read())

        first = rewrite_tree(
            _tree_of(work), {"m001.yaml": (b"100644", store(b"blob", b"1"))}, read=read, store=store
        )
        assert len(reads) == 1
        rewrite_tree(
            first, {"m002.yaml": (b"100644", store(b"blob", b"2"))}, read=read, store=store
        )
        assert len(reads) == 1  # the 300 entries came from memory
