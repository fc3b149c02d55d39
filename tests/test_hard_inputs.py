"""Hard inputs: unusual but real config repos, settings and events, through the CLI.

A broken file is skipped with its reason and never blocks the good ones; a policy that cannot be
read stops the write; inputs git or the clock would misread are refused before they reach them.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import WEB, build, digest_of, git, promote_argv, promote_cli, show

POD = f"""apiVersion: v1
kind: Pod
metadata:
  name: x
spec:
  containers:
    - name: x
      image: {WEB}:1.0
"""


def run(
    event: dict[str, Any], remote: Path | str, workdir: Path, *extra: str
) -> tuple[int, Any, str]:
    done = promote_cli(event, remote, workdir, *extra)
    result = json.loads(done.stdout) if done.stdout.strip() else None
    return done.returncode, result, done.stderr


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# --- 7. inputs that reach git or the clock ------------------------------------------------------


@pytest.mark.parametrize(
    ("repo", "expected"),
    [
        ("--upload-pack=touch:{marker}", "must not begin with '-'"),
        ("-oProxyCommand=touch:{marker}", "must not begin with '-'"),
        ("ext::sh -c touch% {marker}", "remote-helper addresses are not supported"),
        ("fd::3", "remote-helper addresses are not supported"),
        ("http://u:p@[::1/x", "not a valid URL"),
        ("ftp://example.com/config.git", "unsupported URL scheme 'ftp'"),
    ],
)
def test_a_repo_url_git_would_misread_is_a_config_error(repo, expected, workdir, tmp_path):
    marker = tmp_path / "ran"
    argv = promote_argv("", workdir)
    argv[argv.index("--repo") : argv.index("--repo") + 2] = [f"--repo={repo.format(marker=marker)}"]
    done = subprocess.run(
        argv,
        input=json.dumps(build()),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert expected in one_line(done.stderr)
    assert not marker.exists()


def test_an_uppercase_scheme_is_the_same_url(make_config_repo, git_daemon, workdir):
    remote = make_config_repo({"pod.yaml": POD}, source=None)
    url = git_daemon(remote)
    assert url.startswith("git://")
    code, result, stderr = run(build(), "GIT://" + url.removeprefix("git://"), workdir)
    assert (code, result["outcome"]) == (0, "promoted"), stderr


def test_urls_that_differ_only_in_port_get_their_own_workspaces():
    from promoter.remote import Remote

    one = Remote("https://user:secret@git.example.com:8443/config.git")
    other = Remote("https://user:secret@git.example.com:9443/config.git")
    assert one.workspace_name() != other.workspace_name()
    assert one.display == "https://git.example.com:8443/config.git"


@pytest.mark.parametrize(
    "branch", ["a..b", "main.lock", "main/", "@{-1}", "ma\x01in", "a b", "x~1", "-main", "x^"]
)
def test_a_branch_git_refuses_is_a_config_error(branch, make_config_repo, workdir):
    remote = make_config_repo({"pod.yaml": POD}, source=None)
    code, result, stderr = run(build(), remote, workdir, f"--branch={branch}")
    assert (code, result) == (2, None)
    assert "is not a valid branch name" in one_line(stderr)


def test_a_branch_with_folders_is_valid(make_config_repo, workdir):
    remote = make_config_repo({"pod.yaml": POD}, source=None)
    git("--git-dir", remote, "branch", "release/2026.12", "main")
    code, result, stderr = run(build(), remote, workdir, "--branch", "release/2026.12")
    assert (code, result["outcome"]) == (0, "promoted"), stderr


@pytest.mark.parametrize(
    "create_time", ["9999-12-31T23:59:59Z", "1969-12-31T23:59:59Z", "1999-12-31T23:59:59Z"]
)
def test_a_create_time_no_build_can_have_is_invalid(create_time, make_config_repo, workdir):
    remote = make_config_repo({"pod.yaml": POD}, source=None)
    code, result, stderr = run(build(create_time=create_time), remote, workdir)
    assert (code, result) == (2, None)
    assert f"createTime: {create_time[:19]}" in one_line(stderr)
    assert WEB + ":1.0" in show(remote, "pod.yaml")


def test_a_build_of_a_few_minutes_ago_is_promoted(make_config_repo, workdir):
    from datetime import UTC, datetime, timedelta

    remote = make_config_repo({"pod.yaml": POD}, source=None)
    recent = (datetime.now(UTC) - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    code, result, stderr = run(build(create_time=recent), remote, workdir)
    assert (code, result["outcome"]) == (0, "promoted"), stderr


def test_a_revert_of_a_file_with_a_non_ascii_name_is_respected(make_config_repo, tmp_path):
    remote = make_config_repo({"apps/café.yaml": POD}, source=None)
    good = build(create_time="2026-03-02T09:00:00Z", digest=digest_of("good"))
    bad = build(create_time="2026-03-02T09:05:00Z", digest=digest_of("bad"))
    run(good, remote, tmp_path / "a")
    _, result, _ = run(bad, remote, tmp_path / "a")
    clone = tmp_path / "human"
    git("clone", "-q", remote, clone)
    git("revert", "--no-edit", result["commit"], cwd=clone)
    git("push", "-q", "origin", "HEAD:main", cwd=clone)

    code, again, stderr = run(bad, remote, tmp_path / "b")
    assert (code, again["outcome"], again["commit"]) == (0, "unchanged", None), stderr
    assert "kept the rollback" in again["reason"]
    assert digest_of("good") in show(remote, "apps/café.yaml")
