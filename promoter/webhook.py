"""A GitHub-style push event for Argo CD's webhook, and its signature: plain data, no I/O.

Argo CD refreshes an app when its `/api/webhook` takes a push event for the app's repo, instead
of on its next poll (three minutes by default). What it reads of the event (checked against
argoproj/argo-cd `util/webhook/webhook.go`, `affectedRevisionInfo` and `Handler`, and
go-playground/webhooks v6 `github/github.go` `Parse` and `github/payload.go` `PushPayload`):
- the header `X-GitHub-Event: push`, and `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the
  body>` keyed with `webhook.github.secret` (a wrong or missing one is answered 400);
- `ref` (`refs/heads/BRANCH`: the revision is its last part), `before` and `after` (Argo CD
  moves its manifest cache from one to the other for apps the change does not touch);
- `repository.html_url`: the only URL it matches apps by. Its host and path, `.git` left out,
  are turned into a pattern that any `https://`, `ssh://` or `user@host:` spelling of the app's
  repoURL matches, with or without `.git` and a port; `repository.default_branch` (an app that
  tracks HEAD is refreshed when it equals the pushed branch);
- `commits[].added`, `.modified` and `.removed`: the paths the app's `manifest-generate-paths`
  annotation is compared with.
The body is unmarshalled into Go types: a field of the wrong type fails the whole event. So the
fields GitHub sends that the promoter cannot state truly (ids, node ids, URLs of its API) or
whose type is unsure (`repository.created_at`: a Unix number in GitHub's push events, a time in
the PushPayload read here) are left out; Go leaves them zero.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from promoter.errors import ConfigError

EVENT = "push"
# scheme://[user[:password]@]host[:port]/path, and git's scp-like [user@]host:path
_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?:[^@/?#]*@)?"
    r"(?P<host>\[[^\]/]*\]|[^:/?#]*)(?::(?P<port>\d*))?(?P<path>[^?#]*)"
)
_USERINFO = re.compile(r"//[^@/?#]*@")  # left out of messages: it may hold a token
_SCP = re.compile(r"(?:[^@/:]*@)?(?P<host>[^@/:]+):(?P<path>.*)")


@dataclass(frozen=True)
class Repository:
    """The config repo as a push event names it, from the URL Argo CD's apps use."""

    html_url: str
    clone_url: str
    ssh_url: str
    git_url: str
    full_name: str

    @classmethod
    def from_url(cls, url: str) -> Repository:
        """Every URL of the repo at `url`; a local path or file:// URL is kept as it is."""
        parts = _parts(url)
        if parts is None:
            return cls._local(url)
        scheme, host, port, path = parts
        stem = path.strip("/").removesuffix(".git").strip("/")
        if not host or not stem:
            raise ConfigError(
                f"PROMOTER_ARGOCD_REPO_URL: {_USERINFO.sub('//', url)!r} names no host and"
                " repository path; set it to the repoURL Argo CD's applications use"
            )
        web = scheme if scheme in ("http", "https") else "https"
        netloc = f"{host}:{port}" if port and web == scheme else host
        html = f"{web}://{netloc}/{stem}"
        return cls(html, f"{html}.git", f"git@{host}:{stem}.git", f"git://{host}/{stem}.git", stem)

    @classmethod
    def _local(cls, url: str) -> Repository:
        # Argo CD matches no app by a path; the event still names the repo the promoter pushed.
        stem = url.rstrip("/").removesuffix(".git")
        return cls(stem, url, url, url, stem.rsplit("/", 1)[-1])

    def to_json(self, branch: str) -> dict[str, Any]:
        return {
            "name": self.full_name.rsplit("/", 1)[-1],
            "full_name": self.full_name,
            "html_url": self.html_url,
            "clone_url": self.clone_url,
            "ssh_url": self.ssh_url,
            "git_url": self.git_url,
            "default_branch": branch,
        }


@dataclass(frozen=True, kw_only=True)
class Push:
    """One commit pushed onto `branch` over `before`: what Argo CD is told."""

    repository: Repository
    branch: str
    before: str
    after: str
    message: str
    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    pusher: tuple[str, str] = ("promoter", "promoter@noreply.invalid")  # name, email

    def body(self) -> bytes:
        """The event's JSON, as the bytes that are signed and sent."""
        name, email = self.pusher
        commit = {
            "id": self.after,
            "distinct": True,
            "message": self.message,
            "author": {"name": name, "email": email},
            "committer": {"name": name, "email": email},
            "added": sorted(self.added),
            "removed": [],  # the promoter writes files; it never deletes one
            "modified": sorted(self.modified),
        }
        event = {
            "ref": f"refs/heads/{self.branch}",
            "before": self.before,
            "after": self.after,
            "created": False,
            "deleted": False,
            "forced": False,  # a push of ours is always a fast-forward
            "commits": [commit],
            "head_commit": commit,
            "repository": self.repository.to_json(self.branch),
            "pusher": {"name": name, "email": email},
        }
        return json.dumps(event, separators=(",", ":")).encode()


def _parts(url: str) -> tuple[str, str, str, str] | None:
    """Scheme, host, port and path of a remote URL; None for a local path or file:// URL."""
    found = _URL.fullmatch(url)
    if found and found["scheme"].lower() == "file":
        return None
    if found:
        return found["scheme"].lower(), found["host"], found["port"] or "", found["path"]
    scp = _SCP.fullmatch(url)
    return ("ssh", scp["host"], "", scp["path"]) if scp else None


def headers(body: bytes, secret: str) -> dict[str, str]:
    """The headers of a GitHub push delivery of `body`, signed with `secret`."""
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "User-Agent": "promoter",
        "X-GitHub-Event": EVENT,
        "X-Hub-Signature-256": f"sha256={signature}",
    }


def split_paths(
    paths: Sequence[str], existing: set[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`paths` as (added, modified): modified where the parent had the file."""
    added = tuple(sorted(p for p in paths if p not in existing))
    return added, tuple(sorted(p for p in paths if p in existing))
