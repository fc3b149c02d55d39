"""Every setting in the README's table and every flag of `promoter promote`, each shown to act.

Each test would pass only if the setting changed what happened: the branch that moved, the files
that changed, the commit's author and message, where the workspace lives.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, cast

import pytest

from promoter.errors import ConfigError
from promoter.settings import Settings

from . import http_git
from .conftest import (
    WEB,
    build,
    count_commits,
    digest_of,
    git,
    promote_argv,
    promote_cli,
    show,
    tip,
)
from .test_function import post_binary

DEV = {"clusters/dev/deployment.yaml", "clusters/dev/kustomization.yaml"}
ALL = {*DEV, "clusters/prod/deployment.yaml"}
POLICY = f'images:\n  - repository: {WEB}\n    paths: ["clusters/dev/**"]\n'


def with_release_branch(bare: Path) -> Path:
    git("--git-dir", bare, "branch", "release", "main")
    return bare


def changed_paths(bare: Path, rev: str) -> set[str]:
    out = git("--git-dir", bare, "show", "--format=", "--name-only", rev)
    return {path for path in out.splitlines() if not path.startswith(".promoter/")}


def promoted(server, event) -> dict[str, Any]:
    response = post_binary(server.url, event)
    assert response.status_code == 200, response.text
    [line] = [line for line in server.log_lines() if line.get("buildId") == event["id"]]
    assert line["outcome"] == "promoted", line
    return cast(dict[str, Any], line)


def test_promoter_branch_moves_that_branch_only(make_config_repo, function_server):
    remote = with_release_branch(make_config_repo())
    main_before = tip(remote)
    server = function_server(remote, PROMOTER_BRANCH="release")
    event = build(digest=digest_of("branch"))
    line = promoted(server, event)
    assert tip(remote, "release") == line["commit"]
    assert digest_of("branch") in show(remote, "clusters/dev/deployment.yaml", "release")
    assert tip(remote) == main_before


def test_branch_flag_moves_that_branch_only(make_config_repo, workdir):
    remote = with_release_branch(make_config_repo())
    main_before = tip(remote)
    done = promote_cli(build(digest=digest_of("flag")), remote, workdir, "--branch", "release")
    result = json.loads(done.stdout)
    assert (done.returncode, result["outcome"]) == (0, "promoted"), done.stderr
    assert tip(remote, "release") == result["commit"]
    assert digest_of("flag") in show(remote, "clusters/prod/deployment.yaml", "release")
    assert tip(remote) == main_before


def test_branch_flag_wins_over_the_environment(make_config_repo, workdir):
    remote = with_release_branch(make_config_repo())
    release_before = tip(remote, "release")
    env = {"PROMOTER_BRANCH": "release"}
    done = promote_cli(build(), remote, workdir, "--branch", "main", env=_env(env))
    assert json.loads(done.stdout)["commit"] == tip(remote)
    assert tip(remote, "release") == release_before


def test_promoter_policy_reads_the_policy_at_that_path(make_config_repo, function_server):
    remote = make_config_repo({"ops/policy.yaml": POLICY})
    server = function_server(remote, PROMOTER_POLICY="ops/policy.yaml")
    line = promoted(server, build())
    assert set(line["changes"]) - {".promoter/ledger.jsonl"} == DEV
    assert changed_paths(remote, "main") == DEV


def test_policy_flag_reads_the_policy_at_that_path(make_config_repo, workdir):
    remote = make_config_repo({"ops/policy.yaml": POLICY})
    done = promote_cli(build(), remote, workdir, "--policy", "ops/policy.yaml")
    result = json.loads(done.stdout)
    assert result["outcome"] == "promoted", done.stderr
    assert {c["path"] for c in result["changes"]} == DEV
    # The same repo without the flag: the default path has no policy, so every file promotes.
    done = promote_cli(build(create_time="2026-03-03T00:00:00Z"), remote, workdir)
    assert {c["path"] for c in json.loads(done.stdout)["changes"]} == ALL


def test_skip_ci_is_in_the_message_unless_switched_off(make_config_repo, function_server):
    remote = make_config_repo()
    promoted(function_server(remote), build(create_time="2026-03-02T10:00:00Z"))
    assert "[skip ci]" in git("--git-dir", remote, "log", "-1", "--format=%B", "main")

    for minute, off in enumerate(("false", "0", "no", "FALSE")):
        before = tip(remote)
        server = function_server(remote, PROMOTER_SKIP_CI=off)
        promoted(server, build(create_time=f"2026-03-02T11:{minute:02d}:00Z"))
        assert tip(remote) != before
        assert "[skip ci]" not in git("--git-dir", remote, "log", "-1", "--format=%B", "main")


def test_commit_identity_comes_from_the_settings(make_config_repo, function_server):
    remote = make_config_repo()
    promoted(function_server(remote), build(create_time="2026-03-02T10:00:00Z"))
    fmt = "--format=%an <%ae>|%cn <%ce>"
    default = "promoter <promoter@noreply.invalid>"
    assert git("--git-dir", remote, "log", "-1", fmt, "main") == f"{default}|{default}"

    server = function_server(
        remote,
        PROMOTER_GIT_AUTHOR_NAME="Deploy Bot",
        PROMOTER_GIT_AUTHOR_EMAIL="deploy-bot@example.com",
    )
    promoted(server, build(create_time="2026-03-02T11:00:00Z"))
    who = "Deploy Bot <deploy-bot@example.com>"
    assert git("--git-dir", remote, "log", "-1", fmt, "main") == f"{who}|{who}"


def test_promoter_workdir_holds_the_workspace(make_config_repo, function_server, tmp_path):
    remote = make_config_repo()
    workdir = tmp_path / "chosen-workdir"
    promoted(function_server(remote, PROMOTER_WORKDIR=str(workdir)), build())
    [workspace] = [p for p in workdir.iterdir() if p.is_dir()]
    assert git("--git-dir", workspace, "rev-parse", "refs/promoter/tip") == tip(remote)


def test_workdir_flag_holds_the_workspace(make_config_repo, tmp_path):
    remote = make_config_repo()
    workdir = tmp_path / "flag-workdir"
    done = promote_cli(build(), remote, workdir)
    assert json.loads(done.stdout)["outcome"] == "promoted"
    [workspace] = [p for p in workdir.iterdir() if p.is_dir()]
    assert (workspace / "HEAD").is_file()


def test_promoter_git_token_reaches_the_server(make_config_repo, function_server):
    remote = make_config_repo()
    token = "ghs_settingsT0kenValue0987654321"
    with http_git.serving(remote.parent, token) as (base, seen):
        promoted(function_server(f"{base}/{remote.name}", PROMOTER_GIT_TOKEN=token), build())
    assert count_commits(remote) == 2
    assert any(auth.startswith("Basic ") for auth in seen)


def test_event_flag_reads_a_file(make_config_repo, workdir, tmp_path):
    remote = make_config_repo()
    event = tmp_path / "build.json"
    event.write_text(json.dumps(build(digest=digest_of("file"))))
    done = promote_cli("", remote, workdir, "--event", str(event))
    assert json.loads(done.stdout)["outcome"] == "promoted", done.stderr
    assert digest_of("file") in show(remote, "clusters/dev/deployment.yaml")


def test_repo_is_required(workdir):
    done = promote_cli(build(), "", workdir)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("promoter: error:")


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **extra}


def test_a_relative_repo_path_is_made_absolute_and_urls_are_kept(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for relative in ("configs/repo.git", "configs/with:colon.git"):
        assert Settings.build(repo=relative, environ={}).remote.url == str(tmp_path / relative)
    for url in ("git@git.example.com:org/repo.git", "https://git.example.com/org/repo.git"):
        assert Settings.build(repo=url, environ={}).remote.url == url


def test_the_cli_finds_a_repo_given_relative_to_its_working_directory(make_config_repo, tmp_path):
    remote = make_config_repo()
    done = subprocess.run(
        promote_argv(remote.name, tmp_path / "work"),
        input=json.dumps(build()),
        capture_output=True,
        text=True,
        cwd=remote.parent,
        timeout=120,
    )
    assert json.loads(done.stdout)["outcome"] == "promoted", done.stderr


@pytest.mark.parametrize("policy", ["/etc/promoter.yaml", "../promoter.yaml", "ops/../../x.yaml"])
def test_a_policy_path_must_stay_inside_the_repo(policy):
    with pytest.raises(ConfigError, match=r"must be a path inside the config repo"):
        Settings.build(repo="/x", policy=policy, environ={})
