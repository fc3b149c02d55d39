"""Signed promotion commits (PROMOTER_SIGNING_KEY): real ssh-keygen keys, real git verifying them,
the real CLI and function server writing them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from promoter.errors import ConfigError
from promoter.gitobjects import Identity
from promoter.settings import Settings
from promoter.signing import with_signature

from .conftest import WEB, build, count_commits, digest_of, git, promote_cli, tip
from .test_function import post_binary

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="no ssh-keygen")

EMAIL = "promoter@noreply.invalid"  # the default identity: the principal the signers file names
# Fixed dates make two promotions of one event write the same commit, signed or not.
DATES = {"GIT_AUTHOR_DATE": "1772442651 +0000", "GIT_COMMITTER_DATE": "1772442651 +0000"}


def make_key(folder: Path, name: str = "signing", *, passphrase: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", EMAIL, "-f", key],
        check=True,
        capture_output=True,
    )
    return key


def allowed_signers(key: Path) -> Path:
    """The file `git verify-commit` trusts: the key's public half, for the promoter's email."""
    kind, blob = key.with_suffix(".pub").read_text().split()[:2]
    signers = key.parent / "allowed_signers"
    signers.write_text(f'{EMAIL} namespaces="git" {kind} {blob}\n')
    return signers


def verify(bare: Path, signers: Path, rev: str = "main") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "git",
            "-c",
            f"gpg.ssh.allowedSignersFile={signers}",
            "--git-dir",
            bare,
            "verify-commit",
            rev,
        ],
        capture_output=True,
        text=True,
    )


def signature_status(bare: Path, signers: Path, rev: str = "main") -> str:
    return git(
        "-c",
        f"gpg.ssh.allowedSignersFile={signers}",
        "--git-dir",
        bare,
        "log",
        "-1",
        "--format=%G?",
        rev,
    )


def raw_commit(bare: Path, rev: str = "main") -> bytes:
    return subprocess.run(
        ["git", "--git-dir", bare, "cat-file", "commit", rev], capture_output=True, check=True
    ).stdout


def without_signature(commit: bytes) -> bytes:
    """What git verifies: the commit with its gpgsig header (and its continuation lines) removed."""
    head, _, body = commit.partition(b"\n\n")
    kept, skipping = [], False
    for line in head.split(b"\n"):
        skipping = line.startswith(b"gpgsig ") or (skipping and line.startswith(b" "))
        if not skipping:
            kept.append(line)
    return b"\n".join(kept) + b"\n\n" + body


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


def test_with_the_key_set_the_promotion_commit_verifies(make_config_repo, workdir, tmp_path):
    remote = make_config_repo()
    key = make_key(tmp_path / "keys")
    event = build(digest=digest_of("signed"))

    done = promote_cli(event, remote, workdir, env=env(PROMOTER_SIGNING_KEY=str(key)))

    assert (done.returncode, done.stderr) == (0, "")
    result = json.loads(done.stdout)
    assert result["outcome"] == "promoted" and result["commit"] == tip(remote)
    signers = allowed_signers(key)
    verified = verify(remote, signers)
    assert verified.returncode == 0, verified.stderr
    assert f'Good "git" signature for {EMAIL}' in verified.stderr
    assert signature_status(remote, signers) == "G"
    trailers = git("--git-dir", remote, "log", "-1", "--format=%(trailers:only,unfold)")
    assert f"Build-Id: {event['id']}" in trailers
    assert f"Image: {WEB}@{digest_of('signed')}" in trailers
    assert f"Build-Log: {event['logUrl']}" in trailers


def test_another_key_does_not_verify(make_config_repo, workdir, tmp_path):
    remote = make_config_repo()
    key = make_key(tmp_path / "keys")
    other = allowed_signers(make_key(tmp_path / "other"))
    done = promote_cli(build(), remote, workdir, env=env(PROMOTER_SIGNING_KEY=str(key)))
    assert done.returncode == 0, done.stderr
    assert verify(remote, other).returncode != 0
    assert signature_status(remote, other) != "G"


def test_without_the_key_the_commit_is_unsigned(make_config_repo, workdir, tmp_path):
    remote = make_config_repo()
    signers = allowed_signers(make_key(tmp_path / "keys"))
    done = promote_cli(build(), remote, workdir, env=env(PROMOTER_SIGNING_KEY=""))
    assert json.loads(done.stdout)["outcome"] == "promoted", done.stderr
    assert signature_status(remote, signers) == "N"
    assert b"\ngpgsig " not in raw_commit(remote)


def test_the_signature_is_the_only_difference(make_config_repo, tmp_path):
    """The same event promoted into two copies of one repo, at the same time: the signed commit
    is the unsigned one, byte for byte, with a gpgsig header added (message, trailers, author)."""
    plain = make_config_repo()
    signed = tmp_path / "signed.git"
    shutil.copytree(plain, signed)
    key = make_key(tmp_path / "keys")
    event = build(digest=digest_of("same"))

    done = promote_cli(event, plain, tmp_path / "w1", env=env(**DATES))
    assert done.returncode == 0, done.stderr
    done = promote_cli(
        event, signed, tmp_path / "w2", env=env(PROMOTER_SIGNING_KEY=str(key), **DATES)
    )
    assert done.returncode == 0, done.stderr

    assert tip(plain) != tip(signed)
    assert b"\ngpgsig " in raw_commit(signed)
    assert without_signature(raw_commit(signed)) == raw_commit(plain)
    for fmt in ("%B", "%(trailers:only,unfold)", "%an <%ae> %ad", "%T %P"):
        assert git("--git-dir", signed, "log", "-1", f"--format={fmt}") == git(
            "--git-dir", plain, "log", "-1", f"--format={fmt}"
        )


def test_the_commit_is_the_one_git_itself_signs(make_config_repo, workdir, tmp_path):
    """`git commit-tree -S` with gpg.format=ssh over the same tree, parent, identity, dates and
    message writes the very same object (an ed25519 signature is deterministic)."""
    remote = make_config_repo()
    key = make_key(tmp_path / "keys")
    done = promote_cli(build(), remote, workdir, env=env(PROMOTER_SIGNING_KEY=str(key), **DATES))
    assert done.returncode == 0, done.stderr
    message = tmp_path / "message"
    message.write_bytes(raw_commit(remote).partition(b"\n\n")[2])
    identity = {
        "GIT_AUTHOR_NAME": "promoter",
        "GIT_AUTHOR_EMAIL": EMAIL,
        "GIT_COMMITTER_NAME": "promoter",
        "GIT_COMMITTER_EMAIL": EMAIL,
        **DATES,
    }
    by_git = subprocess.run(
        [
            *("git", "-c", "gpg.format=ssh", "-c", f"user.signingKey={key}", "--git-dir", remote),
            *("commit-tree", "-S", "-p", "main~1", "-F", message, "main^{tree}"),
        ],
        capture_output=True,
        text=True,
        env=env(**identity),
        check=True,
    )
    assert by_git.stdout.strip() == tip(remote)


def test_the_setting_is_read_checked_and_carried_by_the_identity(tmp_path, monkeypatch):
    key = make_key(tmp_path / "keys")
    monkeypatch.chdir(tmp_path)
    settings = Settings.build(repo="/x", environ={"PROMOTER_SIGNING_KEY": "keys/signing"})
    assert settings.signing_key == settings.identity.signing_key == key
    assert Settings.build(repo="/x", environ={"PROMOTER_SIGNING_KEY": " "}).signing_key is None
    assert Settings.build(repo="/x", environ={}).identity == Identity()
    with pytest.raises(ConfigError, match=r"^PROMOTER_SIGNING_KEY: .*: not a private key"):
        Settings.build(repo="/x", environ={"PROMOTER_SIGNING_KEY": f"{key}.pub"})


def test_with_signature_places_the_header_after_the_other_headers():
    commit = b"tree t\nparent p\nauthor a\ncommitter c\n\nSubject\n\nBody: x\n"
    signature = b"-----BEGIN SSH SIGNATURE-----\nAAAA\nBBBB\n-----END SSH SIGNATURE-----\n"
    assert with_signature(commit, signature) == (
        b"tree t\nparent p\nauthor a\ncommitter c\n"
        b"gpgsig -----BEGIN SSH SIGNATURE-----\n AAAA\n BBBB\n -----END SSH SIGNATURE-----\n"
        b"\nSubject\n\nBody: x\n"
    )
    assert without_signature(with_signature(commit, signature)) == commit


def test_a_key_others_may_read_still_signs(make_config_repo, workdir, tmp_path):
    """A secret mounted by Cloud Run is mode 0444, which ssh-keygen refuses for a key of its own
    user: the promoter signs with a private copy."""
    remote = make_config_repo()
    key = make_key(tmp_path / "keys")
    key.chmod(0o444)
    done = promote_cli(build(), remote, workdir, env=env(PROMOTER_SIGNING_KEY=str(key)))
    assert done.returncode == 0, done.stderr
    assert signature_status(remote, allowed_signers(key)) == "G"


def _missing(keys: Path) -> Path:
    return keys / "nowhere"


def _public(keys: Path) -> Path:
    return make_key(keys).with_suffix(".pub")


def _with_passphrase(keys: Path) -> Path:
    return make_key(keys, passphrase="secret words")


def _garbage(keys: Path) -> Path:
    keys.mkdir(parents=True, exist_ok=True)
    (keys / "garbage").write_text("not a key\n")
    (keys / "garbage").chmod(0o600)
    return keys / "garbage"


def _folder(keys: Path) -> Path:
    keys.mkdir(parents=True, exist_ok=True)
    return keys


BAD_KEYS = [_missing, _public, _with_passphrase, _garbage, _folder]


@pytest.mark.parametrize("bad", BAD_KEYS, ids=lambda f: f.__name__.strip("_"))
def test_a_key_that_cannot_sign_exits_2_and_pushes_nothing(
    make_config_repo, workdir, tmp_path, bad
):
    remote = make_config_repo()
    key = bad(tmp_path / "keys")
    done = promote_cli(build(), remote, workdir, env=env(PROMOTER_SIGNING_KEY=str(key)))
    assert (done.returncode, done.stdout) == (2, "")
    [line] = done.stderr.splitlines()
    assert line.startswith(f"promoter: error: PROMOTER_SIGNING_KEY: {key}: "), line
    assert str(tmp_path / "keys") in line and "promoter-sign-" not in line
    assert count_commits(remote) == 1


@pytest.mark.parametrize("bad", [_missing, _public], ids=["missing", "public"])
def test_the_function_keeps_the_message_for_a_key_that_cannot_sign(
    make_config_repo, function_server, tmp_path, bad
):
    remote = make_config_repo()
    key = bad(tmp_path / "keys")
    server = function_server(remote, PROMOTER_SIGNING_KEY=str(key))
    assert post_binary(server.url, build()).status_code == 503
    [line] = server.log_lines()
    assert (line["severity"], line["outcome"]) == ("ERROR", "retry")
    assert line["message"].startswith(f"retry: PROMOTER_SIGNING_KEY: {key}: "), line
    assert count_commits(remote) == 1


def test_the_function_signs_and_never_commits_unsigned_once_the_key_is_gone(
    make_config_repo, function_server, tmp_path
):
    """The key is checked when the settings are read; removed later (a secret version
    destroyed), the next promotion is kept (503) instead of being committed unsigned."""
    remote = make_config_repo()
    key = make_key(tmp_path / "keys")
    signers = allowed_signers(key)
    server = function_server(remote, PROMOTER_SIGNING_KEY=str(key))
    assert post_binary(server.url, build(digest=digest_of("first"))).status_code == 200
    assert signature_status(remote, signers) == "G"
    key.unlink()

    later = build(digest=digest_of("second"), create_time="2026-03-02T10:00:00Z")
    assert post_binary(server.url, later).status_code == 503

    first, second = server.log_lines()
    assert first["outcome"] == "promoted"
    assert (second["severity"], second["outcome"]) == ("ERROR", "retry")
    assert f"PROMOTER_SIGNING_KEY: {key}: cannot read it" in second["message"]
    assert count_commits(remote) == 2
    assert signature_status(remote, signers) == "G"


def path_with(folder: Path, **programs: str) -> str:
    """A PATH holding git and the given stand-in programs (name: shell script body) only."""
    folder.mkdir(parents=True, exist_ok=True)
    git_path = shutil.which("git")
    assert git_path is not None
    (folder / "git").symlink_to(git_path)
    for name, body in programs.items():
        (folder / name.replace("_", "-")).write_text(f"#!/bin/sh\n{body}\n")
        (folder / name.replace("_", "-")).chmod(0o755)
    return str(folder)


def test_without_ssh_keygen_a_set_key_exits_2(make_config_repo, workdir, tmp_path):
    remote = make_config_repo()
    key = make_key(tmp_path / "keys")
    path = path_with(tmp_path / "bin")
    done = promote_cli(build(), remote, workdir, env=env(PROMOTER_SIGNING_KEY=str(key), PATH=path))
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.endswith("signing needs ssh-keygen (OpenSSH) on PATH"), line
    assert count_commits(remote) == 1


def test_a_hung_ssh_keygen_is_stopped_at_the_deadline(make_config_repo, workdir, tmp_path):
    """ssh-keygen waiting for something (a security key's touch) gets PROMOTER_GIT_TIMEOUT
    seconds, then it is killed (the autouse fixture fails a test that leaves it running)."""
    remote = make_config_repo()
    key = make_key(tmp_path / "keys")
    path = path_with(tmp_path / "bin", ssh_keygen=f"exec {shutil.which('sleep')} 60")
    extra = {"PROMOTER_SIGNING_KEY": str(key), "PATH": path, "PROMOTER_GIT_TIMEOUT": "1"}
    started = time.monotonic()
    done = promote_cli(build(), remote, workdir, env=env(**extra))
    assert time.monotonic() - started < 30
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert f"PROMOTER_SIGNING_KEY: {key}: did not sign within 1 s" in line, line
    assert count_commits(remote) == 1


def test_rollback_hold_and_release_commits_are_signed_too(make_config_repo, workdir, tmp_path):
    remote = make_config_repo()
    key = make_key(tmp_path / "keys")
    signed = env(PROMOTER_SIGNING_KEY=str(key))
    signers = allowed_signers(key)
    for n in range(2):
        event = build(digest=digest_of(n), create_time=f"2026-03-02T09:0{n}:00Z")
        assert promote_cli(event, remote, workdir, env=signed).returncode == 0
    options = ["--repo", str(remote), "--workdir", str(workdir), "--image", WEB]
    for command in (["rollback"], ["hold"], ["release"]):
        done = subprocess.run(
            [sys.executable, "-m", "promoter", *command, *options],
            capture_output=True,
            text=True,
            env=signed,
            timeout=120,
        )
        assert (done.returncode, done.stderr) == (0, "")
        assert json.loads(done.stdout)["commit"] == tip(remote)
        assert signature_status(remote, signers) == "G", command


def test_a_caller_that_only_reads_carries_the_key_unprobed(tmp_path):
    public = _public(tmp_path / "keys")
    environ = {"PROMOTER_SIGNING_KEY": str(public)}
    assert Settings.build(repo="/x", environ=environ, commits=False).signing_key == public
    with pytest.raises(ConfigError, match=r"^PROMOTER_SIGNING_KEY: .*: not a private key"):
        Settings.build(repo="/x", environ=environ)


@pytest.mark.parametrize("command", ["history", "status"])
def test_reading_commands_work_with_a_key_that_cannot_sign(
    make_config_repo, workdir, tmp_path, command
):
    """history and status never commit: a bad key is not theirs to refuse."""
    remote = make_config_repo()
    assert promote_cli(build(build_id="b1"), remote, workdir).returncode == 0
    bad = env(PROMOTER_SIGNING_KEY=str(_garbage(tmp_path / "keys")))
    bad.pop("KUBECONFIG", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "promoter",
            command,
            "--repo",
            remote,
            "--workdir",
            workdir,
            "--json",
        ],
        capture_output=True,
        text=True,
        env=bad,
        timeout=120,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    [row] = json.loads(done.stdout)
    assert row["build_id"] == "b1"


@pytest.mark.parametrize(
    "command",
    [["rollback", "--image", WEB], ["hold", "--image", WEB], ["release", "--image", WEB],
     ["promote-env", "--to", "prod"]],
    ids=lambda c: c[0],
)  # fmt: skip
def test_commands_that_commit_refuse_a_key_that_cannot_sign_at_start(
    make_config_repo, workdir, tmp_path, command
):
    remote = make_config_repo()
    key = _public(tmp_path / "keys")
    done = subprocess.run(
        [sys.executable, "-m", "promoter", *command, "--repo", remote, "--workdir", workdir],
        capture_output=True,
        text=True,
        env=env(PROMOTER_SIGNING_KEY=str(key)),
        timeout=120,
    )
    assert (done.returncode, done.stdout) == (2, "")
    [line] = done.stderr.splitlines()
    assert line.startswith(f"promoter: error: PROMOTER_SIGNING_KEY: {key}: not a private key")
    assert count_commits(remote) == 1
