"""Commits signed with an SSH key, as git signs them with `gpg.format=ssh`.

`ssh-keygen -Y sign -n git` signs the commit's bytes and the signature becomes the commit's
`gpgsig` header, where `git verify-commit` and the git hosts look for it. The key file is copied
into a private temporary folder for each signature: ssh-keygen ignores a private key that others
may read, and a secret mounted as a file by Cloud Run is such a file (mode 0444). Reading the
file each time also picks up a new version of a mounted secret.

Any failure is a ConfigError naming PROMOTER_SIGNING_KEY: with a key set, nothing is committed
unsigned. A key that needs a passphrase or a security key's touch cannot sign unattended.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from promoter import processes
from promoter.errors import ConfigError

VARIABLE = "PROMOTER_SIGNING_KEY"
NAMESPACE = "git"  # what git signs commits in, and what `git verify-commit` checks
HEADER = b"gpgsig"
PRIVATE_KEY_MARK = b"PRIVATE KEY-----"  # OpenSSH, PEM and PKCS#8 private keys
_PROBE = b"promoter: can this key sign?\n"


def check_key(key: Path, *, timeout: float) -> None:
    """Sign a probe with `key`: a ConfigError now rather than at the first promotion."""
    sign(_PROBE, key=key, timeout=timeout)


def sign(payload: bytes, *, key: Path, timeout: float) -> bytes:
    """The armored SSH signature of `payload` by the private key in the file `key`."""
    secret = _private_key(key)
    with tempfile.TemporaryDirectory(prefix="promoter-sign-") as folder:  # mode 0700
        copy, data = Path(folder) / "key", Path(folder) / "payload"
        with open(os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            out.write(secret)
        data.write_bytes(payload)
        args = ["-Y", "sign", "-n", NAMESPACE, "-P", "", "-f", str(copy), str(data)]
        failure = _ssh_keygen(args, timeout=timeout)
        if failure is not None:
            raise ConfigError(f"{VARIABLE}: {key}: {failure.replace(str(copy), str(key))}")
        return (Path(folder) / "payload.sig").read_bytes()


def _private_key(key: Path) -> bytes:
    """The contents of `key`, a private key file (never quoted in an error: it is a secret)."""
    try:
        secret = key.read_bytes()
    except OSError as err:
        raise ConfigError(f"{VARIABLE}: {key}: cannot read it ({err.strerror or err})") from None
    if PRIVATE_KEY_MARK not in secret:  # said here: ssh-keygen would speak of a missing .pub
        raise ConfigError(
            f"{VARIABLE}: {key}: not a private key (no '-----BEGIN ... PRIVATE KEY-----' line;"
            " a public key, KEY.pub, cannot sign)"
        )
    return secret


def with_signature(commit: bytes, signature: bytes) -> bytes:
    """`commit` with `signature` as its last header, each line indented by one space, as git's
    add_header_signature writes it: the signed payload is the commit without this header."""
    end = commit.find(b"\n\n")
    at = len(commit) if end < 0 else end + 1
    lines = signature.replace(b"\r\n", b"\n").rstrip(b"\n").split(b"\n")
    header = HEADER + b"".join(b" " + line + b"\n" for line in lines)
    return commit[:at] + header + commit[at:]


def _ssh_keygen(args: list[str], *, timeout: float) -> str | None:
    """Run ssh-keygen with `args`: None, or why it failed."""
    # No agent: only the key in the file signs, never one an agent happens to hold.
    env = {name: value for name, value in os.environ.items() if name != "SSH_AUTH_SOCK"}
    try:
        done = processes.run(["ssh-keygen", *args], cwd=None, env=env, timeout=timeout)
    except FileNotFoundError:
        return "cannot be used: signing needs ssh-keygen (OpenSSH) on PATH"
    if done.timed_out:
        return (
            f"did not sign within {timeout:g} s (PROMOTER_GIT_TIMEOUT): a key that needs a"
            " passphrase or a security key's touch cannot sign unattended"
        )
    if done.status == 0:
        return None
    said = next((line.strip() for line in reversed(done.err.splitlines()) if line.strip()), "")
    return (
        "cannot sign: expected an SSH private key without a passphrase"
        f" (ssh-keygen: {said or f'exit status {done.status}'})"
    )
