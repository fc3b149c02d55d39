"""The https token: used over http(s) to loopback, never written, logged or echoed."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from promoter.errors import ConfigError
from promoter.remote import Remote

from . import http_git
from .conftest import build, digest_of, promote_cli, show

TOKEN = "ghs_s3cr3tT0kenValue1234567890"


def promote_over_http(remote: Path, workdir: Path, token: str | None, url_token: str | None):
    with http_git.serving(remote.parent, url_token) as (base, seen):
        env = {**os.environ, "PROMOTER_GIT_TOKEN": token or ""}
        done = promote_cli(
            build(digest=digest_of("http")), f"{base}/{remote.name}", workdir, env=env
        )
    return done, seen


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


def test_token_authenticates_and_is_kept_nowhere(make_config_repo, workdir):
    remote = make_config_repo()
    done, seen = promote_over_http(remote, workdir, TOKEN, TOKEN)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outcome"] == "promoted"
    assert digest_of("http") in show(remote, "clusters/dev/kustomization.yaml")
    assert any(auth.startswith("Basic ") for auth in seen)
    assert TOKEN not in done.stdout + done.stderr
    for path in files_under(workdir):
        assert TOKEN.encode() not in path.read_bytes(), path


def test_wrong_token_is_transient_and_not_echoed(make_config_repo, workdir):
    remote = make_config_repo()
    done, _ = promote_over_http(remote, workdir, TOKEN, "the-right-one")
    assert done.returncode == 75
    assert TOKEN not in done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_token_is_never_sent_over_plain_http_to_another_host():
    with pytest.raises(ConfigError, match="only sent over https"):
        Remote("http://git.example.com/config.git", token=TOKEN)
    with pytest.raises(ConfigError):
        Remote("git://git.example.com/config.git", token=TOKEN)
    assert Remote("https://git.example.com/config.git", token=TOKEN).token == TOKEN


def test_token_is_redacted_from_text_and_repr():
    remote = Remote("https://user:pw@git.example.com/config.git", token=TOKEN)
    assert TOKEN not in repr(remote)
    assert remote.redact(f"failed with {TOKEN} and pw") == "failed with *** and ***"
    assert "pw" not in remote.display


def test_git_error_lines_are_redacted():
    remote = Remote("https://user:pw-s3cret@git.example.com/config.git", token=TOKEN)
    stderr = (
        "Cloning into bare repository...\n"
        f"fatal: unable to access 'https://user:pw-s3cret@git.example.com/config.git/':"
        f" token {TOKEN} was refused\n"
    )
    line = remote.git_error(f"'{stderr}")  # as GitPython quotes it
    assert line == (
        "fatal: unable to access 'https://user:***@git.example.com/config.git/':"
        " token *** was refused"
    )
    assert remote.git_error("") == "no message from git"


def test_a_server_quoting_the_token_back_is_redacted(make_config_repo, workdir):
    remote = make_config_repo()
    revoked = f"token {TOKEN} is revoked"
    with http_git.serving(remote.parent, TOKEN, refuse_with=revoked) as (base, seen):
        env = {**os.environ, "PROMOTER_GIT_TOKEN": TOKEN}
        done = promote_cli(build(), f"{base}/{remote.name}", workdir, env=env)
    assert done.returncode == 75
    assert "remote error: token *** is revoked" in done.stderr  # git's own line, redacted
    assert TOKEN not in done.stdout + done.stderr
    assert any(auth.startswith("Basic ") for auth in seen)  # the token was sent and used


def self_signed(tmp_path: Path) -> ssl.SSLContext:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_https_certificates_are_verified_before_any_token_is_sent(
    make_config_repo, workdir, tmp_path
):
    remote = make_config_repo()
    with http_git.serving(remote.parent, TOKEN, tls=self_signed(tmp_path)) as (base, seen):
        env = {**os.environ, "PROMOTER_GIT_TOKEN": TOKEN}
        done = promote_cli(build(), f"{base}/{remote.name}", workdir, env=env)
    assert done.returncode == 75
    assert "certificate" in done.stderr.lower()
    assert seen == []  # the handshake failed: no request, so no credentials, reached the server


ERROR_URLS = [
    pytest.param("http://127.0.0.1:{closed}/config.git", id="unreachable-loopback"),
    pytest.param("https://127.0.0.1:{closed}/config.git", id="unreachable-https"),
    pytest.param(f"https://x-access-token:{TOKEN}@127.0.0.1:{{closed}}/c.git", id="token-in-url"),
    pytest.param("https://[::1/broken", id="malformed-url"),
    pytest.param("ftp://127.0.0.1/config.git", id="unsupported-scheme"),
]


@pytest.mark.parametrize("template", ERROR_URLS)
def test_token_appears_nowhere_on_error_paths(template, workdir, tmp_path, function_server):
    from .conftest import free_port

    url = template.format(closed=free_port())
    env = {**os.environ, "PROMOTER_GIT_TOKEN": TOKEN}
    done = promote_cli(build(), url, str(workdir), env=env)
    assert done.returncode in (2, 75), done.stderr
    assert TOKEN not in done.stdout + done.stderr

    server = function_server(url, PROMOTER_GIT_TOKEN=TOKEN)
    from .test_function import post_binary

    response = post_binary(server.url, build())
    # Either way the function keeps the message (503): the remote may come back, and a wrong
    # setting is its deployment's fault, which a person fixes (so that line is an ERROR).
    severity = {75: "WARNING", 2: "ERROR"}[done.returncode]
    [line] = server.log_lines()
    assert (response.status_code, line["outcome"], line["severity"]) == (503, "retry", severity)
    assert line["message"] and TOKEN not in response.text
    assert TOKEN not in server.log.read_text()
    for path in files_under(workdir) + files_under(tmp_path / "fw"):
        assert TOKEN.encode() not in path.read_bytes(), path


def test_token_is_not_in_exception_text(tmp_path):
    from promoter.errors import PromoterError
    from promoter.events import from_envelope
    from promoter.service import promote
    from promoter.settings import Settings

    from .conftest import free_port

    settings = Settings.build(
        repo=f"http://127.0.0.1:{free_port()}/c.git",
        workdir=str(tmp_path),
        environ={"PROMOTER_GIT_TOKEN": TOKEN},
    )
    with pytest.raises(PromoterError) as raised:
        promote(from_envelope(build()), settings)
    assert TOKEN not in str(raised.value) and TOKEN not in repr(raised.value)
    assert TOKEN not in repr(settings)


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (
            "fatal: '/srv/x' does not appear to be a git repository\n"
            "fatal: Could not read from remote repository.\n\n"
            "Please make sure you have the correct access rights\nand the repository exists.\n",
            "fatal: '/srv/x' does not appear to be a git repository",
        ),
        (
            "fatal: unable to connect to 127.0.0.1:\n"
            "127.0.0.1[0: 127.0.0.1]: errno=Connection refused\n",
            "fatal: unable to connect to 127.0.0.1: 127.0.0.1[0: 127.0.0.1]: errno=Connection"
            " refused",
        ),
        ("warning: something\nhint: advice only\n", "hint: advice only"),
    ],
)
def test_the_git_error_quoted_is_the_line_that_names_the_cause(stderr, expected):
    remote = Remote("https://git.example.com/config.git")
    assert remote.git_error(stderr) == expected
    assert remote.git_error(f"'\n  stderr: '{stderr}'") == expected  # as GitPython quotes it


def test_a_missing_repository_is_named_as_missing(workdir, tmp_path):
    done = promote_cli(build(), tmp_path / "nowhere.git", workdir)
    assert done.returncode == 75
    assert "does not appear to be a git repository" in done.stderr
