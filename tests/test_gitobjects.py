"""A commit written in the workspace knows its own listing: what `git ls-tree` would say of it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from promoter import processes
from promoter.events import from_envelope
from promoter.gitrepo import Identity, Workspace
from promoter.service import promote
from promoter.settings import Settings

from .conftest import WEB, build, digest_of, git, show

Listing = tuple[set[tuple[str, str, str, str]], dict[str, str]]  # (path, mode, id, size), links
ASKED = [
    "apps/web.yaml",  # changed
    "apps/link.yaml",  # a symlink, written over with a file
    "apps/other-link.yaml",  # a symlink, kept
    "apps/kept.yaml",  # not written
    "apps/gone.yaml",  # absent, then written
    "apps",  # a folder
    "old/inner.yaml",  # below a folder that a file replaces
    "new/deep/x.yaml",  # in new folders
    "new",
]


def _settings(remote: Path, workdir: Path) -> Settings:
    return Settings.build(repo=str(remote), workdir=str(workdir), environ={})


def _remote(tmp_path: Path) -> Path:
    work = tmp_path / "seed"
    for path in ["apps/web.yaml", "apps/kept.yaml", "apps/target.yaml", "old/inner.yaml"]:
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(f"{path}\n")
    os.chmod(work / "apps/kept.yaml", 0o755)
    os.symlink("target.yaml", work / "apps/link.yaml")
    os.symlink("kept.yaml", work / "apps/other-link.yaml")
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "Seed", cwd=work)
    bare = tmp_path / "remote.git"
    git("clone", "-q", "--bare", work, bare)
    return bare


def _gits_listing(workspace: Path, commit: str, paths: list[str]) -> Listing:
    out = git("--git-dir", workspace, "ls-tree", "-l", "-r", commit)
    blobs, links = set(), {}
    for line in out.splitlines():
        meta, path = line.split("\t", 1)
        mode, _, sha, size = meta.split()
        if mode in ("100644", "100755") and path in paths:
            blobs.add((path, mode, sha, size))
        elif mode == "120000" and path in paths:
            links[path] = git("--git-dir", workspace, "cat-file", "blob", sha)
    return blobs, links


@pytest.fixture
def git_processes(monkeypatch) -> list[str]:
    """The git subcommands the promoter runs (each still runs: this only records them)."""
    ran: list[str] = []
    real = processes.run

    def run(argv, **kwargs):
        ran.append(next(arg for arg in argv[1:] if not arg.startswith("-")))
        return real(argv, **kwargs)

    monkeypatch.setattr(processes, "run", run)
    return ran


def test_a_commits_listing_is_carried_from_its_parent_as_git_lists_it(tmp_path, git_processes):
    settings = _settings(_remote(tmp_path), tmp_path / "work")
    files = {
        "apps/web.yaml": b"changed\n",
        "apps/link.yaml": b"a file now\n",
        "apps/gone.yaml": b"new\n",
        "old": b"a file where a folder was\n",
        "new/deep/x.yaml": b"deep\n",
    }
    with Workspace.open(settings.workdir, settings.remote) as workspace:
        tip = workspace.fetch()
        assert workspace.link_target(tip, "apps/link.yaml") == "target.yaml"
        workspace.blobs(tip, ASKED)
        commit = workspace.commit(tip, files, message="m", identity=Identity())
        del git_processes[:]
        carried = [path for path in ASKED if path != "old/inner.yaml"]
        assert _listing(workspace, commit, carried) == _gits_listing(
            workspace.path, commit, carried
        )
        assert git_processes == []  # all from the parent's listing and the files written
        # A file replaced the folder above it, and a path never asked about: git lists them.
        again = ["old/inner.yaml", "apps/target.yaml"]
        assert _listing(workspace, commit, again) == _gits_listing(workspace.path, commit, again)
        assert git_processes == ["ls-tree"]


def _listing(workspace: Workspace, commit: str, paths: list[str]) -> Listing:
    blobs = {(b.path, b.mode, b.sha, str(b.size)) for b in workspace.blobs(commit, paths)}
    links = {p: t for p in paths if (t := workspace.link_target(commit, p)) is not None}
    return blobs, links


def test_the_event_after_our_own_push_lists_nothing(make_config_repo, tmp_path, git_processes):
    remote = make_config_repo()
    settings = _settings(remote, tmp_path / "work")
    for n in range(3):
        del git_processes[:]
        event = build(create_time=f"2026-03-02T09:1{n}:00Z", digest=digest_of(n))
        result = promote(from_envelope(event), settings)
        assert result.outcome == "promoted", result
    assert "ls-tree" not in git_processes
    assert f"{WEB}:4be1a9c@{digest_of(2)}" in show(remote, "clusters/prod/deployment.yaml")


def test_gitpythons_commits_are_stored_in_process_as_git_reads_them(tmp_path: Path) -> None:
    """GitPython's own store runs `git hash-object` (outside our deadlines); ours does not."""
    from io import BytesIO

    from gitdb import IStream  # type: ignore[import-untyped]

    from promoter.gitobjects import ObjectDB

    bare = tmp_path / "repo.git"
    git("init", "-q", "--bare", bare)
    odb = ObjectDB(str(bare / "objects"), None)  # type: ignore[arg-type]  # no git to run
    data = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nempty\n"
    stored = odb.store(IStream(b"commit", len(data), BytesIO(data)))
    sha = stored.binsha.hex()
    assert git("--git-dir", bare, "cat-file", "-t", sha) == "commit"
    assert git("--git-dir", bare, "cat-file", "-p", sha) == data.decode().strip()


@pytest.mark.parametrize("message", ["Promote web\n\nBuild-Id: b1\n", "no newline at the end"])
def test_a_commits_message_is_stored_as_given_ending_in_one_newline(tmp_path, message):
    settings = _settings(_remote(tmp_path), tmp_path / "work")
    with Workspace.open(settings.workdir, settings.remote) as workspace:
        tip = workspace.fetch()
        commit = workspace.commit(tip, {"a.yaml": b"a\n"}, message=message, identity=Identity())
        raw = subprocess.run(
            ["git", "--git-dir", workspace.path, "cat-file", "commit", commit],
            capture_output=True,
            check=True,
        ).stdout
    assert raw.partition(b"\n\n")[2] == (message.rstrip("\n") + "\n").encode()


def test_the_listings_kept_across_events_stay_bounded(tmp_path):
    from promoter import gitobjects

    settings = _settings(_remote(tmp_path), tmp_path / "work")
    with Workspace.open(settings.workdir, settings.remote) as workspace:
        tip = workspace.fetch()
        for n in range(gitobjects._LISTINGS.limit + 3):
            tip = workspace.commit(tip, {"a.yaml": b"%d\n" % n}, message="m", identity=Identity())
            assert len(gitobjects._LISTINGS) <= gitobjects._LISTINGS.limit
        assert (str(workspace.path), tip) in gitobjects._LISTINGS  # the newest is kept


def _loose_objects(workspace: Path) -> set[str]:
    root = workspace / "objects"
    return {f"{d.name}{f.name}" for d in root.iterdir() if len(d.name) == 2 for f in d.iterdir()}


def test_files_alike_make_one_blob_and_the_commit_is_whole(tmp_path):
    """One overlay per cluster makes the same blob and trees: each stored, the commit whole."""
    settings = _settings(_remote(tmp_path), tmp_path / "work")
    same = b"kind: Deployment\n"
    files = {f"clusters/{c}/prod/web.yaml": same for c in ("a", "b", "c")}
    with Workspace.open(settings.workdir, settings.remote) as workspace:
        tip = workspace.fetch()
        before = _loose_objects(workspace.path)
        commit = workspace.commit(tip, files, message="m", identity=Identity())
        made = _loose_objects(workspace.path) - before
        git("--git-dir", workspace.path, "fsck", "--strict", "--no-dangling", commit)
        blob = git("--git-dir", workspace.path, "rev-parse", f"{commit}:clusters/a/prod/web.yaml")
        tree = git("--git-dir", workspace.path, "rev-parse", f"{commit}:clusters/a")
        for c in ("b", "c"):
            assert git("--git-dir", workspace.path, "rev-parse", f"{commit}:clusters/{c}") == tree
    # the commit, the root tree, clusters/, one cluster's tree and its prod/, one blob
    assert made == {commit, blob, tree} | {
        git("--git-dir", workspace.path, "rev-parse", f"{commit}:{p}")
        for p in ("", "clusters", "clusters/a/prod")
    }
    assert len(made) == 6


def test_an_object_the_workspace_lost_is_written_again(tmp_path):
    """What the process keeps in hand is not what the workspace has: its own files decide."""
    settings = _settings(_remote(tmp_path), tmp_path / "work")
    with Workspace.open(settings.workdir, settings.remote) as workspace:
        tip = workspace.fetch()
        first = workspace.commit(tip, {"x.yaml": b"lost\n"}, message="m", identity=Identity())
        blob = git("--git-dir", workspace.path, "rev-parse", f"{first}:x.yaml")
        (workspace.path / "objects" / blob[:2] / blob[2:]).unlink()
        again = workspace.commit(tip, {"x.yaml": b"lost\n"}, message="n", identity=Identity())
        assert git("--git-dir", workspace.path, "cat-file", "blob", f"{again}:x.yaml") == "lost"
        git("--git-dir", workspace.path, "fsck", "--strict", "--no-dangling", again)


def test_objects_kept_in_hand_stay_bounded(tmp_path):
    from promoter import gitobjects

    settings = _settings(_remote(tmp_path), tmp_path / "work")
    big = b"x" * (gitobjects._KEEP_LARGEST + 1)
    with Workspace.open(settings.workdir, settings.remote) as workspace:
        tip = workspace.fetch()
        commit = workspace.commit(tip, {"big.yaml": big}, message="m", identity=Identity())
        blob = bytes.fromhex(git("--git-dir", workspace.path, "rev-parse", f"{commit}:big.yaml"))
        assert blob not in gitobjects._OBJECTS  # read again when needed
        (read,) = workspace.blobs(commit, ["big.yaml"])
        assert workspace.read(read) == big
        for n in range(40):
            chunk = b"%d" % n + b"y" * (gitobjects._OBJECTS.limit // 20)
            workspace.commit(tip, {"a.yaml": chunk}, message="m", identity=Identity())
            assert gitobjects._OBJECTS.total <= gitobjects._OBJECTS.limit
