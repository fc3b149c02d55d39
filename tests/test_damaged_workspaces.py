"""A workspace damaged on disk heals within the event: discarded and cloned again, once.

Our workspaces live on the instance's disk, where a full disk, a killed process or a person can
leave them broken. Whatever the damage, the event that meets it clones again and lands; a
failure that a fresh clone does not cure is not the workspace's and is answered as what it is.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import bug_env, build, count_commits, digest_of, promote_cli, show

KUSTOMIZATION = "clusters/dev/kustomization.yaml"


def _truncate_objects(workspace: Path) -> None:
    for loose in workspace.glob("objects/??/*"):
        loose.write_bytes(b"x")


def _file_instead(path: Path) -> None:
    shutil.rmtree(path)
    path.write_text("x")


def _folder_instead(path: Path) -> None:
    path.unlink()
    path.mkdir()


DAMAGES: dict[str, Callable[[Path], object]] = {
    "objects/ gone": lambda w: shutil.rmtree(w / "objects"),
    "refs/ gone": lambda w: shutil.rmtree(w / "refs"),
    "HEAD garbage": lambda w: (w / "HEAD").write_text("garbage\n"),
    "config garbage": lambda w: (w / "config").write_text("garbage\n"),
    "tip empty": lambda w: (w / "refs/promoter/tip").write_text(""),
    "tip garbage": lambda w: (w / "refs/promoter/tip").write_text("zz\n"),
    "tip names a missing commit": lambda w: (w / "refs/promoter/tip").write_text("1" * 40 + "\n"),
    "packed-refs garbage": lambda w: (w / "packed-refs").write_text("garbage\n"),
    "shallow garbage": lambda w: (w / "shallow").write_text("garbage\n"),
    "loose objects truncated": _truncate_objects,
    "candidate index garbage": lambda w: (w / "promoter-candidates.json").write_text("{"),
    "candidate index a folder": lambda w: _folder_instead(w / "promoter-candidates.json"),
    "a file instead": _file_instead,
}


def _workspace(workdir: Path) -> Path:
    [workspace] = [path for path in workdir.iterdir() if not path.name.endswith(".lock")]
    return workspace


@pytest.mark.parametrize("damage", DAMAGES, ids=list(DAMAGES))
def test_a_damaged_workspace_is_cloned_again_within_the_event(damage, make_config_repo, tmp_path):
    remote, workdir = make_config_repo(), tmp_path / "work"
    first = promote_cli(build(create_time="2026-03-02T09:00:00Z"), remote, workdir)
    assert first.returncode == 0, first.stderr
    DAMAGES[damage](_workspace(workdir))

    later = build(create_time="2026-03-02T09:05:00Z", digest=digest_of(damage))
    done = promote_cli(later, remote, workdir)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert json.loads(done.stdout)["outcome"] == "promoted"
    assert digest_of(damage) in show(remote, KUSTOMIZATION)
    assert count_commits(remote) == 3  # the seed and one commit per build: nothing doubled
    assert (_workspace(workdir) / "HEAD").is_file()  # healthy for the next event


def test_a_workspace_that_is_a_symlink_is_replaced_and_its_target_left_alone(
    make_config_repo, tmp_path
):
    remote, workdir = make_config_repo(), tmp_path / "work"
    assert promote_cli(build(create_time="2026-03-02T09:00:00Z"), remote, workdir).returncode == 0
    workspace = _workspace(workdir)
    shutil.rmtree(workspace)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious").write_text("keep me")
    workspace.symlink_to(elsewhere)

    later = build(create_time="2026-03-02T09:05:00Z", digest=digest_of("link"))
    done = promote_cli(later, remote, workdir)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert digest_of("link") in show(remote, KUSTOMIZATION)
    assert (elsewhere / "precious").read_text() == "keep me"
    assert not workspace.is_symlink()


def test_the_function_says_it_cloned_again(make_config_repo, function_server, tmp_path):
    from .test_function import post_binary

    server = function_server(make_config_repo())
    assert post_binary(server.url, build(create_time="2026-03-02T09:00:00Z")).status_code == 200
    [config] = (tmp_path / "fw").glob("*/config")
    config.write_text("garbage\n")
    later = build(create_time="2026-03-02T09:05:00Z", digest=digest_of("healed"))
    assert post_binary(server.url, later).status_code == 200
    line = server.log_lines()[-1]
    assert (line["severity"], line["outcome"]) == ("WARNING", "promoted")
    assert line["workspace"].startswith("cloned again: workspace ")
    assert "is damaged (MissingSectionHeaderError" in line["workspace"]


def test_what_a_fresh_clone_does_not_cure_is_not_the_workspace(make_config_repo, tmp_path):
    """GitPython's damaged-repository error on every open, fresh clone included: cloned once,
    then answered as what it is (here: unclassified, a bug's bounded retry), never looped."""
    remote, trigger = make_config_repo(), tmp_path / "bug"
    trigger.write_text("damaged")
    env = {**os.environ, **bug_env(trigger)}
    done = promote_cli(build(), remote, tmp_path / "work", env=env)
    assert done.returncode == 75
    assert done.stderr.startswith("promoter: internal error (InvalidGitRepositoryError): ")
    assert done.stderr.count("\n") == 1
    assert count_commits(remote) == 1

    trigger.unlink()
    assert promote_cli(build(), remote, tmp_path / "work", env=env).returncode == 0
    assert count_commits(remote) == 2


def test_an_unusable_workdir_is_the_deployments_fault(make_config_repo, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    done = promote_cli(build(), make_config_repo(), tmp_path / "file" / "work")
    assert done.returncode == 2
    assert done.stderr.startswith(f"promoter: error: PROMOTER_WORKDIR: cannot use {tmp_path}")
