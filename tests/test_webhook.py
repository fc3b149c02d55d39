"""Argo CD told at once: after each push, a signed GitHub push event to Argo CD's webhook.

The receiver stands in for Argo CD's `/api/webhook` at the wire: it checks the signature and the
event as Argo CD's parser does (go-playground/webhooks `github.Parse`, Go's JSON types), and
matches the repository URL as `GetWebURLRegex` does. A webhook that fails never fails a
promotion that landed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from promoter.argowebhook import DEADLINE
from promoter.errors import ConfigError
from promoter.settings import Settings
from promoter.webhook import Push, Repository, headers

from .conftest import (
    ROOT,
    HungRemote,
    build,
    count_commits,
    free_port,
    git,
    promote_cli,
    tip,
)
from .test_function import post_binary

SECRET = "hook-Secret-7f3a9c"  # distinctive: found anywhere in output, it leaked
URL_VAR = "PROMOTER_ARGOCD_WEBHOOK_URL"
SECRET_VAR = "PROMOTER_ARGOCD_WEBHOOK_SECRET"
REPO_VAR = "PROMOTER_ARGOCD_REPO_URL"
ARGO_REPO = "https://git.example.com/shop/config.git"
SLACK = 20.0  # seconds a promotion may take besides the webhook's deadline, on a busy machine

# ---- Argo CD's side, as its source reads a GitHub push (see promoter/webhook.py) ------------

# Go's json.Unmarshal into github.PushPayload fails the whole event on a field of the wrong type.
_STR, _BOOL, _INT, _OBJ, _LIST, _TIME = str, bool, int, dict, list, "time"
PUSH_TYPES = {"ref": _STR, "before": _STR, "after": _STR, "created": _BOOL, "deleted": _BOOL,
              "forced": _BOOL, "base_ref": _STR, "compare": _STR, "commits": _LIST,
              "head_commit": _OBJ, "repository": _OBJ, "pusher": _OBJ, "sender": _OBJ}  # fmt: skip
COMMIT_TYPES = {"sha": _STR, "id": _STR, "tree_id": _STR, "distinct": _BOOL, "message": _STR,
                "timestamp": _STR, "url": _STR, "author": _OBJ, "committer": _OBJ,
                "added": _LIST, "removed": _LIST, "modified": _LIST}  # fmt: skip
REPOSITORY_TYPES = {"id": _INT, "name": _STR, "full_name": _STR, "private": _BOOL,
                    "html_url": _STR, "url": _STR, "clone_url": _STR, "ssh_url": _STR,
                    "git_url": _STR, "default_branch": _STR, "created_at": _TIME,
                    "updated_at": _TIME, "pushed_at": _TIME}  # fmt: skip
ARGO_USERNAME = r"[\w\.][\w\.-]{0,30}[\w\.\$-]?"  # argo-cd util/webhook/webhook.go


def go_type_errors(value: dict[str, Any], types: dict[str, Any], where: str) -> list[str]:
    """What Go's json.Unmarshal would refuse in `value` (null leaves any field zero)."""
    errors = []
    for key, kind in types.items():
        got = value.get(key)
        if got is None:
            continue
        if kind == _TIME:
            ok = isinstance(got, str) and _rfc3339(got)
        elif kind is _INT:
            ok = type(got) is int
        else:
            ok = isinstance(got, kind) and not (kind is not _BOOL and isinstance(got, bool))
        if not ok:
            errors.append(f"json: cannot unmarshal {type(got).__name__} into {where}.{key}")
    return errors


def _rfc3339(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def unmarshal_errors(event: dict[str, Any]) -> list[str]:
    errors = go_type_errors(event, PUSH_TYPES, "PushPayload")
    for commit in [*(event.get("commits") or []), event.get("head_commit")]:
        if isinstance(commit, dict):
            errors += go_type_errors(commit, COMMIT_TYPES, "Commit")
            for paths in ("added", "removed", "modified"):
                if not all(isinstance(p, str) for p in commit.get(paths) or []):
                    errors.append(f"json: cannot unmarshal into Commit.{paths}")
    if isinstance(event.get("repository"), dict):
        errors += go_type_errors(event["repository"], REPOSITORY_TYPES, "Repository")
    return errors


def argo_matches(html_url: str, repo_url: str) -> bool:
    """Whether Argo CD takes an event with `html_url` to be about an app's `repo_url`."""
    parts = urlsplit(html_url)
    host, path = re.escape(parts.hostname or ""), re.escape(parts.path[1:])
    pattern = (
        rf"(?i)^((https?|ssh)://)?({ARGO_USERNAME}@)?((alt)?ssh\.)?{host}(:\d+)?[:/]{path}(\.git)?$"
    )
    return re.match(pattern, repo_url) is not None


def argo_answer(
    secret: str, body: bytes, seen: dict[str, str]
) -> tuple[int, str, dict[str, Any] | None]:
    """Argo CD's answer and the event it queues, in the order github.Parse checks."""
    if seen.get("x-github-event") != "push":
        return 400, "Webhook processing failed: event not defined to be parsed", None
    if not body:
        return 400, "Webhook processing failed: error parsing payload", None
    signature = seen.get("x-hub-signature-256", "").removeprefix("sha256=")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return 400, "Webhook processing failed: HMAC verification failed", None
    event = json.loads(body)
    errors = unmarshal_errors(event)
    if errors:
        return 400, f"Webhook processing failed: {errors[0]}", None
    return 200, "", event


@dataclass
class ArgoReceiver:
    """Argo CD's /api/webhook on loopback: 400 for a bad signature or event, 200 once queued."""

    secret: str
    events: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, name="argo-receiver")
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/webhook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()  # joins the request threads too (daemon_threads is off)
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seen = {k.lower(): v for k, v in self.headers.items()}
                status, text, event = argo_answer(receiver.secret, body, seen)
                if event is None:
                    receiver.refused.append(text)
                else:
                    receiver.events.append(event)
                self.send_response(status)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *_: object) -> None:
                pass

        return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close waits for every request thread: none is left behind


@pytest.fixture
def argocd() -> Iterator[Callable[..., ArgoReceiver]]:
    """Factory: a receiver checking signatures with `secret` (default: the promoter's)."""
    started: list[ArgoReceiver] = []

    def start(secret: str = SECRET) -> ArgoReceiver:
        started.append(ArgoReceiver(secret))
        return started[-1]

    try:
        yield start
    finally:
        for receiver in started:
            receiver.stop()


def hook_vars(url: str, **more: str) -> dict[str, str]:
    return {URL_VAR: url, SECRET_VAR: SECRET, **more}


def hook_env(url: str, **more: str) -> dict[str, str]:
    return {**os.environ, **hook_vars(url, **more)}


def name_status(bare: Path, before: str, after: str) -> dict[str, set[str]]:
    changed: dict[str, set[str]] = {"A": set(), "M": set(), "D": set()}
    for line in git("--git-dir", bare, "diff", "--name-status", before, after).splitlines():
        status, path = line.split("\t", 1)
        changed[status].add(path)
    return changed


def assert_tells_of_push(event: dict[str, Any], bare: Path, before: str) -> None:
    """`event` is the push of the tip of `bare` over `before`, naming every path it changed."""
    after = tip(bare)
    assert (event["ref"], event["before"], event["after"]) == ("refs/heads/main", before, after)
    changed = name_status(bare, before, after)
    [commit] = event["commits"]
    assert (set(commit["added"]), set(commit["modified"]), set(commit["removed"])) == (
        changed["A"],
        changed["M"],
        changed["D"],
    )
    assert any(p.startswith(".promoter/") for p in commit["added"] + commit["modified"])
    assert any(p.startswith("clusters/") for p in commit["modified"])
    assert event["head_commit"] == commit and commit["id"] == after
    assert commit["message"] == git("--git-dir", bare, "log", "-1", "--format=%B", after) + "\n"
    assert event["repository"]["default_branch"] == "main"


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text


# ---- the pure part: the event and its signature ---------------------------------------------


def test_the_signature_is_githubs():
    # The example in GitHub's "Validating webhook deliveries".
    signed = headers(b"Hello, World!", "It's a Secret to Everybody")
    expected = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert signed["X-Hub-Signature-256"] == f"sha256={expected}"
    assert signed["X-GitHub-Event"] == "push"


@pytest.mark.parametrize(
    ("url", "html", "ssh"),
    [
        (ARGO_REPO, "https://git.example.com/shop/config", "git@git.example.com:shop/config.git"),
        ("https://git.example.com/shop/config", "https://git.example.com/shop/config", None),
        ("http://127.0.0.1:3000/shop/config.git", "http://127.0.0.1:3000/shop/config", None),
        (
            "https://x-access-token:t0k@github.com/shop/config.git",
            "https://github.com/shop/config",
            None,
        ),
        ("git@github.com:shop/config.git", "https://github.com/shop/config", None),
        ("ssh://git@github.com:22/shop/config.git", "https://github.com/shop/config", None),
        ("ssh://git@ssh.github.com:443/shop/config", "https://ssh.github.com/shop/config", None),
    ],
)
def test_argocd_matches_the_repository_in_every_spelling_of_its_url(url, html, ssh):
    repository = Repository.from_url(url)
    assert repository.html_url == html
    assert repository.clone_url == f"{html}.git"
    assert repository.full_name == "shop/config"
    assert repository.to_json("main")["name"] == "config"
    assert ssh is None or repository.ssh_url == ssh
    assert "t0k" not in repr(repository)
    assert argo_matches(repository.html_url, url.replace("x-access-token:t0k@", ""))
    host = urlsplit(html).hostname
    for spelling in [
        f"https://{host}/shop/config.git",
        f"git@{host}:shop/config",
        f"ssh://git@{host}:2222/shop/config.git",
    ]:
        assert argo_matches(repository.html_url, spelling)
    assert not argo_matches(repository.html_url, f"https://{host}/shop/config-prod.git")
    assert not argo_matches(repository.html_url, f"https://{host}/other/config.git")


@pytest.mark.parametrize(
    "url",
    [
        "git://git.example.com:9418/shop/config.git",  # git's own port is no web port
        "codecommit://git.example.com/shop/config",  # a scheme sorting before `file`: a remote
    ],
)
def test_other_schemes_name_the_repository_on_its_https_host(url):
    repository = Repository.from_url(url)
    assert repository.html_url == "https://git.example.com/shop/config"
    assert repository.full_name == "shop/config"


@pytest.mark.parametrize(
    "url", ["/srv/git/config.git", "file:///srv/git/config.git", "config.git", "config"]
)
def test_a_local_repository_is_named_as_the_promoter_knows_it(url):
    repository = Repository.from_url(url)
    assert repository.clone_url == url
    assert repository.html_url == url.removesuffix(".git")
    assert repository.full_name == repository.to_json("main")["name"] == "config"


def test_the_event_is_what_argo_cds_parser_takes():
    push = Push(
        repository=Repository.from_url(ARGO_REPO),
        branch="main",
        before="a" * 40,
        after="b" * 40,
        message="Promote web\n",
        added=(".promoter/ledger.jsonl",),
        modified=("clusters/dev/kustomization.yaml",),
    )
    body = push.body()
    sent = json.loads(body)
    # a branch that existed and still does, moved forward: GitHub's words for our push
    assert (sent["created"], sent["deleted"], sent["forced"]) == (False, False, False)
    assert sent["repository"]["name"] == "config"
    assert sent["commits"][0]["distinct"] is True and sent["head_commit"] == sent["commits"][0]
    seen = {k.lower(): v for k, v in headers(body, SECRET).items()}
    status, _, event = argo_answer(SECRET, body, seen)
    assert status == 200 and event is not None
    assert argo_answer(SECRET, body + b" ", seen)[0] == 400  # a changed body: signature fails
    assert argo_answer("another", body, seen)[0] == 400
    assert event["commits"][0]["added"] == [".promoter/ledger.jsonl"]
    assert event["commits"][0]["modified"] == ["clusters/dev/kustomization.yaml"]
    assert event["repository"]["html_url"] == "https://git.example.com/shop/config"


def test_the_receiver_refuses_what_go_cannot_unmarshal():
    push = Push(repository=Repository.from_url(ARGO_REPO), branch="main", before="a", after="b",
                message="m")  # fmt: skip
    event = json.loads(push.body())
    event["repository"]["created_at"] = 1590000000  # a time.Time in the PushPayload read here
    body = json.dumps(event).encode()
    seen = {k.lower(): v for k, v in headers(body, SECRET).items()}
    status, text, _ = argo_answer(SECRET, body, seen)
    assert status == 400 and "Repository.created_at" in text


# ---- through the CLI and the function -------------------------------------------------------


def test_the_cli_tells_argocd_of_the_push(make_config_repo, workdir, argocd):
    remote, receiver = make_config_repo(), argocd()
    before = tip(remote)

    done = promote_cli(
        build(), remote, workdir, env=hook_env(receiver.url, **{REPO_VAR: ARGO_REPO})
    )

    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and receiver.refused == []
    [event] = receiver.events
    assert_tells_of_push(event, remote, before)
    assert json.loads(done.stdout)["commit"] == event["after"]
    repository = event["repository"]
    assert repository["html_url"] == "https://git.example.com/shop/config"
    assert repository["clone_url"] == ARGO_REPO
    assert repository["ssh_url"] == "git@git.example.com:shop/config.git"
    assert_no_secret(done.stdout, done.stderr)


def test_the_function_tells_argocd_of_the_push(make_config_repo, function_server, argocd):
    remote, receiver = make_config_repo(), argocd()
    server = function_server(remote, **hook_vars(receiver.url))
    before = tip(remote)

    response = post_binary(server.url, build())

    assert response.status_code == 200, response.text
    [event] = receiver.events
    assert_tells_of_push(event, remote, before)
    # No PROMOTER_ARGOCD_REPO_URL: the config repo as the promoter knows it.
    assert event["repository"]["clone_url"] == str(remote)
    [line] = server.log_lines()
    assert (line["severity"], line["outcome"]) == ("NOTICE", "promoted")
    assert_no_secret(server.log.read_text())


def test_the_default_repository_url_leaves_credentials_out():
    settings = Settings.build(
        repo="https://x-access-token:t0k3n@git.example.com/shop/config.git",
        environ=hook_vars("https://argocd.example.com/api/webhook"),
    )
    assert settings.argocd_webhook is not None
    assert settings.argocd_webhook.repository.html_url == "https://git.example.com/shop/config"
    assert "t0k3n" not in repr(settings.argocd_webhook.repository)
    assert SECRET not in repr(settings)


def test_a_refused_signature_is_a_warning_and_the_promotion_stands(
    make_config_repo, workdir, argocd
):
    remote, receiver = make_config_repo(), argocd(secret="not-the-promoters")
    commits = count_commits(remote)

    done = promote_cli(build(), remote, workdir, env=hook_env(receiver.url))

    assert done.returncode == 0, done.stderr
    assert count_commits(remote) == commits + 1
    assert receiver.events == [] and receiver.refused == [
        "Webhook processing failed: HMAC verification failed"
    ]
    [line] = done.stderr.splitlines()
    assert line.startswith("promoter: committed, Argo CD not told: ")
    assert "answered 400" in line and "HMAC verification failed" in line
    assert_no_secret(done.stdout, done.stderr)


def test_the_function_logs_a_refused_webhook_as_a_warning(
    make_config_repo, function_server, argocd
):
    remote, receiver = make_config_repo(), argocd(secret="not-the-promoters")
    server = function_server(remote, **hook_vars(receiver.url))

    response = post_binary(server.url, build())

    assert response.status_code == 200, response.text
    [line] = server.log_lines()
    assert (line["severity"], line["outcome"]) == ("WARNING", "promoted")
    assert line["commit"] == tip(remote)
    assert "Argo CD was not told" in line["message"] and "answered 400" in line["message"]
    assert_no_secret(server.log.read_text())


def test_argocd_down_costs_nothing(make_config_repo, function_server):
    remote = make_config_repo()
    server = function_server(remote, **hook_vars(f"http://127.0.0.1:{free_port()}/api/webhook"))

    response = post_binary(server.url, build())

    assert response.status_code == 200, response.text
    [line] = server.log_lines()
    assert (line["severity"], line["outcome"]) == ("WARNING", "promoted")
    assert "refused" in line["message"].lower()


@pytest.mark.parametrize("state", ["down", "hung"])
def test_argocd_down_or_hung_costs_at_most_the_deadline(make_config_repo, workdir, state):
    remote = make_config_repo()
    commits = count_commits(remote)
    with HungRemote() as hung:
        port = hung.port if state == "hung" else free_port()
        started = time.monotonic()
        done = promote_cli(build(), remote, workdir, env=hook_env(f"http://127.0.0.1:{port}/x"))
        took = time.monotonic() - started

    assert done.returncode == 0, done.stderr
    assert count_commits(remote) == commits + 1
    [line] = done.stderr.splitlines()
    assert line.startswith("promoter: committed, Argo CD not told: ")
    assert took < DEADLINE + SLACK
    if state == "hung":
        assert hung.connections == 1 and "timed out" in line and took >= DEADLINE
    else:
        assert "refused" in line.lower()
    assert_no_secret(done.stdout, done.stderr)


def test_no_event_without_a_push(make_config_repo, workdir, argocd):
    remote, receiver = make_config_repo(), argocd()
    env = hook_env(receiver.url)
    event = build()

    outcomes = [
        json.loads(promote_cli(body, remote, workdir, *extra, env=env).stdout)["outcome"]
        for body, extra in [
            (build(), ("--dry-run",)),
            (event, ()),
            (event, ()),
            (build(status="FAILURE"), ()),
        ]
    ]

    assert outcomes == ["promoted", "promoted", "unchanged", "ignored"]
    assert [e["after"] for e in receiver.events] == [tip(remote)]  # the one real push


@pytest.mark.parametrize("given", [URL_VAR, SECRET_VAR])
def test_a_webhook_url_and_secret_come_together(make_config_repo, workdir, given):
    remote = make_config_repo()
    value = "https://argocd.example.com/api/webhook" if given == URL_VAR else SECRET

    done = promote_cli(build(), remote, workdir, env={**os.environ, given: value})

    assert done.returncode == 2
    assert URL_VAR in done.stderr and SECRET_VAR in done.stderr
    assert count_commits(remote) == 1
    assert_no_secret(done.stdout, done.stderr)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        (URL_VAR, "ftp://argocd.example.com/api/webhook"),
        (URL_VAR, "argocd.example.com/api/webhook"),
        (URL_VAR, "https:///api/webhook"),
        (URL_VAR, "http://argocd.example.com/api/webhook"),  # the event would travel in clear
        (URL_VAR, "https://admin:pw@argocd.example.com/api/webhook"),
        (URL_VAR, "ftp://admin:pw@argocd.example.com/api/webhook"),
        (URL_VAR, "https://argocd.example.com:99999/api/webhook"),
        (REPO_VAR, "https://git.example.com"),
        (REPO_VAR, "git@git.example.com:"),
        (REPO_VAR, "https://u:pw@git.example.com/"),
    ],
)
def test_a_wrong_webhook_setting_is_a_config_error_naming_it(variable, value):
    environ = hook_vars("https://argocd.example.com/api/webhook", **{variable: value})
    with pytest.raises(ConfigError, match=variable) as raised:
        Settings.build(repo="https://git.example.com/shop/config.git", environ=environ)
    assert SECRET not in str(raised.value) and "pw@" not in str(raised.value)


def test_the_readme_lists_the_webhook_settings():
    rows = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("|")]
    for variable in (URL_VAR, SECRET_VAR, REPO_VAR):
        assert any(row.startswith(f"| `{variable}` |") for row in rows), variable
