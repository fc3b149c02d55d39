"""`promoter promote-env`: dev's digest into prod, by the same digest, behind its gates."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from promoter.ledger import Ledger

from .conftest import WEB, count_commits, digest_of, git, run_cli, show, tip
from .envs import DEV, POLICY, PROD, dev_prod_repo, promoted_in_dev


def promote_env(remote: Path, workdir: Path, *args: str) -> tuple[int, Any, str]:
    done = run_cli("promote-env", "--repo", remote, "--workdir", workdir, "--to", "prod", *args)
    out = json.loads(done.stdout) if done.returncode == 0 else done.stdout
    return done.returncode, out, done.stderr


def test_prod_gets_the_digest_dev_runs_with_trailers_naming_where_it_came_from(
    make_config_repo, tmp_path
):
    remote = dev_prod_repo(make_config_repo)
    dev_commit = promoted_in_dev(remote, tmp_path / "w", 1)
    assert digest_of(1) not in show(remote, PROD)
    status, result, err = promote_env(remote, tmp_path / "ops")
    assert (status, err) == (0, "")
    assert result["outcome"] == "promoted" and result["commit"] == tip(remote)
    assert [(c["path"], c["new"]) for c in result["changes"]] == [
        (PROD, f"{WEB}:4be1a9c@{digest_of(1)}")
    ]
    assert (
        git("--git-dir", remote, "diff", "--stat", dev_commit, "main", "--", "clusters/dev") == ""
    )
    message = git("--git-dir", remote, "log", "-1", "--format=%B")
    assert message.startswith("Promote web@")
    assert message.rstrip().endswith(
        "\n\nEnvironment: prod\nFrom-Environment: dev\n"
        f"From-Commit: {dev_commit}\nBuild-Id: b1\nImage: {WEB}@{digest_of(1)}"
    )
    ledger = Ledger.from_text(show(remote, ".promoter/ledger.jsonl"))
    assert ledger.get((PROD, WEB)).build_id == "b1"  # type: ignore[union-attr]
    # Again: nothing to do; and the history lists it as a promotion of build b1.
    assert promote_env(remote, tmp_path / "ops")[1]["outcome"] == "unchanged"
    done = run_cli("history", "--repo", remote, "--workdir", tmp_path / "r", "--json")
    newest = json.loads(done.stdout)[0]
    assert (newest["kind"], newest["build_id"], newest["paths"]) == ("promotion", "b1", [PROD])


def test_a_soaking_environment_refuses_with_exit_3_until_forced(make_config_repo, tmp_path):
    remote = dev_prod_repo(make_config_repo, "    soak: 2h\n")
    promoted_in_dev(remote, tmp_path / "w", 1)
    before = count_commits(remote)
    status, out, err = promote_env(remote, tmp_path / "ops")
    assert (status, out) == (3, "")
    assert re.match(
        f"promoter: not promoted to prod: soak: {WEB}: soaking: (2h|1h59m[0-9]*s?) left", err
    ), err
    assert err.count("\n") == 1 and count_commits(remote) == before
    status, result, err = promote_env(remote, tmp_path / "ops", "--force")
    assert (status, err) == (0, "")
    assert result["reason"].endswith("; forced past soak")
    assert "Forced: soak" in git("--git-dir", remote, "log", "-1", "--format=%B")


def test_a_hold_on_prod_and_a_rolled_back_digest_are_gates(make_config_repo, tmp_path):
    remote = dev_prod_repo(make_config_repo)
    promoted_in_dev(remote, tmp_path / "w", 1)
    hold = ["--repo", str(remote), "--workdir", str(tmp_path / "ops"), "--image", WEB]
    assert run_cli("hold", *hold, "--path", "clusters/prod/**", "--reason", "audit").returncode == 0
    status, _, err = promote_env(remote, tmp_path / "ops")
    assert status == 3 and f"held: {WEB}: held in clusters/prod/** (audit)" in err
    assert run_cli("release", *hold).returncode == 0
    assert promote_env(remote, tmp_path / "ops")[0] == 0
    promoted_in_dev(remote, tmp_path / "w", 2)
    assert promote_env(remote, tmp_path / "ops")[0] == 0
    # Roll prod back (its latest promotion is the promote-env commit of b2): digest 2 is out.
    assert run_cli("rollback", *hold).returncode == 0
    assert digest_of(1) in show(remote, PROD) and digest_of(2) in show(remote, DEV)
    status, _, err = promote_env(remote, tmp_path / "ops")
    assert status == 3 and f"rolled back: {WEB}: {digest_of(2)} was rolled back" in err


@pytest.mark.parametrize(
    ("args", "extra", "expected"),
    [
        (["--to", "dev"], "", "--to: dev is an entry environment"),
        (["--to", "qa"], "", "--to: no environment 'qa' (known: dev, prod)"),
        (["--to", "prod", "--from", "prod"], "", "--from: prod comes from dev, not from 'prod'"),
    ],
)
def test_bad_requests_exit_2_and_commit_nothing(make_config_repo, tmp_path, args, extra, expected):
    remote = dev_prod_repo(make_config_repo, extra)
    promoted_in_dev(remote, tmp_path / "w", 1)
    before = count_commits(remote)
    done = run_cli("promote-env", "--repo", remote, "--workdir", tmp_path / "ops", *args)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith(f"promoter: error: {expected}"), done.stderr
    assert count_commits(remote) == before


def test_nothing_promoted_in_dev_yet_exits_2(make_config_repo, tmp_path):
    remote = dev_prod_repo(make_config_repo)
    status, _, err = promote_env(remote, tmp_path / "ops")
    assert status == 2
    assert (
        err == "promoter: error: nothing to promote: dev has no promotion of any image recorded\n"
    )


def test_helm_values_of_prod_get_the_digest_dev_runs(make_config_repo, tmp_path):
    values = f"image:\n  repository: {WEB}\n  tag: '1.4'\n"
    policy = POLICY.format(extra="") + (
        f"images:\n  - repository: {WEB}\n    paths: ['clusters/**']\n"
        "    helm:\n      - path: clusters/*/values.yaml\n        key: image\n"
    )
    remote = make_config_repo(
        {
            "promoter.yaml": policy,
            "clusters/dev/values.yaml": values,
            "clusters/prod/values.yaml": values,
        }
    )
    promoted_in_dev(remote, tmp_path / "w", 1)
    assert digest_of(1) not in show(remote, "clusters/prod/values.yaml")
    status, result, err = promote_env(remote, tmp_path / "ops")
    assert (status, err) == (0, "")
    assert "clusters/prod/values.yaml" in {c["path"] for c in result["changes"]}
    assert show(remote, "clusters/prod/values.yaml") == values + f"  digest: {digest_of(1)}"
