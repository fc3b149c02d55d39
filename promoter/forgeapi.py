"""One JSON request to a forge's API, with the token in one header and nowhere else.

Shared by the GitHub, GitLab and Secure Source Manager clients. Every request has a deadline;
redirects are not followed (urllib would carry the token's header to wherever a `Location`
points); a plain-http API is reached without a proxy, since it is loopback. Failures become our
errors: the forge down or throttling is ForgeUnavailable (transient), a token without the
permissions or a repository that is not there is a ConfigError, and no message quotes the
token, even when the forge does.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import urlsplit

from promoter.errors import ConfigError, TransientError
from promoter.remote import may_carry_token

TIMEOUT_SECONDS = 10.0
MAX_ANSWER_BYTES = 4 * 2**20  # a page of pull requests is kilobytes
_QUOTED = 300  # characters of a forge's message that an error quotes


class ForgeUnavailable(TransientError):
    """The forge could not be reached in time, or answered that it is down or throttling us."""


@dataclass(frozen=True)
class Answer:
    """A forge's answer: its status and JSON (None when it sent no JSON)."""

    status: int
    data: Any
    headers: dict[str, str] = field(default_factory=dict)

    def message(self) -> str:
        """The forge's own words for an error (`message`, `errors[].message`, Google's
        `error.message`), or ''."""
        if not isinstance(self.data, dict):
            return ""
        google = self.data.get("error")  # {"error": {"code", "message", "status"}}
        said = self.data.get("message") or (
            google.get("message", "") if isinstance(google, dict) else ""
        )
        words = [" ".join(map(str, said)) if isinstance(said, list) else str(said)]
        errors = self.data.get("errors")
        if isinstance(errors, list):
            words += [str(e.get("message", "")) for e in errors if isinstance(e, dict)]
        return "; ".join(w for w in words if w)


@dataclass(frozen=True)
class ForgeApi:
    """A forge's API root and the token sent to it in `header`."""

    root: str
    token: str = field(repr=False)
    header: str  # "Authorization" (the token as a Bearer) or GitLab's "PRIVATE-TOKEN"
    name: str  # "GitHub", "GitLab": for messages
    repository: str  # write.repository: for messages
    needs: str  # what the token needs, for the message when the forge refuses it
    timeout: float = TIMEOUT_SECONDS
    extra: tuple[tuple[str, str], ...] = ()  # headers every request carries
    credential: str = "PROMOTER_FORGE_TOKEN"  # where the token came from, for messages

    def __post_init__(self) -> None:
        check_api(self.root)
        object.__setattr__(self, "root", self.root.rstrip("/"))

    def send(self, method: str, path: str, body: Any = None) -> Answer:
        """`method` `path` (below the root) with a JSON `body`; ForgeUnavailable when down."""
        request = urllib.request.Request(
            self.root + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers=self._headers(),
        )
        try:
            with self._opener().open(request, timeout=self.timeout) as response:
                return _answer(response.status, response.read(MAX_ANSWER_BYTES), response.headers)
        except urllib.error.HTTPError as err:
            with err:
                return _answer(err.code, err.read(MAX_ANSWER_BYTES), err.headers)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
            raise self._unavailable(err) from None

    def fail(self, answer: Answer, doing: str) -> NoReturn:
        """Raise the error `answer` means, when the forge would not `doing` (what we asked)."""
        said = self.quote(answer)
        if answer.status >= 500 or answer.status == 429 or _throttled(answer):
            raise ForgeUnavailable(f"{self.name} could not {doing}: {answer.status} {said}")
        if answer.status in (401, 403):
            raise ConfigError(
                f"{self.credential}: {self.name} refused it ({answer.status} {said}) when asked"
                f" to {doing}: the token needs {self.needs} on {self.repository}"
            )
        if answer.status == 404:
            raise ConfigError(
                f"promoter.yaml: write.repository: {self.name} has no {self.repository!r} at"
                f" {self.root}, or the token cannot see it ({said})"
            )
        if 300 <= answer.status < 400:
            raise ConfigError(
                f"promoter.yaml: write.repository: {self.name} redirects {self.repository!r}"
                f" ({answer.status}): it moved, name its new place"
            )
        raise ConfigError(
            f"{self.name} would not {doing} on {self.repository}: {answer.status} {said}"
        )

    def redact(self, text: str) -> str:
        """`text` without the token."""
        return text.replace(self.token, "***") if self.token else text

    def quote(self, answer: Answer) -> str:
        """The forge's message in `answer`, redacted and short, for an error's text."""
        said = self.redact(" ".join(answer.message().split()))
        return said[:_QUOTED] or f"HTTP {answer.status}"

    def _unavailable(self, err: Exception) -> ForgeUnavailable:
        if isinstance(err, TimeoutError) or isinstance(getattr(err, "reason", None), TimeoutError):
            return ForgeUnavailable(f"{self.name} did not answer within {self.timeout:g} s")
        return ForgeUnavailable(f"{self.name} unreachable: {self.redact(_reason(err))}")

    def _headers(self) -> dict[str, str]:
        token = f"Bearer {self.token}" if self.header == "Authorization" else self.token
        return {
            self.header: token,
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": "promoter",
            **dict(self.extra),
        }

    def _opener(self) -> urllib.request.OpenerDirector:
        proxies = urllib.request.ProxyHandler() if self.root.startswith("https:") else _NO_PROXY
        return urllib.request.build_opener(proxies, _NoRedirects())


def check_api(root: str) -> None:
    """ConfigError unless `root` may be sent a token: https, or plain http to loopback."""
    parts = urlsplit(root)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"PROMOTER_FORGE_API: expected an http(s) URL, got {root!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError("PROMOTER_FORGE_API: expected a URL without user, query or fragment")
    if not may_carry_token(root):
        raise ConfigError(
            f"PROMOTER_FORGE_TOKEN: only sent over https or to loopback http, not to {root}"
        )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as it came: its `Location` does not get the token."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_NO_PROXY = urllib.request.ProxyHandler({})


def _answer(status: int, raw: bytes, headers: Any) -> Answer:
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        # Whole: cut before the token is redacted, a token's prefix could stay (`quote` cuts).
        data = {"message": raw.decode("utf-8", "replace")}
    return Answer(status, data, {k.lower(): v for k, v in headers.items()} if headers else {})


def _throttled(answer: Answer) -> bool:
    """GitHub answers 403 when a rate limit is exhausted: that passes."""
    if answer.status != 403:
        return False
    limited = answer.headers.get("x-ratelimit-remaining") == "0" or "retry-after" in answer.headers
    return limited or "rate limit" in answer.message().lower()


def _reason(err: BaseException) -> str:
    reason = getattr(err, "reason", None) or err
    return f"{type(reason).__name__}: {reason}"
