"""Argo CD's webhook adapter: one signed push event per commit, so Argo CD syncs in seconds.

Without it Argo CD finds the commit on its next poll of the repo (three minutes by default).
It needs no cluster credential: the event is signed with the secret Argo CD shares with git
hosts. Each step (connect, TLS, send, answer) has DEADLINE seconds; there is no retry, because
a late event is worth no more than the poll that comes anyway.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from typing import IO
from urllib.parse import urlsplit

from promoter.errors import ConfigError, NotifyFailed
from promoter.remote import may_carry_secret
from promoter.webhook import Push, Repository, headers

URL_VARIABLE = "PROMOTER_ARGOCD_WEBHOOK_URL"
SECRET_VARIABLE = "PROMOTER_ARGOCD_WEBHOOK_SECRET"
REPO_VARIABLE = "PROMOTER_ARGOCD_REPO_URL"
DEADLINE = 5.0
_ANSWER_CHARS = 200  # of Argo CD's answer, quoted in the warning


@dataclass(frozen=True)
class ArgoWebhook:
    """Argo CD's `/api/webhook`, the GitHub secret it checks, and the config repo as it names it."""

    url: str
    secret: str = field(repr=False)
    repository: Repository

    def __post_init__(self) -> None:
        try:
            parts = urlsplit(self.url)
            host, _ = parts.hostname or "", parts.port
        except ValueError as err:
            raise ConfigError(f"{URL_VARIABLE}: not a valid URL ({err})") from None
        if (
            parts.username is not None or parts.password is not None
        ):  # first: later messages quote it
            raise ConfigError(
                f"{URL_VARIABLE}: no credentials in the URL ({SECRET_VARIABLE} signs)"
            )
        if parts.scheme not in ("http", "https") or not host:
            raise ConfigError(
                f"{URL_VARIABLE}: expected https://ARGOCD/api/webhook, got {self.url!r}"
            )
        if not may_carry_secret(parts.scheme, host):
            raise ConfigError(f"{URL_VARIABLE}: https, or http to loopback only, not {self.url!r}")


def notify(hook: ArgoWebhook, push: Push, *, timeout: float = DEADLINE) -> None:
    """POST `push` to Argo CD's webhook, or raise NotifyFailed saying why it did not take it."""
    body = push.body()
    request = urllib.request.Request(
        hook.url, data=body, headers=headers(body, hook.secret), method="POST"
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(_ANSWER_CHARS)
    except urllib.error.HTTPError as err:
        raise NotifyFailed(_redacted(hook, f"answered {err.code}: {_answer(err)}")) from None
    except (OSError, http.client.HTTPException) as err:
        reason = err.reason if isinstance(err, urllib.error.URLError) else err
        raise NotifyFailed(_redacted(hook, f"{type(err).__name__}: {reason}")) from None


def _answer(err: urllib.error.HTTPError) -> str:
    try:
        text = err.read(_ANSWER_CHARS).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        text = ""
    return " ".join(text.split()) or err.reason


def _redacted(hook: ArgoWebhook, why: str) -> str:
    # A receiver could echo what it was sent; the secret itself is never sent, but make sure.
    return f"Argo CD's webhook {hook.url}: {why}".replace(hook.secret, "***")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not an address to send the event to."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)
